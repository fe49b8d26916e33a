/* ${...} interpolation, as Nomad's client/taskenv resolves it. */
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "json.h"
#include "tap.h"

void test_interp(void);

static const char ctx_json[] =
    "{\"env\":{\"NOMAD_PORT_http\":\"8080\",\"MY_ENV\":\"hello\",\"EMPTY\":\"\","
    "\"X.Y\":\"dotted\",\"RAW\":\"${MY_ENV}\",\"NOMAD_META_team\":\"infra\"},"
    "\"meta\":{\"foo\":\"bar\"},"
    "\"node\":{\"datacenter\":\"dc1\",\"unique.name\":\"host-1\","
    "\"unique.id\":\"4f2c9a10-5e7b-4c1d-9a55-0b2f6f3c9a10\",\"region\":\"global\","
    "\"class\":\"batch\"},"
    "\"attrs\":{\"kernel.name\":\"linux\",\"driver.docker.version\":\"24.0.7\","
    "\"cpu.numcores\":4,\"bool\":true,\"frac\":2.5,\"tenth\":0.1,\"third\":0.3333333333333333,"
    "\"obj\":{},\"null\":null}}";

static const struct {
    const char *in;
    const char *out;
} cases[] = {
    {"", ""},
    {"plain", "plain"},
    {"${NOMAD_PORT_http}", "8080"},
    {"--port=${NOMAD_PORT_http}", "--port=8080"},
    {"${NOMAD_PORT_http}${NOMAD_PORT_http}", "80808080"},
    {"${MY_ENV}-${MY_ENV}", "hello-hello"},
    {"${NOMAD_META_team}", "infra"},
    {"${X.Y}", "dotted"},
    {"${env[\"MY_ENV\"]}", "hello"},
    {"a${env[\"X.Y\"]}b", "adottedb"},
    {"${env[\"NOPE\"]}", "${env[\"NOPE\"]}"},
    {"${env[\"\"]}", "${env[\"\"]}"},
    {"${env[MY_ENV]}", "${env[MY_ENV]}"},
    {"${env[\"MY_ENV\"]", "${env[\"MY_ENV\"]"},
    {"${meta.foo}", "bar"},
    {"${node.datacenter}", "dc1"},
    {"${node.unique.name}", "host-1"},
    {"${node.unique.id}", "4f2c9a10-5e7b-4c1d-9a55-0b2f6f3c9a10"},
    {"${node.region}", "global"},
    {"${node.class}", "batch"},
    {"${attr.kernel.name}", "linux"},
    {"docker ${attr.driver.docker.version}", "docker 24.0.7"},
    {"${attr.cpu.numcores}", "4"},
    {"${attr.bool}", "true"},
    {"${attr.frac}", "2.5"},
    {"${attr.tenth}", "0.1"},
    {"${attr.third}", "0.33333333333333331"},
    {"${attr.obj}", "${attr.obj}"},
    {"${attr.null}", "${attr.null}"},
    {"${NOPE}", "${NOPE}"},
    {"x${NOPE}y${MY_ENV}", "x${NOPE}yhello"},
    {"${meta.nope}", "${meta.nope}"},
    {"${node.nope}", "${node.nope}"},
    {"${attr.nope}", "${attr.nope}"},
    {"${node}", "${node}"},
    {"${meta.}", "${meta.}"},
    {"${EMPTY}", ""},
    {"a${EMPTY}b", "ab"},
    {"${RAW}", "${MY_ENV}"}, /* values are not interpolated again */
    {"${", "${"},
    {"abc${", "abc${"},
    {"$", "$"},
    {"${MY_ENV", "${MY_ENV"},
    {"${MY_ENV ${MY_ENV}", "${MY_ENV hello"},
    {"${}", "${}"},
    {"${MY ENV}", "${MY ENV}"},
    {"${a${MY_ENV}}", "${ahello}"},
    {"$${MY_ENV}", "$hello"},
    {"$MY_ENV", "$MY_ENV"},
    {"{MY_ENV}", "{MY_ENV}"},
    {"h\xc3\xa9llo ${MY_ENV}", "h\xc3\xa9llo hello"},
};

static void big_inputs(const struct tdrv_interp *base)
{
    const size_t mib = 1024 * 1024;
    cleanup_json cJSON *env = tdrv_json_xobj();
    cleanup_json cJSON *doc = tdrv_json_xarr();
    struct tdrv_interp ctx = *base;
    struct tdrv_err err = {0};
    char sixteen[16 * 6 + 1] = "";
    char seventeen[17 * 6 + 1] = "";
    char *big = malloc(mib + 1);
    char *s;

    memset(big, 'x', mib);
    big[mib] = '\0';
    tdrv_json_add_str(env, "BIG", big);
    free(big);
    ctx.env = env;
    for (int i = 0; i < 16; i++)
        memcpy(sixteen + 6 * i, "${BIG}", 7);
    memcpy(seventeen, sixteen, sizeof(sixteen));
    memcpy(seventeen + 16 * 6, "${BIG}", 7);

    s = tdrv_interp_str(&ctx, sixteen, &err);
    ok(s && strlen(s) == 16 * mib, "interp: a 16 MiB result is allowed (%s)", err.msg);
    free(s);
    s = tdrv_interp_str(&ctx, seventeen, &err);
    ok(s == NULL, "interp: a result past 16 MiB is refused");
    CHECK_INT(err.code, 65, "interp: too long is exit 65");
    CHECK_STR(err.word, "too_large", "interp: too long code");
    CHECK_STR(err.msg, "unable to interpolate string: more than 16777216 bytes",
              "interp: too long message");
    free(s);

    tdrv_err_clear(&err);
    {
        cleanup_json cJSON *task = tdrv_json_xobj();
        cJSON *config = tdrv_json_xobj();
        cJSON *args = tdrv_json_xarr();

        tdrv_json_add(task, "config", config);
        tdrv_json_add(config, "args", args);
        tdrv_json_append(args, tdrv_json_xstr("ok"));
        tdrv_json_append(args, tdrv_json_xstr(seventeen));
        CHECK_INT(tdrv_interp_json(&ctx, task, &err), -1, "interp json: a long string fails");
        CHECK_INT(err.code, 65, "interp json: long string exit code");
        CHECK_STR(err.msg, "unable to interpolate 'config.args[1]': more than 16777216 bytes",
                  "interp json: long string message names its path");
    }

    tdrv_err_clear(&err);
    tdrv_json_append(doc, tdrv_json_xstr("ok"));
    for (int i = 0; i < 5; i++)
        tdrv_json_append(doc, tdrv_json_xstr(sixteen));
    CHECK_INT(tdrv_interp_json(&ctx, doc, &err), -1, "interp json: a document past 64 MiB fails");
    CHECK_INT(err.code, 65, "interp json: document budget exit code");
    CHECK_STR(err.word, "too_large", "interp json: document budget code");
    CHECK_STR(err.msg,
              "unable to interpolate '[5]': the document's strings grow past 67108864 bytes",
              "interp json: document budget message");
}

void test_interp(void)
{
    struct tdrv_err err = {0};
    cleanup_json cJSON *c = NULL;
    struct tdrv_interp ctx = {0};
    struct tdrv_interp none = {0};

    ok(tdrv_json_parse(ctx_json, strlen(ctx_json), &c, &err) == 0, "interp context parses (%s)",
       err.msg);
    ctx.env = cJSON_GetObjectItem(c, "env");
    ctx.meta = cJSON_GetObjectItem(c, "meta");
    ctx.node = cJSON_GetObjectItem(c, "node");
    ctx.attrs = cJSON_GetObjectItem(c, "attrs");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = tdrv_interp_str(&ctx, cases[i].in, &err);

        CHECK_STR(s, cases[i].out, "interp '%s'", cases[i].in);
        free(s);
    }

    {
        char *s = tdrv_interp_str(&none, "${MY_ENV} ${node.region} ${attr.x} ${meta.foo}", &err);

        CHECK_STR(s, "${MY_ENV} ${node.region} ${attr.x} ${meta.foo}",
                  "interp with an empty context leaves every reference");
        free(s);
    }

    {
        static const char env_first[] = "{\"node.datacenter\":\"from-env\"}";
        cleanup_json cJSON *env = NULL;
        struct tdrv_interp shadow = ctx;
        char *s;

        ok(tdrv_json_parse(env_first, strlen(env_first), &env, &err) == 0, "env_first parses");
        shadow.env = env;
        s = tdrv_interp_str(&shadow, "${node.datacenter}/${node.region}", &err);
        CHECK_STR(s, "from-env/global", "interp searches the env before node values");
        free(s);
    }

    {
        static const char in[] =
            "{\"args\":[\"--port\",\"${NOMAD_PORT_http}\",\"${NOPE}\"],\"n\":5,\"t\":true,"
            "\"env\":{\"A\":\"${meta.foo}\",\"${MY_ENV}\":\"key stays\"},"
            "\"nested\":[[{\"x\":\"${node.region}\"}]],\"s\":\"${attr.kernel.name}\","
            "\"long\":\"${MY_ENV}${MY_ENV}${MY_ENV}${MY_ENV}${MY_ENV}${MY_ENV}\",\"z\":null}";
        static const char want[] = "{\"args\":[\"--port\",\"8080\",\"${NOPE}\"],\"n\":5,\"t\":true,"
                                   "\"env\":{\"A\":\"bar\",\"${MY_ENV}\":\"key stays\"},"
                                   "\"nested\":[[{\"x\":\"global\"}]],\"s\":\"linux\","
                                   "\"long\":\"hellohellohellohellohellohello\",\"z\":null}";
        cleanup_json cJSON *doc = NULL;
        char *s;

        ok(tdrv_json_parse(in, strlen(in), &doc, &err) == 0, "interp json document parses");
        CHECK_INT(tdrv_interp_json(&ctx, doc, &err), 0, "interp json succeeds");
        s = cJSON_PrintUnformatted(doc);
        CHECK_STR(s, want, "interp json rewrites every string value");
        cJSON_free(s);
    }

    {
        cleanup_json cJSON *str = tdrv_json_xstr("${MY_ENV}!");
        cleanup_json cJSON *num = tdrv_json_xnum(3);

        CHECK_INT(tdrv_interp_json(&ctx, str, &err), 0, "interp json on a bare string");
        CHECK_STR(cJSON_GetStringValue(str), "hello!", "interp json bare string value");
        CHECK_INT(tdrv_interp_json(&ctx, num, &err), 0, "interp json on a number is a no-op");
    }

    big_inputs(&ctx);
}
