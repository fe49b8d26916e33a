/*
 * `rkt version` output (tdrv_fp_rkt_versions), as tdrv-fingerprint's rkt probe reads it.
 * Invariants: either both versions are found or neither is returned; a version found is a
 * digit followed by digits and dots, taken from a "rkt version" / "appc version" line of the
 * input; tdrv_version_cmp against the minimum rkt version answers without crashing, and a
 * version that compares is equal to itself.
 */
#include "fuzz.h"

#include "fingerprint.h"
#include "mem.h"

static void check_version(const char *in, const char *v)
{
    int cmp = 0;

    FUZZ_ASSERT(v[0] >= '0' && v[0] <= '9', "version '%s' does not start with a digit", v);
    FUZZ_ASSERT(strspn(v, "0123456789.") == strlen(v), "version '%s'", v);
    FUZZ_ASSERT(strstr(in, v), "version '%s' is not in the input", v);
    if (tdrv_version_cmp(v, TDRV_FP_RKT_MIN_VERSION, &cmp) == 0) {
        FUZZ_ASSERT(tdrv_version_cmp(v, v, &cmp) == 0 && cmp == 0, "'%s' != itself", v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    cleanup_free char *rkt = NULL;
    cleanup_free char *appc = NULL;

    if (tdrv_fp_rkt_versions(in, &rkt, &appc) < 0) {
        FUZZ_ASSERT(!rkt && !appc, "refusal returned a version");
        return 0;
    }
    FUZZ_ASSERT(rkt && appc, "a version is missing");
    check_version(in, rkt);
    check_version(in, appc);
    return 0;
}
