#ifndef TDRV_PLATFORM_H
#define TDRV_PLATFORM_H

#include <cjson/cJSON.h>

#include "err.h"

/*
 * An image platform as containerd/platforms normalizes it: os/arch[/variant],
 * lowercase, "x86_64" -> "amd64", "aarch64" -> "arm64", "armhf" -> "arm/v7", ...
 */
struct tdrv_platform {
    char os[32];
    char arch[32];
    char variant[16];
};

/* Parse "os/arch[/variant]" or "arch" (the host OS implied) and normalize it (65 when malformed).
 */
int tdrv_platform_parse(const char *s, struct tdrv_platform *out, struct tdrv_err *err);
/* Normalize in place. */
void tdrv_platform_normalize(struct tdrv_platform *p);
/* The host's platform (uname; the ARM variant from /proc/cpuinfo). */
void tdrv_platform_host(struct tdrv_platform *out);
/* "os/arch[/variant]" into buf. */
const char *tdrv_platform_str(const struct tdrv_platform *p, char *buf, size_t len);

/*
 * Rank a candidate against the wanted platform with containerd's fallback vector
 * (amd64/v3 accepts v3, v2, v1 then 386; arm/v7 accepts v7..v5; arm64 accepts arm64
 * then arm/v8..v5). Returns the rank (0 = exact, lower is better) or -1: no match.
 * `strict` disables the fallbacks.
 */
int tdrv_platform_rank(const struct tdrv_platform *want, const struct tdrv_platform *cand,
                       int strict);

/*
 * Choose a manifest from an image index's "manifests" array: entries whose platform
 * matches, the best rank first, the first in document order among equals; entries of an
 * unknown media type and "unknown/unknown" attestations are skipped. Returns the chosen
 * descriptor (owned by index) or NULL with 66 "image_not_found" naming the platforms on
 * offer.
 */
const cJSON *tdrv_platform_select(const cJSON *index, const struct tdrv_platform *want, int strict,
                                  struct tdrv_err *err);

#endif
