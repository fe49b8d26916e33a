#ifndef TDRV_TAP_H
#define TDRV_TAP_H

#include <stdio.h>
#include <string.h>

/* Minimal TAP producer for the unit runner (plan printed at the end). */
extern int tap_count;
extern int tap_failed;

__attribute__((format(printf, 2, 3))) int tap_ok(int cond, const char *fmt, ...);
void tap_diag_str(const char *want, const char *got);

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define CHECK_STR(got, want, ...)                                                                  \
    do {                                                                                           \
        const char *g_ = (got);                                                                    \
        const char *w_ = (want);                                                                   \
        int same_ = (g_ == NULL && w_ == NULL) || (g_ && w_ && !strcmp(g_, w_));                   \
        if (!tap_ok(same_, __VA_ARGS__))                                                           \
            tap_diag_str(w_, g_);                                                                  \
    } while (0)

#define CHECK_INT(got, want, ...)                                                                  \
    do {                                                                                           \
        long long g_ = (long long)(got);                                                           \
        long long w_ = (long long)(want);                                                          \
        if (!tap_ok(g_ == w_, __VA_ARGS__))                                                        \
            printf("#   want: %lld\n#    got: %lld\n", w_, g_);                                    \
    } while (0)

#endif
