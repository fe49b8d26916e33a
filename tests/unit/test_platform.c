/* Platform parsing, normalization, fallback ranks and index selection (containerd/platforms). */
#include <string.h>

#include "json.h"
#include "mem.h"
#include "platform.h"
#include "tap.h"

void test_platform(void);

static const struct {
    const char *in;
    const char *want; /* normalized, or the error message */
    int code;
} parse_cases[] = {
    {"linux/amd64", "linux/amd64", 0},
    {"linux/x86_64", "linux/amd64", 0},
    {"Linux/X86-64/v1", "linux/amd64", 0},
    {"linux/amd64/v3", "linux/amd64/v3", 0},
    {"linux/aarch64", "linux/arm64", 0},
    {"linux/arm64/v8", "linux/arm64", 0},
    {"linux/arm64/8", "linux/arm64", 0},
    {"linux/arm64/9.0", "linux/arm64/v9", 0},
    {"linux/armhf", "linux/arm/v7", 0},
    {"linux/armel", "linux/arm/v6", 0},
    {"linux/arm", "linux/arm/v7", 0},
    {"linux/arm/5", "linux/arm/v5", 0},
    {"linux/i386", "linux/386", 0},
    {"macos/arm64", "darwin/arm64", 0},
    {"", "invalid platform '' (expected os/arch[/variant])", 65},
    {"linux/", "invalid platform 'linux/' (expected os/arch[/variant])", 65},
    {"/amd64", "invalid platform '/amd64' (expected os/arch[/variant])", 65},
    {"linux/amd64/v2/x", "invalid platform 'linux/amd64/v2/x' (expected os/arch[/variant])", 65},
    {"linux/am d64", "invalid platform 'linux/am d64' (expected os/arch[/variant])", 65},
    {"linux/averyveryverylongarchitecturename", NULL, 65},
};

static const struct {
    const char *want;
    const char *cand;
    int rank;
} rank_cases[] = {
    {"linux/amd64", "linux/amd64", 0},     {"linux/amd64", "linux/386", 2},
    {"linux/amd64", "linux/amd64/v2", -1}, {"linux/amd64/v3", "linux/amd64/v2", 2},
    {"linux/amd64/v3", "linux/amd64", 3},  {"linux/amd64/v3", "linux/386", 4},
    {"linux/arm64", "linux/arm64", 0},     {"linux/arm64", "linux/arm/v7", 3},
    {"linux/arm64", "linux/arm/v8", 2},    {"linux/arm/v7", "linux/arm/v6", 2},
    {"linux/arm/v6", "linux/arm/v7", -1},  {"linux/amd64", "windows/amd64", -1},
    {"linux/amd64", "linux/arm64", -1},    {"linux/s390x", "linux/s390x", 0},
};

static const char index_json[] =
    "{\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"a\","
    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"b\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"386\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"c\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"d\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"e\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"application/x-unknown\",\"digest\":\"f\","
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"ppc64le\"}},"
    "{\"digest\":\"g\",\"platform\":{\"os\":\"linux\",\"architecture\":\"riscv64\"}},"
    "{\"digest\":\"h\",\"platform\":\"bogus\"},"
    "\"junk\""
    "]}";

static const struct {
    const char *want;
    const char *digest; /* NULL: none */
} select_cases[] = {
    {"linux/amd64", "c"},    /* exact beats 386; first of two equals */
    {"linux/arm/v7", "d"},   /* fallback to v6 */
    {"linux/arm64", "d"},    /* arm64 falls back to arm */
    {"linux/riscv64", "g"},  /* no mediaType: a manifest */
    {"linux/ppc64le", NULL}, /* unknown media type skipped */
    {"windows/amd64", NULL},
};

void test_platform(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(parse_cases); i++) {
        struct tdrv_platform p;
        struct tdrv_err err = {0};
        char buf[96];
        int rc = tdrv_platform_parse(parse_cases[i].in, &p, &err);
        if (parse_cases[i].code == 0) {
            CHECK_INT(rc, 0, "platform parse '%s' ok", parse_cases[i].in);
            CHECK_STR(tdrv_platform_str(&p, buf, sizeof(buf)), parse_cases[i].want,
                      "platform parse '%s' normalized", parse_cases[i].in);
        } else {
            CHECK_INT(err.code, parse_cases[i].code, "platform parse '%s' fails",
                      parse_cases[i].in);
            if (parse_cases[i].want)
                CHECK_STR(err.msg, parse_cases[i].want, "platform parse '%s' message",
                          parse_cases[i].in);
        }
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(rank_cases); i++) {
        struct tdrv_platform w;
        struct tdrv_platform c;
        struct tdrv_err err = {0};
        tdrv_platform_parse(rank_cases[i].want, &w, &err);
        tdrv_platform_parse(rank_cases[i].cand, &c, &err);
        CHECK_INT(tdrv_platform_rank(&w, &c, 0), rank_cases[i].rank, "rank %s for %s",
                  rank_cases[i].cand, rank_cases[i].want);
    }
    {
        struct tdrv_platform w;
        struct tdrv_platform c;
        struct tdrv_err err = {0};
        tdrv_platform_parse("linux/amd64", &w, &err);
        tdrv_platform_parse("linux/386", &c, &err);
        CHECK_INT(tdrv_platform_rank(&w, &c, 1), -1, "strict: no fallback");
    }
    {
        cJSON *idx = NULL;
        struct tdrv_err err = {0};
        ok(tdrv_json_parse(index_json, strlen(index_json), &idx, &err) == 0, "index parses");
        for (size_t i = 0; i < TDRV_ARRAY_LEN(select_cases); i++) {
            struct tdrv_platform w;
            const cJSON *d;
            tdrv_err_clear(&err);
            tdrv_platform_parse(select_cases[i].want, &w, &err);
            d = tdrv_platform_select(idx, &w, 0, &err);
            if (select_cases[i].digest) {
                const cJSON *dg = cJSON_GetObjectItemCaseSensitive(d, "digest");
                CHECK_STR(cJSON_IsString(dg) ? dg->valuestring : NULL, select_cases[i].digest,
                          "select %s", select_cases[i].want);
            } else {
                ok(d == NULL && err.code == 66 && !strcmp(err.word, "image_not_found"),
                   "select %s: none (66)", select_cases[i].want);
            }
        }
        tdrv_err_clear(&err);
        {
            struct tdrv_platform w;
            tdrv_platform_parse("windows/arm64", &w, &err);
            tdrv_platform_select(idx, &w, 0, &err);
            CHECK_STR(err.msg,
                      "no manifest for platform 'windows/arm64' in the image index (it offers: "
                      "linux/386, linux/amd64, linux/arm/v6, linux/amd64, "
                      "linux/riscv64)",
                      "select: the message lists the platforms on offer");
        }
        cJSON_Delete(idx);
    }
}
