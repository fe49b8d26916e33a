/*
 * Durations (tdrv_duration_parse, tdrv_duration_format). Invariants: a duration that
 * parses formats to text that parses back to the same nanoseconds, and so does every
 * int64 (the first 8 input bytes read as one); the text fits TDRV_DURATION_BUFSZ; a
 * leading '-' never gives a positive value; a refusal is exit 65 and leaves *ns alone.
 */
#include "fuzz.h"

#include "duration.h"
#include "mem.h"

static void round_trip(int64_t ns, const char *in)
{
    char buf[TDRV_DURATION_BUFSZ + 16];
    struct tdrv_err err = {0};
    int64_t back = 0;

    memset(buf, 'X', sizeof(buf));
    tdrv_duration_format(ns, buf, sizeof(buf));
    FUZZ_ASSERT(strlen(buf) < TDRV_DURATION_BUFSZ, "%lld formats to %zu bytes", (long long)ns,
                strlen(buf));
    FUZZ_ASSERT(tdrv_duration_parse(buf, &back, &err) == 0, "'%s' (%lld, from '%s'): %s", buf,
                (long long)ns, in, err.msg);
    FUZZ_ASSERT(back == ns, "'%s' parses to %lld, not %lld (from '%s')", buf, (long long)back,
                (long long)ns, in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    struct tdrv_err err = {0};
    int64_t ns = 42;
    uint64_t raw = 0;
    int rc = tdrv_duration_parse(in, &ns, &err);

    if (rc == 0) {
        FUZZ_ASSERT(err.code == 0, "'%s': error set on success", in);
        FUZZ_ASSERT(in[0] != '-' || ns <= 0, "'%s' is %lld", in, (long long)ns);
        FUZZ_ASSERT(in[0] == '-' || ns >= 0, "'%s' is %lld", in, (long long)ns);
        round_trip(ns, in);
    } else {
        FUZZ_ASSERT(rc == -1, "rc %d", rc);
        FUZZ_ASSERT(err.code == TDRV_E_DATA, "'%s': exit %d", in, err.code);
        FUZZ_ASSERT(!strncmp(err.msg, "invalid duration '", 18), "'%s': message %s", in, err.msg);
        FUZZ_ASSERT(ns == 42, "'%s': a refusal wrote %lld", in, (long long)ns);
    }

    memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
    round_trip((int64_t)raw, "raw bytes");
    return 0;
}
