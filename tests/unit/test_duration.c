/* Durations as Go parses and prints them. */
#include <stdint.h>
#include <string.h>

#include "duration.h"
#include "tap.h"

void test_duration(void);

static const struct {
    const char *in;
    int64_t ns;
    int code;        /* 0 = parses to ns */
    const char *msg; /* expected error message */
} parse_cases[] = {
    {"0", 0, 0, NULL},
    {"-0", 0, 0, NULL},
    {"+0", 0, 0, NULL},
    {"5s", 5000000000, 0, NULL},
    {"+5s", 5000000000, 0, NULL},
    {"-5s", -5000000000, 0, NULL},
    {"300ms", 300000000, 0, NULL},
    {"-1.5h", -5400000000000, 0, NULL},
    {"2h45m", 9900000000000, 0, NULL},
    {"1h30m", 5400000000000, 0, NULL},
    {"1h30m0s", 5400000000000, 0, NULL},
    {".5s", 500000000, 0, NULL},
    {"1.s", 1000000000, 0, NULL},
    {"0s", 0, 0, NULL},
    {"0.0s", 0, 0, NULL},
    {"1ns", 1, 0, NULL},
    {"1us", 1000, 0, NULL},
    {"1\xc2\xb5s", 1000, 0, NULL}, /* U+00B5 */
    {"1\xce\xbcs", 1000, 0, NULL}, /* U+03BC */
    {"1.1\xc2\xb5s", 1100, 0, NULL},
    {"2.2ms", 2200000, 0, NULL},
    {"10m", 600000000000, 0, NULL},
    {"1h1m1s1ms1us1ns", 3661001001001, 0, NULL},
    {"1s1s", 2000000000, 0, NULL},
    {"100.00100s", 100001000000, 0, NULL},
    {"0.3333333333333333333h", 1200000000000, 0, NULL},
    {"0.100000000000000000000h", 360000000000, 0, NULL},
    {"0.830103483285477580700h", 2988372539827, 0, NULL},
    {"9007199254740993ns", 9007199254740993, 0, NULL},
    {"9223372036854775807ns", INT64_MAX, 0, NULL},
    {"9223372036854775.807us", INT64_MAX, 0, NULL},
    {"9223372036s854ms775us807ns", INT64_MAX, 0, NULL},
    {"2562047h47m16.854775807s", INT64_MAX, 0, NULL},
    {"-9223372036854775808ns", INT64_MIN, 0, NULL},
    {"-9223372036854775.808us", INT64_MIN, 0, NULL},
    {"", 0, 65, "invalid duration '': empty"},
    /* a long input is quoted in part, so that the reason always fits the message */
    {"99999999999999999999999999999999999999999999999999999999999999999999999999h", 0, 65,
     "invalid duration '9999999999999999999999999999999999999999999999999999999999999999...': "
     "overflow"},
    {"-", 0, 65, "invalid duration '-': bad number"},
    {"3", 0, 65, "invalid duration '3': missing unit"},
    {"00", 0, 65, "invalid duration '00': missing unit"},
    {"1.5.5s", 0, 65, "invalid duration '1.5.5s': missing unit"},
    {"1h30", 0, 65, "invalid duration '1h30': missing unit"},
    {"5x", 0, 65, "invalid duration '5x': unknown unit 'x'"},
    {"1d", 0, 65, "invalid duration '1d': unknown unit 'd'"},
    {"1h 30m", 0, 65, "invalid duration '1h 30m': unknown unit 'h '"},
    {"5S", 0, 65, "invalid duration '5S': unknown unit 'S'"},
    {"s", 0, 65, "invalid duration 's': bad number"},
    {".s", 0, 65, "invalid duration '.s': bad number"},
    {"-.s", 0, 65, "invalid duration '-.s': bad number"},
    {"x5s", 0, 65, "invalid duration 'x5s': bad number"},
    {" 5s", 0, 65, "invalid duration ' 5s': bad number"},
    {"--5s", 0, 65, "invalid duration '--5s': bad number"},
    {"1h-5m", 0, 65, "invalid duration '1h-5m': unknown unit 'h-'"},
    {"9223372036854775808ns", 0, 65, "invalid duration '9223372036854775808ns': overflow"},
    {"-9223372036854775809ns", 0, 65, "invalid duration '-9223372036854775809ns': overflow"},
    {"9223372036854775.808us", 0, 65, "invalid duration '9223372036854775.808us': overflow"},
    {"99999999999999999999s", 0, 65, "invalid duration '99999999999999999999s': overflow"},
    {"3000000h", 0, 65, "invalid duration '3000000h': overflow"},
    {"9223372036854s775ms807us", 0, 65, "invalid duration '9223372036854s775ms807us': overflow"},
    {"2562047h47m17s", 0, 65, "invalid duration '2562047h47m17s': overflow"},
};

static const struct {
    int64_t ns;
    const char *out;
} format_cases[] = {
    {0, "0s"},
    {1, "1ns"},
    {999, "999ns"},
    {1000, "1\xc2\xb5s"},
    {1100, "1.1\xc2\xb5s"},
    {2200000, "2.2ms"},
    {300000000, "300ms"},
    {3300000000, "3.3s"},
    {60000000000, "1m0s"},
    {245000000000, "4m5s"},
    {245001000000, "4m5.001s"},
    {18367001000000, "5h6m7.001s"},
    {480000000001, "8m0.000000001s"},
    {5400000000000, "1h30m0s"},
    {-5400000000000, "-1h30m0s"},
    {-1, "-1ns"},
    {-1500, "-1.5\xc2\xb5s"},
    {INT64_MAX, "2562047h47m16.854775807s"},
    {INT64_MIN, "-2562047h47m16.854775808s"},
};

void test_duration(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        struct tdrv_err err = {0};
        int64_t ns = -42;
        int rc = tdrv_duration_parse(parse_cases[i].in, &ns, &err);

        if (parse_cases[i].code == 0) {
            CHECK_INT(rc, 0, "duration parse '%s' succeeds (%s)", parse_cases[i].in, err.msg);
            CHECK_INT(ns, parse_cases[i].ns, "duration parse '%s' value", parse_cases[i].in);
        } else {
            CHECK_INT(rc, -1, "duration parse '%s' fails", parse_cases[i].in);
            CHECK_INT(err.code, parse_cases[i].code, "duration parse '%s' exit code",
                      parse_cases[i].in);
            CHECK_STR(err.msg, parse_cases[i].msg, "duration parse '%s' message",
                      parse_cases[i].in);
            CHECK_INT(ns, -42, "duration parse '%s' leaves the output alone", parse_cases[i].in);
        }
    }

    for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
        char buf[TDRV_DURATION_BUFSZ];
        struct tdrv_err err = {0};
        int64_t back = 0;

        tdrv_duration_format(format_cases[i].ns, buf, sizeof(buf));
        CHECK_STR(buf, format_cases[i].out, "duration format %lld", (long long)format_cases[i].ns);
        ok(tdrv_duration_parse(buf, &back, &err) == 0 && back == format_cases[i].ns,
           "duration format %lld parses back", (long long)format_cases[i].ns);
    }

    {
        char small[5];

        tdrv_duration_format(5400000000000, small, sizeof(small));
        CHECK_STR(small, "1h30", "duration format truncates to the buffer");
        tdrv_duration_format(5400000000000, small, 0);
        ok(1, "duration format with a zero-size buffer writes nothing");
    }
}
