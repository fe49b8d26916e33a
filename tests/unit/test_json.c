/* Task document reading: JSON and YAML, with the caps and refusals of the contract. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "tap.h"

void test_json(void);

static const struct {
    const char *in;
    int code;        /* 0 = parses */
    const char *msg; /* expected error message, or the expected compact JSON */
} cases[] = {
    {"{\"a\":1}", 0, "{\"a\":1}"},
    {"  {\"a\":[1,2,{\"b\":null}]}\n", 0, "{\"a\":[1,2,{\"b\":null}]}"},
    {"{\"a\":1} x", 65, "malformed JSON at byte 8"},
    {"{\"a\":", 65, "malformed JSON at byte 5: unexpected end"},
    {"{\"a\":1,\"a\":2}", 65, "malformed JSON: duplicate key 'a'"},
    {"", 65, "empty document"},
    {"   \n", 65, "empty document"},
    {"a: 1\nb: [x, \"y\", 2.5, true, null, ~]\n", 0,
     "{\"a\":1,\"b\":[\"x\",\"y\",2.5,true,null,null]}"},
    {"a: '1'\nb: \"true\"\nc: 0x10\nd: -3\ne: 1e3\nf: 1.2.3\n", 0,
     "{\"a\":\"1\",\"b\":\"true\",\"c\":16,\"d\":-3,\"e\":1000,\"f\":\"1.2.3\"}"},
    {"a: 1\na: 2\n", 65, "malformed YAML at line 2, column 1: duplicate key 'a'"},
    {"a: &x 1\nb: *x\n", 65, "malformed YAML at line 1, column 4: anchors are not allowed"},
    {"a: *x\n", 65, "malformed YAML at line 1, column 4: aliases are not allowed"},
    {"a: [1, 2\n", 65, NULL},
    {"a: 1\n---\nb: 2\n", 65, "malformed YAML at line 2, column 1: more than one document"},
    {"? [a]\n: 1\n", 65, "malformed YAML at line 1, column 3: mapping keys must be scalars"},
    {"a:\n  <<: {b: 1}\n", 65, "malformed YAML at line 2, column 3: merge keys are not allowed"},
    {"just a string\n", 0, "\"just a string\""},
    /* \u0000 would end cJSON's C string there and drop the rest: refused, naming where */
    {"{\"a\":{\"b\":[\"x\",\"y\\u0000z\"]}}", 65,
     "malformed JSON at byte 17: NUL character (\\u0000) in the string a.b[1]"},
    {"{\"k\\u0000\":1}", 65,
     "malformed JSON at byte 3: NUL character (\\u0000) in a key of the document"},
    {"{\"a\":{\"k\":1,\"k2\\u0000\":1}}", 65,
     "malformed JSON at byte 15: NUL character (\\u0000) in a key of a"},
    {"[\"\\u0000\"]", 65, "malformed JSON at byte 2: NUL character (\\u0000) in the string [0]"},
    {"{\"a\":\"\\\\u0000\",\"b\":\"\\u0001\"}", 0, "{\"a\":\"\\\\u0000\",\"b\":\"\\u0001\"}"},
    {"a: \"x\\0y\"\n", 65, "malformed YAML at line 1, column 4: NUL byte in scalar"},
};

static void test_i64(void)
{
    static const struct {
        const char *doc;
        int rc;
        int64_t v;
    } i64_cases[] = {
        {"{\"n\":9223372036854774784}", 0, 9223372036854774784},
        /* (double)INT64_MAX is 2^63: this passed the range check, then its cast was undefined
         * (seen while fixing fuzz_manifest's layer sizes; the store reads them with this) */
        {"{\"n\":9223372036854775807}", -1, 0},
        {"{\"n\":9223372036854775808}", -1, 0},
        {"{\"n\":1e300}", -1, 0},
        {"{\"n\":-9223372036854775808}", 0, INT64_MIN},
        {"{\"n\":1.5}", -1, 0},
    };

    for (size_t i = 0; i < sizeof(i64_cases) / sizeof(i64_cases[0]); i++) {
        cJSON *d = NULL;
        struct tdrv_err err = {0};
        int64_t v = 0;
        int rc;

        tdrv_json_parse(i64_cases[i].doc, strlen(i64_cases[i].doc), &d, &err);
        rc = tdrv_json_i64(d, "n", TDRV_REQUIRED, INT64_MIN, INT64_MAX, &v, &err);
        CHECK_INT(rc, i64_cases[i].rc, "i64 '%s'", i64_cases[i].doc);
        if (rc == 0)
            CHECK_INT(v, i64_cases[i].v, "i64 '%s' value", i64_cases[i].doc);
        cJSON_Delete(d);
    }
}

void test_json(void)
{
    test_i64();
    char deep[300];
    char deepy[600];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;
        int rc = tdrv_doc_parse(cases[i].in, strlen(cases[i].in), &doc, &err);

        if (cases[i].code == 0) {
            char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;

            ok(rc == 0, "doc parse case %zu parses", i);
            CHECK_STR(s, cases[i].msg, "doc parse case %zu tree", i);
            cJSON_free(s);
        } else {
            CHECK_INT(err.code, cases[i].code, "doc parse case %zu exit code", i);
            if (cases[i].msg)
                CHECK_STR(err.msg, cases[i].msg, "doc parse case %zu message", i);
            else
                ok(strncmp(err.msg, "malformed YAML at line ", 23) == 0,
                   "doc parse case %zu message gives the line (%s)", i, err.msg);
        }
        cJSON_Delete(doc);
    }

    for (n = 0; n < 100; n++)
        deep[n] = '[';
    deep[n] = '\0';
    {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;

        ok(tdrv_doc_parse(deep, n, &doc, &err) < 0 && err.code == 65, "deep JSON refused");
        CHECK_STR(err.msg, "malformed JSON at byte 64: nested deeper than 64 levels",
                  "deep JSON message");
        cJSON_Delete(doc);
    }
    n = 0;
    memcpy(deepy, "a: ", 3);
    n = 3;
    for (int i = 0; i < 100; i++)
        deepy[n++] = '[';
    deepy[n] = '\0';
    {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;

        ok(tdrv_doc_parse(deepy, n, &doc, &err) < 0 && err.code == 65, "deep YAML refused (%s)",
           err.msg);
        cJSON_Delete(doc);
    }
    {
        /* a big object: its duplicate key is found (sorted, not n^2), at any position */
        struct tdrv_buf b;
        struct tdrv_err err = {0};
        cJSON *doc = NULL;

        tdrv_buf_init(&b, 1u << 24);
        tdrv_buf_addstr(&b, "{", &err);
        for (int i = 0; i < 20000; i++) {
            char kv[64];

            snprintf(kv, sizeof(kv), "\"k%d\":%d,", i, i);
            tdrv_buf_addstr(&b, kv, &err);
        }
        tdrv_buf_addstr(&b, "\"k7\":0}", &err);
        ok(tdrv_json_parse(b.data, b.len, &doc, &err) < 0 && err.code == 65,
           "a duplicate key among 20001 is refused");
        CHECK_STR(err.msg, "malformed JSON: duplicate key 'k7'", "... and named");
        cJSON_Delete(doc);
        doc = NULL;
        b.len -= 9; /* drop ,"k7":0} */
        tdrv_buf_addstr(&b, "}", &err);
        ok(tdrv_json_parse(b.data, b.len, &doc, &err) == 0 && cJSON_GetArraySize(doc) == 20000,
           "20000 distinct keys parse");
        cJSON_Delete(doc);
        tdrv_buf_release(&b);
    }
    {
        /* integers: 2^63 does not fit an int64_t (converting it would be undefined) */
        static const struct {
            const char *in;
            int rc;
            int64_t want;
        } ints[] = {
            {"{\"n\":9223372036854775807}", -1, 0}, /* a double: 2^63 */
            {"{\"n\":9223372036854775808}", -1, 0},
            {"{\"n\":1e20}", -1, 0},
            {"{\"n\":-9223372036854775808}", 0, INT64_MIN},
            {"{\"n\":-1e300}", -1, 0},
            {"{\"n\":9007199254740992}", 0, 9007199254740992LL},
        };

        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
            struct tdrv_err err = {0};
            cJSON *doc = NULL;
            int64_t v = 0;
            int rc;

            tdrv_json_parse(ints[i].in, strlen(ints[i].in), &doc, &err);
            rc = tdrv_json_i64(doc, "n", TDRV_REQUIRED, INT64_MIN, INT64_MAX, &v, &err);
            CHECK_INT(rc, ints[i].rc, "json_i64 %s", ints[i].in);
            if (rc == 0)
                ok(v == ints[i].want, "json_i64 %s value", ints[i].in);
            else
                ok(err.code == 65 && strstr(err.msg, "request.n: ") == err.msg, "json_i64 %s: %s",
                   ints[i].in, err.msg);
            cJSON_Delete(doc);
        }
    }
}
