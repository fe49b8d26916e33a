#include "digest.h"

#include <openssl/evp.h>
#include <string.h>

#include "mem.h"

struct tdrv_hash {
    EVP_MD_CTX *ctx;
    int alg;
};

static const EVP_MD *md_of(int alg)
{
    return alg == TDRV_SHA512 ? EVP_sha512() : EVP_sha256();
}

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

struct tdrv_hash *tdrv_hash_new(int alg)
{
    struct tdrv_hash *h = tdrv_xcalloc(1, sizeof(*h));

    h->alg = alg;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, md_of(alg), NULL) != 1)
        tdrv_oom();
    return h;
}

void tdrv_hash_update(struct tdrv_hash *h, const void *p, size_t n)
{
    if (n && EVP_DigestUpdate(h->ctx, p, n) != 1)
        tdrv_oom();
}

void tdrv_hash_reset(struct tdrv_hash *h)
{
    if (EVP_DigestInit_ex(h->ctx, md_of(h->alg), NULL) != 1)
        tdrv_oom();
}

void tdrv_hash_final(struct tdrv_hash *h, char *out)
{
    static const char hx[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t o;

    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1)
        tdrv_oom();
    o = (size_t)snprintf(out, TDRV_DIGEST_MAX, "%s:", h->alg == TDRV_SHA512 ? "sha512" : "sha256");
    for (unsigned int i = 0; i < n && o + 2 < TDRV_DIGEST_MAX; i++) {
        out[o++] = hx[md[i] >> 4];
        out[o++] = hx[md[i] & 15];
    }
    out[o] = '\0';
    tdrv_hash_reset(h);
}

void tdrv_hash_free(struct tdrv_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void tdrv_hash_freep(struct tdrv_hash **h)
{
    tdrv_hash_free(*h);
    *h = NULL;
}

void tdrv_digest_buf(int alg, const void *p, size_t n, char *out)
{
    cleanup_hash struct tdrv_hash *h = tdrv_hash_new(alg);

    tdrv_hash_update(h, p, n);
    tdrv_hash_final(h, out);
}
