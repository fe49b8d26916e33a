#ifndef TDRV_YAML_H
#define TDRV_YAML_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "err.h"

/*
 * Parse one YAML document into a cJSON tree. Plain scalars follow the YAML 1.2
 * core schema (null, booleans, numbers); quoted scalars are strings. Anchors,
 * aliases, duplicate keys, non-scalar keys, several documents and nesting past
 * TDRV_MAX_DEPTH are errors (65) that give the line and column.
 */
int tdrv_yaml_parse(const char *buf, size_t len, cJSON **out, struct tdrv_err *err);

#endif
