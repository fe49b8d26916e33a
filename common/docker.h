#ifndef TDRV_DOCKER_H
#define TDRV_DOCKER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "err.h"
#include "http.h"

/* The newest Engine API version tdrv speaks; negotiation uses min(server, this). */
#define TDRV_DOCKER_API_MAX "1.43"
#define TDRV_DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"

/*
 * A Docker Engine endpoint (DESIGN §4): a Unix socket or TCP, with TLS when
 * configured. Built from the operator's `endpoint`/`tls` options, else from
 * DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the docker CLI reads them.
 */
struct tdrv_docker {
    char *host;        /* the endpoint as given: unix:///path or tcp://host:port */
    char *socket_path; /* unix socket, or NULL for TCP */
    char *base_url;    /* "http://localhost", "http://h:p" or "https://h:p" */
    char *ca_file;     /* TLS files, or NULL */
    char *cert_file;
    char *key_file;
    int tls;                 /* https */
    int tls_verify;          /* verify the Engine's certificate */
    long connect_timeout_ms; /* per request; 0: http.h's default */
    long timeout_ms;         /* per request; 0: none */
    char api_version[16];    /* negotiated ("1.41"), empty before tdrv_docker_negotiate */
};

void tdrv_docker_init(struct tdrv_docker *d);
void tdrv_docker_release(struct tdrv_docker *d);
#define cleanup_docker __attribute__((cleanup(tdrv_docker_release)))

/*
 * Set the endpoint. endpoint NULL (or ""): DOCKER_HOST, else the default socket, with
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem). With an endpoint, TLS is
 * used when any of ca/cert/key is given (as Nomad's driver does). Bad endpoint: 78.
 */
int tdrv_docker_setup(struct tdrv_docker *d, const char *endpoint, const char *ca, const char *cert,
                      const char *key, struct tdrv_err *err);

/* Negotiate the API version with GET /version; *version_out (optional) gets its document. */
int tdrv_docker_negotiate(struct tdrv_docker *d, cJSON **version_out, struct tdrv_err *err);

/*
 * The API version to use from the Engine's /version answer: its ApiVersion when it is digits
 * and dots, fits in out and is not newer than TDRV_DOCKER_API_MAX, else (or when absent)
 * TDRV_DOCKER_API_MAX, into out. 76 when ApiVersion is not a string.
 */
int tdrv_docker_api_version(const cJSON *version, char *out, size_t len, struct tdrv_err *err);

/*
 * One request to `path` ("/info", "/containers/json?all=1"); it is prefixed with
 * "/v<api_version>" once negotiated. The HTTP status is left to the caller.
 */
int tdrv_docker_request(const struct tdrv_docker *d, const char *method, const char *path,
                        const char *json_body, struct tdrv_http_resp *resp, struct tdrv_err *err);

/*
 * One request with every knob (additive, for the docker backend): extra headers
 * (X-Registry-Auth), a timeout of its own (-1: none, as wait/attach/pull need; 0: the
 * endpoint's), and a streaming sink for the 2xx body (see struct tdrv_http_req).
 */
struct tdrv_docker_call {
    const char *method;
    const char *path;
    const char *json_body;
    const char *const *headers; /* NULL-terminated "Name: value", or NULL */
    long timeout_ms;
    int (*sink)(const char *p, size_t n, void *arg);
    void *sink_arg;
};
int tdrv_docker_call(const struct tdrv_docker *d, const struct tdrv_docker_call *c,
                     struct tdrv_http_resp *resp, struct tdrv_err *err);

/*
 * GET path and parse the JSON answer. A non-2xx answer is an error carrying the Engine's
 * message: 400 → 65, 401/403 → 77, 404 → 66, 409 → 65, 5xx → 75, other → 76.
 */
int tdrv_docker_get_json(const struct tdrv_docker *d, const char *path, cJSON **out,
                         struct tdrv_err *err);

/* Turn a non-2xx Engine answer into an error (as above); returns -1. */
int tdrv_docker_status_err(const struct tdrv_http_resp *resp, const char *what,
                           struct tdrv_err *err);

/* Compare dotted API versions ("1.41" < "1.43"): <0, 0, >0. */
int tdrv_docker_api_cmp(const char *a, const char *b);

#endif
