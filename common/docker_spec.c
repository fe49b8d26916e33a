#include "docker_spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "duration.h"
#include "interp.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "quantity.h"
#include "ref.h"

#define MIB (1024LL * 1024LL)
#define NS_PER_SEC 1000000000LL
#define MAX_SECCOMP (4u * 1024u * 1024u)

/* Every option of the docker driver's task config (shared/spec/docker-driver.txt). */
static const char *const docker_options[] = {
    "image",
    "image_pull_timeout",
    "force_pull",
    "load",
    "auth",
    "auth_soft_fail",
    "command",
    "args",
    "entrypoint",
    "work_dir",
    "hostname",
    "tty",
    "interactive",
    "labels",
    "healthchecks",
    "memory_hard_limit",
    "cpu_hard_limit",
    "cpu_cfs_period",
    "cpuset_cpus",
    "pids_limit",
    "oom_score_adj",
    "privileged",
    "cap_add",
    "cap_drop",
    "security_opt",
    "sysctl",
    "ulimit",
    "readonly_rootfs",
    "init",
    "shm_size",
    "storage_opt",
    "group_add",
    "cgroupns",
    "runtime",
    "isolation",
    "devices",
    "mount",
    "mounts",
    "volumes",
    "volume_driver",
    "network_mode",
    "network_aliases",
    "ipv4_address",
    "ipv6_address",
    "mac_address",
    "advertise_ipv6_address",
    "dns_servers",
    "dns_search_domains",
    "dns_options",
    "extra_hosts",
    "ports",
    "port_map",
    "pid_mode",
    "ipc_mode",
    "uts_mode",
    "userns_mode",
    "logging",
    "container_exists_attempts",
    "SSL",
    NULL,
};

/* Nomad's default allow_caps and the basis the driver computes drops from (+ NET_RAW). */
static const char *const default_caps[] = {
    "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",       "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT", NULL,
};

void tdrv_docker_spec_init(struct tdrv_docker_spec *s)
{
    memset(s, 0, sizeof(*s));
}

void tdrv_docker_spec_release(struct tdrv_docker_spec *s)
{
    free(s->name);
    free(s->image);
    free(s->alloc_id);
    free(s->task);
    free(s->task_dir);
    free(s->load);
    if (s->auth) {
        cJSON *pw = cJSON_GetObjectItemCaseSensitive(s->auth, "password");

        if (cJSON_IsString(pw))
            explicit_bzero(pw->valuestring, strlen(pw->valuestring));
    }
    cJSON_Delete(s->auth);
    free(s->kill_signal);
    cJSON_Delete(s->env);
    cJSON_Delete(s->body);
    memset(s, 0, sizeof(*s));
}

#define bad tdrv_err_invalid

__attribute__((format(printf, 2, 3))) static int forbidden(struct tdrv_err *err, const char *fmt,
                                                           ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tdrv_err_setw(err, TDRV_E_NOPERM, "forbidden", 0, "%s", msg);
}

/* ---- paths ---- */

void tdrv_docker_path_clean(char *p)
{
    int rooted = p[0] == '/';
    char *out = p;
    char *w = p;
    const char *r = p;
    size_t dotdot = 0; /* where ".." may no longer backtrack */

    if (!*p) {
        p[0] = '.';
        p[1] = '\0';
        return;
    }
    if (rooted) {
        *w++ = '/';
        r++;
        dotdot = 1;
    }
    while (*r) {
        if (*r == '/') {
            r++;
        } else if (r[0] == '.' && (r[1] == '/' || !r[1])) {
            r++;
        } else if (r[0] == '.' && r[1] == '.' && (r[2] == '/' || !r[2])) {
            r += 2;
            if ((size_t)(w - out) > dotdot) {
                w--;
                while ((size_t)(w - out) > dotdot && *w != '/')
                    w--;
            } else if (!rooted) {
                if (w != out)
                    *w++ = '/';
                *w++ = '.';
                *w++ = '.';
                dotdot = (size_t)(w - out);
            }
        } else {
            if ((rooted && (size_t)(w - out) != 1) || (!rooted && w != out))
                *w++ = '/';
            while (*r && *r != '/')
                *w++ = *r++;
        }
    }
    if (w == out)
        *w++ = '.';
    *w = '\0';
}

static int path_within(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    if (n == 1 && dir[0] == '/')
        return 1;
    return !strncmp(dir, path, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * Is `path` (absolute, clean) inside `dir`, also after symlinks? The longest existing
 * prefix of path is resolved and must stay inside realpath(dir) (Nomad #28217).
 */
static int inside_dir(const char *dir, const char *path)
{
    cleanup_free char *rdir = NULL;
    cleanup_free char *probe = tdrv_xstrdup(path);

    if (!path_within(dir, path))
        return 0;
    rdir = realpath(dir, NULL);
    if (!rdir)
        return 1; /* the directory does not exist yet: nothing in it can be a symlink */
    for (;;) {
        cleanup_free char *rp = realpath(probe, NULL);
        char *slash;

        if (rp)
            return path_within(rdir, rp);
        slash = strrchr(probe, '/');
        if (!slash || slash == probe)
            return 0;
        *slash = '\0';
    }
}

/* dir + "/" + rel (rel relative), cleaned; an absolute rel is only cleaned. */
static char *path_resolve(const char *dir, const char *rel)
{
    char *p = rel[0] == '/' ? tdrv_xstrdup(rel) : tdrv_xasprintf("%s/%s", dir, rel);

    tdrv_docker_path_clean(p);
    return p;
}

/* ---- small readers ---- */

static const cJSON *get(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNull(v) ? NULL : v;
}

static int opt_str(const cJSON *cfg, const char *key, const char **out, struct tdrv_err *err)
{
    const cJSON *v = get(cfg, key);

    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return bad(err, "config.%s: expected string", key);
    *out = v->valuestring;
    return 0;
}

static int opt_bool(const cJSON *cfg, const char *key, int *out, struct tdrv_err *err)
{
    const cJSON *v = get(cfg, key);

    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return bad(err, "config.%s: expected boolean", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int opt_int(const cJSON *cfg, const char *key, int64_t min, int64_t max, int64_t *out,
                   struct tdrv_err *err)
{
    const cJSON *v = get(cfg, key);
    int64_t n;

    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return bad(err, "config.%s: expected integer", key);
    if (tdrv_double_to_i64(v->valuedouble, &n) < 0 || n < min || n > max)
        return bad(err, "config.%s: %.0f is out of range [%lld, %lld]", key, v->valuedouble,
                   (long long)min, (long long)max);
    *out = n;
    return 0;
}

static int opt_strlist(const cJSON *cfg, const char *key, const cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = get(cfg, key);
    const cJSON *it;

    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return bad(err, "config.%s: expected list of strings", key);
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it))
            return bad(err, "config.%s: expected list of strings", key);
    }
    *out = v;
    return 0;
}

/* A scalar as a string (maps such as sysctl and labels accept numbers and booleans). */
static char *scalar_str(const cJSON *v)
{
    if (cJSON_IsString(v))
        return tdrv_xstrdup(v->valuestring);
    if (cJSON_IsBool(v))
        return tdrv_xstrdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble == (double)(long long)v->valuedouble)
            return tdrv_xasprintf("%lld", (long long)v->valuedouble);
        return tdrv_xasprintf("%g", v->valuedouble);
    }
    return NULL;
}

/*
 * A map option: a JSON object, or (as HCL renders blocks) a list of objects, merged in
 * order. *out is a new object of strings.
 */
static int opt_map(const cJSON *cfg, const char *key, cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = get(cfg, key);
    cleanup_json cJSON *m = NULL;
    const cJSON *part;

    if (!v)
        return 0;
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return bad(err, "config.%s: expected map", key);
    m = tdrv_json_xobj();
    for (part = cJSON_IsObject(v) ? v : v->child; part;
         part = cJSON_IsObject(v) ? NULL : part->next) {
        const cJSON *kv;

        if (!cJSON_IsObject(part))
            return bad(err, "config.%s: expected map", key);
        cJSON_ArrayForEach(kv, part)
        {
            cleanup_free char *s = scalar_str(kv);

            if (!s)
                return bad(err, "config.%s.%s: expected string", key, kv->string);
            tdrv_json_set(m, kv->string, tdrv_json_xstr(s));
        }
    }
    *out = steal_ptr(&m);
    return 0;
}

/* ---- interpolation (DESIGN §2, common/interp.h); unknown references stay as written ---- */

struct interp {
    struct tdrv_interp ctx;
    const char *alloc_id;
    const struct tdrv_config *cfg;
};

static char *interp(const struct interp *ip, const char *s)
{
    struct tdrv_err e = {0};
    char *r = strstr(s, "${") ? tdrv_interp_str(&ip->ctx, s, &e) : NULL;

    return r ? r : tdrv_xstrdup(s); /* past TDRV_INTERP_MAX: as written */
}

static cJSON *interp_list(const struct interp *ip, const cJSON *list)
{
    cJSON *a = tdrv_json_xarr();
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        cleanup_free char *s = interp(ip, it->valuestring);

        tdrv_json_append(a, tdrv_json_xstr(s));
    }
    return a;
}

/* ---- environment ---- */

static char *env_clean(const char *label)
{
    char *s = tdrv_xstrdup(label);

    for (char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            *c = '_';
    return s;
}

static void env_set(cJSON *env, const char *k, const char *v)
{
    tdrv_json_set(env, k, tdrv_json_xstr(v));
}

/* ---- ports ---- */

struct port {
    const char *label;
    int64_t value; /* host port */
    int64_t to;    /* container port (0: same as value) */
    const char *host_ip;
};

/* The document's allocated ports: `ports` (tdrv-ports), else static network.ports. */
static int doc_ports(const cJSON *doc, const char *default_ip, struct port **out, size_t *n,
                     struct tdrv_err *err)
{
    const cJSON *ports = get(doc, "ports");
    const cJSON *it;
    int from_network = 0;
    size_t i = 0;
    cleanup_free struct port *v = NULL;

    if (!ports) {
        ports = tdrv_json_at(doc, "network.ports");
        from_network = 1;
    }
    *n = 0;
    if (!ports)
        return 0;
    if (!cJSON_IsArray(ports))
        return bad(err, "request.%s: expected list", from_network ? "network.ports" : "ports");
    v = tdrv_xcalloc((size_t)cJSON_GetArraySize(ports) + 1, sizeof(*v));
    cJSON_ArrayForEach(it, ports)
    {
        const cJSON *label = get(it, "label");
        const cJSON *value = get(it, from_network ? "static" : "value");
        const cJSON *to = get(it, "to");
        const cJSON *ip = get(it, "host_ip");

        if (from_network && !value)
            value = get(it, "value");
        if (!cJSON_IsString(label))
            return bad(err, "request.ports[%zu].label: expected string", i);
        if (value &&
            (!cJSON_IsNumber(value) || value->valuedouble < 0 || value->valuedouble > 65535))
            return bad(err, "request.ports[%zu].value: expected port number", i);
        if (to && (!cJSON_IsNumber(to) || to->valuedouble < -1 || to->valuedouble > 65535))
            return bad(err, "request.ports[%zu].to: expected port number", i);
        v[i].label = label->valuestring;
        v[i].value = value ? (int64_t)value->valuedouble : 0;
        v[i].to = to ? (int64_t)to->valuedouble : 0;
        v[i].host_ip = cJSON_IsString(ip) ? ip->valuestring : default_ip;
        i++;
    }
    *n = i;
    *out = steal_ptr(&v);
    return 0;
}

static const struct port *find_port(const struct port *p, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].label, label))
            return &p[i];
    return NULL;
}

static void publish(cJSON *exposed, cJSON *bindings, int64_t to, int64_t host, const char *ip)
{
    static const char *const protos[] = {"tcp", "udp"};

    for (size_t i = 0; i < TDRV_ARRAY_LEN(protos); i++) {
        char key[32];
        char hp[16];
        cJSON *list;
        cJSON *b = tdrv_json_xobj();

        snprintf(key, sizeof(key), "%lld/%s", (long long)to, protos[i]);
        snprintf(hp, sizeof(hp), "%lld", (long long)host);
        if (!cJSON_GetObjectItemCaseSensitive(exposed, key))
            tdrv_json_add(exposed, key, tdrv_json_xobj());
        list = cJSON_GetObjectItemCaseSensitive(bindings, key);
        if (!list) {
            list = tdrv_json_xarr();
            tdrv_json_add(bindings, key, list);
        }
        tdrv_json_add_str(b, "HostIp", ip);
        tdrv_json_add_str(b, "HostPort", hp);
        tdrv_json_append(list, b);
    }
}

/* ---- capabilities (Nomad's capabilities.Delta) ---- */

static char *cap_norm(const char *c)
{
    char *s = tdrv_xstrdup(strncasecmp(c, "CAP_", 4) ? c : c + 4);

    for (char *p = s; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return s;
}

static int caps_has(const cJSON *list, const char *const *deflt, const char *cap)
{
    const cJSON *it;

    if (!list) {
        for (; *deflt; deflt++)
            if (!strcmp(*deflt, cap))
                return 1;
        return 0;
    }
    cJSON_ArrayForEach(it, list)
    {
        cleanup_free char *n = cJSON_IsString(it) ? cap_norm(it->valuestring) : NULL;

        if (n && (!strcmp(n, cap) || !strcmp(n, "ALL")))
            return 1;
    }
    return 0;
}

static int caps_map(const cJSON *cfg, const struct tdrv_config *oc, cJSON *host,
                    struct tdrv_err *err)
{
    const cJSON *add = NULL;
    const cJSON *drop = NULL;
    const cJSON *allow = oc ? oc->allow_caps : NULL;
    const cJSON *it;
    cleanup_json cJSON *cap_add = tdrv_json_xarr();
    cleanup_json cJSON *cap_drop = tdrv_json_xarr();
    struct tdrv_buf denied;
    struct tdrv_err e = {0};
    int drop_all = 0;
    int rc = 0;

    if (opt_strlist(cfg, "cap_add", &add, err) < 0 || opt_strlist(cfg, "cap_drop", &drop, err) < 0)
        return -1;
    tdrv_buf_init(&denied, 64 * 1024);
    cJSON_ArrayForEach(it, add)
    {
        cleanup_free char *n = cap_norm(it->valuestring);

        if (!strcmp(n, "ALL")) {
            if (!caps_has(allow, default_caps, "ALL")) {
                tdrv_buf_addstr(&denied, denied.len ? ", all" : "all", &e);
                continue;
            }
        } else if (!caps_has(allow, default_caps, n)) {
            cleanup_free char *low = tdrv_xstrdup(n);

            for (char *p = low; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (denied.len)
                tdrv_buf_addstr(&denied, ", ", &e);
            tdrv_buf_addstr(&denied, low, &e);
            continue;
        }
        tdrv_json_append(cap_add, tdrv_json_xstr(n));
    }
    if (denied.len) {
        rc = forbidden(err, "config.cap_add: driver does not allow the following capabilities: %s",
                       denied.data);
        tdrv_buf_release(&denied);
        return rc;
    }
    tdrv_buf_release(&denied);
    cJSON_ArrayForEach(it, drop)
    {
        cleanup_free char *n = cap_norm(it->valuestring);

        if (!strcmp(n, "ALL"))
            drop_all = 1;
    }
    if (drop_all) {
        tdrv_json_append(cap_drop, tdrv_json_xstr("ALL"));
    } else {
        /* basis (defaults + NET_RAW) minus allow_caps, then the task's own drops */
        static const char *const extra[] = {"NET_RAW", NULL};
        const char *const *lists[] = {default_caps, extra};

        for (size_t l = 0; l < TDRV_ARRAY_LEN(lists); l++)
            for (const char *const *c = lists[l]; *c; c++)
                if (!caps_has(allow, default_caps, *c))
                    tdrv_json_append(cap_drop, tdrv_json_xstr(*c));
        cJSON_ArrayForEach(it, drop)
        {
            cleanup_free char *n = cap_norm(it->valuestring);
            const cJSON *d;
            int dup = 0;

            cJSON_ArrayForEach(d, cap_drop) dup |= !strcmp(d->valuestring, n);
            if (!dup)
                tdrv_json_append(cap_drop, tdrv_json_xstr(n));
        }
    }
    if (cJSON_GetArraySize(cap_add))
        tdrv_json_add(host, "CapAdd", steal_ptr(&cap_add));
    if (cJSON_GetArraySize(cap_drop))
        tdrv_json_add(host, "CapDrop", steal_ptr(&cap_drop));
    return 0;
}

/* ---- security_opt ---- */

static int read_seccomp(const char *path, char **out, struct tdrv_err *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_json cJSON *prof = NULL;
    struct tdrv_buf b;
    char *s;

    if (fd < 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "invalid_config", errno,
                             "config.security_opt: unable to open seccomp profile '%s'", path);
    tdrv_buf_init(&b, MAX_SECCOMP);
    if (tdrv_buf_read_fd(&b, fd, path, err) < 0 || tdrv_json_parse(b.data, b.len, &prof, err) < 0) {
        tdrv_buf_release(&b);
        return tdrv_err_wrap(err, "config.security_opt: seccomp profile '%s'", path);
    }
    tdrv_buf_release(&b);
    s = cJSON_PrintUnformatted(prof);
    if (!s)
        tdrv_oom();
    *out = tdrv_xstrdup(s);
    cJSON_free(s);
    return 0;
}

static int secopt_map(const cJSON *cfg, const char *task_dir, cJSON *host, struct tdrv_err *err)
{
    const cJSON *list = NULL;
    const cJSON *it;
    cleanup_json cJSON *out = NULL;

    if (opt_strlist(cfg, "security_opt", &list, err) < 0)
        return -1;
    if (!list)
        return 0;
    out = tdrv_json_xarr();
    cJSON_ArrayForEach(it, list)
    {
        const char *s = it->valuestring;
        size_t k = strcspn(s, "=:");

        if (!s[k]) {
            if (strcmp(s, "no-new-privileges"))
                return bad(err, "config.security_opt: invalid option '%s'", s);
            tdrv_json_append(out, tdrv_json_xstr(s));
            continue;
        }
        if (k == 7 && !strncmp(s, "seccomp", 7) && strcmp(s + 8, "unconfined")) {
            cleanup_free char *path = path_resolve(task_dir, s + 8);
            cleanup_free char *json = NULL;
            cleanup_free char *opt = NULL;

            if (read_seccomp(path, &json, err) < 0)
                return -1;
            opt = tdrv_xasprintf("seccomp=%s", json);
            tdrv_json_append(out, tdrv_json_xstr(opt));
            continue;
        }
        tdrv_json_append(out, tdrv_json_xstr(s));
    }
    tdrv_json_add(host, "SecurityOpt", steal_ptr(&out));
    return 0;
}

/* ---- ulimit ---- */

static int parse_int(const char *s, size_t n, long long *out)
{
    char buf[32];
    char *end;

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return (errno || *end) ? -1 : 0;
}

static int ulimit_map(const cJSON *cfg, cJSON *host, struct tdrv_err *err)
{
    cleanup_json cJSON *m = NULL;
    const cJSON *kv;
    cleanup_json cJSON *out = NULL;

    if (opt_map(cfg, "ulimit", &m, err) < 0)
        return -1;
    if (!m)
        return 0;
    out = tdrv_json_xarr();
    cJSON_ArrayForEach(kv, m)
    {
        const char *raw = kv->valuestring;
        const char *colon = strchr(raw, ':');
        long long soft;
        long long hard;
        cJSON *u;

        if (!*raw)
            return bad(err,
                       "config.ulimit: malformed ulimit specification %s: \"\", cannot be empty",
                       kv->string);
        if (parse_int(raw, colon ? (size_t)(colon - raw) : strlen(raw), &soft) < 0)
            return bad(err, "config.ulimit: malformed soft ulimit %s: %s", kv->string, raw);
        if (parse_int(colon ? colon + 1 : raw, strlen(colon ? colon + 1 : raw), &hard) < 0)
            return bad(err, "config.ulimit: malformed hard ulimit %s: %s", kv->string, raw);
        u = tdrv_json_xobj();
        tdrv_json_add_str(u, "Name", kv->string);
        tdrv_json_add_num(u, "Soft", (double)soft);
        tdrv_json_add_num(u, "Hard", (double)hard);
        tdrv_json_append(out, u);
    }
    tdrv_json_add(host, "Ulimits", steal_ptr(&out));
    return 0;
}

/* ---- devices ---- */

static int devices_map(const cJSON *cfg, cJSON *host, struct tdrv_err *err)
{
    const cJSON *list = get(cfg, "devices");
    const cJSON *it;
    cleanup_json cJSON *out = NULL;
    static const char *const keys[] = {"host_path", "container_path", "cgroup_permissions", NULL};
    size_t i = 0;

    if (!list)
        return 0;
    if (!cJSON_IsArray(list))
        return bad(err, "config.devices: expected list");
    out = tdrv_json_xarr();
    cJSON_ArrayForEach(it, list)
    {
        char what[64];
        const char *hp = NULL;
        const char *cp = NULL;
        const char *perm = NULL;
        cJSON *d;

        snprintf(what, sizeof(what), "config.devices[%zu]", i++);
        if (!cJSON_IsObject(it))
            return bad(err, "%s: expected object", what);
        if (tdrv_json_check_keys(it, keys, what, err) < 0)
            return -1;
        if (opt_str(it, "host_path", &hp, err) < 0 || opt_str(it, "container_path", &cp, err) < 0 ||
            opt_str(it, "cgroup_permissions", &perm, err) < 0)
            return tdrv_err_wrap(err, "%s", what);
        if (!hp || !*hp)
            return bad(err, "%s: host path must be set in configuration for devices", what);
        if (!cp || !*cp)
            cp = hp;
        if (!perm || !*perm)
            perm = "rwm";
        for (const char *c = perm; *c; c++)
            if (*c != 'r' && *c != 'w' && *c != 'm')
                return bad(err, "%s: invalid cgroup permission string: \"%s\"", what, perm);
        d = tdrv_json_xobj();
        tdrv_json_add_str(d, "PathOnHost", hp);
        tdrv_json_add_str(d, "PathInContainer", cp);
        tdrv_json_add_str(d, "CgroupPermissions", perm);
        tdrv_json_append(out, d);
    }
    tdrv_json_add(host, "Devices", steal_ptr(&out));
    return 0;
}

/* ---- volumes and mounts ---- */

struct dirs {
    const char *alloc_dir;
    const char *task_dir;
    int volumes_enabled;
};

/* A bind source: relative to the task dir; with volumes disabled, inside the alloc dir. */
static int bind_source(const struct dirs *d, const char *what, const char *src, char **out,
                       struct tdrv_err *err)
{
    cleanup_free char *p = path_resolve(d->task_dir, src);

    if (!d->volumes_enabled && !inside_dir(d->alloc_dir, p))
        return forbidden(err,
                         "%s: '%s' is outside the allocation directory and volumes are disabled",
                         what, src);
    *out = steal_ptr(&p);
    return 0;
}

static int volumes_map(const cJSON *cfg, const struct dirs *d, const struct interp *ip,
                       cJSON *binds, cJSON *host, struct tdrv_err *err)
{
    const cJSON *list = NULL;
    const char *driver = NULL;
    const cJSON *it;
    size_t i = 0;

    if (opt_strlist(cfg, "volumes", &list, err) < 0 ||
        opt_str(cfg, "volume_driver", &driver, err) < 0)
        return -1;
    if (driver && *driver) {
        if (!d->volumes_enabled)
            return forbidden(err, "config.volume_driver: volumes are not enabled");
        tdrv_json_add_str(host, "VolumeDriver", driver);
    }
    cJSON_ArrayForEach(it, list)
    {
        char what[64];
        cleanup_free char *spec = interp(ip, it->valuestring);
        char *dst = strchr(spec, ':');
        char *mode;
        cleanup_free char *src = NULL;
        cleanup_free char *bind = NULL;

        snprintf(what, sizeof(what), "config.volumes[%zu]", i++);
        if (!dst || dst == spec || !dst[1])
            return bad(err, "%s: invalid docker volume: '%s'", what, it->valuestring);
        *dst++ = '\0';
        mode = strchr(dst, ':');
        if (mode)
            *mode++ = '\0';
        if (dst[0] != '/')
            return bad(err, "%s: container path '%s' must be absolute", what, dst);
        if (driver && *driver) {
            src = tdrv_xstrdup(spec);
            if (strchr(src, '/'))
                tdrv_docker_path_clean(src);
        } else if (bind_source(d, what, spec, &src, err) < 0) {
            return -1;
        }
        bind = mode && *mode ? tdrv_xasprintf("%s:%s:%s", src, dst, mode)
                             : tdrv_xasprintf("%s:%s", src, dst);
        tdrv_json_append(binds, tdrv_json_xstr(bind));
    }
    return 0;
}

static int mount_one(const cJSON *m, const char *what, const struct dirs *d,
                     const struct interp *ip, cJSON *out, struct tdrv_err *err)
{
    static const char *const keys[] = {
        "type",         "target",        "source",         "readonly",
        "bind_options", "tmpfs_options", "volume_options", NULL};
    const char *type = "volume";
    const char *target = NULL;
    const char *source = "";
    int ro = 0;
    const cJSON *o;
    cJSON *mt;
    cleanup_free char *src = NULL;
    cleanup_free char *tgt = NULL;

    if (!cJSON_IsObject(m))
        return bad(err, "%s: expected object", what);
    if (tdrv_json_check_keys(m, keys, what, err) < 0)
        return -1;
    if (opt_str(m, "type", &type, err) < 0 || opt_str(m, "target", &target, err) < 0 ||
        opt_str(m, "source", &source, err) < 0 || opt_bool(m, "readonly", &ro, err) < 0)
        return tdrv_err_wrap(err, "%s", what);
    if (!*type)
        type = "volume";
    if (strcmp(type, "bind") && strcmp(type, "volume") && strcmp(type, "tmpfs"))
        return bad(err, "%s: mount type '%s' is not one of bind, volume, tmpfs", what, type);
    if (!target || !*target)
        return bad(err, "%s: target is required", what);
    tgt = interp(ip, target);
    src = interp(ip, source);
    mt = tdrv_json_xobj();
    tdrv_json_add_str(mt, "Type", type);
    tdrv_json_add_str(mt, "Target", tgt);
    if (!strcmp(type, "bind")) {
        cleanup_free char *abs = NULL;

        if (!*src) {
            cJSON_Delete(mt);
            return bad(err, "%s: bind mount needs a source", what);
        }
        if (bind_source(d, what, src, &abs, err) < 0) {
            cJSON_Delete(mt);
            return -1;
        }
        tdrv_json_add_str(mt, "Source", abs);
    } else if (!strcmp(type, "tmpfs")) {
        if (*src) {
            cJSON_Delete(mt);
            return bad(err, "%s: tmpfs mount cannot have a source", what);
        }
    } else {
        if (!d->volumes_enabled) {
            cJSON_Delete(mt);
            return forbidden(err, "%s: volumes are not enabled; cannot mount volume '%s'", what,
                             src);
        }
        tdrv_json_add_str(mt, "Source", src);
    }
    if (ro)
        tdrv_json_add_bool(mt, "ReadOnly", 1);
    o = get(m, "bind_options");
    if (!strcmp(type, "bind")) {
        cJSON *bo = tdrv_json_xobj();
        const char *prop = NULL;

        if (o && (!cJSON_IsObject(o) || opt_str(o, "propagation", &prop, err) < 0)) {
            cJSON_Delete(bo);
            cJSON_Delete(mt);
            return bad(err, "%s.bind_options: expected {propagation}", what);
        }
        if (prop && *prop)
            tdrv_json_add_str(bo, "Propagation", prop);
        tdrv_json_add(mt, "BindOptions", bo);
    }
    o = get(m, "tmpfs_options");
    if (!strcmp(type, "tmpfs")) {
        cJSON *to = tdrv_json_xobj();
        int64_t size = 0;
        int64_t mode = 0;

        if (o && (!cJSON_IsObject(o) || opt_int(o, "size", 0, INT64_MAX, &size, err) < 0 ||
                  opt_int(o, "mode", 0, 07777, &mode, err) < 0)) {
            cJSON_Delete(to);
            cJSON_Delete(mt);
            return bad(err, "%s.tmpfs_options: expected {size, mode} integers", what);
        }
        if (size)
            tdrv_json_add_num(to, "SizeBytes", (double)size);
        if (mode)
            tdrv_json_add_num(to, "Mode", (double)mode);
        tdrv_json_add(mt, "TmpfsOptions", to);
    }
    o = get(m, "volume_options");
    if (!strcmp(type, "volume")) {
        cJSON *vo = tdrv_json_xobj();
        cJSON *dc = tdrv_json_xobj();
        int nocopy = 0;
        const cJSON *labels = o ? get(o, "labels") : NULL;
        const cJSON *drv = o ? get(o, "driver_config") : NULL;

        tdrv_json_add(vo, "DriverConfig", dc);
        tdrv_json_add(mt, "VolumeOptions", vo);
        if (o && (!cJSON_IsObject(o) || opt_bool(o, "no_copy", &nocopy, err) < 0)) {
            cJSON_Delete(mt);
            return bad(err, "%s.volume_options: expected {no_copy, labels, driver_config}", what);
        }
        if (nocopy)
            tdrv_json_add_bool(vo, "NoCopy", 1);
        if (cJSON_IsObject(labels))
            tdrv_json_add(vo, "Labels", tdrv_json_xdup(labels));
        if (cJSON_IsObject(drv)) {
            const cJSON *name = get(drv, "name");
            const cJSON *opts = get(drv, "options");

            if (cJSON_IsString(name))
                tdrv_json_add_str(dc, "Name", name->valuestring);
            if (cJSON_IsObject(opts))
                tdrv_json_add(dc, "Options", tdrv_json_xdup(opts));
        }
    }
    tdrv_json_append(out, mt);
    return 0;
}

static int mounts_map(const cJSON *cfg, const struct dirs *d, const struct interp *ip, cJSON *host,
                      struct tdrv_err *err)
{
    static const char *const keys[] = {"mount", "mounts"};
    cleanup_json cJSON *out = tdrv_json_xarr();

    for (size_t k = 0; k < TDRV_ARRAY_LEN(keys); k++) {
        const cJSON *v = get(cfg, keys[k]);
        const cJSON *it;
        size_t i = 0;

        if (!v)
            continue;
        if (cJSON_IsObject(v)) {
            if (mount_one(v, keys[k], d, ip, out, err) < 0)
                return -1;
            continue;
        }
        if (!cJSON_IsArray(v))
            return bad(err, "config.%s: expected list of objects", keys[k]);
        cJSON_ArrayForEach(it, v)
        {
            char what[64];

            snprintf(what, sizeof(what), "config.%s[%zu]", keys[k], i++);
            if (mount_one(it, what, d, ip, out, err) < 0)
                return -1;
        }
    }
    if (cJSON_GetArraySize(out))
        tdrv_json_add(host, "Mounts", steal_ptr(&out));
    return 0;
}

/* ---- resources ---- */

/*
 * A resources number: an integer in Nomad's units (MHz, MB = MiB), or a string that is a
 * Kubernetes quantity ("128Mi" -> 128 MB rounded up; "750m" of a core -> 750 MHz, a core
 * counting 1000 MHz). Absent: *out untouched.
 */
static int res_int(const cJSON *doc, const char *key, int64_t min, int64_t *out,
                   struct tdrv_err *err)
{
    char path[64];
    const cJSON *v = tdrv_json_at(doc, "resources");

    snprintf(path, sizeof(path), "resources.%s", key);
    v = v ? get(v, key) : NULL;
    if (cJSON_IsString(v)) {
        if (!strcmp(key, "cpu")) {
            int64_t milli;

            if (tdrv_quantity_parse_milli(v->valuestring, &milli, err) < 0)
                return tdrv_err_wrap(err, "request.%s", path);
            *out = milli;
        } else {
            uint64_t bytes;

            if (tdrv_quantity_parse_bytes(v->valuestring, &bytes, err) < 0)
                return tdrv_err_wrap(err, "request.%s", path);
            *out = (int64_t)((bytes + (uint64_t)MIB - 1) / (uint64_t)MIB);
        }
        return 0;
    }
    return tdrv_json_i64(doc, path, TDRV_OPTIONAL, min, INT64_MAX / MIB, out, err);
}

static int resources_map(const cJSON *doc, const cJSON *cfg, const struct tdrv_docker_spec_ctx *ctx,
                         cJSON *host, int64_t *cpu_out, int64_t *mem_out, int64_t *mem_max_out,
                         struct tdrv_err *err)
{
    int64_t cpu = 100;
    int64_t memory = 300;
    int64_t memory_max = 0;
    int64_t hard = 0;
    int64_t period = 100000;
    int64_t limit;
    int64_t reservation;
    int64_t shares;
    int64_t total = ctx->total_compute;
    int64_t ncpu = ctx->ncpu > 0 ? ctx->ncpu : 1;
    int cpu_hard = 0;
    const char *cpuset = NULL;

    if (res_int(doc, "cpu", 0, &cpu, err) < 0 || res_int(doc, "memory", 0, &memory, err) < 0 ||
        res_int(doc, "memory_max", -1, &memory_max, err) < 0 ||
        opt_int(cfg, "memory_hard_limit", 0, INT64_MAX / MIB, &hard, err) < 0 ||
        opt_bool(cfg, "cpu_hard_limit", &cpu_hard, err) < 0 ||
        opt_str(cfg, "cpuset_cpus", &cpuset, err) < 0)
        return -1;
    if (get(cfg, "cpu_cfs_period")) {
        const cJSON *v = get(cfg, "cpu_cfs_period");

        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1000000 ||
            tdrv_double_to_i64(v->valuedouble, &period) < 0)
            return bad(err, "config.cpu_cfs_period: invalid value for cpu_cfs_period");
    }
    if (memory_max == -1) {
        limit = 0;
        reservation = memory;
    } else {
        int64_t hi = hard > memory_max ? hard : memory_max;

        if (hi == 0) {
            limit = memory;
            reservation = 0;
        } else {
            limit = hi;
            reservation = memory;
        }
    }
    if (limit > 0 && reservation > limit)
        return bad(err,
                   "config.memory_hard_limit: task memory requirements exceed driver hard "
                   "limit of %lld MB",
                   (long long)limit);
    if (limit) {
        tdrv_json_add_num(host, "Memory", (double)(limit * MIB));
        tdrv_json_add_num(host, "MemorySwap", (double)(limit * MIB));
    }
    if (reservation)
        tdrv_json_add_num(host, "MemoryReservation", (double)(reservation * MIB));
    if (total <= 0)
        total = 1000 * ncpu;
    shares = cpu;
    if (total >= 262144)
        shares = (int64_t)((double)cpu / (double)total * 262144.0);
    if (shares < 2)
        shares = 2;
    tdrv_json_add_num(host, "CpuShares", (double)shares);
    if (cpu_hard) {
        double pct = (double)cpu / (double)total;

        if (period == 0)
            period = 100000;
        tdrv_json_add_num(host, "CpuPeriod", (double)period);
        tdrv_json_add_num(host, "CpuQuota", (double)((int64_t)(pct * (double)period) * ncpu));
    } else if (get(cfg, "cpu_cfs_period") && period) {
        tdrv_json_add_num(host, "CpuPeriod", (double)period);
    }
    if (cpuset && *cpuset)
        tdrv_json_add_str(host, "CpusetCpus", cpuset);
    *cpu_out = cpu;
    *mem_out = memory;
    *mem_max_out = memory_max > 0 ? memory_max : (hard > 0 ? hard : 0);
    return 0;
}

/* ---- logging ---- */

static int logging_map(const cJSON *cfg, cJSON *host, struct tdrv_err *err)
{
    static const char *const keys[] = {"type", "driver", "config", NULL};
    const cJSON *lg = get(cfg, "logging");
    const char *type = NULL;
    const char *driver = NULL;
    cleanup_json cJSON *conf = NULL;
    cJSON *lc = tdrv_json_xobj();

    tdrv_json_add(host, "LogConfig", lc);
    if (lg) {
        if (cJSON_IsArray(lg) && cJSON_GetArraySize(lg) == 1)
            lg = lg->child;
        if (!cJSON_IsObject(lg))
            return bad(err, "config.logging: expected object");
        if (tdrv_json_check_keys(lg, keys, "config.logging", err) < 0 ||
            opt_str(lg, "type", &type, err) < 0 || opt_str(lg, "driver", &driver, err) < 0 ||
            opt_map(lg, "config", &conf, err) < 0)
            return tdrv_err_wrap(err, "config.logging");
    }
    if (!type || !*type)
        type = driver;
    if ((!type || !*type) && !conf) {
        conf = tdrv_json_xobj();
        tdrv_json_add_str(conf, "max-file", "2");
        tdrv_json_add_str(conf, "max-size", "2m");
        type = "json-file";
    }
    tdrv_json_add_str(lc, "Type", type ? type : "");
    if (conf)
        tdrv_json_add(lc, "Config", steal_ptr(&conf));
    return 0;
}

/* ---- network ---- */

static int valid_mac(const char *s)
{
    for (int i = 0; i < 6; i++) {
        if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
            return 0;
        s += 2;
        if (i < 5 && *s++ != ':')
            return 0;
    }
    return *s == '\0';
}

static int network_map(const cJSON *doc, const cJSON *cfg, const struct tdrv_docker_spec_ctx *ctx,
                       const struct port *ports, size_t nports, cJSON *config, cJSON *host,
                       cJSON *body, struct tdrv_err *err)
{
    const char *mode = NULL;
    const char *v4 = NULL;
    const char *v6 = NULL;
    const char *mac = NULL;
    const cJSON *aliases = NULL;
    const cJSON *labels = NULL;
    const cJSON *dns = NULL;
    const cJSON *search = NULL;
    const cJSON *dopts = NULL;
    const cJSON *hosts = NULL;
    const cJSON *it;
    cleanup_json cJSON *port_map = NULL;
    unsigned char addr[16];
    const char *netmode = NULL;

    if (opt_str(cfg, "network_mode", &mode, err) < 0 ||
        opt_str(cfg, "ipv4_address", &v4, err) < 0 || opt_str(cfg, "ipv6_address", &v6, err) < 0 ||
        opt_str(cfg, "mac_address", &mac, err) < 0 ||
        opt_strlist(cfg, "network_aliases", &aliases, err) < 0 ||
        opt_strlist(cfg, "ports", &labels, err) < 0 ||
        opt_strlist(cfg, "dns_servers", &dns, err) < 0 ||
        opt_strlist(cfg, "dns_search_domains", &search, err) < 0 ||
        opt_strlist(cfg, "dns_options", &dopts, err) < 0 ||
        opt_strlist(cfg, "extra_hosts", &hosts, err) < 0 ||
        opt_map(cfg, "port_map", &port_map, err) < 0)
        return -1;
    if (tdrv_json_str(doc, "network.mode", TDRV_OPTIONAL, &netmode, err) < 0)
        return -1;
    if (!mode || !*mode) {
        if (netmode && (!strcmp(netmode, "host") || !strcmp(netmode, "none")))
            mode = netmode;
        else
            mode = "default";
    }
    tdrv_json_add_str(host, "NetworkMode", mode);
    if (v4 && *v4 && inet_pton(AF_INET, v4, addr) != 1)
        return bad(err, "config.ipv4_address: invalid IPv4 address '%s'", v4);
    if (v6 && *v6 && inet_pton(AF_INET6, v6, addr) != 1)
        return bad(err, "config.ipv6_address: invalid IPv6 address '%s'", v6);
    if (mac && *mac && !valid_mac(mac))
        return bad(err, "config.mac_address: invalid MAC address '%s'", mac);
    if ((v4 && *v4) || (v6 && *v6) || (mac && *mac) || cJSON_GetArraySize(aliases)) {
        cJSON *nc = tdrv_json_xobj();
        cJSON *eps = tdrv_json_xobj();
        cJSON *ep = tdrv_json_xobj();

        tdrv_json_add(nc, "EndpointsConfig", eps);
        tdrv_json_add(eps, mode, ep);
        if (cJSON_GetArraySize(aliases))
            tdrv_json_add(ep, "Aliases", tdrv_json_xdup(aliases));
        if ((v4 && *v4) || (v6 && *v6)) {
            cJSON *ipam = tdrv_json_xobj();

            if (v4 && *v4)
                tdrv_json_add_str(ipam, "IPv4Address", v4);
            if (v6 && *v6)
                tdrv_json_add_str(ipam, "IPv6Address", v6);
            tdrv_json_add(ep, "IPAMConfig", ipam);
        }
        if (mac && *mac) {
            tdrv_json_add_str(ep, "MacAddress", mac);
            tdrv_json_add_str(config, "MacAddress", mac); /* API < 1.44 reads it here */
        }
        tdrv_json_add(body, "NetworkingConfig", nc);
    }
    if (cJSON_GetArraySize(dns)) {
        cJSON *d = tdrv_json_xarr();

        cJSON_ArrayForEach(it, dns)
        {
            if (inet_pton(AF_INET, it->valuestring, addr) == 1 ||
                inet_pton(AF_INET6, it->valuestring, addr) == 1)
                tdrv_json_append(d, tdrv_json_xstr(it->valuestring));
            else
                tdrv_warn("config.dns_servers: invalid address '%s' skipped", it->valuestring);
        }
        tdrv_json_add(host, "Dns", d);
    }
    if (cJSON_GetArraySize(search))
        tdrv_json_add(host, "DnsSearch", tdrv_json_xdup(search));
    if (cJSON_GetArraySize(dopts))
        tdrv_json_add(host, "DnsOptions", tdrv_json_xdup(dopts));
    if (cJSON_GetArraySize(hosts))
        tdrv_json_add(host, "ExtraHosts", tdrv_json_xdup(hosts));

    /* ports: published on tcp and udp, bound to the allocated host IP */
    if (labels && port_map)
        return bad(err, "config.port_map: 'port_map' cannot map group network ports, use "
                        "'ports' instead");
    if (port_map && port_map->child) { /* an empty port_map maps nothing, as the driver */
        const cJSON *kv;

        if (!nports)
            return bad(err, "config.port_map: trying to map ports but no network interface is "
                            "available");
        cJSON_ArrayForEach(kv, port_map)
        {
            long long n;

            if (!find_port(ports, nports, kv->string))
                return bad(err, "config.port_map: port \"%s\" not found, check network block",
                           kv->string);
            if (parse_int(kv->valuestring, strlen(kv->valuestring), &n) < 0 || n <= 0 || n > 65535)
                return bad(err, "config.port_map.%s: expected port number", kv->string);
        }
    }
    if (strncmp(mode, "container:", 10) && (labels || port_map)) {
        cJSON *exposed = tdrv_json_xobj();
        cJSON *bindings = tdrv_json_xobj();

        tdrv_json_add(config, "ExposedPorts", exposed);
        tdrv_json_add(host, "PortBindings", bindings);
        if (labels) {
            cJSON_ArrayForEach(it, labels)
            {
                const struct port *p = find_port(ports, nports, it->valuestring);

                if (!p)
                    return bad(err, "config.ports: port \"%s\" not found, check network block",
                               it->valuestring);
                if (!p->value)
                    return bad(err,
                               "config.ports: port \"%s\" has no host port (run tdrv-ports first)",
                               it->valuestring);
                publish(exposed, bindings, p->to > 0 ? p->to : p->value, p->value,
                        p->host_ip ? p->host_ip : "");
            }
        } else {
            for (size_t i = 0; i < nports; i++) {
                const cJSON *m = get(port_map, ports[i].label);
                long long to = ports[i].value;

                if (!ports[i].value)
                    return bad(
                        err, "config.port_map: port \"%s\" has no host port (run tdrv-ports first)",
                        ports[i].label);
                if (m)
                    parse_int(m->valuestring, strlen(m->valuestring), &to);
                publish(exposed, bindings, to, ports[i].value,
                        ports[i].host_ip ? ports[i].host_ip : "");
            }
        }
    }
    (void)ctx;
    return 0;
}

/* ---- namespaces and privileges ---- */

static int modes_map(const cJSON *cfg, const struct tdrv_config *oc, cJSON *host,
                     struct tdrv_err *err)
{
    static const struct {
        const char *opt;
        const char *field;
    } modes[] = {
        {"pid_mode", "PidMode"},
        {"ipc_mode", "IpcMode"},
        {"uts_mode", "UTSMode"},
        {"userns_mode", "UsernsMode"},
    };
    int privileged = 0;

    if (opt_bool(cfg, "privileged", &privileged, err) < 0)
        return -1;
    if (privileged) {
        if (!oc || !oc->allow_privileged)
            return forbidden(err, "config.privileged: Docker privileged mode is disabled by the "
                                  "operator's config (allow_privileged)");
        tdrv_json_add_bool(host, "Privileged", 1);
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(modes); i++) {
        const char *v = NULL;

        if (opt_str(cfg, modes[i].opt, &v, err) < 0)
            return -1;
        if (!v || !*v)
            continue;
        if (!oc || !oc->allow_privileged)
            return forbidden(err,
                             "config.%s: cannot apply \"%s\" configuration: needs "
                             "allow_privileged",
                             modes[i].opt, modes[i].opt);
        tdrv_json_add_str(host, modes[i].field, v);
    }
    return 0;
}

static int runtime_map(const cJSON *cfg, const struct tdrv_config *oc, cJSON *host,
                       struct tdrv_err *err)
{
    const char *rt = NULL;
    const char *iso = NULL;
    const cJSON *it;

    if (opt_str(cfg, "runtime", &rt, err) < 0 || opt_str(cfg, "isolation", &iso, err) < 0)
        return -1;
    if (iso && *iso)
        return bad(err, "config.isolation: isolation is only supported on Windows");
    if (!rt || !*rt)
        return 0;
    if (oc && oc->allow_runtimes) {
        int ok = 0;

        cJSON_ArrayForEach(it, oc->allow_runtimes) ok |=
            cJSON_IsString(it) && !strcmp(it->valuestring, rt);
        if (!ok)
            return forbidden(err, "config.runtime: requested runtime \"%s\" is not allowed", rt);
    } else if (strcmp(rt, "runc") && strcmp(rt, "crun")) {
        return forbidden(err, "config.runtime: requested runtime \"%s\" is not allowed", rt);
    }
    tdrv_json_add_str(host, "Runtime", rt);
    return 0;
}

/* ---- the task env (DESIGN §2) ---- */

static int build_env(const cJSON *doc, const cJSON *cfg, const struct port *ports, size_t nports,
                     int64_t cpu, int64_t mem, int64_t mem_max, const struct interp *ipbase,
                     cJSON **out, struct tdrv_err *err)
{
    cleanup_json cJSON *env = tdrv_json_xobj();
    cleanup_json cJSON *port_map = NULL;
    const cJSON *user = get(doc, "env");
    const cJSON *meta = get(doc, "meta");
    const cJSON *kv;
    const char *alloc_id = NULL;
    const char *task = NULL;
    const char *group = NULL;
    const char *job = NULL;
    const char *ns = NULL;
    char num[32];
    struct interp ip = *ipbase;

    if (tdrv_json_str(doc, "alloc_id", TDRV_REQUIRED, &alloc_id, err) < 0 ||
        tdrv_json_str(doc, "task", TDRV_REQUIRED, &task, err) < 0 ||
        tdrv_json_str(doc, "group", TDRV_OPTIONAL, &group, err) < 0 ||
        tdrv_json_str(doc, "job", TDRV_OPTIONAL, &job, err) < 0 ||
        tdrv_json_str(doc, "namespace", TDRV_OPTIONAL, &ns, err) < 0 ||
        opt_map(cfg, "port_map", &port_map, err) < 0)
        return -1;
    if (user && !cJSON_IsObject(user))
        return bad(err, "request.env: expected object");
    if (meta && !cJSON_IsObject(meta))
        return bad(err, "request.meta: expected object");

    /* the driver's variables first, so the task's values can be interpolated from them */
    env_set(env, "NOMAD_ALLOC_DIR", "/alloc");
    env_set(env, "NOMAD_TASK_DIR", "/local");
    env_set(env, "NOMAD_SECRETS_DIR", "/secrets");
    env_set(env, "NOMAD_ALLOC_ID", alloc_id);
    snprintf(num, sizeof(num), "%.8s", alloc_id);
    env_set(env, "NOMAD_SHORT_ALLOC_ID", num);
    env_set(env, "NOMAD_TASK_NAME", task);
    env_set(env, "NOMAD_GROUP_NAME", group ? group : task);
    if (job)
        env_set(env, "NOMAD_JOB_NAME", job);
    if (ns)
        env_set(env, "NOMAD_NAMESPACE", ns);
    env_set(env, "NOMAD_DC",
            ipbase->cfg && ipbase->cfg->datacenter ? ipbase->cfg->datacenter : "dc1");
    env_set(env, "NOMAD_REGION", "global");
    snprintf(num, sizeof(num), "%lld", (long long)cpu);
    env_set(env, "NOMAD_CPU_LIMIT", num);
    snprintf(num, sizeof(num), "%lld", (long long)mem);
    env_set(env, "NOMAD_MEMORY_LIMIT", num);
    if (mem_max > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)mem_max);
        env_set(env, "NOMAD_MEMORY_MAX_LIMIT", num);
    }
    cJSON_ArrayForEach(kv, meta)
    {
        cleanup_free char *k = env_clean(kv->string);
        cleanup_free char *name = NULL;
        cleanup_free char *v = scalar_str(kv);

        if (!v)
            return bad(err, "request.meta.%s: expected string", kv->string);
        for (char *c = k; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        name = tdrv_xasprintf("NOMAD_META_%s", k);
        env_set(env, name, v);
        if (strcmp(k, kv->string)) {
            free(name);
            name = tdrv_xasprintf("NOMAD_META_%s", kv->string);
            env_set(env, name, v);
        }
    }
    for (size_t i = 0; i < nports; i++) {
        cleanup_free char *l = env_clean(ports[i].label);
        const cJSON *m = port_map ? get(port_map, ports[i].label) : NULL;
        const char *hip = ports[i].host_ip ? ports[i].host_ip : "127.0.0.1";
        char *names[6];
        char val[6][300];
        long long to = ports[i].to > 0 ? ports[i].to : ports[i].value;

        if (!ports[i].value)
            continue;
        if (m)
            parse_int(m->valuestring, strlen(m->valuestring), &to);
        names[0] = tdrv_xasprintf("NOMAD_PORT_%s", l);
        names[1] = tdrv_xasprintf("NOMAD_HOST_PORT_%s", l);
        names[2] = tdrv_xasprintf("NOMAD_IP_%s", l);
        names[3] = tdrv_xasprintf("NOMAD_ADDR_%s", l);
        names[4] = tdrv_xasprintf("NOMAD_HOST_IP_%s", l);
        names[5] = tdrv_xasprintf("NOMAD_HOST_ADDR_%s", l);
        snprintf(val[0], sizeof(val[0]), "%lld", to);
        snprintf(val[1], sizeof(val[1]), "%lld", (long long)ports[i].value);
        snprintf(val[2], sizeof(val[2]), "%s", hip);
        snprintf(val[3], sizeof(val[3]), strchr(hip, ':') ? "[%s]:%lld" : "%s:%lld", hip,
                 (long long)ports[i].value);
        snprintf(val[4], sizeof(val[4]), "%s", val[2]);
        snprintf(val[5], sizeof(val[5]), "%s", val[3]);
        for (int j = 0; j < 6; j++) {
            env_set(env, names[j], val[j]);
            free(names[j]);
        }
    }
    /* the task's own env, interpolated; NOMAD_* set by the driver cannot be overridden */
    ip.ctx.env = env;
    cJSON_ArrayForEach(kv, user)
    {
        cleanup_free char *raw = scalar_str(kv);
        cleanup_free char *v = NULL;

        if (!raw)
            return bad(err, "request.env.%s: expected string", kv->string);
        if (!*kv->string || strchr(kv->string, '='))
            return bad(err, "request.env: invalid variable name '%s'", kv->string);
        if (!strncmp(kv->string, "NOMAD_", 6) && get(env, kv->string))
            continue;
        v = interp(&ip, raw);
        env_set(env, kv->string, v);
    }
    *out = steal_ptr(&env);
    return 0;
}

/* ---- the body ---- */

static int kill_opts(const cJSON *doc, struct tdrv_docker_spec *out, struct tdrv_err *err)
{
    const cJSON *kt = get(doc, "kill_timeout");
    const char *ks = NULL;

    out->kill_timeout_ns = 5 * NS_PER_SEC;
    if (cJSON_IsString(kt)) {
        if (tdrv_duration_parse(kt->valuestring, &out->kill_timeout_ns, err) < 0)
            return tdrv_err_wrap(err, "request.kill_timeout");
    } else if (cJSON_IsNumber(kt)) {
        /* Nomad's API: nanoseconds */
        if (tdrv_double_to_i64(kt->valuedouble, &out->kill_timeout_ns) < 0)
            return bad(err, "request.kill_timeout: expected duration (an integer of "
                            "nanoseconds)");
    } else if (kt) {
        return bad(err, "request.kill_timeout: expected duration");
    }
    if (out->kill_timeout_ns < 0)
        return bad(err, "request.kill_timeout: must not be negative");
    if (tdrv_json_str(doc, "kill_signal", TDRV_OPTIONAL, &ks, err) < 0)
        return -1;
    if (ks && *ks)
        out->kill_signal = tdrv_xstrdup(ks);
    return 0;
}

static int image_opts(const cJSON *cfg, const char *task_dir, struct tdrv_docker_spec *out,
                      struct tdrv_err *err)
{
    const char *image = NULL;
    const char *pt = NULL;
    const char *load = NULL;
    const cJSON *auth = get(cfg, "auth");
    static const char *const auth_keys[] = {"username", "password", "email", "server_address",
                                            NULL};
    struct tdrv_ref ref;
    int rc;

    if (opt_str(cfg, "image", &image, err) < 0)
        return -1;
    if (!image || !*image)
        return bad(err, "config.image: image name required for docker driver");
    if (!strncmp(image, "https://", 8))
        image += 8;
    tdrv_ref_init(&ref);
    rc = tdrv_ref_parse(image, &ref, err);
    tdrv_ref_release(&ref);
    if (rc < 0)
        return tdrv_err_wrap(err, "config.image");
    out->image = tdrv_xstrdup(image);
    out->image_pull_timeout_ns = 5 * 60 * NS_PER_SEC;
    if (opt_str(cfg, "image_pull_timeout", &pt, err) < 0 ||
        opt_bool(cfg, "force_pull", &out->force_pull, err) < 0 ||
        opt_bool(cfg, "auth_soft_fail", &out->auth_soft_fail, err) < 0 ||
        opt_str(cfg, "load", &load, err) < 0)
        return -1;
    if (pt && tdrv_duration_parse(pt, &out->image_pull_timeout_ns, err) < 0)
        return tdrv_err_wrap(err, "config.image_pull_timeout");
    if (out->image_pull_timeout_ns < 0)
        return bad(err, "config.image_pull_timeout: negative duration '%s'", pt);
    if (load && *load) {
        cleanup_free char *local = tdrv_xasprintf("%s/local", task_dir);

        out->load = path_resolve(local, load);
    }
    if (auth) {
        if (!cJSON_IsObject(auth))
            return bad(err, "config.auth: expected object");
        if (tdrv_json_check_keys(auth, auth_keys, "config.auth", err) < 0)
            return -1;
        for (const cJSON *c = auth->child; c; c = c->next)
            if (!cJSON_IsString(c))
                return bad(err, "config.auth.%s: expected string", c->string);
        out->auth = tdrv_json_xdup(auth);
    }
    return 0;
}

static int cmd_opts(const cJSON *cfg, const struct interp *ip, cJSON *config, struct tdrv_err *err)
{
    const char *command = NULL;
    const cJSON *args = NULL;
    const cJSON *entry = NULL;
    const char *s = NULL;

    if (opt_str(cfg, "command", &command, err) < 0 || opt_strlist(cfg, "args", &args, err) < 0 ||
        opt_strlist(cfg, "entrypoint", &entry, err) < 0)
        return -1;
    if (command) {
        size_t n = strlen(command);
        cJSON *cmd;

        if (!n)
            return bad(err, "config.command: must not be empty");
        if (isspace((unsigned char)command[0]) || isspace((unsigned char)command[n - 1]))
            return bad(err, "config.command: command contains extra white space: \"%s\"", command);
        cmd = tdrv_json_xarr();
        {
            cleanup_free char *c = interp(ip, command);

            tdrv_json_append(cmd, tdrv_json_xstr(c));
        }
        if (args) {
            cJSON *rest = interp_list(ip, args);
            cJSON *it;

            while ((it = rest->child)) {
                cJSON_DetachItemViaPointer(rest, it);
                tdrv_json_append(cmd, it);
            }
            cJSON_Delete(rest);
        }
        tdrv_json_add(config, "Cmd", cmd);
    } else if (args && cJSON_GetArraySize(args)) {
        tdrv_json_add(config, "Cmd", interp_list(ip, args));
    }
    if (entry && entry->child) /* [] keeps the image's, as the driver (len(Entrypoint) > 0) */
        tdrv_json_add(config, "Entrypoint", interp_list(ip, entry));
    if (opt_str(cfg, "work_dir", &s, err) < 0)
        return -1;
    if (s && *s) {
        cleanup_free char *w = interp(ip, s);

        if (w[0] != '/') /* the Engine refuses it only when the container is created */
            return bad(err, "config.work_dir: '%s' must be an absolute path", w);
        tdrv_json_add_str(config, "WorkingDir", w);
    }
    s = NULL;
    if (opt_str(cfg, "hostname", &s, err) < 0)
        return -1;
    if (s && *s) {
        cleanup_free char *h = interp(ip, s);

        tdrv_json_add_str(config, "Hostname", h);
    }
    return 0;
}

static int labels_map(const cJSON *cfg, const cJSON *doc, const struct tdrv_docker_spec_ctx *ctx,
                      const struct interp *ip, cJSON *config, struct tdrv_err *err)
{
    cleanup_json cJSON *user = NULL;
    cJSON *labels = tdrv_json_xobj();
    const cJSON *kv;
    const char *group = NULL;

    tdrv_json_add(config, "Labels", labels);
    if (opt_map(cfg, "labels", &user, err) < 0)
        return -1;
    cJSON_ArrayForEach(kv, user)
    {
        cleanup_free char *v = interp(ip, kv->valuestring);

        if (!strncmp(kv->string, "com.hashicorp.nomad.", 20))
            return bad(err, "config.labels: '%s' is Nomad's label; tdrv never sets it", kv->string);
        tdrv_json_set(labels, kv->string, tdrv_json_xstr(v));
    }
    tdrv_json_str(doc, "group", TDRV_OPTIONAL, &group, err);
    tdrv_json_set(labels, "io.tdrv.alloc_id", tdrv_json_xstr(ip->alloc_id));
    tdrv_json_set(labels, "io.tdrv.task", tdrv_json_xstr(get(doc, "task")->valuestring));
    if (group)
        tdrv_json_set(labels, "io.tdrv.group", tdrv_json_xstr(group));
    if (ctx->lease_path)
        tdrv_json_set(labels, "io.tdrv.lease", tdrv_json_xstr(ctx->lease_path));
    return 0;
}

static int host_misc(const cJSON *cfg, cJSON *config, cJSON *host, struct tdrv_err *err)
{
    int b = 0;
    int64_t n = 0;
    const cJSON *list = NULL;
    const char *s = NULL;
    cleanup_json cJSON *m = NULL;
    const cJSON *hc = get(cfg, "healthchecks");

    if (opt_bool(cfg, "readonly_rootfs", &b, err) < 0)
        return -1;
    if (b)
        tdrv_json_add_bool(host, "ReadonlyRootfs", 1);
    b = 0;
    if (opt_bool(cfg, "init", &b, err) < 0)
        return -1;
    if (b)
        tdrv_json_add_bool(host, "Init", 1);
    if (opt_int(cfg, "shm_size", 0, INT64_MAX, &n, err) < 0)
        return -1;
    if (n)
        tdrv_json_add_num(host, "ShmSize", (double)n);
    n = 0;
    if (opt_int(cfg, "pids_limit", 0, INT64_MAX, &n, err) < 0)
        return -1;
    if (n)
        tdrv_json_add_num(host, "PidsLimit", (double)n);
    n = 0;
    if (opt_int(cfg, "oom_score_adj", -1000, 1000, &n, err) < 0)
        return -1;
    if (n)
        tdrv_json_add_num(host, "OomScoreAdj", (double)n);
    if (opt_int(cfg, "container_exists_attempts", 0, 1000, &n, err) < 0)
        return -1;
    if (opt_strlist(cfg, "group_add", &list, err) < 0)
        return -1;
    if (cJSON_GetArraySize(list))
        tdrv_json_add(host, "GroupAdd", tdrv_json_xdup(list));
    if (opt_str(cfg, "cgroupns", &s, err) < 0)
        return -1;
    if (s && *s) {
        if (strcmp(s, "host") && strcmp(s, "private"))
            return bad(err, "config.cgroupns: must be 'host' or 'private', not '%s'", s);
        tdrv_json_add_str(host, "CgroupnsMode", s);
    }
    if (opt_map(cfg, "sysctl", &m, err) < 0)
        return -1;
    if (m)
        tdrv_json_add(host, "Sysctls", steal_ptr(&m));
    if (opt_map(cfg, "storage_opt", &m, err) < 0)
        return -1;
    if (m)
        tdrv_json_add(host, "StorageOpt", steal_ptr(&m));
    if (opt_bool(cfg, "advertise_ipv6_address", &b, err) < 0 || opt_bool(cfg, "SSL", &b, err) < 0)
        return -1;
    if (hc) {
        static const char *const keys[] = {"disable", NULL};

        b = 0;
        if (cJSON_IsArray(hc) && cJSON_GetArraySize(hc) == 1)
            hc = hc->child;
        if (!cJSON_IsObject(hc) || tdrv_json_check_keys(hc, keys, "config.healthchecks", err) < 0 ||
            opt_bool(hc, "disable", &b, err) < 0)
            return err->code ? -1 : bad(err, "config.healthchecks: expected {disable}");
        if (b) {
            cJSON *h = tdrv_json_xobj();
            cJSON *t = tdrv_json_xarr();

            tdrv_json_append(t, tdrv_json_xstr("NONE"));
            tdrv_json_add(h, "Test", t);
            tdrv_json_add(config, "Healthcheck", h);
        }
    }
    return 0;
}

int tdrv_docker_spec_build(const cJSON *doc, const struct tdrv_docker_spec_ctx *ctx,
                           struct tdrv_docker_spec *out, struct tdrv_err *err)
{
    const cJSON *cfg = NULL;
    const char *alloc_id = NULL;
    const char *task = NULL;
    const char *user = NULL;
    const char *default_ip = ctx->host_ip ? ctx->host_ip : "127.0.0.1";
    cleanup_free struct port *ports = NULL;
    size_t nports = 0;
    int64_t cpu = 0;
    int64_t mem = 0;
    int64_t mem_max = 0;
    cJSON *config;
    cJSON *host;
    cJSON *binds;
    cJSON *envlist;
    const cJSON *kv;
    struct interp ip = {0};
    struct dirs dirs = {0};
    cleanup_free char *alloc_sub = NULL;
    cleanup_free char *local = NULL;
    cleanup_free char *secrets = NULL;
    cleanup_json cJSON *node = NULL;

    if (tdrv_json_str(doc, "alloc_id", TDRV_REQUIRED, &alloc_id, err) < 0 ||
        tdrv_json_str(doc, "task", TDRV_REQUIRED, &task, err) < 0 ||
        tdrv_json_obj(doc, "config", TDRV_REQUIRED, &cfg, err) < 0 ||
        tdrv_json_str(doc, "user", TDRV_OPTIONAL, &user, err) < 0)
        return -1;
    if (!*alloc_id || strchr(alloc_id, '/') || !strcmp(alloc_id, ".") || !strcmp(alloc_id, ".."))
        return bad(err, "request.alloc_id: invalid allocation id '%s'", alloc_id);
    if (!*task || strchr(task, '/') || !strcmp(task, ".") || !strcmp(task, ".."))
        return bad(err, "request.task: invalid task name '%s'", task);
    if (tdrv_json_check_keys(cfg, docker_options, "config", err) < 0)
        return -1;

    out->alloc_id = tdrv_xstrdup(alloc_id);
    out->task = tdrv_xstrdup(task);
    out->name = tdrv_xasprintf("%s-%s", task, alloc_id);
    out->task_dir = tdrv_xasprintf("%s/%s", ctx->alloc_dir, task);
    dirs.alloc_dir = ctx->alloc_dir;
    dirs.task_dir = out->task_dir;
    dirs.volumes_enabled = ctx->cfg ? ctx->cfg->volumes_enabled : 0;

    if (kill_opts(doc, out, err) < 0 || image_opts(cfg, out->task_dir, out, err) < 0)
        return -1;
    if (doc_ports(doc, default_ip, &ports, &nports, err) < 0)
        return -1;

    out->body = tdrv_json_xobj();
    config = out->body; /* the create body is the Config with HostConfig inside */
    host = tdrv_json_xobj();

    /* resources before env: NOMAD_CPU_LIMIT and NOMAD_MEMORY_LIMIT come from them */
    if (resources_map(doc, cfg, ctx, host, &cpu, &mem, &mem_max, err) < 0) {
        cJSON_Delete(host);
        return -1;
    }
    tdrv_json_add_str(config, "Image", out->image);
    node = tdrv_json_xobj();
    tdrv_json_add_str(node, "datacenter",
                      ctx->cfg && ctx->cfg->datacenter ? ctx->cfg->datacenter : "dc1");
    if (ctx->cfg && ctx->cfg->node_name)
        tdrv_json_add_str(node, "unique.name", ctx->cfg->node_name);
    ip.ctx.meta = ctx->cfg ? ctx->cfg->meta : NULL;
    ip.ctx.node = node;
    ip.alloc_id = alloc_id;
    ip.cfg = ctx->cfg;
    if (build_env(doc, cfg, ports, nports, cpu, mem, mem_max, &ip, &out->env, err) < 0) {
        cJSON_Delete(host);
        return -1;
    }
    ip.ctx.env = out->env;
    if (user && *user)
        tdrv_json_add_str(config, "User", user);
    if (opt_bool(cfg, "tty", &out->tty, err) < 0 ||
        opt_bool(cfg, "interactive", &out->interactive, err) < 0) {
        cJSON_Delete(host);
        return -1;
    }
    tdrv_json_add_bool(config, "Tty", out->tty);
    tdrv_json_add_bool(config, "OpenStdin", out->interactive);
    tdrv_json_add_bool(config, "AttachStdin", out->interactive);
    tdrv_json_add_bool(config, "StdinOnce", out->interactive); /* our EOF is the task's */
    tdrv_json_add_bool(config, "AttachStdout", 1);
    tdrv_json_add_bool(config, "AttachStderr", 1);
    envlist = tdrv_json_xarr();
    tdrv_json_add(config, "Env", envlist);
    cJSON_ArrayForEach(kv, out->env)
    {
        cleanup_free char *e = tdrv_xasprintf("%s=%s", kv->string, kv->valuestring);

        tdrv_json_append(envlist, tdrv_json_xstr(e));
    }
    if (cmd_opts(cfg, &ip, config, err) < 0 || labels_map(cfg, doc, ctx, &ip, config, err) < 0) {
        cJSON_Delete(host);
        return -1;
    }
    tdrv_json_add(config, "HostConfig", host);

    /* the allocation directory, then the task's volumes */
    binds = tdrv_json_xarr();
    tdrv_json_add(host, "Binds", binds);
    alloc_sub = tdrv_xasprintf("%s/alloc:/alloc", ctx->alloc_dir);
    local = tdrv_xasprintf("%s/local:/local", out->task_dir);
    secrets = tdrv_xasprintf("%s/secrets:/secrets", out->task_dir);
    tdrv_json_append(binds, tdrv_json_xstr(alloc_sub));
    tdrv_json_append(binds, tdrv_json_xstr(local));
    tdrv_json_append(binds, tdrv_json_xstr(secrets));

    if (volumes_map(cfg, &dirs, &ip, binds, host, err) < 0 ||
        mounts_map(cfg, &dirs, &ip, host, err) < 0 || devices_map(cfg, host, err) < 0 ||
        caps_map(cfg, ctx->cfg, host, err) < 0 || secopt_map(cfg, out->task_dir, host, err) < 0 ||
        ulimit_map(cfg, host, err) < 0 || modes_map(cfg, ctx->cfg, host, err) < 0 ||
        runtime_map(cfg, ctx->cfg, host, err) < 0 || host_misc(cfg, config, host, err) < 0 ||
        logging_map(cfg, host, err) < 0 ||
        network_map(doc, cfg, ctx, ports, nports, config, host, out->body, err) < 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(host, "Memory"))
        tdrv_json_add_num(host, "MemorySwappiness", 0); /* no swap, as the driver */
    return 0;
}
