#ifndef TDRV_REF_H
#define TDRV_REF_H

#include <cjson/cJSON.h>

#include "err.h"

/*
 * An image reference normalized as the Docker CLI does (distribution/reference
 * ParseNormalizedNamed): "redis" is docker.io/library/redis:latest.
 */
struct tdrv_ref {
    char *name;   /* domain/path */
    char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
    char *path;   /* "library/redis" */
    char *tag;    /* NULL when the reference has a digest and no tag */
    char *digest; /* "sha256:<hex>", or NULL */
};

void tdrv_ref_init(struct tdrv_ref *r);
void tdrv_ref_release(struct tdrv_ref *r);
#define cleanup_ref __attribute__((cleanup(tdrv_ref_release)))

/* Parse and normalize; a reference with neither tag nor digest gets "latest". 65 on error. */
int tdrv_ref_parse(const char *s, struct tdrv_ref *r, struct tdrv_err *err);
/*
 * Parse an image string as the drivers write it: a "docker://" prefix (rkt) or a leading
 * "https://" (docker driver) is dropped first.
 */
int tdrv_ref_parse_image(const char *s, struct tdrv_ref *r, struct tdrv_err *err);
/* "name:tag@digest", "name:tag" or "name@digest" (malloc'd). */
char *tdrv_ref_string(const struct tdrv_ref *r);
/* {"name","domain","path","tag","digest"} */
cJSON *tdrv_ref_json(const struct tdrv_ref *r);

#endif
