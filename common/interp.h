#ifndef TDRV_INTERP_H
#define TDRV_INTERP_H

#include <cjson/cJSON.h>

#include "err.h"

/* Longest string one interpolation may produce; a whole document may grow to 4 times this. */
#define TDRV_INTERP_MAX (16u * 1024u * 1024u)

/*
 * What `${...}` references resolve from (DESIGN §2, Nomad's client/taskenv). Each member
 * is a JSON object (or NULL) whose values are strings; numbers and booleans are written
 * as JSON writes them, anything else does not resolve.
 *   env    ${NAME} and ${env["NAME"]}: the task's environment, NOMAD_* variables included.
 *          It is searched first for every ${name}, as Nomad searches its task env first.
 *   node   ${node.<key>}: "datacenter", "region", "class", "unique.name", "unique.id".
 *   attrs  ${attr.<key>}: fingerprint attributes ("kernel.name", "driver.docker.version").
 *   meta   ${meta.<key>}: Nomad resolves these from the node's meta (the operator's
 *          `meta`); the task's own meta reaches it as NOMAD_META_<key> in env.
 */
struct tdrv_interp {
    const cJSON *env;
    const cJSON *meta;
    const cJSON *node;
    const cJSON *attrs;
};

/*
 * Interpolate one string. A reference is `${` name `}`, the name made of letters,
 * digits, '_', '-' and '.', or `${env["NAME"]}`. A reference that does not resolve, an
 * empty `${}` and an unterminated `${` stay as written; values are not interpolated
 * again. Returns a malloc'd string, or NULL (65, code too_large) past TDRV_INTERP_MAX.
 */
char *tdrv_interp_str(const struct tdrv_interp *ctx, const char *in, struct tdrv_err *err);

/*
 * Interpolate, in place, every string value of `v` (arrays and objects recursively;
 * object keys stay as they are). Errors name the string's path under `v` ("args[2]").
 */
int tdrv_interp_json(const struct tdrv_interp *ctx, cJSON *v, struct tdrv_err *err);

#endif
