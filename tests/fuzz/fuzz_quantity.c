/*
 * Quantities (tdrv_quantity_parse_bytes, tdrv_quantity_parse_milli). Invariants: bytes are
 * at most INT64_MAX; both parsers agree, since both round up, away from zero: for a
 * value v >= 0, bytes == ceil(milli / 1000); a negative milli value is a "negative" refusal
 * of bytes; a malformed input gets the same message from both; plain digits give what
 * strtoull gives. A refusal is exit 65 and leaves the output alone.
 */
#include "fuzz.h"

#include "mem.h"
#include "quantity.h"

static int is_overflow(const struct tdrv_err *err)
{
    size_t n = strlen(err->msg);

    return n >= 10 && !strcmp(err->msg + n - 10, ": overflow");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    struct tdrv_err berr = {0};
    struct tdrv_err merr = {0};
    uint64_t bytes = 42;
    int64_t milli = 42;
    int brc = tdrv_quantity_parse_bytes(in, &bytes, &berr);
    int mrc = tdrv_quantity_parse_milli(in, &milli, &merr);

    FUZZ_ASSERT(brc == 0 || brc == -1, "rc %d", brc);
    FUZZ_ASSERT(mrc == 0 || mrc == -1, "rc %d", mrc);
    if (brc == 0) {
        FUZZ_ASSERT(bytes <= (uint64_t)INT64_MAX, "'%s' is %llu bytes", in,
                    (unsigned long long)bytes);
        FUZZ_ASSERT(berr.code == 0, "'%s': error set on success", in);
    } else {
        FUZZ_ASSERT(berr.code == TDRV_E_DATA, "'%s': exit %d", in, berr.code);
        FUZZ_ASSERT(!strncmp(berr.msg, "invalid quantity '", 18), "'%s': %s", in, berr.msg);
        FUZZ_ASSERT(bytes == 42, "'%s': a refusal wrote %llu", in, (unsigned long long)bytes);
    }
    if (size > 0 && size <= 18 && strspn(in, "0123456789") == size) {
        FUZZ_ASSERT(brc == 0 && bytes == strtoull(in, NULL, 10), "'%s' is %llu bytes", in,
                    (unsigned long long)bytes);
        FUZZ_ASSERT(mrc < 0 || (uint64_t)milli == bytes * 1000, "'%s' is %lld milli", in,
                    (long long)milli);
    }
    if (mrc < 0) {
        FUZZ_ASSERT(merr.code == TDRV_E_DATA, "'%s': exit %d", in, merr.code);
        FUZZ_ASSERT(!strncmp(merr.msg, "invalid quantity '", 18), "'%s': %s", in, merr.msg);
        FUZZ_ASSERT(milli == 42, "'%s': a refusal wrote %lld", in, (long long)milli);
        if (!is_overflow(&merr))
            FUZZ_ASSERT(brc < 0 && !strcmp(berr.msg, merr.msg), "'%s': milli says '%s', bytes '%s'",
                        in, merr.msg, brc < 0 ? berr.msg : "ok");
        return 0;
    }

    if (milli < 0) {
        FUZZ_ASSERT(in[0] == '-', "'%s' is %lld milli", in, (long long)milli);
        FUZZ_ASSERT(brc < 0 && strstr(berr.msg, ": negative"), "'%s': %lld milli but bytes %s", in,
                    (long long)milli, brc < 0 ? berr.msg : "ok");
    } else {
        uint64_t want = ((uint64_t)milli + 999) / 1000;

        FUZZ_ASSERT(brc == 0, "'%s': %lld milli but bytes refused: %s", in, (long long)milli,
                    berr.msg);
        FUZZ_ASSERT(bytes == want, "'%s': %lld milli but %llu bytes", in, (long long)milli,
                    (unsigned long long)bytes);
    }

    return 0;
}
