/* Kubernetes resource quantities, exact to the byte and the millicore. */
#include <stdint.h>
#include <string.h>

#include "quantity.h"
#include "tap.h"

void test_quantity(void);

static const struct {
    const char *in;
    uint64_t bytes;
    int code;        /* 0 = parses to bytes */
    const char *msg; /* expected error message */
} bytes_cases[] = {
    {"128", 128, 0, NULL},
    {"0", 0, 0, NULL},
    {"-0", 0, 0, NULL},
    {"0.0", 0, 0, NULL},
    {"0Gi", 0, 0, NULL},
    {"+1", 1, 0, NULL},
    {"1Ki", 1024, 0, NULL},
    {"1Mi", 1048576, 0, NULL},
    {"256Mi", 268435456, 0, NULL},
    {"1Gi", 1073741824, 0, NULL},
    {"1Ti", 1099511627776, 0, NULL},
    {"1Pi", 1125899906842624, 0, NULL},
    {"1Ei", 1152921504606846976, 0, NULL},
    {"7Ei", 8070450532247928832, 0, NULL},
    {"0.5Ei", 576460752303423488, 0, NULL},
    {"1k", 1000, 0, NULL},
    {"1M", 1000000, 0, NULL},
    {"1G", 1000000000, 0, NULL},
    {"1T", 1000000000000, 0, NULL},
    {"1P", 1000000000000000, 0, NULL},
    {"1E", 1000000000000000000, 0, NULL},
    {"1.5Gi", 1610612736, 0, NULL},
    {"0.5Ki", 512, 0, NULL},
    {".5Ki", 512, 0, NULL},
    {"2.Ki", 2048, 0, NULL},
    {"0.1Ki", 103, 0, NULL}, /* 102.4 rounds up */
    {"1.5", 2, 0, NULL},
    {"1500m", 2, 0, NULL},
    {"1000m", 1, 0, NULL},
    {"750m", 1, 0, NULL},
    {"1m", 1, 0, NULL},
    {"1u", 1, 0, NULL},
    {"1n", 1, 0, NULL},
    {"1e3", 1000, 0, NULL},
    {"1E3", 1000, 0, NULL},
    {"1e+3", 1000, 0, NULL},
    {"1.5e3", 1500, 0, NULL},
    {"1e0", 1, 0, NULL},
    {"5e-1", 1, 0, NULL},
    {"123e-2", 2, 0, NULL},
    {"1000000000000000000000000e-10", 100000000000000, 0, NULL},
    {"00000000000000000000000000001Ki", 1024, 0, NULL},
    {"1.0000000000000000000000000001", 2, 0, NULL},
    {"0.000000000000000001Ei", 2, 0, NULL},  /* 1.15... */
    {"0.0000000000000000001Ei", 1, 0, NULL}, /* 0.115... */
    {"0.000000000000000000000000000000000001", 1, 0, NULL},
    {"1e-1000000000", 1, 0, NULL},
    {"9223372036854775807", 9223372036854775807u, 0, NULL},
    {"9.223372036854775807E", 9223372036854775807u, 0, NULL},
    {"9223372036854775806.5", 9223372036854775807u, 0, NULL},
    {"", 0, 65, "invalid quantity '': empty"},
    {"-1", 0, 65, "invalid quantity '-1': negative"},
    {"-1Gi", 0, 65, "invalid quantity '-1Gi': negative"},
    {"-0.1", 0, 65, "invalid quantity '-0.1': negative"},
    {"5x", 0, 65, "invalid quantity '5x': unknown suffix 'x'"},
    {"1KB", 0, 65, "invalid quantity '1KB': unknown suffix 'KB'"},
    {"1K", 0, 65, "invalid quantity '1K': unknown suffix 'K'"},
    {"1ki", 0, 65, "invalid quantity '1ki': unknown suffix 'ki'"},
    {"1Gib", 0, 65, "invalid quantity '1Gib': unknown suffix 'Gib'"},
    {"1e", 0, 65, "invalid quantity '1e': unknown suffix 'e'"},
    {"1e3.5", 0, 65, "invalid quantity '1e3.5': unknown suffix 'e3.5'"},
    {"1e3Ki", 0, 65, "invalid quantity '1e3Ki': unknown suffix 'e3Ki'"},
    {"0x10", 0, 65, "invalid quantity '0x10': unknown suffix 'x10'"},
    {"abc", 0, 65, "invalid quantity 'abc': bad number"},
    {"Gi", 0, 65, "invalid quantity 'Gi': bad number"},
    {".", 0, 65, "invalid quantity '.': bad number"},
    {"-", 0, 65, "invalid quantity '-': bad number"},
    {"+-1", 0, 65, "invalid quantity '+-1': bad number"},
    {"1.5.5", 0, 65, "invalid quantity '1.5.5': bad number"},
    {" 1", 0, 65, "invalid quantity ' 1': bad number"},
    {"1 Gi", 0, 65, "invalid quantity '1 Gi': bad number"},
    {"1,5", 0, 65, "invalid quantity '1,5': bad number"},
    {"9223372036854775808", 0, 65, "invalid quantity '9223372036854775808': overflow"},
    {"9223372036854775807.1", 0, 65, "invalid quantity '9223372036854775807.1': overflow"},
    {"10000000000000000000000", 0, 65, "invalid quantity '10000000000000000000000': overflow"},
    {"8Ei", 0, 65, "invalid quantity '8Ei': overflow"},
    {"16Ei", 0, 65, "invalid quantity '16Ei': overflow"},
    {"10E", 0, 65, "invalid quantity '10E': overflow"},
    {"1e30", 0, 65, "invalid quantity '1e30': overflow"},
    {"1e1000000000", 0, 65, "invalid quantity '1e1000000000': overflow"},
};

static const struct {
    const char *in;
    int64_t milli;
    int code;
    const char *msg;
} milli_cases[] = {
    {"750m", 750, 0, NULL},
    {"250m", 250, 0, NULL},
    {"1.5", 1500, 0, NULL},
    {"2", 2000, 0, NULL},
    {"128", 128000, 0, NULL},
    {"0.1", 100, 0, NULL},
    {"0", 0, 0, NULL},
    {"0.0001", 1, 0, NULL},
    {"0.0011", 2, 0, NULL},
    {"1n", 1, 0, NULL},
    {"100u", 1, 0, NULL},
    {"1000u", 1, 0, NULL},
    {"1001u", 2, 0, NULL},
    {"0.5k", 500000, 0, NULL},
    {"1e-3", 1, 0, NULL},
    {"1Ki", 1024000, 0, NULL},
    {"-1", -1000, 0, NULL},
    {"-0.0001", -1, 0, NULL},
    {"9223372036854775.807", INT64_MAX, 0, NULL},
    {"", 0, 65, "invalid quantity '': empty"},
    {"1.5 cores", 0, 65, "invalid quantity '1.5 cores': bad number"},
    {"1x", 0, 65, "invalid quantity '1x': unknown suffix 'x'"},
    {"9223372036854775.808", 0, 65, "invalid quantity '9223372036854775.808': overflow"},
    {"9223372036854776", 0, 65, "invalid quantity '9223372036854776': overflow"},
    /* a long input is quoted in part, so that the reason always fits the message (fuzz) */
    {"0.5000000000000000000000000000000000000000000000000000000000000000000000000000000001E", 0, 65,
     "invalid quantity '0.50000000000000000000000000000000000000000000000000000000000000...': "
     "overflow"},
    {"1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 65,
     "invalid quantity '1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': "
     "unknown suffix 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"},
};

void test_quantity(void)
{
    for (size_t i = 0; i < sizeof(bytes_cases) / sizeof(bytes_cases[0]); i++) {
        struct tdrv_err err = {0};
        uint64_t b = 42;
        int rc = tdrv_quantity_parse_bytes(bytes_cases[i].in, &b, &err);

        if (bytes_cases[i].code == 0) {
            CHECK_INT(rc, 0, "quantity bytes '%s' parses (%s)", bytes_cases[i].in, err.msg);
            ok(b == bytes_cases[i].bytes, "quantity bytes '%s' = %llu (got %llu)",
               bytes_cases[i].in, (unsigned long long)bytes_cases[i].bytes, (unsigned long long)b);
        } else {
            CHECK_INT(rc, -1, "quantity bytes '%s' fails", bytes_cases[i].in);
            CHECK_INT(err.code, bytes_cases[i].code, "quantity bytes '%s' exit code",
                      bytes_cases[i].in);
            CHECK_STR(err.msg, bytes_cases[i].msg, "quantity bytes '%s' message",
                      bytes_cases[i].in);
            ok(b == 42, "quantity bytes '%s' leaves the output alone", bytes_cases[i].in);
        }
    }

    for (size_t i = 0; i < sizeof(milli_cases) / sizeof(milli_cases[0]); i++) {
        struct tdrv_err err = {0};
        int64_t m = 42;
        int rc = tdrv_quantity_parse_milli(milli_cases[i].in, &m, &err);

        if (milli_cases[i].code == 0) {
            CHECK_INT(rc, 0, "quantity milli '%s' parses (%s)", milli_cases[i].in, err.msg);
            CHECK_INT(m, milli_cases[i].milli, "quantity milli '%s' value", milli_cases[i].in);
        } else {
            CHECK_INT(rc, -1, "quantity milli '%s' fails", milli_cases[i].in);
            CHECK_INT(err.code, milli_cases[i].code, "quantity milli '%s' exit code",
                      milli_cases[i].in);
            CHECK_STR(err.msg, milli_cases[i].msg, "quantity milli '%s' message",
                      milli_cases[i].in);
            CHECK_INT(m, 42, "quantity milli '%s' leaves the output alone", milli_cases[i].in);
        }
    }
}
