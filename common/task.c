#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"
#include "duration.h"
#include "json.h"
#include "mem.h"

int tdrv_uuid4(char out[TDRV_UUID_BUFSZ], struct tdrv_err *err)
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to get random bytes");
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, TDRV_UUID_BUFSZ,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

int tdrv_task_ensure_alloc_id(cJSON *doc, struct tdrv_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "alloc_id");
    char id[TDRV_UUID_BUFSZ];

    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || !v->valuestring[0])
            return tdrv_err_set(err, TDRV_E_DATA, 0, "request.alloc_id: expected string");
        return 0;
    }
    if (tdrv_uuid4(id, err) < 0)
        return -1;
    tdrv_json_set(doc, "alloc_id", tdrv_json_xstr(id));
    return 0;
}

/* A field of a Nomad API object: absent or null leaves *out NULL; a wrong type is 65. */
static int field(const cJSON *obj, const char *key, int type, const char *where, const cJSON **out,
                 struct tdrv_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    const char *want = type == cJSON_String   ? "string"
                       : type == cJSON_Number ? "number"
                       : type == cJSON_Object ? "object"
                                              : "array";

    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if ((v->type & 0xff) != type)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s.%s: expected %s", where, key, want);
    if (type == cJSON_Number &&
        (!isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble)))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s.%s: expected integer", where, key);
    *out = v;
    return 0;
}

static const char *str_or_empty(const cJSON *v)
{
    return v ? v->valuestring : "";
}

/* Merge the string values of `src` into `dst` (later wins), as Nomad merges job<group<task meta. */
static int merge_meta(cJSON *dst, const cJSON *src, const char *where, struct tdrv_err *err)
{
    for (const cJSON *c = src ? src->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c))
            return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s.Meta.%s: expected string", where,
                                c->string);
        tdrv_json_set(dst, c->string, tdrv_json_xstr(c->valuestring));
    }
    return 0;
}

static int add_ports(cJSON *ports, const cJSON *list, int reserved, const char *where,
                     struct tdrv_err *err)
{
    int i = 0;

    for (const cJSON *p = list ? list->child : NULL; p; p = p->next, i++) {
        char w[256];
        const cJSON *label = NULL;
        const cJSON *value = NULL;
        const cJSON *to = NULL;
        const cJSON *hostnet = NULL;
        cJSON *o;

        snprintf(w, sizeof(w), "%s.%s[%d]", where, reserved ? "ReservedPorts" : "DynamicPorts", i);
        if (!cJSON_IsObject(p))
            return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s: expected object", w);
        if (field(p, "Label", cJSON_String, w, &label, err) < 0 ||
            field(p, "Value", cJSON_Number, w, &value, err) < 0 ||
            field(p, "To", cJSON_Number, w, &to, err) < 0 ||
            field(p, "HostNetwork", cJSON_String, w, &hostnet, err) < 0)
            return -1;
        if (!label || !label->valuestring[0])
            return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s.Label: required", w);
        o = tdrv_json_xobj();
        tdrv_json_append(ports, o);
        tdrv_json_add_str(o, "label", label->valuestring);
        if (reserved && value && value->valuedouble > 0)
            tdrv_json_add_num(o, "static", value->valuedouble);
        if (to && to->valuedouble > 0)
            tdrv_json_add_num(o, "to", to->valuedouble);
        if (hostnet && hostnet->valuestring[0] && strcmp(hostnet->valuestring, "default"))
            tdrv_json_add_str(o, "host_network", hostnet->valuestring);
    }
    return 0;
}

static int convert_network(cJSON *out, const cJSON *networks, const char *where,
                           struct tdrv_err *err)
{
    const cJSON *net = networks ? networks->child : NULL;
    char w[256];
    const cJSON *mode = NULL;
    const cJSON *reserved = NULL;
    const cJSON *dynamic = NULL;
    cJSON *n;
    cJSON *ports;

    if (!net)
        return 0;
    snprintf(w, sizeof(w), "%s.Networks[0]", where);
    if (!cJSON_IsObject(net))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s: expected object", w);
    if (field(net, "Mode", cJSON_String, w, &mode, err) < 0 ||
        field(net, "ReservedPorts", cJSON_Array, w, &reserved, err) < 0 ||
        field(net, "DynamicPorts", cJSON_Array, w, &dynamic, err) < 0)
        return -1;
    n = tdrv_json_xobj();
    tdrv_json_add(out, "network", n);
    if (mode && mode->valuestring[0])
        tdrv_json_add_str(n, "mode", mode->valuestring);
    ports = tdrv_json_xarr();
    tdrv_json_add(n, "ports", ports);
    if (add_ports(ports, reserved, 1, w, err) < 0 || add_ports(ports, dynamic, 0, w, err) < 0)
        return -1;
    return 0;
}

static int convert_task(const cJSON *job, const cJSON *group, const cJSON *task, int gi, int ti,
                        cJSON **out, struct tdrv_err *err)
{
    cleanup_json cJSON *doc = tdrv_json_xobj();
    char gw[64];
    char tw[96];
    char id[TDRV_UUID_BUFSZ];
    const cJSON *job_id = NULL;
    const cJSON *job_name = NULL;
    const cJSON *job_meta = NULL;
    const cJSON *gname = NULL;
    const cJSON *gmeta = NULL;
    const cJSON *gnets = NULL;
    const cJSON *tname = NULL;
    const cJSON *driver = NULL;
    const cJSON *config = NULL;
    const cJSON *env = NULL;
    const cJSON *tmeta = NULL;
    const cJSON *user = NULL;
    const cJSON *res = NULL;
    const cJSON *kill_timeout = NULL;
    const cJSON *kill_signal = NULL;
    cJSON *meta;

    snprintf(gw, sizeof(gw), "Job.TaskGroups[%d]", gi);
    snprintf(tw, sizeof(tw), "%s.Tasks[%d]", gw, ti);
    if (field(job, "ID", cJSON_String, "Job", &job_id, err) < 0 ||
        field(job, "Name", cJSON_String, "Job", &job_name, err) < 0 ||
        field(job, "Meta", cJSON_Object, "Job", &job_meta, err) < 0 ||
        field(group, "Name", cJSON_String, gw, &gname, err) < 0 ||
        field(group, "Meta", cJSON_Object, gw, &gmeta, err) < 0 ||
        field(group, "Networks", cJSON_Array, gw, &gnets, err) < 0 ||
        field(task, "Name", cJSON_String, tw, &tname, err) < 0 ||
        field(task, "Driver", cJSON_String, tw, &driver, err) < 0 ||
        field(task, "Config", cJSON_Object, tw, &config, err) < 0 ||
        field(task, "Env", cJSON_Object, tw, &env, err) < 0 ||
        field(task, "Meta", cJSON_Object, tw, &tmeta, err) < 0 ||
        field(task, "User", cJSON_String, tw, &user, err) < 0 ||
        field(task, "Resources", cJSON_Object, tw, &res, err) < 0 ||
        field(task, "KillTimeout", cJSON_Number, tw, &kill_timeout, err) < 0 ||
        field(task, "KillSignal", cJSON_String, tw, &kill_signal, err) < 0)
        return -1;

    if (tdrv_uuid4(id, err) < 0)
        return -1;
    tdrv_json_add_str(doc, "alloc_id", id);
    tdrv_json_add_str(doc, "task", str_or_empty(tname));
    tdrv_json_add_str(doc, "group", str_or_empty(gname));
    tdrv_json_add_str(doc, "job", job_id ? job_id->valuestring : str_or_empty(job_name));
    if (driver)
        tdrv_json_add_str(doc, "driver", driver->valuestring);
    tdrv_json_add(doc, "config", config ? tdrv_json_xdup(config) : tdrv_json_xobj());
    if (env) {
        for (const cJSON *c = env->child; c; c = c->next)
            if (!cJSON_IsString(c))
                return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s.Env.%s: expected string", tw,
                                    c->string);
        tdrv_json_add(doc, "env", tdrv_json_xdup(env));
    } else {
        tdrv_json_add(doc, "env", tdrv_json_xobj());
    }
    meta = tdrv_json_xobj();
    tdrv_json_add(doc, "meta", meta);
    if (merge_meta(meta, job_meta, "Job", err) < 0 || merge_meta(meta, gmeta, gw, err) < 0 ||
        merge_meta(meta, tmeta, tw, err) < 0)
        return -1;
    if (user && user->valuestring[0])
        tdrv_json_add_str(doc, "user", user->valuestring);
    if (res) {
        const cJSON *cpu = NULL;
        const cJSON *mem = NULL;
        const cJSON *mem_max = NULL;
        const cJSON *tnets = NULL;
        char rw[128];
        cJSON *r = tdrv_json_xobj();

        tdrv_json_add(doc, "resources", r);
        snprintf(rw, sizeof(rw), "%s.Resources", tw);
        if (field(res, "CPU", cJSON_Number, rw, &cpu, err) < 0 ||
            field(res, "MemoryMB", cJSON_Number, rw, &mem, err) < 0 ||
            field(res, "MemoryMaxMB", cJSON_Number, rw, &mem_max, err) < 0 ||
            field(res, "Networks", cJSON_Array, rw, &tnets, err) < 0)
            return -1;
        if (cpu && cpu->valuedouble > 0)
            tdrv_json_add_num(r, "cpu", cpu->valuedouble);
        if (mem && mem->valuedouble > 0)
            tdrv_json_add_num(r, "memory", mem->valuedouble);
        if (mem_max && mem_max->valuedouble > 0)
            tdrv_json_add_num(r, "memory_max", mem_max->valuedouble);
        /* Task-level networks (deprecated since Nomad 0.12) when the group has none. */
        if ((!gnets || !gnets->child) && convert_network(doc, tnets, rw, err) < 0)
            return -1;
    }
    if (convert_network(doc, gnets, gw, err) < 0)
        return -1;
    if (kill_timeout && kill_timeout->valuedouble > 0) {
        char d[TDRV_DURATION_BUFSZ];

        if (kill_timeout->valuedouble > 9.2e18)
            return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s.KillTimeout: out of range", tw);
        tdrv_duration_format((int64_t)kill_timeout->valuedouble, d, sizeof(d));
        tdrv_json_add_str(doc, "kill_timeout", d);
    }
    if (kill_signal && kill_signal->valuestring[0])
        tdrv_json_add_str(doc, "kill_signal", kill_signal->valuestring);
    *out = steal_ptr(&doc);
    return 0;
}

/* Room for the task names a usage error lists when the job has several. */
#define NAMES_MAX 3000

int tdrv_task_from_job(const cJSON *job_doc, const char *select, cJSON **out, struct tdrv_err *err)
{
    const cJSON *job = NULL;
    const cJSON *groups = NULL;
    cleanup_buf struct tdrv_buf names = {0};
    const cJSON *found_group = NULL;
    const cJSON *found_task = NULL;
    int found_gi = 0;
    int found_ti = 0;
    int count = 0;
    int gi = 0;
    int names_full = 0;
    size_t glen = 0;

    tdrv_buf_init(&names, NAMES_MAX + 8);
    job = cJSON_GetObjectItemCaseSensitive(job_doc, "Job");
    if (!cJSON_IsObject(job))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "request.Job: expected object");
    if (field(job, "TaskGroups", cJSON_Array, "Job", &groups, err) < 0)
        return -1;
    if (select) {
        const char *slash = strchr(select, '/');

        if (!slash || slash == select || !slash[1] || strchr(slash + 1, '/'))
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                 "invalid --task '%s' (expected GROUP/TASK)", select);
        glen = (size_t)(slash - select);
    }
    for (const cJSON *g = groups ? groups->child : NULL; g; g = g->next, gi++) {
        const cJSON *gname = NULL;
        const cJSON *tasks = NULL;
        char gw[64];
        int ti = 0;

        snprintf(gw, sizeof(gw), "Job.TaskGroups[%d]", gi);
        if (!cJSON_IsObject(g))
            return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s: expected object", gw);
        if (field(g, "Name", cJSON_String, gw, &gname, err) < 0 ||
            field(g, "Tasks", cJSON_Array, gw, &tasks, err) < 0)
            return -1;
        for (const cJSON *t = tasks ? tasks->child : NULL; t; t = t->next, ti++) {
            const cJSON *tname = NULL;
            char tw[96];
            int match;

            snprintf(tw, sizeof(tw), "%s.Tasks[%d]", gw, ti);
            if (!cJSON_IsObject(t))
                return tdrv_err_set(err, TDRV_E_DATA, 0, "request.%s: expected object", tw);
            if (field(t, "Name", cJSON_String, tw, &tname, err) < 0)
                return -1;
            count++;
            /* The list of choices stops with "..." before an entry that would pass the cap. */
            if (!names_full) {
                size_t need = strlen(str_or_empty(gname)) + strlen(str_or_empty(tname)) + 3;

                names_full = names.len + need > NAMES_MAX;
                if ((names.len && tdrv_buf_addstr(&names, ", ", err) < 0) ||
                    (names_full && tdrv_buf_addstr(&names, "...", err) < 0))
                    return -1;
                if (!names_full && (tdrv_buf_addstr(&names, str_or_empty(gname), err) < 0 ||
                                    tdrv_buf_addstr(&names, "/", err) < 0 ||
                                    tdrv_buf_addstr(&names, str_or_empty(tname), err) < 0))
                    return -1;
            }
            match = !select || (strlen(str_or_empty(gname)) == glen &&
                                !strncmp(str_or_empty(gname), select, glen) &&
                                !strcmp(str_or_empty(tname), select + glen + 1));
            if (match && !found_task) {
                found_group = g;
                found_task = t;
                found_gi = gi;
                found_ti = ti;
            }
        }
    }
    if (count == 0)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "request.Job: the job has no task");
    if (!select && count > 1)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "the job has %d tasks, choose one with --task GROUP/TASK: %s", count,
                             names.data);
    if (!found_task)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "no task '%s' in the job (tasks: %s)",
                             select, names.data);
    return convert_task(job, found_group, found_task, found_gi, found_ti, out, err);
}

static int passthrough(cJSON **doc, struct tdrv_err *err)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(*doc, "error");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(e, "exit");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    int status = TDRV_E_SOFTWARE;

    if (cJSON_IsNumber(ex) && ex->valuedouble >= 1 && ex->valuedouble <= 255 &&
        ex->valuedouble == floor(ex->valuedouble))
        status = (int)ex->valuedouble;
    tdrv_err_setw(err, status, cJSON_IsString(code) ? code->valuestring : NULL, 0, "%s",
                  cJSON_IsString(msg) ? msg->valuestring : "the input carries an error");
    err->passthrough = 1;
    return -1;
}

/* ---- limits every tool applies to a task document (docs/task-document.md, "Limits") ---- */

/* Options whose strings are text a process or a label carries: control characters and long
 * strings are theirs to have. */
static int free_text(const char *opt)
{
    static const char *const names[] = {"command", "args", "entrypoint", "labels", NULL};

    for (const char *const *n = names; *n; n++)
        if (!strcmp(opt, *n))
            return 1;
    return 0;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int limit_err(struct tdrv_err *err, const char *path, const char *what)
{
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "%s: %s", path, what);
}

/* One value at path (text: control characters and long strings allowed; items: the cap on
 * arrays and objects applies). */
static int check_value(const cJSON *v, const char *path, int text, int depth, struct tdrv_err *err)
{
    size_t n = 0;

    if (cJSON_IsString(v)) {
        if (!text && strlen(v->valuestring) > TDRV_MAX_OPTION_BYTES)
            return limit_err(err, path,
                             "string longer than " TDRV_STR(TDRV_MAX_OPTION_BYTES) " bytes");
        if (!text && has_ctl(v->valuestring))
            return limit_err(err, path, "control character in a string");
        return 0;
    }
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return 0;
    for (const cJSON *c = v->child; c; c = c->next)
        n++;
    if (depth == 0 && n > TDRV_MAX_ITEMS)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "%s: %zu items (at most %d)",
                             path, n, TDRV_MAX_ITEMS);
    n = 0;
    for (const cJSON *c = v->child; c; c = c->next, n++) {
        char sub[320];

        if (c->string && strlen(c->string) > TDRV_MAX_OPTION_BYTES)
            return limit_err(err, path,
                             "key longer than " TDRV_STR(TDRV_MAX_OPTION_BYTES) " bytes");
        if (c->string && has_ctl(c->string))
            return limit_err(err, path, "control character in a key");
        if (c->string)
            snprintf(sub, sizeof(sub), "%s.%.200s", path, c->string);
        else
            snprintf(sub, sizeof(sub), "%s[%zu]", path, n);
        if (check_value(c, sub, text, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

int tdrv_task_check_limits(const cJSON *doc, struct tdrv_err *err)
{
    static const char *const names[] = {"alloc_id", "task",        "group",        "job", "driver",
                                        "user",     "kill_signal", "kill_timeout", NULL};
    static const char *const objects[] = {"config", "env", "meta", "resources", "network", NULL};
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(doc, "config");
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(doc, "network");
    const cJSON *lists[] = {cJSON_GetObjectItemCaseSensitive(doc, "ports"),
                            cJSON_IsObject(net) ? cJSON_GetObjectItemCaseSensitive(net, "ports")
                                                : NULL};

    /* the shapes every tool relies on (a field of another shape would be read as absent) */
    for (const char *const *n = objects; *n; n++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, *n);

        if (v && !cJSON_IsNull(v) && !cJSON_IsObject(v))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s: expected object", *n);
    }
    for (size_t i = 0; i < 2; i++) {
        const char *what = i ? "request.network.ports" : "request.ports";

        if (!lists[i] || cJSON_IsNull(lists[i]))
            continue;
        if (!cJSON_IsArray(lists[i]))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "%s: expected list", what);
        for (const cJSON *c = lists[i]->child; c; c = c->next)
            if (!cJSON_IsObject(c))
                return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                     "%s: expected a list of objects", what);
    }
    for (const char *const *n = names; *n; n++) {
        char path[64];

        snprintf(path, sizeof(path), "request.%s", *n);
        if (check_value(cJSON_GetObjectItemCaseSensitive(doc, *n), path, 0, 0, err) < 0)
            return -1;
    }
    if (cJSON_IsObject(conf))
        for (const cJSON *c = conf->child; c; c = c->next) {
            char path[320];

            snprintf(path, sizeof(path), "config.%.200s", c->string);
            if (check_value(c, path, free_text(c->string), 0, err) < 0)
                return -1;
        }
    /* env and meta values are text; their keys and sizes are not */
    if (check_value(cJSON_GetObjectItemCaseSensitive(doc, "env"), "request.env", 1, 0, err) < 0 ||
        check_value(cJSON_GetObjectItemCaseSensitive(doc, "meta"), "request.meta", 1, 0, err) < 0 ||
        check_value(cJSON_GetObjectItemCaseSensitive(doc, "ports"), "request.ports", 0, 0, err) <
            0 ||
        (cJSON_IsObject(net) && check_value(cJSON_GetObjectItemCaseSensitive(net, "ports"),
                                            "request.network.ports", 0, 0, err) < 0))
        return -1;
    return 0;
}

int tdrv_task_read(int fd, const char *select, cJSON **doc, struct tdrv_err *err)
{
    cleanup_json cJSON *in = NULL;
    const cJSON *v;

    if (tdrv_doc_read_fd(fd, TDRV_MAX_REQUEST, &in, err) < 0)
        return -1;
    if (!cJSON_IsObject(in))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "request: expected object");
    v = cJSON_GetObjectItemCaseSensitive(in, "error");
    if (v && !cJSON_IsNull(v)) {
        *doc = steal_ptr(&in);
        return passthrough(doc, err);
    }
    if (cJSON_GetObjectItemCaseSensitive(in, "Job")) {
        if (tdrv_task_from_job(in, select, doc, err) < 0)
            return -1;
        if (tdrv_task_check_limits(*doc, err) < 0) {
            cJSON_Delete(*doc);
            *doc = NULL;
            return -1;
        }
        return 0;
    }
    if (tdrv_task_check_limits(in, err) < 0)
        return -1;
    if (select) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(in, "group");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "task");
        const char *slash = strchr(select, '/');

        if (!slash || slash == select || !slash[1] || strchr(slash + 1, '/'))
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                 "invalid --task '%s' (expected GROUP/TASK)", select);
        if (cJSON_IsString(g) && cJSON_IsString(t) &&
            (strlen(g->valuestring) != (size_t)(slash - select) ||
             strncmp(g->valuestring, select, (size_t)(slash - select)) ||
             strcmp(t->valuestring, slash + 1)))
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                 "--task '%s' does not match the document's task '%s/%s'", select,
                                 g->valuestring, t->valuestring);
    }
    *doc = steal_ptr(&in);
    return 0;
}

int tdrv_task_stdin(const cJSON *doc, const char *path, struct tdrv_err *err)
{
    struct tdrv_err e = {0};
    int interactive = 0;
    int fd;

    if (tdrv_json_bool(doc, "config.interactive", TDRV_OPTIONAL, &interactive, &e) < 0 ||
        !interactive)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--stdin: the task is not interactive (config.interactive)");
    fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return tdrv_err_set(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_IO, errno,
                            "unable to open --stdin '%s'", path);
    if (fd == 0)
        return fcntl(0, F_SETFD, 0) < 0
                   ? tdrv_err_set(err, TDRV_E_OS, errno, "unable to use '%s'", path)
                   : 0;
    if (dup2(fd, 0) < 0) {
        int e2 = errno;

        close(fd);
        return tdrv_err_set(err, TDRV_E_OS, e2, "unable to use --stdin '%s'", path);
    }
    close(fd);
    return 0;
}
