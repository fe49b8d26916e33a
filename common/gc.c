#include "gc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "docker.h"
#include "duration.h"
#include "fs.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "ports.h"
#include "spec.h"
#include "store.h"

extern char **environ;

#define NS 1000000000LL
#define STATE_MAX (4u << 20)
#define ENGINE_TIMEOUT_MS 60000L
#define STOP_MARGIN_MS 10000L /* beyond kill_timeout, for a supervisor to record and let go */

/* ---- clock, names, test hook ------------------------------------------------------------ */

int64_t tdrv_gc_now(void)
{
    const char *t = getenv("TDRV_GC_NOW");
    int64_t now = (int64_t)time(NULL);
    struct tdrv_err e = {0};

    if (t && *t == '+') {
        int64_t ns = 0;

        if (tdrv_duration_parse(t + 1, &ns, &e) == 0)
            return now + ns / NS;
    } else if (t && *t) {
        uint64_t v = 0;

        if (tdrv_parse_u64(t, 0, INT64_MAX, &v, &e) == 0)
            return (int64_t)v;
    }
    return now;
}

static void rfc3339(int64_t s, char *buf, size_t n)
{
    time_t t = (time_t)s;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "2026-11-24T13:33:59.123456789Z" (or +hh:mm) -> Unix seconds; 0 when unparsable. */
static int64_t parse_time(const cJSON *v)
{
    struct tm tm = {0};
    const char *p;
    int64_t t;

    if (!cJSON_IsString(v))
        return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
    p = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return 0;
    t = (int64_t)timegm(&tm);
    while (*p == '.' || isdigit((unsigned char)*p))
        p++;
    if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
        int h = 0;
        int m = 0;

        if (sscanf(p + 1, "%2d:%2d", &h, &m) >= 1)
            t -= (*p == '+' ? 1 : -1) * (int64_t)(h * 3600 + m * 60);
    }
    return t;
}

static int valid_id(const char *s)
{
    if (!s || !*s || *s == '.' || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return 1;
}

/*
 * Test hook (documented in docs/tdrv-gc.md, never for production): TDRV_GC_CRASH_AT names
 * points of a reap, comma-separated; reaching one, tdrv-gc kills itself with SIGKILL.
 */
static void crash_point(const char *name)
{
    const char *c = getenv("TDRV_GC_CRASH_AT");
    size_t n = strlen(name);

    for (; c && *c; c += strcspn(c, ",") + (c[strcspn(c, ",")] ? 1 : 0)) {
        if (strcspn(c, ",") == n && !strncmp(c, name, n)) {
            tdrv_warn("test hook: killed at '%s'", name);
            raise(SIGKILL);
        }
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static char *url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *r = tdrv_xmalloc(strlen(s) * 3 + 1);
    char *w = r;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) {
            *w++ = (char)*p;
        } else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    *w = '\0';
    return r;
}

static const char *jstr(const cJSON *o, const char *path)
{
    const cJSON *v = tdrv_json_at(o, path);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- the pass ------------------------------------------------------------------------- */

struct gtask {
    char *alloc;
    char *task;
    char *dir;   /* <root>/allocs/<alloc>/<task> (may not exist) */
    char *lease; /* its lease, or a gc lock when the directory is gone */
    cJSON *state;
    cJSON *ctr; /* the Engine's list entry, or NULL */
    int docker;
    int lease_fd;
    int live; /* lease held, or too young: the allocation is still in use */
    int reaped;
};

struct gc {
    const struct tdrv_gc_opts *o;
    const struct tdrv_config *cfg;
    int dry;
    int64_t now;
    int64_t grace;
    int containers;
    int images;
    cJSON *rep;
    cJSON *found;
    cJSON *removed;
    cJSON *kept;
    cJSON *errors;
    struct tdrv_docker d;
    int engine; /* 1 reachable, 0 not asked, -1 unreachable */
    struct tdrv_err fatal;
    struct tdrv_store store;
    int have_store;
    struct gtask *t;
    size_t nt;
    size_t at;
};

static cJSON *item(cJSON *arr, const char *kind, const char *backend, const struct gtask *t,
                   const char *id)
{
    cJSON *it = tdrv_json_xobj();

    tdrv_json_add_str(it, "kind", kind);
    if (backend)
        tdrv_json_add_str(it, "backend", backend);
    if (t) {
        tdrv_json_add_str(it, "alloc_id", t->alloc);
        tdrv_json_add_str(it, "task", t->task);
    }
    if (id)
        tdrv_json_add_str(it, "id", id);
    tdrv_json_append(arr, it);
    return it;
}

static void kept(struct gc *g, const char *kind, const char *backend, const struct gtask *t,
                 const char *id, const char *reason)
{
    tdrv_json_add_str(item(g->kept, kind, backend, t, id), "reason", reason);
}

static void failed(struct gc *g, const char *kind, const char *backend, const struct gtask *t,
                   const char *id, const struct tdrv_err *e)
{
    cJSON *it = item(g->errors, kind, backend, t, id);

    tdrv_json_add_str(it, "code", e->word[0] ? e->word : tdrv_exit_word(e->code));
    tdrv_json_add_str(it, "message", e->msg);
    tdrv_warn("%s", e->msg);
}

static const char *backend_of(const struct gtask *t)
{
    return t->docker ? "docker" : "oci";
}

static int alloc_live(const struct gc *g, const char *alloc)
{
    const cJSON *a;

    if (g->o->alloc_id)
        return 0; /* --alloc: the scheduler says this allocation is over */
    if (!g->o->live)
        return -1; /* nobody said */
    cJSON_ArrayForEach(a, g->o->live)
    {
        if (cJSON_IsString(a) && !strcmp(a->valuestring, alloc))
            return 1;
    }
    return 0;
}

static struct gtask *task_get(struct gc *g, const char *alloc, const char *task)
{
    struct gtask *t;

    for (size_t i = 0; i < g->nt; i++)
        if (!strcmp(g->t[i].alloc, alloc) && !strcmp(g->t[i].task, task))
            return &g->t[i];
    if (g->nt == g->at) {
        g->at = g->at ? g->at * 2 : 64;
        g->t = tdrv_xrealloc(g->t, g->at * sizeof(*g->t));
    }
    t = &g->t[g->nt++];
    memset(t, 0, sizeof(*t));
    t->alloc = tdrv_xstrdup(alloc);
    t->task = tdrv_xstrdup(task);
    t->dir = tdrv_xasprintf("%s/allocs/%s/%s", g->cfg->root, alloc, task);
    t->lease = tdrv_xasprintf("%s/lease", t->dir);
    t->lease_fd = -1;
    return t;
}

static void tasks_release(struct gc *g)
{
    for (size_t i = 0; i < g->nt; i++) {
        struct gtask *t = &g->t[i];

        free(t->alloc);
        free(t->task);
        free(t->dir);
        free(t->lease);
        cJSON_Delete(t->state);
        cJSON_Delete(t->ctr);
        if (t->lease_fd >= 0)
            close(t->lease_fd);
    }
    free(g->t);
    g->t = NULL;
    g->nt = g->at = 0;
}

static int cmp_task(const void *a, const void *b)
{
    const struct gtask *x = a;
    const struct gtask *y = b;
    int c = strcmp(x->alloc, y->alloc);

    return c ? c : strcmp(x->task, y->task);
}

/* ---- finding tasks: the allocation directories ---- */

static int real_dir(const char *p)
{
    struct stat st;

    return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void scan_allocs(struct gc *g)
{
    cleanup_free char *adir = tdrv_xasprintf("%s/allocs", g->cfg->root);
    DIR *d = opendir(adir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        cleanup_free char *ap = NULL;
        DIR *ad;
        struct dirent *te;

        if (!strncmp(de->d_name, ".gc-", 4)) {
            /* an allocation directory a killed tdrv-gc was removing */
            cleanup_free char *p = tdrv_xasprintf("%s/%s", adir, de->d_name);
            struct tdrv_err e = {0};

            item(g->found, "alloc_dir", NULL, NULL, de->d_name);
            if (g->dry) {
                kept(g, "alloc_dir", NULL, NULL, de->d_name, "dry_run");
            } else if (tdrv_rm_rf_at(AT_FDCWD, p, &e) < 0) {
                failed(g, "alloc_dir", NULL, NULL, de->d_name, &e);
            } else {
                item(g->removed, "alloc_dir", NULL, NULL, de->d_name);
            }
            continue;
        }
        if (!valid_id(de->d_name))
            continue;
        if (g->o->alloc_id && strcmp(g->o->alloc_id, de->d_name))
            continue;
        ap = tdrv_xasprintf("%s/%s", adir, de->d_name);
        if (!real_dir(ap))
            continue; /* a symlink or a file: not tdrv's, never followed */
        ad = opendir(ap);
        if (!ad)
            continue;
        while ((te = readdir(ad))) {
            cleanup_free char *sp = NULL;
            cleanup_free char *lp = NULL;
            struct stat st;
            struct gtask *t;
            int has_state;

            if (!valid_id(te->d_name) || !strcmp(te->d_name, "alloc"))
                continue;
            sp = tdrv_xasprintf("%s/%s", ap, te->d_name);
            if (!real_dir(sp))
                continue;
            free(sp);
            sp = tdrv_xasprintf("%s/%s/state.json", ap, te->d_name);
            lp = tdrv_xasprintf("%s/%s/lease", ap, te->d_name);
            has_state = stat(sp, &st) == 0;
            if (!has_state && stat(lp, &st) < 0)
                continue; /* not a task directory */
            t = task_get(g, de->d_name, te->d_name);
            if (has_state) {
                struct tdrv_err e = {0};

                if (tdrv_doc_read_file(sp, STATE_MAX, &t->state, &e) < 0) {
                    tdrv_warn("%s", e.msg);
                    t->state = NULL;
                }
            }
            if (!cJSON_IsObject(t->state)) {
                cJSON_Delete(t->state);
                t->state = NULL;
            }
            if (t->state && jstr(t->state, "handle.driver") &&
                !strcmp(jstr(t->state, "handle.driver"), "docker"))
                t->docker = 1;
        }
        closedir(ad);
    }
    closedir(d);
}

/* ---- the Engine ---- */

static int engine_open(struct gc *g, struct tdrv_err *err)
{
    if (g->engine)
        return g->engine > 0 ? 0 : -1;
    tdrv_docker_init(&g->d);
    if (tdrv_docker_setup(&g->d, g->cfg->docker_endpoint, g->cfg->docker_tls_ca,
                          g->cfg->docker_tls_cert, g->cfg->docker_tls_key, err) < 0 ||
        (g->d.timeout_ms = ENGINE_TIMEOUT_MS, g->d.connect_timeout_ms = 5000,
         tdrv_docker_negotiate(&g->d, NULL, err) < 0)) {
        g->engine = -1;
        if (err->code != TDRV_E_CONFIG) {
            err->code = TDRV_E_UNAVAILABLE;
            snprintf(err->word, sizeof(err->word), "%s", "engine_unavailable");
        }
        return -1;
    }
    g->engine = 1;
    return 0;
}

/* method path; *status the HTTP status; statuses in ok (0-terminated) are not errors. */
static int engine(struct gc *g, const char *method, const char *path, long timeout_ms,
                  const long *ok, long *status, cJSON **out, struct tdrv_err *err)
{
    cleanup_http_resp struct tdrv_http_resp resp;
    struct tdrv_docker_call c = {.method = method, .path = path, .timeout_ms = timeout_ms};

    tdrv_http_resp_init(&resp);
    if (tdrv_docker_call(&g->d, &c, &resp, err) < 0)
        return -1;
    if (status)
        *status = resp.status;
    if (resp.status < 200 || resp.status > 299) {
        for (; ok && *ok; ok++)
            if (*ok == resp.status)
                return 0;
        {
            cleanup_free char *what = tdrv_xasprintf("%s '%s'", method, path);

            return tdrv_docker_status_err(&resp, what, err);
        }
    }
    if (out && resp.body.len && tdrv_json_parse(resp.body.data, resp.body.len, out, err) < 0)
        return -1;
    return 0;
}

/* A label's value (label keys have dots: no tdrv_json_at path here). */
static const char *label(const cJSON *labels, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void scan_engine(struct gc *g)
{
    cleanup_free char *f = url_escape("{\"label\":[\"io.tdrv.alloc_id\"]}");
    cleanup_free char *path = tdrv_xasprintf("/containers/json?all=1&filters=%s", f);
    cleanup_json cJSON *list = NULL;
    struct tdrv_err e = {0};
    const cJSON *c;

    if (engine_open(g, &e) < 0 || engine(g, "GET", path, 0, NULL, NULL, &list, &e) < 0) {
        if (g->o->backends == TDRV_GC_DOCKER)
            g->fatal = e; /* asked for the Engine alone: it being away is the answer (69) */
        else
            kept(g, "engine", "docker", NULL, g->d.host ? g->d.host : "", "engine_unavailable");
        return;
    }
    cJSON_ArrayForEach(c, list)
    {
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels");
        const char *alloc = label(labels, "io.tdrv.alloc_id");
        const char *task = label(labels, "io.tdrv.task");
        const char *lease = label(labels, "io.tdrv.lease");
        const char *id = jstr(c, "Id");
        struct gtask *t;

        /* tdrv's labels, all of them, or it is not ours */
        if (!alloc || !task || !lease || !id || !valid_id(alloc) || !valid_id(task))
            continue;
        if (g->o->alloc_id && strcmp(g->o->alloc_id, alloc))
            continue;
        {
            cleanup_free char *want =
                tdrv_xasprintf("%s/allocs/%s/%s/lease", g->cfg->root, alloc, task);

            if (strcmp(want, lease)) {
                cJSON *it = item(g->kept, "container", "docker", NULL, id);

                tdrv_json_add_str(it, "alloc_id", alloc);
                tdrv_json_add_str(it, "task", task);
                tdrv_json_add_str(it, "reason", "other_root");
                continue;
            }
        }
        t = task_get(g, alloc, task);
        t->docker = 1;
        cJSON_Delete(t->ctr);
        t->ctr = tdrv_json_xdup(c);
    }
}

/* ---- the lease ---- */

/* Take the task's lease without waiting: 1 taken (t->lease_fd), 0 held by someone, -1 error. */
static int lease_take(struct gc *g, struct gtask *t, struct tdrv_err *err)
{
    struct stat st;
    int fd;

    if (stat(t->dir, &st) < 0) {
        /* the directory is gone (a container whose allocation was removed): a gc lock */
        cleanup_free char *ld = tdrv_xasprintf("%s/gc/locks", g->cfg->root);

        free(t->lease);
        t->lease = tdrv_xasprintf("%s/%s-%s", ld, t->task, t->alloc);
        if (tdrv_mkdir_p(AT_FDCWD, ld, 0755, err) < 0)
            return -1;
    }
    fd = open(t->lease, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", t->lease);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        close(fd);
        if (e == EWOULDBLOCK)
            return 0;
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to lock '%s'", t->lease);
    }
    t->lease_fd = fd;
    return 1;
}

/* Is the lease held by someone (1), free (0)? Without keeping it. */
static int lease_probe(const char *path)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        return 0;
    return errno == EWOULDBLOCK;
}

/* When the task came to be, as late as we can tell (the grace counts from there). */
static int64_t task_time(const struct gtask *t)
{
    int64_t best = 0;
    int64_t v;
    struct stat st;
    const char *keys[] = {"created_at", "started_at", "gc.created_at"};

    for (size_t i = 0; i < TDRV_ARRAY_LEN(keys); i++)
        if ((v = parse_time(tdrv_json_at(t->state, keys[i]))) > best)
            best = v;
    if (t->ctr && (v = parse_time(cJSON_GetObjectItemCaseSensitive(t->ctr, "Created"))) > best)
        best = v;
    if (stat(t->lease, &st) == 0 && (int64_t)st.st_mtim.tv_sec > best)
        best = (int64_t)st.st_mtim.tv_sec;
    return best;
}

/* The supervisor's pid, if that process really has the lease open. */
static pid_t monitor_of(const struct gtask *t)
{
    const cJSON *m = tdrv_json_at(t->state, t->docker ? "handle.monitor_pid" : "monitor_pid");
    pid_t pid = cJSON_IsNumber(m) ? (pid_t)m->valuedouble : 0;
    cleanup_free char *fdd = NULL;
    struct stat ls;
    DIR *d;
    struct dirent *de;
    int found = 0;

    if (pid <= 1 || stat(t->lease, &ls) < 0)
        return 0;
    fdd = tdrv_xasprintf("/proc/%d/fd", (int)pid);
    d = opendir(fdd);
    if (!d)
        return 0;
    while (!found && (de = readdir(d))) {
        cleanup_free char *p = tdrv_xasprintf("%s/%s", fdd, de->d_name);
        struct stat st;

        if (de->d_name[0] != '.' && stat(p, &st) == 0 && st.st_dev == ls.st_dev &&
            st.st_ino == ls.st_ino)
            found = 1;
    }
    closedir(d);
    return found ? pid : 0;
}

/* ---- the OCI runtime ---- */

static const char *runtime_bin(const struct gc *g, const struct gtask *t)
{
    const char *r = jstr(t->state, "runtime");

    return r && valid_id(r) ? r : g->cfg->runtime ? g->cfg->runtime : "runc";
}

/* runtime --root R ARGS; *out (optional) its stdout. Returns its exit status, -1 not run. */
static int runtime_cmd(const struct gc *g, const struct gtask *t, const char *const *args,
                       char **out)
{
    cleanup_free char *root = tdrv_xasprintf("%s/runtime", g->cfg->run_dir);
    const char *argv[16];
    size_t n = 0;
    posix_spawn_file_actions_t fa;
    int p[2] = {-1, -1};
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid;
    int st = 0;
    int rc;
    struct tdrv_buf b;

    {
        struct stat rst;

        if (stat(root, &rst) < 0)
            return -1; /* no runtime state at all (and runc would create its root) */
    }
    argv[n++] = runtime_bin(g, t);
    argv[n++] = "--root";
    argv[n++] = root;
    for (; *args && n < TDRV_ARRAY_LEN(argv) - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    if (null < 0 || (out && pipe2(p, O_CLOEXEC) < 0)) {
        if (null >= 0)
            close(null);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, null, 0);
    posix_spawn_file_actions_adddup2(&fa, out ? p[1] : null, 1);
    posix_spawn_file_actions_adddup2(&fa, null, 2);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(null);
    if (out)
        close(p[1]);
    if (rc) {
        if (out)
            close(p[0]);
        return -1;
    }
    if (out) {
        struct tdrv_err e = {0};

        tdrv_buf_init(&b, 1 << 20);
        tdrv_buf_read_fd(&b, p[0], "runtime output", &e);
        close(p[0]);
        *out = tdrv_buf_steal(&b);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The container's runtime status ("running", "stopped", ...) or NULL when it does not exist. */
static char *runtime_status(const struct gc *g, const struct gtask *t, const char *cid)
{
    cleanup_free char *out = NULL;
    cleanup_json cJSON *doc = NULL;
    struct tdrv_err e = {0};
    const char *s;

    if (runtime_cmd(g, t, (const char *const[]){"state", cid, NULL}, &out) != 0 || !out ||
        tdrv_json_parse(out, strlen(out), &doc, &e) < 0)
        return NULL;
    s = jstr(doc, "status");
    return tdrv_xstrdup(s ? s : "unknown");
}

static int64_t kill_timeout_ms(const struct gtask *t)
{
    const cJSON *v = tdrv_json_at(t->state, "kill_timeout_ns");

    if (cJSON_IsNumber(v))
        return (int64_t)(v->valuedouble / 1e6);
    v = tdrv_json_at(t->state, "handle.kill_timeout_ms");
    if (cJSON_IsNumber(v))
        return (int64_t)v->valuedouble;
    return 5000; /* Nomad's default kill_timeout */
}

static const char *kill_signal(const struct gtask *t)
{
    const char *s = jstr(t->state, t->docker ? "handle.kill_signal" : "kill_signal");

    return s && tdrv_signal_parse(s) > 0 ? s : NULL;
}

/* Stop and delete the runtime's container: kill_signal, kill_timeout, SIGKILL, delete. */
static int oci_stop(struct gc *g, struct gtask *t, cJSON *actions, struct tdrv_err *err)
{
    cleanup_free char *cid = tdrv_xasprintf("%s-%s", t->task, t->alloc);
    cleanup_free char *st = runtime_status(g, t, cid);

    if (st && strcmp(st, "stopped")) {
        const char *sig = kill_signal(t);
        int64_t end = kill_timeout_ms(t);

        runtime_cmd(g, t, (const char *const[]){"kill", cid, sig ? sig : "SIGTERM", NULL}, NULL);
        tdrv_json_append(actions, tdrv_json_xstr(sig ? sig : "SIGTERM"));
        for (int64_t w = 0; w < end; w += 100) {
            cleanup_free char *s2 = runtime_status(g, t, cid);

            if (!s2 || !strcmp(s2, "stopped"))
                break;
            sleep_ms(100);
        }
        {
            cleanup_free char *s3 = runtime_status(g, t, cid);

            if (s3 && strcmp(s3, "stopped")) {
                runtime_cmd(g, t, (const char *const[]){"kill", "--all", cid, "SIGKILL", NULL},
                            NULL);
                tdrv_json_append(actions, tdrv_json_xstr("SIGKILL"));
            }
        }
    }
    crash_point("stopped");
    if (st) {
        int rc = runtime_cmd(g, t, (const char *const[]){"delete", "--force", cid, NULL}, NULL);
        cleanup_free char *left = runtime_status(g, t, cid);

        if (left)
            return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "runtime_failed", 0,
                                 "unable to delete container '%s' (%s exited %d)", cid,
                                 runtime_bin(g, t), rc);
        tdrv_json_append(actions, tdrv_json_xstr("runtime_deleted"));
    }
    return 0;
}

/* Unmount the rootfs (unpinning the image) and remove the bundle. */
static int oci_unmount(struct gc *g, struct gtask *t, cJSON *actions, struct tdrv_err *err)
{
    cleanup_free char *bundle =
        tdrv_xasprintf("%s/tasks/%s-%s", g->cfg->run_dir, t->task, t->alloc);
    struct stat st;

    if (lstat(bundle, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (!g->have_store) {
        if (tdrv_store_open(&g->store, g->cfg->root, err) < 0)
            return -1;
        g->have_store = 1;
    }
    if (tdrv_store_rootfs_unmount(&g->store, bundle, err) < 0)
        return -1;
    crash_point("unmounted");
    if (tdrv_rm_rf_at(AT_FDCWD, bundle, err) < 0)
        return -1;
    tdrv_json_append(actions, tdrv_json_xstr("rootfs_unmounted"));
    return 0;
}

/* ---- Engine containers ---- */

static int docker_stop(struct gc *g, struct gtask *t, const char *id, int running, cJSON *actions,
                       struct tdrv_err *err)
{
    static const long ok[] = {304, 404, 409, 0};
    int64_t to = kill_timeout_ms(t);
    const char *sig = kill_signal(t);

    if (engine_open(g, err) < 0)
        return -1;
    if (running) {
        cleanup_free char *p = NULL;

        if (sig) {
            cleanup_free char *w = tdrv_xasprintf("/containers/%s/wait?condition=not-running", id);
            struct tdrv_err e = {0};

            p = tdrv_xasprintf("/containers/%s/kill?signal=%s", id, sig);
            if (engine(g, "POST", p, 0, ok, NULL, NULL, err) < 0)
                return -1;
            tdrv_json_append(actions, tdrv_json_xstr(sig));
            /* the wait's own timeout is kill_timeout: then stop?t=0 kills */
            engine(g, "POST", w, (long)to + 1, ok, NULL, NULL, &e);
            free(p);
            p = tdrv_xasprintf("/containers/%s/stop?t=0", id);
        } else {
            p = tdrv_xasprintf("/containers/%s/stop?t=%lld", id, (long long)((to + 999) / 1000));
        }
        if (engine(g, "POST", p, (long)to + ENGINE_TIMEOUT_MS, ok, NULL, NULL, err) < 0)
            return -1;
        tdrv_json_append(actions, tdrv_json_xstr("stopped"));
    }
    crash_point("stopped");
    {
        cleanup_free char *p = tdrv_xasprintf("/containers/%s?force=1&v=1", id);
        long st = 0;

        if (engine(g, "DELETE", p, 0, ok, &st, NULL, err) < 0)
            return -1;
        if (st == 409)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "engine_busy", 0,
                                 "unable to remove container '%s': removal already in progress",
                                 id);
        tdrv_json_append(actions, tdrv_json_xstr("container_removed"));
    }
    return 0;
}

/* ---- network ---- */

/*
 * Network teardown (CNI DEL, the namespace, port mappings) from the task's persisted
 * network state (<task dir>/network.json, common/net.h), which works after a crash from
 * that file alone. A group network goes with its last member whose lease nobody holds.
 * Idempotent: no state file, nothing to do. On failure the state file stays for a retry.
 */
static int gc_net_teardown(struct gc *g, struct gtask *t, cJSON *actions, struct tdrv_err *err)
{
    cleanup_free char *p = tdrv_xasprintf("%s/%s", t->dir, TDRV_NET_STATE);
    struct stat st;

    (void)g;
    if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    if (tdrv_net_teardown(p, err) < 0)
        return tdrv_err_wrap(err, "task '%s' of allocation '%s'", t->task, t->alloc);
    tdrv_json_append(actions, tdrv_json_xstr("network_torn_down"));
    return 0;
}

/* ---- reaping one task ---- */

static int save_state(struct gtask *t, struct tdrv_err *err)
{
    cleanup_free char *p = tdrv_xasprintf("%s/state.json", t->dir);
    cleanup_free char *text = NULL;
    struct stat st;

    if (!t->state || stat(t->dir, &st) < 0)
        return 0;
    text = cJSON_PrintUnformatted(t->state);
    if (!text)
        tdrv_oom();
    return tdrv_write_file_at(AT_FDCWD, p, text, strlen(text), 0644, err);
}

/* Stop it, remove its container or runtime state, rootfs, network; record what was done. */
static int reap(struct gc *g, struct gtask *t, const char *why, int running, struct tdrv_err *err)
{
    cJSON *actions = tdrv_json_xarr();
    cJSON *rec;
    cJSON *it;
    char now[64];
    const char *prev = jstr(t->state, "state");
    cleanup_free char *prev_copy = prev ? tdrv_xstrdup(prev) : NULL;

    rfc3339(g->now, now, sizeof(now));
    if (t->state) {
        cJSON *gcs = tdrv_json_xobj();

        tdrv_json_add_str(gcs, "reaping", now);
        tdrv_json_add_str(gcs, "reason", why);
        if (prev && !tdrv_json_at(t->state, "gc.previous_state"))
            tdrv_json_add_str(gcs, "previous_state", prev);
        else if (jstr(t->state, "gc.previous_state"))
            tdrv_json_add_str(gcs, "previous_state", jstr(t->state, "gc.previous_state"));
        tdrv_json_set(t->state, "gc", gcs);
        if (save_state(t, err) < 0)
            goto fail;
    }
    tdrv_debug("reaping task %s of allocation %s (%s, running %d)", t->task, t->alloc, why,
               running);
    crash_point("begin");
    if (t->docker) {
        const char *id = t->ctr ? jstr(t->ctr, "Id") : jstr(t->state, "handle.container_id");

        if (id && (t->ctr || g->engine >= 0) && docker_stop(g, t, id, running, actions, err) < 0)
            goto fail;
    } else {
        if (oci_stop(g, t, actions, err) < 0 || oci_unmount(g, t, actions, err) < 0)
            goto fail;
    }
    if (gc_net_teardown(g, t, actions, err) < 0)
        goto fail;
    crash_point("network");
    if (t->state) {
        rec = cJSON_GetObjectItemCaseSensitive(t->state, "gc");
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "reaping");
        tdrv_json_set(rec, "reaped_at", tdrv_json_xstr(now));
        tdrv_json_set(rec, "actions", tdrv_json_xdup(actions));
        if (prev_copy && (!strcmp(prev_copy, "running") || !strcmp(prev_copy, "starting")))
            tdrv_json_set(t->state, "state", tdrv_json_xstr("reaped"));
        if (!t->docker)
            cJSON_DeleteItemFromObjectCaseSensitive(t->state, "pid");
        if (save_state(t, err) < 0)
            goto fail;
    }
    crash_point("state");
    t->reaped = 1;
    it = item(g->removed, "task", backend_of(t), t, NULL);
    tdrv_json_add_str(it, "reason", why);
    tdrv_json_add(it, "actions", actions);
    return 0;
fail:
    cJSON_Delete(actions);
    return -1;
}

/* A task whose lease is held but whose allocation the scheduler says is gone. */
static int evict(struct gc *g, struct gtask *t, struct tdrv_err *err)
{
    int64_t to = kill_timeout_ms(t) + STOP_MARGIN_MS;
    cJSON *scratch = tdrv_json_xarr();
    int r = 0;

    /* stop the container: the supervisor sees it end, records the result, lets go */
    if (t->docker) {
        const char *id = t->ctr ? jstr(t->ctr, "Id") : jstr(t->state, "handle.container_id");
        cleanup_free char *p = id ? tdrv_xasprintf("/containers/%s/stop?t=%lld", id,
                                                   (long long)(kill_timeout_ms(t) / 1000))
                                  : NULL;
        static const long ok[] = {304, 404, 409, 0};
        struct tdrv_err e = {0};

        if (p && engine_open(g, &e) == 0)
            engine(g, "POST", p, (long)to + ENGINE_TIMEOUT_MS, ok, NULL, NULL, &e);
    } else {
        struct tdrv_err e = {0};

        oci_stop(g, t, scratch, &e);
    }
    cJSON_Delete(scratch);
    for (int64_t w = 0; w < to && (r = lease_take(g, t, err)) == 0; w += 100)
        sleep_ms(100);
    if (r == 0) {
        pid_t m = monitor_of(t);

        if (m > 0) {
            tdrv_warn("supervisor %d of task '%s' (allocation '%s') did not let go: SIGKILL",
                      (int)m, t->task, t->alloc);
            kill(m, SIGKILL);
        }
        for (int w = 0; w < 50 && (r = lease_take(g, t, err)) == 0; w++)
            sleep_ms(100);
    }
    if (r == 0)
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "lease_busy", 0,
                             "task '%s' of allocation '%s': the lease '%s' is still held", t->task,
                             t->alloc, t->lease);
    return r < 0 ? -1 : 0;
}

/* What is left of a finished task: 1 something, 0 nothing. *running: still running. */
static int leftovers(struct gc *g, struct gtask *t, int *running)
{
    *running = 0;
    if (t->docker) {
        const char *s = jstr(t->ctr, "State");

        *running = s && (!strcmp(s, "running") || !strcmp(s, "paused") || !strcmp(s, "restarting"));
        return t->ctr != NULL;
    }
    {
        cleanup_free char *cid = tdrv_xasprintf("%s-%s", t->task, t->alloc);
        cleanup_free char *rs = tdrv_xasprintf("%s/runtime/%s", g->cfg->run_dir, cid);
        cleanup_free char *bundle = tdrv_xasprintf("%s/tasks/%s", g->cfg->run_dir, cid);
        struct stat st;
        int any = 0;

        if (stat(rs, &st) == 0) {
            cleanup_free char *s = runtime_status(g, t, cid);

            *running = s && strcmp(s, "stopped");
            any = 1;
        }
        if (stat(bundle, &st) == 0)
            any = 1;
        return any;
    }
}

static int finished(const struct gtask *t)
{
    const char *s = jstr(t->state, "state");

    if (!t->state)
        return 0;
    if (tdrv_json_at(t->state, "gc.reaped_at"))
        return 1;
    if (t->docker)
        return tdrv_json_at(t->state, "result") != NULL;
    return s && (!strcmp(s, "exited") || !strcmp(s, "failed") || !strcmp(s, "reaped"));
}

static void reload_state(struct gtask *t)
{
    cleanup_free char *sp = tdrv_xasprintf("%s/state.json", t->dir);
    cJSON *ns = NULL;
    struct tdrv_err e = {0};

    if (tdrv_doc_read_file(sp, STATE_MAX, &ns, &e) == 0 && cJSON_IsObject(ns)) {
        cJSON_Delete(t->state);
        t->state = ns;
    } else {
        cJSON_Delete(ns);
    }
}

static void process_task(struct gc *g, struct gtask *t)
{
    struct tdrv_err e = {0};
    int64_t age = g->now - task_time(t);
    int live = alloc_live(g, t->alloc);
    int held = lease_probe(t->lease);
    int running = 0;
    int left = 0;
    int fin;
    const char *why;
    const char *b = backend_of(t);
    cJSON *it;

    if ((t->docker && !(g->o->backends & TDRV_GC_DOCKER)) ||
        (!t->docker && !(g->o->backends & TDRV_GC_OCI)))
        return;
    if (held && live != 0) {
        t->live = 1;
        kept(g, "task", b, t, NULL, "lease_held");
        return;
    }
    if (age < g->grace) {
        char d[TDRV_DURATION_BUFSZ];

        t->live = 1;
        if (!held && finished(t) && !leftovers(g, t, &running))
            return; /* nothing to do anyway */
        it = item(g->kept, "task", b, t, NULL);
        tdrv_json_add_str(it, "reason", "too_young");
        tdrv_duration_format(age * NS, d, sizeof(d));
        tdrv_json_add_str(it, "age", d);
        return;
    }
    if (held) {
        /* the scheduler says the allocation is gone: stop it through its supervisor */
        it = item(g->found, "task", b, t, NULL);
        tdrv_json_add_str(it, "reason", g->o->alloc_id ? "alloc_over" : "not_live");
        tdrv_json_add_bool(it, "lease_held", 1);
        if (g->dry) {
            kept(g, "task", b, t, NULL, "dry_run");
            return;
        }
        if (evict(g, t, &e) < 0) {
            failed(g, "task", b, t, NULL, &e);
            t->live = 1;
            return;
        }
        reload_state(t); /* what the supervisor recorded on its way out */
        left = leftovers(g, t, &running);
        if (reap(g, t, live == 0 ? "not_live" : "alloc_over", running, &e) < 0) {
            failed(g, "task", b, t, NULL, &e);
            t->live = 1;
        }
        return;
    }
    if (!g->dry) {
        /* take the lease first, then look again: another tdrv-gc may just have reaped it */
        switch (lease_take(g, t, &e)) {
        case 0:
            t->live = 1;
            kept(g, "task", b, t, NULL, "lease_held");
            return;
        case -1:
            failed(g, "task", b, t, NULL, &e);
            t->live = 1;
            return;
        }
        crash_point("locked");
        if (t->state && !real_dir(t->dir))
            return; /* another tdrv-gc removed the allocation meanwhile */
        reload_state(t);
    }
    fin = finished(t);
    left = leftovers(g, t, &running);
    if (fin && !left && !jstr(t->state, "gc.reaping"))
        return; /* finished cleanly, or reaped before: only logs and result are left */
    why = !fin || running ? "dangling" : "exited";
    it = item(g->found, "task", b, t, NULL);
    tdrv_json_add_str(it, "reason", why);
    if (jstr(t->state, "state"))
        tdrv_json_add_str(it, "state", jstr(t->state, "state"));
    if (!strcmp(why, "dangling") && !g->cfg->gc_dangling_enabled && live != 0) {
        kept(g, "task", b, t, NULL, "dangling_disabled");
        return;
    }
    if (!strcmp(why, "exited") && !g->containers && !jstr(t->state, "gc.reaping")) {
        kept(g, "task", b, t, NULL, "gc_container_disabled");
        return;
    }
    if (g->dry) {
        kept(g, "task", b, t, NULL, "dry_run");
        return;
    }
    if (reap(g, t, why, running, &e) < 0) {
        failed(g, "task", b, t, NULL, &e);
        t->live = 1;
    }
}

/* ---- per allocation: ports, the directory ---- */

static void process_alloc(struct gc *g, size_t from, size_t to)
{
    const char *alloc = g->t[from].alloc;
    int any_reaped = 0;
    struct tdrv_err e = {0};
    int64_t ended = 0;

    for (size_t i = from; i < to; i++) {
        int64_t v = parse_time(tdrv_json_at(g->t[i].state, "result.finished_at"));

        if (g->t[i].live)
            return; /* still in use: its ports and directory stay */
        any_reaped |= g->t[i].reaped;
        if (v > ended)
            ended = v;
    }
    /* tasks that just exited may be restarted by their scheduler with the same ports:
     * unless the scheduler said the allocation is over, wait for the grace after the end */
    {
        cleanup_json cJSON *leases = NULL;
        cleanup_free char *pd = tdrv_xasprintf("%s/ports", g->cfg->root);
        struct stat st;
        int has = stat(pd, &st) == 0 && tdrv_ports_list(g->cfg, alloc, &leases, &e) == 0 &&
                  cJSON_GetArraySize(tdrv_json_at(leases, "leases")) > 0;

        if ((has || g->o->remove_alloc_dir) && !any_reaped && alloc_live(g, alloc) != 0 &&
            g->now - ended < g->grace) {
            kept(g, "alloc", NULL, NULL, alloc, "recently_exited");
            return;
        }
        if (has) {
            cJSON *it = item(g->found, "ports", NULL, NULL, alloc);

            tdrv_json_add_str(it, "alloc_id", alloc);
            if (g->dry) {
                kept(g, "ports", NULL, NULL, alloc, "dry_run");
            } else {
                cleanup_json cJSON *rel = NULL;

                crash_point("ports");
                if (tdrv_ports_release(g->cfg, alloc, &rel, &e) < 0) {
                    failed(g, "ports", NULL, NULL, alloc, &e);
                } else {
                    it = item(g->removed, "ports", NULL, NULL, alloc);
                    tdrv_json_add_str(it, "alloc_id", alloc);
                    tdrv_json_add(it, "leases", steal_ptr(&rel));
                }
            }
        } else if (e.code) {
            failed(g, "ports", NULL, NULL, alloc, &e);
        }
    }
    /* every task finished or reaped, none younger than the grace: the operator asked */
    if (g->o->remove_alloc_dir) {
        cleanup_free char *dir = tdrv_xasprintf("%s/allocs/%s", g->cfg->root, alloc);
        cleanup_free char *tmp = tdrv_xasprintf("%s/allocs/.gc-%s", g->cfg->root, alloc);
        struct stat st;

        if (stat(dir, &st) < 0)
            return;
        item(g->found, "alloc_dir", NULL, NULL, alloc);
        if (g->dry) {
            kept(g, "alloc_dir", NULL, NULL, alloc, "dry_run");
            return;
        }
        /* renamed first, so a killed tdrv-gc leaves a name the next one finishes */
        if (rename(dir, tmp) < 0) {
            tdrv_err_set(&e, TDRV_E_OS, errno, "unable to rename '%s'", dir);
            failed(g, "alloc_dir", NULL, NULL, alloc, &e);
            return;
        }
        crash_point("alloc_dir");
        if (tdrv_rm_rf_at(AT_FDCWD, tmp, &e) < 0) {
            failed(g, "alloc_dir", NULL, NULL, alloc, &e);
            return;
        }
        item(g->removed, "alloc_dir", NULL, NULL, alloc);
    }
}

/* Port leases of allocations that have no directory (tdrv-ports ran, tdrv-run never did). */
static void stale_ports(struct gc *g)
{
    cleanup_json cJSON *all = NULL;
    cleanup_json cJSON *seen = tdrv_json_xobj();
    cleanup_free char *pd = tdrv_xasprintf("%s/ports", g->cfg->root);
    struct tdrv_err e = {0};
    const cJSON *l;
    struct stat st;

    if (stat(pd, &st) < 0 || tdrv_ports_list(g->cfg, g->o->alloc_id, &all, &e) < 0)
        return;
    cJSON_ArrayForEach(l, tdrv_json_at(all, "leases"))
    {
        const char *a = jstr(l, "alloc_id");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(l, "created");
        int64_t created = cJSON_IsNumber(c) ? (int64_t)c->valuedouble : g->now;
        cleanup_free char *dir = NULL;
        int youngest = 1;

        if (!a || cJSON_GetObjectItemCaseSensitive(seen, a))
            continue;
        tdrv_json_add(seen, a, cJSON_CreateTrue());
        dir = tdrv_xasprintf("%s/allocs/%s", g->cfg->root, a);
        if (stat(dir, &st) == 0)
            continue; /* its tasks decided */
        /* the newest lease of that allocation decides its age */
        {
            const cJSON *m;

            cJSON_ArrayForEach(m, tdrv_json_at(all, "leases"))
            {
                const char *ma = jstr(m, "alloc_id");
                const cJSON *mc = cJSON_GetObjectItemCaseSensitive(m, "created");

                if (ma && !strcmp(ma, a) && cJSON_IsNumber(mc) &&
                    (int64_t)mc->valuedouble > created)
                    created = (int64_t)mc->valuedouble;
            }
        }
        youngest = g->now - created < g->grace;
        if (alloc_live(g, a) == 1) {
            continue;
        } else if (youngest) {
            kept(g, "ports", NULL, NULL, a, "too_young");
            continue;
        }
        tdrv_json_add_str(item(g->found, "ports", NULL, NULL, a), "reason", "no_task");
        if (g->dry) {
            kept(g, "ports", NULL, NULL, a, "dry_run");
        } else {
            cleanup_json cJSON *rel = NULL;

            if (tdrv_ports_release(g->cfg, a, &rel, &e) < 0) {
                failed(g, "ports", NULL, NULL, a, &e);
                tdrv_err_clear(&e);
            } else {
                cJSON *it = item(g->removed, "ports", NULL, NULL, a);

                tdrv_json_add(it, "leases", steal_ptr(&rel));
            }
        }
    }
}

/* ---- images ---- */

static void store_images(struct gc *g)
{
    cleanup_free char *idx = tdrv_xasprintf("%s/images/index.json", g->cfg->root);
    cleanup_json cJSON *list = NULL;
    cleanup_json cJSON *swept = tdrv_json_xarr();
    cleanup_json cJSON *gone = tdrv_json_xarr();
    struct tdrv_err e = {0};
    struct stat st;
    const cJSON *im;
    int busy = 0;

    if (stat(idx, &st) < 0)
        return; /* no store: nothing to do (and nothing created) */
    if (!g->have_store) {
        if (tdrv_store_open(&g->store, g->cfg->root, &e) < 0) {
            failed(g, "store", "oci", NULL, g->cfg->root, &e);
            return;
        }
        g->have_store = 1;
    }
    if (tdrv_store_images(&g->store, &list, &e) < 0) {
        failed(g, "store", "oci", NULL, g->cfg->root, &e);
        return;
    }
    cJSON_ArrayForEach(im, list)
    {
        const char *d = jstr(im, "manifest_digest");
        const cJSON *refs = cJSON_GetObjectItemCaseSensitive(im, "references");
        const char *why = NULL;
        int r;
        cJSON *it;

        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(im, "pins")) > 0) {
            it = item(g->kept, "image", "oci", NULL, d);
            tdrv_json_add(it, "references", tdrv_json_xdup(refs));
            tdrv_json_add_str(it, "reason", "in_use");
            continue;
        }
        r = tdrv_store_image_remove(&g->store, d, g->cfg->gc_image_delay_ns, g->now, 1, &why, &e);
        if (r < 0) {
            failed(g, "image", "oci", NULL, d, &e);
            tdrv_err_clear(&e);
            continue;
        }
        if (r == 0) {
            it = item(g->kept, "image", "oci", NULL, d);
            tdrv_json_add(it, "references", tdrv_json_xdup(refs));
            tdrv_json_add_str(it, "reason", why);
            continue;
        }
        it = item(g->found, "image", "oci", NULL, d);
        tdrv_json_add(it, "references", tdrv_json_xdup(refs));
        if (g->dry) {
            kept(g, "image", "oci", NULL, d, "dry_run");
            tdrv_json_append(gone, tdrv_json_xstr(d));
            continue;
        }
        r = tdrv_store_image_remove(&g->store, d, g->cfg->gc_image_delay_ns, g->now, 0, &why, &e);
        if (r < 0) {
            failed(g, "image", "oci", NULL, d, &e);
            tdrv_err_clear(&e);
        } else if (r == 0) {
            kept(g, "image", "oci", NULL, d, why);
        } else {
            it = item(g->removed, "image", "oci", NULL, d);
            tdrv_json_add(it, "references", tdrv_json_xdup(refs));
        }
    }
    crash_point("sweep");
    if (tdrv_store_sweep(&g->store, g->cfg->gc_image_delay_ns, g->now, g->dry, gone, swept, &busy,
                         &e) < 0) {
        failed(g, "store", "oci", NULL, g->cfg->root, &e);
        return;
    }
    if (busy) {
        kept(g, "store", "oci", NULL, g->cfg->root, "pull_in_progress");
        return;
    }
    {
        cJSON *s;

        cJSON_ArrayForEach(s, swept)
        {
            tdrv_json_add_str(s, "backend", "oci");
            tdrv_json_append(g->found, tdrv_json_xdup(s));
            if (g->dry)
                kept(g, jstr(s, "kind"), "oci", NULL, jstr(s, "id"), "dry_run");
            else
                tdrv_json_append(g->removed, tdrv_json_xdup(s));
        }
    }
}

static char *engine_dir(const struct tdrv_config *cfg)
{
    return tdrv_xasprintf("%s/gc/engine-images", cfg->root);
}

int tdrv_gc_engine_image_hold(const struct tdrv_config *cfg, int *fd, struct tdrv_err *err)
{
    cleanup_free char *d = tdrv_xasprintf("%s/gc", cfg->root);
    cleanup_free char *p = tdrv_xasprintf("%s/engine-images.lock", d);
    int f;

    if (tdrv_mkdir_p(AT_FDCWD, d, 0755, err) < 0)
        return -1;
    f = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", p);
    while (flock(f, LOCK_SH) < 0) {
        if (errno != EINTR) {
            int e = errno;

            close(f);
            return tdrv_err_set(err, TDRV_E_OS, e, "unable to lock '%s'", p);
        }
    }
    *fd = f;
    return 0;
}

int tdrv_gc_engine_image_record(const struct tdrv_config *cfg, const char *id, const char *ref,
                                struct tdrv_err *err)
{
    cleanup_free char *d = engine_dir(cfg);
    cleanup_free char *name = NULL;
    cleanup_json cJSON *rec = tdrv_json_xobj();
    cleanup_free char *text = NULL;
    char now[64];
    const char *hex = strchr(id, ':') ? strchr(id, ':') + 1 : id;

    if (!valid_id(hex))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0, "invalid image id '%s'",
                             id);
    if (tdrv_mkdir_p(AT_FDCWD, d, 0755, err) < 0)
        return -1;
    name = tdrv_xasprintf("%s/%s.json", d, hex);
    rfc3339(tdrv_gc_now(), now, sizeof(now));
    tdrv_json_add_str(rec, "id", id);
    tdrv_json_add_str(rec, "reference", ref);
    tdrv_json_add_str(rec, "pulled_at", now);
    text = cJSON_PrintUnformatted(rec);
    if (!text)
        tdrv_oom();
    return tdrv_write_file_at(AT_FDCWD, name, text, strlen(text), 0644, err);
}

static void engine_images(struct gc *g)
{
    cleanup_free char *dir = engine_dir(g->cfg);
    cleanup_free char *lp = tdrv_xasprintf("%s/gc/engine-images.lock", g->cfg->root);
    cleanup_close int lock = -1;
    struct tdrv_err e = {0};
    DIR *d;
    struct dirent *de;

    d = opendir(dir);
    if (!d)
        return; /* tdrv never pulled into the Engine */
    if (engine_open(g, &e) < 0) {
        closedir(d);
        return;
    }
    lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
        kept(g, "image", "docker", NULL, NULL, "busy");
        closedir(d);
        return;
    }
    while ((de = readdir(d))) {
        cleanup_free char *p = NULL;
        cleanup_json cJSON *rec = NULL;
        cleanup_json cJSON *users = NULL;
        cleanup_free char *path = NULL;
        cleanup_free char *f = NULL;
        const char *id;
        long st = 0;
        static const long ok[] = {404, 409, 0};
        size_t n = strlen(de->d_name);

        if (n < 6 || strcmp(de->d_name + n - 5, ".json") || de->d_name[0] == '.')
            continue;
        p = tdrv_xasprintf("%s/%s", dir, de->d_name);
        if (tdrv_doc_read_file(p, 1 << 16, &rec, &e) < 0 || !(id = jstr(rec, "id"))) {
            tdrv_err_clear(&e);
            continue;
        }
        path = tdrv_xasprintf("/images/%s/json", id);
        if (engine(g, "GET", path, 0, ok, &st, NULL, &e) < 0) {
            failed(g, "image", "docker", NULL, id, &e);
            tdrv_err_clear(&e);
            continue;
        }
        if (st == 404) {
            if (!g->dry)
                unlink(p); /* gone already: forget it */
            continue;
        }
        {
            cleanup_free char *flt = tdrv_xasprintf("{\"ancestor\":[\"%s\"]}", id);

            f = url_escape(flt);
        }
        free(path);
        path = tdrv_xasprintf("/containers/json?all=1&filters=%s", f);
        if (engine(g, "GET", path, 0, NULL, NULL, &users, &e) < 0) {
            failed(g, "image", "docker", NULL, id, &e);
            tdrv_err_clear(&e);
            continue;
        }
        if (cJSON_GetArraySize(users) > 0) {
            kept(g, "image", "docker", NULL, id, "in_use");
            if (!g->dry && cJSON_GetObjectItemCaseSensitive(rec, "unused_since")) {
                cleanup_free char *text = NULL;

                cJSON_DeleteItemFromObjectCaseSensitive(rec, "unused_since");
                text = cJSON_PrintUnformatted(rec);
                if (text)
                    tdrv_write_file_at(AT_FDCWD, p, text, strlen(text), 0644, &e);
                tdrv_err_clear(&e);
            }
            continue;
        }
        {
            int64_t since = parse_time(cJSON_GetObjectItemCaseSensitive(rec, "unused_since"));

            if (!since) {
                char now[64];
                cleanup_free char *text = NULL;

                kept(g, "image", "docker", NULL, id, "recently_used");
                if (g->dry)
                    continue;
                rfc3339(g->now, now, sizeof(now));
                tdrv_json_set(rec, "unused_since", tdrv_json_xstr(now));
                text = cJSON_PrintUnformatted(rec);
                if (text)
                    tdrv_write_file_at(AT_FDCWD, p, text, strlen(text), 0644, &e);
                tdrv_err_clear(&e);
                continue;
            }
            if (g->now - since < g->cfg->gc_image_delay_ns / NS) {
                kept(g, "image", "docker", NULL, id, "recently_used");
                continue;
            }
        }
        tdrv_json_add_str(item(g->found, "image", "docker", NULL, id), "reference",
                          jstr(rec, "reference") ? jstr(rec, "reference") : "");
        if (g->dry) {
            kept(g, "image", "docker", NULL, id, "dry_run");
            continue;
        }
        free(path);
        path = tdrv_xasprintf("/images/%s", id); /* no force: the Engine refuses if used */
        if (engine(g, "DELETE", path, 0, ok, &st, NULL, &e) < 0) {
            failed(g, "image", "docker", NULL, id, &e);
            tdrv_err_clear(&e);
            continue;
        }
        if (st == 409) {
            /* used after all, tagged elsewhere too, or a parent of other images */
            kept(g, "image", "docker", NULL, id, "engine_refused");
            continue;
        }
        unlink(p);
        tdrv_json_add_str(item(g->removed, "image", "docker", NULL, id), "reference",
                          jstr(rec, "reference") ? jstr(rec, "reference") : "");
    }
    closedir(d);
}

/* ---- one pass ---- */

int tdrv_gc_backend_parse(const char *s, unsigned *backends, struct tdrv_err *err)
{
    if (!strcmp(s, "oci"))
        *backends = TDRV_GC_OCI;
    else if (!strcmp(s, "docker"))
        *backends = TDRV_GC_DOCKER;
    else if (!strcmp(s, "all"))
        *backends = TDRV_GC_ALL;
    else
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--backend: expected oci, docker or all, got '%s'", s);
    return 0;
}

int tdrv_gc_opts_check(struct tdrv_gc_opts *o, int live, int watch, const char *period,
                       struct tdrv_err *err)
{
    if (o->alloc_id && !o->alloc_id[0])
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--alloc needs an allocation id");
    if (o->alloc_id && live)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--alloc and --live cannot be used together");
    if (watch && (live || o->alloc_id))
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--watch cannot be used with --live or --alloc");
    if (period && (tdrv_duration_parse(period, &o->watch_ns, err) < 0 || o->watch_ns < NS)) {
        tdrv_err_clear(err);
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--watch: expected a period of at least 1s, got '%s'", period);
    }
    return 0;
}

int tdrv_gc_live_parse(const cJSON *doc, const cJSON **live, struct tdrv_err *err)
{
    const cJSON *a = doc;
    const cJSON *v;

    if (cJSON_IsObject(doc) && tdrv_json_arr(doc, "live", TDRV_REQUIRED, &a, err) < 0)
        return -1;
    if (!cJSON_IsArray(a))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_input", 0,
                             "request: expected an array of allocation ids");
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsString(v) || !valid_id(v->valuestring))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_input", 0,
                                 "request: invalid allocation id in the live list");
    }
    *live = a;
    return 0;
}

int tdrv_gc_run(const struct tdrv_gc_opts *o, const struct tdrv_config *cfg, cJSON **report,
                struct tdrv_err *err)
{
    struct gc g = {0};
    struct tdrv_gc_opts opts = *o;
    cJSON *counts;
    char now[64];
    int nerr;

    if (!opts.backends)
        opts.backends = TDRV_GC_ALL;
    if (opts.alloc_id && !valid_id(opts.alloc_id))
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "invalid allocation id '%s'",
                             opts.alloc_id);
    g.o = &opts;
    g.cfg = cfg;
    g.dry = opts.dry_run || cfg->gc_dangling_dry_run;
    g.now = tdrv_gc_now();
    g.grace = cfg->gc_dangling_creation_grace_ns / NS;
    if (g.grace < 60)
        g.grace = 60;
    g.containers = opts.containers >= 0 ? opts.containers : cfg->gc_container;
    g.images = opts.images >= 0 ? opts.images : cfg->gc_image;
    g.store.root_fd = -1;
    g.store.hold_fd = -1;
    g.rep = tdrv_json_xobj();
    rfc3339(g.now, now, sizeof(now));
    tdrv_json_add_bool(g.rep, "dry_run", g.dry);
    tdrv_json_add_str(g.rep, "time", now);
    g.found = tdrv_json_xarr();
    g.removed = tdrv_json_xarr();
    g.kept = tdrv_json_xarr();
    g.errors = tdrv_json_xarr();
    tdrv_json_add(g.rep, "found", g.found);
    tdrv_json_add(g.rep, "removed", g.removed);
    tdrv_json_add(g.rep, "kept", g.kept);
    tdrv_json_add(g.rep, "errors", g.errors);

    scan_allocs(&g);
    if (opts.backends & TDRV_GC_DOCKER) {
        int need = (opts.backends == TDRV_GC_DOCKER);

        for (size_t i = 0; !need && i < g.nt; i++)
            need = g.t[i].docker;
        /* --backend all: ask the Engine only when one is configured or tdrv used it */
        if (need || cfg->docker_endpoint || getenv("DOCKER_HOST"))
            scan_engine(&g);
    }
    if (g.fatal.code) {
        tasks_release(&g);
        if (g.engine)
            tdrv_docker_release(&g.d);
        *report = g.rep;
        *err = g.fatal;
        return -1;
    }
    if (g.nt)
        qsort(g.t, g.nt, sizeof(*g.t), cmp_task);
    for (size_t i = 0; i < g.nt; i++)
        process_task(&g, &g.t[i]);
    for (size_t i = 0; i < g.nt;) {
        size_t j = i + 1;

        while (j < g.nt && !strcmp(g.t[j].alloc, g.t[i].alloc))
            j++;
        process_alloc(&g, i, j);
        i = j;
    }
    stale_ports(&g);
    if (g.images && !opts.alloc_id) {
        if (opts.backends & TDRV_GC_OCI)
            store_images(&g);
        if ((opts.backends & TDRV_GC_DOCKER) && g.engine >= 0)
            engine_images(&g);
    }
    counts = tdrv_json_xobj();
    tdrv_json_add_num(counts, "found", cJSON_GetArraySize(g.found));
    tdrv_json_add_num(counts, "removed", cJSON_GetArraySize(g.removed));
    tdrv_json_add_num(counts, "kept", cJSON_GetArraySize(g.kept));
    nerr = cJSON_GetArraySize(g.errors);
    tdrv_json_add_num(counts, "errors", nerr);
    tdrv_json_add(g.rep, "counts", counts);
    tasks_release(&g);
    if (g.have_store)
        tdrv_store_release(&g.store);
    if (g.engine)
        tdrv_docker_release(&g.d);
    *report = g.rep;
    if (nerr) {
        const cJSON *first = cJSON_GetArrayItem(g.errors, 0);

        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "incomplete", 0,
                             "%d item(s) could not be reaped, first: %s", nerr,
                             jstr(first, "message") ? jstr(first, "message") : "?");
    }
    return 0;
}

/* ---- --watch ---- */

int tdrv_gc_watch(const struct tdrv_gc_opts *o, const struct tdrv_config *cfg, struct tdrv_err *err)
{
    sigset_t set;
    sigset_t old;
    int rc = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, &old);
    for (;;) {
        cJSON *rep = NULL;
        struct tdrv_err e = {0};
        struct timespec ts = {.tv_sec = o->watch_ns / NS, .tv_nsec = o->watch_ns % NS};
        int sig;

        if (tdrv_gc_run(o, cfg, &rep, &e) < 0) {
            tdrv_warn("%s", e.msg);
            if (e.code != TDRV_E_TEMPFAIL && !rep) {
                *err = e;
                rc = -1;
                break;
            }
        }
        if (rep && tdrv_json_emit(stdout, rep, err) < 0) {
            cJSON_Delete(rep);
            rc = -1;
            break;
        }
        cJSON_Delete(rep);
        do {
            sig = sigtimedwait(&set, NULL, &ts);
        } while (sig < 0 && errno == EINTR);
        if (sig > 0)
            break;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
