/* tdrv-gc: the --live document and the test clock. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc.h"
#include "json.h"
#include "mem.h"
#include "tap.h"

void test_gc(void);

static const struct {
    const char *json;
    int code;
    int n;
    const char *msg;
} live_cases[] = {
    {"[]", 0, 0, NULL},
    {"[\"5f6c1b9e-3c1d-4d7e-9a55-0b2f6f3c9a10\", \"a_b.c\"]", 0, 2, NULL},
    {"{\"live\": [\"a\"]}", 0, 1, NULL},
    {"{\"live\": \"a\"}", 65, 0, "request.live: expected array"},
    {"{}", 65, 0, "request.live: required"},
    {"\"a\"", 65, 0, "request: expected an array of allocation ids"},
    {"[1]", 65, 0, "request: invalid allocation id in the live list"},
    {"[\"../etc\"]", 65, 0, "request: invalid allocation id in the live list"},
    {"[\".hidden\"]", 65, 0, "request: invalid allocation id in the live list"},
    {"[\"\"]", 65, 0, "request: invalid allocation id in the live list"},
};

void test_gc(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(live_cases); i++) {
        cleanup_json cJSON *doc = NULL;
        const cJSON *live = NULL;
        struct tdrv_err e = {0};
        int rc;

        if (tdrv_json_parse(live_cases[i].json, strlen(live_cases[i].json), &doc, &e) < 0) {
            ok(0, "live %zu parses", i);
            continue;
        }
        rc = tdrv_gc_live_parse(doc, &live, &e);
        CHECK_INT(rc < 0 ? e.code : 0, live_cases[i].code, "live %s: status", live_cases[i].json);
        if (live_cases[i].msg)
            CHECK_STR(e.msg, live_cases[i].msg, "live %s: message", live_cases[i].json);
        else
            CHECK_INT(cJSON_GetArraySize(live), live_cases[i].n, "live %s: count",
                      live_cases[i].json);
    }
    {
        int64_t real = (int64_t)time(NULL);
        int64_t t;

        unsetenv("TDRV_GC_NOW");
        t = tdrv_gc_now();
        ok(t >= real && t <= real + 2, "TDRV_GC_NOW unset: the real clock");
        setenv("TDRV_GC_NOW", "+6m", 1);
        t = tdrv_gc_now();
        ok(t >= real + 360 && t <= real + 362, "TDRV_GC_NOW=+6m: six minutes ahead");
        setenv("TDRV_GC_NOW", "1000", 1);
        CHECK_INT(tdrv_gc_now(), 1000, "TDRV_GC_NOW=1000: that Unix time");
        setenv("TDRV_GC_NOW", "+bogus", 1);
        t = tdrv_gc_now();
        ok(t >= real && t <= real + 2, "TDRV_GC_NOW unparsable: the real clock");
        unsetenv("TDRV_GC_NOW");
    }
}
