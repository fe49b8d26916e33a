#ifndef TDRV_HTTP_H
#define TDRV_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * A small, blocking HTTP client over libcurl (the only file that includes
 * <curl/curl.h> is http.c). One request, one response with a capped body.
 * TLS verification is on unless a request turns it off.
 *
 * Errors are mapped to tdrv exit statuses (the HTTP status itself is never an
 * error here: callers judge resp.status):
 *   connection refused, host unreachable, name not resolved   69 "unreachable"
 *   timeout (connect or total)                                75 "timeout"
 *   connection lost mid-transfer, empty reply                 75 "connection_lost"
 *   TLS handshake failure                                     69 "tls_error"
 *   peer certificate not trusted                              77 "tls_verify_failed"
 *   our CA/cert/key file unusable                             77 "tls_cert_invalid"
 *   response body over the cap, malformed reply               76
 * "response_too_large"/"protocol_error" malformed URL, unsupported scheme 65 "invalid_url"
 */

#define TDRV_HTTP_DEFAULT_MAX_BODY (16u * 1024u * 1024u)
#define TDRV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L

struct tdrv_http_req {
    const char *method;         /* NULL: GET (or POST when body is set) */
    const char *url;            /* required */
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const void *body;           /* request body, or NULL */
    size_t body_len;            /* its length */
    const char *unix_socket;    /* connect to this socket instead (CURLOPT_UNIX_SOCKET_PATH) */
    long connect_timeout_ms;    /* 0: TDRV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;            /* whole transfer; 0: none */
    const char *ca_file;        /* TLS: CA bundle, or NULL for the system's */
    const char *cert_file;      /* TLS client certificate (PEM), or NULL */
    const char *key_file;       /* TLS client key (PEM), or NULL */
    int insecure;               /* 1: do not verify the peer (verify by default) */
    int follow_redirects;       /* 1: follow up to 10 redirects */
    size_t max_body;            /* cap on the response body; 0: TDRV_HTTP_DEFAULT_MAX_BODY */
};

struct tdrv_http_header {
    char *name;
    char *value;
};

struct tdrv_http_resp {
    long status;                      /* HTTP status of the last response */
    struct tdrv_http_header *headers; /* headers of the last response (after redirects) */
    size_t n_headers;
    size_t alloc_headers;
    struct tdrv_buf body; /* NUL-terminated */
    char *effective_url;  /* the URL finally fetched */
};

void tdrv_http_resp_init(struct tdrv_http_resp *r);
void tdrv_http_resp_release(struct tdrv_http_resp *r);
#define cleanup_http_resp __attribute__((cleanup(tdrv_http_resp_release)))

/* libcurl's global init, once per process (thread-safe); tdrv_http_do calls it. */
int tdrv_http_global_init(struct tdrv_err *err);

/* Perform one request. resp must be initialised; it is reset first. */
int tdrv_http_do(const struct tdrv_http_req *req, struct tdrv_http_resp *resp,
                 struct tdrv_err *err);

/* The value of a response header (case-insensitive name), or NULL. First match wins. */
const char *tdrv_http_header_get(const struct tdrv_http_resp *resp, const char *name);

/* Copy a URL with any user:password@ part replaced by "***@", for messages and logs. */
char *tdrv_http_redact_url(const char *url);

/* 1 when a header line ("Name: value") carries a secret (Authorization, X-Registry-Auth, ...). */
int tdrv_http_header_is_secret(const char *line, size_t len);

#endif
