/* The registry client's retry timing: Retry-After (both forms) and the backoff. */
#include <stdint.h>
#include <time.h>

#include "registry.h"
#include "tap.h"

void test_registry_retry(void);

/* 1994-11-06 08:49:37 UTC, RFC 9110's example date */
#define T0 ((time_t)784111777)

static const struct {
    const char *in;
    long want;
} retry_after_cases[] = {
    {"0", 0},
    {"1", 1},
    {"  120", 120},
    {"86400", 86400},
    {"999999999999999999999", 86400}, /* capped, never overflows */
    {"5s", 0},                        /* not delay-seconds */
    {"-5", 0},
    {"1.5", 0},
    {"", 0},
    {"soon", 0},
    {"Sun, 06 Nov 1994 08:49:40 GMT", 3},  /* IMF-fixdate */
    {"Sunday, 06-Nov-94 08:49:42 GMT", 5}, /* obsolete RFC 850 */
    {"Sun Nov  6 08:49:47 1994", 10},      /* obsolete asctime */
    {"Sun, 06 Nov 1994 08:49:37 GMT", 0},  /* now */
    {"Sun, 06 Nov 1994 08:40:00 GMT", 0},  /* past */
    {"Mon, 07 Nov 1994 08:49:37 GMT", 86400},
    {"Tue, 08 Nov 1994 08:49:37 GMT", 86400}, /* capped */
};

static const struct {
    unsigned attempt;
    long retry_after;
    int64_t want_ms;
} backoff_cases[] =
    {
        {0, 0, 250},       {1, 0, 500},    {2, 0, 1000},   {3, 0, 2000},
        {5, 0, 8000},      {9, 0, 8000},   {0, 1, 1000},   {3, 2, 2000},
        {0, 59, 59000},    {0, 60, 60000}, {0, 61, 60000}, /* honoured up to TDRV_RETRY_AFTER_MAX_S
                                                            */
        {0, 86400, 60000},
};

void test_registry_retry(void)
{
    for (size_t i = 0; i < sizeof(retry_after_cases) / sizeof(retry_after_cases[0]); i++)
        CHECK_INT(tdrv_retry_after_parse(retry_after_cases[i].in, T0), retry_after_cases[i].want,
                  "retry-after '%s'", retry_after_cases[i].in);
    for (size_t i = 0; i < sizeof(backoff_cases) / sizeof(backoff_cases[0]); i++)
        CHECK_INT(tdrv_registry_backoff_ms(backoff_cases[i].attempt, backoff_cases[i].retry_after),
                  backoff_cases[i].want_ms, "backoff attempt %u, retry-after %ld",
                  backoff_cases[i].attempt, backoff_cases[i].retry_after);
}
