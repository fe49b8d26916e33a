/* SHA-2: the built-in implementation against FIPS 180-4's examples and against libcrypto. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "tap.h"

void test_digest(void);

/* FIPS 180-4 examples (expected values as published for SHA-256 and SHA-512) */
static const struct {
    const char *msg;
    const char *sha256;
    const char *sha512;
} vectors[] = {
    {"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "sha512:"
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877ee"
     "c2f63b931bd47417a81a538327af927da3e"},
    {"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "sha512:"
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd454d4423643ce80e2a9ac94fa54ca49f"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
     "sha512:"
     "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789"
     "ca031ad85c7a71dd70354ec631238ca3445"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrsmnopqrstnopqrstu",
     "sha256:cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
     "sha512:"
     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b54"
     "33ac7d329eeb6dd26545e96e55b874be909"},
};

static void one(struct tdrv_hash *h, const void *p, size_t n, size_t chunk, char *out)
{
    const unsigned char *c = p;

    while (n > 0) {
        size_t k = chunk < n ? chunk : n;

        tdrv_hash_update(h, c, k);
        c += k;
        n -= k;
    }
    tdrv_hash_final(h, out);
}

void test_digest(void)
{
    char got[TDRV_DIGEST_MAX];
    unsigned char *buf = malloc(1u << 20);
    uint32_t x = 2463534242u;
    int same = 1;

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        tdrv_digest_buf(TDRV_SHA256, vectors[i].msg, strlen(vectors[i].msg), got);
        CHECK_STR(got, vectors[i].sha256, "sha256 of the FIPS example '%.20s'", vectors[i].msg);
        tdrv_digest_buf(TDRV_SHA512, vectors[i].msg, strlen(vectors[i].msg), got);
        CHECK_STR(got, vectors[i].sha512, "sha512 of the FIPS example '%.20s'", vectors[i].msg);
    }
    memset(buf, 'a', 1000000);
    {
        cleanup_hash struct tdrv_hash *b256 = tdrv_hash_new_builtin(TDRV_SHA256);
        cleanup_hash struct tdrv_hash *b512 = tdrv_hash_new_builtin(TDRV_SHA512);

        one(b256, buf, 1000000, 1000, got);
        CHECK_STR(got, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                  "built-in sha256 of a million 'a', 1000 at a time");
        one(b512, buf, 1000000, 999, got);
        CHECK_STR(got,
                  "sha512:"
                  "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a"
                  "4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
                  "built-in sha512 of a million 'a', 999 at a time");
    }
    /* every length up to 300 (all the padding cases of both block sizes) and some large
     * ones, random bytes: one-shot built-in == streamed built-in == libcrypto */
    for (size_t i = 0; i < (1u << 20); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
    for (int alg = TDRV_SHA256; alg <= TDRV_SHA512; alg++) {
        cleanup_hash struct tdrv_hash *lib = tdrv_hash_new(alg);
        cleanup_hash struct tdrv_hash *own = tdrv_hash_new_builtin(alg);

        for (size_t n = 0; n <= 300 + 3 * 65536 && same; n += n < 300 ? 1 : 65537) {
            char a[TDRV_DIGEST_MAX];
            char b[TDRV_DIGEST_MAX];
            char c[TDRV_DIGEST_MAX];

            tdrv_digest_buf(alg, buf, n, a);
            one(own, buf, n, 1 + n % 131, b);
            one(lib, buf, n, 4096, c);
            if (strcmp(a, b) || strcmp(a, c)) {
                printf("# length %zu: one-shot %s, streamed %s, libcrypto %s\n", n, a, b, c);
                same = 0;
            }
        }
        ok(same,
           "%s: built-in one-shot, built-in streamed and libcrypto agree on 0..300 bytes "
           "and large buffers",
           alg == TDRV_SHA256 ? "sha256" : "sha512");
    }
    ok(tdrv_hash_accelerated(), "libcrypto loaded for streams");
    free(buf);
}
