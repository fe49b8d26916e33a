#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "duration.h"
#include "json.h"
#include "mem.h"

#define DEFAULT_PATH "/etc/tdrv/config.yaml"
#define MAX_CONFIG (1024u * 1024u)
#define NS_PER_MIN (60LL * 1000000000LL)

/* Nomad's docker driver default allow_caps (drivers/docker/config.go). */
static const char *const default_caps[] = {
    "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",       "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT", NULL,
};
static const char *const default_runtimes[] = {"runc", "crun", NULL};

static cJSON *strlist(const char *const *v)
{
    cJSON *a = tdrv_json_xarr();

    for (; *v; v++)
        tdrv_json_append(a, tdrv_json_xstr(*v));
    return a;
}

void tdrv_config_init(struct tdrv_config *c)
{
    memset(c, 0, sizeof(*c));
    c->volumes_enabled = 1;
    c->pull_activity_timeout_ns = 2 * NS_PER_MIN;
    c->gc_image = 1;
    c->gc_image_delay_ns = 3 * NS_PER_MIN;
    c->gc_container = 1;
    c->gc_dangling_enabled = 1;
    c->gc_dangling_dry_run = 0;
    c->gc_dangling_period_ns = 5 * NS_PER_MIN;
    c->gc_dangling_creation_grace_ns = 5 * NS_PER_MIN;
    c->port_min = 20000;
    c->port_max = 32000;
}

void tdrv_config_release(struct tdrv_config *c)
{
    free(c->path);
    free(c->root);
    free(c->run_dir);
    cJSON_Delete(c->allow_caps);
    cJSON_Delete(c->allow_runtimes);
    free(c->runtime);
    free(c->auth_config);
    free(c->auth_helper);
    free(c->docker_endpoint);
    free(c->docker_tls_ca);
    free(c->docker_tls_cert);
    free(c->docker_tls_key);
    cJSON_Delete(c->reserved_ports);
    free(c->host_ip);
    free(c->datacenter);
    free(c->node_name);
    cJSON_Delete(c->meta);
    cJSON_Delete(c->raw);
    memset(c, 0, sizeof(*c));
}

__attribute__((format(printf, 3, 4))) static int bad(struct tdrv_err *err, const char *key,
                                                     const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", 0, "config.%s: %s", key, what);
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int check_keys(const cJSON *obj, const char *const *allowed, const char *prefix,
                      struct tdrv_err *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *const *a;

        for (a = allowed; *a; a++)
            if (!strcmp(*a, c->string))
                break;
        if (!*a) {
            char key[256];

            snprintf(key, sizeof(key), "%s%s", prefix, c->string);
            return bad(err, key, "unknown key");
        }
    }
    return 0;
}

/* A nested object (absent: *out = NULL), whose keys must be in `allowed`. */
static int get_obj(const cJSON *obj, const char *key, const char *path, const char *const *allowed,
                   const cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = get(obj, key);
    char prefix[256];

    *out = NULL;
    if (!v)
        return 0;
    if (!cJSON_IsObject(v))
        return bad(err, path, "expected a mapping");
    snprintf(prefix, sizeof(prefix), "%s.", path);
    if (check_keys(v, allowed, prefix, err) < 0)
        return -1;
    *out = v;
    return 0;
}

static int get_bool(const cJSON *obj, const char *key, const char *path, int *out,
                    struct tdrv_err *err)
{
    const cJSON *v = obj ? get(obj, key) : NULL;

    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return bad(err, path, "expected true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_str(const cJSON *obj, const char *key, const char *path, char **out,
                   struct tdrv_err *err)
{
    const cJSON *v = obj ? get(obj, key) : NULL;

    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return bad(err, path, "expected a string");
    if (!v->valuestring[0])
        return bad(err, path, "must not be empty");
    free(*out);
    *out = tdrv_xstrdup(v->valuestring);
    return 0;
}

static int get_dur(const cJSON *obj, const char *key, const char *path, int64_t min, int64_t *out,
                   struct tdrv_err *err)
{
    const cJSON *v = obj ? get(obj, key) : NULL;
    struct tdrv_err derr = {0};
    int64_t ns = 0;

    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return bad(err, path, "expected a duration string such as \"5m\"");
    if (tdrv_duration_parse(v->valuestring, &ns, &derr) < 0)
        return bad(err, path, "%s", derr.msg);
    if (ns < min) {
        char want[64];

        tdrv_duration_format(min, want, sizeof(want));
        return bad(err, path, "'%s' is less than the minimum %s", v->valuestring, want);
    }
    *out = ns;
    return 0;
}

static int get_strlist(const cJSON *obj, const char *key, cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = get(obj, key);
    int i = 0;

    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return bad(err, key, "expected a list of strings");
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        char path[128];

        snprintf(path, sizeof(path), "%s[%d]", key, i);
        if (!cJSON_IsString(c))
            return bad(err, path, "expected a string");
        if (!c->valuestring[0])
            return bad(err, path, "must not be empty");
    }
    cJSON_Delete(*out);
    *out = tdrv_json_xdup(v);
    return 0;
}

static int get_port(const cJSON *obj, const char *key, const char *path, uint16_t *out,
                    struct tdrv_err *err)
{
    const cJSON *v = obj ? get(obj, key) : NULL;

    if (!v)
        return 0;
    /* Range-checked as a double: casting 1e10 to int first is undefined behaviour. */
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return bad(err, path, "expected a port number");
    if (v->valuedouble < 1 || v->valuedouble > 65535)
        return bad(err, path, "%.0f is not a port number (1-65535)", v->valuedouble);
    *out = (uint16_t)v->valuedouble;
    return 0;
}

/* "80", "8000-8100" (spaces around allowed); adds a number or an "a-b" string to `out`. */
static int reserved_item(const char *s, const char *path, cJSON *out, struct tdrv_err *err)
{
    char *end = NULL;
    unsigned long a;
    unsigned long b;

    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return bad(err, path, "invalid port or range '%s'", s);
    errno = 0;
    a = strtoul(s, &end, 10);
    while (*end == ' ')
        end++;
    if (*end == '-') {
        const char *t = end + 1;

        while (*t == ' ')
            t++;
        if (*t < '0' || *t > '9')
            return bad(err, path, "invalid port or range '%s'", s);
        b = strtoul(t, &end, 10);
    } else {
        b = a;
    }
    while (*end == ' ')
        end++;
    if (errno || *end)
        return bad(err, path, "invalid port or range '%s'", s);
    if (a < 1 || a > 65535 || b < 1 || b > 65535)
        return bad(err, path, "'%s' is not in 1-65535", s);
    if (b < a)
        return bad(err, path, "range '%s' ends before it starts", s);
    if (a == b) {
        tdrv_json_append(out, tdrv_json_xnum((double)a));
    } else {
        char r[32];

        snprintf(r, sizeof(r), "%lu-%lu", a, b);
        tdrv_json_append(out, tdrv_json_xstr(r));
    }
    return 0;
}

static int get_reserved(const cJSON *ports, cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = ports ? get(ports, "reserved") : NULL;
    cleanup_json cJSON *list = NULL;
    int i = 0;

    if (!v)
        return 0;
    list = tdrv_json_xarr();
    if (cJSON_IsString(v)) {
        cleanup_free char *copy = tdrv_xstrdup(v->valuestring);
        char *p = copy;

        while (p) {
            char *comma = strchr(p, ',');

            if (comma)
                *comma = '\0';
            if (reserved_item(p, "ports.reserved", list, err) < 0)
                return -1;
            p = comma ? comma + 1 : NULL;
        }
    } else if (cJSON_IsArray(v)) {
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            char path[64];

            snprintf(path, sizeof(path), "ports.reserved[%d]", i);
            if (cJSON_IsNumber(c)) {
                if (c->valuedouble != floor(c->valuedouble) || c->valuedouble < 1 ||
                    c->valuedouble > 65535)
                    return bad(err, path, "expected a port number (1-65535)");
                tdrv_json_append(list, tdrv_json_xnum(c->valuedouble));
            } else if (cJSON_IsString(c)) {
                if (reserved_item(c->valuestring, path, list, err) < 0)
                    return -1;
            } else {
                return bad(err, path, "expected a port number or an \"a-b\" range");
            }
        }
    } else {
        return bad(err, "ports.reserved",
                   "expected a list of ports and ranges, or a string such as \"22,8000-8100\"");
    }
    cJSON_Delete(*out);
    *out = steal_ptr(&list);
    return 0;
}

static int get_meta(const cJSON *obj, cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = get(obj, "meta");
    cleanup_json cJSON *m = NULL;

    if (!v)
        return 0;
    if (!cJSON_IsObject(v))
        return bad(err, "meta", "expected a mapping of strings");
    m = tdrv_json_xobj();
    for (const cJSON *c = v->child; c; c = c->next) {
        char path[256];

        snprintf(path, sizeof(path), "meta.%s", c->string);
        if (cJSON_IsString(c)) {
            tdrv_json_add_str(m, c->string, c->valuestring);
        } else if (cJSON_IsBool(c)) {
            tdrv_json_add_str(m, c->string, cJSON_IsTrue(c) ? "true" : "false");
        } else if (cJSON_IsNumber(c)) {
            char num[64];

            /* integral and within long long: print it as an integer (no UB cast) */
            if (fabs(c->valuedouble) < 9.2e18 && c->valuedouble == floor(c->valuedouble))
                snprintf(num, sizeof(num), "%lld", (long long)c->valuedouble);
            else
                snprintf(num, sizeof(num), "%.17g", c->valuedouble);
            tdrv_json_add_str(m, c->string, num);
        } else {
            return bad(err, path, "expected a string");
        }
    }
    cJSON_Delete(*out);
    *out = steal_ptr(&m);
    return 0;
}

static const char *const top_keys[] = {
    "allow_privileged",
    "allow_caps",
    "allow_runtimes",
    "runtime",
    "volumes",
    "auth",
    "pull_activity_timeout",
    "gc",
    "endpoint",
    "tls",
    "ports",
    "host_ip",
    "datacenter",
    "node_name",
    "meta",
    "root",
    "run_dir",
    NULL,
};
static const char *const volumes_keys[] = {"enabled", NULL};
static const char *const auth_keys[] = {"config", "helper", NULL};
static const char *const gc_keys[] = {"image", "image_delay", "container", "dangling_containers",
                                      NULL};
static const char *const dangling_keys[] = {"enabled", "dry_run", "period", "creation_grace", NULL};
static const char *const tls_keys[] = {"ca", "cert", "key", NULL};
static const char *const ports_keys[] = {"min", "max", "reserved", NULL};

static int apply(struct tdrv_config *c, const cJSON *doc, struct tdrv_err *err)
{
    const cJSON *volumes = NULL;
    const cJSON *auth = NULL;
    const cJSON *gc = NULL;
    const cJSON *dangling = NULL;
    const cJSON *tls = NULL;
    const cJSON *ports = NULL;

    if (!cJSON_IsObject(doc))
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", 0,
                             "config: expected a mapping of settings");
    if (check_keys(doc, top_keys, "", err) < 0 ||
        get_obj(doc, "volumes", "volumes", volumes_keys, &volumes, err) < 0 ||
        get_obj(doc, "auth", "auth", auth_keys, &auth, err) < 0 ||
        get_obj(doc, "gc", "gc", gc_keys, &gc, err) < 0 ||
        (gc && get_obj(gc, "dangling_containers", "gc.dangling_containers", dangling_keys,
                       &dangling, err) < 0) ||
        get_obj(doc, "tls", "tls", tls_keys, &tls, err) < 0 ||
        get_obj(doc, "ports", "ports", ports_keys, &ports, err) < 0)
        return -1;

    if (get_bool(doc, "allow_privileged", "allow_privileged", &c->allow_privileged, err) < 0 ||
        get_strlist(doc, "allow_caps", &c->allow_caps, err) < 0 ||
        get_strlist(doc, "allow_runtimes", &c->allow_runtimes, err) < 0 ||
        get_str(doc, "runtime", "runtime", &c->runtime, err) < 0 ||
        get_bool(volumes, "enabled", "volumes.enabled", &c->volumes_enabled, err) < 0 ||
        get_str(auth, "config", "auth.config", &c->auth_config, err) < 0 ||
        get_str(auth, "helper", "auth.helper", &c->auth_helper, err) < 0 ||
        get_dur(doc, "pull_activity_timeout", "pull_activity_timeout", NS_PER_MIN,
                &c->pull_activity_timeout_ns, err) < 0 ||
        get_bool(gc, "image", "gc.image", &c->gc_image, err) < 0 ||
        get_dur(gc, "image_delay", "gc.image_delay", 0, &c->gc_image_delay_ns, err) < 0 ||
        get_bool(gc, "container", "gc.container", &c->gc_container, err) < 0 ||
        get_bool(dangling, "enabled", "gc.dangling_containers.enabled", &c->gc_dangling_enabled,
                 err) < 0 ||
        get_bool(dangling, "dry_run", "gc.dangling_containers.dry_run", &c->gc_dangling_dry_run,
                 err) < 0 ||
        get_dur(dangling, "period", "gc.dangling_containers.period", 1, &c->gc_dangling_period_ns,
                err) < 0 ||
        get_dur(dangling, "creation_grace", "gc.dangling_containers.creation_grace", NS_PER_MIN,
                &c->gc_dangling_creation_grace_ns, err) < 0 ||
        get_str(doc, "endpoint", "endpoint", &c->docker_endpoint, err) < 0 ||
        get_str(tls, "ca", "tls.ca", &c->docker_tls_ca, err) < 0 ||
        get_str(tls, "cert", "tls.cert", &c->docker_tls_cert, err) < 0 ||
        get_str(tls, "key", "tls.key", &c->docker_tls_key, err) < 0 ||
        get_port(ports, "min", "ports.min", &c->port_min, err) < 0 ||
        get_port(ports, "max", "ports.max", &c->port_max, err) < 0 ||
        get_reserved(ports, &c->reserved_ports, err) < 0 ||
        get_str(doc, "host_ip", "host_ip", &c->host_ip, err) < 0 ||
        get_str(doc, "datacenter", "datacenter", &c->datacenter, err) < 0 ||
        get_str(doc, "node_name", "node_name", &c->node_name, err) < 0 ||
        get_meta(doc, &c->meta, err) < 0 || get_str(doc, "root", "root", &c->root, err) < 0 ||
        get_str(doc, "run_dir", "run_dir", &c->run_dir, err) < 0)
        return -1;
    if (c->port_min > c->port_max)
        return bad(err, "ports.min", "%u is above ports.max %u", c->port_min, c->port_max);
    if (c->host_ip) {
        unsigned char addr[16];

        if (inet_pton(AF_INET, c->host_ip, addr) != 1 && inet_pton(AF_INET6, c->host_ip, addr) != 1)
            return bad(err, "host_ip", "'%s' is not an IP address", c->host_ip);
    }
    if (c->root && c->root[0] != '/')
        return bad(err, "root", "'%s' is not an absolute path", c->root);
    if (c->run_dir && c->run_dir[0] != '/')
        return bad(err, "run_dir", "'%s' is not an absolute path", c->run_dir);
    return 0;
}

/* Only whitespace and YAML comments: an empty file means all defaults. */
static int blank(const char *s)
{
    while (*s) {
        if (*s == '#') {
            while (*s && *s != '\n')
                s++;
        } else if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
        } else {
            return 0;
        }
    }
    return 1;
}

static int read_file(struct tdrv_config *c, const char *path, int must_exist, struct tdrv_err *err)
{
    cleanup_buf struct tdrv_buf b = {0};
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_json cJSON *doc = NULL;

    tdrv_buf_init(&b, MAX_CONFIG);
    if (fd < 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", errno,
                             "unable to open config '%s'", path);
    }
    if (tdrv_buf_read_fd(&b, fd, path, err) < 0) {
        err->code = TDRV_E_CONFIG;
        return tdrv_err_wrap(err, "unable to read config");
    }
    c->path = tdrv_xstrdup(path);
    if (blank(b.data))
        return 0;
    if (tdrv_doc_parse(b.data, b.len, &doc, err) < 0) {
        tdrv_err_wrap(err, "config '%s'", path);
        err->code = TDRV_E_CONFIG;
        snprintf(err->word, sizeof(err->word), "invalid_config");
        return -1;
    }
    if (!cJSON_IsNull(doc) && apply(c, doc, err) < 0)
        return -1;
    c->raw = steal_ptr(&doc);
    return 0;
}

static char *env_or(const char *name, char *cur, const char *dflt)
{
    const char *e = getenv(name);

    if (e && *e) {
        free(cur);
        return tdrv_xstrdup(e);
    }
    return cur ? cur : tdrv_xstrdup(dflt);
}

int tdrv_config_load(struct tdrv_config *c, const char *path, struct tdrv_err *err)
{
    const char *env = getenv("TDRV_CONFIG");
    int must_exist = 1;

    if (!path && env && *env)
        path = env;
    if (!path) {
        path = DEFAULT_PATH;
        must_exist = 0;
    }
    if (read_file(c, path, must_exist, err) < 0)
        return -1;
    if (!c->allow_caps)
        c->allow_caps = strlist(default_caps);
    if (!c->allow_runtimes)
        c->allow_runtimes = strlist(default_runtimes);
    if (!c->runtime)
        c->runtime = tdrv_xstrdup("runc");
    if (!c->reserved_ports)
        c->reserved_ports = tdrv_json_xarr();
    if (!c->datacenter)
        c->datacenter = tdrv_xstrdup("dc1");
    if (!c->meta)
        c->meta = tdrv_json_xobj();
    if (!c->node_name) {
        char host[256] = "";

        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
            snprintf(host, sizeof(host), "localhost");
        c->node_name = tdrv_xstrdup(host);
    }
    c->root = env_or("TDRV_ROOT", c->root, "/var/lib/tdrv");
    c->run_dir = env_or("TDRV_RUN", c->run_dir, "/run/tdrv");
    return 0;
}
