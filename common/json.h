#ifndef TDRV_JSON_H
#define TDRV_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define TDRV_MAX_REQUEST (16u * 1024u * 1024u)
#define TDRV_MAX_DEPTH 64

enum tdrv_json_flags {
    TDRV_OPTIONAL = 0,
    TDRV_REQUIRED = 1,
};

void tdrv_json_deletep(cJSON **p);
#define cleanup_json __attribute__((cleanup(tdrv_json_deletep)))

/* Parse a JSON text (buf[len] must be NUL, as struct tdrv_buf keeps it): trailing bytes, duplicate
 * keys and nesting past TDRV_MAX_DEPTH are errors (65). */
int tdrv_json_parse(const char *buf, size_t len, cJSON **out, struct tdrv_err *err);
/* Parse a document that is JSON (first byte '{' or '[') or else YAML. */
int tdrv_doc_parse(const char *buf, size_t len, cJSON **out, struct tdrv_err *err);
/* Read a whole document (JSON or YAML) from fd, at most max bytes. */
int tdrv_doc_read_fd(int fd, size_t max, cJSON **out, struct tdrv_err *err);
/* Read a document from a file path (65 malformed, 66 missing). */
int tdrv_doc_read_file(const char *path, size_t max, cJSON **out, struct tdrv_err *err);
/* Check object/array nesting and duplicate keys of a tree built elsewhere. */
int tdrv_json_check_tree(const cJSON *item, struct tdrv_err *err);

/*
 * Typed getters. `path` is a dotted path from `obj` ("config.image"); errors name it
 * as "request.<path>: expected string" (65). Absent optional fields leave *out untouched
 * and return 0; JSON null counts as absent.
 */
const cJSON *tdrv_json_at(const cJSON *obj, const char *path);
int tdrv_json_str(const cJSON *obj, const char *path, int flags, const char **out,
                  struct tdrv_err *err);
int tdrv_json_bool(const cJSON *obj, const char *path, int flags, int *out, struct tdrv_err *err);
int tdrv_json_i64(const cJSON *obj, const char *path, int flags, int64_t min, int64_t max,
                  int64_t *out, struct tdrv_err *err);
int tdrv_json_obj(const cJSON *obj, const char *path, int flags, const cJSON **out,
                  struct tdrv_err *err);
int tdrv_json_arr(const cJSON *obj, const char *path, int flags, const cJSON **out,
                  struct tdrv_err *err);
/* d as an int64_t when it is an integer that fits (else -1, *out untouched): converting a
 * double out of range is undefined behaviour, so every number from a document goes through
 * this or tdrv_json_i64. */
int tdrv_double_to_i64(double d, int64_t *out);
/* An array whose items are all strings. */
int tdrv_json_strarr(const cJSON *obj, const char *path, int flags, const cJSON **out,
                     struct tdrv_err *err);

/* Every key of `obj` must be in the NULL-terminated `allowed` list; `what` names the object. */
int tdrv_json_check_keys(const cJSON *obj, const char *const *allowed, const char *what,
                         struct tdrv_err *err);

/* Add helpers that abort on allocation failure (cJSON fails only on OOM). */
cJSON *tdrv_json_xobj(void);
cJSON *tdrv_json_xarr(void);
void tdrv_json_add(cJSON *obj, const char *key, cJSON *item);
void tdrv_json_set(cJSON *obj, const char *key, cJSON *item); /* replace or add */
void tdrv_json_add_str(cJSON *obj, const char *key, const char *s);
void tdrv_json_add_num(cJSON *obj, const char *key, double v);
void tdrv_json_add_bool(cJSON *obj, const char *key, int v);
void tdrv_json_append(cJSON *arr, cJSON *item);
cJSON *tdrv_json_xstr(const char *s);
cJSON *tdrv_json_xnum(double v);
cJSON *tdrv_json_xdup(const cJSON *item);

/* Write `doc` as one line of unformatted JSON and flush; a failed write is 74. */
int tdrv_json_emit(FILE *f, const cJSON *doc, struct tdrv_err *err);

#endif
