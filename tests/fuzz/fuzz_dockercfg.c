/*
 * Docker's config.json (tdrv_auth_from_config), the credential helper's answer
 * (tdrv_auth_helper_answer) and base64 (tdrv_base64_decode/encode), all on the input.
 * PATH is an empty scratch directory, so a credHelpers/credsStore lookup fails to start its
 * helper (77) instead of running one.
 * Invariants: a lookup gives 1 with non-empty credentials and a source, 0 with none, or -1
 * with exit 65, 77 or 78 and a message that holds no password, token or auth value of the
 * file (unless it also appears in what messages name: an auths key, a helper name); the helper's
 * answer is wiped from its buffer whatever the outcome, and gives 1 with credentials, 0 with none
 * or 77; base64 of any bytes decodes back to them, and text that decodes re-encodes to a text that
 * decodes to the same bytes.
 */
#include "fuzz.h"

#include "auth.h"
#include "json.h"
#include "mem.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("PATH", fuzz_scratch_dir(), 1);
    return 0;
}

static void check_cred(int rc, const struct tdrv_cred *c, const char *what)
{
    if (rc == 1) {
        FUZZ_ASSERT(!tdrv_cred_empty(c), "%s: 1 with empty credentials", what);
        FUZZ_ASSERT(c->source[0], "%s: no source", what);
    } else {
        FUZZ_ASSERT(rc == 0 || rc == -1, "%s: rc %d", what, rc);
        FUZZ_ASSERT(tdrv_cred_empty(c), "%s: rc %d with credentials", what, rc);
    }
}

/* Does s appear in what messages name: a key of auths, a helper name (credHelpers values,
 * credsStore), the host, or a word of a message? */
static int in_a_name(const cJSON *cfg, const char *host, const char *s)
{
    static const char words[] = "expected base64 of 'username:password' invalid base64: bad "
                                "character at truncated too much padding expected object "
                                "expected string invalid credential helper name unable to run "
                                "credential helper 'docker-credential-': No such file or directory";
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(cfg, "credsStore");
    const cJSON *e;

    if (strstr(host, s) || strstr(words, s))
        return 1;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, "auths"))
    {
        if (e->string && strstr(e->string, s))
            return 1;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, "credHelpers"))
    {
        if (cJSON_IsString(e) && strstr(e->valuestring, s))
            return 1;
    }
    return cJSON_IsString(store) && strstr(store->valuestring, s);
}

/* A secret of the file must not appear in a message (short ones may by chance). */
static void no_secret(const char *msg, const cJSON *secret, const cJSON *cfg, const char *host)
{
    const char *s = cJSON_GetStringValue(secret);

    if (!s || strlen(s) < 6 || in_a_name(cfg, host, s))
        return;
    FUZZ_ASSERT(!strstr(msg, s), "secret '%s' in message '%s'", s, msg);
}

static void lookup(const cJSON *cfg, const char *host)
{
    cleanup_cred struct tdrv_cred c = {0};
    struct tdrv_err err = {0};
    int rc = tdrv_auth_from_config(cfg, host, &c, &err);
    const cJSON *auths = cJSON_GetObjectItemCaseSensitive(cfg, "auths");
    const cJSON *e;

    check_cred(rc, &c, host);
    if (rc >= 0) {
        FUZZ_ASSERT(err.code == 0, "%s: error set with rc %d: %s", host, rc, err.msg);
        return;
    }
    FUZZ_ASSERT(err.code == TDRV_E_DATA || err.code == TDRV_E_NOPERM || err.code == TDRV_E_CONFIG,
                "%s: exit %d: %s", host, err.code, err.msg);
    FUZZ_ASSERT(err.msg[0], "%s: empty message", host);
    cJSON_ArrayForEach(e, auths)
    {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "auth");
        cleanup_free char *dec = NULL;
        size_t n = 0;
        struct tdrv_err ignored = {0};

        no_secret(err.msg, cJSON_GetObjectItemCaseSensitive(e, "password"), cfg, host);
        no_secret(err.msg, cJSON_GetObjectItemCaseSensitive(e, "identitytoken"), cfg, host);
        no_secret(err.msg, cJSON_GetObjectItemCaseSensitive(e, "registrytoken"), cfg, host);
        no_secret(err.msg, a, cfg, host);
        if (cJSON_IsString(a) && tdrv_base64_decode(a->valuestring, &dec, &n, &ignored) == 0 &&
            strchr(dec, ':') && strlen(strchr(dec, ':') + 1) >= 6) {
            const char *pw = strchr(dec, ':') + 1;

            FUZZ_ASSERT(in_a_name(cfg, host, pw) || !strstr(err.msg, pw), "password '%s' in '%s'",
                        pw, err.msg);
        }
    }
}

static void config(const char *buf, size_t size)
{
    cleanup_json cJSON *cfg = NULL;
    struct tdrv_err err = {0};
    const cJSON *e;
    int keys = 0;

    if (tdrv_doc_parse(buf, size, &cfg, &err) < 0)
        return;
    lookup(cfg, "docker.io");
    lookup(cfg, "quay.io");
    lookup(cfg, "registry.example.com:5000");
    /* each auths key's host, as "https://host/v1/" keys name them */
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, "auths"))
    {
        const char *k = e->string;
        const char *p;
        cleanup_free char *host = NULL;

        if (!k || keys++ >= 4)
            break;
        p = strstr(k, "://");
        p = p ? p + 3 : k;
        host = tdrv_xstrndup(p, strcspn(p, "/"));
        if (*host)
            lookup(cfg, host);
    }
}

static void helper_answer(const uint8_t *data, size_t size)
{
    cleanup_free char *buf = fuzz_cstr(data, size);
    cleanup_cred struct tdrv_cred c = {0};
    struct tdrv_err err = {0};
    int rc = tdrv_auth_helper_answer("docker-credential-fuzz", buf, size, &c, &err);

    check_cred(rc, &c, "helper answer");
    for (size_t i = 0; i < size; i++)
        FUZZ_ASSERT(buf[i] == 0, "helper answer: byte %zu not wiped (rc %d)", i, rc);
    if (rc < 0) {
        FUZZ_ASSERT(err.code == TDRV_E_NOPERM && !strcmp(err.word, "auth_failed"),
                    "helper answer: exit %d %s", err.code, err.word);
    } else {
        FUZZ_ASSERT(err.code == 0, "helper answer: error set with rc %d", rc);
        FUZZ_ASSERT(rc == 0 || !strcmp(c.source, "helper docker-credential-fuzz"),
                    "helper answer: source '%s'", c.source);
    }
}

static void base64(const uint8_t *data, size_t size)
{
    cleanup_free char *enc = tdrv_base64_encode(data, size);
    cleanup_free char *dec = NULL;
    cleanup_free char *in = fuzz_cstr(data, size);
    size_t n = 0;
    struct tdrv_err err = {0};

    FUZZ_ASSERT(strlen(enc) == (size + 2) / 3 * 4, "encoded length %zu for %zu", strlen(enc), size);
    FUZZ_ASSERT(tdrv_base64_decode(enc, &dec, &n, &err) == 0, "own encoding refused: %s", err.msg);
    FUZZ_ASSERT(n == size && (size == 0 || !memcmp(dec, data, size)), "round trip of %zu bytes",
                size);
    free(dec);
    dec = NULL;
    if (tdrv_base64_decode(in, &dec, &n, &err) == 0) {
        cleanup_free char *again = tdrv_base64_encode(dec, n);
        cleanup_free char *dec2 = NULL;
        size_t n2 = 0;

        FUZZ_ASSERT(dec[n] == 0, "decoded text not terminated");
        FUZZ_ASSERT(tdrv_base64_decode(again, &dec2, &n2, &err) == 0, "re-encoding refused");
        FUZZ_ASSERT(n2 == n && !memcmp(dec, dec2, n), "'%s' -> '%s' decodes differently", in,
                    again);
    } else {
        FUZZ_ASSERT(err.code == TDRV_E_DATA && err.msg[0], "base64 refusal: exit %d", err.code);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *buf = fuzz_cstr(data, size);

    config(buf, size);
    helper_answer(data, size);
    base64(data, size);
    return 0;
}
