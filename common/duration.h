#ifndef TDRV_DURATION_H
#define TDRV_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Room for any formatted duration ("-2562047h47m16.854775808s") and its NUL. */
#define TDRV_DURATION_BUFSZ 32

/*
 * Parse a duration as Go's time.ParseDuration does: an optional sign, then one
 * or more decimal numbers, each with an optional fraction and a unit (ns, us,
 * µs, μs, ms, s, m, h): "300ms", "-1.5h", "2h45m", ".5s", "1.s". A bare "0"
 * needs no unit. Fractions round toward zero exactly as Go's do. Errors are 65:
 * "invalid duration '5x': unknown unit 'x'".
 */
int tdrv_duration_parse(const char *s, int64_t *ns, struct tdrv_err *err);

/* Write `ns` as Go's Duration.String does ("1h30m0s", "300ms", "1.5µs", "0s"); truncates to n. */
void tdrv_duration_format(int64_t ns, char *buf, size_t n);

#endif
