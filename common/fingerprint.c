#include "fingerprint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "docker.h"
#include "json.h"
#include "log.h"
#include "mem.h"

extern char **environ;

#define CMD_MAX_OUTPUT (64u * 1024u)
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ------------------------------------------------------------------ small helpers */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read a small file into a NUL-terminated string; NULL when it cannot be read. */
static char *read_small(const char *path, size_t max)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_buf struct tdrv_buf b = {0};
    struct tdrv_err e = {0};

    tdrv_buf_init(&b, max);
    if (fd < 0 || tdrv_buf_read_fd(&b, fd, path, &e) < 0)
        return NULL;
    return tdrv_buf_steal(&b);
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static void set_attr(cJSON *attrs, const char *name, const char *value)
{
    if (value)
        tdrv_json_set(attrs, name, tdrv_json_xstr(value));
}

__attribute__((format(printf, 3, 4))) static void set_attrf(cJSON *attrs, const char *name,
                                                            const char *fmt, ...)
{
    char v[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    set_attr(attrs, name, v);
}

static cJSON *driver_status(int detected, int healthy, const char *desc)
{
    cJSON *d = tdrv_json_xobj();

    tdrv_json_add_bool(d, "detected", detected);
    tdrv_json_add_bool(d, "healthy", healthy);
    tdrv_json_add_str(d, "health_description", desc);
    return d;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Join a string list sorted, with commas. */
static char *join_sorted(char **v, size_t n)
{
    cleanup_buf struct tdrv_buf b = {0};
    struct tdrv_err e = {0};

    tdrv_buf_init(&b, 1u << 20);
    qsort(v, n, sizeof(*v), strp_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            tdrv_buf_add(&b, ",", 1, &e);
        tdrv_buf_addstr(&b, v[i], &e);
    }
    return tdrv_buf_steal(&b);
}

/*
 * Run argv (looked up in PATH) with stdin from /dev/null, capturing stdout (stderr is
 * discarded), for at most timeout_ms; the child is killed past it. Not found: 66.
 */
static int run_capture(const char *const argv[], long timeout_ms, char **out, int *status,
                       struct tdrv_err *err)
{
    cleanup_close int rfd = -1;
    cleanup_close int wfd = -1;
    cleanup_buf struct tdrv_buf b = {0};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int p[2];
    pid_t pid;
    int rc;
    int ws = 0;
    int timed_out = 0;
    long deadline = now_ms() + timeout_ms;

    tdrv_buf_init(&b, CMD_MAX_OUTPUT);
    if (pipe2(p, O_CLOEXEC) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a pipe");
    rfd = p[0];
    wfd = p[1];
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wfd, 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Its own process group, so a timeout also ends whatever it started. */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return tdrv_err_setw(err, rc == ENOENT ? TDRV_E_NOINPUT : TDRV_E_OS,
                             rc == ENOENT ? "not_found" : "os_error", rc, "unable to run '%s'",
                             argv[0]);
    close(steal_fd(&wfd));
    for (;;) {
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};
        long left = deadline - now_ms();
        char chunk[4096];
        ssize_t n;

        if (left <= 0) {
            timed_out = 1;
            break;
        }
        rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            timed_out = rc == 0;
            break;
        }
        n = read(rfd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (b.len + (size_t)n <= CMD_MAX_OUTPUT)
            tdrv_buf_add(&b, chunk, (size_t)n, err);
    }
    /* It may close stdout and go on running: wait for it, but only until the deadline. */
    while (!timed_out) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        struct timespec nap = {0, 2000000};

        if (r == pid || (r < 0 && errno != EINTR))
            break;
        if (now_ms() >= deadline)
            timed_out = 1;
        else if (r == 0)
            nanosleep(&nap, NULL);
    }
    if (timed_out) {
        kill(-pid, SIGKILL); /* the group we created, led by the child we started */
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
    }
    if (timed_out)
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "timeout", 0,
                             "'%s' did not answer within %ld ms", argv[0], timeout_ms);
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    *out = tdrv_buf_steal(&b);
    return 0;
}

/* First match of an extended regexp's group 1 in text, or NULL. */
static char *regex_group1(const char *pattern, const char *text)
{
    regex_t re;
    regmatch_t m[2];
    char *r = NULL;

    if (regcomp(&re, pattern, REG_EXTENDED) != 0)
        return NULL;
    if (regexec(&re, text, 2, m, 0) == 0 && m[1].rm_so >= 0)
        r = tdrv_xstrndup(text + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    regfree(&re);
    return r;
}

/*
 * glibc's regcomp copies the tree of a repeated expression for each stacked or nested
 * repetition, so a short pattern such as "(ian)?++++++++++++++++++++" takes gigabytes
 * (found by fuzz_constraint). Refuse such patterns before compiling: a repetition
 * operator right after another, more than 16 of them, bounds whose product (as if all
 * were nested) exceeds 65536, or a pattern over 1 KiB.
 */
static const char *regexp_too_complex(const char *p)
{
    const unsigned long copies_max = 65536;
    unsigned long copies = 1;
    int reps = 0;
    int prev_rep = 0;

    if (strlen(p) > 1024)
        return "longer than 1024 bytes";
    for (; *p; p++) {
        int rep = 0;
        unsigned long factor = 1;

        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '[') {
            /* a bracket expression: skip to its closing ']' (a leading ']' or '^]' is a member) */
            const char *q = p + 1;

            if (*q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                break;
            p = q;
        } else if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
            rep = 1;
            if (prev_rep)
                return "has a repetition of a repetition";
            if (++reps > 16)
                return "has more than 16 repetition operators";
            if (*p == '{') {
                unsigned long n = 0;

                /* {m}, {m,} or {m,n}: the larger bound is how many copies regcomp makes */
                while (p[1] && p[1] != '}') {
                    p++;
                    if (*p >= '0' && *p <= '9')
                        n = n * 10 + (unsigned long)(*p - '0');
                    else
                        n = 0;
                    if (n > copies_max)
                        n = copies_max;
                    factor = n > factor ? n : factor;
                }
                if (p[1])
                    p++;
                factor++;
            } else if (*p == '+') {
                factor = 2;
            }
            copies *= factor;
            if (copies > copies_max)
                return "repeats its parts more than 65536 times in all";
        }
        prev_rep = rep;
    }
    return NULL;
}

/* ------------------------------------------------------------------ probes */

struct probe {
    const char *name;
    void (*fn)(struct probe *p);
    const struct tdrv_config *cfg;
    long timeout_ms;
    const char *containerd_socket;
    struct tdrv_fp_state *state;
    cJSON *attrs;  /* owned until merged */
    cJSON *driver; /* owned until merged, NULL for the host probe */
    pthread_t thread;
    int started;
};

static const char *go_arch(const char *machine)
{
    static const struct {
        const char *uname;
        const char *go;
    } map[] = {{"x86_64", "amd64"},    {"aarch64", "arm64"}, {"i386", "386"},
               {"i686", "386"},        {"armv7l", "arm"},    {"armv6l", "arm"},
               {"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"}};

    for (size_t i = 0; i < TDRV_ARRAY_LEN(map); i++)
        if (!strcmp(map[i].uname, machine))
            return map[i].go;
    return machine;
}

/* Value of KEY= in /etc/os-release, unquoted. */
static char *os_release_get(const char *text, const char *key)
{
    size_t kl = strlen(key);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = strcspn(v, "\n");

            if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v++;
                n -= 2;
            }
            return tdrv_xstrndup(v, n);
        }
    }
    return NULL;
}

static void probe_host(struct probe *p)
{
    const struct tdrv_config *cfg = p->cfg;
    struct utsname u;
    char host[256] = "";
    cleanup_free char *osr = read_small("/etc/os-release", 1u << 16);
    cleanup_free char *cpuinfo = read_small("/proc/cpuinfo", 1u << 22);
    cleanup_free char *meminfo = read_small("/proc/meminfo", 1u << 16);
    cleanup_free char *maxfreq =
        read_small("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", 64);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double mhz = 0;

    if (!osr)
        osr = read_small("/usr/lib/os-release", 1u << 16);
    if (uname(&u) == 0) {
        char lower[sizeof(u.sysname)];
        size_t i;

        for (i = 0; u.sysname[i] && i + 1 < sizeof(lower); i++)
            lower[i] = (char)tolower((unsigned char)u.sysname[i]);
        lower[i] = '\0';
        set_attr(p->attrs, "kernel.name", lower);
        set_attr(p->attrs, "kernel.version", u.release);
        set_attr(p->attrs, "kernel.arch", u.machine);
        set_attr(p->attrs, "cpu.arch", go_arch(u.machine));
    }
    if (osr) {
        cleanup_free char *id = os_release_get(osr, "ID");
        cleanup_free char *ver = os_release_get(osr, "VERSION_ID");
        cleanup_free char *pretty = os_release_get(osr, "PRETTY_NAME");

        set_attr(p->attrs, "os.name", id);
        set_attr(p->attrs, "os.version", ver);
        set_attr(p->attrs, "os.pretty_name", pretty);
    }
    if (cores > 0)
        set_attrf(p->attrs, "cpu.numcores", "%ld", cores);
    if (maxfreq)
        mhz = strtod(maxfreq, NULL) / 1000.0;
    if (cpuinfo) {
        cleanup_free char *model =
            regex_group1("model name[[:space:]]*:[[:space:]]*([^\n]*)", cpuinfo);

        set_attr(p->attrs, "cpu.modelname", model);
        for (const char *s = strstr(cpuinfo, "cpu MHz"); s; s = strstr(s + 1, "cpu MHz")) {
            const char *c = strchr(s, ':');
            double v = c ? strtod(c + 1, NULL) : 0;

            if (mhz <= 0 || (!maxfreq && v > mhz))
                mhz = v;
        }
    }
    if (mhz > 0) {
        set_attrf(p->attrs, "cpu.frequency", "%.0f", mhz);
        if (cores > 0)
            set_attrf(p->attrs, "cpu.totalcompute", "%.0f", mhz * (double)cores);
    }
    if (meminfo) {
        const char *m = strstr(meminfo, "MemTotal:");

        if (m)
            set_attrf(p->attrs, "memory.totalbytes", "%llu", strtoull(m + 9, NULL, 10) * 1024ULL);
    }
    if (gethostname(host, sizeof(host) - 1) == 0)
        set_attr(p->attrs, "unique.hostname", host);
    set_attr(p->attrs, "node.datacenter", cfg->datacenter ? cfg->datacenter : "dc1");
    set_attr(p->attrs, "node.unique.name", cfg->node_name ? cfg->node_name : host);
    if (cJSON_IsObject(cfg->meta)) {
        const cJSON *it;

        cJSON_ArrayForEach(it, cfg->meta)
        {
            cleanup_free char *k = tdrv_xasprintf("meta.%s", it->string);

            if (cJSON_IsString(it))
                set_attr(p->attrs, k, it->valuestring);
        }
    }
}

/* A request that got no answer: the Engine went away (or hangs), not an error it answered. */
static int engine_gone(const struct tdrv_err *err)
{
    return !strcmp(err->word, "unreachable") || !strcmp(err->word, "connection_lost") ||
           !strcmp(err->word, "timeout");
}

/* The Engine cannot be reached (any more): unhealthy, detected if it was seen, and none of
 * its attributes (a probe it left half-way reports like one it never answered). */
static void docker_unreachable(struct probe *p, const struct tdrv_err *err)
{
    char desc[1200];

    cJSON_Delete(p->attrs); /* this probe's own, merged only after it ends */
    p->attrs = tdrv_json_xobj();
    tdrv_debug("docker: %s", err->msg);
    snprintf(desc, sizeof(desc), "Failed to connect to docker daemon: %s", err->msg);
    p->driver = driver_status(p->state && p->state->docker_seen, 0, desc);
}

static void probe_docker(struct probe *p)
{
    const struct tdrv_config *cfg = p->cfg;
    cleanup_docker struct tdrv_docker d;
    cleanup_json cJSON *ver = NULL;
    cleanup_json cJSON *info = NULL;
    cleanup_json cJSON *nets = NULL;
    struct tdrv_err err = {0};
    const char *s = NULL;
    char desc[1200];

    tdrv_docker_init(&d);
    if (tdrv_docker_setup(&d, cfg->docker_endpoint, cfg->docker_tls_ca, cfg->docker_tls_cert,
                          cfg->docker_tls_key, &err) < 0) {
        snprintf(desc, sizeof(desc), "Failed to initialize docker client: %s", err.msg);
        p->driver = driver_status(0, 0, desc);
        return;
    }
    d.connect_timeout_ms = p->timeout_ms;
    d.timeout_ms = p->timeout_ms;
    if (tdrv_docker_negotiate(&d, &ver, &err) < 0) {
        docker_unreachable(p, &err);
        return;
    }
    if (p->state)
        p->state->docker_seen = 1;
    set_attr(p->attrs, "driver.docker", "true");
    if (tdrv_json_str(ver, "Version", TDRV_OPTIONAL, &s, &err) == 0)
        set_attr(p->attrs, "driver.docker.version", s);
    set_attr(p->attrs, "driver.docker.api_version", d.api_version);
    if (cfg->allow_privileged)
        set_attr(p->attrs, "driver.docker.privileged.enabled", "true");
    if (cfg->volumes_enabled)
        set_attr(p->attrs, "driver.docker.volumes.enabled", "true");
    if (geteuid() != 0)
        set_attr(p->attrs, "driver.docker.cpuset_management.disabled", "true");

    if (tdrv_docker_get_json(&d, "/info", &info, &err) < 0) {
        if (engine_gone(&err)) {
            docker_unreachable(p, &err);
            return;
        }
        tdrv_info("docker: %s", err.msg);
        tdrv_err_clear(&err);
    } else {
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(info, "Runtimes");
        const cJSON *it;
        char *names[64];
        size_t n = 0;

        cJSON_ArrayForEach(it, rt)
        {
            if (n < TDRV_ARRAY_LEN(names) && it->string)
                names[n++] = it->string;
        }
        if (n) {
            cleanup_free char *j = join_sorted(names, n);

            set_attr(p->attrs, "driver.docker.runtimes", j);
        }
        s = NULL;
        if (tdrv_json_str(info, "OSType", TDRV_OPTIONAL, &s, &err) == 0)
            set_attr(p->attrs, "driver.docker.os_type", s);
        tdrv_err_clear(&err);
    }
    if (tdrv_docker_get_json(&d, "/networks", &nets, &err) < 0) {
        if (engine_gone(&err)) {
            docker_unreachable(p, &err);
            return;
        }
        tdrv_info("docker: %s", err.msg);
    } else {
        const cJSON *net;

        cJSON_ArrayForEach(net, nets)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(net, "Name");
            const cJSON *gw = tdrv_json_at(net, "IPAM.Config");

            if (!cJSON_IsString(name) || strcmp(name->valuestring, "bridge") != 0)
                continue;
            gw = cJSON_IsArray(gw) ? cJSON_GetArrayItem(gw, 0) : NULL;
            gw = gw ? cJSON_GetObjectItemCaseSensitive(gw, "Gateway") : NULL;
            if (cJSON_IsString(gw) && gw->valuestring[0])
                set_attr(p->attrs, "driver.docker.bridge_ip", gw->valuestring);
        }
    }
    p->driver = driver_status(1, 1, "Healthy");
}

int tdrv_fp_rkt_versions(const char *out, char **rkt, char **appc)
{
    cleanup_free char *v = regex_group1("rkt [vV]ersion:? ([0-9][.0-9]*)", out);
    cleanup_free char *a = regex_group1("appc [vV]ersion:? ([0-9][.0-9]*)", out);

    if (!v || !a)
        return -1;
    *rkt = steal_ptr(&v);
    *appc = steal_ptr(&a);
    return 0;
}

static void probe_rkt(struct probe *p)
{
    static const char *const argv[] = {"rkt", "version", NULL};
    cleanup_free char *out = NULL;
    cleanup_free char *ver = NULL;
    cleanup_free char *appc = NULL;
    struct tdrv_err err = {0};
    int status = 0;
    int cmp = 0;
    char desc[1200];

    if (geteuid() != 0) {
        p->driver = driver_status(0, 0, "rkt requires root");
        return;
    }
    if (run_capture(argv, p->timeout_ms, &out, &status, &err) < 0) {
        if (err.code == TDRV_E_NOINPUT)
            snprintf(desc, sizeof(desc), "rkt not found in PATH");
        else
            snprintf(desc, sizeof(desc), "Failed to run rkt version: %s", err.msg);
        p->driver = driver_status(0, 0, desc);
        return;
    }
    if (status != 0) {
        snprintf(desc, sizeof(desc), "Failed to run rkt version: exit status %d", status);
        p->driver = driver_status(0, 0, desc);
        return;
    }
    if (tdrv_fp_rkt_versions(out, &ver, &appc) < 0) {
        p->driver = driver_status(0, 0, "Unable to parse rkt version string");
        return;
    }
    set_attr(p->attrs, "driver.rkt.version", ver);
    set_attr(p->attrs, "driver.rkt.appc.version", appc);
    if (tdrv_version_cmp(ver, TDRV_FP_RKT_MIN_VERSION, &cmp) < 0 || cmp < 0) {
        snprintf(desc, sizeof(desc), "Unsupported rkt version %s (minimum %s)", ver,
                 TDRV_FP_RKT_MIN_VERSION);
        p->driver = driver_status(1, 0, desc);
        return;
    }
    set_attr(p->attrs, "driver.rkt", "true");
    if (p->cfg->volumes_enabled)
        set_attr(p->attrs, "driver.rkt.volumes.enabled", "true");
    p->driver = driver_status(1, 1, "Healthy");
}

/* "runc version 1.1.5" / "crun version 1.8.1" → "1.1.5". */
static char *runtime_version(const char *bin, long timeout_ms)
{
    const char *const argv[] = {bin, "--version", NULL};
    cleanup_free char *out = NULL;
    struct tdrv_err err = {0};
    int status = 0;

    if (run_capture(argv, timeout_ms, &out, &status, &err) < 0 || status != 0)
        return NULL;
    return regex_group1("version:? ([^[:space:]]+)", out);
}

static char *cgroup_controllers(int v2)
{
    char *names[64];
    size_t n = 0;
    char *r;

    if (v2) {
        cleanup_free char *c = read_small("/sys/fs/cgroup/cgroup.controllers", 4096);
        char *save = NULL;

        for (char *t = c ? strtok_r(c, " \n", &save) : NULL; t && n < TDRV_ARRAY_LEN(names);
             t = strtok_r(NULL, " \n", &save))
            names[n++] = tdrv_xstrdup(t);
    } else {
        cleanup_free char *c = read_small("/proc/cgroups", 1u << 16);
        char *save = NULL;

        for (char *l = c ? strtok_r(c, "\n", &save) : NULL; l && n < TDRV_ARRAY_LEN(names);
             l = strtok_r(NULL, "\n", &save)) {
            char name[64];
            unsigned hier = 0;
            unsigned num = 0;
            unsigned en = 0;

            if (l[0] == '#' || sscanf(l, "%63s %u %u %u", name, &hier, &num, &en) != 4)
                continue;
            if (hier > 0 && en)
                names[n++] = tdrv_xstrdup(name);
        }
    }
    r = join_sorted(names, n);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return r;
}

static char *cni_plugins(const char **dir_out)
{
    static const char *const dirs[] = {"/opt/cni/bin", "/usr/lib/cni"};

    for (size_t i = 0; i < TDRV_ARRAY_LEN(dirs); i++) {
        cleanup_free char *list = NULL;
        char *names[256];
        size_t n = 0;
        DIR *dir = opendir(dirs[i]);
        struct dirent *de;

        if (!dir)
            continue;
        while ((de = readdir(dir)) && n < TDRV_ARRAY_LEN(names)) {
            struct stat st;

            if (de->d_name[0] == '.')
                continue;
            if (fstatat(dirfd(dir), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode) &&
                (st.st_mode & 0111))
                names[n++] = tdrv_xstrdup(de->d_name);
        }
        closedir(dir);
        if (!n)
            continue;
        list = join_sorted(names, n);
        for (size_t k = 0; k < n; k++)
            free(names[k]);
        *dir_out = dirs[i];
        return steal_ptr(&list);
    }
    return NULL;
}

/* Writable, or creatable: the nearest existing ancestor is writable. */
static int path_writable(const char *path)
{
    cleanup_free char *p = tdrv_xstrdup(path);

    for (;;) {
        char *slash;

        if (access(p, F_OK) == 0)
            return access(p, W_OK) == 0;
        slash = strrchr(p, '/');
        if (!slash)
            return 0;
        if (slash == p) {
            p[1] = '\0';
            return access(p, W_OK) == 0;
        }
        *slash = '\0';
    }
}

static void probe_oci(struct probe *p)
{
    static const char *const bins[] = {"runc", "crun"};
    const struct tdrv_config *cfg = p->cfg;
    const char *runtime = cfg->runtime ? cfg->runtime : "runc";
    const char *root = cfg->root ? cfg->root : "/var/lib/tdrv";
    cleanup_free char *filesystems = read_small("/proc/filesystems", 1u << 16);
    cleanup_free char *status = read_small("/proc/self/status", 1u << 16);
    cleanup_free char *userns = read_small("/proc/sys/user/max_user_namespaces", 64);
    cleanup_free char *controllers = NULL;
    cleanup_free char *cni = NULL;
    const char *cni_dir = NULL;
    char *found[TDRV_ARRAY_LEN(bins)];
    size_t nfound = 0;
    int runtime_found = 0;
    int overlay = 0;
    int v2 = 0;
    int hybrid = 0;
    int root_ok = geteuid() == 0;
    int writable = path_writable(root);
    struct statfs sfs;
    char desc[1200];

    for (size_t i = 0; i < TDRV_ARRAY_LEN(bins); i++) {
        cleanup_free char *v = runtime_version(bins[i], p->timeout_ms);
        cleanup_free char *k = tdrv_xasprintf("driver.oci.%s.version", bins[i]);

        if (!v)
            continue;
        set_attr(p->attrs, k, v);
        found[nfound++] = (char *)bins[i];
        if (!strcmp(bins[i], runtime))
            runtime_found = 1;
    }
    if (!runtime_found && strcmp(runtime, "runc") != 0 && strcmp(runtime, "crun") != 0) {
        cleanup_free char *v = runtime_version(runtime, p->timeout_ms);

        runtime_found = v != NULL;
    }
    if (nfound) {
        cleanup_free char *j = join_sorted(found, nfound);

        set_attr(p->attrs, "driver.oci.runtimes", j);
    }
    set_attr(p->attrs, "driver.oci.runtime", runtime);
    overlay = filesystems && strstr(filesystems, "\toverlay\n") != NULL;
    set_attr(p->attrs, "driver.oci.overlayfs", overlay ? "true" : "false");
    if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
        v2 = 1;
    else if (statfs("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
        hybrid = 1;
    set_attr(p->attrs, "driver.oci.cgroup.version", v2 ? "2" : "1");
    set_attr(p->attrs, "driver.oci.cgroup.mode", v2 ? "unified" : hybrid ? "hybrid" : "legacy");
    controllers = cgroup_controllers(v2);
    if (controllers[0])
        set_attr(p->attrs, "driver.oci.cgroup.controllers", controllers);
    set_attr(p->attrs, "driver.oci.userns",
             userns && strtol(userns, NULL, 10) > 0 ? "true" : "false");
    set_attr(p->attrs, "driver.oci.seccomp",
             status && strstr(status, "\nSeccomp:") ? "true" : "false");
    cni = cni_plugins(&cni_dir);
    if (cni) {
        set_attr(p->attrs, "driver.oci.cni.path", cni_dir);
        set_attr(p->attrs, "driver.oci.cni.plugins", cni);
    }
    set_attr(p->attrs, "driver.oci.root", root_ok ? "true" : "false");
    set_attr(p->attrs, "driver.oci.store", root);
    set_attr(p->attrs, "driver.oci.store.writable", writable ? "true" : "false");
    if (!runtime_found) {
        snprintf(desc, sizeof(desc), "OCI runtime '%s' not found in PATH", runtime);
        p->driver = driver_status(0, 0, desc);
        return;
    }
    if (!root_ok) {
        p->driver = driver_status(1, 0, "the oci driver requires root");
        return;
    }
    if (!writable) {
        snprintf(desc, sizeof(desc), "store '%s' is not writable", root);
        p->driver = driver_status(1, 0, desc);
        return;
    }
    set_attr(p->attrs, "driver.oci", "true");
    p->driver = driver_status(1, 1, "Healthy");
}

/* 1 when something accepts connections on the Unix socket. */
static int unix_socket_alive(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cleanup_close int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path))
        return 0;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

static void probe_containerd(struct probe *p)
{
    static const char *const argv[] = {"containerd", "--version", NULL};
    const char *sock = p->containerd_socket;
    cleanup_free char *out = NULL;
    struct tdrv_err err = {0};
    struct stat st;
    int status = 0;
    int has_sock = stat(sock, &st) == 0 && S_ISSOCK(st.st_mode);
    int has_bin = 0;
    char desc[1200];

    if (run_capture(argv, p->timeout_ms, &out, &status, &err) == 0 && status == 0) {
        cleanup_free char *ver =
            regex_group1("containerd[[:space:]]+[^[:space:]]+[[:space:]]+([^[:space:]]+)", out);
        cleanup_free char *rev = regex_group1("containerd[[:space:]]+[^[:space:]]+[[:space:]]+[^[:"
                                              "space:]]+[[:space:]]+([^[:space:]]+)",
                                              out);

        has_bin = 1;
        set_attr(p->attrs, "driver.containerd.containerd_version", ver);
        set_attr(p->attrs, "driver.containerd.containerd_revision", rev);
    }
    if (!has_bin && !has_sock) {
        p->driver = driver_status(0, 0, "containerd not found");
        return;
    }
    if (!has_sock || !unix_socket_alive(sock)) {
        snprintf(desc, sizeof(desc), "containerd is not serving on '%s'", sock);
        p->driver = driver_status(1, 0, desc);
        return;
    }
    set_attr(p->attrs, "driver.containerd", "true");
    p->driver = driver_status(1, 1, "Healthy");
}

static void *probe_thread(void *arg)
{
    struct probe *p = arg;
    long t0 = now_ms();

    p->fn(p);
    tdrv_debug("probe %s: %ld ms", p->name, now_ms() - t0);
    return NULL;
}

/* Re-add an object's members sorted by key, for a stable document. */
static void sort_object(cJSON *obj)
{
    cJSON *items[4096];
    size_t n = 0;
    cJSON *it;

    while ((it = obj->child) && n < TDRV_ARRAY_LEN(items))
        items[n++] = cJSON_DetachItemViaPointer(obj, it);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(items[j - 1]->string, items[j]->string) > 0; j--) {
            cJSON *t = items[j];

            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToObject(obj, items[i]->string, items[i]) ? (void)0 : tdrv_oom();
}

int tdrv_fingerprint(const struct tdrv_config *cfg, const struct tdrv_fp_opts *opts,
                     struct tdrv_fp_state *state, cJSON **out, struct tdrv_err *err)
{
    struct probe probes[] = {
        {.name = "host", .fn = probe_host},
        {.name = "docker", .fn = probe_docker},
        {.name = "rkt", .fn = probe_rkt},
        {.name = "oci", .fn = probe_oci},
        {.name = "containerd", .fn = probe_containerd},
    };
    cleanup_json cJSON *doc = tdrv_json_xobj();
    cJSON *attrs = tdrv_json_xobj();
    cJSON *drivers = tdrv_json_xobj();
    long timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : TDRV_FP_DEFAULT_TIMEOUT_MS;

    tdrv_json_add(doc, "attributes", attrs);
    tdrv_json_add(doc, "drivers", drivers);
    /* libcurl's global init is not thread-safe in every version: do it before the threads. */
    if (tdrv_http_global_init(err) < 0)
        return -1;
    for (size_t i = 0; i < TDRV_ARRAY_LEN(probes); i++) {
        struct probe *p = &probes[i];
        int rc;

        p->cfg = cfg;
        p->timeout_ms = timeout;
        p->containerd_socket =
            opts && opts->containerd_socket ? opts->containerd_socket : TDRV_FP_CONTAINERD_SOCKET;
        p->state = state;
        p->attrs = tdrv_json_xobj();
        rc = pthread_create(&p->thread, NULL, probe_thread, p);
        if (rc != 0) {
            tdrv_debug("probe %s: no thread (%s), running inline", p->name, strerror(rc));
            probe_thread(p);
        } else {
            p->started = 1;
        }
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(probes); i++) {
        struct probe *p = &probes[i];
        cJSON *it;

        if (p->started)
            pthread_join(p->thread, NULL);
        while ((it = p->attrs->child)) {
            cJSON_DetachItemViaPointer(p->attrs, it);
            if (!cJSON_AddItemToObject(attrs, it->string, it))
                tdrv_oom();
        }
        cJSON_Delete(p->attrs);
        if (p->driver)
            tdrv_json_add(drivers, p->name, p->driver);
    }
    sort_object(attrs);
    *out = steal_ptr(&doc);
    return 0;
}

/* ------------------------------------------------------------------ versions */

struct version {
    unsigned long long seg[8];
    int nseg;
    char pre[64];
};

/* Length of the run at p before a stop character or any white space (isspace, as trim). */
static size_t span_to(const char *p, const char *stop)
{
    size_t n = 0;

    while (p[n] && !isspace((unsigned char)p[n]) && !strchr(stop, p[n]))
        n++;
    return n;
}

static int version_parse(const char *s, struct version *v)
{
    const char *p = s;

    memset(v, 0, sizeof(*v));
    while (isspace((unsigned char)*p))
        p++;
    if (*p == 'v')
        p++;
    for (;;) {
        char *end;

        if (!isdigit((unsigned char)*p) || v->nseg == (int)TDRV_ARRAY_LEN(v->seg))
            return -1;
        errno = 0;
        v->seg[v->nseg++] = strtoull(p, &end, 10);
        if (errno)
            return -1;
        p = end;
        if (*p == '.' && isdigit((unsigned char)p[1])) {
            p++;
            continue;
        }
        break;
    }
    if (*p == '-' || isalpha((unsigned char)*p) || *p == '~') {
        size_t n = span_to(p, "+");

        if (*p == '-') {
            p++;
            n--;
        }
        if (!n || n >= sizeof(v->pre))
            return -1;
        memcpy(v->pre, p, n);
        v->pre[n] = '\0';
        p += n;
    }
    if (*p == '+') {
        p++;
        if (!*p)
            return -1;
        p += span_to(p, "");
    }
    while (isspace((unsigned char)*p))
        p++;
    return *p ? -1 : 0;
}

static int version_compare(const struct version *a, const struct version *b)
{
    int n = a->nseg > b->nseg ? a->nseg : b->nseg;

    for (int i = 0; i < n; i++) {
        unsigned long long x = i < a->nseg ? a->seg[i] : 0;
        unsigned long long y = i < b->nseg ? b->seg[i] : 0;

        if (x != y)
            return x < y ? -1 : 1;
    }
    if (!a->pre[0] || !b->pre[0])
        return a->pre[0] ? -1 : b->pre[0] ? 1 : 0;
    n = strcmp(a->pre, b->pre);
    return n < 0 ? -1 : n > 0;
}

int tdrv_version_cmp(const char *a, const char *b, int *cmp)
{
    struct version va;
    struct version vb;

    if (version_parse(a, &va) < 0 || version_parse(b, &vb) < 0)
        return -1;
    *cmp = version_compare(&va, &vb);
    return 0;
}

int tdrv_version_check(const char *version, const char *constraints, struct tdrv_err *err)
{
    static const char *const ops[] = {">=", "<=", "!=", "~>", "=", ">", "<"};
    cleanup_free char *copy = tdrv_xstrdup(constraints);
    struct version v;
    int holds = 1;
    int valid = version_parse(version, &v) == 0;
    char *save = NULL;
    int count = 0;

    for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        const char *op = "=";
        struct version cv;
        char *t = trim(c);
        int r;

        for (size_t i = 0; i < TDRV_ARRAY_LEN(ops); i++)
            if (!strncmp(t, ops[i], strlen(ops[i]))) {
                op = ops[i];
                t = trim(t + strlen(ops[i]));
                break;
            }
        if (version_parse(t, &cv) < 0)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid version constraint '%s'", constraints);
        count++;
        if (!valid) {
            holds = 0;
            continue;
        }
        r = version_compare(&v, &cv);
        if (!strcmp(op, "=")    ? r != 0
            : !strcmp(op, "!=") ? r == 0
            : !strcmp(op, ">")  ? r <= 0
            : !strcmp(op, "<")  ? r >= 0
            : !strcmp(op, ">=") ? r < 0
            : !strcmp(op, "<=") ? r > 0
                                : 0)
            holds = 0;
        if (!strcmp(op, "~>")) {
            /* ~> 1.2 means >= 1.2, < 2.0; ~> 1.2.3 means >= 1.2.3, < 1.3.0. */
            if (r < 0)
                holds = 0;
            for (int i = 0; i < cv.nseg - 1; i++)
                if ((i < v.nseg ? v.seg[i] : 0) != cv.seg[i])
                    holds = 0;
        }
    }
    if (!count)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                             "invalid version constraint '%s'", constraints);
    return holds;
}

/* ------------------------------------------------------------------ constraints */

const char *tdrv_fp_lookup(const cJSON *doc, const char *target)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(doc, "attributes");
    const cJSON *v;

    if (!strncmp(target, "attr.", 5))
        target += 5;
    v = cJSON_GetObjectItemCaseSensitive(attrs, target);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Parse "${name}" at s; *end points past it. */
static char *parse_target(const char *s, const char **end)
{
    const char *close;

    if (strncmp(s, "${", 2) != 0)
        return NULL;
    close = strchr(s + 2, '}');
    if (!close || close == s + 2)
        return NULL;
    *end = close + 1;
    return tdrv_xstrndup(s + 2, (size_t)(close - s - 2));
}

/* Nomad's checkOrder: integers, then floats, then strings. */
static int compare_values(const char *a, const char *b)
{
    char *ea = NULL;
    char *eb = NULL;
    long long ia;
    long long ib;
    double fa;
    double fb;

    errno = 0;
    ia = strtoll(a, &ea, 10);
    ib = strtoll(b, &eb, 10);
    if (!errno && *a && *b && !*ea && !*eb)
        return ia < ib ? -1 : ia > ib;
    fa = strtod(a, &ea);
    fb = strtod(b, &eb);
    if (*a && *b && !*ea && !*eb)
        return fa < fb ? -1 : fa > fb;
    ia = strcmp(a, b);
    return ia < 0 ? -1 : ia > 0;
}

static int set_has(const char *list, const char *item, size_t n)
{
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        const char *s = p;
        const char *e = p + l;

        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if ((size_t)(e - s) == n && !strncmp(s, item, n))
            return 1;
        p += l;
        if (*p)
            p++;
    }
    return 0;
}

static int set_contains(const char *have, const char *want, int any)
{
    int count = 0;

    for (const char *p = want; *p;) {
        size_t l = strcspn(p, ",");
        const char *s = p;
        const char *e = p + l;

        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e > s) {
            int has = set_has(have, s, (size_t)(e - s));

            if (any && has)
                return 1;
            if (!any && !has)
                return 0;
            count++;
        }
        p += l;
        if (*p)
            p++;
    }
    return any ? 0 : count > 0;
}

int tdrv_fp_check(const cJSON *doc, const char *expr, int *holds, char **why, struct tdrv_err *err)
{
    static const char *const sym[] = {"==", "!=", ">=", "<=", "=", ">", "<"};
    static const char *const words[] = {"version",          "semver",     "regexp",
                                        "is_set",           "is_not_set", "set_contains",
                                        "set_contains_any", "is",         "not"};
    cleanup_free char *target = NULL;
    cleanup_free char *rhs_target = NULL;
    cleanup_free char *op = NULL;
    cleanup_free char *rhs_copy = NULL;
    const char *p = expr;
    const char *lhs;
    const char *rhs;
    int r = 0;

    while (isspace((unsigned char)*p))
        p++;
    target = parse_target(p, &p);
    if (!target)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                             "invalid constraint '%s': expected '${attribute}' first", expr);
    while (isspace((unsigned char)*p))
        p++;
    for (size_t i = 0; i < TDRV_ARRAY_LEN(sym) && !op; i++)
        if (!strncmp(p, sym[i], strlen(sym[i]))) {
            op = tdrv_xstrdup(sym[i]);
            p += strlen(sym[i]);
        }
    if (!op) {
        size_t n = strcspn(p, " \t");

        if (!n)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid constraint '%s': missing operator", expr);
        for (size_t i = 0; i < TDRV_ARRAY_LEN(words) && !op; i++)
            if (strlen(words[i]) == n && !strncmp(p, words[i], n))
                op = tdrv_xstrdup(words[i]);
        if (!op)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid constraint '%s': unknown operator '%.*s'", expr, (int)n,
                                 p);
        p += n;
    }
    rhs_copy = tdrv_xstrdup(p);
    rhs = trim(rhs_copy);
    if (!strcmp(op, "is_set") || !strcmp(op, "is_not_set")) {
        if (*rhs)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid constraint '%s': '%s' takes no value", expr, op);
    } else if (!*rhs) {
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                             "invalid constraint '%s': '%s' needs a value", expr, op);
    }
    lhs = tdrv_fp_lookup(doc, target);
    if (!strncmp(rhs, "${", 2)) {
        const char *end = NULL;

        rhs_target = parse_target(rhs, &end);
        if (!rhs_target || *end)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid constraint '%s': bad '${...}' value", expr);
        rhs = tdrv_fp_lookup(doc, rhs_target);
    }
    if (!strcmp(op, "regexp")) {
        regex_t re;
        const char *complex = regexp_too_complex(rhs ? rhs : "");
        int rc;

        if (complex)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid constraint '%s': regexp %s", expr, complex);
        rc = regcomp(&re, rhs ? rhs : "", REG_EXTENDED | REG_NOSUB);

        if (rc != 0) {
            char msg[256];

            regerror(rc, &re, msg, sizeof(msg));
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_constraint", 0,
                                 "invalid constraint '%s': bad regexp: %s", expr, msg);
        }
        r = lhs && regexec(&re, lhs, 0, NULL, 0) == 0;
        regfree(&re);
    } else if (!strcmp(op, "version") || !strcmp(op, "semver")) {
        r = tdrv_version_check(lhs ? lhs : "", rhs ? rhs : "", err);
        if (r < 0)
            return tdrv_err_wrap(err, "invalid constraint '%s'", expr);
        r = r && lhs;
    } else if (!strcmp(op, "is_set")) {
        r = lhs != NULL;
    } else if (!strcmp(op, "is_not_set")) {
        r = lhs == NULL;
    } else if (!lhs || !rhs) {
        r = 0;
    } else if (!strcmp(op, "set_contains")) {
        r = set_contains(lhs, rhs, 0);
    } else if (!strcmp(op, "set_contains_any")) {
        r = set_contains(lhs, rhs, 1);
    } else {
        int c = compare_values(lhs, rhs);

        if (!strcmp(op, "=") || !strcmp(op, "==") || !strcmp(op, "is"))
            r = !strcmp(lhs, rhs);
        else if (!strcmp(op, "!=") || !strcmp(op, "not"))
            r = strcmp(lhs, rhs) != 0;
        else if (!strcmp(op, ">"))
            r = c > 0;
        else if (!strcmp(op, ">="))
            r = c >= 0;
        else if (!strcmp(op, "<"))
            r = c < 0;
        else
            r = c <= 0;
    }
    *holds = r;
    if (why && !r)
        *why = lhs ? tdrv_xasprintf("constraint '%s' does not hold (%s is '%s')", expr, target, lhs)
                   : tdrv_xasprintf("constraint '%s' does not hold (%s is not set)", expr, target);
    return 0;
}

int tdrv_fp_check_all(cJSON *doc, const char *const *exprs, size_t n, struct tdrv_err *err)
{
    cJSON *arr = tdrv_json_xarr();
    int rc = 0;

    tdrv_json_set(doc, "checks", arr);
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *why = NULL;
        cJSON *one = NULL;
        int holds = 0;

        if (tdrv_fp_check(doc, exprs[i], &holds, &why, err) < 0)
            return -1;
        one = tdrv_json_xobj();
        tdrv_json_add_str(one, "constraint", exprs[i]);
        tdrv_json_add_bool(one, "holds", holds);
        tdrv_json_append(arr, one);
        if (!holds && rc == 0)
            rc = tdrv_err_setw(err, TDRV_E_NO, "constraint_not_met", 0, "%s", why);
    }
    return rc;
}

/* ------------------------------------------------------------------ watch */

static volatile sig_atomic_t watch_stop;

static void watch_on_signal(int sig)
{
    (void)sig;
    watch_stop = 1;
}

int tdrv_fp_watch(const struct tdrv_config *cfg, const struct tdrv_fp_opts *opts, long period_ms,
                  FILE *out, struct tdrv_err *err)
{
    struct tdrv_fp_state state = {0};
    cleanup_json cJSON *last = NULL;
    struct sigaction sa = {.sa_handler = watch_on_signal};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (period_ms <= 0)
        period_ms = TDRV_FP_DEFAULT_WATCH_MS;
    while (!watch_stop) {
        cleanup_json cJSON *doc = NULL;
        long next = now_ms() + period_ms;

        if (tdrv_fingerprint(cfg, opts, &state, &doc, err) < 0)
            return -1;
        if (!last || !cJSON_Compare(last, doc, 1)) {
            if (tdrv_json_emit(out, doc, err) < 0)
                return -1;
            cJSON_Delete(last);
            last = steal_ptr(&doc);
        }
        while (!watch_stop) {
            long left = next - now_ms();
            struct timespec ts;

            if (left <= 0)
                break;
            ts.tv_sec = left / 1000;
            ts.tv_nsec = (left % 1000) * 1000000L;
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
