#ifndef TDRV_REGISTRY_H
#define TDRV_REGISTRY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "buf.h"
#include "err.h"
#include "platform.h"
#include "ref.h"

/*
 * The registry side of a pull (OCI distribution spec / Docker Registry HTTP API v2),
 * over libcurl. This file includes <curl/curl.h> besides http.c: it drives a curl
 * multi handle of streaming blob transfers, which http.c's one-request wrapper does not.
 *
 * Errors carry the words of docs/tdrv-pull.md: auth_failed (77), image_not_found (66),
 * registry_unreachable (69), digest_mismatch (76), timeout (75), invalid_reference (65).
 */

#define TDRV_MAX_MANIFEST (4u * 1048u * 1048u)

enum tdrv_progress_mode {
    TDRV_PROGRESS_AUTO = 0, /* a bar when stderr is a terminal, else nothing */
    TDRV_PROGRESS_NONE,
    TDRV_PROGRESS_BAR,
    TDRV_PROGRESS_JSON, /* JSON Lines events on stderr */
};

struct tdrv_registry_opts {
    const char *ca_file;          /* extra CA bundle (PEM) */
    int insecure_tls;             /* insecure_options tls: do not verify certificates */
    int insecure_http;            /* insecure_options http: plain HTTP allowed */
    unsigned max_concurrent;      /* blobs at once (default 4) */
    int64_t pull_timeout_ms;      /* the whole pull (image_pull_timeout, default 5m) */
    int64_t activity_timeout_ms;  /* no byte for that long (pull_activity_timeout, 2m) */
    unsigned retries;             /* per request, on connection loss, 429 and 5xx (4) */
    const struct tdrv_cred *cred; /* resolved credentials, or NULL: anonymous */
    enum tdrv_progress_mode progress;
};

struct tdrv_registry;

/* Connect to ref's registry: choose https/http, ping /v2/, learn its challenge. */
int tdrv_registry_open(struct tdrv_registry **out, const struct tdrv_ref *ref,
                       const struct tdrv_registry_opts *o, struct tdrv_err *err);
void tdrv_registry_free(struct tdrv_registry *r);
/* "https://host" the registry answered on. */
const char *tdrv_registry_base(const struct tdrv_registry *r);

/* A verified manifest (or index) as the registry sent it. */
struct tdrv_manifest {
    struct tdrv_buf body;
    char media_type[128];
    char digest[160];
    cJSON *json;
};
void tdrv_manifest_release(struct tdrv_manifest *m);
#define cleanup_manifest __attribute__((cleanup(tdrv_manifest_release)))

/*
 * Check a manifest body as the registry sent it (m->body filled, the rest of m zeroed) and
 * fill m's media type, digest and json. ctype is the Content-Type (parameters dropped; empty
 * or application/json: told by the document), hdr_digest the Docker-Content-Digest ("" or
 * NULL: none), want_digest the digest asked for (NULL: a tag) and want_size the size an index
 * entry gives (-1: none). Refusals are 76: digest_mismatch (size or digest), unsupported_manifest
 * (Docker schema 1), protocol_error (not a JSON object, mediaType differs from Content-Type).
 */
int tdrv_manifest_parse(struct tdrv_manifest *m, const char *reference, const char *ctype,
                        const char *hdr_digest, const char *want_digest, int64_t want_size,
                        struct tdrv_err *err);

/* A descriptor's "size": an integer in [0, 2^63) into *size, else -1 (a cast of 1e300 or 1.5
 * is no size). */
int tdrv_desc_size(const cJSON *desc, int64_t *size);

/*
 * The entry of an image index (parsed by tdrv_manifest_parse) for the wanted platform
 * (tdrv_platform_select): *digest (owned by index) and *size. 66 image_not_found when no
 * entry matches, 76 protocol_error when the entry has no valid digest and size.
 */
int tdrv_manifest_pick(const struct tdrv_manifest *index, const char *reference,
                       const struct tdrv_platform *want, int strict, const char **digest,
                       int64_t *size, struct tdrv_err *err);

/*
 * HEAD /v2/<name>/manifests/<reference>: the digest the registry has, without a pull
 * (Docker Hub counts GETs). Returns 0 with digest filled, or -1 (66 when absent).
 */
int tdrv_registry_head(struct tdrv_registry *r, const char *reference, char *digest, size_t len,
                       struct tdrv_err *err);

/*
 * Resolve a tag or digest to one image manifest: GET with the Accept list, verify the
 * digest (the requested one, or Docker-Content-Digest), refuse schema 1, and follow a
 * manifest list / OCI index to the platform's entry. *index receives the index when
 * there was one (its digest is the reference's), *man the image manifest.
 */
int tdrv_registry_resolve(struct tdrv_registry *r, const char *reference,
                          const struct tdrv_platform *want, int strict, struct tdrv_manifest *index,
                          struct tdrv_manifest *man, struct tdrv_err *err);

/* Fetch a small blob (a config) into memory, verified. */
int tdrv_registry_blob_get(struct tdrv_registry *r, const char *digest, uint64_t size,
                           struct tdrv_buf *out, struct tdrv_err *err);

/*
 * A blob to stream. The registry checks size and digest as bytes arrive and feeds them
 * to write(); reset() starts the sink over when a resumed transfer cannot continue at
 * its offset; done() is called once the blob is complete (size checked here; the digest
 * here too unless sink_verifies, when the sink's done() must verify it and fail with 76).
 */
struct tdrv_blob_job {
    const char *digest;
    uint64_t size;
    const cJSON *urls; /* foreign layer URLs, tried before the registry */
    const char *label; /* for progress: the short digest */
    uint64_t offset;   /* bytes the sink already holds (a resumed partial) */
    int sink_verifies; /* done() checks the digest (the prefix was hashed elsewhere) */
    void *ctx;
    int (*write)(void *ctx, const void *p, size_t n, struct tdrv_err *err);
    int (*reset)(void *ctx, struct tdrv_err *err);
    int (*done)(void *ctx, struct tdrv_err *err);
};

/* Stream every job, max_concurrent at a time, retrying and resuming with Range. */
int tdrv_registry_fetch(struct tdrv_registry *r, struct tdrv_blob_job *jobs, size_t n,
                        struct tdrv_err *err);

/*
 * Retry-After (RFC 9110 §10.2.3), delay-seconds or an HTTP-date, as seconds to wait from
 * now: 0 when malformed or past, at most a day. A wait is honoured up to
 * TDRV_RETRY_AFTER_MAX_S; without one, the backoff is 250 ms << attempt (up to 8 s).
 * No retry is made that would start after image_pull_timeout.
 */
#define TDRV_RETRY_AFTER_MAX_S 60
long tdrv_retry_after_parse(const char *value, time_t now);
int64_t tdrv_registry_backoff_ms(unsigned attempt, long retry_after);

/* A well-formed sha256/sha512 digest string? */
int tdrv_digest_valid(const char *digest);

#endif
