/* tdrv-pull --to docker: the image goes into a Docker Engine (Engine API /images/create). */
#include "pull_docker.h"

#include <string.h>

#include "docker.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define PULL_STREAM_MAX (64u << 20)

char *tdrv_registry_auth_header(const struct tdrv_cred *c, const char *server)
{
    cleanup_json cJSON *o = tdrv_json_xobj();
    char *js;
    char *b;

    tdrv_json_add_str(o, "username", c->username ? c->username : "");
    tdrv_json_add_str(o, "password", c->password ? c->password : "");
    tdrv_json_add_str(o, "serveraddress", server);
    js = cJSON_PrintUnformatted(o);
    if (!js)
        tdrv_oom();
    b = tdrv_base64_encode(js, strlen(js));
    explicit_bzero(js, strlen(js));
    cJSON_free(js);
    for (char *p = b; *p; p++) /* base64url, as Go's base64.URLEncoding */
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    return b;
}

static int inspect(const struct tdrv_docker *d, const char *name, cJSON **out, struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_xasprintf("/images/%s/json", name);

    return tdrv_docker_get_json(d, path, out, err);
}

/* The pull stream is JSON Lines; an object with "error" (or "errorDetail") is the failure. */
int tdrv_pull_docker_check_stream(const char *body, const char *name, struct tdrv_err *err)
{
    const char *p = body;

    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        cleanup_free char *line = tdrv_xstrndup(p, n);
        cleanup_json cJSON *o = NULL;
        struct tdrv_err perr = {0};
        const cJSON *e;

        p = nl ? nl + 1 : NULL;
        if (!n || tdrv_json_parse(line, n, &o, &perr) < 0)
            continue;
        e = cJSON_GetObjectItemCaseSensitive(o, "error");
        if (cJSON_IsString(e)) {
            const char *m = e->valuestring;
            if (strstr(m, "not found") || strstr(m, "manifest unknown") ||
                strstr(m, "does not exist"))
                return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                                     "docker engine: unable to pull '%s': %s", name, m);
            if (strstr(m, "unauthorized") || strstr(m, "denied") ||
                strstr(m, "authentication required"))
                return tdrv_err_setw(err, TDRV_E_NOPERM, "auth_failed", 0,
                                     "docker engine: unable to pull '%s': %s", name, m);
            return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "registry_unreachable", 0,
                                 "docker engine: unable to pull '%s': %s", name, m);
        }
        if (tdrv_log_get_level() >= TDRV_LOG_INFO) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
            if (cJSON_IsString(st))
                tdrv_info("docker engine: %s%s%s", cJSON_IsString(id) ? id->valuestring : "",
                          cJSON_IsString(id) ? ": " : "", st->valuestring);
        }
    }
    return 0;
}

static cJSON *image_object(const char *name, const cJSON *insp, int cached)
{
    cJSON *img = tdrv_json_xobj();
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(insp, "Id");
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(insp, "RepoDigests");

    tdrv_json_add_str(img, "reference", name);
    if (cJSON_IsString(id))
        tdrv_json_add_str(img, "id", id->valuestring);
    if (cJSON_IsArray(rd))
        tdrv_json_add(img, "repo_digests", tdrv_json_xdup(rd));
    tdrv_json_add_str(img, "engine", "docker");
    tdrv_json_add_bool(img, "cached", cached);
    return img;
}

int tdrv_pull_docker(const struct tdrv_pull_docker *o, cJSON **image, struct tdrv_err *err)
{
    cleanup_docker struct tdrv_docker d;
    cleanup_free char *name = tdrv_ref_string(o->ref);
    cleanup_free char *from = NULL;
    cleanup_free char *url = NULL;
    cleanup_free char *auth = NULL;
    cleanup_free char *hdr = NULL;
    cleanup_json cJSON *insp = NULL;
    cleanup_http_resp struct tdrv_http_resp resp;
    struct tdrv_http_req req = {0};
    const char *headers[2] = {NULL, NULL};
    const struct tdrv_config *c = o->conf;
    int latest = !o->ref->digest && (!o->ref->tag || !strcmp(o->ref->tag, "latest"));
    int rc;

    tdrv_docker_init(&d);
    tdrv_http_resp_init(&resp);
    if (tdrv_docker_setup(&d, c->docker_endpoint, c->docker_tls_ca, c->docker_tls_cert,
                          c->docker_tls_key, err) < 0 ||
        tdrv_docker_negotiate(&d, NULL, err) < 0)
        return -1;
    if (!o->force && !latest) {
        if (inspect(&d, name, &insp, err) == 0) {
            *image = image_object(name, insp, 1);
            return 0;
        }
        if (err->code != TDRV_E_NOINPUT)
            return -1;
        tdrv_err_clear(err);
    }
    /* fromImage=name:tag, or name@digest (the docker driver's pull reference) */
    from = o->ref->digest ? tdrv_xasprintf("%s@%s", o->ref->name, o->ref->digest)
                          : tdrv_xasprintf("%s:%s", o->ref->name, o->ref->tag);
    url = tdrv_xasprintf("%s/v%s/images/create?fromImage=%s", d.base_url, d.api_version, from);
    if (o->cred && !tdrv_cred_empty(o->cred)) {
        auth = tdrv_registry_auth_header(o->cred, tdrv_auth_key(o->ref->domain));
        hdr = tdrv_xasprintf("X-Registry-Auth: %s", auth);
        explicit_bzero(auth, strlen(auth));
        headers[0] = hdr;
    }
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.unix_socket = d.socket_path;
    req.connect_timeout_ms = d.connect_timeout_ms;
    req.timeout_ms = (long)o->timeout_ms;
    req.max_body = PULL_STREAM_MAX;
    if (d.tls) {
        req.ca_file = d.ca_file;
        req.cert_file = d.cert_file;
        req.key_file = d.key_file;
        req.insecure = !d.tls_verify;
    }
    rc = tdrv_http_do(&req, &resp, err);
    if (hdr)
        explicit_bzero(hdr, strlen(hdr));
    if (rc < 0)
        return tdrv_err_wrap(err, "docker engine: unable to pull '%s'", name);
    if (resp.status < 200 || resp.status > 299)
        return tdrv_docker_status_err(&resp, "pull", err);
    if (tdrv_pull_docker_check_stream(resp.body.data ? resp.body.data : "", name, err) < 0)
        return -1;
    if (inspect(&d, name, &insp, err) < 0)
        return tdrv_err_wrap(err, "docker engine: '%s' is not there after the pull", name);
    *image = image_object(name, insp, 0);
    return 0;
}
