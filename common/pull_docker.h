#ifndef TDRV_PULL_DOCKER_H
#define TDRV_PULL_DOCKER_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "err.h"
#include "ref.h"

/*
 * tdrv-pull --to docker: pull into a Docker Engine (POST /images/create) instead of the
 * store, for tasks whose driver is docker, with X-Registry-Auth built from the same
 * credential chain. The docker driver's rule decides whether to pull: an image present
 * in the Engine is used unless force_pull is set or its tag is latest (or omitted).
 * *image receives {"reference","id","repo_digests","engine","cached"}.
 */
struct tdrv_pull_docker {
    const struct tdrv_ref *ref;
    const struct tdrv_config *conf;
    const struct tdrv_cred *cred; /* NULL or empty: anonymous */
    int force;
    int64_t timeout_ms; /* image_pull_timeout */
};

int tdrv_pull_docker(const struct tdrv_pull_docker *o, cJSON **image, struct tdrv_err *err);

/*
 * The Engine's answer to POST /images/create: JSON Lines of progress; a line with a string
 * "error" is the failure (66 image_not_found, 77 auth_failed, else 69 registry_unreachable,
 * naming the image); lines that are not JSON are skipped. body is NUL-terminated.
 */
int tdrv_pull_docker_check_stream(const char *body, const char *name, struct tdrv_err *err);

/* X-Registry-Auth's value: base64url of {"username","password","serveraddress"}. */
char *tdrv_registry_auth_header(const struct tdrv_cred *c, const char *server);

#endif
