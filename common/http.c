#include "http.h"

/* every libcurl call goes through the table below: no type-checking macros over it */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "log.h"
#include "mem.h"

/* ---- global init ---- */

/*
 * libcurl is loaded on first use, not linked: as a DT_NEEDED library it (and the ~35
 * libraries it needs: TLS, Kerberos, LDAP, IDN...) costs every start of every tool about
 * 4 ms of dynamic loading, and tdrv-run's OCI path never makes a request (docs/tdrv-run.md,
 * "Start-up time"). Every call below goes through this table, filled by
 * tdrv_http_global_init(), which every path into libcurl calls first.
 */
#ifndef TDRV_LIBCURL_SONAME
#define TDRV_LIBCURL_SONAME "libcurl.so.4"
#endif

static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} lc;

#undef curl_easy_setopt /* curl.h's own pass-through macros */
#undef curl_easy_getinfo
#define curl_global_init lc.global_init
#define curl_easy_init lc.easy_init
#define curl_easy_setopt lc.easy_setopt
#define curl_easy_perform lc.easy_perform
#define curl_easy_getinfo lc.easy_getinfo
#define curl_easy_cleanup lc.easy_cleanup
#define curl_easy_strerror lc.easy_strerror
#define curl_slist_append lc.slist_append
#define curl_slist_free_all lc.slist_free_all

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc;
static char http_load_error[512];

static int http_load(void)
{
    const struct {
        const char *name;
        void **slot;
    } syms[] = {
        {"curl_global_init", (void **)&lc.global_init},
        {"curl_easy_init", (void **)&lc.easy_init},
        {"curl_easy_setopt", (void **)&lc.easy_setopt},
        {"curl_easy_perform", (void **)&lc.easy_perform},
        {"curl_easy_getinfo", (void **)&lc.easy_getinfo},
        {"curl_easy_cleanup", (void **)&lc.easy_cleanup},
        {"curl_easy_strerror", (void **)&lc.easy_strerror},
        {"curl_slist_append", (void **)&lc.slist_append},
        {"curl_slist_free_all", (void **)&lc.slist_free_all},
    };
    void *so = dlopen(TDRV_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (!so) {
        snprintf(http_load_error, sizeof(http_load_error), "%s", dlerror());
        return -1;
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(syms); i++)
        if (!(*syms[i].slot = dlsym(so, syms[i].name))) {
            snprintf(http_load_error, sizeof(http_load_error), "%s: no symbol %s",
                     TDRV_LIBCURL_SONAME, syms[i].name);
            return -1;
        }
    return 0; /* never dlclose()d: the handles live as long as the process */
}

static void http_global_init_once(void)
{
    if (http_load() < 0) {
        http_init_rc = CURLE_FAILED_INIT;
        return;
    }
    http_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

int tdrv_http_global_init(struct tdrv_err *err)
{
    pthread_once(&http_once, http_global_init_once);
    if (http_load_error[0])
        return tdrv_err_set(err, TDRV_E_UNAVAILABLE, 0, "unable to load libcurl: %s",
                            http_load_error);
    if (http_init_rc != CURLE_OK)
        return tdrv_err_set(err, TDRV_E_SOFTWARE, 0, "unable to initialise libcurl: %s",
                            curl_easy_strerror(http_init_rc));
    return 0;
}

/* ---- cleanup helpers for libcurl handles (usable by any API in this file) ---- */

static void curl_easy_cleanupp(CURL **p)
{
    if (*p)
        curl_easy_cleanup(*p);
}

static void curl_slist_freep(struct curl_slist **p)
{
    if (*p)
        curl_slist_free_all(*p);
}

#define cleanup_curl __attribute__((cleanup(curl_easy_cleanupp)))
#define cleanup_slist __attribute__((cleanup(curl_slist_freep)))

/* ---- response ---- */

void tdrv_http_resp_init(struct tdrv_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    tdrv_buf_init(&r->body, TDRV_HTTP_DEFAULT_MAX_BODY);
}

static void resp_clear_headers(struct tdrv_http_resp *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->n_headers = 0;
}

void tdrv_http_resp_release(struct tdrv_http_resp *r)
{
    resp_clear_headers(r);
    free(r->headers);
    r->headers = NULL;
    r->alloc_headers = 0;
    tdrv_buf_release(&r->body);
    free(r->effective_url);
    r->effective_url = NULL;
    r->status = 0;
}

const char *tdrv_http_header_get(const struct tdrv_http_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (!strcasecmp(resp->headers[i].name, name))
            return resp->headers[i].value;
    return NULL;
}

/* ---- redaction ---- */

char *tdrv_http_redact_url(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host;
    const char *end;
    const char *at = NULL;

    if (!scheme)
        return tdrv_xstrdup(url);
    host = scheme + 3;
    end = host + strcspn(host, "/?#");
    for (const char *p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return tdrv_xstrdup(url);
    return tdrv_xasprintf("%.*s***%s", (int)(host - url), url, at);
}

int tdrv_http_header_is_secret(const char *line, size_t len)
{
    static const char *const secret[] = {
        "authorization:", "proxy-authorization:", "x-registry-auth:", "cookie:", "set-cookie:"};

    for (size_t i = 0; i < TDRV_ARRAY_LEN(secret); i++) {
        size_t n = strlen(secret[i]);

        if (len >= n && !strncasecmp(line, secret[i], n))
            return 1;
    }
    return 0;
}

/* ---- per-transfer context and callbacks ---- */

struct http_ctx {
    struct tdrv_http_resp *resp;
    size_t max_body;
    int too_large;
    int header_oom;
    CURL *h;
    const struct tdrv_http_req *req;
    int sink_stopped;
};

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_ctx *ctx = userdata;
    struct tdrv_err e = {0};
    size_t n = size * nmemb;

    if (ctx->req && ctx->req->sink) {
        long st = 0;

        curl_easy_getinfo(ctx->h, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && st <= 299) {
            if (ctx->req->sink(ptr, n, ctx->req->sink_arg) < 0) {
                ctx->sink_stopped = 1;
                return 0;
            }
            return n;
        }
    }
    if (tdrv_buf_add(&ctx->resp->body, ptr, n, &e) < 0) {
        ctx->too_large = 1;
        return 0;
    }
    return n;
}

static void trim_span(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' || (*e)[-1] == '\n'))
        (*e)--;
}

static size_t http_header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
    struct http_ctx *ctx = userdata;
    struct tdrv_http_resp *r = ctx->resp;
    size_t n = size * nitems;
    const char *colon;
    const char *ns = buffer;
    const char *ne;
    const char *vs;
    const char *ve = buffer + n;

    /* A status line starts a new response (redirect, 100 Continue): keep only the last. */
    if (n >= 5 && !strncmp(buffer, "HTTP/", 5)) {
        resp_clear_headers(r);
        return n;
    }
    colon = memchr(buffer, ':', n);
    if (!colon)
        return n;
    ne = colon;
    vs = colon + 1;
    trim_span(&ns, &ne);
    trim_span(&vs, &ve);
    if (r->n_headers == r->alloc_headers) {
        r->alloc_headers = r->alloc_headers ? r->alloc_headers * 2 : 16;
        r->headers = tdrv_xrealloc(r->headers, r->alloc_headers * sizeof(*r->headers));
    }
    r->headers[r->n_headers].name = tdrv_xstrndup(ns, (size_t)(ne - ns));
    r->headers[r->n_headers].value = tdrv_xstrndup(vs, (size_t)(ve - vs));
    r->n_headers++;
    return n;
}

/* -vv: libcurl's trace, one log line per line of text or header, secrets redacted. */
static int http_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
    const char *prefix;
    const char *p = data;
    const char *end = data + size;

    (void)h;
    (void)userp;
    switch (type) {
    case CURLINFO_TEXT:
        prefix = "*";
        break;
    case CURLINFO_HEADER_IN:
        prefix = "<";
        break;
    case CURLINFO_HEADER_OUT:
        prefix = ">";
        break;
    default:
        return 0;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len;

        while (le > p && (le[-1] == '\r' || le[-1] == '\n'))
            le--;
        len = (size_t)(le - p);
        if (len) {
            if (type != CURLINFO_TEXT && tdrv_http_header_is_secret(p, len)) {
                const char *colon = memchr(p, ':', len);

                tdrv_debug("http %s %.*s: [redacted]", prefix, (int)(colon - p), p);
            } else {
                tdrv_debug("http %s %.*s", prefix, (int)len, p);
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* ---- error mapping ---- */

static int http_map_error(CURLcode rc, long os_errno, const struct tdrv_http_req *req,
                          const struct http_ctx *ctx, const char *errbuf, struct tdrv_err *err)
{
    cleanup_free char *url = tdrv_http_redact_url(req->url);
    cleanup_free char *where = NULL;
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const char *word = "unreachable";
    int code = TDRV_E_UNAVAILABLE;
    int sys_errno = 0;

    where = req->unix_socket ? tdrv_xasprintf(" via '%s'", req->unix_socket) : tdrv_xstrdup("");
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        sys_errno = (int)os_errno;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        code = TDRV_E_TEMPFAIL;
        word = "timeout";
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        code = TDRV_E_TEMPFAIL;
        word = "connection_lost";
        sys_errno = (int)os_errno;
        break;
    case CURLE_SSL_CONNECT_ERROR:
        word = "tls_error";
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        code = TDRV_E_NOPERM;
        word = "tls_verify_failed";
        break;
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        code = TDRV_E_NOPERM;
        word = "tls_cert_invalid";
        break;
    case CURLE_WRITE_ERROR:
        if (ctx->too_large)
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "response_too_large", 0,
                                 "unable to fetch '%s'%s: response body larger than %zu bytes", url,
                                 where, ctx->max_body);
        code = TDRV_E_IO;
        word = "io_error";
        break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_TOO_MANY_REDIRECTS:
        code = TDRV_E_PROTOCOL;
        word = "protocol_error";
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        code = TDRV_E_DATA;
        word = "invalid_url";
        break;
    case CURLE_OUT_OF_MEMORY:
        tdrv_oom();
    default:
        break;
    }
    if (sys_errno) /* tdrv_err_setw appends strerror(sys_errno) */
        return tdrv_err_setw(err, code, word, sys_errno, "unable to fetch '%s'%s", url, where);
    return tdrv_err_setw(err, code, word, 0, "unable to fetch '%s'%s: %s", url, where, why);
}

/* ---- one request ---- */

#define HTTP_SETOPT(h, opt, val)                                                                   \
    do {                                                                                           \
        CURLcode rc_ = curl_easy_setopt((h), (opt), (val));                                        \
        if (rc_ != CURLE_OK)                                                                       \
            return tdrv_err_set(err, rc_ == CURLE_OUT_OF_MEMORY ? TDRV_E_OS : TDRV_E_SOFTWARE, 0,  \
                                "unable to set libcurl option %s: %s", #opt,                       \
                                curl_easy_strerror(rc_));                                          \
    } while (0)

/* Configure an easy handle for req; ctx and errbuf must outlive the transfer. */
static int http_easy_setup(CURL *h, const struct tdrv_http_req *req, struct http_ctx *ctx,
                           struct curl_slist *hdrs, char *errbuf, struct tdrv_err *err)
{
    const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
    long cto = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                           : TDRV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;

    HTTP_SETOPT(h, CURLOPT_URL, req->url);
    HTTP_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
    HTTP_SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
    HTTP_SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    HTTP_SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    HTTP_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, cto);
    if (req->timeout_ms > 0)
        HTTP_SETOPT(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (req->unix_socket)
        HTTP_SETOPT(h, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
    if (req->follow_redirects) {
        HTTP_SETOPT(h, CURLOPT_FOLLOWLOCATION, 1L);
        HTTP_SETOPT(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (!strcmp(method, "HEAD"))
        HTTP_SETOPT(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0 || req->body)
        HTTP_SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
    if (req->body) {
        HTTP_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        HTTP_SETOPT(h, CURLOPT_POSTFIELDS, req->body);
    }
    HTTP_SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
    HTTP_SETOPT(h, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    HTTP_SETOPT(h, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (req->ca_file)
        HTTP_SETOPT(h, CURLOPT_CAINFO, req->ca_file);
    if (req->cert_file)
        HTTP_SETOPT(h, CURLOPT_SSLCERT, req->cert_file);
    if (req->key_file)
        HTTP_SETOPT(h, CURLOPT_SSLKEY, req->key_file);
    HTTP_SETOPT(h, CURLOPT_WRITEFUNCTION, http_write_cb);
    HTTP_SETOPT(h, CURLOPT_WRITEDATA, ctx);
    HTTP_SETOPT(h, CURLOPT_HEADERFUNCTION, http_header_cb);
    HTTP_SETOPT(h, CURLOPT_HEADERDATA, ctx);
    HTTP_SETOPT(h, CURLOPT_USERAGENT, "tdrv/" TDRV_VERSION);
    if (tdrv_log_get_level() >= TDRV_LOG_DEBUG) {
        HTTP_SETOPT(h, CURLOPT_DEBUGFUNCTION, http_debug_cb);
        HTTP_SETOPT(h, CURLOPT_VERBOSE, 1L);
    }
    return 0;
}

static int http_build_headers(const struct tdrv_http_req *req, struct curl_slist **out,
                              struct tdrv_err *err)
{
    cleanup_slist struct curl_slist *list = NULL;

    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = curl_slist_append(list, *p);

        if (!n)
            return tdrv_err_set(err, TDRV_E_OS, ENOMEM, "unable to add header");
        list = n;
    }
    *out = steal_ptr(&list);
    return 0;
}

int tdrv_http_do(const struct tdrv_http_req *req, struct tdrv_http_resp *resp, struct tdrv_err *err)
{
    cleanup_curl CURL *h = NULL;
    cleanup_slist struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct http_ctx ctx = {0};
    char *eff = NULL;
    long os_errno = 0;
    CURLcode rc;

    if (!req->url)
        return tdrv_err_setw(err, TDRV_E_SOFTWARE, "internal", 0, "http request without URL");
    if (tdrv_http_global_init(err) < 0)
        return -1;
    tdrv_http_resp_release(resp);
    tdrv_http_resp_init(resp);
    ctx.resp = resp;
    ctx.max_body = req->max_body ? req->max_body : TDRV_HTTP_DEFAULT_MAX_BODY;
    resp->body.cap = ctx.max_body;
    h = curl_easy_init();
    if (!h)
        return tdrv_err_set(err, TDRV_E_OS, ENOMEM, "unable to create a libcurl handle");
    if (http_build_headers(req, &hdrs, err) < 0)
        return -1;
    ctx.h = h;
    ctx.req = req;
    if (http_easy_setup(h, req, &ctx, hdrs, errbuf, err) < 0)
        return -1;
    {
        cleanup_free char *url = tdrv_http_redact_url(req->url);

        tdrv_debug("http %s %s%s%s", req->method ? req->method : (req->body ? "POST" : "GET"), url,
                   req->unix_socket ? " via " : "", req->unix_socket ? req->unix_socket : "");
    }
    rc = curl_easy_perform(h);
    if (rc == CURLE_WRITE_ERROR && ctx.sink_stopped) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        return tdrv_err_setw(err, TDRV_E_IO, "aborted", 0, "transfer ended by its reader");
    }
    if (rc != CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        return http_map_error(rc, os_errno, req, &ctx, errbuf, err);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
        resp->effective_url = tdrv_xstrdup(eff);
    if (!resp->body.data && tdrv_buf_add(&resp->body, "", 0, err) < 0)
        return -1;
    return 0;
}
