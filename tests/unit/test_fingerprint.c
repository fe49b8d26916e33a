/* fingerprint.c: version comparison, version constraints, --check expressions. */
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "json.h"
#include "mem.h"
#include "tap.h"

void test_fingerprint(void);

static void test_versions(void)
{
    static const struct {
        const char *a;
        const char *b;
        int want; /* -1, 0, 1, or 9 for "does not parse" */
    } cases[] = {
        {"1.27.0", "1.27.0", 0},
        {"1.27", "1.27.0", 0},
        {"1.25.0", "1.27.0", -1},
        {"1.30.0", "1.27.0", 1},
        {"1.100", "1.27", 1},
        {"v2.0", "1.99", 1},
        {"20.10.24+dfsg1", "20.10.24", 0},
        {"1.0.0-rc1", "1.0.0", -1},
        {"1.0.0-rc2", "1.0.0-rc1", 1},
        {"1.6.20~ds1", "1.6.20", -1},
        {"", "1.0", 9},
        {"1..2", "1.0", 9},
        {"abc", "1.0", 9},
        {"1.0+", "1.0", 9},
        /* Found by fuzz_constraint: a trailing '\r' (or '\v', '\f') stayed in the
         * pre-release, so "6~\r" differed from "6~" though "= 6~\r" held for "6~". */
        {"6~\r", "6~", 0},
        {"1.0.0-rc1\r\n", "1.0.0-rc1", 0},
        {"1.0.0+dfsg1\f", "1.0.0", 0},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        int cmp = 0;
        int rc = tdrv_version_cmp(cases[i].a, cases[i].b, &cmp);

        CHECK_INT(rc < 0 ? 9 : cmp, cases[i].want, "version: cmp '%s' '%s'", cases[i].a,
                  cases[i].b);
    }
}

static void test_rkt(void)
{
    static const struct {
        const char *out;
        const char *rkt; /* NULL: not found */
        const char *appc;
    } cases[] = {
        {"rkt Version: 1.30.0\nappc Version: 0.8.11\nGo Version: go1.10.3\n"
         "Go OS/Arch: linux/amd64\nFeatures: -TPM +SDJOURNAL\n",
         "1.30.0", "0.8.11"},
        {"rkt version 1.27.0\nappc version 0.8.10\n", "1.27.0", "0.8.10"},
        {"rkt Version: 1.30.0+git4a5b6c\nappc Version: 0.8.11-alpha\n", "1.30.0", "0.8.11"},
        {"appc Version: 0.8.11\nrkt Version: 1.30.0\n", "1.30.0", "0.8.11"},
        {"rkt Version: 1.30.0\n", NULL, NULL},
        {"appc Version: 0.8.11\n", NULL, NULL},
        {"", NULL, NULL},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        char *rkt = NULL;
        char *appc = NULL;
        int rc = tdrv_fp_rkt_versions(cases[i].out, &rkt, &appc);

        CHECK_INT(rc, cases[i].rkt ? 0 : -1, "rkt version %zu", i);
        CHECK_STR(rkt, cases[i].rkt, "rkt version %zu: rkt", i);
        CHECK_STR(appc, cases[i].appc, "rkt version %zu: appc", i);
        free(rkt);
        free(appc);
    }
}

static void test_constraints(void)
{
    static const struct {
        const char *version;
        const char *constraints;
        int want; /* 1, 0, -1 (65) */
    } cases[] = {
        {"1.30.0", ">= 1.27.0", 1},
        {"1.25.0", ">= 1.27.0", 0},
        {"1.30.0", ">= 1.27.0, < 2.0", 1},
        {"2.0.0", ">= 1.27.0, < 2.0", 0},
        {"1.30.0", "= 1.30", 1},
        {"1.30.0", "1.30.0", 1},
        {"1.30.0", "!= 1.30.0", 0},
        {"1.4.7", "~> 1.4", 1},
        {"2.0.0", "~> 1.4", 0},
        {"1.4.7", "~> 1.4.3", 1},
        {"1.5.0", "~> 1.4.3", 0},
        {"1.4.2", "~> 1.4.3", 0},
        {"junk", ">= 1.0", 0},
        {"1.0", ">= x", -1},
        {"1.0", "", -1},
        {"1.0", ">=", -1},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        struct tdrv_err err = {0};
        int r = tdrv_version_check(cases[i].version, cases[i].constraints, &err);

        CHECK_INT(r, cases[i].want, "version: '%s' against '%s'", cases[i].version,
                  cases[i].constraints);
        if (r < 0)
            CHECK_INT(err.code, 65, "version: bad constraint '%s' is 65", cases[i].constraints);
    }
}

static void test_checks(void)
{
    static const char doc_text[] =
        "{\"attributes\":{\"kernel.name\":\"linux\",\"cpu.numcores\":\"8\","
        "\"cpu.frequency\":\"2596.5\",\"driver.docker.version\":\"20.10.24+dfsg1\","
        "\"node.datacenter\":\"dc1\",\"meta.roles\":\"web, cache\",\"os.name\":\"debian\"},"
        "\"drivers\":{}}";
    static const struct {
        const char *expr;
        int want;        /* 1 holds, 0 not, -1 error */
        const char *msg; /* error or "why" message, NULL to skip */
    } cases[] = {
        {"${attr.kernel.name} = linux", 1, NULL},
        {"${kernel.name} == linux", 1, NULL},
        {"${attr.kernel.name} is linux", 1, NULL},
        {"${attr.kernel.name} != linux", 0,
         "constraint '${attr.kernel.name} != linux' does not hold (attr.kernel.name is 'linux')"},
        {"  ${attr.kernel.name}=linux  ", 1, NULL},
        {"${attr.cpu.numcores} > 10", 0, NULL}, /* numbers, not strings ("8" > "10") */
        {"${attr.cpu.numcores} >= 8", 1, NULL},
        {"${attr.cpu.numcores} < 10", 1, NULL},
        {"${attr.cpu.numcores} <= 7", 0, NULL},
        {"${attr.cpu.frequency} > 2596.4", 1, NULL},
        {"${driver.docker.version} >= 20.10", 1, NULL}, /* lexical, as Nomad */
        {"${driver.docker.version} version >= 20.10, < 21", 1, NULL},
        {"${driver.docker.version} semver > 20.10.24", 0, NULL},
        {"${attr.os.name} regexp ^deb(ian)?$", 1, NULL},
        {"${attr.os.name} regexp ^ubuntu", 0, NULL},
        {"${attr.os.name} regexp ^[+*?]+deb", 0, NULL}, /* operators inside [] are members */
        /* found by fuzz_constraint: glibc's regcomp used over 2 GiB on stacked repetitions */
        {"${attr.os.name} regexp eb(ian)?++++++++++++++++++++++++%", -1,
         "invalid constraint '${attr.os.name} regexp eb(ian)?++++++++++++++++++++++++%': "
         "regexp has a repetition of a repetition"},
        {"${attr.os.name} regexp a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+", -1,
         "invalid constraint '${attr.os.name} regexp a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+': "
         "regexp has more than 16 repetition operators"},
        {"${attr.os.name} regexp ^de\\++b", 0, NULL}, /* an escaped '+' is a literal */
        {"${attr.os.name} regexp ^(d{1,2}e){2}b", 0, NULL},
        {"${attr.os.name} regexp ((a{255}){255}){255}", -1,
         "invalid constraint '${attr.os.name} regexp ((a{255}){255}){255}': "
         "regexp repeats its parts more than 65536 times in all"},
        {"${meta.roles} set_contains cache", 1, NULL},
        {"${meta.roles} set_contains cache,db", 0, NULL},
        {"${meta.roles} set_contains_any db, web", 1, NULL},
        {"${meta.rack} is_not_set", 1, NULL},
        {"${meta.rack} is_set", 0,
         "constraint '${meta.rack} is_set' does not hold (meta.rack is not set)"},
        {"${meta.rack} = r1", 0, NULL},
        {"${node.datacenter} = ${attr.node.datacenter}", 1, NULL},
        {"${attr.kernel.name} = ${meta.nope}", 0, NULL},
        {"", -1, "invalid constraint '': expected '${attribute}' first"},
        {"${} = x", -1, "invalid constraint '${} = x': expected '${attribute}' first"},
        {"${attr.kernel.name", -1,
         "invalid constraint '${attr.kernel.name': expected '${attribute}' first"},
        {"${attr.kernel.name} ~= x", -1,
         "invalid constraint '${attr.kernel.name} ~= x': unknown operator '~='"},
        {"${attr.kernel.name}", -1, "invalid constraint '${attr.kernel.name}': missing operator"},
        {"${attr.kernel.name} >", -1,
         "invalid constraint '${attr.kernel.name} >': '>' needs a value"},
        {"${attr.kernel.name} is_set x", -1,
         "invalid constraint '${attr.kernel.name} is_set x': 'is_set' takes no value"},
        {"${attr.kernel.name} = ${x", -1,
         "invalid constraint '${attr.kernel.name} = ${x': bad '${...}' value"},
        {"${driver.docker.version} version >> 1", -1,
         "invalid constraint '${driver.docker.version} version >> 1': invalid version constraint "
         "'>> 1'"},
    };
    cleanup_json cJSON *doc = NULL;
    struct tdrv_err perr = {0};

    tdrv_json_parse(doc_text, strlen(doc_text), &doc, &perr);
    ok(doc != NULL, "check: test document parses");
    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        struct tdrv_err err = {0};
        cleanup_free char *why = NULL;
        int holds = -1;
        int rc = tdrv_fp_check(doc, cases[i].expr, &holds, &why, &err);

        CHECK_INT(rc < 0 ? -1 : holds, cases[i].want, "check: '%s'", cases[i].expr);
        if (rc < 0) {
            CHECK_INT(err.code, 65, "check: '%s' is 65", cases[i].expr);
            CHECK_STR(err.word, "invalid_constraint", "check: '%s' word", cases[i].expr);
        }
        if (cases[i].msg)
            CHECK_STR(rc < 0 ? err.msg : why, cases[i].msg, "check: '%s' message", cases[i].expr);
    }
}

void test_fingerprint(void)
{
    test_rkt();
    test_versions();
    test_constraints();
    test_checks();
}
