/* Registry credentials: task auth, config.json, credential helpers; WWW-Authenticate. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "mem.h"

extern char **environ;

static void wipe_free(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void tdrv_cred_release(struct tdrv_cred *c)
{
    wipe_free(&c->username);
    wipe_free(&c->password);
    wipe_free(&c->identitytoken);
    wipe_free(&c->registrytoken);
    c->source[0] = 0;
}

int tdrv_cred_empty(const struct tdrv_cred *c)
{
    return !(c->username && *c->username) && !(c->password && *c->password) &&
           !(c->identitytoken && *c->identitytoken) && !(c->registrytoken && *c->registrytoken);
}

/* ---- WWW-Authenticate ---------------------------------------------------------------- */

static int is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~/:", c));
}

static int copy_val(char *dst, size_t cap, const char *src, size_t n, struct tdrv_err *err)
{
    if (n >= cap)
        return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                            "malformed WWW-Authenticate header: parameter too long");
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

int tdrv_auth_challenge_parse(const char *hdr, struct tdrv_challenge *out, struct tdrv_err *err)
{
    struct tdrv_challenge cur;
    struct tdrv_challenge basic;
    int have_cur = 0;
    int have_basic = 0;
    const char *p = hdr;
    char val[1024];

    memset(out, 0, sizeof(*out));
    memset(&cur, 0, sizeof(cur));
    memset(&basic, 0, sizeof(basic));
    for (;;) {
        const char *t;
        size_t tlen;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        t = p;
        while (is_tchar((unsigned char)*p))
            p++;
        tlen = (size_t)(p - t);
        if (tlen == 0)
            return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                                "malformed WWW-Authenticate header: unexpected '%c'", *p);
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '=' && have_cur) {
            /* auth-param: name = token / quoted-string */
            size_t vn = 0;
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1])
                        p++;
                    if (vn + 1 >= sizeof(val))
                        return tdrv_err_set(
                            err, TDRV_E_PROTOCOL, 0,
                            "malformed WWW-Authenticate header: parameter too long");
                    val[vn++] = *p++;
                }
                if (*p != '"')
                    return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                                        "malformed WWW-Authenticate header: unterminated string");
                p++;
            } else {
                const char *v = p;
                while (is_tchar((unsigned char)*p) || *p == '=')
                    p++;
                if ((size_t)(p - v) >= sizeof(val))
                    return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                                        "malformed WWW-Authenticate header: parameter too long");
                vn = (size_t)(p - v);
                memcpy(val, v, vn);
            }
            val[vn] = 0;
            if (tlen == 5 && !strncasecmp(t, "realm", 5)) {
                if (copy_val(cur.realm, sizeof(cur.realm), val, vn, err) < 0)
                    return -1;
            } else if (tlen == 7 && !strncasecmp(t, "service", 7)) {
                if (copy_val(cur.service, sizeof(cur.service), val, vn, err) < 0)
                    return -1;
            } else if (tlen == 5 && !strncasecmp(t, "scope", 5)) {
                if (copy_val(cur.scope, sizeof(cur.scope), val, vn, err) < 0)
                    return -1;
            } else if (tlen == 5 && !strncasecmp(t, "error", 5)) {
                if (copy_val(cur.error, sizeof(cur.error), val, vn, err) < 0)
                    return -1;
            }
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p && *p != ',')
                return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                                    "malformed WWW-Authenticate header: expected ','");
            continue;
        }
        if (*p == '=')
            return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                                "malformed WWW-Authenticate header: parameter before a scheme");
        /* A new challenge starts: close the previous one (a Bearer one is the answer, checked
         * below like a last one). */
        if (have_cur && !strcmp(cur.scheme, "bearer"))
            break;
        if (have_cur && !strcmp(cur.scheme, "basic") && !have_basic) {
            basic = cur;
            have_basic = 1;
        }
        memset(&cur, 0, sizeof(cur));
        have_cur = 1;
        if (tlen >= sizeof(cur.scheme))
            tlen = sizeof(cur.scheme) - 1;
        for (size_t i = 0; i < tlen; i++)
            cur.scheme[i] = (char)tolower((unsigned char)t[i]);
    }
    if (have_cur && !strcmp(cur.scheme, "bearer")) {
        *out = cur;
    } else if (have_basic) {
        *out = basic;
    } else if (have_cur && !strcmp(cur.scheme, "basic")) {
        *out = cur;
    } else {
        return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                            "unsupported WWW-Authenticate challenge '%.40s'", hdr);
    }
    if (!strcmp(out->scheme, "bearer") && !out->realm[0])
        return tdrv_err_set(err, TDRV_E_PROTOCOL, 0,
                            "malformed WWW-Authenticate header: Bearer challenge without realm");
    return 0;
}

/* ---- base64 ---------------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *tdrv_base64_encode(const void *p, size_t n)
{
    const unsigned char *s = p;
    char *out = tdrv_xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

int tdrv_base64_decode(const char *s, char **out, size_t *outlen, struct tdrv_err *err)
{
    size_t n = strlen(s);
    cleanup_free char *r = NULL;
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    size_t i;

    while (n > 0 && s[n - 1] == '=')
        n--;
    if (strlen(s) - n > 2)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid base64: too much padding");
    r = tdrv_xmalloc(n * 3 / 4 + 3);
    for (i = 0; i < n; i++) {
        const char *c = s[i] ? strchr(b64, s[i]) : NULL;
        if (!c)
            return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid base64: bad character at %zu", i);
        acc = (acc << 6) | (unsigned)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            r[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (n % 4 == 1)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid base64: truncated");
    r[o] = 0;
    *outlen = o;
    *out = steal_ptr(&r);
    return 0;
}

/* ---- config.json ----------------------------------------------------------------------- */

const char *tdrv_auth_key(const char *host)
{
    if (!strcmp(host, "docker.io") || !strcmp(host, "index.docker.io") ||
        !strcmp(host, "registry-1.docker.io"))
        return "https://index.docker.io/v1/";
    return host;
}

/* "https://host:port/v1/" -> "host:port" */
static void key_hostname(const char *key, char *buf, size_t len)
{
    const char *p = strstr(key, "://");
    size_t n;

    p = p ? p + 3 : key;
    n = strcspn(p, "/");
    snprintf(buf, len, "%.*s", (int)n, p);
}

static int decode_auths_entry(const cJSON *e, const char *key, struct tdrv_cred *out,
                              struct tdrv_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "auth");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "username");
    const cJSON *pw = cJSON_GetObjectItemCaseSensitive(e, "password");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(e, "identitytoken");
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(e, "registrytoken");

    if (!cJSON_IsObject(e))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "auths.%s: expected object", key);
    if (cJSON_IsString(a) && a->valuestring[0]) {
        cleanup_free char *dec = NULL;
        size_t n = 0;
        char *colon;
        struct tdrv_err e2 = {0};
        if (tdrv_base64_decode(a->valuestring, &dec, &n, &e2) < 0)
            return tdrv_err_set(err, TDRV_E_DATA, 0, "auths.%s.auth: %s", key, e2.msg);
        colon = strchr(dec, ':');
        if (!colon || colon == dec || strlen(dec) != n) {
            explicit_bzero(dec, n);
            return tdrv_err_set(err, TDRV_E_DATA, 0,
                                "auths.%s.auth: expected base64 of 'username:password'", key);
        }
        *colon = 0;
        out->username = tdrv_xstrdup(dec);
        out->password = tdrv_xstrdup(colon + 1);
        explicit_bzero(dec, n);
    } else if (a && !cJSON_IsString(a)) {
        return tdrv_err_set(err, TDRV_E_DATA, 0, "auths.%s.auth: expected string", key);
    } else {
        if (cJSON_IsString(u) && u->valuestring[0])
            out->username = tdrv_xstrdup(u->valuestring);
        if (cJSON_IsString(pw) && pw->valuestring[0])
            out->password = tdrv_xstrdup(pw->valuestring);
    }
    if (cJSON_IsString(it) && it->valuestring[0])
        out->identitytoken = tdrv_xstrdup(it->valuestring);
    if (cJSON_IsString(rt) && rt->valuestring[0])
        out->registrytoken = tdrv_xstrdup(rt->valuestring);
    snprintf(out->source, sizeof(out->source), "auth.config");
    if (tdrv_cred_empty(out)) {
        tdrv_cred_release(out);
        return 0;
    }
    return 1;
}

int tdrv_auth_from_config(const cJSON *cfg, const char *host, struct tdrv_cred *out,
                          struct tdrv_err *err)
{
    const char *key = tdrv_auth_key(host);
    const cJSON *auths = cJSON_GetObjectItemCaseSensitive(cfg, "auths");
    const cJSON *helpers = cJSON_GetObjectItemCaseSensitive(cfg, "credHelpers");
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(cfg, "credsStore");
    const cJSON *e;
    int rc;

    if (!cJSON_IsObject(cfg))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "expected a JSON object");
    if (auths && !cJSON_IsObject(auths))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "auths: expected object");
    if (helpers && !cJSON_IsObject(helpers))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "credHelpers: expected object");
    if (store && !cJSON_IsString(store))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "credsStore: expected string");

    /* credHelpers[key] first, then auths, then credsStore (docker/cli's order
     * puts auths last behind credsStore; the docker driver reads auths first). */
    e = cJSON_GetObjectItemCaseSensitive(auths, key);
    if (e) {
        rc = decode_auths_entry(e, key, out, err);
        if (rc != 0)
            return rc;
    }
    if (strcmp(key, "https://index.docker.io/v1/")) {
        cJSON_ArrayForEach(e, auths)
        {
            char hn[256];
            key_hostname(e->string, hn, sizeof(hn));
            if (strcmp(e->string, key) && !strcmp(hn, host)) {
                rc = decode_auths_entry(e, e->string, out, err);
                if (rc != 0)
                    return rc;
            }
        }
    }
    e = cJSON_GetObjectItemCaseSensitive(helpers, key);
    if (e) {
        if (!cJSON_IsString(e) || !e->valuestring[0])
            return tdrv_err_set(err, TDRV_E_DATA, 0, "credHelpers.%s: expected string", key);
        return tdrv_auth_helper_get(e->valuestring, key, out, err);
    }
    if (store && store->valuestring[0])
        return tdrv_auth_helper_get(store->valuestring, key, out, err);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

static int valid_helper(const char *h)
{
    if (!*h)
        return 0;
    for (; *h; h++)
        if (!isalnum((unsigned char)*h) && *h != '-' && *h != '_' && *h != '.')
            return 0;
    return 1;
}

int tdrv_auth_helper_get(const char *helper, const char *server, struct tdrv_cred *out,
                         struct tdrv_err *err)
{
    cleanup_free char *prog = NULL;
    int in[2] = {-1, -1};
    int outp[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0;
    int rc;
    cleanup_buf struct tdrv_buf b = {0};
    struct tdrv_err rerr = {0};
    const char *strip = "docker-credential-";
    char *argv[3];
    void (*old)(int);

    if (!strncmp(helper, strip, strlen(strip)))
        helper += strlen(strip);
    if (!valid_helper(helper))
        return tdrv_err_set(err, TDRV_E_CONFIG, 0, "invalid credential helper name '%s'", helper);
    prog = tdrv_xasprintf("docker-credential-%s", helper);
    tdrv_buf_init(&b, 1u << 20);
    if (pipe2(in, O_CLOEXEC) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a pipe");
    if (pipe2(outp, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a pipe");
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    argv[0] = prog;
    argv[1] = "get";
    argv[2] = NULL;
    rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(outp[1]);
    if (rc != 0) {
        close(in[1]);
        close(outp[0]);
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", rc,
                             "unable to run credential helper '%s'", prog);
    }
    old = signal(SIGPIPE, SIG_IGN);
    if (write(in[1], server, strlen(server)) < 0)
        tdrv_debug("credential helper '%s' did not read its input", prog);
    close(in[1]);
    rc = tdrv_buf_read_fd(&b, outp[0], prog, &rerr);
    close(outp[0]);
    signal(SIGPIPE, old);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc < 0)
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "unable to read the output of credential helper '%s'", prog);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (b.data && strstr(b.data, "credentials not found"))
            return 0;
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "credential helper '%s' failed for '%s'", prog, server);
    }
    return tdrv_auth_helper_answer(prog, b.data, b.len, out, err);
}

int tdrv_auth_helper_answer(const char *prog, char *data, size_t len, struct tdrv_cred *out,
                            struct tdrv_err *err)
{
    struct tdrv_err rerr = {0};
    cleanup_json cJSON *doc = NULL;
    const cJSON *u;
    const cJSON *s;

    if (tdrv_json_parse(data ? data : "", len, &doc, &rerr) < 0 || !cJSON_IsObject(doc)) {
        if (data)
            explicit_bzero(data, len);
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "credential helper '%s' wrote malformed JSON", prog);
    }
    if (data)
        explicit_bzero(data, len);
    u = cJSON_GetObjectItemCaseSensitive(doc, "Username");
    s = cJSON_GetObjectItemCaseSensitive(doc, "Secret");
    if ((u && !cJSON_IsString(u)) || (s && !cJSON_IsString(s)))
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "credential helper '%s': Username and Secret must be strings", prog);
    if (cJSON_IsString(u) && !strcmp(u->valuestring, "<token>") && cJSON_IsString(s)) {
        out->identitytoken = tdrv_xstrdup(s->valuestring);
    } else {
        if (cJSON_IsString(u) && u->valuestring[0])
            out->username = tdrv_xstrdup(u->valuestring);
        if (cJSON_IsString(s) && s->valuestring[0])
            out->password = tdrv_xstrdup(s->valuestring);
    }
    if (cJSON_IsString(s))
        explicit_bzero(s->valuestring, strlen(s->valuestring));
    snprintf(out->source, sizeof(out->source), "helper %s", prog);
    if (tdrv_cred_empty(out)) {
        tdrv_cred_release(out);
        return 0;
    }
    return 1;
}

/* ---- the chain ------------------------------------------------------------------------- */

static int from_task(const cJSON *a, struct tdrv_cred *out, struct tdrv_err *err)
{
    static const char *const keys[] = {"username", "password", "email", "server_address", NULL};
    const char *u = NULL;
    const char *p = NULL;
    const char *s = NULL;

    if (tdrv_json_check_keys(a, keys, "config.auth", err) < 0)
        return -1;
    if (tdrv_json_str(a, "username", TDRV_OPTIONAL, &u, err) < 0 ||
        tdrv_json_str(a, "password", TDRV_OPTIONAL, &p, err) < 0 ||
        tdrv_json_str(a, "server_address", TDRV_OPTIONAL, &s, err) < 0)
        return -1;
    if ((!u || !*u) && (!p || !*p) && (!s || !*s))
        return 0;
    if (u && *u)
        out->username = tdrv_xstrdup(u);
    if (p && *p)
        out->password = tdrv_xstrdup(p);
    snprintf(out->source, sizeof(out->source), "task auth");
    return 1;
}

int tdrv_auth_resolve(const struct tdrv_auth_opts *o, const char *host, struct tdrv_cred *out,
                      struct tdrv_err *err)
{
    int rc = 0;

    if (o->task_auth) {
        rc = from_task(o->task_auth, out, err);
        if (rc != 0)
            return rc < 0 ? tdrv_err_wrap(err, "config.auth") : 0;
    }
    if (o->config_path) {
        cleanup_json cJSON *cfg = NULL;
        rc = tdrv_doc_read_file(o->config_path, 4u << 20, &cfg, err);
        if (rc == 0)
            rc = tdrv_auth_from_config(cfg, host, out, err);
        if (rc < 0) {
            if (err->code == TDRV_E_DATA || err->code == TDRV_E_NOINPUT)
                err->code = TDRV_E_CONFIG,
                snprintf(err->word, sizeof(err->word), "%s", "invalid_config");
            tdrv_err_wrap(err, "auth.config '%s'", o->config_path);
            goto soft;
        }
        if (rc > 0)
            return 0;
    }
    if (o->helper) {
        rc = tdrv_auth_helper_get(o->helper, host, out, err);
        if (rc < 0)
            goto soft;
    }
    return 0;
soft:
    if (o->soft_fail) {
        tdrv_warn("auth lookup failed, pulling anonymously (auth_soft_fail): %s", err->msg);
        tdrv_err_clear(err);
        tdrv_cred_release(out);
        return 0;
    }
    err->code = err->code == TDRV_E_CONFIG ? TDRV_E_CONFIG : TDRV_E_NOPERM;
    if (err->code == TDRV_E_NOPERM)
        snprintf(err->word, sizeof(err->word), "auth_failed");
    return -1;
}
