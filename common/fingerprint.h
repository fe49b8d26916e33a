#ifndef TDRV_FINGERPRINT_H
#define TDRV_FINGERPRINT_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "err.h"

#define TDRV_FP_DEFAULT_TIMEOUT_MS 2000L
#define TDRV_FP_DEFAULT_WATCH_MS 30000L
#define TDRV_FP_RKT_MIN_VERSION "1.27.0"
#define TDRV_FP_CONTAINERD_SOCKET "/run/containerd/containerd.sock"

struct tdrv_fp_opts {
    long timeout_ms;               /* per probe (Engine request, version command); 0: default */
    const char *containerd_socket; /* NULL: TDRV_FP_CONTAINERD_SOCKET */
};

/* What a probe remembers between runs of --watch (a once-detected Engine turns unhealthy). */
struct tdrv_fp_state {
    int docker_seen;
};

/*
 * Fingerprint the host: {"attributes": {flat "name": "string"}, "drivers": {"docker":
 * {"detected", "healthy", "health_description"}, "rkt", "oci", "containerd"}}. Probes run
 * in parallel threads, each bounded by opts->timeout_ms; a missing driver is an answer.
 * state may be NULL.
 */
int tdrv_fingerprint(const struct tdrv_config *cfg, const struct tdrv_fp_opts *opts,
                     struct tdrv_fp_state *state, cJSON **out, struct tdrv_err *err);

/*
 * Evaluate one constraint as job files write them, against a fingerprint document:
 * "${attr.kernel.name} = linux", "${driver.docker.version} version >= 1.2, < 2.0",
 * "${meta.rack} is_set". Operators: = == != > >= < <= version regexp is_set is_not_set
 * set_contains set_contains_any. *holds gets 1 or 0; a malformed expression is 65.
 * *why (optional, owned by the caller) explains a "no".
 */
int tdrv_fp_check(const cJSON *doc, const char *expr, int *holds, char **why, struct tdrv_err *err);

/*
 * Evaluate every expression against doc and record them in doc's "checks" array
 * ([{"constraint", "holds"}]). All hold: 0. One does not: -1 with exit 1
 * ("constraint_not_met", naming the first). A malformed one: -1 with 65.
 */
int tdrv_fp_check_all(cJSON *doc, const char *const *exprs, size_t n, struct tdrv_err *err);

/* Resolve "${attr.X}", "${node.X}", "${meta.X}", "${X}" in a fingerprint; NULL if unset. */
const char *tdrv_fp_lookup(const cJSON *doc, const char *target);

/*
 * Compare versions as hashicorp/go-version does: numeric segments (missing ones are 0), a
 * pre-release ("-rc1") sorts before its release, build metadata ("+dfsg1") is ignored.
 * Returns 0 and sets *cmp (<0, 0, >0), or -1 when either does not parse.
 */
int tdrv_version_cmp(const char *a, const char *b, int *cmp);

/* Check a version against a constraint list (">= 1.2, < 2.0", "~> 1.4"): 1, 0, or -1 (bad). */
int tdrv_version_check(const char *version, const char *constraints, struct tdrv_err *err);

/*
 * The versions in `rkt version` output ("rkt Version: 1.30.0", "appc Version: 0.8.11"):
 * 0 with *rkt and *appc (the caller frees them), -1 when either line is missing.
 */
int tdrv_fp_rkt_versions(const char *out, char **rkt, char **appc);

/*
 * --watch: print a fingerprint now and again, as JSON Lines on out, whenever an attribute
 * or a health changes, checking every period_ms, until SIGINT/SIGTERM (then 0).
 */
int tdrv_fp_watch(const struct tdrv_config *cfg, const struct tdrv_fp_opts *opts, long period_ms,
                  FILE *out, struct tdrv_err *err);

#endif
