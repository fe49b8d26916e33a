/* Registry manifests on memory: tdrv_manifest_parse, tdrv_manifest_pick, tdrv_desc_size,
 * tdrv_pull_manifest_config and tdrv_pull_manifest_layers (malformed input included). */
#include <string.h>

#include "digest.h"
#include "json.h"
#include "mem.h"
#include "platform.h"
#include "pull.h"
#include "registry.h"
#include "tap.h"

void test_registry(void);

#define D1 "sha256:0000000000000000000000000000000000000000000000000000000000000001"
#define D2 "sha256:0000000000000000000000000000000000000000000000000000000000000002"
#define MT_OCI "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER "application/vnd.docker.distribution.manifest.v2+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"

static int parse(struct tdrv_manifest *m, const char *ctype, const char *body, const char *hdr,
                 const char *want, int64_t want_size, struct tdrv_err *err)
{
    memset(m, 0, sizeof(*m));
    tdrv_buf_init(&m->body, TDRV_MAX_MANIFEST);
    if (tdrv_buf_addstr(&m->body, body, err) < 0)
        return -1;
    return tdrv_manifest_parse(m, "ref", ctype, hdr, want, want_size, err);
}

static const struct {
    const char *ctype;
    const char *body;
    const char *media_type; /* or the error message */
    const char *word;       /* NULL: parses */
} parse_cases[] = {
    {MT_DOCKER "; charset=utf-8", "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER "\"}",
     MT_DOCKER, NULL},
    {"", "{\"schemaVersion\":2,\"layers\":[]}", MT_OCI, NULL},
    {"application/json", "{\"schemaVersion\":2,\"manifests\":[]}", MT_INDEX, NULL},
    {"application/octet-stream", "{\"mediaType\":\"" MT_INDEX "\"}", MT_INDEX, NULL},
    {MT_OCI, "{\"schemaVersion\":2}", MT_OCI, NULL},
    {MT_OCI, "{\"mediaType\":\"" MT_DOCKER "\"}",
     "manifest 'ref': mediaType 'application/vnd.docker.distribution.manifest.v2+json' differs "
     "from Content-Type 'application/vnd.oci.image.manifest.v1+json'",
     "protocol_error"},
    {"application/vnd.docker.distribution.manifest.v1+prettyjws", "{}",
     "'ref' has a Docker schema 1 manifest, which is not supported", "unsupported_manifest"},
    {"", "{\"schemaVersion\":1,\"fsLayers\":[]}",
     "'ref' has a Docker schema 1 manifest, which is not supported", "unsupported_manifest"},
    {MT_OCI, "[]", "manifest 'ref' is not a JSON object", "protocol_error"},
    {MT_OCI, "{", "manifest 'ref' is not a JSON object", "protocol_error"},
};

static const struct {
    const char *index;
    const char *want;
    int strict;
    const char *digest; /* or the error message */
    int64_t size;
} pick_cases[] = {
    {"{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":7,\"platform\":{\"os\":\"linux\","
     "\"architecture\":\"amd64\"}},{\"digest\":\"" D2 "\",\"size\":9,\"platform\":{\"os\":"
     "\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}",
     "linux/arm64", 0, D2, 9},
    {"{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":7,\"platform\":{\"os\":\"linux\","
     "\"architecture\":\"amd64\"}}]}",
     "linux/arm64", 0,
     "no manifest for platform 'linux/arm64' in the image index (it offers: linux/amd64)", -1},
    /* found by fuzz_manifest: a size that no int64_t holds was cast (UBSan) */
    {"{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1e300,\"platform\":{\"os\":\"linux\","
     "\"architecture\":\"amd64\"}}]}",
     "linux/amd64", 0, "image index 'ref': an entry has no valid digest and size", -1},
    {"{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1.5,\"platform\":{\"os\":\"linux\","
     "\"architecture\":\"amd64\"}}]}",
     "linux/amd64", 0, "image index 'ref': an entry has no valid digest and size", -1},
    {"{\"manifests\":[{\"digest\":\"sha256:abc\",\"size\":1,\"platform\":{\"os\":\"linux\","
     "\"architecture\":\"amd64\"}}]}",
     "linux/amd64", 0, "image index 'ref': an entry has no valid digest and size", -1},
    {"{\"manifests\":[{\"digest\":\"" D1 "\",\"size\":9223372036854775807,\"platform\":{\"os\":"
     "\"linux\",\"architecture\":\"amd64\"}}]}",
     "linux/amd64", 0, "image index 'ref': an entry has no valid digest and size", -1},
};

static const struct {
    const char *manifest;
    const char *config;
    const char *msg; /* NULL: accepted */
} layer_cases[] = {
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":10},\"layers\":[{\"digest\":\"" D2
     "\",\"size\":5}]}",
     "{\"rootfs\":{\"diff_ids\":[\"" D2 "\"]}}", NULL},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":10},\"layers\":[]}",
     "{\"rootfs\":{\"diff_ids\":[]}}", NULL},
    /* found by fuzz_manifest: 3.5e20 was cast to int64_t (UBSan) */
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":10},\"layers\":[{\"digest\":\"" D2
     "\",\"size\":3.5e20}]}",
     "{\"rootfs\":{\"diff_ids\":[\"" D2 "\"]}}",
     "manifest sha256:m: layer 0 has no valid digest, size or diff_id"},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":10},\"layers\":[{\"digest\":\"" D2
     "\",\"size\":-1}]}",
     "{\"rootfs\":{\"diff_ids\":[\"" D2 "\"]}}",
     "manifest sha256:m: layer 0 has no valid digest, size or diff_id"},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":10},\"layers\":[{\"digest\":\"" D2
     "\",\"size\":5}]}",
     "{\"rootfs\":{\"diff_ids\":[]}}",
     "image config " D1 ": rootfs.diff_ids does not match the 1 layers"},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":10},\"layers\":[{\"digest\":\"" D2
     "\",\"size\":5}]}",
     "{\"rootfs\":{\"diff_ids\":[\"sha256:x\"]}}",
     "manifest sha256:m: layer 0 has no valid digest, size or diff_id"},
};

static const struct {
    const char *manifest;
    uint64_t size; /* 0 with msg: refused */
    const char *msg;
} config_cases[] = {
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":8388608},\"layers\":[]}", 8388608, NULL},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":8388609},\"layers\":[]}", 0,
     "manifest sha256:m: malformed config or layers"},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":1e300},\"layers\":[]}", 0,
     "manifest sha256:m: malformed config or layers"},
    {"{\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":{}}", 0,
     "manifest sha256:m: malformed config or layers"},
    {"{\"config\":{\"digest\":\"" D1 "\"},\"layers\":[]}", 0,
     "manifest sha256:m: malformed config or layers"},
};

static void test_parse(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(parse_cases); i++) {
        cleanup_manifest struct tdrv_manifest m = {0};
        struct tdrv_err err = {0};
        char sha[TDRV_DIGEST_MAX];
        int rc = parse(&m, parse_cases[i].ctype, parse_cases[i].body, NULL, NULL, -1, &err);

        tdrv_digest_buf(TDRV_SHA256, parse_cases[i].body, strlen(parse_cases[i].body), sha);
        if (!parse_cases[i].word) {
            CHECK_INT(rc, 0, "manifest %zu parses (%s)", i, err.msg);
            CHECK_STR(m.media_type, parse_cases[i].media_type, "manifest %zu media type", i);
            CHECK_STR(m.digest, sha, "manifest %zu digest", i);
        } else {
            CHECK_INT(err.code, 76, "manifest %zu refused", i);
            CHECK_STR(err.word, parse_cases[i].word, "manifest %zu code", i);
            CHECK_STR(err.msg, parse_cases[i].media_type, "manifest %zu message", i);
        }
    }
    {
        const char *body = "{\"schemaVersion\":2}";
        cleanup_manifest struct tdrv_manifest m = {0};
        struct tdrv_err err = {0};
        char sha[TDRV_DIGEST_MAX];

        tdrv_digest_buf(TDRV_SHA256, body, strlen(body), sha);
        CHECK_INT(parse(&m, MT_OCI, body, NULL, sha, (int64_t)strlen(body), &err), 0,
                  "manifest by its digest");
        tdrv_manifest_release(&m);
        CHECK_INT(parse(&m, MT_OCI, body, sha, NULL, -1, &err), 0, "manifest with its header");
        tdrv_manifest_release(&m);
        CHECK_INT(parse(&m, MT_OCI, body, NULL, D1, -1, &err), -1, "manifest by another digest");
        CHECK_STR(err.word, "digest_mismatch", "another digest: code");
        tdrv_manifest_release(&m);
        tdrv_err_clear(&err);
        CHECK_INT(parse(&m, MT_OCI, body, D1, NULL, -1, &err), -1, "manifest, wrong header");
        {
            cleanup_free char *want = tdrv_xasprintf(
                "manifest digest mismatch: registry says " D1 ", content is %s", sha);

            CHECK_STR(err.msg, want, "wrong header: message");
        }
        CHECK_STR(err.word, "digest_mismatch", "wrong header: code");
        tdrv_manifest_release(&m);
        tdrv_err_clear(&err);
        CHECK_INT(parse(&m, MT_OCI, body, NULL, sha, 3, &err), -1, "manifest of another size");
        CHECK_STR(err.msg, "manifest 'ref' is 19 bytes, its descriptor says 3",
                  "another size: message");
    }
}

static void test_pick(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(pick_cases); i++) {
        cleanup_manifest struct tdrv_manifest m = {0};
        struct tdrv_platform want;
        struct tdrv_err err = {0};
        const char *digest = NULL;
        int64_t size = -1;
        int rc;

        if (parse(&m, MT_INDEX, pick_cases[i].index, NULL, NULL, -1, &err) < 0 ||
            tdrv_platform_parse(pick_cases[i].want, &want, &err) < 0) {
            ok(0, "pick %zu: %s", i, err.msg);
            continue;
        }
        rc = tdrv_manifest_pick(&m, "ref", &want, pick_cases[i].strict, &digest, &size, &err);
        if (pick_cases[i].size >= 0) {
            CHECK_INT(rc, 0, "pick %zu (%s)", i, err.msg);
            CHECK_STR(digest, pick_cases[i].digest, "pick %zu digest", i);
            CHECK_INT(size, pick_cases[i].size, "pick %zu size", i);
        } else {
            CHECK_INT(rc, -1, "pick %zu refused", i);
            CHECK_STR(err.msg, pick_cases[i].digest, "pick %zu message", i);
        }
    }
}

static void set_manifest(struct tdrv_manifest *m, const char *text)
{
    struct tdrv_err err = {0};

    memset(m, 0, sizeof(*m));
    snprintf(m->digest, sizeof(m->digest), "sha256:m");
    if (tdrv_json_parse(text, strlen(text), &m->json, &err) < 0)
        ok(0, "'%s': %s", text, err.msg);
}

static void test_layers(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(config_cases); i++) {
        cleanup_manifest struct tdrv_manifest m;
        struct tdrv_err err = {0};
        const char *digest = NULL;
        uint64_t size = 0;
        int rc;

        set_manifest(&m, config_cases[i].manifest);
        rc = tdrv_pull_manifest_config(&m, &digest, &size, &err);
        if (!config_cases[i].msg) {
            CHECK_INT(rc, 0, "config %zu (%s)", i, err.msg);
            CHECK_STR(digest, D1, "config %zu digest", i);
            CHECK_INT(size, config_cases[i].size, "config %zu size", i);
        } else {
            CHECK_INT(rc, -1, "config %zu refused", i);
            CHECK_INT(err.code, 76, "config %zu exit", i);
            CHECK_STR(err.msg, config_cases[i].msg, "config %zu message", i);
        }
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(layer_cases); i++) {
        cleanup_manifest struct tdrv_manifest m;
        cleanup_json cJSON *cfg = NULL;
        cleanup_free struct tdrv_layer_desc *d = NULL;
        struct tdrv_err err = {0};
        size_t n = 0;
        int rc;

        set_manifest(&m, layer_cases[i].manifest);
        tdrv_json_parse(layer_cases[i].config, strlen(layer_cases[i].config), &cfg, &err);
        rc = tdrv_pull_manifest_layers(&m, cfg, &d, &n, &err);
        if (!layer_cases[i].msg) {
            CHECK_INT(rc, 0, "layers %zu (%s)", i, err.msg);
            if (n) {
                CHECK_STR(d[0].digest, D2, "layers %zu digest", i);
                CHECK_INT(d[0].size, 5, "layers %zu size", i);
                CHECK_STR(d[0].chain_id, D2, "layers %zu chain id", i);
            }
        } else {
            CHECK_INT(rc, -1, "layers %zu refused", i);
            CHECK_INT(err.code, 76, "layers %zu exit", i);
            CHECK_STR(err.msg, layer_cases[i].msg, "layers %zu message", i);
            ok(d == NULL, "layers %zu: nothing returned", i);
        }
    }
}

void test_registry(void)
{
    test_parse();
    test_pick();
    test_layers();
}
