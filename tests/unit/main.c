/* Unit runner: every tests/unit/test_<name>.c provides test_<name>(void). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

int tap_count;
int tap_failed;

int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;

    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return cond;
}

void tap_diag_str(const char *want, const char *got)
{
    printf("#   want: %s\n#    got: %s\n", want ? want : "(null)", got ? got : "(null)");
}

#define TEST(name) void name(void);
#include "list.h"
#undef TEST

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#define TEST(name) name();
#include "list.h"
#undef TEST
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}
