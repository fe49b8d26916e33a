#include "ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "task.h"

#define LEDGER_HEADER                                                                              \
    "# tdrv port ledger v1: port proto alloc_id group task label host_ip created\n"
#define LEDGER_MAX (256u * 1024u * 1024u)
#define LOCK_TIMEOUT_S 60
#define MAX_PORTS 1024

struct lease {
    int port;
    char proto[4];
    char *alloc_id;
    char *group;
    char *task;
    char *label;
    char *host_ip;
    long long created;
};

struct ledger {
    char *dir;
    int lock_fd;
    struct lease *v;
    size_t n;
    size_t alloc;
    char *text; /* the file read; lease strings point into it unless owned */
    size_t text_len;
    int dirty;
};

static void lease_free_owned(struct lease *l, const struct ledger *lg)
{
    /* Strings inside lg->text are not owned; the others were allocated. */
    char *fields[] = {l->alloc_id, l->group, l->task, l->label, l->host_ip};
    for (size_t i = 0; i < TDRV_ARRAY_LEN(fields); i++)
        if (fields[i] &&
            !(lg->text && fields[i] >= lg->text && fields[i] <= lg->text + lg->text_len))
            free(fields[i]);
}

static void ledger_release(struct ledger *lg)
{
    for (size_t i = 0; i < lg->n; i++)
        lease_free_owned(&lg->v[i], lg);
    free(lg->v);
    free(lg->text);
    free(lg->dir);
    if (lg->lock_fd >= 0)
        close(lg->lock_fd); /* releases the flock */
    memset(lg, 0, sizeof(*lg));
    lg->lock_fd = -1;
}

#define cleanup_ledger __attribute__((cleanup(ledger_release)))

static struct lease *ledger_push(struct ledger *lg)
{
    if (lg->n == lg->alloc) {
        lg->alloc = lg->alloc ? lg->alloc * 2 : 64;
        lg->v = tdrv_xrealloc(lg->v, lg->alloc * sizeof(*lg->v));
    }
    memset(&lg->v[lg->n], 0, sizeof(lg->v[0]));
    return &lg->v[lg->n++];
}

static void ledger_remove(struct ledger *lg, size_t i)
{
    lease_free_owned(&lg->v[i], lg);
    memmove(&lg->v[i], &lg->v[i + 1], (lg->n - i - 1) * sizeof(lg->v[0]));
    lg->n--;
    lg->dirty = 1;
}

/* Fields are tab-separated; '%', tab, CR, LF and a lone "-" are %-escaped; "" is written "-". */
static int put_field(struct tdrv_buf *b, const char *s, struct tdrv_err *err)
{
    char esc[4];

    if (!s || !*s)
        return tdrv_buf_addstr(b, "-", err);
    if (!strcmp(s, "-"))
        return tdrv_buf_addstr(b, "%2D", err);
    for (const char *p = s; *p; p++) {
        const char *run = p;

        while (*p && *p != '%' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        if (p > run && tdrv_buf_add(b, run, (size_t)(p - run), err) < 0)
            return -1;
        if (!*p)
            break;
        snprintf(esc, sizeof(esc), "%%%02X", (unsigned char)*p);
        if (tdrv_buf_add(b, esc, 3, err) < 0)
            return -1;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode a field in place. */
static char *get_field(char *s)
{
    char *w = s;

    if (!strcmp(s, "-"))
        return s + 1; /* the NUL: "" */
    for (char *r = s; *r; r++) {
        if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return s;
}

static int parse_ledger(struct ledger *lg, struct tdrv_err *err)
{
    char *line = lg->text;
    int lineno = 0;

    while (line && *line) {
        char *nl = strchr(line, '\n');
        char *f[8];
        int nf = 0;
        char *p = line;
        struct lease *l;
        char *end = NULL;
        long port;

        lineno++;
        if (!nl)
            return tdrv_err_setw(err, TDRV_E_SOFTWARE, "ledger_corrupt", 0,
                                 "unable to read '%s/ledger': line %d is incomplete", lg->dir,
                                 lineno);
        *nl = '\0';
        if (*line == '#' || !*line) {
            line = nl + 1;
            continue;
        }
        while (nf < 8) {
            char *tab = strchr(p, '\t');

            f[nf++] = p;
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        errno = 0;
        port = strtol(f[0], &end, 10);
        if (nf != 8 || errno || *end || port < 1 || port > 65535)
            return tdrv_err_setw(err, TDRV_E_SOFTWARE, "ledger_corrupt", 0,
                                 "unable to read '%s/ledger': line %d is malformed", lg->dir,
                                 lineno);
        l = ledger_push(lg);
        l->port = (int)port;
        snprintf(l->proto, sizeof(l->proto), "%s", f[1]);
        l->alloc_id = get_field(f[2]);
        l->group = get_field(f[3]);
        l->task = get_field(f[4]);
        l->label = get_field(f[5]);
        l->host_ip = get_field(f[6]);
        l->created = strtoll(f[7], NULL, 10);
        line = nl + 1;
    }
    return 0;
}

/* How long to wait for the ledger lock: TDRV_PORTS_LOCK_TIMEOUT seconds, default 60. */
static unsigned lock_timeout(void)
{
    const char *e = getenv("TDRV_PORTS_LOCK_TIMEOUT");
    uint64_t v = LOCK_TIMEOUT_S;
    struct tdrv_err ignored = {0};

    if (e && tdrv_parse_u64(e, 1, 3600, &v, &ignored) < 0)
        v = LOCK_TIMEOUT_S;
    return (unsigned)v;
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* Open (creating) <root>/ports, take its lock (waiting at most LOCK_TIMEOUT_S), read the ledger. */
static int ledger_open(struct ledger *lg, const struct tdrv_config *cfg, struct tdrv_err *err)
{
    cleanup_free char *lock_path = NULL;
    cleanup_free char *path = NULL;
    cleanup_close int fd = -1;
    struct sigaction sa;
    struct sigaction old;
    cleanup_buf struct tdrv_buf b = {0};
    int rc;
    int saved;

    tdrv_buf_init(&b, LEDGER_MAX);
    memset(lg, 0, sizeof(*lg));
    lg->lock_fd = -1;
    lg->dir = tdrv_xasprintf("%s/ports", cfg->root);
    if (mkdir(cfg->root, 0755) < 0 && errno != EEXIST)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", cfg->root);
    if (mkdir(lg->dir, 0755) < 0 && errno != EEXIST)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", lg->dir);
    lock_path = tdrv_xasprintf("%s/lock", lg->dir);
    lg->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lg->lock_fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", lock_path);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART: flock returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    alarm(lock_timeout());
    rc = flock(lg->lock_fd, LOCK_EX);
    saved = errno;
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    if (rc < 0) {
        if (saved == EINTR)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "lock_busy", 0,
                                 "unable to lock '%s': still busy after %us", lock_path,
                                 lock_timeout());
        return tdrv_err_set(err, TDRV_E_OS, saved, "unable to lock '%s'", lock_path);
    }

    path = tdrv_xasprintf("%s/ledger", lg->dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", path);
    }
    if (tdrv_buf_read_fd(&b, fd, path, err) < 0) {
        err->code = TDRV_E_OS;
        return -1;
    }
    lg->text_len = b.len;
    lg->text = tdrv_buf_steal(&b);
    return parse_ledger(lg, err);
}

static void test_delay(void)
{
    const char *d = getenv("TDRV_TEST_PORTS_DELAY_MS");
    uint64_t ms = 0;
    struct tdrv_err e = {0};

    if (d && tdrv_parse_u64(d, 0, 600000, &ms, &e) == 0 && ms) {
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    }
}

/* Rewrite the ledger: ledger.tmp (fsync'd), then rename over ledger. */
static int ledger_commit(struct ledger *lg, struct tdrv_err *err)
{
    cleanup_buf struct tdrv_buf b = {0};
    cleanup_free char *tmp = tdrv_xasprintf("%s/ledger.tmp", lg->dir);
    cleanup_free char *path = tdrv_xasprintf("%s/ledger", lg->dir);
    cleanup_close int fd = -1;
    size_t off = 0;

    tdrv_buf_init(&b, LEDGER_MAX);
    if (!lg->dirty)
        return 0;
    if (tdrv_buf_addstr(&b, LEDGER_HEADER, err) < 0)
        return -1;
    for (size_t i = 0; i < lg->n; i++) {
        const struct lease *l = &lg->v[i];
        char num[64];

        snprintf(num, sizeof(num), "%d\t%s\t", l->port, l->proto);
        if (tdrv_buf_addstr(&b, num, err) < 0 || put_field(&b, l->alloc_id, err) < 0 ||
            tdrv_buf_addstr(&b, "\t", err) < 0 || put_field(&b, l->group, err) < 0 ||
            tdrv_buf_addstr(&b, "\t", err) < 0 || put_field(&b, l->task, err) < 0 ||
            tdrv_buf_addstr(&b, "\t", err) < 0 || put_field(&b, l->label, err) < 0 ||
            tdrv_buf_addstr(&b, "\t", err) < 0 || put_field(&b, l->host_ip, err) < 0)
            return -1;
        snprintf(num, sizeof(num), "\t%lld\n", l->created);
        if (tdrv_buf_addstr(&b, num, err) < 0)
            return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", tmp);
    while (off < b.len) {
        ssize_t n = write(fd, b.data + off, b.len - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to write '%s'", tmp);
        }
        off += (size_t)n;
    }
    if (fdatasync(fd) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to sync '%s'", tmp);
    test_delay();
    if (rename(tmp, path) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to rename '%s'", tmp);
    lg->dirty = 0;
    return 0;
}

static cJSON *lease_json(const struct lease *l)
{
    cJSON *o = tdrv_json_xobj();

    tdrv_json_add_num(o, "port", l->port);
    tdrv_json_add_str(o, "protocol", l->proto);
    tdrv_json_add_str(o, "alloc_id", l->alloc_id);
    tdrv_json_add_str(o, "group", l->group);
    tdrv_json_add_str(o, "task", l->task);
    tdrv_json_add_str(o, "label", l->label);
    tdrv_json_add_str(o, "host_ip", l->host_ip);
    tdrv_json_add_num(o, "created", (double)l->created);
    return o;
}

int tdrv_ports_is_reserved(const cJSON *reserved, int port)
{
    for (const cJSON *c = reserved ? reserved->child : NULL; c; c = c->next) {
        if (cJSON_IsNumber(c) && c->valuedouble == (double)port)
            return 1;
        if (cJSON_IsString(c)) {
            int a = 0;
            int b = 0;

            if (sscanf(c->valuestring, "%d-%d", &a, &b) == 2 && port >= a && port <= b)
                return 1;
        }
    }
    return 0;
}

int tdrv_ports_parse_map_value(const cJSON *v, const char *path, int *port, char proto[4],
                               struct tdrv_err *err)
{
    const char *s;
    char *end = NULL;
    long n;

    snprintf(proto, 4, "tcp");
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 || v->valuedouble > 65535)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s: expected a port number (1-65535)", path);
        *port = (int)v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.%s: expected a port number or a port name such as "
                             "\"8080-tcp\"",
                             path);
    s = v->valuestring;
    errno = 0;
    n = (*s >= '0' && *s <= '9') ? strtol(s, &end, 10) : -1;
    if (n < 1 || n > 65535 || errno ||
        (*end && strcmp(end, "-tcp") != 0 && strcmp(end, "-udp") != 0))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.%s: invalid port '%s' (expected a number, or "
                             "<port>-tcp or <port>-udp)",
                             path, s);
    if (*end)
        snprintf(proto, 4, "%s", end + 1);
    *port = (int)n;
    return 0;
}

int tdrv_ports_is_host_ip(const char *ip)
{
    struct ifaddrs *ifa = NULL;
    unsigned char want[16];
    int fam;
    int found = 0;

    if (inet_pton(AF_INET, ip, want) == 1)
        fam = AF_INET;
    else if (inet_pton(AF_INET6, ip, want) == 1)
        fam = AF_INET6;
    else
        return 0;
    if (getifaddrs(&ifa) < 0)
        return 0;
    for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
            continue;
        if (fam == AF_INET)
            found = !memcmp(&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, want, 4);
        else
            found = !memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, want, 16);
    }
    freeifaddrs(ifa);
    return found;
}

int tdrv_ports_default_ip(char *buf, size_t n, struct tdrv_err *err)
{
    cleanup_fclose FILE *f = fopen("/proc/net/route", "re");
    char line[512];
    char iface[64] = "";
    struct ifaddrs *ifa = NULL;

    (void)err;
    snprintf(buf, n, "127.0.0.1");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        char name[64];
        unsigned long dest;
        unsigned long gw;
        unsigned flags;
        unsigned long mask = 1;
        int refcnt;
        int use;
        int metric;

        if (sscanf(line, "%63s %lx %lx %x %d %d %d %lx", name, &dest, &gw, &flags, &refcnt, &use,
                   &metric, &mask) == 8 &&
            dest == 0 && mask == 0 && (flags & 1)) {
            snprintf(iface, sizeof(iface), "%s", name);
            break;
        }
    }
    if (!iface[0] || getifaddrs(&ifa) < 0)
        return 0;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp(i->ifa_name, iface)) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, buf,
                      (socklen_t)n);
            break;
        }
    }
    freeifaddrs(ifa);
    return 0;
}

/* Whether something on the host holds ip:port on tcp or udp (bind fails). */
static int port_busy(const char *ip, int port)
{
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
    struct sockaddr_storage ss;
    socklen_t len;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)(void *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &a->sin_addr);
        len = sizeof(*a);
    }
    for (size_t t = 0; t < TDRV_ARRAY_LEN(types); t++) {
        int fd = socket(ss.ss_family, types[t] | SOCK_CLOEXEC, 0);
        int rc;
        int e;

        if (fd < 0)
            continue;
        rc = bind(fd, (struct sockaddr *)&ss, len);
        e = errno;
        close(fd);
        if (rc < 0 && e == EADDRINUSE)
            return 1;
    }
    return 0;
}

/* One requested port. */
struct want {
    const char *label;
    int stat; /* static host port, 0 = dynamic */
    int to;   /* container port, 0 = same as host */
    char proto[4];
    int value; /* the host port given */
    int reused;
};

/* A getter's "request.<key>: ..." error, for an item of an array: "request.<path>.<key>: ...". */
static int requalify(struct tdrv_err *err, const char *path)
{
    char rest[sizeof(err->msg)];

    if (strncmp(err->msg, "request.", 8))
        return -1;
    snprintf(rest, sizeof(rest), "%s", err->msg + 8);
    snprintf(err->msg, sizeof(err->msg), "request.%s.%.900s", path, rest);
    return -1;
}

static int apply_port_map(const cJSON *pm, struct want *w, int nw, struct tdrv_err *err)
{
    for (const cJSON *m = pm->child; m; m = m->next) {
        char path[256];
        int port = 0;
        char proto[4];
        int j;

        snprintf(path, sizeof(path), "config.port_map.%s", m->string);
        if (tdrv_ports_parse_map_value(m, path, &port, proto, err) < 0)
            return -1;
        for (j = 0; j < nw; j++)
            if (!strcmp(w[j].label, m->string))
                break;
        if (j == nw)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s: no port labelled '%s' in network.ports", path,
                                 m->string);
        if (!w[j].to)
            w[j].to = port;
        memcpy(w[j].proto, proto, sizeof(proto));
    }
    return 0;
}

static int parse_wants(const cJSON *doc, struct want *w, int *nw, struct tdrv_err *err)
{
    const cJSON *ports = NULL;
    const cJSON *pm = NULL;
    static const char *const keys[] = {"label", "static", "to", "host_network", "value", NULL};
    int i = 0;

    *nw = 0;
    if (tdrv_json_arr(doc, "network.ports", TDRV_OPTIONAL, &ports, err) < 0)
        return -1;
    for (const cJSON *p = ports ? ports->child : NULL; p; p = p->next, i++) {
        char path[64];
        char what[80];
        const char *label = NULL;
        const char *hostnet = NULL;
        int64_t st = 0;
        int64_t to = 0;

        snprintf(path, sizeof(path), "network.ports[%d]", i);
        if (i >= MAX_PORTS)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.network.ports: more than %d ports", MAX_PORTS);
        if (!cJSON_IsObject(p))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s: expected object", path);
        snprintf(what, sizeof(what), "request.%s", path);
        if (tdrv_json_check_keys(p, keys, what, err) < 0)
            return -1;
        if (tdrv_json_str(p, "label", TDRV_REQUIRED, &label, err) < 0 ||
            tdrv_json_i64(p, "static", TDRV_OPTIONAL, 1, 65535, &st, err) < 0 ||
            tdrv_json_i64(p, "to", TDRV_OPTIONAL, -1, 65535, &to, err) < 0 ||
            tdrv_json_str(p, "host_network", TDRV_OPTIONAL, &hostnet, err) < 0)
            return requalify(err, path);
        if (!label[0])
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s.label: must not be empty", path);
        if (hostnet && strcmp(hostnet, "default"))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s.host_network: unknown host network '%s' (only "
                                 "\"default\")",
                                 path, hostnet);
        for (int j = 0; j < i; j++)
            if (!strcmp(w[j].label, label))
                return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                     "request.%s.label: duplicate label '%s'", path, label);
        for (int j = 0; j < i && st; j++)
            if (w[j].stat == st)
                return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                     "request.%s.static: port %d is also asked for by '%s'", path,
                                     (int)st, w[j].label);
        memset(&w[i], 0, sizeof(w[i]));
        w[i].label = label;
        w[i].stat = (int)st;
        w[i].to = to > 0 ? (int)to : 0;
        snprintf(w[i].proto, sizeof(w[i].proto), "tcp");
    }
    *nw = i;

    /*
     * The docker driver's deprecated port_map {label: 8080} and rkt's {label: "8080-tcp"};
     * HCL blocks come out of `nomad job run -output` as [{...}, ...].
     */
    pm = tdrv_json_at(doc, "config.port_map");
    if (pm && cJSON_IsObject(pm))
        return apply_port_map(pm, w, *nw, err);
    if (pm && !cJSON_IsArray(pm))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.config.port_map: expected object");
    for (const cJSON *o = pm ? pm->child : NULL; o; o = o->next) {
        if (!cJSON_IsObject(o))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.config.port_map: expected object");
        if (apply_port_map(o, w, *nw, err) < 0)
            return -1;
    }
    return 0;
}

static int host_ip_for(const cJSON *doc, const struct tdrv_config *cfg, char *ip, size_t n,
                       struct tdrv_err *err)
{
    const char *want = NULL;

    if (tdrv_json_str(doc, "network.host_ip", TDRV_OPTIONAL, &want, err) < 0)
        return -1;
    if (want) {
        if (!tdrv_ports_is_host_ip(want))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.network.host_ip: '%s' is not an address of this host",
                                 want);
        snprintf(ip, n, "%s", want);
        return 0;
    }
    if (cfg->host_ip) {
        snprintf(ip, n, "%s", cfg->host_ip);
        return 0;
    }
    return tdrv_ports_default_ip(ip, n, err);
}

static void env_name(char *out, size_t n, const char *prefix, const char *label)
{
    size_t k = (size_t)snprintf(out, n, "%s", prefix);

    for (const char *p = label; *p && k + 1 < n; p++, k++)
        out[k] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_')
                     ? *p
                     : '_';
    out[k < n ? k : n - 1] = '\0';
}

static int add_result(cJSON *doc, const struct want *w, int nw, const char *ip,
                      struct tdrv_err *err)
{
    cJSON *ports = tdrv_json_xarr();
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(doc, "env");
    cJSON *env;

    if (cur && !cJSON_IsNull(cur) && !cJSON_IsObject(cur)) {
        cJSON_Delete(ports);
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "request.env: expected object");
    }
    if (!cur || cJSON_IsNull(cur))
        tdrv_json_set(doc, "env", tdrv_json_xobj());
    env = cJSON_GetObjectItemCaseSensitive(doc, "env");
    for (int i = 0; i < nw; i++) {
        cJSON *o = tdrv_json_xobj();
        char name[300];
        char val[128];
        int to = w[i].to ? w[i].to : w[i].value;

        tdrv_json_append(ports, o);
        tdrv_json_add_str(o, "label", w[i].label);
        tdrv_json_add_num(o, "value", w[i].value);
        tdrv_json_add_num(o, "to", to);
        tdrv_json_add_str(o, "host_ip", ip);

        env_name(name, sizeof(name), "NOMAD_PORT_", w[i].label);
        snprintf(val, sizeof(val), "%d", to);
        tdrv_json_set(env, name, tdrv_json_xstr(val));
        env_name(name, sizeof(name), "NOMAD_HOST_PORT_", w[i].label);
        snprintf(val, sizeof(val), "%d", w[i].value);
        tdrv_json_set(env, name, tdrv_json_xstr(val));
        env_name(name, sizeof(name), "NOMAD_IP_", w[i].label);
        tdrv_json_set(env, name, tdrv_json_xstr(ip));
        env_name(name, sizeof(name), "NOMAD_ADDR_", w[i].label);
        snprintf(val, sizeof(val), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, w[i].value);
        tdrv_json_set(env, name, tdrv_json_xstr(val));
    }
    tdrv_json_set(doc, "ports", ports);
    return 0;
}

static const char *doc_str(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static int random_start(int span)
{
    unsigned int r = 0;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (unsigned int)getpid() ^ (unsigned int)time(NULL);
    return (int)(r % (unsigned int)span);
}

/* The allocation proper, under the lock: fills w[].value, adds leases to lg. */
static int assign(struct ledger *lg, const struct tdrv_config *cfg, const cJSON *doc,
                  struct want *w, int nw, const char *ip, struct tdrv_err *err)
{
    cleanup_free int *owner = tdrv_xcalloc(65536, sizeof(int)); /* lease index + 1, or 0 */
    const char *alloc_id = doc_str(doc, "alloc_id");
    long long now = (long long)time(NULL);
    int min = cfg->port_min;
    int max = cfg->port_max;
    int span = max - min + 1;

    for (size_t i = 0; i < lg->n; i++)
        owner[lg->v[i].port] = (int)i + 1;

    /* Leases this allocation already holds for the same labels are kept (idempotent). */
    for (int i = 0; i < nw; i++) {
        for (size_t j = 0; j < lg->n; j++) {
            struct lease *l = &lg->v[j];

            if (strcmp(l->alloc_id, alloc_id) || strcmp(l->label, w[i].label))
                continue;
            if (w[i].stat && l->port != w[i].stat)
                break;
            w[i].value = l->port;
            w[i].reused = 1;
            break;
        }
    }
    /* Static ports first, so a dynamic pick never takes one. */
    for (int i = 0; i < nw; i++) {
        int p = w[i].stat;
        int o;

        if (!p || w[i].reused)
            continue;
        if (tdrv_ports_is_reserved(cfg->reserved_ports, p))
            return tdrv_err_setw(err, TDRV_E_NOPERM, "port_reserved", 0,
                                 "port %d ('%s') is reserved by the operator", p, w[i].label);
        o = owner[p];
        if (o > 0) {
            const struct lease *l = &lg->v[o - 1];

            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "port_conflict", 0,
                                 "port %d ('%s') is already leased to alloc %s (%s/%s, label "
                                 "'%s')",
                                 p, w[i].label, l->alloc_id, l->group, l->task, l->label);
        }
        if (port_busy(ip, p))
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "port_conflict", 0,
                                 "port %d ('%s') is in use on the host (%s)", p, w[i].label, ip);
        w[i].value = p;
        owner[p] = -1;
    }
    for (int i = 0; i < nw; i++) {
        int start;
        int busy = 0;
        int found = 0;

        if (w[i].value)
            continue;
        start = random_start(span);
        for (int k = 0; k < span; k++) {
            int p = min + (start + k) % span;

            if (owner[p] || tdrv_ports_is_reserved(cfg->reserved_ports, p))
                continue;
            if (port_busy(ip, p)) {
                busy++;
                continue;
            }
            w[i].value = p;
            owner[p] = -1;
            found = 1;
            break;
        }
        if (!found)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "ports_exhausted", 0,
                                 "no free port in %d-%d for '%s' (%d in use on the host)", min, max,
                                 w[i].label, busy);
    }
    /* Record the new leases. */
    for (int i = 0; i < nw; i++) {
        struct lease *l;

        if (w[i].reused)
            continue;
        /* A lease of this alloc for this label on another port (static changed) goes. */
        for (size_t j = 0; j < lg->n; j++)
            if (!strcmp(lg->v[j].alloc_id, alloc_id) && !strcmp(lg->v[j].label, w[i].label)) {
                ledger_remove(lg, j);
                break;
            }
        l = ledger_push(lg);
        l->port = w[i].value;
        memcpy(l->proto, w[i].proto, sizeof(l->proto));
        l->alloc_id = tdrv_xstrdup(alloc_id);
        l->group = tdrv_xstrdup(doc_str(doc, "group"));
        l->task = tdrv_xstrdup(doc_str(doc, "task"));
        l->label = tdrv_xstrdup(w[i].label);
        l->host_ip = tdrv_xstrdup(ip);
        l->created = now;
        lg->dirty = 1;
    }
    return 0;
}

int tdrv_ports_allocate(cJSON *doc, const struct tdrv_config *cfg, struct tdrv_err *err)
{
    cleanup_free struct want *w = tdrv_xcalloc(MAX_PORTS, sizeof(*w));
    cleanup_ledger struct ledger lg = {.lock_fd = -1};
    char ip[INET6_ADDRSTRLEN];
    int nw = 0;

    const cJSON *env = NULL;

    /* Everything that can be refused is checked before the ledger changes (all or nothing). */
    if (tdrv_json_obj(doc, "env", TDRV_OPTIONAL, &env, err) < 0 ||
        tdrv_task_ensure_alloc_id(doc, err) < 0 || parse_wants(doc, w, &nw, err) < 0 ||
        host_ip_for(doc, cfg, ip, sizeof(ip), err) < 0)
        return -1;
    if (nw > 0) {
        if (ledger_open(&lg, cfg, err) < 0 || assign(&lg, cfg, doc, w, nw, ip, err) < 0 ||
            ledger_commit(&lg, err) < 0)
            return -1;
    }
    return add_result(doc, w, nw, ip, err);
}

int tdrv_ports_release(const struct tdrv_config *cfg, const char *alloc_id, cJSON **released,
                       struct tdrv_err *err)
{
    cleanup_ledger struct ledger lg = {.lock_fd = -1};
    cleanup_json cJSON *out = tdrv_json_xarr();

    if (ledger_open(&lg, cfg, err) < 0)
        return -1;
    for (size_t i = 0; i < lg.n;) {
        if (!strcmp(lg.v[i].alloc_id, alloc_id)) {
            tdrv_json_append(out, lease_json(&lg.v[i]));
            ledger_remove(&lg, i);
        } else {
            i++;
        }
    }
    if (ledger_commit(&lg, err) < 0)
        return -1;
    *released = steal_ptr(&out);
    return 0;
}

int tdrv_ports_list(const struct tdrv_config *cfg, const char *alloc_id, cJSON **out,
                    struct tdrv_err *err)
{
    cleanup_ledger struct ledger lg = {.lock_fd = -1};
    cleanup_json cJSON *res = tdrv_json_xobj();
    cJSON *leases = tdrv_json_xarr();
    int n = 0;

    tdrv_json_add(res, "leases", leases);
    if (ledger_open(&lg, cfg, err) < 0)
        return -1;
    for (size_t i = 0; i < lg.n; i++) {
        if (alloc_id && strcmp(lg.v[i].alloc_id, alloc_id))
            continue;
        tdrv_json_append(leases, lease_json(&lg.v[i]));
        n++;
    }
    tdrv_json_add_num(res, "count", n);
    *out = steal_ptr(&res);
    return 0;
}

int tdrv_ports_run(const struct tdrv_ports_opts *opts, const struct tdrv_config *cfg, cJSON **doc,
                   cJSON **res, struct tdrv_err *err)
{
    cleanup_json cJSON *released = NULL;
    const char *alloc_id = opts->alloc_id;

    if (opts->mode == TDRV_PORTS_LIST)
        return tdrv_ports_list(cfg, alloc_id, res, err);
    if (opts->mode == TDRV_PORTS_ALLOCATE) {
        if (tdrv_ports_allocate(*doc, cfg, err) < 0)
            return -1;
        *res = steal_ptr(doc);
        return 0;
    }
    if (!alloc_id && tdrv_json_str(*doc, "alloc_id", TDRV_REQUIRED, &alloc_id, err) < 0)
        return -1;
    if (tdrv_ports_release(cfg, alloc_id, &released, err) < 0)
        return -1;
    if (*doc) {
        tdrv_json_set(*doc, "released", steal_ptr(&released));
        cJSON_DeleteItemFromObjectCaseSensitive(*doc, "ports");
        *res = steal_ptr(doc);
    } else {
        *res = tdrv_json_xobj();
        tdrv_json_add_str(*res, "alloc_id", alloc_id);
        tdrv_json_add(*res, "released", steal_ptr(&released));
    }
    return 0;
}
