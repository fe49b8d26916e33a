#ifndef TDRV_DIGEST_H
#define TDRV_DIGEST_H

#include <stddef.h>

#include "err.h"

/* Streaming content digests ("sha256:<hex>", "sha512:<hex>") over libcrypto EVP. */
enum tdrv_hash_alg {
    TDRV_SHA256 = 1,
    TDRV_SHA512 = 2,
};

/* Longest digest string plus NUL: "sha512:" + 128 hex. */
#define TDRV_DIGEST_MAX 136

struct tdrv_hash;

/* Check a digest string: known algorithm, right length, lowercase hex (65 otherwise). */
int tdrv_digest_parse(const char *digest, int *alg, const char **hex, struct tdrv_err *err);

struct tdrv_hash *tdrv_hash_new(int alg);
void tdrv_hash_update(struct tdrv_hash *h, const void *p, size_t n);
/* Write "alg:hex" into out (TDRV_DIGEST_MAX bytes); the hash is reset for reuse. */
void tdrv_hash_final(struct tdrv_hash *h, char *out);
void tdrv_hash_reset(struct tdrv_hash *h);
void tdrv_hash_free(struct tdrv_hash *h);
void tdrv_hash_freep(struct tdrv_hash **h);
#define cleanup_hash __attribute__((cleanup(tdrv_hash_freep)))

/* One-shot digest of a buffer into out (TDRV_DIGEST_MAX bytes). */
void tdrv_digest_buf(int alg, const void *p, size_t n, char *out);

#endif
