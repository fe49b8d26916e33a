#ifndef TDRV_DIGEST_H
#define TDRV_DIGEST_H

#include <stddef.h>

#include "err.h"

/*
 * Content digests ("sha256:<hex>", "sha512:<hex>"): streams over libcrypto's EVP, loaded on
 * first use, or the built-in SHA-2 where it cannot be loaded; one-shot buffers always over
 * the built-in SHA-2 (no library load for a few small buffers).
 */
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
/* The built-in SHA-2 whether or not libcrypto can be loaded (tests compare the two). */
struct tdrv_hash *tdrv_hash_new_builtin(int alg);
void tdrv_hash_update(struct tdrv_hash *h, const void *p, size_t n);
/* Write "alg:hex" into out (TDRV_DIGEST_MAX bytes); the hash is reset for reuse. */
void tdrv_hash_final(struct tdrv_hash *h, char *out);
void tdrv_hash_reset(struct tdrv_hash *h);
void tdrv_hash_free(struct tdrv_hash *h);
void tdrv_hash_freep(struct tdrv_hash **h);
#define cleanup_hash __attribute__((cleanup(tdrv_hash_freep)))

/* One-shot digest of a buffer into out (TDRV_DIGEST_MAX bytes), built-in SHA-2. */
void tdrv_digest_buf(int alg, const void *p, size_t n, char *out);

/* 1 when streams use libcrypto, 0 when they use the built-in SHA-2. */
int tdrv_hash_accelerated(void);

#endif
