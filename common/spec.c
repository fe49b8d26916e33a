#include "spec.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "duration.h"
#include "fs.h"
#include "interp.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "quantity.h"

#define MIB (1024ULL * 1024ULL)
#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum driver {
    D_OCI = 1,
    D_RKT = 2,
    D_CTR = 4,
    D_ALL = 7,
};

/* ---- small helpers ------------------------------------------------------------------------ */

#define bad tdrv_err_invalid

__attribute__((format(printf, 2, 3))) static int denied(struct tdrv_err *err, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tdrv_err_setw(err, TDRV_E_NOPERM, "forbidden_by_config", 0, "%s", msg);
}

static int truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
        return 0;
    if (cJSON_IsString(v))
        return v->valuestring[0] != '\0';
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return v->child != NULL;
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    return 1;
}

static cJSON *xarr_strs(const char *const *v)
{
    cJSON *a = tdrv_json_xarr();

    for (; *v; v++)
        tdrv_json_append(a, tdrv_json_xstr(*v));
    return a;
}

/* A map option as object; YAML/HCL lists of one-key objects are merged. */
static int get_map(const cJSON *cfg, const char *key, cJSON **out, struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(cfg, key);
    cJSON *m;

    *out = NULL;
    if (!v)
        return 0;
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return bad(err, "config.%s: expected object", key);
    m = tdrv_json_xobj();
    if (cJSON_IsObject(v)) {
        cJSON_Delete(m);
        *out = tdrv_json_xdup(v);
        return 0;
    }
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsObject(e)) {
            cJSON_Delete(m);
            return bad(err, "config.%s: expected object", key);
        }
        for (const cJSON *k = e->child; k; k = k->next)
            tdrv_json_set(m, k->string, tdrv_json_xdup(k));
    }
    *out = m;
    return 0;
}

/* A scalar (string, number, boolean) as text, allocated (NULL for anything else): values are
 * never cut to a buffer's size. Integral numbers print without a fraction. */
static char *scalar_text(const cJSON *v)
{
    int64_t n;

    if (cJSON_IsString(v))
        return tdrv_xstrdup(v->valuestring);
    if (cJSON_IsNumber(v) && tdrv_double_to_i64(v->valuedouble, &n) == 0)
        return tdrv_xasprintf("%lld", (long long)n);
    if (cJSON_IsNumber(v))
        return tdrv_xasprintf("%g", v->valuedouble);
    if (cJSON_IsBool(v))
        return tdrv_xstrdup(cJSON_IsTrue(v) ? "true" : "false");
    return NULL;
}

/* ---- environment lists ("K=V" arrays, first position kept on override) ---------------- */

static cJSON *env_find(cJSON *env, const char *key, size_t klen)
{
    for (cJSON *c = env->child; c; c = c->next)
        if (!strncmp(c->valuestring, key, klen) && c->valuestring[klen] == '=')
            return c;
    return NULL;
}

static void env_setn(cJSON *env, const char *key, size_t klen, const char *val)
{
    char *kv = tdrv_xasprintf("%.*s=%s", (int)klen, key, val);
    cJSON *old = env_find(env, key, klen);

    if (old)
        cJSON_ReplaceItemViaPointer(env, old, tdrv_json_xstr(kv));
    else
        tdrv_json_append(env, tdrv_json_xstr(kv));
    free(kv);
}

static void env_set(cJSON *env, const char *key, const char *val)
{
    env_setn(env, key, strlen(key), val);
}

static const char *env_get(const cJSON *env, const char *key, size_t klen)
{
    for (const cJSON *c = env ? env->child : NULL; c; c = c->next)
        if (!strncmp(c->valuestring, key, klen) && c->valuestring[klen] == '=')
            return c->valuestring + klen + 1;
    return NULL;
}

/* ---- interpolation of ${...} (DESIGN §2, common/interp.c) --------------------------------------
 */

struct interp_ctx {
    cJSON *env;  /* object built from the current "K=V" list */
    cJSON *node; /* datacenter, region, unique.name */
    const struct tdrv_config *cfg;
};

static void interp_env(struct interp_ctx *ix, const cJSON *list)
{
    cJSON_Delete(ix->env);
    ix->env = tdrv_json_xobj();
    for (const cJSON *c = list ? list->child : NULL; c; c = c->next) {
        const char *eq = strchr(c->valuestring, '=');
        char *k;

        if (!eq)
            continue;
        k = tdrv_xstrndup(c->valuestring, (size_t)(eq - c->valuestring));
        tdrv_json_set(ix->env, k, tdrv_json_xstr(eq + 1));
        free(k);
    }
}

static void interp_release(struct interp_ctx *ix)
{
    cJSON_Delete(ix->env);
    cJSON_Delete(ix->node);
    ix->env = ix->node = NULL;
}

static char *interp(const struct interp_ctx *ix, const char *s)
{
    struct tdrv_interp c = {
        .env = ix->env, .meta = ix->cfg ? ix->cfg->meta : NULL, .node = ix->node, .attrs = NULL};
    struct tdrv_err e = {0};
    char *out = tdrv_interp_str(&c, s, &e);

    return out ? out : tdrv_xstrdup(s);
}

static cJSON *interp_arr(const struct interp_ctx *ix, const cJSON *arr)
{
    cJSON *out = tdrv_json_xarr();

    for (const cJSON *c = arr ? arr->child : NULL; c; c = c->next) {
        char *s = interp(ix, c->valuestring);

        tdrv_json_append(out, tdrv_json_xstr(s));
        free(s);
    }
    return out;
}

/* ---- signals -------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int tdrv_signal_parse(const char *s)
{
    uint64_t n;
    struct tdrv_err e = {0};

    if (!s || !*s)
        return 0;
    if (isdigit((unsigned char)*s))
        return tdrv_parse_u64(s, 1, 64, &n, &e) < 0 ? 0 : (int)n;
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < TDRV_ARRAY_LEN(signals); i++)
        if (!strcasecmp(s, signals[i].name))
            return signals[i].sig;
    return 0;
}

const char *tdrv_signal_name(int sig)
{
    static const char *const names[] = {
        "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",  "SIGFPE",
        "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",  "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS",
    };

    if (sig < 1 || sig > (int)TDRV_ARRAY_LEN(names))
        return NULL;
    return names[sig - 1];
}

/* ---- host detection ----------------------------------------------------------------------- */

static int64_t read_cpu_mhz(void)
{
    cleanup_fclose FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];

    while (f && fgets(line, sizeof(line), f)) {
        double mhz;

        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') + 1, "%lf", &mhz) == 1)
            return (int64_t)mhz;
    }
    return 0;
}

void tdrv_spec_host_detect(struct tdrv_spec_host *h)
{
    static struct utsname u;
    cleanup_fclose FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    struct stat st;

    memset(h, 0, sizeof(*h));
    h->cgroup_v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
    h->memory_swap =
        h->cgroup_v2 || stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", &st) == 0;
    h->swappiness = !h->cgroup_v2 && stat("/sys/fs/cgroup/memory/memory.swappiness", &st) == 0;
    h->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (h->ncpu < 1)
        h->ncpu = 1;
    h->cpu_mhz = read_cpu_mhz();
    h->cap_last = 40;
    if (!f || fscanf(f, "%d", &h->cap_last) != 1 || h->cap_last < 0 || h->cap_last > 63)
        h->cap_last = 40;
    h->arch = uname(&u) == 0 ? u.machine : "x86_64";
    {
        cleanup_fclose FILE *ps = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long long b;

        while (ps && fgets(line, sizeof(line), ps))
            if (sscanf(line, "CapBnd: %llx", &b) == 1)
                h->cap_bound = b;
    }
}

/* ---- options per driver ------------------------------------------------------------------- */

enum opt_kind {
    O_USED = 0,  /* mapped here */
    O_OTHER = 1, /* accepted, handled by another tool (pull, ports) or without effect here */
    O_UNSUP = 2, /* accepted name, but any non-empty value is not supported by this backend */
};

static const struct {
    const char *name;
    int drivers;
    int kind;
} options[] = {
    {"image", D_ALL, O_OTHER},
    {"command", D_ALL, O_USED},
    {"args", D_ALL, O_USED},
    {"entrypoint", D_OCI | D_CTR, O_USED},
    {"work_dir", D_OCI, O_USED},
    {"cwd", D_CTR, O_USED},
    {"hostname", D_OCI | D_CTR, O_USED},
    {"tty", D_ALL, O_USED},
    {"interactive", D_ALL, O_USED},
    {"inherit_env", D_RKT, O_USED},
    {"set_env_file", D_RKT, O_USED},
    {"debug", D_ALL, O_USED},
    {"no_overlay", D_ALL, O_USED},
    {"runtime", D_ALL, O_USED},
    {"logging", D_ALL, O_USED},
    {"labels", D_OCI, O_USED},
    {"memory_hard_limit", D_OCI, O_USED},
    {"cpu_hard_limit", D_OCI, O_USED},
    {"cpu_cfs_period", D_OCI, O_USED},
    {"cpuset_cpus", D_OCI | D_CTR, O_USED},
    {"cpuset_mems", D_CTR, O_USED},
    {"file_limit", D_CTR, O_USED},
    {"pids_limit", D_OCI | D_CTR, O_USED},
    {"oom_score_adj", D_OCI, O_USED},
    {"privileged", D_OCI | D_CTR, O_USED},
    {"cap_add", D_OCI | D_CTR, O_USED},
    {"cap_drop", D_OCI | D_CTR, O_USED},
    {"security_opt", D_OCI, O_USED},
    {"seccomp", D_OCI | D_CTR, O_USED},
    {"seccomp_profile", D_OCI | D_CTR, O_USED},
    {"sysctl", D_OCI | D_CTR, O_USED},
    {"ulimit", D_OCI, O_USED},
    {"readonly_rootfs", D_OCI | D_CTR, O_USED},
    {"shm_size", D_OCI | D_CTR, O_USED},
    {"group_add", D_OCI, O_USED},
    {"group", D_RKT, O_USED},
    {"devices", D_OCI | D_CTR, O_USED},
    {"mount", D_OCI, O_USED},
    {"mounts", D_OCI | D_CTR, O_USED},
    {"volumes", D_OCI | D_RKT, O_USED},
    {"network_mode", D_OCI, O_USED},
    {"host_network", D_CTR, O_USED},
    {"net", D_RKT, O_USED},
    {"host_dns", D_CTR, O_USED},
    {"dns_servers", D_OCI | D_RKT, O_USED},
    {"dns_search_domains", D_OCI | D_RKT, O_USED},
    {"dns_options", D_OCI, O_USED},
    {"extra_hosts", D_OCI | D_CTR, O_USED},
    {"pid_mode", D_OCI | D_CTR, O_USED},
    {"ipc_mode", D_OCI, O_USED},
    {"uts_mode", D_OCI, O_USED},
    {"ports", D_OCI, O_OTHER},
    {"port_map", D_OCI | D_RKT, O_OTHER},
    {"auth", D_OCI | D_CTR, O_OTHER},
    {"auth_soft_fail", D_OCI, O_OTHER},
    {"force_pull", D_OCI, O_OTHER},
    {"image_pull_timeout", D_OCI | D_CTR, O_OTHER},
    {"load", D_OCI, O_OTHER},
    {"trust_prefix", D_RKT, O_OTHER},
    {"insecure_options", D_RKT, O_OTHER},
    {"healthchecks", D_OCI, O_OTHER},
    {"container_exists_attempts", D_OCI, O_OTHER},
    {"init", D_OCI, O_UNSUP},
    {"userns_mode", D_OCI, O_UNSUP},
    {"volume_driver", D_OCI, O_UNSUP},
    {"isolation", D_OCI, O_UNSUP},
    {"network_aliases", D_OCI, O_UNSUP},
    {"ipv4_address", D_OCI, O_UNSUP},
    {"ipv6_address", D_OCI, O_UNSUP},
    {"mac_address", D_OCI, O_UNSUP},
    {"advertise_ipv6_address", D_OCI, O_UNSUP},
    {"cgroupns", D_OCI, O_UNSUP},
    {"storage_opt", D_OCI, O_UNSUP},
};

static int driver_mask(const char *d)
{
    if (!d || !strcmp(d, "oci"))
        return D_OCI;
    if (!strcmp(d, "rkt"))
        return D_RKT;
    if (!strcmp(d, "containerd-driver") || !strcmp(d, "containerd"))
        return D_CTR;
    return 0;
}

static int strarr(const cJSON *v)
{
    if (!cJSON_IsArray(v))
        return 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (!cJSON_IsString(c))
            return 0;
    return 1;
}

/* The JSON type of an option this backend does not map itself (O_OTHER, O_UNSUP), as the
 * drivers declare it: checked here, so that a wrong type is an error naming the option even
 * where tdrv-pull or tdrv-ports reads the value, or nothing does. NULL: checked elsewhere. */
static const char *other_type(const char *name, const cJSON *v)
{
    static const struct {
        const char *name;
        const char *type;
    } types[] = {
        {"tty", "boolean"},
        {"auth_soft_fail", "boolean"},
        {"force_pull", "boolean"},
        {"init", "boolean"},
        {"advertise_ipv6_address", "boolean"},
        {"image_pull_timeout", "string"},
        {"load", "string"},
        {"trust_prefix", "string"},
        {"userns_mode", "string"},
        {"volume_driver", "string"},
        {"isolation", "string"},
        {"ipv4_address", "string"},
        {"ipv6_address", "string"},
        {"mac_address", "string"},
        {"cgroupns", "string"},
        {"container_exists_attempts", "integer"},
        {"auth", "object"},
        {"healthchecks", "object"},
        {"ports", "list of strings"},
        {"insecure_options", "list of strings"},
        {"network_aliases", "list of strings"},
        {"port_map", "object or array"},
        {"storage_opt", "object or array"},
    };
    int64_t n;

    for (size_t i = 0; i < TDRV_ARRAY_LEN(types); i++) {
        const char *t = types[i].type;
        int ok;

        if (strcmp(types[i].name, name))
            continue;
        if (cJSON_IsNull(v))
            return NULL;
        ok = !strcmp(t, "boolean")  ? cJSON_IsBool(v)
             : !strcmp(t, "string") ? cJSON_IsString(v)
             : !strcmp(t, "integer")
                 ? cJSON_IsNumber(v) && tdrv_double_to_i64(v->valuedouble, &n) == 0 && n >= 0
             : !strcmp(t, "object")          ? cJSON_IsObject(v)
             : !strcmp(t, "list of strings") ? strarr(v)
                                             : cJSON_IsObject(v) || cJSON_IsArray(v);
        return ok ? NULL : t;
    }
    return NULL;
}

static int check_options(const cJSON *cfg, int drv, const char *dname, struct tdrv_err *err)
{
    for (const cJSON *c = cfg ? cfg->child : NULL; c; c = c->next) {
        size_t i;

        for (i = 0; i < TDRV_ARRAY_LEN(options); i++)
            if (!strcmp(options[i].name, c->string) && (options[i].drivers & drv))
                break;
        if (i == TDRV_ARRAY_LEN(options))
            return bad(err, "config: unknown option '%s' for driver '%s'", c->string, dname);
        if (options[i].kind != O_USED && other_type(c->string, c))
            return bad(err, "config.%s: expected %s", c->string, other_type(c->string, c));
        if (options[i].kind == O_UNSUP && truthy(c))
            return bad(err, "config.%s: not supported by the oci backend", c->string);
    }
    return 0;
}

/* ---- runtime options ------------------------------------------------------------------------ */

void tdrv_task_opts_release(struct tdrv_task_opts *o)
{
    free(o->driver);
    free(o->runtime);
    cJSON_Delete(o->files);
    cJSON_Delete(o->dirs);
    memset(o, 0, sizeof(*o));
}

/* Docker's go-units sizes, binary ("2m" = 2 MiB, "128M", "1g", "4096", "10kb"). */
static int parse_units(const char *s, uint64_t *out)
{
    char *end = NULL;
    double v;
    uint64_t mul = 1;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'b':
        end++;
        break;
    case 'k':
        mul = 1ULL << 10;
        break;
    case 'm':
        mul = 1ULL << 20;
        break;
    case 'g':
        mul = 1ULL << 30;
        break;
    case 't':
        mul = 1ULL << 40;
        break;
    case 'p':
        mul = 1ULL << 50;
        break;
    default:
        return -1;
    }
    if (mul > 1) {
        end++;
        if (tolower((unsigned char)*end) == 'i')
            end++;
        if (tolower((unsigned char)*end) == 'b')
            end++;
    }
    if (*end || v * (double)mul > 9.2e18)
        return -1;
    *out = (uint64_t)(v * (double)mul);
    return 0;
}

static int parse_logging(const cJSON *cfg, struct tdrv_task_opts *o, struct tdrv_err *err)
{
    const cJSON *lg = NULL;
    const char *type = NULL;
    cleanup_json cJSON *conf = NULL;

    if (tdrv_json_obj(cfg, "logging", TDRV_OPTIONAL, &lg, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (!lg)
        return 0;
    for (const cJSON *c = lg->child; c; c = c->next)
        if (strcmp(c->string, "type") && strcmp(c->string, "driver") && strcmp(c->string, "config"))
            return bad(err, "config.logging: unknown option '%s'", c->string);
    if (tdrv_json_str(lg, "type", TDRV_OPTIONAL, &type, err) < 0 ||
        (!type && tdrv_json_str(lg, "driver", TDRV_OPTIONAL, &type, err) < 0))
        return tdrv_err_wrap(err, "config.logging");
    if (type && *type && strcmp(type, "json-file") && strcmp(type, "local") && strcmp(type, "file"))
        return bad(err, "config.logging.type: '%s' is not supported (json-file, local, file)",
                   type);
    if (get_map(lg, "config", &conf, err) < 0)
        return tdrv_err_wrap(err, "config.logging");
    for (const cJSON *c = conf ? conf->child : NULL; c; c = c->next) {
        cleanup_free char *v = scalar_text(c);
        uint64_t n;
        struct tdrv_err e = {0};

        if (!v)
            return bad(err, "config.logging.config.%s: expected string", c->string);
        if (!strcmp(c->string, "max-size")) {
            if (parse_units(v, &n) < 0 || n < 4096)
                return bad(err, "config.logging.config.max-size: invalid size '%s'", v);
            o->log_max_size = n;
        } else if (!strcmp(c->string, "max-file")) {
            if (tdrv_parse_u64(v, 1, 100, &n, &e) < 0)
                return bad(err, "config.logging.config.max-file: %s", e.msg);
            o->log_max_files = (int)n;
        } else if (strcmp(c->string, "compress") && strcmp(c->string, "mode") &&
                   strcmp(c->string, "labels") && strcmp(c->string, "env")) {
            return bad(err, "config.logging.config: unknown option '%s'", c->string);
        }
    }
    return 0;
}

int tdrv_task_opts_parse(const cJSON *doc, const struct tdrv_config *cfg, struct tdrv_task_opts *o,
                         struct tdrv_err *err)
{
    const char *driver = NULL;
    const char *runtime = NULL;
    const char *ks = NULL;
    const cJSON *conf = tdrv_json_at(doc, "config");
    const cJSON *kt = tdrv_json_at(doc, "kill_timeout");
    int b = 0;

    memset(o, 0, sizeof(*o));
    o->kill_signal = SIGTERM;
    o->kill_timeout_ns = 5000000000LL;
    o->log_max_size = 2 * MIB;
    o->log_max_files = 2;
    if (tdrv_json_str(doc, "driver", TDRV_OPTIONAL, &driver, err) < 0)
        return -1;
    if (!driver_mask(driver))
        return bad(err,
                   "request.driver: '%s' is not a daemonless driver (oci, rkt, "
                   "containerd-driver)",
                   driver);
    o->driver = tdrv_xstrdup(driver ? driver : "oci");
    if (conf && !cJSON_IsObject(conf))
        return bad(err, "request.config: expected object");
    if (tdrv_json_str(doc, "kill_signal", TDRV_OPTIONAL, &ks, err) < 0)
        return -1;
    if (ks && *ks && !(o->kill_signal = tdrv_signal_parse(ks)))
        return bad(err, "request.kill_signal: unknown signal '%s'", ks);
    if (kt && cJSON_IsString(kt)) {
        if (tdrv_duration_parse(kt->valuestring, &o->kill_timeout_ns, err) < 0)
            return tdrv_err_wrap(err, "request.kill_timeout");
    } else if (kt && cJSON_IsNumber(kt)) { /* Nomad API jobs carry nanoseconds */
        if (tdrv_double_to_i64(kt->valuedouble, &o->kill_timeout_ns) < 0)
            return bad(err, "request.kill_timeout: expected duration (an integer of "
                            "nanoseconds)");
    } else if (kt) {
        return bad(err, "request.kill_timeout: expected duration");
    }
    if (o->kill_timeout_ns < 0)
        return bad(err, "request.kill_timeout: negative duration");
    if (tdrv_json_str(conf, "runtime", TDRV_OPTIONAL, &runtime, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (runtime && *runtime) {
        int ok = 0;

        for (const cJSON *c = cfg && cfg->allow_runtimes ? cfg->allow_runtimes->child : NULL; c;
             c = c->next)
            ok |= !strcmp(c->valuestring, runtime);
        if (!ok)
            return denied(err, "config.runtime: requested runtime '%s' is not allowed", runtime);
        if (strchr(runtime, '/'))
            return bad(err, "config.runtime: '%s' must be a name found in PATH", runtime);
    }
    o->runtime = tdrv_xstrdup(runtime && *runtime   ? runtime
                              : cfg && cfg->runtime ? cfg->runtime
                                                    : "runc");
    if (tdrv_json_bool(conf, "no_overlay", TDRV_OPTIONAL, &b, err) < 0)
        return tdrv_err_wrap(err, "config");
    o->no_overlay = b;
    b = 0;
    if (tdrv_json_bool(conf, "debug", TDRV_OPTIONAL, &b, err) < 0)
        return tdrv_err_wrap(err, "config");
    o->debug = b;
    b = 0;
    if (tdrv_json_bool(conf, "interactive", TDRV_OPTIONAL, &b, err) < 0)
        return tdrv_err_wrap(err, "config");
    o->interactive = b;
    b = 0;
    if (tdrv_json_bool(conf, "tty", TDRV_OPTIONAL, &b, err) < 0)
        return tdrv_err_wrap(err, "config");
    o->tty = b;
    return parse_logging(conf, o, err);
}

/* ---- users and groups from the image's /etc/passwd and /etc/group ---------------------------- */

static FILE *open_in_root(const char *root, const char *path)
{
    cleanup_close int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd;
    FILE *f;

    if (dfd < 0)
        return NULL;
    fd = tdrv_openat_resolved(dfd, path, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    f = fdopen(fd, "r");
    if (!f)
        close(fd);
    return f;
}

static FILE *open_etc(const struct tdrv_spec_in *in, const char *path)
{
    for (const char *const *r = in->passwd_roots; r && *r; r++) {
        FILE *f = open_in_root(*r, path);

        if (f)
            return f;
    }
    return NULL;
}

/* Split a colon-separated line into at most n fields (in place). */
static int split_colon(char *line, char **f, int n)
{
    int i = 0;

    line[strcspn(line, "\n")] = '\0';
    while (i < n) {
        f[i++] = line;
        line = strchr(line, ':');
        if (!line)
            break;
        *line++ = '\0';
    }
    return i;
}

static int is_num(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static void add_gid(cJSON *gids, uint32_t gid, uint32_t primary)
{
    if (gid == primary)
        return;
    for (const cJSON *c = gids->child; c; c = c->next)
        if ((uint32_t)c->valuedouble == gid)
            return;
    tdrv_json_append(gids, tdrv_json_xnum(gid));
}

struct user {
    uint32_t uid;
    uint32_t gid;
    char name[256];
    char home[1024];
    cJSON *gids;
};

static int lookup_group(const struct tdrv_spec_in *in, const char *g, uint32_t *gid,
                        const char *what, struct tdrv_err *err)
{
    cleanup_fclose FILE *f = NULL;
    char line[4096];
    uint64_t n;

    if (is_num(g)) {
        if (tdrv_parse_u64(g, 0, UINT32_MAX - 1, &n, err) < 0)
            return tdrv_err_wrap(err, "%s", what);
        *gid = (uint32_t)n;
        return 0;
    }
    f = open_etc(in, "/etc/group");
    while (f && fgets(line, sizeof(line), f)) {
        char *fl[4];

        if (split_colon(line, fl, 4) >= 3 && !strcmp(fl[0], g) && is_num(fl[2])) {
            *gid = (uint32_t)strtoul(fl[2], NULL, 10);
            return 0;
        }
    }
    return bad(err, "%s: unable to find group '%s': no matching entries in group file", what, g);
}

static int resolve_user(const struct tdrv_spec_in *in, const char *spec, const char *group,
                        const cJSON *group_add, struct user *u, struct tdrv_err *err)
{
    cleanup_free char *us = tdrv_xstrdup(spec && *spec ? spec : "0");
    char *gs = strchr(us, ':');
    cleanup_fclose FILE *pw = NULL;
    cleanup_fclose FILE *gr = NULL;
    char line[4096];
    int found = 0;

    if (gs)
        *gs++ = '\0';
    u->uid = 0;
    u->gid = 0;
    snprintf(u->home, sizeof(u->home), "/");
    u->name[0] = '\0';
    pw = open_etc(in, "/etc/passwd");
    while (pw && fgets(line, sizeof(line), pw)) {
        char *f[7];

        if (split_colon(line, f, 7) < 7 || !is_num(f[2]) || !is_num(f[3]))
            continue;
        if (is_num(us) ? strtoul(f[2], NULL, 10) == strtoul(us, NULL, 10) : !strcmp(f[0], us)) {
            u->uid = (uint32_t)strtoul(f[2], NULL, 10);
            u->gid = (uint32_t)strtoul(f[3], NULL, 10);
            snprintf(u->name, sizeof(u->name), "%s", f[0]);
            snprintf(u->home, sizeof(u->home), "%s", f[5]);
            found = 1;
            break;
        }
    }
    if (!found) {
        uint64_t n;

        if (!is_num(us))
            return bad(err,
                       "request.user: unable to find user '%s': no matching entries in "
                       "passwd file",
                       us);
        if (tdrv_parse_u64(us, 0, UINT32_MAX - 1, &n, err) < 0)
            return tdrv_err_wrap(err, "request.user");
        u->uid = (uint32_t)n;
    }
    if (gs && *gs && lookup_group(in, gs, &u->gid, "request.user", err) < 0)
        return -1;
    if (group && *group && lookup_group(in, group, &u->gid, "config.group", err) < 0)
        return -1;
    u->gids = tdrv_json_xarr();
    if (u->name[0] && (gr = open_etc(in, "/etc/group"))) {
        while (fgets(line, sizeof(line), gr)) {
            char *f[4];
            char *m;

            if (split_colon(line, f, 4) < 4 || !is_num(f[2]))
                continue;
            for (m = strtok_r(f[3], ",", &f[1]); m; m = strtok_r(NULL, ",", &f[1]))
                if (!strcmp(m, u->name))
                    add_gid(u->gids, (uint32_t)strtoul(f[2], NULL, 10), u->gid);
        }
    }
    for (const cJSON *g = group_add ? group_add->child : NULL; g; g = g->next) {
        uint32_t gid;

        if (lookup_group(in, g->valuestring, &gid, "config.group_add", err) < 0)
            return -1;
        add_gid(u->gids, gid, u->gid);
    }
    return 0;
}

/* ---- capabilities ---------------------------------------------------------------------------- */

static const char *const cap_names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

/* Docker's default set (moby oci/caps/defaults.go), also containerd's and rkt's (+NET_RAW). */
static const char *const docker_default_caps[] = {
    "AUDIT_WRITE", "CHOWN",   "DAC_OVERRIDE",     "FOWNER",     "FSETID",
    "KILL",        "MKNOD",   "NET_BIND_SERVICE", "NET_RAW",    "SETFCAP",
    "SETGID",      "SETPCAP", "SETUID",           "SYS_CHROOT", NULL,
};

#define CAP_ALL_BITS(last) ((last) >= 63 ? ~0ULL : ((1ULL << ((last) + 1)) - 1))

/* 0..40 for a name ("net_admin", "CAP_NET_ADMIN"), 64 for "all", -1 unknown. */
static int cap_index(const char *name)
{
    if (!strncasecmp(name, "CAP_", 4))
        name += 4;
    if (!strcasecmp(name, "ALL"))
        return 64;
    for (size_t i = 0; i < TDRV_ARRAY_LEN(cap_names); i++)
        if (!strcasecmp(name, cap_names[i]))
            return (int)i;
    return -1;
}

static int cap_mask(const cJSON *list, int last, uint64_t *mask, const char *what,
                    struct tdrv_err *err)
{
    *mask = 0;
    for (const cJSON *c = list ? list->child : NULL; c; c = c->next) {
        int i = cap_index(c->valuestring);

        if (i < 0)
            return bad(err, "%s: unknown capability '%s'", what, c->valuestring);
        *mask |= i == 64 ? CAP_ALL_BITS(last) : 1ULL << i;
    }
    return 0;
}

static cJSON *cap_list(uint64_t mask)
{
    cJSON *a = tdrv_json_xarr();

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cap_names); i++)
        if (mask & (1ULL << i)) {
            char *s = tdrv_xasprintf("CAP_%s", cap_names[i]);

            tdrv_json_append(a, tdrv_json_xstr(s));
            free(s);
        }
    return a;
}

/* ---- seccomp: a deny-list of what Docker's default profile does not allow ----------------------
 */

/*
 * Docker's default profile (moby profiles/seccomp/default.json) is an allow-list; this is the
 * same policy written as the complement for the syscalls a container can name: each group is
 * denied with EPERM unless the task holds the capability that Docker's profile requires for it.
 * clone3 gets ENOSYS so libc falls back to clone, whose namespace flags are denied too.
 */
static const struct {
    int cap; /* -1: always denied */
    const char *names;
} seccomp_deny[] = {
    {-1, "add_key keyctl request_key kexec_load kexec_file_load create_module get_kernel_syms "
         "query_module nfsservctl uselib ustat sysfs _sysctl userfaultfd vm86 vm86old "
         "swapon swapoff afs_syscall tuxcall vserver security getpmsg putpmsg"},
    {21 /* SYS_ADMIN */, "mount umount umount2 pivot_root setns unshare fsopen fsconfig fsmount "
                         "fspick move_mount open_tree mount_setattr quotactl quotactl_fd "
                         "lookup_dcookie name_to_handle_at setdomainname sethostname "
                         "fanotify_init"},
    {22 /* SYS_BOOT */, "reboot"},
    {16 /* SYS_MODULE */, "init_module finit_module delete_module"},
    {20 /* SYS_PACCT */, "acct"},
    {19 /* SYS_PTRACE */, "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev "
                          "ptrace"},
    {17 /* SYS_RAWIO */, "iopl ioperm"},
    {25 /* SYS_TIME */, "settimeofday stime clock_settime clock_adjtime adjtimex"},
    {26 /* SYS_TTY_CONFIG */, "vhangup"},
    {23 /* SYS_NICE */, "get_mempolicy mbind set_mempolicy move_pages"},
    {34 /* SYSLOG */, "syslog"},
    {39 /* BPF */, "bpf"},
    {38 /* PERFMON */, "perf_event_open"},
    {2 /* DAC_READ_SEARCH */, "open_by_handle_at"},
};

static cJSON *seccomp_rule(const char *names, const char *action, int errno_ret)
{
    cJSON *r = tdrv_json_xobj();
    cJSON *n = tdrv_json_xarr();
    cleanup_free char *copy = tdrv_xstrdup(names);
    char *save = NULL;

    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        tdrv_json_append(n, tdrv_json_xstr(t));
    tdrv_json_add(r, "names", n);
    tdrv_json_add_str(r, "action", action);
    tdrv_json_add_num(r, "errnoRet", errno_ret);
    return r;
}

static cJSON *seccomp_arches(const char *arch)
{
    static const char *const x86[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL};
    static const char *const arm[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};

    if (arch && !strcmp(arch, "aarch64"))
        return xarr_strs(arm);
    return xarr_strs(x86);
}

static cJSON *seccomp_default(uint64_t caps, const char *arch)
{
    static const unsigned long ns_flags[] = {0x00020000, 0x02000000, 0x04000000, 0x08000000,
                                             0x10000000, 0x20000000, 0x40000000};
    cJSON *s = tdrv_json_xobj();
    cJSON *rules = tdrv_json_xarr();

    tdrv_json_add_str(s, "defaultAction", "SCMP_ACT_ALLOW");
    tdrv_json_add(s, "architectures", seccomp_arches(arch));
    for (size_t i = 0; i < TDRV_ARRAY_LEN(seccomp_deny); i++)
        if (seccomp_deny[i].cap < 0 || !(caps & (1ULL << seccomp_deny[i].cap)))
            tdrv_json_append(rules, seccomp_rule(seccomp_deny[i].names, "SCMP_ACT_ERRNO", 1));
    if (!(caps & (1ULL << 21))) {
        tdrv_json_append(rules, seccomp_rule("clone3", "SCMP_ACT_ERRNO", 38 /* ENOSYS */));
        for (size_t i = 0; i < TDRV_ARRAY_LEN(ns_flags); i++) {
            cJSON *r = seccomp_rule("clone", "SCMP_ACT_ERRNO", 1);
            cJSON *args = tdrv_json_xarr();
            cJSON *a = tdrv_json_xobj();
            /* s390 swaps clone's first two arguments; every other arch has flags first */
            tdrv_json_add_num(a, "index", 0);
            tdrv_json_add_num(a, "value", (double)ns_flags[i]);
            tdrv_json_add_num(a, "valueTwo", (double)ns_flags[i]);
            tdrv_json_add_str(a, "op", "SCMP_CMP_MASKED_EQ");
            tdrv_json_append(args, a);
            tdrv_json_add(r, "args", args);
            tdrv_json_append(rules, r);
        }
    }
    tdrv_json_add(s, "syscalls", rules);
    return s;
}

/* A profile file in Docker's (moby) format or OCI's: the OCI fields are kept. */
static int seccomp_file(const char *path, const char *arch, cJSON **out, struct tdrv_err *err)
{
    cleanup_json cJSON *doc = NULL;
    cJSON *s;
    const cJSON *v;

    struct stat st;

    if (access(path, R_OK) < 0) /* before tdrv_doc_read_file, which mishandles it */
        return tdrv_err_setw(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_IO, "not_found", errno,
                             "unable to open '%s'", path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) /* a directory is a bad option, not I/O */
        return bad(err, "seccomp profile '%s': not a regular file", path);
    if (tdrv_doc_read_file(path, TDRV_MAX_REQUEST, &doc, err) < 0)
        return tdrv_err_wrap(err, "seccomp profile");
    if (!cJSON_IsObject(doc) || !cJSON_IsString(tdrv_json_at(doc, "defaultAction")))
        return bad(err, "seccomp profile '%s': expected an object with defaultAction", path);
    s = tdrv_json_xobj();
    tdrv_json_add(s, "defaultAction", tdrv_json_xdup(tdrv_json_at(doc, "defaultAction")));
    if ((v = tdrv_json_at(doc, "defaultErrnoRet")))
        tdrv_json_add(s, "defaultErrnoRet", tdrv_json_xdup(v));
    if ((v = tdrv_json_at(doc, "architectures")) && cJSON_IsArray(v))
        tdrv_json_add(s, "architectures", tdrv_json_xdup(v));
    else
        tdrv_json_add(s, "architectures", seccomp_arches(arch));
    if ((v = tdrv_json_at(doc, "syscalls")) && cJSON_IsArray(v)) {
        cJSON *rules = tdrv_json_xarr();

        for (const cJSON *r = v->child; r; r = r->next) {
            cJSON *o = tdrv_json_xobj();

            for (const char *const *k =
                     (const char *const[]){"names", "action", "errnoRet", "args", NULL};
                 *k; k++)
                if (tdrv_json_at(r, *k))
                    tdrv_json_add(o, *k, tdrv_json_xdup(tdrv_json_at(r, *k)));
            if (!tdrv_json_at(r, "names") && cJSON_IsString(tdrv_json_at(r, "name"))) {
                cJSON *n = tdrv_json_xarr();

                tdrv_json_append(n, tdrv_json_xdup(tdrv_json_at(r, "name")));
                tdrv_json_add(o, "names", n);
            }
            tdrv_json_append(rules, o);
        }
        tdrv_json_add(s, "syscalls", rules);
    }
    *out = s;
    return 0;
}

/* ---- mounts ------------------------------------------------------------------------------------
 */

static cJSON *mount_obj(const char *dst, const char *type, const char *src, const char *const *opts)
{
    cJSON *m = tdrv_json_xobj();

    tdrv_json_add_str(m, "destination", dst);
    tdrv_json_add_str(m, "type", type);
    tdrv_json_add_str(m, "source", src);
    tdrv_json_add(m, "options", xarr_strs(opts));
    return m;
}

static void add_bind(cJSON *mounts, const char *src, const char *dst, int ro)
{
    static const char *const rw[] = {"rbind", "rw", NULL};
    static const char *const rdonly[] = {"rbind", "ro", NULL};

    tdrv_json_append(mounts, mount_obj(dst, "bind", src, ro ? rdonly : rw));
}

/* Replace a mount at the same destination (later ones win, as Docker's do). */
static void mounts_put(cJSON *mounts, cJSON *m)
{
    const char *dst = cJSON_GetObjectItemCaseSensitive(m, "destination")->valuestring;

    for (cJSON *c = mounts->child; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(c, "destination")->valuestring, dst)) {
            cJSON_ReplaceItemViaPointer(mounts, c, m);
            return;
        }
    tdrv_json_append(mounts, m);
}

/* Collapse "." and ".." of an absolute path; NULL when it escapes "/". */
static char *clean_path(const char *p)
{
    cleanup_free char *copy = tdrv_xstrdup(p);
    char *out = tdrv_xcalloc(1, strlen(p) + 2);
    char *save = NULL;
    size_t len = 0;

    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, "."))
            continue;
        if (!strcmp(t, "..")) {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            out[len] = '\0';
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, t, strlen(t));
        len += strlen(t);
        out[len] = '\0';
    }
    if (!len)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

static int path_within(const char *p, const char *dir)
{
    size_t n = strlen(dir);

    return !strncmp(p, dir, n) && (p[n] == '/' || p[n] == '\0');
}

/* A host path of a volume/bind source: relative ones are under the task dir. */
static int host_source(const struct tdrv_spec_in *in, const char *src, const char *what, char **out,
                       struct tdrv_err *err)
{
    cleanup_free char *joined =
        src[0] == '/' ? tdrv_xstrdup(src) : tdrv_xasprintf("%s/%s", in->task_dir, src);
    cleanup_free char *p = clean_path(joined);
    int enabled = in->cfg ? in->cfg->volumes_enabled : 1;

    if (!enabled && !path_within(p, in->alloc_dir))
        return denied(err,
                      "%s: volumes are disabled by the operator; '%s' is outside the "
                      "allocation directory",
                      what, src);
    *out = steal_ptr(&p);
    return 0;
}

/* ---- rkt's environment options (tdrv extensions for its --inherit-env, --set-env-file) --------
 */

#define ENV_FILE_MAX (1024u * 1024u)

/* inherit_env: tdrv-run's own environment, under everything else (rkt's --inherit-env). */
static int inherit_env(const struct tdrv_spec_in *in, const cJSON *conf, cJSON *env,
                       struct tdrv_err *err)
{
    int on = 0;

    if (tdrv_json_bool(conf, "inherit_env", TDRV_OPTIONAL, &on, err) < 0)
        return tdrv_err_wrap(err, "config");
    for (const char *const *e = on ? in->parent_env : NULL; e && *e; e++) {
        const char *eq = strchr(*e, '=');

        if (eq && eq != *e)
            env_setn(env, *e, (size_t)(eq - *e), eq + 1);
    }
    return 0;
}

/* Open an env file; with volumes disabled, only beneath the allocation directory, whatever
 * symbolic links it holds. */
static int env_file_open(const struct tdrv_spec_in *in, const char *path, struct tdrv_err *err)
{
    int fd;

    if (in->cfg && !in->cfg->volumes_enabled) {
        size_t n = strlen(in->alloc_dir);
        cleanup_close int dfd = open(in->alloc_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

        fd = dfd < 0
                 ? -1
                 : tdrv_openat_resolved(dfd, path[n] ? path + n + 1 : ".", O_RDONLY | O_NOCTTY, 1);
        if (fd < 0 && errno == EXDEV)
            return denied(err,
                          "config.set_env_file: volumes are disabled by the operator; '%s' "
                          "leads outside the allocation directory",
                          path);
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    }
    if (fd < 0)
        return tdrv_err_setw(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_IO,
                             errno == ENOENT ? "env_file_not_found" : "io_error", errno,
                             "config.set_env_file: unable to open '%s'", path);
    {
        struct stat st;

        /* a directory or a device is a wrong value, not an I/O failure */
        if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
            close(fd);
            return bad(err, "config.set_env_file: '%s' is not a regular file", path);
        }
    }
    return fd;
}

/*
 * set_env_file: NAME=VALUE lines, as rkt's --set-env-file reads them: empty lines and lines
 * starting with '#' or ';' are skipped, a line ending in CR loses it, the value is taken as
 * written (no quotes, no interpolation); a line without '=' or with an empty NAME, and a NAME
 * given twice, are errors. Applied over the image's environment.
 */
static int env_file(const struct tdrv_spec_in *in, const cJSON *conf, cJSON *env,
                    struct tdrv_err *err)
{
    const char *src = NULL;
    cleanup_free char *path = NULL;
    cleanup_buf struct tdrv_buf b = {0};
    cleanup_json cJSON *seen = NULL;
    cleanup_close int fd = -1;
    char *line;
    int no = 0;

    if (tdrv_json_str(conf, "set_env_file", TDRV_OPTIONAL, &src, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (!src || !*src)
        return 0;
    if (host_source(in, src, "config.set_env_file", &path, err) < 0)
        return -1;
    if ((fd = env_file_open(in, path, err)) < 0)
        return -1;
    tdrv_buf_init(&b, ENV_FILE_MAX);
    if (tdrv_buf_read_fd(&b, fd, path, err) < 0)
        return tdrv_err_wrap(err, "config.set_env_file");
    if (memchr(b.data, '\0', b.len))
        return bad(err, "config.set_env_file: '%s' holds a NUL byte", src);
    seen = tdrv_json_xobj();
    for (line = b.data; line < b.data + b.len; no++) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : b.data + b.len;
        char *eq;

        if (nl)
            *nl = '\0';
        if (nl && nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        else if (!nl && b.len && b.data[b.len - 1] == '\r')
            b.data[b.len - 1] = '\0';
        eq = strchr(line, '=');
        if (*line && *line != '#' && *line != ';') {
            if (!eq || eq == line)
                return bad(err, "config.set_env_file: '%s' line %d: expected NAME=VALUE", src,
                           no + 1);
            *eq = '\0';
            if (cJSON_GetObjectItemCaseSensitive(seen, line))
                return bad(err, "config.set_env_file: '%s' line %d: '%s' is set twice", src, no + 1,
                           line);
            tdrv_json_add_bool(seen, line, 1);
            env_set(env, line, eq + 1);
        }
        line = next;
    }
    return 0;
}

static int container_path(const char *p, const char *what, struct tdrv_err *err)
{
    if (!p || p[0] != '/')
        return bad(err, "%s: container path '%s' must be absolute", what, p ? p : "");
    return 0;
}

/* volumes = ["host:container[:mode]"], mode "ro"/"readOnly"/"rw"/"z"... */
static int map_volumes(const struct tdrv_spec_in *in, const struct interp_ctx *ix,
                       const cJSON *list, int drv, cJSON *mounts, struct tdrv_err *err)
{
    int i = 0;

    for (const cJSON *c = list ? list->child : NULL; c; c = c->next, i++) {
        cleanup_free char *s = interp(ix, c->valuestring);
        cleanup_free char *src = NULL;
        char what[64];
        char *parts[4] = {0};
        int n = 0;
        int ro = 0;
        char *p = s;

        snprintf(what, sizeof(what), "config.volumes[%d]", i);
        while (p && n < 4) {
            parts[n++] = p;
            p = strchr(p, ':');
            if (p)
                *p++ = '\0';
        }
        if (n < 2 || n > 3 || p)
            return bad(err, "%s: invalid volume '%s' (host:container[:mode])", what,
                       c->valuestring);
        if (n == 3) {
            cleanup_free char *m = tdrv_xstrdup(parts[2]);
            char *save = NULL;

            for (char *t = strtok_r(m, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "ro") || !strcmp(t, "readOnly"))
                    ro = 1;
                else if (drv == D_RKT)
                    tdrv_warn("%s: mode '%s' is not 'readOnly'; mounted read-write", what, t);
                else if (strcmp(t, "rw") && strcmp(t, "z") && strcmp(t, "Z") &&
                         strcmp(t, "nocopy") && strcmp(t, "rprivate") && strcmp(t, "private"))
                    return bad(err, "%s: unknown volume mode '%s'", what, t);
            }
        }
        if (!parts[0][0])
            return bad(err, "%s: empty host path", what);
        if (container_path(parts[1], what, err) < 0 ||
            host_source(in, parts[0], what, &src, err) < 0)
            return -1;
        mounts_put(mounts, mount_obj(parts[1], "bind", src,
                                     ro ? (const char *const[]){"rbind", "ro", NULL}
                                        : (const char *const[]){"rbind", "rw", NULL}));
    }
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s || *s == '.')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return 1;
}

/* Docker-style mounts: {type, target, source, readonly, bind_options, tmpfs_options, ...}. */
static int map_mount_docker(const struct tdrv_spec_in *in, const struct interp_ctx *ix,
                            const cJSON *m, const char *what, cJSON *mounts,
                            struct tdrv_task_opts *o, struct tdrv_err *err)
{
    static const char *const keys[] = {
        "type",         "target",        "source",         "readonly",
        "bind_options", "tmpfs_options", "volume_options", NULL};
    const char *type = "volume";
    const char *target = NULL;
    const char *source = "";
    const cJSON *bo = NULL;
    const cJSON *to = NULL;
    const char *prop = NULL;
    cleanup_free char *tgt = NULL;
    cleanup_free char *src = NULL;
    cJSON *opts;
    cJSON *mo;
    int ro = 0;

    if (!cJSON_IsObject(m))
        return bad(err, "%s: expected object", what);
    if (tdrv_json_check_keys(m, keys, what, err) < 0 ||
        tdrv_json_str(m, "type", TDRV_OPTIONAL, &type, err) < 0 ||
        tdrv_json_str(m, "target", TDRV_REQUIRED, &target, err) < 0 ||
        tdrv_json_str(m, "source", TDRV_OPTIONAL, &source, err) < 0 ||
        tdrv_json_bool(m, "readonly", TDRV_OPTIONAL, &ro, err) < 0 ||
        tdrv_json_obj(m, "bind_options", TDRV_OPTIONAL, &bo, err) < 0 ||
        tdrv_json_obj(m, "tmpfs_options", TDRV_OPTIONAL, &to, err) < 0 ||
        tdrv_json_str(bo, "propagation", TDRV_OPTIONAL, &prop, err) < 0)
        return tdrv_err_wrap(err, "%s", what);
    tgt = interp(ix, target);
    if (container_path(tgt, what, err) < 0)
        return -1;
    opts = tdrv_json_xarr();
    mo = tdrv_json_xobj();
    tdrv_json_add_str(mo, "destination", tgt);
    if (!strcmp(type, "bind")) {
        cleanup_free char *s = interp(ix, source);

        if (!*s || host_source(in, s, what, &src, err) < 0) {
            cJSON_Delete(opts);
            cJSON_Delete(mo);
            return *s ? -1 : bad(err, "%s: bind mount needs a source", what);
        }
        tdrv_json_append(opts, tdrv_json_xstr("rbind"));
        if (prop && *prop) {
            if (strcmp(prop, "private") && strcmp(prop, "rprivate") && strcmp(prop, "shared") &&
                strcmp(prop, "rshared") && strcmp(prop, "slave") && strcmp(prop, "rslave")) {
                cJSON_Delete(opts);
                cJSON_Delete(mo);
                return bad(err, "%s.bind_options.propagation: invalid '%s'", what, prop);
            }
            tdrv_json_append(opts, tdrv_json_xstr(prop));
        }
        tdrv_json_add_str(mo, "type", "bind");
        tdrv_json_add_str(mo, "source", src);
    } else if (!strcmp(type, "tmpfs")) {
        int64_t size = 0;
        int64_t mode = -1;

        if (*source) {
            cJSON_Delete(opts);
            cJSON_Delete(mo);
            return bad(err, "%s: tmpfs mounts take no source", what);
        }
        if (tdrv_json_i64(to, "size", TDRV_OPTIONAL, 0, INT64_MAX, &size, err) < 0 ||
            tdrv_json_i64(to, "mode", TDRV_OPTIONAL, 0, 07777, &mode, err) < 0) {
            cJSON_Delete(opts);
            cJSON_Delete(mo);
            return tdrv_err_wrap(err, "%s.tmpfs_options", what);
        }
        tdrv_json_append(opts, tdrv_json_xstr("nosuid"));
        tdrv_json_append(opts, tdrv_json_xstr("nodev"));
        if (size > 0) {
            char *s = tdrv_xasprintf("size=%lld", (long long)size);
            tdrv_json_append(opts, tdrv_json_xstr(s));
            free(s);
        }
        if (mode >= 0) {
            char *s = tdrv_xasprintf("mode=%llo", (long long)mode);
            tdrv_json_append(opts, tdrv_json_xstr(s));
            free(s);
        }
        tdrv_json_add_str(mo, "type", "tmpfs");
        tdrv_json_add_str(mo, "source", "tmpfs");
    } else if (!strcmp(type, "volume")) {
        cleanup_free char *s = interp(ix, source);

        if (in->cfg && !in->cfg->volumes_enabled) {
            cJSON_Delete(opts);
            cJSON_Delete(mo);
            return denied(err, "%s: volume mounts are disabled by the operator", what);
        }
        if (*s && !valid_name(s)) {
            cJSON_Delete(opts);
            cJSON_Delete(mo);
            return bad(err, "%s: invalid volume name '%s'", what, s);
        }
        /* a named volume lives on under $TDRV_ROOT/volumes; an anonymous one in the task dir */
        src = *s ? tdrv_xasprintf("%s/%s", in->volumes_dir, s)
                 : tdrv_xasprintf("%s/volumes/%s", in->task_dir, what);
        if (o)
            tdrv_json_append(o->dirs, tdrv_json_xstr(src));
        tdrv_json_append(opts, tdrv_json_xstr("rbind"));
        tdrv_json_add_str(mo, "type", "bind");
        tdrv_json_add_str(mo, "source", src);
    } else {
        cJSON_Delete(opts);
        cJSON_Delete(mo);
        return bad(err, "%s.type: '%s' is not one of bind, volume, tmpfs", what, type);
    }
    tdrv_json_append(opts, tdrv_json_xstr(ro ? "ro" : "rw"));
    tdrv_json_add(mo, "options", opts);
    mounts_put(mounts, mo);
    return 0;
}

/* containerd-driver mounts: {type, target, source, options: [fstab options]}. */
static int map_mount_ctr(const struct tdrv_spec_in *in, const struct interp_ctx *ix, const cJSON *m,
                         const char *what, cJSON *mounts, struct tdrv_err *err)
{
    static const char *const keys[] = {"type", "target", "source", "options", NULL};
    const char *type = "volume";
    const char *target = NULL;
    const char *source = "";
    const cJSON *opts = NULL;
    cleanup_free char *tgt = NULL;
    cleanup_free char *src = NULL;
    cJSON *mo;

    if (!cJSON_IsObject(m))
        return bad(err, "%s: expected object", what);
    if (tdrv_json_check_keys(m, keys, what, err) < 0 ||
        tdrv_json_str(m, "type", TDRV_OPTIONAL, &type, err) < 0 ||
        tdrv_json_str(m, "target", TDRV_REQUIRED, &target, err) < 0 ||
        tdrv_json_str(m, "source", TDRV_OPTIONAL, &source, err) < 0 ||
        tdrv_json_strarr(m, "options", TDRV_OPTIONAL, &opts, err) < 0)
        return tdrv_err_wrap(err, "%s", what);
    if (strcmp(type, "bind") && strcmp(type, "volume") && strcmp(type, "tmpfs"))
        return bad(err, "%s.type: '%s' is not one of bind, volume, tmpfs", what, type);
    if (strcmp(type, "tmpfs") && (!opts || !opts->child))
        return bad(err,
                   "%s: options cannot be empty for mount type %s; you need to at least "
                   "pass rbind and ro",
                   what, type);
    tgt = interp(ix, target);
    if (container_path(tgt, what, err) < 0)
        return -1;
    mo = tdrv_json_xobj();
    tdrv_json_add_str(mo, "destination", tgt);
    if (!strcmp(type, "tmpfs")) {
        tdrv_json_add_str(mo, "type", "tmpfs");
        tdrv_json_add_str(mo, "source", "tmpfs");
    } else {
        cleanup_free char *s = interp(ix, source);

        /* the driver rewrote a "local..." source to the task's local dir (issue #116) */
        if (!*s || host_source(in, s, what, &src, err) < 0) {
            cJSON_Delete(mo);
            return *s ? -1 : bad(err, "%s: %s mount needs a source", what, type);
        }
        tdrv_json_add_str(mo, "type", "bind");
        tdrv_json_add_str(mo, "source", src);
    }
    tdrv_json_add(mo, "options", opts ? tdrv_json_xdup(opts) : tdrv_json_xarr());
    mounts_put(mounts, mo);
    return 0;
}

/* ---- devices --------------------------------------------------------------------------------- */

static int add_device(const char *host, const char *ctr, const char *perms, const char *what,
                      cJSON *devs, cJSON *allow, struct tdrv_err *err)
{
    struct stat st;
    cJSON *d;
    cJSON *a;

    if (!host || !*host)
        return bad(err, "%s: host path must be set", what);
    if (strspn(perms, "rwm") != strlen(perms))
        return bad(err, "%s: invalid cgroup permission string '%s'", what, perms);
    if (stat(host, &st) < 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "device_not_found", errno,
                             "%s: unable to stat '%s'", what, host);
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return bad(err, "%s: '%s' is not a device", what, host);
    d = tdrv_json_xobj();
    tdrv_json_add_str(d, "path", ctr && *ctr ? ctr : host);
    tdrv_json_add_str(d, "type", S_ISCHR(st.st_mode) ? "c" : "b");
    tdrv_json_add_num(d, "major", major(st.st_rdev));
    tdrv_json_add_num(d, "minor", minor(st.st_rdev));
    tdrv_json_add_num(d, "fileMode", st.st_mode & 07777);
    tdrv_json_add_num(d, "uid", 0);
    tdrv_json_add_num(d, "gid", 0);
    tdrv_json_append(devs, d);
    a = tdrv_json_xobj();
    tdrv_json_add_bool(a, "allow", 1);
    tdrv_json_add_str(a, "type", S_ISCHR(st.st_mode) ? "c" : "b");
    tdrv_json_add_num(a, "major", major(st.st_rdev));
    tdrv_json_add_num(a, "minor", minor(st.st_rdev));
    tdrv_json_add_str(a, "access", *perms ? perms : "rwm");
    tdrv_json_append(allow, a);
    return 0;
}

/* privileged: the host's devices (the top of /dev), as docker --privileged gives them; the
 * runtime's own (null, zero, tty, ...) and the container's /dev/pts, shm, mqueue excepted */
static void host_devices(cJSON *devs)
{
    static const char *const skip[] = {"null", "zero",    "full", "random", "urandom",
                                       "tty",  "console", "ptmx", NULL};
    DIR *d = opendir("/dev");
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char path[300];
        struct stat st;
        const char *const *k;
        cJSON *o;

        for (k = skip; *k && strcmp(*k, e->d_name); k++)
            ;
        if (*k || e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/dev/%s", e->d_name);
        if (lstat(path, &st) < 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
            continue;
        o = tdrv_json_xobj();
        tdrv_json_add_str(o, "path", path);
        tdrv_json_add_str(o, "type", S_ISCHR(st.st_mode) ? "c" : "b");
        tdrv_json_add_num(o, "major", major(st.st_rdev));
        tdrv_json_add_num(o, "minor", minor(st.st_rdev));
        tdrv_json_add_num(o, "fileMode", st.st_mode & 07777);
        tdrv_json_add_num(o, "uid", st.st_uid);
        tdrv_json_add_num(o, "gid", st.st_gid);
        tdrv_json_append(devs, o);
    }
    if (d)
        closedir(d);
}

static int map_devices(const cJSON *list, cJSON *devs, cJSON *allow, struct tdrv_err *err)
{
    int i = 0;

    if (list && !cJSON_IsArray(list))
        return bad(err, "config.devices: expected array");
    for (const cJSON *c = list ? list->child : NULL; c; c = c->next, i++) {
        char what[64];
        const char *host = NULL;
        const char *ctr = NULL;
        const char *perms = "rwm";
        static const char *const keys[] = {"host_path", "container_path", "cgroup_permissions",
                                           NULL};

        snprintf(what, sizeof(what), "config.devices[%d]", i);
        if (cJSON_IsString(c)) {
            host = c->valuestring;
        } else if (cJSON_IsObject(c)) {
            if (tdrv_json_check_keys(c, keys, what, err) < 0 ||
                tdrv_json_str(c, "host_path", TDRV_OPTIONAL, &host, err) < 0 ||
                tdrv_json_str(c, "container_path", TDRV_OPTIONAL, &ctr, err) < 0 ||
                tdrv_json_str(c, "cgroup_permissions", TDRV_OPTIONAL, &perms, err) < 0)
                return tdrv_err_wrap(err, "%s", what);
        } else {
            return bad(err, "%s: expected string or object", what);
        }
        if (add_device(host, ctr, perms, what, devs, allow, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- resources ---------------------------------------------------------------------------------
 */

/* An integer in Nomad units (MiB, MHz) or a Kubernetes quantity string. */
static int res_bytes(const cJSON *res, const char *key, uint64_t *bytes, int *set,
                     struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(res, key);

    *set = 0;
    if (!v)
        return 0;
    if (cJSON_IsString(v)) {
        if (tdrv_quantity_parse_bytes(v->valuestring, bytes, err) < 0)
            return tdrv_err_wrap(err, "request.resources.%s", key);
    } else if (cJSON_IsNumber(v) && v->valuedouble == -1 && !strcmp(key, "memory_max")) {
        *bytes = UINT64_MAX; /* memory_max = -1: no limit (memory = -1 is an error) */
    } else {
        int64_t n;

        if (tdrv_json_i64(res, key, TDRV_REQUIRED, 0, INT64_MAX / (int64_t)MIB, &n, err) < 0)
            return bad(err, "request.resources.%s: expected MiB (0..%lld) or a quantity", key,
                       (long long)(INT64_MAX / (int64_t)MIB));
        *bytes = (uint64_t)n * MIB;
    }
    *set = 1;
    return 0;
}

struct res_out {
    int64_t cpu_mhz; /* NOMAD_CPU_LIMIT, -1 unset */
    int64_t mem_mib; /* NOMAD_MEMORY_LIMIT, -1 unset */
    int64_t max_mib; /* NOMAD_MEMORY_MAX_LIMIT, -1 unset */
};

static int map_resources(const struct tdrv_spec_in *in, const cJSON *conf, int drv,
                         cJSON *resources, struct res_out *ro, struct tdrv_err *err)
{
    const cJSON *res = tdrv_json_at(in->doc, "resources");
    const struct tdrv_spec_host *h = in->host;
    uint64_t mem = 0;
    uint64_t mmax = 0;
    int mem_set = 0;
    int max_set = 0;
    int64_t hard = 0;
    int64_t milli = -1;
    int64_t mhz = -1;
    int hard_limit = 0;
    int64_t period = 100000;
    int64_t pids = 0;
    const char *cpuset = NULL;
    const char *mems = NULL;
    cJSON *cpu = tdrv_json_xobj();
    cJSON *memo = tdrv_json_xobj();
    const cJSON *cv;

    ro->cpu_mhz = ro->mem_mib = ro->max_mib = -1;
    if (res && !cJSON_IsObject(res)) {
        cJSON_Delete(cpu);
        cJSON_Delete(memo);
        return bad(err, "request.resources: expected object");
    }
    if (res_bytes(res, "memory", &mem, &mem_set, err) < 0 ||
        res_bytes(res, "memory_max", &mmax, &max_set, err) < 0 ||
        tdrv_json_i64(conf, "memory_hard_limit", TDRV_OPTIONAL, 0, INT64_MAX / (int64_t)MIB, &hard,
                      err) < 0 ||
        tdrv_json_bool(conf, "cpu_hard_limit", TDRV_OPTIONAL, &hard_limit, err) < 0 ||
        tdrv_json_i64(conf, "cpu_cfs_period", TDRV_OPTIONAL, 0, 1000000, &period, err) < 0 ||
        tdrv_json_i64(conf, "pids_limit", TDRV_OPTIONAL, 0, INT64_MAX, &pids, err) < 0 ||
        tdrv_json_str(conf, "cpuset_cpus", TDRV_OPTIONAL, &cpuset, err) < 0 ||
        tdrv_json_str(conf, "cpuset_mems", TDRV_OPTIONAL, &mems, err) < 0) {
        cJSON_Delete(cpu);
        cJSON_Delete(memo);
        return -1;
    }
    (void)drv;
    if (period == 0)
        period = 100000;
    if (period < 1000) {
        cJSON_Delete(cpu);
        cJSON_Delete(memo);
        return bad(err, "config.cpu_cfs_period: invalid value %lld (1000..1000000)",
                   (long long)period);
    }
    cv = tdrv_json_at(res, "cpu");
    if (cv && cJSON_IsString(cv)) {
        if (tdrv_quantity_parse_milli(cv->valuestring, &milli, err) < 0 || milli < 0) {
            cJSON_Delete(cpu);
            cJSON_Delete(memo);
            return err->code ? tdrv_err_wrap(err, "request.resources.cpu")
                             : bad(err, "request.resources.cpu: negative");
        }
        mhz = h->cpu_mhz > 0 ? milli * h->cpu_mhz / 1000 : milli;
    } else if (cv) {
        if (tdrv_json_i64(res, "cpu", TDRV_REQUIRED, 0, INT32_MAX, &mhz, err) < 0) {
            cJSON_Delete(cpu);
            cJSON_Delete(memo);
            return tdrv_err_wrap(err, "request");
        }
    }
    if (mhz >= 0) {
        /* Nomad: shares = MHz; a quantity: 1024 shares per core, as Kubernetes */
        int64_t shares = milli >= 0 ? milli * 1024 / 1000 : mhz;

        ro->cpu_mhz = mhz;
        if (shares < 2)
            shares = 2;
        if (shares > 262144)
            shares = 262144;
        tdrv_json_add_num(cpu, "shares", (double)shares);
        if (hard_limit) {
            /* Nomad: quota = period * ncpu * MHz / total MHz = period * MHz / core MHz */
            int64_t quota = milli >= 0       ? period * milli / 1000
                            : h->cpu_mhz > 0 ? period * mhz / h->cpu_mhz
                                             : period * mhz / 1000;
            if (quota < 1000)
                quota = 1000;
            tdrv_json_add_num(cpu, "quota", (double)quota);
            tdrv_json_add_num(cpu, "period", (double)period);
        }
    } else if (hard_limit) {
        cJSON_Delete(cpu);
        cJSON_Delete(memo);
        return bad(err, "config.cpu_hard_limit: needs resources.cpu");
    }
    if (cpuset && *cpuset)
        tdrv_json_add_str(cpu, "cpus", cpuset);
    if (mems && *mems)
        tdrv_json_add_str(cpu, "mems", mems);
    if (cpu->child)
        tdrv_json_add(resources, "cpu", cpu);
    else
        cJSON_Delete(cpu);

    /* memory as the docker driver maps it (memoryLimits) */
    if (mem_set || max_set || hard) {
        uint64_t limit = 0;
        uint64_t reservation = 0;

        if (max_set && mmax == UINT64_MAX) {
            reservation = mem;
        } else {
            uint64_t hi = (uint64_t)hard * MIB;

            if (max_set && mmax > hi)
                hi = mmax;
            if (hi == 0) {
                limit = mem;
            } else {
                limit = hi;
                reservation = mem;
            }
        }
        if (limit && reservation > limit) {
            cJSON_Delete(memo);
            return bad(err,
                       "request.resources.memory: task memory requirements exceed driver "
                       "hard limit of %llu MB",
                       (unsigned long long)(limit / MIB));
        }
        if (limit && limit < 4 * MIB) {
            cJSON_Delete(memo);
            /* name what set the limit: the driver's hard limit, memory_max or memory */
            return bad(err, "%s: limit of %llu bytes is too low (minimum 4 MiB)",
                       hard && limit == (uint64_t)hard * MIB ? "config.memory_hard_limit"
                       : max_set && limit == mmax            ? "request.resources.memory_max"
                                                             : "request.resources.memory",
                       (unsigned long long)limit);
        }
        if (limit) {
            tdrv_json_add_num(memo, "limit", (double)limit);
            if (h->memory_swap)
                tdrv_json_add_num(memo, "swap", (double)limit); /* swap off */
            ro->mem_mib = (int64_t)(limit / MIB);
        }
        if (reservation) {
            tdrv_json_add_num(memo, "reservation", (double)reservation);
            ro->mem_mib = (int64_t)(reservation / MIB);
            if (limit)
                ro->max_mib = (int64_t)(limit / MIB);
        }
        if (h->swappiness)
            tdrv_json_add_num(memo, "swappiness", 0);
    }
    if (memo->child)
        tdrv_json_add(resources, "memory", memo);
    else
        cJSON_Delete(memo);
    if (pids > 0) {
        cJSON *p = tdrv_json_xobj();

        tdrv_json_add_num(p, "limit", (double)pids);
        tdrv_json_add(resources, "pids", p);
    }
    return 0;
}

/* ---- process: command, user, env, caps, rlimits ------------------------------------------------
 */

static const cJSON *img(const struct tdrv_spec_in *in, const char *key)
{
    const cJSON *c = in->image_config;
    const cJSON *inner = tdrv_json_at(c, "config");

    /* accept the whole image config ({"config": {...}, "rootfs": ...}) or its "config" */
    if (inner && cJSON_IsObject(inner))
        c = inner;
    return tdrv_json_at(c, key);
}

static void append_all(cJSON *dst, const cJSON *src)
{
    for (const cJSON *c = src ? src->child : NULL; c; c = c->next)
        if (cJSON_IsString(c))
            tdrv_json_append(dst, tdrv_json_xstr(c->valuestring));
}

static int map_args(const struct tdrv_spec_in *in, const struct interp_ctx *ix, const cJSON *conf,
                    int drv, cJSON **out, struct tdrv_err *err)
{
    const char *command = NULL;
    const cJSON *args = NULL;
    const cJSON *ep = NULL;
    const cJSON *iep = img(in, "Entrypoint");
    const cJSON *icmd = img(in, "Cmd");
    cleanup_json cJSON *a = tdrv_json_xarr();
    cleanup_json cJSON *xargs = NULL;
    cleanup_free char *cmd = NULL;

    if (tdrv_json_str(conf, "command", TDRV_OPTIONAL, &command, err) < 0 ||
        tdrv_json_strarr(conf, "args", TDRV_OPTIONAL, &args, err) < 0 ||
        tdrv_json_strarr(conf, "entrypoint", TDRV_OPTIONAL, &ep, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (ep && !ep->child)
        ep = NULL; /* entrypoint = []: the image's, as the drivers (len(Entrypoint) > 0) */
    if (command) {
        if (!*command)
            return bad(err, "config.command: empty");
        if (isspace((unsigned char)command[0]) ||
            isspace((unsigned char)command[strlen(command) - 1]))
            return bad(err, "config.command: command contains extra white space");
        cmd = interp(ix, command);
    }
    xargs = args ? interp_arr(ix, args) : NULL;
    if (drv == D_CTR && command && ep)
        return bad(err, "config: both command and entrypoint are set; only one of them can be "
                        "set");
    if (drv == D_RKT) {
        /* --exec replaces the app's exec; args follow it */
        if (cmd) {
            tdrv_json_append(a, tdrv_json_xstr(cmd));
        } else {
            append_all(a, iep);
            append_all(a, icmd);
        }
    } else if (ep) {
        cleanup_json cJSON *xep = interp_arr(ix, ep);

        /* containerd: entrypoint[0] == "" means only args */
        if (!(drv == D_CTR && xep->child && !xep->child->valuestring[0]))
            append_all(a, xep);
        if (cmd) /* an entrypoint drops the image's Cmd, as docker run --entrypoint */
            tdrv_json_append(a, tdrv_json_xstr(cmd));
    } else {
        append_all(a, iep);
        if (cmd)
            tdrv_json_append(a, tdrv_json_xstr(cmd));
        else if (!xargs || !xargs->child) /* args = [] is no args, as the drivers do */
            append_all(a, icmd);
    }
    append_all(a, xargs);
    if (!a->child)
        return bad(err, "config.command: no command given and the image has no Entrypoint or "
                        "Cmd");
    *out = steal_ptr(&a);
    return 0;
}

static int add_rlimit(cJSON *rl, const char *name, uint64_t soft, uint64_t hard)
{
    char *type = tdrv_xasprintf("RLIMIT_%s", name);
    cJSON *o = tdrv_json_xobj();

    for (char *p = type; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (cJSON *c = rl->child; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(c, "type")->valuestring, type)) {
            cJSON_DetachItemViaPointer(rl, c);
            cJSON_Delete(c);
            break;
        }
    tdrv_json_add_str(o, "type", type);
    tdrv_json_add_num(o, "hard", (double)hard);
    tdrv_json_add_num(o, "soft", (double)soft);
    tdrv_json_append(rl, o);
    free(type);
    return 0;
}

static int map_ulimits(const cJSON *conf, cJSON *rl, struct tdrv_err *err)
{
    static const char *const known[] = {
        "as",     "core",  "cpu", "data",   "fsize",  "locks",      "memlock", "msgqueue", "nice",
        "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",   NULL};
    cleanup_json cJSON *m = NULL;
    int64_t file_limit = 0;

    if (tdrv_json_i64(conf, "file_limit", TDRV_OPTIONAL, 1, INT32_MAX, &file_limit, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (file_limit)
        add_rlimit(rl, "nofile", (uint64_t)file_limit, (uint64_t)file_limit);
    if (get_map(conf, "ulimit", &m, err) < 0)
        return -1;
    for (const cJSON *c = m ? m->child : NULL; c; c = c->next) {
        cleanup_free char *v = NULL;
        char *colon;
        uint64_t soft;
        uint64_t hard;
        struct tdrv_err e = {0};
        const char *const *k;

        for (k = known; *k && strcmp(*k, c->string); k++)
            ;
        if (!*k)
            return bad(err, "config.ulimit: unknown limit '%s'", c->string);
        v = scalar_text(c);
        if (!v || !v[0])
            return bad(err, "config.ulimit.%s: Malformed ulimit specification '%s'", c->string,
                       v ? v : "");
        colon = strchr(v, ':');
        if (colon)
            *colon++ = '\0';
        if (tdrv_parse_u64(v, 0, INT64_MAX, &soft, &e) < 0)
            return bad(err, "config.ulimit.%s: Malformed soft ulimit '%s'", c->string, v);
        hard = soft;
        if (colon && tdrv_parse_u64(colon, 0, INT64_MAX, &hard, &e) < 0)
            return bad(err, "config.ulimit.%s: Malformed hard ulimit '%s'", c->string, colon);
        if (soft > hard)
            return bad(err, "config.ulimit.%s: soft limit %llu is above hard limit %llu", c->string,
                       (unsigned long long)soft, (unsigned long long)hard);
        add_rlimit(rl, c->string, soft, hard);
    }
    return 0;
}

static int port_env(const struct tdrv_spec_in *in, int host_net, cJSON *env, struct tdrv_err *err)
{
    const cJSON *ports = tdrv_json_at(in->doc, "ports");
    int i = 0;

    if (ports && !cJSON_IsArray(ports))
        return bad(err, "request.ports: expected array");
    for (const cJSON *p = ports ? ports->child : NULL; p; p = p->next, i++) {
        const char *label = NULL;
        const char *ip = NULL;
        int64_t value = 0;
        int64_t to = 0;
        char k[300];
        char v[300];
        char *l;

        if (tdrv_json_str(p, "label", TDRV_REQUIRED, &label, err) < 0 ||
            tdrv_json_i64(p, "value", TDRV_REQUIRED, 0, 65535, &value, err) < 0 ||
            tdrv_json_i64(p, "to", TDRV_OPTIONAL, -1, 65535, &to, err) < 0 ||
            tdrv_json_str(p, "host_ip", TDRV_OPTIONAL, &ip, err) < 0)
            return tdrv_err_wrap(err, "request.ports[%d]", i);
        l = tdrv_xstrdup(label);
        for (char *q = l; *q; q++)
            if (!isalnum((unsigned char)*q) && *q != '_')
                *q = '_';
        snprintf(k, sizeof(k), "NOMAD_PORT_%s", l);
        snprintf(v, sizeof(v), "%lld", (long long)(to > 0 && !host_net ? to : value));
        env_set(env, k, v);
        snprintf(k, sizeof(k), "NOMAD_HOST_PORT_%s", l);
        snprintf(v, sizeof(v), "%lld", (long long)value);
        env_set(env, k, v);
        if (ip && *ip) {
            snprintf(k, sizeof(k), "NOMAD_IP_%s", l);
            env_set(env, k, ip);
            snprintf(k, sizeof(k), "NOMAD_HOST_IP_%s", l);
            env_set(env, k, ip);
            snprintf(k, sizeof(k), "NOMAD_ADDR_%s", l);
            snprintf(v, sizeof(v), strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, (long long)value);
            env_set(env, k, v);
            snprintf(k, sizeof(k), "NOMAD_HOST_ADDR_%s", l);
            env_set(env, k, v);
        }
        free(l);
    }
    return 0;
}

/* The NOMAD_* environment of DESIGN §2. */
static int nomad_env(const struct tdrv_spec_in *in, const struct res_out *ro, int host_net,
                     cJSON *env, struct tdrv_err *err)
{
    const char *group = NULL;
    const char *job = NULL;
    const char *ns = NULL;
    const cJSON *meta = tdrv_json_at(in->doc, "meta");
    char v[64];

    if (tdrv_json_str(in->doc, "group", TDRV_OPTIONAL, &group, err) < 0 ||
        tdrv_json_str(in->doc, "job", TDRV_OPTIONAL, &job, err) < 0 ||
        tdrv_json_str(in->doc, "namespace", TDRV_OPTIONAL, &ns, err) < 0)
        return -1;
    env_set(env, "NOMAD_ALLOC_ID", in->alloc_id);
    {
        char s[9];

        snprintf(s, sizeof(s), "%.8s", in->alloc_id);
        env_set(env, "NOMAD_SHORT_ALLOC_ID", s);
    }
    env_set(env, "NOMAD_TASK_NAME", in->task);
    env_set(env, "NOMAD_GROUP_NAME", group ? group : in->task);
    if (job)
        env_set(env, "NOMAD_JOB_NAME", job);
    if (ns)
        env_set(env, "NOMAD_NAMESPACE", ns);
    env_set(env, "NOMAD_ALLOC_DIR", "/alloc");
    env_set(env, "NOMAD_TASK_DIR", "/local");
    env_set(env, "NOMAD_SECRETS_DIR", "/secrets");
    env_set(env, "NOMAD_DC", in->cfg && in->cfg->datacenter ? in->cfg->datacenter : "dc1");
    env_set(env, "NOMAD_REGION", "global");
    if (ro->cpu_mhz >= 0) {
        snprintf(v, sizeof(v), "%lld", (long long)ro->cpu_mhz);
        env_set(env, "NOMAD_CPU_LIMIT", v);
    }
    if (ro->mem_mib >= 0) {
        snprintf(v, sizeof(v), "%lld", (long long)ro->mem_mib);
        env_set(env, "NOMAD_MEMORY_LIMIT", v);
    }
    if (ro->max_mib >= 0) {
        snprintf(v, sizeof(v), "%lld", (long long)ro->max_mib);
        env_set(env, "NOMAD_MEMORY_MAX_LIMIT", v);
    }
    if (meta && !cJSON_IsObject(meta))
        return bad(err, "request.meta: expected object");
    for (const cJSON *m = meta ? meta->child : NULL; m; m = m->next) {
        cleanup_free char *mv = scalar_text(m);
        char *k;

        if (!mv)
            return bad(err, "request.meta.%s: expected string", m->string);
        k = tdrv_xasprintf("NOMAD_META_%s", m->string);
        env_set(env, k, mv);
        for (char *p = k; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        env_set(env, k, mv);
        free(k);
    }
    return port_env(in, host_net, env, err);
}

/* ---- /etc/hosts, /etc/resolv.conf, /etc/hostname ------------------------------------------------
 */

static char *read_small(const char *path)
{
    struct tdrv_buf b;
    struct tdrv_err e = {0};
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

    tdrv_buf_init(&b, 1 << 20);
    if (fd < 0 || tdrv_buf_read_fd(&b, fd, path, &e) < 0) {
        tdrv_buf_release(&b);
        return NULL;
    }
    return b.data ? tdrv_buf_steal(&b) : tdrv_xstrdup("");
}

static int etc_files(const struct tdrv_spec_in *in, const struct interp_ctx *ix, const cJSON *conf,
                     int drv, int host_net, const char *hostname, cJSON *mounts,
                     struct tdrv_task_opts *o, struct tdrv_err *err)
{
    const cJSON *servers = NULL;
    const cJSON *search = NULL;
    const cJSON *dopts = NULL;
    const cJSON *extra = NULL;
    int host_dns = 1;
    struct tdrv_buf hosts;
    struct tdrv_buf resolv;
    struct tdrv_err e = {0};
    cleanup_free char *hp = tdrv_xasprintf("%s/etc/hosts", in->task_dir);
    cleanup_free char *rp = tdrv_xasprintf("%s/etc/resolv.conf", in->task_dir);
    cleanup_free char *np = tdrv_xasprintf("%s/etc/hostname", in->task_dir);
    int i = 0;

    if (tdrv_json_strarr(conf, "dns_servers", TDRV_OPTIONAL, &servers, err) < 0 ||
        tdrv_json_strarr(conf, "dns_search_domains", TDRV_OPTIONAL, &search, err) < 0 ||
        tdrv_json_strarr(conf, "dns_options", TDRV_OPTIONAL, &dopts, err) < 0 ||
        tdrv_json_strarr(conf, "extra_hosts", TDRV_OPTIONAL, &extra, err) < 0 ||
        tdrv_json_bool(conf, "host_dns", TDRV_OPTIONAL, &host_dns, err) < 0)
        return tdrv_err_wrap(err, "config");
    (void)drv;
    tdrv_buf_init(&hosts, 1 << 20);
    tdrv_buf_init(&resolv, 1 << 20);
    if (host_net) {
        cleanup_free char *h = read_small("/etc/hosts");

        tdrv_buf_addstr(&hosts, h ? h : "127.0.0.1\tlocalhost\n", &e);
        if (hosts.len && hosts.data[hosts.len - 1] != '\n')
            tdrv_buf_addstr(&hosts, "\n", &e);
    } else {
        tdrv_buf_addstr(&hosts,
                        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
                        "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
                        &e);
        if (hostname) {
            tdrv_buf_addstr(&hosts, "127.0.1.1\t", &e);
            tdrv_buf_addstr(&hosts, hostname, &e);
            tdrv_buf_addstr(&hosts, "\n", &e);
        }
    }
    for (const cJSON *c = extra ? extra->child : NULL; c; c = c->next, i++) {
        cleanup_free char *s = interp(ix, c->valuestring);
        char *colon = strchr(s, ':');

        if (!colon || colon == s || !colon[1]) {
            tdrv_buf_release(&hosts);
            tdrv_buf_release(&resolv);
            return bad(err, "config.extra_hosts[%d]: invalid '%s' (host:IP)", i, c->valuestring);
        }
        *colon = '\0';
        tdrv_buf_addstr(&hosts, colon + 1, &e);
        tdrv_buf_addstr(&hosts, "\t", &e);
        tdrv_buf_addstr(&hosts, s, &e);
        tdrv_buf_addstr(&hosts, "\n", &e);
    }
    i = 0;
    if (servers && servers->child && !strcmp(servers->child->valuestring, "host") &&
        !servers->child->next)
        servers = NULL; /* rkt: "host" = the host's resolv.conf */
    if ((servers && servers->child) || (search && search->child) || (dopts && dopts->child)) {
        cleanup_free char *host = read_small("/etc/resolv.conf");

        for (const cJSON *c = servers ? servers->child : NULL; c; c = c->next, i++) {
            if (!strcmp(c->valuestring, "none") && !c->next && i == 0)
                break;
            if (strspn(c->valuestring, "0123456789abcdefABCDEF.:") != strlen(c->valuestring) ||
                !*c->valuestring) {
                tdrv_buf_release(&hosts);
                tdrv_buf_release(&resolv);
                return bad(err,
                           "config.dns_servers[%d]: invalid ip address for container dns "
                           "server '%s'",
                           i, c->valuestring);
            }
            tdrv_buf_addstr(&resolv, "nameserver ", &e);
            tdrv_buf_addstr(&resolv, c->valuestring, &e);
            tdrv_buf_addstr(&resolv, "\n", &e);
        }
        if (!servers || !servers->child) {
            /* keep the host's nameservers */
            char *save = NULL;

            for (char *l = host ? strtok_r(host, "\n", &save) : NULL; l;
                 l = strtok_r(NULL, "\n", &save))
                if (!strncmp(l, "nameserver", 10)) {
                    tdrv_buf_addstr(&resolv, l, &e);
                    tdrv_buf_addstr(&resolv, "\n", &e);
                }
        }
        if (search && search->child) {
            tdrv_buf_addstr(&resolv, "search", &e);
            for (const cJSON *c = search->child; c; c = c->next) {
                tdrv_buf_addstr(&resolv, " ", &e);
                tdrv_buf_addstr(&resolv, c->valuestring, &e);
            }
            tdrv_buf_addstr(&resolv, "\n", &e);
        }
        if (dopts && dopts->child) {
            tdrv_buf_addstr(&resolv, "options", &e);
            for (const cJSON *c = dopts->child; c; c = c->next) {
                tdrv_buf_addstr(&resolv, " ", &e);
                tdrv_buf_addstr(&resolv, c->valuestring, &e);
            }
            tdrv_buf_addstr(&resolv, "\n", &e);
        }
    } else if (host_dns) {
        cleanup_free char *host = read_small("/etc/resolv.conf");

        tdrv_buf_addstr(&resolv, host ? host : "", &e);
    }
    tdrv_json_add_str(o->files, hp, hosts.data ? hosts.data : "");
    mounts_put(mounts,
               mount_obj("/etc/hosts", "bind", hp, (const char *const[]){"rbind", "rw", NULL}));
    if (resolv.data || host_dns) {
        tdrv_json_add_str(o->files, rp, resolv.data ? resolv.data : "");
        mounts_put(mounts, mount_obj("/etc/resolv.conf", "bind", rp,
                                     (const char *const[]){"rbind", "rw", NULL}));
    }
    if (hostname) {
        char *line = tdrv_xasprintf("%s\n", hostname);

        tdrv_json_add_str(o->files, np, line);
        free(line);
        mounts_put(mounts, mount_obj("/etc/hostname", "bind", np,
                                     (const char *const[]){"rbind", "rw", NULL}));
    }
    tdrv_buf_release(&hosts);
    tdrv_buf_release(&resolv);
    return 0;
}

/* ---- namespaces
 * ---------------------------------------------------------------------------------- */

/* "" / "private" -> 0, "host" -> 1; other values are errors. */
static int ns_mode(const cJSON *conf, const char *key, int *host, struct tdrv_err *err)
{
    const char *v = NULL;

    *host = 0;
    if (tdrv_json_str(conf, key, TDRV_OPTIONAL, &v, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (!v || !*v || !strcasecmp(v, "private") ||
        (!strcmp(key, "ipc_mode") && (!strcmp(v, "shareable") || !strcmp(v, "none"))))
        return 0;
    if (strcasecmp(v, "host"))
        return bad(err, "config.%s: '%s' is not supported (host or private)", key, v);
    *host = 1;
    return 0;
}

/* The network mode (common/net.c): only host shares the host's namespace; none, bridge and
 * group get a namespace of their own (bridge and group: tdrv-run puts its path in later). */
static int network_mode(const struct tdrv_spec_in *in, const cJSON *conf, int drv, int *host,
                        struct tdrv_err *err)
{
    struct tdrv_net_req req;

    (void)conf;
    (void)drv;
    if (tdrv_net_mode(in->doc, &req, err) < 0)
        return -1;
    *host = req.mode == TDRV_NET_HOST;
    return 0;
}

/* ---- the whole spec
 * ------------------------------------------------------------------------------ */

static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    NULL,
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static int security_opts(const struct tdrv_spec_in *in, const cJSON *conf, int drv, uint64_t caps,
                         int privileged, cJSON *process, cJSON *linux_, int *nnp,
                         struct tdrv_err *err)
{
    const cJSON *sopt = NULL;
    int seccomp = drv != D_CTR; /* containerd-driver: off unless seccomp = true */
    int seccomp_set = 0;
    const char *profile = NULL;
    cJSON *sc = NULL;
    int i = 0;

    if (tdrv_json_strarr(conf, "security_opt", TDRV_OPTIONAL, &sopt, err) < 0 ||
        tdrv_json_str(conf, "seccomp_profile", TDRV_OPTIONAL, &profile, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (tdrv_json_at(conf, "seccomp")) {
        if (tdrv_json_bool(conf, "seccomp", TDRV_REQUIRED, &seccomp, err) < 0)
            return tdrv_err_wrap(err, "config");
        seccomp_set = 1;
    }
    if (profile && *profile && drv == D_CTR && !seccomp)
        return bad(err, "config.seccomp_profile: seccomp must be set to true to use "
                        "seccomp_profile");
    if (profile && *profile && seccomp_set && !seccomp)
        return bad(err, "config.seccomp_profile: conflicts with seccomp = false");
    for (const cJSON *c = sopt ? sopt->child : NULL; c; c = c->next, i++) {
        const char *s = c->valuestring;
        const char *v = s + strcspn(s, "=:");

        if (!strcmp(s, "no-new-privileges") || !strcmp(s, "no-new-privileges=true") ||
            !strcmp(s, "no-new-privileges:true")) {
            *nnp = 1;
        } else if (!strcmp(s, "no-new-privileges=false") || !strcmp(s, "no-new-privileges:false")) {
            *nnp = 0;
        } else if (!strncmp(s, "seccomp", 7) && *v) {
            if (!strcmp(v + 1, "unconfined"))
                seccomp = 0;
            else
                profile = v + 1;
        } else if (!strncmp(s, "apparmor", 8) && *v) {
            tdrv_json_set(process, "apparmorProfile", tdrv_json_xstr(v + 1));
        } else if (!strncmp(s, "label", 5) && *v) {
            if (strcmp(v + 1, "disable"))
                return bad(err,
                           "config.security_opt[%d]: SELinux labels are not supported "
                           "('%s')",
                           i, s);
        } else {
            return bad(err, "config.security_opt[%d]: invalid '%s'", i, s);
        }
    }
    if (privileged && !profile)
        seccomp = 0;
    if (profile && *profile) {
        if (seccomp_file(profile, in->host->arch, &sc, err) < 0)
            return tdrv_err_wrap(err, "config.seccomp_profile");
    } else if (seccomp) {
        sc = seccomp_default(caps, in->host->arch);
    }
    if (sc)
        tdrv_json_add(linux_, "seccomp", sc);
    return 0;
}

int tdrv_spec_build(const struct tdrv_spec_in *in, cJSON **out, struct tdrv_task_opts *o,
                    struct tdrv_err *err)
{
    static const char *const ro_sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    const cJSON *conf = tdrv_json_at(in->doc, "config");
    int drv;
    cleanup_json cJSON *spec = tdrv_json_xobj();
    cJSON *process = tdrv_json_xobj();
    cJSON *root = tdrv_json_xobj();
    cJSON *mounts = tdrv_json_xarr();
    cJSON *linux_ = tdrv_json_xobj();
    cJSON *resources = tdrv_json_xobj();
    cJSON *devs = tdrv_json_xarr();
    cJSON *allow = tdrv_json_xarr();
    cJSON *ns = tdrv_json_xarr();
    cJSON *ann = tdrv_json_xobj();
    cleanup_json cJSON *env = tdrv_json_xarr();
    cleanup_json cJSON *nenv = tdrv_json_xarr();
    cleanup_json cJSON *args = NULL;
    cleanup_json cJSON *rl = tdrv_json_xarr();
    cleanup_json cJSON *sysctl = NULL;
    cleanup_json cJSON *labels = NULL;
    cleanup_free char *hostname = NULL;
    cleanup_free char *cwd = NULL;
    struct user u = {0};
    struct res_out ro;
    struct interp_ctx ix __attribute__((cleanup(interp_release))) = {.cfg = in->cfg};
    const char *user = NULL;
    const char *group = NULL;
    const char *hn = NULL;
    const char *wd = NULL;
    const cJSON *cap_add = NULL;
    const cJSON *cap_drop = NULL;
    const cJSON *group_add = NULL;
    const cJSON *tenv = tdrv_json_at(in->doc, "env");
    int privileged = 0;
    int readonly = 0;
    int host_net = 1;
    int pid_host = 0;
    int ipc_host = 0;
    int uts_host = 0;
    int nnp = 0;
    int64_t oom = 0;
    uint64_t caps;
    uint64_t allowed;
    uint64_t add;
    uint64_t drop;
    uint64_t shm = 64ULL * 1024 * 1024;
    int rc = -1;

    /* attach everything to spec at once, so one cleanup frees it whatever fails */
    tdrv_json_add_str(spec, "ociVersion", "1.0.2");
    tdrv_json_add(spec, "process", process);
    tdrv_json_add(spec, "root", root);
    tdrv_json_add(spec, "mounts", mounts);
    tdrv_json_add(spec, "annotations", ann);
    tdrv_json_add(spec, "linux", linux_);
    tdrv_json_add(linux_, "resources", resources);
    tdrv_json_add(resources, "devices", allow);
    tdrv_json_add(linux_, "devices", devs);
    tdrv_json_add(linux_, "namespaces", ns);

    ix.node = tdrv_json_xobj();
    tdrv_json_add_str(ix.node, "datacenter",
                      in->cfg && in->cfg->datacenter ? in->cfg->datacenter : "dc1");
    tdrv_json_add_str(ix.node, "region", "global");
    if (in->cfg && in->cfg->node_name)
        tdrv_json_add_str(ix.node, "unique.name", in->cfg->node_name);
    if (tdrv_task_opts_parse(in->doc, in->cfg, o, err) < 0)
        return -1;
    o->files = tdrv_json_xobj();
    o->dirs = tdrv_json_xarr();
    drv = driver_mask(o->driver);
    if (conf && check_options(conf, drv, o->driver, err) < 0)
        return -1;
    if (!conf || !cJSON_IsString(tdrv_json_at(conf, "image")))
        return bad(err, "config.image: required");

    if (tdrv_json_bool(conf, "privileged", TDRV_OPTIONAL, &privileged, err) < 0 ||
        tdrv_json_bool(conf, "readonly_rootfs", TDRV_OPTIONAL, &readonly, err) < 0 ||
        tdrv_json_i64(conf, "oom_score_adj", TDRV_OPTIONAL, -1000, 1000, &oom, err) < 0 ||
        tdrv_json_strarr(conf, "cap_add", TDRV_OPTIONAL, &cap_add, err) < 0 ||
        tdrv_json_strarr(conf, "cap_drop", TDRV_OPTIONAL, &cap_drop, err) < 0 ||
        tdrv_json_strarr(conf, "group_add", TDRV_OPTIONAL, &group_add, err) < 0 ||
        tdrv_json_str(conf, "group", TDRV_OPTIONAL, &group, err) < 0 ||
        tdrv_json_str(conf, "hostname", TDRV_OPTIONAL, &hn, err) < 0 ||
        tdrv_json_str(conf, drv == D_CTR ? "cwd" : "work_dir", TDRV_OPTIONAL, &wd, err) < 0)
        return tdrv_err_wrap(err, "config");
    if (tdrv_json_str(in->doc, "user", TDRV_OPTIONAL, &user, err) < 0)
        return -1;
    if (tenv && !cJSON_IsObject(tenv))
        return bad(err, "request.env: expected object");
    if (privileged && !(in->cfg && in->cfg->allow_privileged))
        return denied(err, "config.privileged: privileged mode is disabled by the operator "
                           "(allow_privileged)");

    /* namespaces and network */
    if (network_mode(in, conf, drv, &host_net, err) < 0 ||
        ns_mode(conf, "pid_mode", &pid_host, err) < 0 ||
        ns_mode(conf, "ipc_mode", &ipc_host, err) < 0 ||
        ns_mode(conf, "uts_mode", &uts_host, err) < 0)
        return -1;
    if ((pid_host || ipc_host || uts_host) && !(in->cfg && in->cfg->allow_privileged))
        return denied(err,
                      "config.%s: host namespaces need allow_privileged in the operator's "
                      "config",
                      pid_host   ? "pid_mode"
                      : ipc_host ? "ipc_mode"
                                 : "uts_mode");
    {
        static const char *const kinds[] = {"pid", "ipc", "uts", "mount", "network", "cgroup"};
        int skip[] = {pid_host, ipc_host, uts_host, 0, host_net, !in->host->cgroup_v2};

        for (size_t i = 0; i < TDRV_ARRAY_LEN(kinds); i++)
            if (!skip[i]) {
                cJSON *n = tdrv_json_xobj();

                tdrv_json_add_str(n, "type", kinds[i]);
                tdrv_json_append(ns, n);
            }
    }

    /* resources, then the environment that reports them */
    if (map_resources(in, conf, drv, resources, &ro, err) < 0)
        return -1;
    if (nomad_env(in, &ro, host_net, nenv, err) < 0)
        return -1;
    /* rkt: tdrv-run's environment (inherit_env) < image < set_env_file < task env */
    if (drv == D_RKT && inherit_env(in, conf, env, err) < 0)
        return -1;
    for (const cJSON *c = img(in, "Env") ? img(in, "Env")->child : NULL; c; c = c->next)
        if (cJSON_IsString(c) && strchr(c->valuestring, '='))
            env_setn(env, c->valuestring, strcspn(c->valuestring, "="),
                     strchr(c->valuestring, '=') + 1);
    if (drv == D_RKT && env_file(in, conf, env, err) < 0)
        return -1;
    if (!env_get(env, "PATH", 4))
        env_set(env, "PATH", &DEFAULT_PATH_ENV[5]);
    {
        /* task env values see the NOMAD_* variables and the raw task env */
        cleanup_json cJSON *scope = tdrv_json_xdup(nenv);

        for (const cJSON *c = tenv ? tenv->child : NULL; c; c = c->next) {
            cleanup_free char *v = scalar_text(c);

            if (!v)
                return bad(err, "request.env.%s: expected string", c->string);
            if (!env_get(scope, c->string, strlen(c->string)))
                env_set(scope, c->string, v);
        }
        interp_env(&ix, scope);
        for (const cJSON *c = tenv ? tenv->child : NULL; c; c = c->next) {
            cleanup_free char *v = scalar_text(c); /* a scalar: checked above */
            char *x;

            if (!*c->string || strchr(c->string, '='))
                return bad(err, "request.env: invalid variable name '%s'", c->string);
            x = interp(&ix, v ? v : "");
            env_set(env, c->string, x);
            free(x);
        }
    }
    for (const cJSON *c = nenv->child; c; c = c->next)
        env_setn(env, c->valuestring, strcspn(c->valuestring, "="),
                 strchr(c->valuestring, '=') + 1);
    interp_env(&ix, env);

    /* hostname */
    if (!uts_host) {
        if (hn && *hn)
            hostname = interp(&ix, hn);
        else if (drv == D_RKT)
            hostname = tdrv_xasprintf("rkt-%s", in->alloc_id);
        else
            hostname = tdrv_xasprintf("%.63s", in->task);
        if (strlen(hostname) > 64 || !*hostname)
            return bad(err, "config.hostname: '%s' is not a valid hostname", hostname);
        tdrv_json_add_str(spec, "hostname", hostname);
        if (!env_get(env, "HOSTNAME", 8))
            env_set(env, "HOSTNAME", hostname);
    }

    /* process */
    if (map_args(in, &ix, conf, drv, &args, err) < 0)
        return -1;
    if (!user || !*user) {
        const cJSON *iu = img(in, "User");

        user = iu && cJSON_IsString(iu) ? iu->valuestring : NULL;
    }
    if (resolve_user(in, user, group, group_add, &u, err) < 0) {
        cJSON_Delete(u.gids);
        return -1;
    }
    if (!env_get(env, "HOME", 4))
        env_set(env, "HOME", u.home[0] ? u.home : "/");
    {
        cJSON *uo = tdrv_json_xobj();

        tdrv_json_add_num(uo, "uid", u.uid);
        tdrv_json_add_num(uo, "gid", u.gid);
        if (u.gids->child)
            tdrv_json_add(uo, "additionalGids", u.gids);
        else
            cJSON_Delete(u.gids);
        tdrv_json_add_bool(process, "terminal", o->tty);
        tdrv_json_add(process, "user", uo);
    }
    tdrv_json_add(process, "args", steal_ptr(&args));
    tdrv_json_add(process, "env", steal_ptr(&env));
    if (wd && *wd)
        cwd = interp(&ix, wd);
    else if (cJSON_IsString(img(in, "WorkingDir")) && img(in, "WorkingDir")->valuestring[0])
        cwd = tdrv_xstrdup(img(in, "WorkingDir")->valuestring);
    else
        cwd = tdrv_xstrdup("/");
    if (cwd[0] != '/')
        return bad(err, "config.%s: '%s' must be an absolute path",
                   drv == D_CTR ? "cwd" : "work_dir", cwd);
    tdrv_json_add_str(process, "cwd", cwd);

    /* capabilities: Nomad's docker driver rule (allow_caps bounds cap_add) */
    if (cap_mask(cap_add, in->host->cap_last, &add, "config.cap_add", err) < 0 ||
        cap_mask(cap_drop, in->host->cap_last, &drop, "config.cap_drop", err) < 0)
        return -1;
    {
        static const char *const all_caps[] = {"ALL", NULL};
        cleanup_json cJSON *defl = xarr_strs(docker_default_caps);
        cleanup_json cJSON *alll = xarr_strs(all_caps);
        uint64_t base;
        const cJSON *ac = in->cfg && in->cfg->allow_caps ? in->cfg->allow_caps : NULL;
        int bad_caps = 0;
        char names[512] = "";

        cap_mask(defl, in->host->cap_last, &base, "default", err);
        if (!ac)
            ac = defl;
        if (cap_mask(ac, in->host->cap_last, &allowed, "allow_caps", err) < 0)
            return tdrv_err_wrap(err, "operator config");
        (void)alll;
        for (const cJSON *c = cap_add ? cap_add->child : NULL; c; c = c->next) {
            int i = cap_index(c->valuestring);
            uint64_t bit = i == 64 ? CAP_ALL_BITS(in->host->cap_last) : 1ULL << i;

            if ((bit & allowed) != bit) {
                size_t n = strlen(names);

                snprintf(names + n, sizeof(names) - n, "%s%s", bad_caps ? ", " : "",
                         c->valuestring);
                bad_caps++;
            }
        }
        if (bad_caps && !privileged)
            return denied(err,
                          "config.cap_add: the operator does not allow the following "
                          "capabilities: %s",
                          names);
        caps = ((base & allowed) | add) & ~drop;
        if (privileged) /* every capability tdrv-run itself may pass on */
            caps = CAP_ALL_BITS(in->host->cap_last) &
                   (in->host->cap_bound ? in->host->cap_bound : ~0ULL);
        caps &= CAP_ALL_BITS(in->host->cap_last);
    }
    {
        cJSON *co = tdrv_json_xobj();

        tdrv_json_add(co, "bounding", cap_list(caps));
        tdrv_json_add(co, "effective", cap_list(u.uid == 0 ? caps : 0));
        tdrv_json_add(co, "permitted", cap_list(u.uid == 0 ? caps : 0));
        tdrv_json_add(process, "capabilities", co);
    }

    /* rlimits: runc's default RLIMIT_NOFILE, then file_limit and ulimit */
    add_rlimit(rl, "nofile", 1024, 1024);
    if (map_ulimits(conf, rl, err) < 0)
        return -1;
    tdrv_json_add(process, "rlimits", steal_ptr(&rl));
    if (security_opts(in, conf, drv, caps, privileged, process, linux_, &nnp, err) < 0)
        return -1;
    if (drv == D_CTR && !privileged)
        nnp = 1; /* containerd's default spec */
    tdrv_json_add_bool(process, "noNewPrivileges", nnp);
    if (oom)
        tdrv_json_add_num(process, "oomScoreAdj", (double)oom);

    /* root */
    tdrv_json_add_str(root, "path", in->rootfs ? in->rootfs : "rootfs");
    tdrv_json_add_bool(root, "readonly", readonly);

    /* mounts: standard ones, /etc files, alloc dirs, volumes, mounts */
    {
        const cJSON *shmv = tdrv_json_at(conf, "shm_size");
        char shmopt[64];

        if (shmv && cJSON_IsNumber(shmv)) {
            int64_t n;

            if (tdrv_json_i64(conf, "shm_size", TDRV_REQUIRED, 0, INT64_MAX, &n, err) < 0)
                return tdrv_err_wrap(err, "config");
            if (n > 0)
                shm = (uint64_t)n;
        } else if (shmv && cJSON_IsString(shmv)) {
            if (parse_units(shmv->valuestring, &shm) < 0 || shm == 0)
                return bad(err, "config.shm_size: invalid size '%s'", shmv->valuestring);
        } else if (shmv) {
            return bad(err, "config.shm_size: expected integer or string");
        }
        snprintf(shmopt, sizeof(shmopt), "size=%llu", (unsigned long long)shm);
        tdrv_json_append(mounts,
                         mount_obj("/proc", "proc", "proc",
                                   (const char *const[]){"nosuid", "noexec", "nodev", NULL}));
        tdrv_json_append(mounts, mount_obj("/dev", "tmpfs", "tmpfs",
                                           (const char *const[]){"nosuid", "strictatime",
                                                                 "mode=755", "size=65536k", NULL}));
        tdrv_json_append(
            mounts, mount_obj("/dev/pts", "devpts", "devpts",
                              (const char *const[]){"nosuid", "noexec", "newinstance",
                                                    "ptmxmode=0666", "mode=0620", "gid=5", NULL}));
        tdrv_json_append(mounts, mount_obj("/dev/shm", "tmpfs", "shm",
                                           (const char *const[]){"nosuid", "noexec", "nodev",
                                                                 "mode=1777", shmopt, NULL}));
        tdrv_json_append(mounts,
                         mount_obj("/dev/mqueue", "mqueue", "mqueue",
                                   (const char *const[]){"nosuid", "noexec", "nodev", NULL}));
        tdrv_json_append(mounts, mount_obj("/sys", "sysfs", "sysfs",
                                           privileged ? (const char *const[]){"nosuid", "noexec",
                                                                              "nodev", "rw", NULL}
                                                      : ro_sys));
        tdrv_json_append(mounts,
                         mount_obj("/sys/fs/cgroup", "cgroup", "cgroup",
                                   (const char *const[]){"nosuid", "noexec", "nodev", "relatime",
                                                         privileged ? "rw" : "ro", NULL}));
    }
    if (etc_files(in, &ix, conf, drv, host_net, hostname, mounts, o, err) < 0)
        return -1;
    {
        cleanup_free char *a = tdrv_xasprintf("%s/alloc", in->alloc_dir);
        cleanup_free char *l = tdrv_xasprintf("%s/local", in->task_dir);
        cleanup_free char *s = tdrv_xasprintf("%s/secrets", in->task_dir);

        add_bind(mounts, a, "/alloc", 0);
        add_bind(mounts, l, "/local", 0);
        add_bind(mounts, s, "/secrets", 0);
    }
    {
        const cJSON *vols = NULL;
        const cJSON *ml = NULL;
        int i = 0;

        if (tdrv_json_strarr(conf, "volumes", TDRV_OPTIONAL, &vols, err) < 0)
            return tdrv_err_wrap(err, "config");
        if (vols && vols->child && in->cfg && !in->cfg->volumes_enabled && drv == D_RKT)
            return denied(err, "config.volumes: volumes_enabled is false; cannot use rkt "
                               "volumes");
        if (map_volumes(in, &ix, vols, drv, mounts, err) < 0)
            return -1;
        for (const char *const *k = (const char *const[]){"mount", "mounts", NULL}; *k; k++) {
            ml = tdrv_json_at(conf, *k);
            if (!ml)
                continue;
            if (cJSON_IsObject(ml) && drv == D_OCI) {
                /* HCL block `mount { ... }` decoded as a single object */
                char what[64];

                snprintf(what, sizeof(what), "config.%s", *k);
                if (map_mount_docker(in, &ix, ml, what, mounts, o, err) < 0)
                    return -1;
                continue;
            }
            if (!cJSON_IsArray(ml))
                return bad(err, "config.%s: expected array", *k);
            i = 0;
            for (const cJSON *m = ml->child; m; m = m->next, i++) {
                char what[64];

                snprintf(what, sizeof(what), "config.%s[%d]", *k, i);
                if ((drv == D_CTR ? map_mount_ctr(in, &ix, m, what, mounts, err)
                                  : map_mount_docker(in, &ix, m, what, mounts, o, err)) < 0)
                    return -1;
            }
        }
    }

    /* linux: devices, sysctl, paths */
    {
        cJSON *deny = tdrv_json_xobj();

        tdrv_json_add_bool(deny, "allow", 0);
        tdrv_json_add_str(deny, "access", "rwm");
        tdrv_json_append(allow, deny);
        if (privileged) {
            cJSON *all = tdrv_json_xobj();

            tdrv_json_add_bool(all, "allow", 1);
            tdrv_json_add_str(all, "access", "rwm");
            tdrv_json_append(allow, all);
        }
    }
    if (privileged)
        host_devices(devs);
    if (map_devices(tdrv_json_at(conf, "devices"), devs, allow, err) < 0)
        return -1;
    if (get_map(conf, "sysctl", &sysctl, err) < 0)
        return -1;
    if (sysctl) {
        cJSON *s = tdrv_json_xobj();

        tdrv_json_add(linux_, "sysctl", s);
        for (const cJSON *c = sysctl->child; c; c = c->next) {
            cleanup_free char *v = scalar_text(c);

            if (!v)
                return bad(err, "config.sysctl.%s: expected string", c->string);
            if (host_net && !strncmp(c->string, "net.", 4))
                return bad(err,
                           "config.sysctl.%s: net.* sysctls need a network namespace "
                           "(network mode none)",
                           c->string);
            tdrv_json_add_str(s, c->string, v);
        }
    }
    if (!privileged) {
        tdrv_json_add(linux_, "maskedPaths", xarr_strs(masked_paths));
        tdrv_json_add(linux_, "readonlyPaths", xarr_strs(readonly_paths));
    }

    /* annotations: labels, then tdrv's own */
    if (get_map(conf, "labels", &labels, err) < 0)
        return -1;
    for (const cJSON *c = labels ? labels->child : NULL; c; c = c->next) {
        cleanup_free char *v = scalar_text(c);
        char *x;

        if (!v)
            return bad(err, "config.labels.%s: expected string", c->string);
        x = interp(&ix, v);
        /* ann is empty before the labels and their keys are unique (checked when parsed):
         * added, not set, so that many labels cost no n^2 lookups */
        tdrv_json_add(ann, c->string, tdrv_json_xstr(x));
        free(x);
    }
    tdrv_json_set(ann, "io.tdrv.alloc_id", tdrv_json_xstr(in->alloc_id));
    tdrv_json_set(ann, "io.tdrv.task", tdrv_json_xstr(in->task));
    tdrv_json_set(ann, "io.tdrv.driver", tdrv_json_xstr(o->driver));
    rc = 0;
    *out = steal_ptr(&spec);
    return rc;
}
