#include "docker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mem.h"

#define DOCKER_MAX_ANSWER (32u * 1024u * 1024u)

void tdrv_docker_init(struct tdrv_docker *d)
{
    memset(d, 0, sizeof(*d));
}

void tdrv_docker_release(struct tdrv_docker *d)
{
    free(d->host);
    free(d->socket_path);
    free(d->base_url);
    free(d->ca_file);
    free(d->cert_file);
    free(d->key_file);
    tdrv_docker_init(d);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? tdrv_xstrdup(s) : NULL;
}

int tdrv_docker_setup(struct tdrv_docker *d, const char *endpoint, const char *ca, const char *cert,
                      const char *key, struct tdrv_err *err)
{
    const char *host = endpoint;
    int from_env = !endpoint || !*endpoint;

    if (from_env) {
        const char *env = getenv("DOCKER_HOST");
        const char *verify = getenv("DOCKER_TLS_VERIFY");
        const char *cert_path = getenv("DOCKER_CERT_PATH");
        const char *home = getenv("HOME");
        cleanup_free char *dir = NULL;

        host = env && *env ? env : TDRV_DOCKER_DEFAULT_HOST;
        if ((verify && *verify) || (cert_path && *cert_path)) {
            if (cert_path && *cert_path)
                dir = tdrv_xstrdup(cert_path);
            else
                dir = tdrv_xasprintf("%s/.docker", home ? home : "");
            d->tls = 1;
            d->tls_verify = verify && *verify;
            d->ca_file = tdrv_xasprintf("%s/ca.pem", dir);
            d->cert_file = tdrv_xasprintf("%s/cert.pem", dir);
            d->key_file = tdrv_xasprintf("%s/key.pem", dir);
        }
    } else if ((ca && *ca) || (cert && *cert) || (key && *key)) {
        d->tls = 1;
        d->tls_verify = 1;
        d->ca_file = dup_or_null(ca);
        d->cert_file = dup_or_null(cert);
        d->key_file = dup_or_null(key);
    }
    d->host = tdrv_xstrdup(host);
    if (!strncmp(host, "unix://", 7)) {
        if (host[7] != '/')
            return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", 0,
                                 "invalid docker endpoint '%s': expected unix:///absolute/path",
                                 host);
        d->socket_path = tdrv_xstrdup(host + 7);
        d->base_url = tdrv_xstrdup("http://localhost");
        d->tls = 0;
    } else if (!strncmp(host, "tcp://", 6) || !strncmp(host, "http://", 7) ||
               !strncmp(host, "https://", 8)) {
        const char *hp = strstr(host, "://") + 3;
        size_t n = strcspn(hp, "/");

        if (!n)
            return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", 0,
                                 "invalid docker endpoint '%s': no host", host);
        if (!strncmp(host, "https://", 8))
            d->tls = 1;
        d->base_url = tdrv_xasprintf("%s://%.*s", d->tls ? "https" : "http", (int)n, hp);
    } else {
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", 0,
                             "invalid docker endpoint '%s': expected unix:// or tcp://", host);
    }
    return 0;
}

int tdrv_docker_api_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        unsigned long x = strtoul(a, NULL, 10);
        unsigned long y = strtoul(b, NULL, 10);

        if (x != y)
            return x < y ? -1 : 1;
        a += strcspn(a, ".");
        b += strcspn(b, ".");
        if (*a)
            a++;
        if (*b)
            b++;
    }
    return 0;
}

int tdrv_docker_call(const struct tdrv_docker *d, const struct tdrv_docker_call *c,
                     struct tdrv_http_resp *resp, struct tdrv_err *err)
{
    const char *hdrs[16];
    size_t nh = 0;
    cleanup_free char *url = NULL;
    struct tdrv_http_req req = {0};

    if (!d->base_url)
        return tdrv_err_setw(err, TDRV_E_SOFTWARE, "internal", 0, "docker endpoint not set");
    if (d->api_version[0])
        url = tdrv_xasprintf("%s/v%s%s", d->base_url, d->api_version, c->path);
    else
        url = tdrv_xasprintf("%s%s", d->base_url, c->path);
    req.method = c->method;
    req.url = url;
    req.unix_socket = d->socket_path;
    req.connect_timeout_ms = d->connect_timeout_ms;
    req.timeout_ms = c->timeout_ms < 0 ? 0 : (c->timeout_ms ? c->timeout_ms : d->timeout_ms);
    req.max_body = DOCKER_MAX_ANSWER;
    req.sink = c->sink;
    req.sink_arg = c->sink_arg;
    if (d->tls) {
        req.ca_file = d->ca_file;
        req.cert_file = d->cert_file;
        req.key_file = d->key_file;
        req.insecure = !d->tls_verify;
    }
    if (c->json_body) {
        req.body = c->json_body;
        req.body_len = strlen(c->json_body);
        hdrs[nh++] = "Content-Type: application/json";
    }
    for (const char *const *h = c->headers; h && *h && nh < TDRV_ARRAY_LEN(hdrs) - 1; h++)
        hdrs[nh++] = *h;
    hdrs[nh] = NULL;
    req.headers = nh ? hdrs : NULL;
    /* The message names the URL and the socket already: no more context needed. */
    return tdrv_http_do(&req, resp, err);
}

int tdrv_docker_request(const struct tdrv_docker *d, const char *method, const char *path,
                        const char *json_body, struct tdrv_http_resp *resp, struct tdrv_err *err)
{
    struct tdrv_docker_call c = {.method = method, .path = path, .json_body = json_body};

    return tdrv_docker_call(d, &c, resp, err);
}

int tdrv_docker_status_err(const struct tdrv_http_resp *resp, const char *what,
                           struct tdrv_err *err)
{
    cleanup_json cJSON *doc = NULL;
    struct tdrv_err perr = {0};
    const char *msg = NULL;
    int code = TDRV_E_PROTOCOL;
    const char *word = "engine_error";
    long st = resp->status;

    if (resp->body.data && tdrv_json_parse(resp->body.data, resp->body.len, &doc, &perr) == 0)
        tdrv_json_str(doc, "message", TDRV_OPTIONAL, &msg, &perr);
    if (st == 400 || st == 409) {
        code = TDRV_E_DATA;
        word = st == 409 ? "conflict" : "bad_request";
    } else if (st == 401 || st == 403) {
        code = TDRV_E_NOPERM;
        word = "permission_denied";
    } else if (st == 404) {
        code = TDRV_E_NOINPUT;
        word = "not_found";
    } else if (st >= 500) {
        code = TDRV_E_TEMPFAIL;
    }
    return tdrv_err_setw(err, code, word, 0, "unable to %s: docker engine answered %ld%s%s", what,
                         st, msg ? ": " : "", msg ? msg : "");
}

int tdrv_docker_get_json(const struct tdrv_docker *d, const char *path, cJSON **out,
                         struct tdrv_err *err)
{
    cleanup_http_resp struct tdrv_http_resp resp;
    cleanup_free char *what = tdrv_xasprintf("get '%s'", path);

    tdrv_http_resp_init(&resp);
    if (tdrv_docker_request(d, "GET", path, NULL, &resp, err) < 0)
        return -1;
    if (resp.status < 200 || resp.status > 299)
        return tdrv_docker_status_err(&resp, what, err);
    if (tdrv_json_parse(resp.body.data, resp.body.len, out, err) < 0) {
        err->code = TDRV_E_PROTOCOL;
        snprintf(err->word, sizeof(err->word), "%s", "protocol_error");
        return tdrv_err_wrap(err, "docker engine answer to GET %s", path);
    }
    return 0;
}

int tdrv_docker_api_version(const cJSON *version, char *out, size_t len, struct tdrv_err *err)
{
    const char *api = NULL;

    if (tdrv_json_str(version, "ApiVersion", TDRV_OPTIONAL, &api, err) < 0) {
        err->code = TDRV_E_PROTOCOL;
        return tdrv_err_wrap(err, "docker engine /version");
    }
    /* It becomes a path segment ("/v1.41/info"): only digits and dots that fit are taken. */
    if (!api || !*api || strspn(api, "0123456789.") != strlen(api) || strlen(api) >= len ||
        tdrv_docker_api_cmp(api, TDRV_DOCKER_API_MAX) > 0)
        api = TDRV_DOCKER_API_MAX;
    snprintf(out, len, "%s", api);
    return 0;
}

int tdrv_docker_negotiate(struct tdrv_docker *d, cJSON **version_out, struct tdrv_err *err)
{
    cleanup_json cJSON *v = NULL;

    d->api_version[0] = '\0';
    if (tdrv_docker_get_json(d, "/version", &v, err) < 0)
        return -1;
    if (tdrv_docker_api_version(v, d->api_version, sizeof(d->api_version), err) < 0)
        return -1;
    tdrv_debug("docker engine at '%s': API version %s", d->host, d->api_version);
    if (version_out)
        *version_out = steal_ptr(&v);
    return 0;
}
