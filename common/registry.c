/*
 * The registry protocol of a pull over libcurl: ping, Bearer/Basic auth, manifests with
 * platform selection, and parallel streaming blob transfers on a curl multi handle with
 * retries, Range resume and digest verification.
 *
 * STYLE says only http.c includes <curl/curl.h>. This file does too: http.c wraps one
 * request at a time, and a pull needs many concurrent streaming transfers whose bytes go
 * to a hasher and a sink as they arrive; that machinery lives here, in one place.
 */
#include "registry.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define UA "tdrv/" TDRV_VERSION_STR
#define TDRV_VERSION_STR "0.1.0"

static const char accept_manifests[] =
    "Accept: application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

struct tdrv_registry {
    struct tdrv_registry_opts o;
    char *host; /* API host: docker.io is registry-1.docker.io */
    char *path;
    char base[512];
    int http;
    struct tdrv_challenge chal;
    int have_chal;
    char *auth_header; /* "Authorization: ..." (secret) */
    int auth_is_bearer;
    int64_t token_expiry;
    int64_t deadline;
    CURLSH *share;
    int last_curl; /* the last transport failure (CURLcode) */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void wipe_str(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* ---- digests --------------------------------------------------------------------------- */

static int digest_alg(const char *digest)
{
    int alg = 0;
    const char *hex = NULL;
    struct tdrv_err e = {0};

    return tdrv_digest_parse(digest, &alg, &hex, &e) < 0 ? 0 : alg;
}

int tdrv_digest_valid(const char *d)
{
    return digest_alg(d) != 0;
}

/* The digest of a buffer with the algorithm of `like` (sha256 when like is not a digest). */
static void digest_like(const char *like, const void *p, size_t n, char *out)
{
    int alg = like ? digest_alg(like) : 0;

    tdrv_digest_buf(alg ? alg : TDRV_SHA256, p, n, out);
}

/* ---- one easy handle ------------------------------------------------------------------- */

struct resp {
    long status;
    struct tdrv_buf body;
    char ctype[128];
    char digest[160];
    char www_auth[2048];
    char content_range[128];
    long retry_after;
};

static void resp_reset(struct resp *r)
{
    size_t cap = r->body.cap;
    tdrv_buf_release(&r->body);
    memset(r, 0, sizeof(*r));
    tdrv_buf_init(&r->body, cap);
}

static void hdr_value(const char *line, size_t n, size_t namelen, char *out, size_t len)
{
    const char *v = line + namelen;
    size_t vn = n - namelen;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
        vn--;
    if (vn >= len)
        vn = len - 1;
    memcpy(out, v, vn);
    out[vn] = 0;
}

#define HDR_IS(line, n, name)                                                                      \
    ((n) > sizeof(name) - 1 && !strncasecmp((line), name, sizeof(name) - 1))

static void parse_header(const char *line, size_t n, char *ctype, size_t ctlen, char *digest,
                         size_t dlen, char *www, size_t wlen, char *crange, size_t crlen,
                         long *retry_after)
{
    char tmp[64];

    if (HDR_IS(line, n, "content-type:"))
        hdr_value(line, n, 13, ctype, ctlen);
    else if (HDR_IS(line, n, "docker-content-digest:"))
        hdr_value(line, n, 22, digest, dlen);
    else if (HDR_IS(line, n, "www-authenticate:") && www)
        hdr_value(line, n, 17, www, wlen);
    else if (HDR_IS(line, n, "content-range:") && crange)
        hdr_value(line, n, 14, crange, crlen);
    else if (HDR_IS(line, n, "retry-after:") && retry_after) {
        hdr_value(line, n, 12, tmp, sizeof(tmp));
        *retry_after = tdrv_retry_after_parse(tmp, time(NULL));
    }
}

static size_t resp_header_cb(char *p, size_t sz, size_t nm, void *ud)
{
    struct resp *r = ud;
    size_t n = sz * nm;

    if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (after a redirect or 100-continue): forget the last one's */
        r->ctype[0] = r->digest[0] = r->www_auth[0] = r->content_range[0] = 0;
        r->retry_after = 0;
        return n;
    }
    parse_header(p, n, r->ctype, sizeof(r->ctype), r->digest, sizeof(r->digest), r->www_auth,
                 sizeof(r->www_auth), r->content_range, sizeof(r->content_range), &r->retry_after);
    return n;
}

static size_t resp_body_cb(char *p, size_t sz, size_t nm, void *ud)
{
    struct resp *r = ud;
    struct tdrv_err e = {0};
    if (tdrv_buf_add(&r->body, p, sz * nm, &e) < 0)
        return 0;
    return sz * nm;
}

static int debug_cb(CURL *h, curl_infotype t, char *data, size_t n, void *ud)
{
    (void)h;
    (void)ud;
    if (t == CURLINFO_TEXT || t == CURLINFO_HEADER_IN || t == CURLINFO_HEADER_OUT) {
        const char *dir = t == CURLINFO_HEADER_OUT ? "> " : t == CURLINFO_HEADER_IN ? "< " : "* ";
        while (n > 0) {
            const char *nl = memchr(data, '\n', n);
            size_t ln = nl ? (size_t)(nl - data) : n;
            size_t show = ln;
            while (show && (data[show - 1] == '\r'))
                show--;
            if (show) {
                if (show > 14 && !strncasecmp(data, "authorization:", 14))
                    tdrv_debug("%sAuthorization: <redacted>", dir);
                else if (show > 20 && !strncasecmp(data, "proxy-authorization:", 20))
                    tdrv_debug("%sProxy-Authorization: <redacted>", dir);
                else
                    tdrv_debug("%s%.*s", dir, (int)(show > 300 ? 300 : show), data);
            }
            if (!nl)
                break;
            n -= ln + 1;
            data += ln + 1;
        }
    }
    return 0;
}

static int64_t remaining_ms(const struct tdrv_registry *r)
{
    int64_t left = r->deadline - now_ms();
    return left < 1 ? 1 : left;
}

static void setup_easy(struct tdrv_registry *r, CURL *h, const char *url)
{
    const char *protos = r->http || r->o.insecure_http ? "http,https" : "https";
    long lst = (long)(r->o.activity_timeout_ms / 1000);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, UA);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos);
    if (r->o.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, r->o.ca_file);
    if (r->o.insecure_tls) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, lst < 1 ? 1L : lst);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->o.activity_timeout_ms < remaining_ms(r) ? r->o.activity_timeout_ms
                                                                       : remaining_ms(r)));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)remaining_ms(r));
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024L);
    if (r->share)
        curl_easy_setopt(h, CURLOPT_SHARE, r->share);
    if (tdrv_log_get_level() >= TDRV_LOG_DEBUG) {
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
    }
}

static int transient_curl(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
           c == CURLE_PARTIAL_FILE || c == CURLE_GOT_NOTHING || c == CURLE_HTTP2 ||
           c == CURLE_HTTP2_STREAM;
}

static int transient_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504 || s == 499 ||
           s == 522;
}

long tdrv_retry_after_parse(const char *v, time_t now)
{
    time_t t;

    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        unsigned long long s = 0;

        for (; isdigit((unsigned char)*v); v++)
            s = s < 86400 ? s * 10 + (unsigned long long)(*v - '0') : s;
        return *v ? 0 : (long)(s < 86400 ? s : 86400);
    }
    t = curl_getdate(v, NULL);
    if (t == (time_t)-1 || t <= now)
        return 0;
    return (long)(t - now < 86400 ? t - now : 86400);
}

int64_t tdrv_registry_backoff_ms(unsigned attempt, long retry_after)
{
    if (retry_after > 0)
        return (retry_after < TDRV_RETRY_AFTER_MAX_S ? retry_after : TDRV_RETRY_AFTER_MAX_S) *
               1000LL;
    return 250LL << (attempt > 5 ? 5 : attempt);
}

/* A retry that would start after image_pull_timeout is not made: the failure stands. */
static int retry_in_time(const struct tdrv_registry *r, const char *url, int64_t wait)
{
    if (now_ms() + wait < r->deadline)
        return 1;
    tdrv_info("not retrying '%s': waiting %lld ms would pass image_pull_timeout", url,
              (long long)wait);
    return 0;
}

static int curl_fail(struct tdrv_registry *r, CURLcode c, const char *url, struct tdrv_err *err)
{
    r->last_curl = (int)c;
    if (c == CURLE_OPERATION_TIMEDOUT) {
        if (now_ms() >= r->deadline - 5)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "timeout", ETIMEDOUT,
                                 "unable to fetch '%s': image_pull_timeout reached", url);
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "timeout", ETIMEDOUT,
                             "unable to fetch '%s': no data for %lld s (pull_activity_timeout)",
                             url, (long long)(r->o.activity_timeout_ms / 1000));
    }
    if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
        c == CURLE_SSL_CONNECT_ERROR || c == CURLE_SSL_CERTPROBLEM)
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "registry_unreachable", 0,
                             "unable to fetch '%s': TLS: %s", url, curl_easy_strerror(c));
    return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "registry_unreachable",
                         c == CURLE_COULDNT_CONNECT ? ECONNREFUSED : 0, "unable to fetch '%s': %s",
                         url, curl_easy_strerror(c));
}

/*
 * One request with retries on connection loss, 429 and 5xx. Returns 0 with the final
 * response (any status), -1 when the transport failed for good.
 */
static int http_do(struct tdrv_registry *r, const char *method, const char *url, const char *accept,
                   const char *auth, const char *post, struct resp *out, unsigned retries,
                   struct tdrv_err *err)
{
    for (unsigned attempt = 0;; attempt++) {
        CURL *h = curl_easy_init();
        struct curl_slist *hdrs = NULL;
        CURLcode c;
        int64_t wait;

        if (!h)
            tdrv_oom();
        resp_reset(out);
        setup_easy(r, h, url);
        if (accept)
            hdrs = curl_slist_append(hdrs, accept);
        if (auth)
            hdrs = curl_slist_append(hdrs, auth);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        if (!strcmp(method, "HEAD"))
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        if (post)
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, resp_header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, resp_body_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        c = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        if (c == CURLE_WRITE_ERROR)
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                                 "unable to fetch '%s': response larger than %zu bytes", url,
                                 out->body.cap);
        if (c == CURLE_OK && !transient_status(out->status))
            return 0;
        wait = tdrv_registry_backoff_ms(attempt, out->retry_after);
        if (attempt >= retries || c == CURLE_OPERATION_TIMEDOUT ||
            (c != CURLE_OK && !transient_curl(c)) || !retry_in_time(r, url, wait)) {
            if (c != CURLE_OK)
                return curl_fail(r, c, url, err);
            return 0; /* the caller maps the final 429/5xx */
        }
        if (c != CURLE_OK)
            tdrv_info("retrying '%s' after: %s", url, curl_easy_strerror(c));
        else
            tdrv_info("retrying '%s' after HTTP %ld", url, out->status);
        sleep_ms(wait);
    }
}

/* ---- auth -------------------------------------------------------------------------------- */

static void set_auth(struct tdrv_registry *r, char *hdr, int bearer)
{
    wipe_str(&r->auth_header);
    r->auth_header = hdr;
    r->auth_is_bearer = bearer;
}

static int set_basic(struct tdrv_registry *r, struct tdrv_err *err)
{
    const struct tdrv_cred *c = r->o.cred;
    cleanup_free char *up = NULL;
    cleanup_free char *b = NULL;

    if (!c || !c->username || !c->password)
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "registry '%s' requires authentication and no credentials were "
                             "found for it",
                             r->host);
    up = tdrv_xasprintf("%s:%s", c->username, c->password);
    b = tdrv_base64_encode(up, strlen(up));
    explicit_bzero(up, strlen(up));
    set_auth(r, tdrv_xasprintf("Authorization: Basic %s", b), 0);
    explicit_bzero(b, strlen(b));
    return 0;
}

static int realm_ok(const struct tdrv_registry *r, const char *realm)
{
    if (!strncmp(realm, "https://", 8))
        return 1;
    return !strncmp(realm, "http://", 7) && (r->http || r->o.insecure_http);
}

static int fetch_token(struct tdrv_registry *r, struct tdrv_err *err)
{
    const struct tdrv_cred *c = r->o.cred;
    cleanup_free char *scope = tdrv_xasprintf("repository:%s:pull", r->path);
    cleanup_free char *url = NULL;
    cleanup_free char *basic = NULL;
    cleanup_free char *post = NULL;
    cleanup_json cJSON *doc = NULL;
    struct resp rs = {0};
    const cJSON *tok;
    const cJSON *at;
    const cJSON *exp;
    char *esc_svc;
    char *esc_scope;
    char *esc_extra = NULL;
    int64_t ttl = 60;
    int rc;

    if (c && c->registrytoken) {
        set_auth(r, tdrv_xasprintf("Authorization: Bearer %s", c->registrytoken), 1);
        r->token_expiry = INT64_MAX;
        return 0;
    }
    if (!realm_ok(r, r->chal.realm))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "token realm '%.200s' is not https", r->chal.realm);
    esc_svc = curl_easy_escape(NULL, r->chal.service, 0);
    esc_scope = curl_easy_escape(NULL, scope, 0);
    if (r->chal.scope[0] && strcmp(r->chal.scope, scope))
        esc_extra = curl_easy_escape(NULL, r->chal.scope, 0);
    if (!esc_svc || !esc_scope)
        tdrv_oom();
    tdrv_buf_init(&rs.body, 1u << 20);
    if (c && c->identitytoken) {
        /* OAuth2 refresh-token grant (identitytoken), POST to the realm */
        char *esc_tok = curl_easy_escape(NULL, c->identitytoken, 0);
        post = tdrv_xasprintf("grant_type=refresh_token&refresh_token=%s&service=%s&scope=%s&"
                              "client_id=tdrv",
                              esc_tok, esc_svc, esc_scope);
        explicit_bzero(esc_tok, strlen(esc_tok));
        curl_free(esc_tok);
    } else {
        if (c && c->username && c->password) {
            cleanup_free char *up = tdrv_xasprintf("%s:%s", c->username, c->password);
            cleanup_free char *b = tdrv_base64_encode(up, strlen(up));
            explicit_bzero(up, strlen(up));
            basic = tdrv_xasprintf("Authorization: Basic %s", b);
            explicit_bzero(b, strlen(b));
        }
    }
    url = tdrv_xasprintf("%s%sservice=%s&scope=%s%s%s", r->chal.realm,
                         strchr(r->chal.realm, '?') ? "&" : "?", esc_svc, esc_scope,
                         esc_extra ? "&scope=" : "", esc_extra ? esc_extra : "");
    curl_free(esc_svc);
    curl_free(esc_scope);
    curl_free(esc_extra);
    rc = http_do(r, post ? "POST" : "GET", post ? r->chal.realm : url, "Accept: application/json",
                 basic, post, &rs, r->o.retries, err);
    if (rc == 0 && post &&
        (rs.status == 400 || rs.status == 404 || rs.status == 405 || rs.status == 501)) {
        /* a token server without the OAuth2 endpoint: the plain GET (containerd does so) */
        tdrv_debug("token server answered HTTP %ld to the OAuth2 POST; using GET", rs.status);
        rc = http_do(r, "GET", url, "Accept: application/json", NULL, NULL, &rs, r->o.retries, err);
    }
    if (basic)
        explicit_bzero(basic, strlen(basic));
    if (post)
        explicit_bzero(post, strlen(post));
    if (rc < 0) {
        tdrv_buf_release(&rs.body);
        return tdrv_err_wrap(err, "token server");
    }
    if (rs.status == 401 || rs.status == 403) {
        tdrv_buf_release(&rs.body);
        return tdrv_err_setw(
            err, TDRV_E_NOPERM, "auth_failed", 0, "the token server refused %s for '%s' (HTTP %ld)",
            c && !tdrv_cred_empty(c) ? "the credentials" : "anonymous access", r->path, rs.status);
    }
    if (rs.status != 200) {
        long st = rs.status;
        tdrv_buf_release(&rs.body);
        return tdrv_err_setw(err, transient_status(st) ? TDRV_E_TEMPFAIL : TDRV_E_PROTOCOL,
                             transient_status(st) ? "temporary_failure" : "protocol_error", 0,
                             "unable to get a token from '%.200s': HTTP %ld", r->chal.realm, st);
    }
    rc = tdrv_json_parse(rs.body.data ? rs.body.data : "", rs.body.len, &doc, err);
    if (rs.body.data)
        explicit_bzero(rs.body.data, rs.body.len);
    tdrv_buf_release(&rs.body);
    if (rc < 0) {
        tdrv_err_clear(err);
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "the token server sent malformed JSON");
    }
    tok = cJSON_GetObjectItemCaseSensitive(doc, "token");
    at = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
    exp = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
    if (cJSON_IsString(at) && at->valuestring[0])
        tok = at;
    if (!cJSON_IsString(tok) || !tok->valuestring[0])
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "the token server's answer has no token");
    if (cJSON_IsNumber(exp) && exp->valuedouble > 60)
        ttl = (int64_t)exp->valuedouble;
    set_auth(r, tdrv_xasprintf("Authorization: Bearer %s", tok->valuestring), 1);
    explicit_bzero(tok->valuestring, strlen(tok->valuestring));
    r->token_expiry = now_ms() + ttl * 1000 - 5000;
    tdrv_debug("got a bearer token for '%s' valid %lld s", r->path, (long long)ttl);
    return 0;
}

static int authorize(struct tdrv_registry *r, struct tdrv_err *err)
{
    if (!r->have_chal)
        return 0;
    if (!strcmp(r->chal.scheme, "bearer"))
        return fetch_token(r, err);
    return set_basic(r, err);
}

static int ensure_token(struct tdrv_registry *r, struct tdrv_err *err)
{
    if (r->auth_is_bearer && now_ms() >= r->token_expiry)
        return fetch_token(r, err);
    return 0;
}

static int learn_challenge(struct tdrv_registry *r, const char *www, struct tdrv_err *err)
{
    struct tdrv_challenge ch;

    if (!www[0])
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "registry '%s' answered 401 without a challenge", r->host);
    if (tdrv_auth_challenge_parse(www, &ch, err) < 0)
        return -1;
    r->chal = ch;
    r->have_chal = 1;
    return 0;
}

/* An authorized request: one fresh authorization on 401, then 77. */
static int reg_request(struct tdrv_registry *r, const char *method, const char *url,
                       const char *accept, struct resp *out, struct tdrv_err *err)
{
    for (int attempt = 0;; attempt++) {
        if (ensure_token(r, err) < 0)
            return -1;
        if (http_do(r, method, url, accept, r->auth_header, NULL, out, r->o.retries, err) < 0)
            return -1;
        if (out->status != 401)
            return 0;
        if (attempt > 0 || (r->auth_header && !r->auth_is_bearer))
            return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                                 "registry '%s' refused %s for '%s' (HTTP 401)", r->host,
                                 r->o.cred && !tdrv_cred_empty(r->o.cred) ? "the credentials"
                                                                          : "anonymous access",
                                 r->path);
        if (learn_challenge(r, out->www_auth, err) < 0 || authorize(r, err) < 0)
            return -1;
    }
}

/* ---- open ---------------------------------------------------------------------------------- */

static int is_loopback(const char *host)
{
    return !strncmp(host, "localhost", 9) || !strncmp(host, "127.", 4) ||
           !strncmp(host, "[::1]", 5);
}

static int ping(struct tdrv_registry *r, struct tdrv_err *err)
{
    struct resp rs = {0};
    cleanup_free char *url = tdrv_xasprintf("%s/v2/", r->base);
    int rc;

    tdrv_buf_init(&rs.body, 64u << 10);
    rc = http_do(r, "GET", url, NULL, NULL, NULL, &rs, r->o.retries, err);
    tdrv_buf_release(&rs.body);
    if (rc < 0)
        return -1;
    if (rs.status == 401) {
        if (learn_challenge(r, rs.www_auth, err) < 0)
            return -1;
        if (!strcmp(r->chal.scheme, "basic") &&
            (!r->o.cred || !r->o.cred->username || !r->o.cred->password))
            return 0; /* anonymous may still be allowed per repository: find out on GET */
        if (!strcmp(r->chal.scheme, "bearer") || r->o.cred)
            return authorize(r, err);
        return 0;
    }
    if (rs.status == 200)
        return 0;
    if (transient_status(rs.status))
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "temporary_failure", 0,
                             "unable to fetch '%s': HTTP %ld", url, rs.status);
    return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "registry_unreachable", 0,
                         "'%s' is not a registry (HTTP %ld on /v2/)", url, rs.status);
}

int tdrv_registry_open(struct tdrv_registry **out, const struct tdrv_ref *ref,
                       const struct tdrv_registry_opts *o, struct tdrv_err *err)
{
    struct tdrv_registry *r = tdrv_xcalloc(1, sizeof(*r));
    static int global_done;

    if (!global_done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_done = 1;
    }
    r->o = *o;
    if (!r->o.max_concurrent)
        r->o.max_concurrent = 4;
    if (r->o.pull_timeout_ms <= 0)
        r->o.pull_timeout_ms = 5 * 60 * 1000;
    if (r->o.activity_timeout_ms <= 0)
        r->o.activity_timeout_ms = 2 * 60 * 1000;
    r->deadline = now_ms() + r->o.pull_timeout_ms;
    r->host =
        tdrv_xstrdup(!strcmp(ref->domain, "docker.io") ? "registry-1.docker.io" : ref->domain);
    r->path = tdrv_xstrdup(ref->path);
    r->share = curl_share_init();
    if (r->share) {
        curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    }
    r->http = o->insecure_http;
    snprintf(r->base, sizeof(r->base), "%s://%s", r->http ? "http" : "https", r->host);
    if (ping(r, err) < 0) {
        /* Loopback registries may speak plain HTTP, as Docker allows for 127.0.0.0/8. */
        if (!r->http && is_loopback(r->host) && err->code == TDRV_E_UNAVAILABLE &&
            err->sys_errno != ECONNREFUSED && r->last_curl != CURLE_PEER_FAILED_VERIFICATION &&
            r->last_curl != CURLE_SSL_CACERT_BADFILE) {
            tdrv_debug("https to '%s' failed (%s); trying http", r->host, err->msg);
            tdrv_err_clear(err);
            r->http = 1;
            snprintf(r->base, sizeof(r->base), "http://%s", r->host);
            if (ping(r, err) == 0)
                goto ok;
        }
        tdrv_registry_free(r);
        return -1;
    }
ok:
    *out = r;
    return 0;
}

void tdrv_registry_free(struct tdrv_registry *r)
{
    if (!r)
        return;
    wipe_str(&r->auth_header);
    free(r->host);
    free(r->path);
    if (r->share)
        curl_share_cleanup(r->share);
    free(r);
}

const char *tdrv_registry_base(const struct tdrv_registry *r)
{
    return r->base;
}

/* ---- manifests ------------------------------------------------------------------------------- */

void tdrv_manifest_release(struct tdrv_manifest *m)
{
    tdrv_buf_release(&m->body);
    cJSON_Delete(m->json);
    memset(m, 0, sizeof(*m));
}

static int status_error(struct tdrv_registry *r, long st, const char *what, const char *ref,
                        struct tdrv_err *err)
{
    if (st == 404)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                             "%s '%s' not found in '%s/%s'", what, ref, r->host, r->path);
    if (st == 401 || st == 403)
        return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                             "access to '%s/%s' denied (HTTP %ld)", r->host, r->path, st);
    if (transient_status(st))
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "temporary_failure", 0,
                             "registry '%s' failed: HTTP %ld for %s '%s'", r->host, st, what, ref);
    return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                         "registry '%s' answered HTTP %ld for %s '%s'", r->host, st, what, ref);
}

int tdrv_registry_head(struct tdrv_registry *r, const char *reference, char *digest, size_t len,
                       struct tdrv_err *err)
{
    struct resp rs = {0};
    cleanup_free char *url = tdrv_xasprintf("%s/v2/%s/manifests/%s", r->base, r->path, reference);
    int rc;

    tdrv_buf_init(&rs.body, 64u << 10);
    rc = reg_request(r, "HEAD", url, accept_manifests, &rs, err);
    tdrv_buf_release(&rs.body);
    if (rc < 0)
        return -1;
    if (rs.status != 200)
        return status_error(r, rs.status, "manifest", reference, err);
    if (!tdrv_digest_valid(rs.digest))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "registry sent no valid Docker-Content-Digest for '%s'", reference);
    snprintf(digest, len, "%s", rs.digest);
    return 0;
}

int tdrv_manifest_parse(struct tdrv_manifest *m, const char *reference, const char *ctype,
                        const char *hdr_digest, const char *want_digest, int64_t want_size,
                        struct tdrv_err *err)
{
    const char *body = m->body.data ? m->body.data : "";
    const cJSON *mt;
    const cJSON *sv;
    char got[TDRV_DIGEST_MAX];
    char *semi;

    snprintf(m->media_type, sizeof(m->media_type), "%s", ctype ? ctype : "");
    semi = strchr(m->media_type, ';');
    if (semi)
        *semi = 0;
    if (want_size >= 0 && (int64_t)m->body.len != want_size)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                             "manifest '%s' is %zu bytes, its descriptor says %lld", reference,
                             m->body.len, (long long)want_size);
    if (want_digest) {
        digest_like(want_digest, body, m->body.len, got);
        if (strcmp(got, want_digest))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                                 "manifest digest mismatch: wanted %s, got %s", want_digest, got);
    } else {
        if (!hdr_digest)
            hdr_digest = "";
        digest_like(hdr_digest[0] ? hdr_digest : NULL, body, m->body.len, got);
        if (hdr_digest[0] && strcmp(hdr_digest, got))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                                 "manifest digest mismatch: registry says %.100s, content is %s",
                                 hdr_digest, got);
        if (digest_alg(got) != TDRV_SHA256)
            tdrv_digest_buf(TDRV_SHA256, body, m->body.len, got);
    }
    snprintf(m->digest, sizeof(m->digest), "%s", want_digest ? want_digest : got);
    if (strstr(m->media_type, "prettyjws") ||
        !strcmp(m->media_type, "application/vnd.docker.distribution.manifest.v1+json"))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "unsupported_manifest", 0,
                             "'%s' has a Docker schema 1 manifest, which is not supported",
                             reference);
    if (tdrv_json_parse(body, m->body.len, &m->json, err) < 0 || !cJSON_IsObject(m->json)) {
        tdrv_err_clear(err);
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "manifest '%s' is not a JSON object", reference);
    }
    sv = cJSON_GetObjectItemCaseSensitive(m->json, "schemaVersion");
    if (cJSON_IsNumber(sv) && sv->valueint == 1)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "unsupported_manifest", 0,
                             "'%s' has a Docker schema 1 manifest, which is not supported",
                             reference);
    mt = cJSON_GetObjectItemCaseSensitive(m->json, "mediaType");
    if (cJSON_IsString(mt)) {
        if (m->media_type[0] && strcmp(mt->valuestring, m->media_type) &&
            strcmp(m->media_type, "application/json") &&
            strcmp(m->media_type, "application/octet-stream"))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                                 "manifest '%s': mediaType '%.100s' differs from Content-Type "
                                 "'%s'",
                                 reference, mt->valuestring, m->media_type);
        snprintf(m->media_type, sizeof(m->media_type), "%s", mt->valuestring);
    } else if (!m->media_type[0] || !strcmp(m->media_type, "application/json")) {
        /* OCI without mediaType: tell by shape */
        snprintf(m->media_type, sizeof(m->media_type), "%s",
                 cJSON_GetObjectItemCaseSensitive(m->json, "manifests") ? MT_OCI_INDEX
                                                                        : MT_OCI_MANIFEST);
    }
    return 0;
}

static int get_manifest(struct tdrv_registry *r, const char *reference, const char *want_digest,
                        int64_t want_size, struct tdrv_manifest *m, struct tdrv_err *err)
{
    struct resp rs = {0};
    cleanup_free char *url = tdrv_xasprintf("%s/v2/%s/manifests/%s", r->base, r->path, reference);

    memset(m, 0, sizeof(*m));
    tdrv_buf_init(&rs.body, TDRV_MAX_MANIFEST);
    if (reg_request(r, "GET", url, accept_manifests, &rs, err) < 0) {
        tdrv_buf_release(&rs.body);
        return -1;
    }
    m->body = rs.body;
    if (rs.status != 200)
        return status_error(r, rs.status, "manifest", reference, err);
    return tdrv_manifest_parse(m, reference, rs.ctype, rs.digest, want_digest, want_size, err);
}

static int is_index(const char *mt)
{
    return !strcmp(mt, MT_DOCKER_LIST) || !strcmp(mt, MT_OCI_INDEX);
}

static int is_manifest(const char *mt)
{
    return !strcmp(mt, MT_DOCKER_MANIFEST) || !strcmp(mt, MT_OCI_MANIFEST);
}

int tdrv_desc_size(const cJSON *desc, int64_t *size)
{
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(desc, "size");
    double d;

    if (!cJSON_IsNumber(sz))
        return -1;
    d = sz->valuedouble;
    if (!(d >= 0 && d < 0x1p63) || d != floor(d))
        return -1;
    *size = (int64_t)d;
    return 0;
}

int tdrv_manifest_pick(const struct tdrv_manifest *index, const char *reference,
                       const struct tdrv_platform *want, int strict, const char **digest,
                       int64_t *size, struct tdrv_err *err)
{
    const cJSON *d = tdrv_platform_select(index->json, want, strict, err);
    const cJSON *dg;

    if (!d)
        return -1;
    dg = cJSON_GetObjectItemCaseSensitive(d, "digest");
    if (!cJSON_IsString(dg) || !tdrv_digest_valid(dg->valuestring) || tdrv_desc_size(d, size) < 0)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "image index '%s': an entry has no valid digest and size", reference);
    *digest = dg->valuestring;
    return 0;
}

int tdrv_registry_resolve(struct tdrv_registry *r, const char *reference,
                          const struct tdrv_platform *want, int strict, struct tdrv_manifest *index,
                          struct tdrv_manifest *man, struct tdrv_err *err)
{
    struct tdrv_manifest first;
    const char *dg = NULL;
    int64_t sz = -1;
    int is_digest = tdrv_digest_valid(reference);

    memset(index, 0, sizeof(*index));
    if (get_manifest(r, reference, is_digest ? reference : NULL, -1, &first, err) < 0) {
        tdrv_manifest_release(&first);
        return -1;
    }
    if (is_manifest(first.media_type)) {
        *man = first;
        return 0;
    }
    if (!is_index(first.media_type)) {
        tdrv_err_setw(err, TDRV_E_PROTOCOL, "unsupported_manifest", 0,
                      "'%s' has an unsupported manifest type '%s'", reference, first.media_type);
        tdrv_manifest_release(&first);
        return -1;
    }
    *index = first;
    if (tdrv_manifest_pick(index, reference, want, strict, &dg, &sz, err) < 0)
        return -1;
    if (get_manifest(r, dg, dg, sz, man, err) < 0) {
        tdrv_manifest_release(man);
        return -1;
    }
    if (!is_manifest(man->media_type)) {
        tdrv_err_setw(err, TDRV_E_PROTOCOL, "unsupported_manifest", 0,
                      "index entry '%s' is not an image manifest ('%s')", dg, man->media_type);
        tdrv_manifest_release(man);
        return -1;
    }
    return 0;
}

/* ---- blobs ----------------------------------------------------------------------------------- */

struct mem_sink {
    struct tdrv_buf *b;
};

static int mem_write(void *ctx, const void *p, size_t n, struct tdrv_err *err)
{
    return tdrv_buf_add(((struct mem_sink *)ctx)->b, p, n, err);
}

static int mem_reset(void *ctx, struct tdrv_err *err)
{
    (void)err;
    ((struct mem_sink *)ctx)->b->len = 0;
    return 0;
}

static int mem_done(void *ctx, struct tdrv_err *err)
{
    (void)ctx;
    (void)err;
    return 0;
}

int tdrv_registry_blob_get(struct tdrv_registry *r, const char *digest, uint64_t size,
                           struct tdrv_buf *out, struct tdrv_err *err)
{
    struct mem_sink ms = {.b = out};
    struct tdrv_blob_job j = {.digest = digest,
                              .size = size,
                              .label = digest,
                              .ctx = &ms,
                              .write = mem_write,
                              .reset = mem_reset,
                              .done = mem_done};
    enum tdrv_progress_mode pm = r->o.progress;
    int rc;

    r->o.progress = TDRV_PROGRESS_NONE;
    rc = tdrv_registry_fetch(r, &j, 1, err);
    r->o.progress = pm;
    return rc;
}

enum { X_PENDING, X_ACTIVE, X_DONE };

/* A blob attempt that fetched this much before it broke does not use up a retry: a long
 * download over a flaky link gets through, one that stalls still ends (image_pull_timeout). */
#define PROGRESS_RESETS_RETRIES (64u << 10)

struct xfer {
    struct tdrv_registry *r;
    struct tdrv_blob_job *job;
    CURL *h;
    struct curl_slist *hdrs;
    struct tdrv_hash *md;
    uint64_t got;
    uint64_t start_off;
    int state;
    int checked; /* the response status was looked at for this attempt */
    int skip;    /* discarding an error body */
    unsigned attempts;
    int url_idx; /* 0..n-1 foreign urls, n = the registry */
    int nurls;
    int auth_retried;
    int started;
    int64_t not_before;
    int failed;
    char crange[128];
    char url[2048];
    long retry_after;
    struct tdrv_err err;
};

static size_t x_header_cb(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;
    char ct[8];
    char dg[8];

    if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
        x->crange[0] = 0;
        return n;
    }
    parse_header(p, n, ct, sizeof(ct), dg, sizeof(dg), NULL, 0, x->crange, sizeof(x->crange),
                 &x->retry_after);
    return n;
}

static size_t x_write_cb(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;

    if (!x->checked) {
        long st = 0;
        x->checked = 1;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
        if (st < 200 || st >= 300) {
            x->skip = 1;
        } else if (x->start_off > 0) {
            char want[64];
            snprintf(want, sizeof(want), "bytes %llu-", (unsigned long long)x->start_off);
            if (st != 206 || strncmp(x->crange, want, strlen(want))) {
                /* the server ignored Range: start over */
                tdrv_info("blob %s: server ignored Range, restarting", x->job->label);
                if (x->job->reset(x->job->ctx, &x->err) < 0) {
                    x->failed = 1;
                    return 0;
                }
                tdrv_hash_reset(x->md);
                x->got = 0;
                x->start_off = 0;
            }
        }
    }
    if (x->skip)
        return n;
    if (x->got + n > x->job->size) {
        tdrv_err_setw(&x->err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                      "blob %s is larger than its descriptor's %llu bytes", x->job->digest,
                      (unsigned long long)x->job->size);
        x->failed = 1;
        return 0;
    }
    if (!x->job->sink_verifies)
        tdrv_hash_update(x->md, p, n);
    if (x->job->write(x->job->ctx, p, n, &x->err) < 0) {
        x->failed = 1;
        return 0;
    }
    x->got += n;
    return n;
}

static int x_start(struct xfer *x, CURLM *m)
{
    struct tdrv_registry *r = x->r;
    int foreign = x->url_idx < x->nurls;

    if (!foreign && ensure_token(r, &x->err) < 0)
        return -1;
    if (foreign)
        snprintf(x->url, sizeof(x->url), "%s",
                 cJSON_GetArrayItem(x->job->urls, x->url_idx)->valuestring);
    else
        snprintf(x->url, sizeof(x->url), "%s/v2/%s/blobs/%s", r->base, r->path, x->job->digest);
    x->h = curl_easy_init();
    if (!x->h)
        tdrv_oom();
    setup_easy(r, x->h, x->url);
    if (!foreign && r->auth_header)
        x->hdrs = curl_slist_append(NULL, r->auth_header);
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, x_header_cb);
    curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, x_write_cb);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    x->start_off = x->got;
    x->checked = 0;
    x->skip = 0;
    x->retry_after = 0;
    if (x->got > 0) {
        char range[48];
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)x->got);
        curl_easy_setopt(x->h, CURLOPT_RANGE, range);
    }
    x->state = X_ACTIVE;
    curl_multi_add_handle(m, x->h);
    return 0;
}

static void x_stop(struct xfer *x, CURLM *m)
{
    if (x->h) {
        curl_multi_remove_handle(m, x->h);
        curl_easy_cleanup(x->h);
        x->h = NULL;
    }
    if (x->hdrs) {
        explicit_bzero(x->hdrs->data, strlen(x->hdrs->data));
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
    }
}

/* ---- progress -------------------------------------------------------------------------------- */

struct progress {
    enum tdrv_progress_mode mode;
    int64_t last;
    uint64_t total;
    size_t n;
    size_t done;
};

static void progress_event(struct progress *pg, const char *ev, const struct xfer *x)
{
    cJSON *o;
    char *s;

    if (pg->mode != TDRV_PROGRESS_JSON)
        return;
    o = tdrv_json_xobj();
    tdrv_json_add_str(o, "event", ev);
    tdrv_json_add_str(o, "digest", x->job->digest);
    tdrv_json_add_num(o, "size", (double)x->job->size);
    tdrv_json_add_num(o, "bytes", (double)x->got);
    s = cJSON_PrintUnformatted(o);
    if (s)
        fprintf(stderr, "%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void progress_tick(struct progress *pg, struct xfer *xs, size_t n, int final)
{
    int64_t t = now_ms();
    uint64_t got = 0;

    if (pg->mode == TDRV_PROGRESS_NONE || (!final && t - pg->last < 200))
        return;
    pg->last = t;
    for (size_t i = 0; i < n; i++)
        got += xs[i].got;
    if (pg->mode == TDRV_PROGRESS_JSON) {
        if (final)
            return;
        for (size_t i = 0; i < n; i++)
            if (xs[i].state == X_ACTIVE)
                progress_event(pg, "bytes", &xs[i]);
        return;
    }
    if (pg->mode == TDRV_PROGRESS_BAR) {
        int w = 30;
        int fill = pg->total ? (int)(got * (uint64_t)w / pg->total) : w;
        char bar[32];
        memset(bar, '=', (size_t)fill);
        memset(bar + fill, ' ', (size_t)(w - fill));
        bar[w] = 0;
        fprintf(stderr, "\r%s: [%s] %zu/%zu blobs %.1f/%.1f MB%s", tdrv_log_tool(), bar, pg->done,
                pg->n, (double)got / 1e6, (double)pg->total / 1e6, final ? "\n" : "");
        fflush(stderr);
    }
}

/* ---- the multi loop ----------------------------------------------------------------------------
 */

static int x_finish(struct xfer *x, CURLcode c, struct progress *pg)
{
    struct tdrv_registry *r = x->r;
    long st = 0;
    int foreign = x->url_idx < x->nurls;
    char got[TDRV_DIGEST_MAX];

    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
    if (x->failed)
        return -1;
    if (c == CURLE_OK && st >= 200 && st < 300) {
        if (x->got != x->job->size)
            return tdrv_err_setw(&x->err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                                 "blob %s: got %llu bytes, its descriptor says %llu",
                                 x->job->digest, (unsigned long long)x->got,
                                 (unsigned long long)x->job->size);
        if (!x->job->sink_verifies)
            tdrv_hash_final(x->md, got);
        if (!x->job->sink_verifies && strcmp(got, x->job->digest))
            return tdrv_err_setw(&x->err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                                 "blob digest mismatch: wanted %s, got %s", x->job->digest, got);
        if (x->job->done(x->job->ctx, &x->err) < 0)
            return -1;
        x->state = X_DONE;
        pg->done++;
        progress_event(pg, "layer_done", x);
        return 0;
    }
    /* Something to retry, or a failure. */
    if (foreign && (c != CURLE_OK || st >= 400)) {
        tdrv_info("foreign URL '%s' failed, trying the next source", x->url);
        x->url_idx++;
        x->state = X_PENDING;
        return 0;
    }
    if (c == CURLE_OK && st == 401 && !x->auth_retried && r->auth_is_bearer) {
        x->auth_retried = 1;
        r->token_expiry = 0; /* fetched again by x_start */
        x->state = X_PENDING;
        return 0;
    }
    if (c == CURLE_OK && !transient_status(st) && !(st == 416 && x->got > 0))
        return status_error(r, st, "blob", x->job->digest, &x->err);
    if (c == CURLE_OK && st == 416) {
        /* our offset is past what the server has: start over */
        if (x->job->reset(x->job->ctx, &x->err) < 0)
            return -1;
        tdrv_hash_reset(x->md);
        x->got = 0;
    }
    if (c != CURLE_OK && (c == CURLE_OPERATION_TIMEDOUT || !transient_curl(c)))
        return curl_fail(r, c, x->url, &x->err);
    if (x->got >= x->start_off + PROGRESS_RESETS_RETRIES)
        x->attempts = 0; /* this attempt moved on: the retries count again from here */
    if (x->attempts >= r->o.retries ||
        !retry_in_time(r, x->url, tdrv_registry_backoff_ms(x->attempts, x->retry_after))) {
        if (c != CURLE_OK)
            return curl_fail(r, c, x->url, &x->err);
        return status_error(r, st, "blob", x->job->digest, &x->err);
    }
    if (c != CURLE_OK)
        tdrv_info("blob %s: %s at byte %llu, resuming", x->job->label, curl_easy_strerror(c),
                  (unsigned long long)x->got);
    else
        tdrv_info("blob %s: HTTP %ld, retrying", x->job->label, st);
    x->not_before = now_ms() + tdrv_registry_backoff_ms(x->attempts, x->retry_after);
    x->attempts++;
    x->state = X_PENDING;
    return 0;
}

int tdrv_registry_fetch(struct tdrv_registry *r, struct tdrv_blob_job *jobs, size_t n,
                        struct tdrv_err *err)
{
    CURLM *m = curl_multi_init();
    struct xfer *xs = tdrv_xcalloc(n ? n : 1, sizeof(*xs));
    struct progress pg = {.mode = r->o.progress};
    size_t remaining = n;
    int rc = 0;

    if (!m)
        tdrv_oom();
    if (pg.mode == TDRV_PROGRESS_AUTO)
        pg.mode = isatty(STDERR_FILENO) && tdrv_log_get_level() >= TDRV_LOG_WARN
                      ? TDRV_PROGRESS_BAR
                      : TDRV_PROGRESS_NONE;
    pg.n = n;
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)r->o.max_concurrent);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    for (size_t i = 0; i < n; i++) {
        xs[i].r = r;
        xs[i].job = &jobs[i];
        if (!tdrv_digest_valid(jobs[i].digest)) {
            rc = tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                               "unsupported or malformed blob digest '%.100s'", jobs[i].digest);
            goto out;
        }
        xs[i].md = tdrv_hash_new(digest_alg(jobs[i].digest));
        xs[i].got = jobs[i].sink_verifies ? jobs[i].offset : 0;
        if (jobs[i].urls) {
            const cJSON *u;
            cJSON_ArrayForEach(u, jobs[i].urls)
            {
                if (!cJSON_IsString(u) ||
                    (strncmp(u->valuestring, "https://", 8) &&
                     (strncmp(u->valuestring, "http://", 7) || !r->o.insecure_http)))
                    break; /* only the leading usable URLs */
                xs[i].nurls++;
            }
        }
        pg.total += jobs[i].size;
    }
    while (remaining > 0) {
        size_t active = 0;
        int running = 0;
        CURLMsg *msg;
        int left;
        int64_t t = now_ms();

        for (size_t i = 0; i < n; i++)
            active += xs[i].state == X_ACTIVE;
        for (size_t i = 0; i < n && active < r->o.max_concurrent; i++) {
            if (xs[i].state != X_PENDING || xs[i].not_before > t)
                continue;
            if (!xs[i].started)
                progress_event(&pg, "layer_started", &xs[i]);
            xs[i].started = 1;
            if (x_start(&xs[i], m) < 0) {
                *err = xs[i].err;
                rc = -1;
                goto out;
            }
            active++;
        }
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left))) {
            struct xfer *x = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (x_finish(x, msg->data.result, &pg) < 0) {
                *err = x->err;
                rc = -1;
                goto out;
            }
            x_stop(x, m);
            if (x->state == X_DONE)
                remaining--;
        }
        if (remaining > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
        progress_tick(&pg, xs, n, 0);
    }
    progress_tick(&pg, xs, n, 1);
out:
    for (size_t i = 0; i < n; i++) {
        x_stop(&xs[i], m);
        tdrv_hash_free(xs[i].md);
    }
    if (rc < 0 && pg.mode == TDRV_PROGRESS_BAR)
        fputc('\n', stderr);
    free(xs);
    curl_multi_cleanup(m);
    return rc;
}
