/*
 * Constraints and versions (tdrv_fp_check over a fixed fingerprint, tdrv_version_cmp,
 * tdrv_version_check). The input is "EXPR\nB": EXPR is checked as a constraint, and EXPR
 * and B are compared as versions. Invariants: a check gives 0 or 1, with a reason exactly
 * when it is 0, or exit 65 (invalid_constraint); version comparison is antisymmetric and
 * reflexive, and agrees with the "=", ">=", "<" constraints.
 */
#include "fuzz.h"

#include "fingerprint.h"
#include "json.h"
#include "mem.h"

static const char fp_json[] =
    "{\"attributes\":{\"kernel.name\":\"linux\",\"kernel.version\":\"6.1.0-13-amd64\","
    "\"os.name\":\"debian\",\"cpu.numcores\":\"4\",\"cpu.frequency\":\"2.5\","
    "\"driver.docker.version\":\"24.0.7\",\"driver.docker.runtimes\":\"io.containerd.runc.v2, "
    "runc\",\"driver.rkt.version\":\"1.30.0\",\"unique.hostname\":\"host-1\",\"empty\":\"\","
    "\"pre\":\"1.2.0-rc1+dfsg1\"}}";

static cJSON *fp;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct tdrv_err err = {0};

    (void)argc;
    (void)argv;
    if (tdrv_json_parse(fp_json, strlen(fp_json), &fp, &err) < 0) {
        fprintf(stderr, "fuzz_constraint: fingerprint: %s\n", err.msg);
        abort();
    }
    return 0;
}

static void check(const char *expr)
{
    cleanup_free char *why = NULL;
    struct tdrv_err err = {0};
    int holds = -1;
    int rc = tdrv_fp_check(fp, expr, &holds, &why, &err);

    if (rc < 0) {
        FUZZ_ASSERT(rc == -1, "rc %d", rc);
        FUZZ_ASSERT(err.code == TDRV_E_DATA, "'%s': exit %d", expr, err.code);
        FUZZ_ASSERT(!strcmp(err.word, "invalid_constraint"), "'%s': code %s", expr, err.word);
        FUZZ_ASSERT(why == NULL, "'%s': a refusal gave a reason", expr);
        return;
    }
    FUZZ_ASSERT(rc == 0, "rc %d", rc);
    FUZZ_ASSERT(holds == 0 || holds == 1, "'%s': holds %d", expr, holds);
    FUZZ_ASSERT(holds ? why == NULL : why != NULL, "'%s': holds %d, reason %s", expr, holds,
                why ? why : "(none)");
}

static void constraint(const char *a, const char *op, const char *b, int want)
{
    cleanup_free char *c = tdrv_xasprintf("%s %s", op, b);
    struct tdrv_err err = {0};
    int got = tdrv_version_check(a, c, &err);

    /* A version with a comma, or that only parses once trimmed differently, may be refused. */
    if (got < 0)
        return;
    FUZZ_ASSERT(got == want, "'%s' against '%s' gives %d, want %d", a, c, got, want);
}

static void versions(const char *a, const char *b)
{
    int ab = 2;
    int ba = 2;
    int aa = 2;

    if (tdrv_version_cmp(a, b, &ab) < 0) {
        FUZZ_ASSERT(tdrv_version_cmp(b, a, &ba) < 0, "'%s' vs '%s' parses one way only", a, b);
        return;
    }
    FUZZ_ASSERT(tdrv_version_cmp(b, a, &ba) == 0, "'%s' vs '%s' parses one way only", b, a);
    FUZZ_ASSERT(ab >= -1 && ab <= 1, "cmp %d", ab);
    FUZZ_ASSERT(ab == -ba, "'%s' vs '%s' is %d, the other way %d", a, b, ab, ba);
    FUZZ_ASSERT(tdrv_version_cmp(a, a, &aa) == 0 && aa == 0, "'%s' vs itself is %d", a, aa);
    if (strchr(b, ',') || strchr(a, ','))
        return;
    constraint(a, "=", b, ab == 0);
    constraint(a, ">=", b, ab >= 0);
    constraint(a, "<", b, ab < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    char *nl = strchr(in, '\n');
    const char *b = "";

    if (nl) {
        *nl = '\0';
        b = nl + 1;
    }
    check(in);
    versions(in, b);
    return 0;
}
