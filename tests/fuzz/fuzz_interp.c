/*
 * Interpolation (tdrv_interp_str, tdrv_interp_json) over a fixed context. Invariants:
 * the result is a string; text without "${" comes back unchanged; with an empty context
 * every string comes back unchanged (unresolved references stay as written); the same
 * string interpolated inside a JSON document gives the same result as on its own.
 */
#include "fuzz.h"

#include "interp.h"
#include "json.h"
#include "mem.h"

static const char ctx_json[] =
    "{\"env\":{\"NOMAD_PORT_http\":\"8080\",\"MY_ENV\":\"hello\",\"EMPTY\":\"\","
    "\"X.Y\":\"dotted\",\"RAW\":\"${MY_ENV}\",\"NOMAD_META_team\":\"infra\",\"D\":\"$\","
    "\"O\":\"${\",\"C\":\"}\"},"
    "\"meta\":{\"foo\":\"bar\"},"
    "\"node\":{\"datacenter\":\"dc1\",\"unique.name\":\"host-1\","
    "\"unique.id\":\"4f2c9a10-5e7b-4c1d-9a55-0b2f6f3c9a10\",\"region\":\"global\","
    "\"class\":\"batch\"},"
    "\"attrs\":{\"kernel.name\":\"linux\",\"driver.docker.version\":\"24.0.7\","
    "\"cpu.numcores\":4,\"bool\":true,\"frac\":2.5,\"tenth\":0.1,\"third\":0.3333333333333333,"
    "\"big\":1e300,\"neg\":-0.0,\"obj\":{},\"null\":null}}";

static cJSON *ctx_doc;
static struct tdrv_interp ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct tdrv_err err = {0};

    (void)argc;
    (void)argv;
    if (tdrv_json_parse(ctx_json, strlen(ctx_json), &ctx_doc, &err) < 0) {
        fprintf(stderr, "fuzz_interp: context: %s\n", err.msg);
        abort();
    }
    ctx.env = cJSON_GetObjectItem(ctx_doc, "env");
    ctx.meta = cJSON_GetObjectItem(ctx_doc, "meta");
    ctx.node = cJSON_GetObjectItem(ctx_doc, "node");
    ctx.attrs = cJSON_GetObjectItem(ctx_doc, "attrs");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tdrv_interp none = {0};
    cleanup_free char *in = fuzz_cstr(data, size);
    cleanup_free char *out = NULL;
    cleanup_free char *same = NULL;
    cleanup_json cJSON *doc = tdrv_json_xarr();
    cJSON *obj = tdrv_json_xobj();
    struct tdrv_err err = {0};
    const char *a;
    const char *b;

    out = tdrv_interp_str(&ctx, in, &err);
    FUZZ_ASSERT(out != NULL, "'%s': %s", in, err.msg);
    FUZZ_ASSERT(err.code == 0, "'%s': error set on success", in);
    if (!strstr(in, "${"))
        FUZZ_ASSERT(!strcmp(out, in), "'%s' without a reference became '%s'", in, out);

    same = tdrv_interp_str(&none, in, &err);
    FUZZ_ASSERT(same && !strcmp(same, in), "'%s' with no context became '%s'", in,
                same ? same : "(null)");

    /* ["in", {"in": "in"}]: the value is rewritten, the key is not. */
    tdrv_json_append(doc, tdrv_json_xstr(in));
    tdrv_json_append(doc, obj);
    tdrv_json_add_str(obj, in, in);
    FUZZ_ASSERT(tdrv_interp_json(&ctx, doc, &err) == 0, "'%s': %s", in, err.msg);
    a = cJSON_GetStringValue(cJSON_GetArrayItem(doc, 0));
    b = cJSON_GetStringValue(obj->child);
    FUZZ_ASSERT(a && !strcmp(a, out), "'%s': in a document '%s', alone '%s'", in, a, out);
    FUZZ_ASSERT(b && !strcmp(b, out), "'%s': as a value '%s', alone '%s'", in, b, out);
    FUZZ_ASSERT(obj->child->string && !strcmp(obj->child->string, in), "'%s': key rewritten", in);
    return 0;
}
