#include "digest.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

/*
 * Two implementations behind one API:
 * - a built-in SHA-256/SHA-512 (FIPS 180-4), for one-shot digests of buffers (manifests,
 *   configs, chain ids: tdrv_digest_buf) and as the fallback for streams;
 * - libcrypto's EVP, loaded on first streaming use (dlopen), for layers and blobs, where
 *   its SHA extensions make it several times faster than portable C.
 * Linking libcrypto cost every start of every tool ~1.5 ms (relocations, its
 * initialisation reading openssl.cnf, its exit handlers) although tdrv-run, tdrv-ports,
 * tdrv-gc and tdrv-fingerprint hash only a few small buffers (docs/tdrv-run.md,
 * "Start-up time"). Both implementations are checked against each other and against the
 * FIPS test vectors in tests/unit/test_digest.c.
 */
#ifndef TDRV_LIBCRYPTO_SONAME
#define TDRV_LIBCRYPTO_SONAME "libcrypto.so.3"
#endif

/* ---- built-in SHA-2 ----------------------------------------------------------------------- */

struct sha2 {
    int alg;
    uint64_t len;           /* bytes hashed so far */
    size_t fill;            /* bytes waiting in blk */
    uint32_t h32[8];        /* SHA-256 state */
    uint64_t h64[8];        /* SHA-512 state */
    unsigned char blk[128]; /* 64 bytes used by SHA-256 */
};

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint64_t k512[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

static void sha256_block(uint32_t *h, const unsigned char *p)
{
    uint32_t w[64];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);

        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            k + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) + k256[i] + w[i];
        uint32_t t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

static void sha512_block(uint64_t *h, const unsigned char *p)
{
    uint64_t w[80];
    uint64_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];

    for (int i = 0; i < 16; i++) {
        w[i] = 0;
        for (int j = 0; j < 8; j++)
            w[i] = w[i] << 8 | p[8 * i + j];
    }
    for (int i = 16; i < 80; i++) {
        uint64_t s0 = ROR64(w[i - 15], 1) ^ ROR64(w[i - 15], 8) ^ (w[i - 15] >> 7);
        uint64_t s1 = ROR64(w[i - 2], 19) ^ ROR64(w[i - 2], 61) ^ (w[i - 2] >> 6);

        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 80; i++) {
        uint64_t t1 = k + (ROR64(e, 14) ^ ROR64(e, 18) ^ ROR64(e, 41)) + ((e & f) ^ (~e & g)) +
                      k512[i] + w[i];
        uint64_t t2 = (ROR64(a, 28) ^ ROR64(a, 34) ^ ROR64(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));

        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

static void sha2_init(struct sha2 *s, int alg)
{
    static const uint32_t iv256[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    static const uint64_t iv512[8] = {
        0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
        0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

    memset(s, 0, sizeof(*s));
    s->alg = alg;
    memcpy(s->h32, iv256, sizeof(iv256));
    memcpy(s->h64, iv512, sizeof(iv512));
}

static void sha2_update(struct sha2 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t bs = s->alg == TDRV_SHA512 ? 128 : 64;

    s->len += n;
    while (n > 0) {
        size_t take;

        if (s->fill == 0 && n >= bs) {
            if (bs == 64)
                sha256_block(s->h32, p);
            else
                sha512_block(s->h64, p);
            p += bs;
            n -= bs;
            continue;
        }
        take = bs - s->fill < n ? bs - s->fill : n;
        memcpy(s->blk + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == bs) {
            if (bs == 64)
                sha256_block(s->h32, s->blk);
            else
                sha512_block(s->h64, s->blk);
            s->fill = 0;
        }
    }
}

/* Pad, process the last block(s), write the raw digest into md; returns its length. */
static unsigned int sha2_final(struct sha2 *s, unsigned char *md)
{
    size_t bs = s->alg == TDRV_SHA512 ? 128 : 64;
    size_t lenpos = bs - (bs == 64 ? 8 : 16); /* where the bit length starts in the last block */
    uint64_t bits = s->len * 8;
    unsigned char pad[256] = {0x80};
    size_t npad = (s->fill < lenpos ? lenpos - s->fill : bs + lenpos - s->fill);

    /* the bit length, big-endian, in the last 8 bytes (SHA-512's upper 64 bits stay 0) */
    for (int i = 0; i < 8; i++)
        pad[npad + (bs - lenpos) - 1 - (size_t)i] = (unsigned char)(bits >> (8 * i));
    sha2_update(s, pad, npad + (bs - lenpos));
    if (bs == 64) {
        for (int i = 0; i < 32; i++)
            md[i] = (unsigned char)(s->h32[i / 4] >> (24 - 8 * (i % 4)));
        return 32;
    }
    for (int i = 0; i < 64; i++)
        md[i] = (unsigned char)(s->h64[i / 8] >> (56 - 8 * (i % 8)));
    return 64;
}

/* ---- libcrypto, loaded on first streaming use ---------------------------------------------- */

#define EVP_FUNCS(X)                                                                               \
    X(EVP_MD_CTX_new)                                                                              \
    X(EVP_MD_CTX_free)                                                                             \
    X(EVP_DigestInit_ex)                                                                           \
    X(EVP_DigestUpdate)                                                                            \
    X(EVP_DigestFinal_ex)                                                                          \
    X(EVP_sha256)                                                                                  \
    X(EVP_sha512)

static struct {
#define EVP_DECL(f) __typeof__(f) *f;
    EVP_FUNCS(EVP_DECL)
#undef EVP_DECL
} evp;

static pthread_once_t evp_once = PTHREAD_ONCE_INIT;
static int evp_ok;

static void evp_load_once(void)
{
    void *so = dlopen(TDRV_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
    int ok = so != NULL;

#define EVP_SYM(f)                                                                                 \
    if (ok && !(*(void **)&evp.f = dlsym(so, #f)))                                                 \
        ok = 0;
    EVP_FUNCS(EVP_SYM)
#undef EVP_SYM
    evp_ok = ok;
}

int tdrv_hash_accelerated(void)
{
    pthread_once(&evp_once, evp_load_once);
    return evp_ok;
}

/* ---- the API ------------------------------------------------------------------------------ */

struct tdrv_hash {
    EVP_MD_CTX *ctx; /* NULL: the built-in implementation */
    struct sha2 own;
    int alg;
};

int tdrv_digest_parse(const char *digest, int *alg, const char **hex, struct tdrv_err *err)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    size_t want;
    int a;

    if (!colon)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_digest", 0, "invalid digest '%s'",
                             digest ? digest : "");
    if ((size_t)(colon - digest) == 6 && !strncmp(digest, "sha256", 6)) {
        a = TDRV_SHA256;
        want = 64;
    } else if ((size_t)(colon - digest) == 6 && !strncmp(digest, "sha512", 6)) {
        a = TDRV_SHA512;
        want = 128;
    } else {
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_digest", 0,
                             "unsupported digest algorithm in '%s'", digest);
    }
    if (strlen(colon + 1) != want)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_digest", 0, "invalid digest length in '%s'",
                             digest);
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_digest", 0, "invalid digest '%s'",
                                 digest);
    if (alg)
        *alg = a;
    if (hex)
        *hex = colon + 1;
    return 0;
}

struct tdrv_hash *tdrv_hash_new_builtin(int alg)
{
    struct tdrv_hash *h = tdrv_xcalloc(1, sizeof(*h));

    h->alg = alg == TDRV_SHA512 ? TDRV_SHA512 : TDRV_SHA256;
    sha2_init(&h->own, h->alg);
    return h;
}

struct tdrv_hash *tdrv_hash_new(int alg)
{
    struct tdrv_hash *h = tdrv_hash_new_builtin(alg);

    if (tdrv_hash_accelerated()) {
        h->ctx = evp.EVP_MD_CTX_new();
        if (!h->ctx)
            tdrv_oom();
        tdrv_hash_reset(h);
    }
    return h;
}

void tdrv_hash_update(struct tdrv_hash *h, const void *p, size_t n)
{
    if (!n)
        return;
    if (!h->ctx)
        sha2_update(&h->own, p, n);
    else if (evp.EVP_DigestUpdate(h->ctx, p, n) != 1)
        tdrv_oom();
}

void tdrv_hash_reset(struct tdrv_hash *h)
{
    if (!h->ctx)
        sha2_init(&h->own, h->alg);
    else if (evp.EVP_DigestInit_ex(
                 h->ctx, h->alg == TDRV_SHA512 ? evp.EVP_sha512() : evp.EVP_sha256(), NULL) != 1)
        tdrv_oom();
}

static void hex_out(int alg, const unsigned char *md, unsigned int n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    size_t o =
        (size_t)snprintf(out, TDRV_DIGEST_MAX, "%s:", alg == TDRV_SHA512 ? "sha512" : "sha256");

    for (unsigned int i = 0; i < n && o + 2 < TDRV_DIGEST_MAX; i++) {
        out[o++] = hx[md[i] >> 4];
        out[o++] = hx[md[i] & 15];
    }
    out[o] = '\0';
}

void tdrv_hash_final(struct tdrv_hash *h, char *out)
{
    unsigned char md[64];
    unsigned int n = 0;

    if (!h->ctx)
        n = sha2_final(&h->own, md);
    else if (evp.EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n > sizeof(md))
        tdrv_oom();
    hex_out(h->alg, md, n, out);
    tdrv_hash_reset(h);
}

void tdrv_hash_free(struct tdrv_hash *h)
{
    if (!h)
        return;
    if (h->ctx)
        evp.EVP_MD_CTX_free(h->ctx);
    free(h);
}

void tdrv_hash_freep(struct tdrv_hash **h)
{
    tdrv_hash_free(*h);
    *h = NULL;
}

void tdrv_digest_buf(int alg, const void *p, size_t n, char *out)
{
    struct sha2 s;
    unsigned char md[64];
    unsigned int len;

    alg = alg == TDRV_SHA512 ? TDRV_SHA512 : TDRV_SHA256;
    sha2_init(&s, alg);
    sha2_update(&s, p, n);
    len = sha2_final(&s, md);
    hex_out(alg, md, len, out);
}
