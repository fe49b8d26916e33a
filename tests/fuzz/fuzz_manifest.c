/*
 * Registry manifests and indexes as tdrv-pull reads them: tdrv_manifest_parse (the body a
 * registry sent, by tag and by digest), then for an index tdrv_manifest_pick for several
 * platforms, for an image manifest tdrv_pull_manifest_config and tdrv_pull_manifest_layers
 * (with a config whose diff_ids are the layers' digests), and tdrv_platform_parse on the
 * platforms an index offers. An input starting "Content-Type: X\n" gives that header; the
 * rest is the body.
 * Invariants: a refusal is exit 76 (digest_mismatch, unsupported_manifest, protocol_error)
 * or, for a pick, 66 image_not_found; a manifest that parses is a JSON object with a media
 * type and the body's sha256 as digest, parses the same when asked by that digest, and is
 * refused with digest_mismatch for another size or digest; a pick gives a valid digest and a
 * size >= 0, and a strict pick that succeeds means a lenient one finds an entry (perhaps a
 * broken one: 76); the config and layer
 * descriptors have valid digests, sizes >= 0 and the chain ids of their diff_ids; a platform
 * that parses prints to a string that parses to the same platform.
 */
#include "fuzz.h"

#include "digest.h"
#include "json.h"
#include "mem.h"
#include "platform.h"
#include "pull.h"
#include "registry.h"
#include "store.h"

#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

static const char *const wants[] = {"linux/amd64",  "linux/amd64/v3", "linux/arm64", "linux/arm/v7",
                                    "linux/arm/v5", "windows/amd64",  "linux/386",   "linux/s390x"};

static int parse(struct tdrv_manifest *m, const char *ctype, const char *body, size_t len,
                 const char *hdr, const char *want, int64_t want_size, struct tdrv_err *err)
{
    memset(m, 0, sizeof(*m));
    tdrv_buf_init(&m->body, TDRV_MAX_MANIFEST);
    if (len)
        FUZZ_ASSERT(tdrv_buf_add(&m->body, body, len, err) == 0, "body");
    return tdrv_manifest_parse(m, "fuzz", ctype, hdr, want, want_size, err);
}

static void check_refusal(const struct tdrv_err *err, const char *what)
{
    FUZZ_ASSERT(err->code == TDRV_E_PROTOCOL, "%s: exit %d: %s", what, err->code, err->msg);
    FUZZ_ASSERT(!strcmp(err->word, "digest_mismatch") ||
                    !strcmp(err->word, "unsupported_manifest") ||
                    !strcmp(err->word, "protocol_error"),
                "%s: code %s", what, err->word);
    FUZZ_ASSERT(err->msg[0], "%s: empty message", what);
}

static void platform_round_trip(const char *s)
{
    struct tdrv_platform p;
    struct tdrv_platform back;
    struct tdrv_err err = {0};
    char buf[96];

    if (tdrv_platform_parse(s, &p, &err) < 0) {
        FUZZ_ASSERT(err.code == TDRV_E_DATA, "platform '%s': exit %d", s, err.code);
        return;
    }
    tdrv_platform_str(&p, buf, sizeof(buf));
    FUZZ_ASSERT(tdrv_platform_parse(buf, &back, &err) == 0, "platform '%s' -> '%s' refused: %s", s,
                buf, err.msg);
    FUZZ_ASSERT(!strcmp(p.os, back.os) && !strcmp(p.arch, back.arch) &&
                    !strcmp(p.variant, back.variant),
                "platform '%s' -> '%s' -> %s/%s/%s", s, buf, back.os, back.arch, back.variant);
    FUZZ_ASSERT(tdrv_platform_rank(&p, &back, 1) == 0, "platform '%s' does not match itself", s);
}

static void index_checks(const struct tdrv_manifest *m)
{
    const cJSON *d;
    int n = 0;

    for (size_t i = 0; i < TDRV_ARRAY_LEN(wants); i++) {
        struct tdrv_platform want;
        struct tdrv_err err = {0};
        const char *digest[2] = {NULL, NULL};
        int64_t size[2] = {-1, -1};
        int rc[2];
        char lenient_word[40] = "";

        FUZZ_ASSERT(tdrv_platform_parse(wants[i], &want, &err) == 0, "%s", wants[i]);
        for (int strict = 0; strict < 2; strict++) {
            struct tdrv_err e = {0};

            rc[strict] =
                tdrv_manifest_pick(m, "fuzz", &want, strict, &digest[strict], &size[strict], &e);
            if (rc[strict] == 0) {
                FUZZ_ASSERT(e.code == 0, "pick %s: error set on success", wants[i]);
                FUZZ_ASSERT(digest[strict] && tdrv_digest_valid(digest[strict]), "pick %s: digest",
                            wants[i]);
                FUZZ_ASSERT(size[strict] >= 0, "pick %s: size %lld", wants[i],
                            (long long)size[strict]);
            } else {
                FUZZ_ASSERT(rc[strict] == -1, "pick: rc %d", rc[strict]);
                if (!strict)
                    snprintf(lenient_word, sizeof(lenient_word), "%s", e.word);
                FUZZ_ASSERT((e.code == TDRV_E_NOINPUT && !strcmp(e.word, "image_not_found")) ||
                                (e.code == TDRV_E_PROTOCOL && !strcmp(e.word, "protocol_error")),
                            "pick %s: exit %d %s: %s", wants[i], e.code, e.word, e.msg);
            }
        }
        /* the lenient pick may prefer a broken entry, never find none */
        FUZZ_ASSERT(rc[1] < 0 || rc[0] == 0 || lenient_word[0] == 'p',
                    "pick %s: strict found one, lenient did not", wants[i]);
    }
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(m->json, "manifests"))
    {
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(d, "platform");
        const char *os = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pl, "os"));
        const char *arch =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pl, "architecture"));
        const char *var = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pl, "variant"));
        cleanup_free char *s = NULL;

        if (!os || !arch || n++ >= 8)
            continue;
        s = tdrv_xasprintf("%s/%s%s%s", os, arch, var ? "/" : "", var ? var : "");
        platform_round_trip(s);
        platform_round_trip(arch);
    }
}

static void image_checks(const struct tdrv_manifest *m)
{
    const char *cdg = NULL;
    uint64_t csz = 0;
    struct tdrv_err err = {0};
    cleanup_json cJSON *cfg = tdrv_json_xobj();
    cJSON *rootfs = tdrv_json_xobj();
    cJSON *diffs = tdrv_json_xarr();
    cleanup_free struct tdrv_layer_desc *descs = NULL;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(m->json, "layers");
    const cJSON *l;
    size_t n = 0;

    tdrv_json_add(rootfs, "diff_ids", diffs);
    tdrv_json_add(cfg, "rootfs", rootfs);
    if (tdrv_pull_manifest_config(m, &cdg, &csz, &err) < 0) {
        FUZZ_ASSERT(err.code == TDRV_E_PROTOCOL && !strcmp(err.word, "protocol_error"),
                    "config: exit %d %s", err.code, err.word);
        return;
    }
    FUZZ_ASSERT(cdg && tdrv_digest_valid(cdg) && csz <= (8u << 20), "config %s %llu",
                cdg ? cdg : "(null)", (unsigned long long)csz);
    FUZZ_ASSERT(cJSON_IsArray(layers), "config accepted without layers");
    cJSON_ArrayForEach(l, layers)
    {
        const char *dg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "digest"));

        tdrv_json_append(diffs, tdrv_json_xstr(dg ? dg : "x"));
    }
    if (tdrv_pull_manifest_layers(m, cfg, &descs, &n, &err) < 0) {
        FUZZ_ASSERT(err.code == TDRV_E_PROTOCOL && !strcmp(err.word, "protocol_error"),
                    "layers: exit %d %s: %s", err.code, err.word, err.msg);
        FUZZ_ASSERT(descs == NULL, "layers: refusal gave descriptors");
        return;
    }
    FUZZ_ASSERT(n == (size_t)cJSON_GetArraySize(layers), "layers: %zu of %d", n,
                cJSON_GetArraySize(layers));
    for (size_t i = 0; i < n; i++) {
        char chain[TDRV_DIGEST_MAX];

        FUZZ_ASSERT(tdrv_digest_valid(descs[i].digest) && descs[i].size >= 0 &&
                        !strcmp(descs[i].digest, descs[i].diff_id),
                    "layer %zu: %s %lld %s", i, descs[i].digest, (long long)descs[i].size,
                    descs[i].diff_id);
        if (i == 0) {
            snprintf(chain, sizeof(chain), "%s", descs[0].diff_id);
        } else {
            cleanup_free char *s = tdrv_xasprintf("%s %s", descs[i - 1].chain_id, descs[i].diff_id);

            tdrv_digest_buf(TDRV_SHA256, s, strlen(s), chain);
        }
        FUZZ_ASSERT(!strcmp(chain, descs[i].chain_id), "layer %zu: chain id %s, not %s", i,
                    descs[i].chain_id, chain);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    cleanup_free char *ctype = NULL;
    cleanup_manifest struct tdrv_manifest m = {0};
    cleanup_manifest struct tdrv_manifest again = {0};
    const char *body = in;
    size_t len = size;
    char sha[TDRV_DIGEST_MAX];
    char wrong[TDRV_DIGEST_MAX];
    struct tdrv_err err = {0};
    int rc;

    if (size > 14 && !strncmp(in, "Content-Type: ", 14) && memchr(in, '\n', size)) {
        const char *nl = memchr(in, '\n', size);

        ctype = tdrv_xstrndup(in + 14, (size_t)(nl - in - 14));
        body = nl + 1;
        len = size - (size_t)(body - in);
    }
    tdrv_digest_buf(TDRV_SHA256, body, len, sha);
    tdrv_digest_buf(TDRV_SHA256, "fuzz", 4, wrong);

    rc = parse(&m, ctype, body, len, NULL, NULL, -1, &err);
    if (rc < 0) {
        FUZZ_ASSERT(rc == -1, "rc %d", rc);
        check_refusal(&err, "by tag");
        FUZZ_ASSERT(strcmp(err.word, "digest_mismatch"), "by tag: %s", err.msg);
    } else {
        FUZZ_ASSERT(err.code == 0, "error set on success: %s", err.msg);
        FUZZ_ASSERT(cJSON_IsObject(m.json), "not an object");
        FUZZ_ASSERT(m.media_type[0], "no media type");
        FUZZ_ASSERT(!strcmp(m.digest, sha), "digest %s, not %s", m.digest, sha);
    }

    /* asked by its digest, or with the registry's Docker-Content-Digest: the same answer */
    {
        struct tdrv_err e = {0};
        int r2 = parse(&again, ctype, body, len, NULL, sha, (int64_t)len, &e);

        FUZZ_ASSERT(r2 == rc, "by digest: rc %d, by tag %d: %s", r2, rc, e.msg);
        FUZZ_ASSERT(rc < 0 || !strcmp(again.media_type, m.media_type), "by digest: %s, not %s",
                    again.media_type, m.media_type);
        tdrv_manifest_release(&again);
        tdrv_err_clear(&e);
        r2 = parse(&again, ctype, body, len, sha, NULL, -1, &e);
        FUZZ_ASSERT(r2 == rc, "with header digest: rc %d, by tag %d: %s", r2, rc, e.msg);
        tdrv_manifest_release(&again);
        tdrv_err_clear(&e);
        r2 = parse(&again, ctype, body, len, NULL, wrong, -1, &e);
        FUZZ_ASSERT(r2 == -1 && !strcmp(e.word, "digest_mismatch"), "wrong digest: rc %d %s", r2,
                    e.word);
        tdrv_manifest_release(&again);
        tdrv_err_clear(&e);
        r2 = parse(&again, ctype, body, len, NULL, sha, (int64_t)len + 1, &e);
        FUZZ_ASSERT(r2 == -1 && !strcmp(e.word, "digest_mismatch"), "wrong size: rc %d %s", r2,
                    e.word);
        tdrv_manifest_release(&again);
        tdrv_err_clear(&e);
        r2 = parse(&again, ctype, body, len, wrong, NULL, -1, &e);
        FUZZ_ASSERT(r2 == -1 && !strcmp(e.word, "digest_mismatch"), "wrong header: rc %d %s", r2,
                    e.word);
    }
    if (rc < 0)
        return 0;
    if (!strcmp(m.media_type, MT_OCI_INDEX) || !strcmp(m.media_type, MT_DOCKER_LIST))
        index_checks(&m);
    else
        image_checks(&m);
    return 0;
}
