#ifndef TDRV_QUANTITY_H
#define TDRV_QUANTITY_H

#include <stdint.h>

#include "err.h"

/*
 * Kubernetes resource quantities (resource.Quantity): a signed decimal number
 * ("128", "1.5", ".5", "2.") and one optional suffix: binary Ki Mi Gi Ti Pi Ei,
 * decimal n u m k M G T P E, or an exponent e<n>/E<n> ("1e3", "5E-3").
 * Arithmetic is exact (decimal digits, no floating point); a result that is not
 * a whole number of units is rounded up, away from zero, as Quantity.Value()
 * and MilliValue() do. Errors are 65: "invalid quantity '5x': unknown suffix 'x'".
 */

/* Bytes ("512Mi", "1.5Gi", "1e9", "128"): negative or above INT64_MAX is an error. */
int tdrv_quantity_parse_bytes(const char *s, uint64_t *bytes, struct tdrv_err *err);
/* Thousandths of the unit, for CPU ("750m" -> 750, "1.5" -> 1500, "0.1" -> 100). */
int tdrv_quantity_parse_milli(const char *s, int64_t *milli, struct tdrv_err *err);

#endif
