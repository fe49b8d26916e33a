#include "docker_run.h"

#include "gc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "docker.h"
#include "docker_spec.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "ref.h"

#define MS_PER_SEC 1000L
#define NS_PER_MS 1000000LL
#define ENGINE_TIMEOUT_MS (5L * 60L * MS_PER_SEC) /* the driver's dockerTimeout */
#define RETRIES 5
#define LOG_MAX_SIZE (2L * 1024L * 1024L)
#define LOG_MAX_FILES 2

/* ---- small helpers ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int mkdir_p(const char *path, mode_t mode, struct tdrv_err *err)
{
    cleanup_free char *p = tdrv_xstrdup(path);

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to create '%s'", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to create '%s'", p);
    return 0;
}

/* Write a document atomically (temporary name, then rename). */
static int write_state(const char *path, const cJSON *doc, struct tdrv_err *err)
{
    cleanup_free char *tmp = tdrv_xasprintf("%s.tmp.%ld", path, (long)getpid());
    char *s = cJSON_PrintUnformatted(doc);
    FILE *f;
    int bad;

    if (!s)
        tdrv_oom();
    f = fopen(tmp, "we");
    if (!f) {
        cJSON_free(s);
        return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to create '%s'", tmp);
    }
    bad = fputs(s, f) < 0 || fputc('\n', f) < 0;
    bad |= fclose(f) != 0;
    cJSON_free(s);
    if (bad || rename(tmp, path) < 0) {
        unlink(tmp);
        return tdrv_err_set(err, TDRV_E_IO, errno, "unable to write '%s'", path);
    }
    return 0;
}

static int64_t node_mhz(void)
{
    cleanup_fclose FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];
    double total = 0;

    while (f && fgets(line, sizeof(line), f)) {
        double mhz;

        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') + 1, "%lf", &mhz) == 1)
            total += mhz;
    }
    return (int64_t)total;
}

/* ---- the task's paths ---- */

struct paths {
    char *alloc_dir;
    char *task_dir;
    char *lease;
    char *state;
    char *logs;
    char *name; /* container name */
    const char *alloc_id;
    const char *task;
};

static void paths_release(struct paths *p)
{
    free(p->alloc_dir);
    free(p->task_dir);
    free(p->lease);
    free(p->state);
    free(p->logs);
    free(p->name);
    memset(p, 0, sizeof(*p));
}
#define cleanup_paths __attribute__((cleanup(paths_release)))

static int paths_get(const cJSON *doc, const struct tdrv_config *cfg, struct paths *p,
                     struct tdrv_err *err)
{
    const char *root = cfg->root ? cfg->root : "/var/lib/tdrv";

    if (tdrv_json_str(doc, "alloc_id", TDRV_REQUIRED, &p->alloc_id, err) < 0 ||
        tdrv_json_str(doc, "task", TDRV_REQUIRED, &p->task, err) < 0)
        return -1;
    if (!*p->alloc_id || strchr(p->alloc_id, '/') || p->alloc_id[0] == '.')
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.alloc_id: invalid allocation id '%s'", p->alloc_id);
    if (!*p->task || strchr(p->task, '/') || p->task[0] == '.')
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.task: invalid task name '%s'", p->task);
    p->alloc_dir = tdrv_xasprintf("%s/allocs/%s", root, p->alloc_id);
    p->task_dir = tdrv_xasprintf("%s/%s", p->alloc_dir, p->task);
    p->lease = tdrv_xasprintf("%s/lease", p->task_dir);
    p->state = tdrv_xasprintf("%s/state.json", p->task_dir);
    p->logs = tdrv_xasprintf("%s/logs", p->task_dir);
    p->name = tdrv_xasprintf("%s-%s", p->task, p->alloc_id);
    return 0;
}

/* ---- the Engine ---- */

static int engine_open(const struct tdrv_config *cfg, struct tdrv_docker *d, struct tdrv_err *err)
{
    if (tdrv_docker_setup(d, cfg->docker_endpoint, cfg->docker_tls_ca, cfg->docker_tls_cert,
                          cfg->docker_tls_key, err) < 0)
        return -1;
    d->timeout_ms = ENGINE_TIMEOUT_MS;
    if (tdrv_docker_negotiate(d, NULL, err) < 0) {
        if (err->code != TDRV_E_CONFIG) {
            err->code = TDRV_E_UNAVAILABLE;
            snprintf(err->word, sizeof(err->word), "%s", "engine_unavailable");
        }
        return -1;
    }
    return 0;
}

/* A request whose answer is JSON (or empty); a non-2xx status is an error unless listed in ok. */
static int engine_json(const struct tdrv_docker *d, const char *method, const char *path,
                       const char *body, long timeout_ms, const long *ok, long *status, cJSON **out,
                       struct tdrv_err *err)
{
    cleanup_http_resp struct tdrv_http_resp resp;
    struct tdrv_docker_call c = {
        .method = method, .path = path, .json_body = body, .timeout_ms = timeout_ms};

    tdrv_http_resp_init(&resp);
    if (tdrv_docker_call(d, &c, &resp, err) < 0)
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
    if (out && resp.body.len && tdrv_json_parse(resp.body.data, resp.body.len, out, err) < 0) {
        err->code = TDRV_E_PROTOCOL;
        return tdrv_err_wrap(err, "docker engine answer to %s %s", method, path);
    }
    return 0;
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static char *url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *r = tdrv_xmalloc(strlen(s) * 3 + 1);
    char *w = r;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
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

/* ---- image: inspect, load, pull ---- */

struct pull_sink {
    struct tdrv_buf line;
    char error[512];
};

static int pull_sink_cb(const char *p, size_t n, void *arg)
{
    struct pull_sink *ps = arg;
    struct tdrv_err e = {0};

    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (tdrv_buf_add(&ps->line, p + i, 1, &e) < 0)
                ps->line.len = 0; /* an absurdly long line: drop it */
            continue;
        }
        if (ps->line.len) {
            cJSON *msg = cJSON_ParseWithLength(ps->line.data, ps->line.len);
            const cJSON *er = cJSON_GetObjectItemCaseSensitive(msg, "error");

            if (cJSON_IsString(er) && !ps->error[0])
                snprintf(ps->error, sizeof(ps->error), "%s", er->valuestring);
            else if (msg)
                tdrv_debug("pull: %.*s", (int)ps->line.len, ps->line.data);
            cJSON_Delete(msg);
        }
        ps->line.len = 0;
    }
    return 0;
}

/* The document written back (stdout, state.json) carries "<redacted>" for the password
 * (DESIGN §6), as tdrv-pull writes it. */
static void redact_auth(cJSON *doc)
{
    cJSON *pw =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "config"), "auth");

    pw = cJSON_GetObjectItemCaseSensitive(pw, "password");
    if (cJSON_IsString(pw) && pw->valuestring[0] && strcmp(pw->valuestring, "<redacted>")) {
        explicit_bzero(pw->valuestring, strlen(pw->valuestring));
        cJSON_SetValuestring(pw, "<redacted>");
    }
}

static char *registry_auth(const struct tdrv_docker_spec *spec)
{
    cleanup_json cJSON *a = tdrv_json_xobj();
    const cJSON *v;
    char *json;
    char *b64;
    size_t n;
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;

    v = spec->auth ? cJSON_GetObjectItemCaseSensitive(spec->auth, "password") : NULL;
    if (!spec->auth || (cJSON_IsString(v) && !strcmp(v->valuestring, "<redacted>")))
        return NULL; /* tdrv-pull already used (and redacted) it */
    v = cJSON_GetObjectItemCaseSensitive(spec->auth, "username");
    tdrv_json_add_str(a, "username", cJSON_IsString(v) ? v->valuestring : "");
    v = cJSON_GetObjectItemCaseSensitive(spec->auth, "password");
    tdrv_json_add_str(a, "password", cJSON_IsString(v) ? v->valuestring : "");
    /* as the driver encodes it: {username, password} only */
    json = cJSON_PrintUnformatted(a);
    if (!json)
        tdrv_oom();
    n = strlen(json);
    b64 = tdrv_xmalloc(4 * ((n + 2) / 3) + 32);
    o = (size_t)snprintf(b64, 32, "X-Registry-Auth: ");
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)(unsigned char)json[i] << 16;

        if (i + 1 < n)
            w |= (uint32_t)(unsigned char)json[i + 1] << 8;
        if (i + 2 < n)
            w |= (unsigned char)json[i + 2];
        b64[o++] = tbl[(w >> 18) & 63];
        b64[o++] = tbl[(w >> 12) & 63];
        b64[o++] = i + 1 < n ? tbl[(w >> 6) & 63] : '=';
        b64[o++] = i + 2 < n ? tbl[w & 63] : '=';
    }
    b64[o] = '\0';
    memset(json, 0, n);
    cJSON_free(json);
    return b64;
}

static int image_load(const struct tdrv_docker *d, const char *path, struct tdrv_err *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_http_resp struct tdrv_http_resp resp;
    struct tdrv_http_req req = {0};
    cleanup_free char *url = NULL;
    static const char *const hdrs[] = {"Content-Type: application/x-tar", NULL};
    struct stat st;
    void *map;
    int rc;

    if (fd < 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", errno,
                             "config.load: unable to open '%s'", path);
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", errno,
                             "config.load: '%s' is empty or unreadable", path);
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to map '%s'", path);
    url = tdrv_xasprintf("%s/v%s/images/load?quiet=1", d->base_url, d->api_version);
    req.method = "POST";
    req.url = url;
    req.unix_socket = d->socket_path;
    req.headers = hdrs;
    req.body = map;
    req.body_len = (size_t)st.st_size;
    if (d->tls) {
        req.ca_file = d->ca_file;
        req.cert_file = d->cert_file;
        req.key_file = d->key_file;
        req.insecure = !d->tls_verify;
    }
    tdrv_http_resp_init(&resp);
    rc = tdrv_http_do(&req, &resp, err);
    munmap(map, (size_t)st.st_size);
    if (rc < 0)
        return tdrv_err_wrap(err, "unable to load '%s'", path);
    if (resp.status != 200)
        return tdrv_docker_status_err(&resp, "load image archive", err);
    if (strstr(resp.body.data, "\"error\""))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_image", 0, "unable to load '%s': %s", path,
                             resp.body.data);
    return 0;
}

static int image_pull(const struct tdrv_docker *d, const struct tdrv_docker_spec *spec,
                      struct tdrv_err *err)
{
    cleanup_ref struct tdrv_ref ref;
    cleanup_free char *name = NULL;
    cleanup_free char *path = NULL;
    cleanup_free char *auth = registry_auth(spec);
    cleanup_http_resp struct tdrv_http_resp resp;
    const char *hdrs[] = {auth, NULL};
    struct pull_sink ps = {0};
    struct tdrv_docker_call c = {0};
    int rc;

    tdrv_ref_init(&ref);
    if (tdrv_ref_parse(spec->image, &ref, err) < 0)
        return -1;
    name = url_escape(ref.name);
    if (ref.digest)
        path = tdrv_xasprintf("/images/create?fromImage=%s&tag=%s", name, ref.digest);
    else
        path = tdrv_xasprintf("/images/create?fromImage=%s&tag=%s", name, ref.tag);
    tdrv_info("pulling '%s' through the docker engine", spec->image);
    tdrv_buf_init(&ps.line, 1u << 20);
    c.method = "POST";
    c.path = path;
    c.headers = auth ? hdrs : NULL;
    c.timeout_ms =
        spec->image_pull_timeout_ns > 0 ? (long)(spec->image_pull_timeout_ns / NS_PER_MS) : -1;
    c.sink = pull_sink_cb;
    c.sink_arg = &ps;
    tdrv_http_resp_init(&resp);
    rc = tdrv_docker_call(d, &c, &resp, err);
    tdrv_buf_release(&ps.line);
    if (rc < 0)
        return tdrv_err_wrap(err, "unable to pull '%s'", spec->image);
    if (resp.status < 200 || resp.status > 299) {
        tdrv_docker_status_err(&resp, "pull image", err);
        /* the Engine answers 404 for a missing image, 500 for an unreachable registry */
        if (resp.status == 404 || strstr(err->msg, "not found") ||
            strstr(err->msg, "manifest unknown"))
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                                 "failed to pull '%s': %s", spec->image, resp.body.data);
        if (resp.status >= 500)
            return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "registry_unreachable", 0,
                                 "failed to pull '%s': %s", spec->image, resp.body.data);
        return -1;
    }
    if (ps.error[0]) {
        int nf = strstr(ps.error, "not found") || strstr(ps.error, "does not exist");

        return tdrv_err_setw(err, nf ? TDRV_E_NOINPUT : TDRV_E_UNAVAILABLE,
                             nf ? "image_not_found" : "pull_failed", 0, "failed to pull '%s': %s",
                             spec->image, ps.error);
    }
    return 0;
}

/* An image tdrv pulled (absent before): recorded, so tdrv-gc may remove it when unused. */
static void image_record(const struct tdrv_docker *d, const struct tdrv_config *cfg,
                         const char *path, const char *image)
{
    cleanup_json cJSON *info = NULL;
    struct tdrv_err e = {0};
    const cJSON *id;

    if (engine_json(d, "GET", path, NULL, 0, NULL, NULL, &info, &e) < 0 ||
        !cJSON_IsString(id = cJSON_GetObjectItemCaseSensitive(info, "Id")) ||
        tdrv_gc_engine_image_record(cfg, id->valuestring, image, &e) < 0)
        tdrv_warn("unable to record the pulled image '%s' for tdrv-gc: %s", image, e.msg);
}

static int image_ensure(const struct tdrv_docker *d, const struct tdrv_config *cfg,
                        const cJSON *doc, const struct tdrv_docker_spec *spec, struct tdrv_err *err)
{
    cleanup_free char *esc = url_escape(spec->image);
    cleanup_free char *path = tdrv_xasprintf("/images/%s/json", esc);
    cleanup_ref struct tdrv_ref ref;
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(doc, "image");
    const cJSON *engine = cJSON_GetObjectItemCaseSensitive(img, "engine");
    int pulled = cJSON_IsString(engine) && !strcmp(engine->valuestring, "docker");
    static const long ok404[] = {404, 0};
    long st = 0;
    int latest;

    tdrv_ref_init(&ref);
    if (tdrv_ref_parse(spec->image, &ref, err) < 0)
        return -1;
    latest = !ref.digest && ref.tag && !strcmp(ref.tag, "latest");
    if (engine_json(d, "GET", path, NULL, 0, ok404, &st, NULL, err) < 0)
        return -1;
    /* tdrv-pull --to docker already did the pull policy's work */
    if (st == 200 && ((!spec->force_pull && !latest) || pulled))
        return 0;
    if (spec->load) {
        int had = st == 200;

        if (image_load(d, spec->load, err) < 0)
            return -1;
        if (engine_json(d, "GET", path, NULL, 0, ok404, &st, NULL, err) < 0)
            return -1;
        if (st != 200)
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                                 "image '%s' is not in the archive '%s'", spec->image, spec->load);
        if (!had)
            image_record(d, cfg, path, spec->image);
        return 0;
    }
    if (image_pull(d, spec, err) < 0) {
        if (st == 200 && spec->auth_soft_fail) {
            tdrv_warn("%s; using the image the engine has", err->msg);
            tdrv_err_clear(err);
            return 0;
        }
        return -1;
    }
    if (st == 404)
        image_record(d, cfg, path, spec->image);
    return 0;
}

/* ---- create, start, remove ---- */

static int container_remove(const struct tdrv_docker *d, const char *id, struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/containers/%s?force=1&v=1", id);
    static const long ok[] = {404, 409, 0};

    return engine_json(d, "DELETE", path, NULL, 0, ok, NULL, NULL, err);
}

/* Is a container (by name or id) tdrv's, and running? 0 not found, 1 found. */
static int container_lookup(const struct tdrv_docker *d, const char *name, cJSON **info,
                            struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/containers/%s/json", name);
    static const long ok[] = {404, 0};
    long st = 0;

    *info = NULL;
    if (engine_json(d, "GET", path, NULL, 0, ok, &st, info, err) < 0)
        return -1;
    return st == 200 && *info;
}

static int is_tdrv(const cJSON *info)
{
    return cJSON_IsString(tdrv_json_at(info, "Config.Labels")
                              ? cJSON_GetObjectItemCaseSensitive(
                                    tdrv_json_at(info, "Config.Labels"), "io.tdrv.alloc_id")
                              : NULL);
}

static int container_create(const struct tdrv_docker *d, const struct tdrv_docker_spec *spec,
                            char **id_out, struct tdrv_err *err)
{
    cleanup_free char *body = cJSON_PrintUnformatted(spec->body);
    cleanup_free char *path = tdrv_xasprintf("/containers/create?name=%s", spec->name);
    static const long ok[] = {409, 500, 502, 503, 0};
    long backoff = 50;

    if (!body)
        tdrv_oom();
    for (int attempt = 0;; attempt++) {
        cleanup_json cJSON *ans = NULL;
        long st = 0;
        const cJSON *id;

        tdrv_err_clear(err);
        if (engine_json(d, "POST", path, body, 0, ok, &st, &ans, err) < 0) {
            if (err->code != TDRV_E_TEMPFAIL || attempt >= RETRIES)
                return tdrv_err_wrap(err, "unable to create container '%s'", spec->name);
            sleep_ms(backoff);
            backoff *= 2;
            continue;
        }
        if (st == 201 || st == 200) {
            id = cJSON_GetObjectItemCaseSensitive(ans, "Id");
            if (!cJSON_IsString(id))
                return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                                     "docker engine answered a create without an Id");
            *id_out = tdrv_xstrdup(id->valuestring);
            return 0;
        }
        if (st == 409) {
            cleanup_json cJSON *info = NULL;
            int found = container_lookup(d, spec->name, &info, err);

            if (found < 0)
                return -1;
            if (found && !is_tdrv(info))
                return tdrv_err_setw(err, TDRV_E_DATA, "conflict", 0,
                                     "container name '%s' is taken by a container tdrv did not "
                                     "create",
                                     spec->name);
            if (found && cJSON_IsTrue(tdrv_json_at(info, "State.Running")))
                return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "container_running", 0,
                                     "container '%s' is already running", spec->name);
            if (found) {
                const cJSON *oid = cJSON_GetObjectItemCaseSensitive(info, "Id");

                tdrv_info("removing the dead container '%s' of an earlier run", spec->name);
                if (container_remove(d, cJSON_IsString(oid) ? oid->valuestring : spec->name, err) <
                    0)
                    return -1;
            }
        }
        if (attempt >= RETRIES) {
            /* a 5xx may still have made it: never leave it behind */
            cleanup_json cJSON *info = NULL;
            struct tdrv_err e2 = {0};

            if (container_lookup(d, spec->name, &info, &e2) == 1 && is_tdrv(info))
                container_remove(d, spec->name, &e2);
            return tdrv_err_setw(err, st >= 500 ? TDRV_E_TEMPFAIL : TDRV_E_DATA,
                                 st >= 500 ? "engine_error" : "conflict", 0,
                                 "unable to create container '%s': docker engine answered %ld",
                                 spec->name, st);
        }
        sleep_ms(backoff);
        backoff *= 2;
    }
}

static int container_start(const struct tdrv_docker *d, const char *id, struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/containers/%s/start", id);
    cleanup_http_resp struct tdrv_http_resp resp;
    struct tdrv_docker_call c = {.method = "POST", .path = path};
    long backoff = 50;

    tdrv_http_resp_init(&resp);
    for (int attempt = 0;; attempt++) {
        struct tdrv_err e2 = {0};

        tdrv_err_clear(err);
        if (tdrv_docker_call(d, &c, &resp, err) == 0) {
            /* 304 and 409: already started */
            if ((resp.status >= 200 && resp.status <= 299) || resp.status == 304 ||
                resp.status == 409)
                return 0;
            tdrv_docker_status_err(&resp, "start the container", err);
            if (resp.status < 500)
                attempt = RETRIES;
        }
        if (attempt < RETRIES && err->code == TDRV_E_TEMPFAIL) {
            sleep_ms(backoff);
            backoff *= 2;
            continue;
        }
        /* the dangling-container case: nothing left running that tdrv does not track */
        container_remove(d, id, &e2);
        return tdrv_err_wrap(err, "container '%.12s'", id);
    }
}

/* ---- logs: demux, rotate, copy ---- */

int tdrv_docker_demux_feed(struct tdrv_docker_demux *d, const char *p, size_t n)
{
    while (n) {
        if (d->left == 0) {
            size_t take = 8 - d->hdr_len;

            if (take > n)
                take = n;
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len += take;
            p += take;
            n -= take;
            if (d->hdr_len < 8)
                return 0;
            d->hdr_len = 0;
            d->stream = d->hdr[0] == 2 ? 2 : 1;
            d->left = ((size_t)d->hdr[4] << 24) | ((size_t)d->hdr[5] << 16) |
                      ((size_t)d->hdr[6] << 8) | d->hdr[7];
            continue;
        }
        {
            size_t take = d->left < n ? d->left : n;

            if (d->out(d->stream, p, take, d->arg) < 0)
                return -1;
            d->left -= take;
            p += take;
            n -= take;
        }
    }
    return 0;
}

struct logfile {
    char *base; /* logs/stdout.log (as the oci backend names them) */
    int fd;
    long size;
};

static int logfile_open(struct logfile *l, struct tdrv_err *err)
{
    const char *p = l->base;
    struct stat st;

    l->fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to open '%s'", p);
    l->size = fstat(l->fd, &st) == 0 ? (long)st.st_size : 0;
    return 0;
}

static void logfile_write(struct logfile *l, const char *p, size_t n)
{
    struct tdrv_err e = {0};

    if (l->fd < 0)
        return;
    if (l->size > 0 && l->size + (long)n > LOG_MAX_SIZE) {
        /* rotate: stdout.log -> stdout.log.1 ... (LOG_MAX_FILES of them) */
        for (int i = LOG_MAX_FILES - 1; i > 0; i--) {
            cleanup_free char *from =
                i == 1 ? tdrv_xstrdup(l->base) : tdrv_xasprintf("%s.%d", l->base, i - 1);
            cleanup_free char *to = tdrv_xasprintf("%s.%d", l->base, i);

            rename(from, to);
        }
        close(l->fd);
        l->fd = -1;
        if (logfile_open(l, &e) < 0)
            return;
    }
    while (n) {
        ssize_t w = write(l->fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        l->size += w;
        p += w;
        n -= (size_t)w;
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

struct copier {
    struct logfile files[3]; /* [1] stdout, [2] stderr */
    int echo;                /* copy to our own stdout/stderr too */
    int tty;
    int last_nl; /* did the task's stdout end with a newline (or print nothing)? */
    struct tdrv_docker_demux dm;
};

static int copier_out(int stream, const char *p, size_t n, void *arg)
{
    struct copier *c = arg;

    logfile_write(&c->files[stream], p, n);
    if (stream == 1 && n)
        c->last_nl = p[n - 1] == '\n';
    if (c->echo)
        write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, p, n);
    return 0;
}

static int copier_sink(const char *p, size_t n, void *arg)
{
    struct copier *c = arg;

    if (c->tty)
        return copier_out(1, p, n, c);
    return tdrv_docker_demux_feed(&c->dm, p, n);
}

static int copier_init(struct copier *c, const struct paths *p, int echo, int tty,
                       struct tdrv_err *err)
{
    static const char *const names[] = {NULL, "stdout", "stderr"};

    memset(c, 0, sizeof(*c));
    c->last_nl = 1;
    c->echo = echo;
    c->tty = tty;
    c->dm.out = copier_out;
    c->dm.arg = c;
    c->files[0].fd = -1;
    for (int i = 1; i < 3; i++) {
        c->files[i].fd = -1;
        c->files[i].base = tdrv_xasprintf("%s/%s.log", p->logs, names[i]);
        if (logfile_open(&c->files[i], err) < 0)
            return -1;
    }
    return 0;
}

static void copier_release(struct copier *c)
{
    for (int i = 1; i < 3; i++) {
        if (c->files[i].fd >= 0)
            close(c->files[i].fd);
        free(c->files[i].base);
        c->files[i].fd = -1;
        c->files[i].base = NULL;
    }
}

/* Follow the container's logs into the copier until the container stops. */
static int follow_logs(const struct tdrv_docker *d, const char *id, struct copier *c,
                       struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/containers/%s/logs?follow=1&stdout=1&stderr=1", id);
    cleanup_http_resp struct tdrv_http_resp resp;
    struct tdrv_docker_call call = {
        .method = "GET", .path = path, .timeout_ms = -1, .sink = copier_sink, .sink_arg = c};

    tdrv_http_resp_init(&resp);
    if (tdrv_docker_call(d, &call, &resp, err) < 0)
        return -1;
    if (resp.status != 200)
        return tdrv_docker_status_err(&resp, "follow the container's logs", err);
    return 0;
}

struct log_thread {
    const struct tdrv_docker *d;
    const char *id;
    struct copier *c;
    struct tdrv_err err;
};

static void *log_thread_main(void *arg)
{
    struct log_thread *lt = arg;

    if (follow_logs(lt->d, lt->id, lt->c, &lt->err) < 0)
        tdrv_warn("logs of '%s' not copied: %s", lt->id, lt->err.msg);
    return NULL;
}

/* ---- stdin (config.interactive, foreground) ---- */

/*
 * Attach to the container's stdin before it starts: a hijacked connection (Upgrade: tcp)
 * on the Engine's Unix socket, spoken by hand since libcurl's easy interface does not
 * stream a request body and a response at once. Returns the connected fd, or -1 (the
 * task then runs with its stdin closed).
 */
static int stdin_attach(const struct tdrv_docker *d, const char *id, struct tdrv_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cleanup_close int fd = -1;
    cleanup_free char *req = NULL;
    char head[4096];
    size_t n = 0;

    if (!d->socket_path)
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "unsupported", 0,
                             "interactive: stdin is attached over a unix socket endpoint only");
    if (strlen(d->socket_path) >= sizeof(sa.sun_path))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "socket path too long");
    memcpy(sa.sun_path, d->socket_path, strlen(d->socket_path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return tdrv_err_set(err, TDRV_E_UNAVAILABLE, errno, "unable to connect to '%s'",
                            d->socket_path);
    req = tdrv_xasprintf("POST /v%s/containers/%s/attach?stream=1&stdin=1 HTTP/1.1\r\n"
                         "Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                         "Content-Length: 0\r\n\r\n",
                         d->api_version, id);
    write_all(fd, req, strlen(req));
    while (n < sizeof(head) - 1) {
        ssize_t r = read(fd, head + n, sizeof(head) - 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        head[n] = '\0';
        if (strstr(head, "\r\n\r\n"))
            break;
    }
    head[n] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) && strncmp(head, "HTTP/1.1 200", 12))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "unable to attach stdin: %.60s", head);
    return steal_fd(&fd);
}

static void *stdin_thread_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        write_all(fd, buf, (size_t)n);
    }
    shutdown(fd, SHUT_WR); /* EOF: with StdinOnce the task's stdin closes */
    return NULL;
}

/* ---- signals ---- */

static const struct {
    const char *name;
    int sig;
} signames[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"SYS", SIGSYS},
};

static int parse_signal(const char *s, int *out, struct tdrv_err *err)
{
    const char *n = s;
    char *end;
    long v;

    if (!strncasecmp(n, "SIG", 3))
        n += 3;
    for (size_t i = 0; i < TDRV_ARRAY_LEN(signames); i++)
        if (!strcasecmp(n, signames[i].name)) {
            *out = signames[i].sig;
            return 0;
        }
    errno = 0;
    v = strtol(s, &end, 10);
    if (!errno && *s && !*end && v > 0 && v < 65) {
        *out = (int)v;
        return 0;
    }
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "failed to parse signal '%s'", s);
}

static int container_kill(const struct tdrv_docker *d, const char *id, int sig,
                          struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/containers/%s/kill?signal=%d", id, sig);
    static const long ok[] = {409, 0}; /* not running: nothing to signal */

    return engine_json(d, "POST", path, NULL, 0, ok, NULL, NULL, err);
}

static int container_wait(const struct tdrv_docker *d, const char *id, long timeout_ms,
                          int64_t *code, struct tdrv_err *err);

/*
 * Stop as the driver sequences it: kill_signal, up to kill_timeout, then SIGKILL (the
 * Engine's stop with no grace); without a kill_signal, the Engine's stop with
 * kill_timeout (the image's STOPSIGNAL or SIGTERM, then SIGKILL).
 */
static int stop_sequence(const struct tdrv_docker *d, const char *id, const char *kill_signal,
                         long timeout_ms, struct tdrv_err *err)
{
    static const long ok[] = {304, 404, 0};

    if (kill_signal && *kill_signal) {
        int sig;
        int64_t code;
        struct tdrv_err e = {0};
        cleanup_free char *path = tdrv_xasprintf("/containers/%s/stop?t=0", id);

        if (parse_signal(kill_signal, &sig, err) < 0)
            return -1;
        if (container_kill(d, id, sig, err) < 0 && err->code != TDRV_E_NOINPUT)
            return -1;
        tdrv_err_clear(err);
        if (container_wait(d, id, timeout_ms > 0 ? timeout_ms : 1, &code, &e) < 0 &&
            engine_json(d, "POST", path, NULL, 0, ok, NULL, NULL, err) < 0)
            return -1;
        return 0;
    }
    {
        cleanup_free char *path =
            tdrv_xasprintf("/containers/%s/stop?t=%ld", id, (timeout_ms + 999) / 1000);

        return engine_json(d, "POST", path, NULL, timeout_ms + ENGINE_TIMEOUT_MS, ok, NULL, NULL,
                           err);
    }
}

struct sig_thread {
    const struct tdrv_docker *d;
    const char *id;
    const char *kill_signal;
    long kill_timeout_ms;
    sigset_t set;
};

static void *sig_thread_main(void *arg)
{
    struct sig_thread *st = arg;

    for (;;) {
        int sig = 0;
        struct tdrv_err e = {0};

        if (sigwait(&st->set, &sig) != 0)
            continue;
        if (sig == SIGTERM) {
            /* a stop request, as the oci backend takes it */
            tdrv_info("stopping container '%s'", st->id);
            if (stop_sequence(st->d, st->id, st->kill_signal, st->kill_timeout_ms, &e) < 0)
                tdrv_warn("%s", e.msg);
            continue;
        }
        tdrv_info("forwarding signal %d to container '%s'", sig, st->id);
        if (container_kill(st->d, st->id, sig, &e) < 0)
            tdrv_warn("%s", e.msg);
    }
    return NULL;
}

/* ---- wait and result ---- */

static int container_wait(const struct tdrv_docker *d, const char *id, long timeout_ms,
                          int64_t *code, struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/containers/%s/wait?condition=not-running", id);
    cleanup_json cJSON *ans = NULL;

    if (engine_json(d, "POST", path, NULL, timeout_ms ? timeout_ms : -1, NULL, NULL, &ans, err) < 0)
        return -1;
    *code = tdrv_docker_wait_code(ans);
    return 0;
}

/*
 * A JSON number as an integer (its fraction dropped) when it lies in [lo, hi], else def: the
 * Engine's answers and handle documents are not trusted to fit (a cast of 1e300 is undefined).
 */
static int64_t int_in(const cJSON *v, int64_t lo, int64_t hi, int64_t def)
{
    double d;

    if (!cJSON_IsNumber(v))
        return def;
    d = v->valuedouble;
    if (!(d >= (double)lo && d < 0x1p63 && d <= (double)hi))
        return def;
    return (int64_t)d;
}

int64_t tdrv_docker_wait_code(const cJSON *ans)
{
    return int_in(cJSON_GetObjectItemCaseSensitive(ans, "StatusCode"), INT64_MIN, INT64_MAX, 0);
}

cJSON *tdrv_docker_result(const cJSON *info, int64_t wait_code)
{
    cJSON *r = tdrv_json_xobj();
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(info, "State");
    const cJSON *v;
    int64_t code =
        int_in(cJSON_GetObjectItemCaseSensitive(st, "ExitCode"), INT64_MIN, INT64_MAX, wait_code);

    tdrv_json_add_num(r, "exit_code", (double)code);
    /* the Engine reports a death by signal N as 128+N, as a shell does */
    tdrv_json_add_num(r, "signal", code > 128 && code < 128 + 65 ? (double)(code - 128) : 0);
    tdrv_json_add_bool(r, "oom_killed",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "OOMKilled")));
    v = cJSON_GetObjectItemCaseSensitive(st, "StartedAt");
    if (cJSON_IsString(v))
        tdrv_json_add_str(r, "started_at", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(st, "FinishedAt");
    if (cJSON_IsString(v))
        tdrv_json_add_str(r, "finished_at", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(st, "Error");
    if (cJSON_IsString(v) && *v->valuestring)
        tdrv_json_add_str(r, "error", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(info, "Id");
    if (cJSON_IsString(v))
        tdrv_json_add_str(r, "container_id", v->valuestring);
    return r;
}

int tdrv_docker_result_status(const cJSON *result)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(result, "exit_code");

    return (int)int_in(c, 0, 255, 125);
}

/*
 * After start: copy logs, wait, record the result, remove per gc.container. Runs in the
 * foreground tdrv-run, or in the monitor a detached run leaves behind; either holds the lease.
 */
static int supervise(const struct tdrv_docker *d, const struct tdrv_config *cfg,
                     const struct paths *p, const char *id, cJSON *state, int echo,
                     const struct tdrv_docker_spec *spec, int forward_signals, cJSON **result,
                     int *last_nl, struct tdrv_err *err)
{
    struct copier cp;
    struct log_thread lt = {0};
    struct sig_thread st = {0};
    pthread_t log_tid;
    pthread_t sig_tid;
    int have_log = 0;
    int64_t code = 0;
    cleanup_json cJSON *info = NULL;
    int rc = 0;

    if (copier_init(&cp, p, echo, spec->tty, err) < 0) {
        copier_release(&cp);
        return -1;
    }
    lt.d = d;
    lt.id = id;
    lt.c = &cp;
    have_log = pthread_create(&log_tid, NULL, log_thread_main, &lt) == 0;
    if (forward_signals) {
        st.d = d;
        st.id = id;
        st.kill_signal = spec->kill_signal;
        st.kill_timeout_ms = (long)(spec->kill_timeout_ns / NS_PER_MS);
        sigemptyset(&st.set);
        sigaddset(&st.set, SIGTERM);
        sigaddset(&st.set, SIGINT);
        sigaddset(&st.set, SIGHUP);
        sigaddset(&st.set, SIGUSR1);
        sigaddset(&st.set, SIGUSR2);
        sigaddset(&st.set, SIGQUIT);
        if (pthread_create(&sig_tid, NULL, sig_thread_main, &st) == 0)
            pthread_detach(sig_tid);
    }
    if (container_wait(d, id, 0, &code, err) < 0) {
        /* the Engine went away (stopped, crashed, its socket gone): the task's fate is
         * unknown here; tdrv-gc reaps the container once the Engine is back */
        if (err->code == TDRV_E_UNAVAILABLE || err->code == TDRV_E_TEMPFAIL) {
            err->code = TDRV_E_UNAVAILABLE;
            snprintf(err->word, sizeof(err->word), "%s", "engine_lost");
        }
        tdrv_err_wrap(err, "lost the Docker Engine while waiting for container '%s'", p->name);
        rc = -1;
        if (err->code == TDRV_E_UNAVAILABLE) { /* not "running" any more as far as we know */
            struct tdrv_err e4 = {0};

            tdrv_json_set(state, "state", tdrv_json_xstr("lost"));
            tdrv_json_set(state, "error", tdrv_json_xstr(err->msg));
            if (write_state(p->state, state, &e4) < 0)
                tdrv_warn("%s", e4.msg);
        }
    }
    if (have_log)
        pthread_join(log_tid, NULL);
    if (last_nl)
        *last_nl = cp.last_nl;
    copier_release(&cp);
    if (rc == 0) {
        struct tdrv_err e2 = {0};

        if (container_lookup(d, id, &info, &e2) != 1)
            tdrv_warn("unable to inspect container '%s': %s", id, e2.msg);
        *result = tdrv_docker_result(info, code);
        tdrv_json_set(state, "result", tdrv_json_xdup(*result));
        tdrv_json_set(state, "state", tdrv_json_xstr("exited"));
        if (write_state(p->state, state, &e2) < 0)
            tdrv_warn("%s", e2.msg);
    }
    if (cfg->gc_container) {
        struct tdrv_err e3 = {0};

        if (container_remove(d, id, &e3) < 0)
            tdrv_warn("unable to remove container '%s': %s", id, e3.msg);
    }
    return rc;
}

/* ---- run ---- */

static int lease_take(const char *path, int *fd_out, struct tdrv_err *err)
{
    cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to open lease '%s'", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "lease_busy", 0,
                                 "task is already running: lease '%s' is held", path);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s'", path);
    }
    *fd_out = steal_fd(&fd);
    return 0;
}

static int prepare_dirs(const struct paths *p, struct tdrv_err *err)
{
    static const char *const alloc_sub[] = {"alloc", "alloc/data", "alloc/tmp", "alloc/logs"};
    static const char *const task_sub[] = {"local", "secrets", "logs"};

    for (size_t i = 0; i < TDRV_ARRAY_LEN(alloc_sub); i++) {
        cleanup_free char *d = tdrv_xasprintf("%s/%s", p->alloc_dir, alloc_sub[i]);

        if (mkdir_p(d, 0755, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(task_sub); i++) {
        cleanup_free char *d = tdrv_xasprintf("%s/%s", p->task_dir, task_sub[i]);

        if (mkdir_p(d, i == 1 ? 0700 : 0755, err) < 0)
            return -1;
    }
    return 0;
}

static cJSON *handle_json(const struct paths *p, const struct tdrv_docker *d, const char *id,
                          const struct tdrv_docker_spec *spec, long monitor)
{
    cJSON *h = tdrv_json_xobj();

    tdrv_json_add_str(h, "driver", "docker");
    tdrv_json_add_str(h, "alloc_id", p->alloc_id);
    tdrv_json_add_str(h, "task", p->task);
    tdrv_json_add_str(h, "container_id", id);
    tdrv_json_add_str(h, "container_name", spec->name);
    tdrv_json_add_str(h, "endpoint", d->host);
    tdrv_json_add_str(h, "lease", p->lease);
    tdrv_json_add_str(h, "state", p->state);
    tdrv_json_add_str(h, "logs", p->logs);
    if (spec->kill_signal)
        tdrv_json_add_str(h, "kill_signal", spec->kill_signal);
    tdrv_json_add_num(h, "kill_timeout_ms", (double)(spec->kill_timeout_ns / NS_PER_MS));
    if (monitor > 0)
        tdrv_json_add_num(h, "monitor_pid", (double)monitor);
    return h;
}

int tdrv_docker_run(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                    struct tdrv_err *err)
{
    cleanup_paths struct paths p = {0};
    cleanup_docker_spec struct tdrv_docker_spec spec;
    cleanup_docker struct tdrv_docker d;
    cleanup_close int lease = -1;
    cleanup_close int image_hold = -1;
    cleanup_free char *id = NULL;
    cleanup_json cJSON *state = NULL;
    cJSON *result = NULL;
    int last_nl = 1;
    int stdin_fd = -1; /* the attach connection; closed when the process ends */
    struct tdrv_docker_spec_ctx ctx = {0};
    sigset_t set;
    sigset_t old;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    *status = -1;
    tdrv_docker_spec_init(&spec);
    tdrv_docker_init(&d);
    if (paths_get(doc, o->cfg, &p, err) < 0)
        return -1;
    ctx.cfg = o->cfg;
    ctx.alloc_dir = p.alloc_dir;
    ctx.lease_path = p.lease;
    ctx.host_ip = o->cfg->host_ip;
    ctx.total_compute = node_mhz();
    ctx.ncpu = ncpu > 0 ? (int)ncpu : 1;
    if (tdrv_docker_spec_build(doc, &ctx, &spec, err) < 0)
        return -1;
    redact_auth(doc); /* spec.auth keeps the private copy */
    if (o->dry_run) {
        cJSON *out = tdrv_json_xobj();

        tdrv_json_add_str(out, "name", spec.name);
        tdrv_json_add(out, "create", steal_ptr(&spec.body));
        *res = out;
        return 0;
    }
    if (prepare_dirs(&p, err) < 0 || lease_take(p.lease, &lease, err) < 0)
        return -1;
    /* tdrv-gc removes no Engine image while this is held (shared) */
    if (tdrv_gc_engine_image_hold(o->cfg, &image_hold, err) < 0)
        return -1;
    if (engine_open(o->cfg, &d, err) < 0 || image_ensure(&d, o->cfg, doc, &spec, err) < 0 ||
        container_create(&d, &spec, &id, err) < 0)
        return -1;
    close(steal_fd(&image_hold));

    /* signals go to the container from here on; block them before any thread starts */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN); /* a reader gone from our stdout is EPIPE (74), not death */
    if (spec.interactive && !o->detach) {
        struct tdrv_err e = {0};

        stdin_fd = stdin_attach(&d, id, &e);
        if (stdin_fd < 0)
            tdrv_warn("%s", e.msg);
    }
    if (container_start(&d, id, err) < 0)
        return -1;
    if (stdin_fd >= 0) {
        pthread_t tid;

        if (pthread_create(&tid, NULL, stdin_thread_main, (void *)(intptr_t)stdin_fd) == 0)
            pthread_detach(tid);
    }
    /* state.json in the oci backend's shape, so its --list shows docker tasks too */
    state = tdrv_json_xdup(doc);
    tdrv_json_set(state, "state", tdrv_json_xstr("running"));
    tdrv_json_set(state, "container_id", tdrv_json_xstr(id));
    if (o->detach) {
        pid_t pid;
        int pfd[2];
        char ok = 0;

        if (pipe2(pfd, O_CLOEXEC) < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a pipe");
        pid = fork();
        if (pid < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to fork the monitor");
        if (pid == 0) {
            /* the monitor: holds the lease, copies logs, records the result */
            cJSON *r = NULL;
            struct tdrv_err e = {0};
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            pid_t gc;

            close(pfd[0]);
            setsid();
            /* a second fork so the monitor is nobody's child (no zombie, no SIGCHLD) */
            gc = fork();
            if (gc != 0)
                _exit(gc < 0 ? 71 : 0);
            tdrv_json_set(state, "handle", handle_json(&p, &d, id, &spec, (long)getpid()));
            write_state(p.state, state, &e);
            if (write(pfd[1], "1", 1) < 0)
                _exit(71);
            close(pfd[1]);
            if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
            }
            supervise(&d, o->cfg, &p, id, state, 0, &spec, 0, &r, NULL, &e);
            cJSON_Delete(r);
            _exit(0);
        }
        close(pfd[1]);
        waitpid(pid, NULL, 0);
        if (read(pfd[0], &ok, 1) != 1)
            ok = 0;
        close(pfd[0]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!ok)
            return tdrv_err_setw(err, TDRV_E_OS, "monitor_failed", 0,
                                 "the monitor of container '%s' did not start", id);
        {
            cleanup_json cJSON *saved = NULL;
            struct tdrv_err e = {0};

            if (tdrv_doc_read_file(p.state, 1u << 24, &saved, &e) == 0) {
                const cJSON *h = cJSON_GetObjectItemCaseSensitive(saved, "handle");

                tdrv_json_set(doc, "handle", tdrv_json_xdup(h));
            }
        }
        *res = doc; /* the caller's own document, as tdrv_run() answers */
        return 0;
    }
    tdrv_json_set(state, "handle", handle_json(&p, &d, id, &spec, (long)getpid()));
    write_state(p.state, state, err);
    tdrv_err_clear(err);
    if (supervise(&d, o->cfg, &p, id, state, !o->quiet, &spec, 1, &result, &last_nl, err) < 0)
        return -1;
    tdrv_json_set(doc, "result", result);
    *status = tdrv_docker_result_status(result);
    if (o->result_fd >= 0) {
        /* the document to the caller's fd; stdout stays the task's alone */
        FILE *f = fdopen(o->result_fd, "w");
        int rc;

        if (!f)
            return tdrv_err_setw(err, TDRV_E_IO, "write_failed", errno,
                                 "unable to open --result-fd %d", o->result_fd);
        rc = tdrv_json_emit(f, doc, err);
        fclose(f);
        return rc;
    }
    if (!o->quiet && !last_nl)
        write_all(STDOUT_FILENO, "\n", 1);
    *res = doc; /* the caller's own document, as tdrv_run() answers */
    return 0;
}

/* ---- operations on a running (or finished) task ---- */

struct target {
    struct paths p;
    struct tdrv_docker d;
    char *id; /* container id or name */
};

static void target_release(struct target *t)
{
    paths_release(&t->p);
    tdrv_docker_release(&t->d);
    free(t->id);
}
#define cleanup_target __attribute__((cleanup(target_release)))

static int target_open(cJSON *doc, const struct tdrv_config *cfg, struct target *t,
                       struct tdrv_err *err)
{
    const cJSON *h;
    const cJSON *cid;

    tdrv_docker_init(&t->d);
    if (paths_get(doc, cfg, &t->p, err) < 0)
        return -1;
    if (!cJSON_GetObjectItemCaseSensitive(doc, "handle")) {
        /* named by --alloc/--task, or a task document: the handle its supervisor recorded */
        cleanup_json cJSON *state = NULL;
        struct tdrv_err e = {0};

        if (tdrv_doc_read_file(t->p.state, 1u << 24, &state, &e) == 0 &&
            cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(state, "handle")))
            tdrv_json_set(doc, "handle",
                          tdrv_json_xdup(cJSON_GetObjectItemCaseSensitive(state, "handle")));
    }
    if (engine_open(cfg, &t->d, err) < 0)
        return -1;
    h = cJSON_GetObjectItemCaseSensitive(doc, "handle");
    cid = cJSON_GetObjectItemCaseSensitive(h, "container_id");
    t->id = tdrv_xstrdup(cJSON_IsString(cid) ? cid->valuestring : t->p.name);
    return 0;
}

/* Wait for the supervisor to let go of the lease, then read the result it recorded. */
static int await_result(const struct target *t, cJSON **result, struct tdrv_err *err)
{
    cleanup_close int fd = open(t->p.lease, O_RDWR | O_CLOEXEC);
    cleanup_json cJSON *state = NULL;
    const cJSON *r;

    if (fd < 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_found", errno,
                             "no task '%s' of allocation '%s' on this host", t->p.task,
                             t->p.alloc_id);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s'", t->p.lease);
    if (tdrv_doc_read_file(t->p.state, 1u << 24, &state, err) < 0)
        return -1;
    r = cJSON_GetObjectItemCaseSensitive(state, "result");
    if (!r) {
        /* its supervisor died (kill -9): ask the Engine */
        cleanup_json cJSON *info = NULL;
        int64_t code = 0;

        if (container_lookup(&t->d, t->id, &info, err) != 1)
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_found", 0,
                                 "task '%s' has no result and no container", t->p.task);
        if (cJSON_IsTrue(tdrv_json_at(info, "State.Running")) &&
            container_wait(&t->d, t->id, 0, &code, err) < 0)
            return -1;
        cJSON_Delete(info);
        info = NULL;
        container_lookup(&t->d, t->id, &info, err);
        *result = tdrv_docker_result(info, code);
        return 0;
    }
    *result = tdrv_json_xdup(r);
    return 0;
}

int tdrv_docker_wait(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err)
{
    cleanup_target struct target t = {0};
    cJSON *result = NULL;

    *status = -1;
    if (target_open(doc, o->cfg, &t, err) < 0 || await_result(&t, &result, err) < 0)
        return -1;
    tdrv_json_set(doc, "result", result);
    *status = tdrv_docker_result_status(result);
    *res = doc; /* the caller's own document, as tdrv_run() answers */
    return 0;
}

int tdrv_docker_stop(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err)
{
    cleanup_target struct target t = {0};
    const cJSON *h;
    const cJSON *ks;
    const cJSON *kt;
    long timeout_ms;
    cJSON *result = NULL;

    *status = -1;
    if (target_open(doc, o->cfg, &t, err) < 0)
        return -1;
    h = cJSON_GetObjectItemCaseSensitive(doc, "handle");
    ks = cJSON_GetObjectItemCaseSensitive(h, "kill_signal");
    kt = cJSON_GetObjectItemCaseSensitive(h, "kill_timeout_ms");
    timeout_ms = (long)int_in(kt, LONG_MIN, LONG_MAX, 5000);
    if (!h) {
        /* a task document: its own kill_signal / kill_timeout */
        cleanup_docker_spec struct tdrv_docker_spec spec;
        struct tdrv_docker_spec_ctx ctx = {.cfg = o->cfg, .alloc_dir = "/"};
        const char *sig = NULL;

        tdrv_docker_spec_init(&spec);
        if (tdrv_json_str(doc, "kill_signal", TDRV_OPTIONAL, &sig, err) < 0)
            return -1;
        if (cJSON_GetObjectItemCaseSensitive(doc, "config") &&
            tdrv_docker_spec_build(doc, &ctx, &spec, err) == 0)
            timeout_ms = (long)(spec.kill_timeout_ns / NS_PER_MS);
        tdrv_err_clear(err);
        ks = cJSON_GetObjectItemCaseSensitive(doc, "kill_signal");
    }
    if (stop_sequence(&t.d, t.id, cJSON_IsString(ks) ? ks->valuestring : NULL, timeout_ms, err) < 0)
        return -1;
    if (await_result(&t, &result, err) < 0)
        return -1;
    tdrv_json_set(doc, "result", result);
    *status = tdrv_docker_result_status(result);
    *res = doc; /* the caller's own document, as tdrv_run() answers */
    return 0;
}

int tdrv_docker_signal(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                       struct tdrv_err *err)
{
    cleanup_target struct target t = {0};
    int sig;

    *status = -1;
    sig = o->signo;
    if (!sig && !o->signal)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--signal needs a signal");
    if ((!sig && parse_signal(o->signal, &sig, err) < 0) || target_open(doc, o->cfg, &t, err) < 0 ||
        container_kill(&t.d, t.id, sig, err) < 0)
        return -1;
    *res = doc; /* the caller's own document, as tdrv_run() answers */
    return 0;
}

int tdrv_docker_inspect(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                        struct tdrv_err *err)
{
    cleanup_target struct target t = {0};
    cleanup_json cJSON *info = NULL;
    cJSON *out;
    const cJSON *st;
    const cJSON *v;
    int found;

    *status = -1;
    if (target_open(doc, o->cfg, &t, err) < 0)
        return -1;
    found = container_lookup(&t.d, t.id, &info, err);
    if (found < 0)
        return -1;
    if (!found) {
        /* removed when it ended (gc.container): what its supervisor recorded */
        cleanup_json cJSON *state = NULL;
        struct tdrv_err e = {0};
        const cJSON *r = NULL;

        if (tdrv_doc_read_file(t.p.state, 1u << 24, &state, &e) == 0)
            r = cJSON_GetObjectItemCaseSensitive(state, "result");
        if (!r)
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_found", 0,
                                 "no container '%s' on the docker engine", t.id);
        out = tdrv_json_xobj();
        tdrv_json_add_str(out, "state", "exited");
        tdrv_json_add_bool(out, "running", 0);
        tdrv_json_add_num(out, "pid", 0);
        for (const cJSON *c = r->child; c; c = c->next)
            tdrv_json_set(out, c->string, tdrv_json_xdup(c));
        tdrv_json_add_str(out, "container_name", t.p.name);
        *res = out;
        return 0;
    }
    out = tdrv_json_xobj();
    st = cJSON_GetObjectItemCaseSensitive(info, "State");
    v = cJSON_GetObjectItemCaseSensitive(st, "Status");
    tdrv_json_add_str(out, "state", cJSON_IsString(v) ? v->valuestring : "unknown");
    tdrv_json_add_bool(out, "running",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "Running")));
    v = cJSON_GetObjectItemCaseSensitive(st, "Pid");
    tdrv_json_add_num(out, "pid", cJSON_IsNumber(v) ? v->valuedouble : 0);
    {
        cJSON *r = tdrv_docker_result(info, 0);

        for (cJSON *c = r->child; c; c = c->next)
            tdrv_json_set(out, c->string, tdrv_json_xdup(c));
        cJSON_Delete(r);
    }
    v = tdrv_json_at(info, "NetworkSettings.Ports");
    if (v)
        tdrv_json_add(out, "ports", tdrv_json_xdup(v));
    tdrv_json_add_str(out, "container_name", t.p.name);
    *res = out;
    return 0;
}

int tdrv_docker_stats(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                      struct tdrv_err *err)
{
    cleanup_target struct target t = {0};
    cleanup_json cJSON *s = NULL;
    cleanup_free char *path = NULL;
    cJSON *out;
    double cpu = 0;
    double sys = 0;
    double pcpu = 0;
    double psys = 0;
    double online;
    const cJSON *v;

    *status = -1;
    if (target_open(doc, o->cfg, &t, err) < 0)
        return -1;
    path = tdrv_xasprintf("/containers/%s/stats?stream=0", t.id);
    if (tdrv_docker_get_json(&t.d, path, &s, err) < 0)
        return -1;
#define NUM(p) ((v = tdrv_json_at(s, p)) && cJSON_IsNumber(v) ? v->valuedouble : 0)
    cpu = NUM("cpu_stats.cpu_usage.total_usage");
    sys = NUM("cpu_stats.system_cpu_usage");
    pcpu = NUM("precpu_stats.cpu_usage.total_usage");
    psys = NUM("precpu_stats.system_cpu_usage");
    online = NUM("cpu_stats.online_cpus");
    out = tdrv_json_xobj();
    tdrv_json_add_num(out, "cpu_percent",
                      (cpu - pcpu) > 0 && (sys - psys) > 0
                          ? (cpu - pcpu) / (sys - psys) * (online > 0 ? online : 1) * 100.0
                          : 0);
    tdrv_json_add_num(out, "cpu_total_ns", cpu);
    tdrv_json_add_num(out, "memory_usage", NUM("memory_stats.usage"));
    tdrv_json_add_num(out, "memory_limit", NUM("memory_stats.limit"));
    tdrv_json_add_num(out, "pids", NUM("pids_stats.current"));
#undef NUM
    *res = out;
    return 0;
}

int tdrv_docker_logs(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err)
{
    cleanup_paths struct paths p = {0};
    static const char *const names[] = {"stdout", "stderr"};

    *status = -1;
    *res = NULL;
    if (paths_get(doc, o->cfg, &p, err) < 0)
        return -1;
    if (o->follow) {
        cleanup_target struct target t = {0};
        cleanup_json cJSON *info = NULL;
        struct copier c;
        cleanup_free char *path = NULL;
        cleanup_http_resp struct tdrv_http_resp resp;
        struct tdrv_docker_call call = {0};
        int found;

        if (target_open(doc, o->cfg, &t, err) < 0)
            return -1;
        found = container_lookup(&t.d, t.id, &info, err);
        if (found == 1) {
            memset(&c, 0, sizeof(c));
            c.files[0].fd = c.files[1].fd = c.files[2].fd = -1;
            c.echo = 1;
            c.tty = cJSON_IsTrue(tdrv_json_at(info, "Config.Tty"));
            c.dm.out = copier_out;
            c.dm.arg = &c;
            path = tdrv_xasprintf("/containers/%s/logs?follow=1&stdout=1&stderr=1", t.id);
            call.method = "GET";
            call.path = path;
            call.timeout_ms = -1;
            call.sink = copier_sink;
            call.sink_arg = &c;
            tdrv_http_resp_init(&resp);
            if (tdrv_docker_call(&t.d, &call, &resp, err) < 0)
                return -1;
            if (resp.status != 200)
                return tdrv_docker_status_err(&resp, "follow the container's logs", err);
            return 0;
        }
        tdrv_err_clear(err);
    }
    for (size_t s = 0; s < TDRV_ARRAY_LEN(names); s++) {
        for (int i = LOG_MAX_FILES - 1; i >= 0; i--) {
            cleanup_free char *f = i ? tdrv_xasprintf("%s/%s.log.%d", p.logs, names[s], i)
                                     : tdrv_xasprintf("%s/%s.log", p.logs, names[s]);
            cleanup_close int fd = open(f, O_RDONLY | O_CLOEXEC);
            char buf[65536];
            ssize_t n;

            while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
                write_all(s ? STDERR_FILENO : STDOUT_FILENO, buf, (size_t)n);
        }
    }
    return 0;
}

struct exec_out {
    struct tdrv_docker_demux dm;
};

static int exec_out_cb(int stream, const char *p, size_t n, void *arg)
{
    (void)arg;
    write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, p, n);
    return 0;
}

static int exec_sink(const char *p, size_t n, void *arg)
{
    struct exec_out *e = arg;

    return tdrv_docker_demux_feed(&e->dm, p, n);
}

int tdrv_docker_exec(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err)
{
    cleanup_target struct target t = {0};
    cleanup_json cJSON *body = tdrv_json_xobj();
    cleanup_json cJSON *ans = NULL;
    cleanup_json cJSON *info = NULL;
    cleanup_free char *b = NULL;
    cleanup_free char *path = NULL;
    cleanup_free char *spath = NULL;
    cleanup_free char *ipath = NULL;
    cleanup_http_resp struct tdrv_http_resp resp;
    struct exec_out eo = {0};
    struct tdrv_docker_call call = {0};
    cJSON *cmd = tdrv_json_xarr();
    const cJSON *eid;
    const cJSON *code;

    *status = -1;
    tdrv_json_add(body, "Cmd", cmd);
    for (char *const *a = o->exec_argv; a && *a; a++)
        tdrv_json_append(cmd, tdrv_json_xstr(*a));
    if (!cJSON_GetArraySize(cmd))
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--exec needs a command after --");
    tdrv_json_add_bool(body, "AttachStdout", 1);
    tdrv_json_add_bool(body, "AttachStderr", 1);
    tdrv_json_add_bool(body, "Tty", 0);
    if (target_open(doc, o->cfg, &t, err) < 0)
        return -1;
    b = cJSON_PrintUnformatted(body);
    path = tdrv_xasprintf("/containers/%s/exec", t.id);
    if (engine_json(&t.d, "POST", path, b, 0, NULL, NULL, &ans, err) < 0)
        return -1;
    eid = cJSON_GetObjectItemCaseSensitive(ans, "Id");
    if (!cJSON_IsString(eid))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "docker engine answered an exec create without an Id");
    spath = tdrv_xasprintf("/exec/%s/start", eid->valuestring);
    eo.dm.out = exec_out_cb;
    call.method = "POST";
    call.path = spath;
    call.json_body = "{\"Detach\":false,\"Tty\":false}";
    call.timeout_ms = -1;
    call.sink = exec_sink;
    call.sink_arg = &eo;
    tdrv_http_resp_init(&resp);
    if (tdrv_docker_call(&t.d, &call, &resp, err) < 0)
        return -1;
    if (resp.status < 200 || resp.status > 299)
        return tdrv_docker_status_err(&resp, "start exec", err);
    ipath = tdrv_xasprintf("/exec/%s/json", eid->valuestring);
    if (tdrv_docker_get_json(&t.d, ipath, &info, err) < 0)
        return -1;
    code = cJSON_GetObjectItemCaseSensitive(info, "ExitCode");
    *status = (int)int_in(code, INT_MIN, INT_MAX, 126);
    *res = tdrv_json_xobj();
    tdrv_json_add_num(*res, "exit_code", *status);
    return 0;
}

int tdrv_docker_list(const struct tdrv_docker_run_opts *o, cJSON **res, struct tdrv_err *err)
{
    cleanup_docker struct tdrv_docker d;
    cleanup_json cJSON *list = NULL;
    cleanup_free char *filters = url_escape("{\"label\":[\"io.tdrv.alloc_id\"]}");
    cleanup_free char *path = tdrv_xasprintf("/containers/json?all=1&filters=%s", filters);
    cJSON *tasks = tdrv_json_xarr();
    const cJSON *c;

    tdrv_docker_init(&d);
    *res = tdrv_json_xobj();
    tdrv_json_add(*res, "tasks", tasks);
    if (engine_open(o->cfg, &d, err) < 0 || tdrv_docker_get_json(&d, path, &list, err) < 0)
        return -1;
    cJSON_ArrayForEach(c, list)
    {
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels");
        cJSON *t = tdrv_json_xobj();
        static const struct {
            const char *label;
            const char *key;
        } map[] = {{"io.tdrv.alloc_id", "alloc_id"},
                   {"io.tdrv.task", "task"},
                   {"io.tdrv.group", "group"},
                   {"io.tdrv.lease", "lease"}};
        const cJSON *v;

        tdrv_json_add_str(t, "driver", "docker");
        for (size_t i = 0; i < TDRV_ARRAY_LEN(map); i++) {
            v = cJSON_GetObjectItemCaseSensitive(labels, map[i].label);
            if (cJSON_IsString(v))
                tdrv_json_add_str(t, map[i].key, v->valuestring);
        }
        v = cJSON_GetObjectItemCaseSensitive(c, "Id");
        if (cJSON_IsString(v))
            tdrv_json_add_str(t, "container_id", v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(c, "State");
        if (cJSON_IsString(v))
            tdrv_json_add_str(t, "state", v->valuestring);
        tdrv_json_append(tasks, t);
    }
    return 0;
}

/* ---- tdrv-run's dispatch ---- */

static int is_docker(const cJSON *doc)
{
    const cJSON *drv = cJSON_GetObjectItemCaseSensitive(doc, "driver");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "handle");

    if (cJSON_IsString(drv) && !strcmp(drv->valuestring, "docker"))
        return 1;
    drv = cJSON_GetObjectItemCaseSensitive(h, "driver");
    return cJSON_IsString(drv) && !strcmp(drv->valuestring, "docker");
}

int tdrv_docker_wants(const struct tdrv_run_req *rq, const struct tdrv_config *cfg,
                      const cJSON *doc)
{
    cleanup_json cJSON *named = NULL;
    cleanup_json cJSON *state = NULL;
    cleanup_paths struct paths p = {0};
    struct tdrv_err e = {0};

    if (rq->action == TDRV_RUN_LIST)
        return 0;
    if (doc)
        return is_docker(doc);
    if (!rq->alloc_id || !rq->task)
        return 0;
    named = tdrv_json_xobj();
    tdrv_json_add_str(named, "alloc_id", rq->alloc_id);
    tdrv_json_add_str(named, "task", rq->task);
    if (paths_get(named, cfg, &p, &e) < 0 || tdrv_doc_read_file(p.state, 1u << 24, &state, &e) < 0)
        return 0;
    return is_docker(state);
}

static int dispatch(const struct tdrv_run_req *rq, struct tdrv_docker_run_opts *o, cJSON *doc,
                    cJSON **out, int *status, struct tdrv_err *err)
{
    int rc;

    switch (rq->action) {
    case TDRV_RUN_FOREGROUND:
        rc = tdrv_docker_run(doc, o, out, status, err);
        if (rc < 0 && err->code != TDRV_E_USAGE && !err->passthrough)
            *status = 125;
        return rc;
    case TDRV_RUN_DRY_RUN:
        o->dry_run = 1;
        return tdrv_docker_run(doc, o, out, status, err);
    case TDRV_RUN_DETACH:
        o->detach = 1;
        return tdrv_docker_run(doc, o, out, status, err);
    case TDRV_RUN_WAIT:
        return tdrv_docker_wait(doc, o, out, status, err);
    case TDRV_RUN_STOP:
        return tdrv_docker_stop(doc, o, out, status, err);
    case TDRV_RUN_SIGNAL:
        return tdrv_docker_signal(doc, o, out, status, err);
    case TDRV_RUN_EXEC:
        rc = tdrv_docker_exec(doc, o, out, status, err);
        cJSON_Delete(*out); /* as the oci backend: nothing on stdout but the command's */
        *out = NULL;
        return rc;
    case TDRV_RUN_INSPECT:
        return tdrv_docker_inspect(doc, o, out, status, err);
    case TDRV_RUN_STATS:
        return tdrv_docker_stats(doc, o, out, status, err);
    case TDRV_RUN_LOGS:
        return tdrv_docker_logs(doc, o, out, status, err);
    default:
        return tdrv_docker_list(o, out, err);
    }
}

int tdrv_docker_dispatch(const struct tdrv_run_req *rq, const struct tdrv_config *cfg, cJSON *doc,
                         cJSON **out, int *status, struct tdrv_err *err)
{
    struct tdrv_docker_run_opts o = {.cfg = cfg, .result_fd = rq->result_fd};
    cleanup_json cJSON *named = NULL;
    int rc;

    *out = NULL;
    *status = -1;
    if (!doc) {
        named = tdrv_json_xobj();
        tdrv_json_add_str(named, "alloc_id", rq->alloc_id ? rq->alloc_id : "");
        tdrv_json_add_str(named, "task", rq->task ? rq->task : "");
        doc = named;
    }
    o.follow = rq->follow;
    o.signo = rq->signal;
    o.exec_argv = rq->exec_argv;
    if (rq->exec_tty > 0)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--exec --tty: the docker driver runs --exec without a terminal");
    rc = dispatch(rq, &o, doc, out, status, err);
    if (*out && *out == named)
        named = NULL; /* the answer is the document itself: the caller owns it now */
    return rc;
}
