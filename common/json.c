#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "yaml.h"

void tdrv_json_deletep(cJSON **p)
{
    if (*p)
        cJSON_Delete(*p);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate keys of one object: pairwise when small, sorted otherwise (a 16 MiB request can
 * hold a million keys, and n^2 comparisons of those would take hours). */
static int check_dup_keys(const cJSON *obj, struct tdrv_err *err)
{
    size_t n = 0;
    size_t i = 0;
    cleanup_free const char **keys = NULL;

    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n <= 32) {
        for (const cJSON *c = obj->child; c; c = c->next)
            for (const cJSON *d = obj->child; d != c; d = d->next)
                if (d->string && c->string && !strcmp(d->string, c->string))
                    return tdrv_err_set(err, TDRV_E_DATA, 0, "duplicate key '%.200s'", c->string);
        return 0;
    }
    keys = tdrv_xcalloc(n, sizeof(*keys));
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string)
            keys[i++] = c->string;
    qsort(keys, i, sizeof(*keys), cmp_key);
    for (size_t j = 1; j < i; j++)
        if (!strcmp(keys[j - 1], keys[j]))
            return tdrv_err_set(err, TDRV_E_DATA, 0, "duplicate key '%.200s'", keys[j]);
    return 0;
}

static int check_tree(const cJSON *item, int depth, struct tdrv_err *err)
{
    if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
        return 0;
    if (depth > TDRV_MAX_DEPTH)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "document is nested deeper than %d levels",
                            TDRV_MAX_DEPTH);
    if (cJSON_IsObject(item) && check_dup_keys(item, err) < 0)
        return -1;
    for (const cJSON *c = item->child; c; c = c->next)
        if (check_tree(c, depth + 1, err) < 0)
            return -1;
    return 0;
}

int tdrv_json_check_tree(const cJSON *item, struct tdrv_err *err)
{
    return check_tree(item, 1, err);
}

/* Where the scanner is: one frame per open object or array. */
struct scan_frame {
    int obj;      /* object (keys) or array (indexes) */
    int want_key; /* object: the next string is a key */
    size_t kpos;  /* object: the current key, raw (escapes as written) */
    size_t klen;
    long idx; /* array: the current index */
};

/* The path of the value being scanned, as "config.args[2]" (keys cut to 64 bytes). */
static void scan_path(const char *buf, const struct scan_frame *st, int depth, int in_key,
                      char *out, size_t outsz)
{
    size_t o = 0;

    out[0] = '\0';
    for (int d = 0; d < depth && o < outsz; d++) {
        int n;

        if (d == depth - 1 && in_key)
            break; /* a key itself: its object is the path */
        if (st[d].obj)
            n = snprintf(out + o, outsz - o, "%s%.*s", o ? "." : "",
                         (int)(st[d].klen > 64 ? 64 : st[d].klen), buf + st[d].kpos);
        else
            n = snprintf(out + o, outsz - o, "[%ld]", st[d].idx);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (!out[0])
        snprintf(out, outsz, "the document");
}

/* One pass over the raw text before cJSON sees it: nesting is limited there, so cJSON never
 * recurses deeply, and a string holding the escape \u0000 is refused naming where it is
 * (cJSON would end the C string at the NUL and silently drop the rest). */
static int scan_text(const char *buf, size_t len, struct tdrv_err *err)
{
    struct scan_frame st[TDRV_MAX_DEPTH + 1];
    int depth = 0;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];

        if (c == '"') {
            size_t start = i + 1;
            size_t nul = 0;
            int in_key = depth > 0 && st[depth - 1].obj && st[depth - 1].want_key;

            for (i++; i < len && buf[i] != '"'; i++) {
                if (buf[i] != '\\')
                    continue;
                if (!nul && i + 5 < len && buf[i + 1] == 'u' && !memcmp(buf + i + 2, "0000", 4))
                    nul = i + 1;
                i++;
            }
            if (in_key) {
                st[depth - 1].kpos = start;
                st[depth - 1].klen = i < len ? i - start : len - start;
                st[depth - 1].want_key = 0;
            }
            if (nul) {
                char path[512];

                scan_path(buf, st, depth, in_key, path, sizeof(path));
                return tdrv_err_set(err, TDRV_E_DATA, 0,
                                    "malformed JSON at byte %zu: NUL character (\\u0000) in %s %s",
                                    nul - 1, in_key ? "a key of" : "the string", path);
            }
        } else if (c == '{' || c == '[') {
            if (depth >= TDRV_MAX_DEPTH)
                return tdrv_err_set(err, TDRV_E_DATA, 0,
                                    "malformed JSON at byte %zu: nested deeper than %d levels", i,
                                    TDRV_MAX_DEPTH);
            st[depth].obj = c == '{';
            st[depth].want_key = 1;
            st[depth].kpos = st[depth].klen = 0;
            st[depth].idx = 0;
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        } else if (c == ',' && depth > 0) {
            if (st[depth - 1].obj)
                st[depth - 1].want_key = 1;
            else
                st[depth - 1].idx++;
        }
    }
    return 0;
}

int tdrv_json_parse(const char *buf, size_t len, cJSON **out, struct tdrv_err *err)
{
    const char *end = NULL;
    cJSON *doc;

    if (scan_text(buf, len, err) < 0)
        return -1;
    if (memchr(buf, '\0', len))
        return tdrv_err_set(err, TDRV_E_DATA, 0, "malformed JSON at byte %zu: NUL byte",
                            (size_t)((const char *)memchr(buf, '\0', len) - buf));
    /* buf[len] is the NUL every caller's buffer ends with; cJSON wants it counted. */
    doc = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!doc) {
        size_t off = end ? (size_t)(end - buf) : 0;

        if (off >= len)
            return tdrv_err_set(err, TDRV_E_DATA, 0, "malformed JSON at byte %zu: unexpected end",
                                len);
        return tdrv_err_set(err, TDRV_E_DATA, 0, "malformed JSON at byte %zu", off);
    }
    if (check_tree(doc, 1, err) < 0) {
        cJSON_Delete(doc);
        return tdrv_err_wrap(err, "malformed JSON");
    }
    *out = doc;
    return 0;
}

int tdrv_doc_parse(const char *buf, size_t len, cJSON **out, struct tdrv_err *err)
{
    size_t i = 0;

    if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
        i = 3;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    if (i == len)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "empty document");
    if (buf[i] == '{' || buf[i] == '[')
        return tdrv_json_parse(buf, len, out, err);
    return tdrv_yaml_parse(buf, len, out, err);
}

int tdrv_doc_read_fd(int fd, size_t max, cJSON **out, struct tdrv_err *err)
{
    cleanup_buf struct tdrv_buf b = {0};

    tdrv_buf_init(&b, max);
    if (tdrv_buf_read_fd(&b, fd, "standard input", err) < 0)
        return -1;
    return tdrv_doc_parse(b.data, b.len, out, err);
}

int tdrv_doc_read_file(const char *path, size_t max, cJSON **out, struct tdrv_err *err)
{
    cleanup_buf struct tdrv_buf b = {0};
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return tdrv_err_set(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_IO, errno,
                            "unable to open '%s'", path);
    tdrv_buf_init(&b, max);
    if (tdrv_buf_read_fd(&b, fd, path, err) < 0)
        return -1;
    if (tdrv_doc_parse(b.data, b.len, out, err) < 0)
        return tdrv_err_wrap(err, "%s", path);
    return 0;
}

const cJSON *tdrv_json_at(const cJSON *obj, const char *path)
{
    const char *p = path;

    while (obj && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        const cJSON *c;

        if (!cJSON_IsObject(obj))
            return NULL;
        for (c = obj->child; c; c = c->next)
            if (c->string && strlen(c->string) == n && !memcmp(c->string, p, n))
                break;
        obj = c;
        p += n;
        if (*p == '.')
            p++;
    }
    if (obj && cJSON_IsNull(obj))
        return NULL;
    return obj;
}

static int absent(const char *path, int flags, struct tdrv_err *err)
{
    if (flags & TDRV_REQUIRED)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "request.%s: required", path);
    return 0;
}

static int wrong_type(const char *path, const char *want, struct tdrv_err *err)
{
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "request.%s: expected %s", path,
                         want);
}

int tdrv_json_str(const cJSON *obj, const char *path, int flags, const char **out,
                  struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(obj, path);

    if (!v)
        return absent(path, flags, err);
    if (!cJSON_IsString(v))
        return wrong_type(path, "string", err);
    *out = v->valuestring;
    return 0;
}

int tdrv_json_bool(const cJSON *obj, const char *path, int flags, int *out, struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(obj, path);

    if (!v)
        return absent(path, flags, err);
    if (!cJSON_IsBool(v))
        return wrong_type(path, "boolean", err);
    *out = cJSON_IsTrue(v);
    return 0;
}

int tdrv_json_i64(const cJSON *obj, const char *path, int flags, int64_t min, int64_t max,
                  int64_t *out, struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(obj, path);
    double d;
    int64_t n;

    if (!v)
        return absent(path, flags, err);
    if (!cJSON_IsNumber(v))
        return wrong_type(path, "integer", err);
    d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return wrong_type(path, "integer", err);
    /* (double)INT64_MAX is 2^63, itself out of range: the conversion is checked first */
    if (tdrv_double_to_i64(d, &n) < 0 || n < min || n > max)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.%s: %.0f is out of range [%lld, %lld]", path, d,
                             (long long)min, (long long)max);
    *out = n;
    return 0;
}

int tdrv_double_to_i64(double d, int64_t *out)
{
    /* -2^63 <= d < 2^63, both bounds exact in a double */
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

int tdrv_json_obj(const cJSON *obj, const char *path, int flags, const cJSON **out,
                  struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(obj, path);

    if (!v)
        return absent(path, flags, err);
    if (!cJSON_IsObject(v))
        return wrong_type(path, "object", err);
    *out = v;
    return 0;
}

int tdrv_json_arr(const cJSON *obj, const char *path, int flags, const cJSON **out,
                  struct tdrv_err *err)
{
    const cJSON *v = tdrv_json_at(obj, path);

    if (!v)
        return absent(path, flags, err);
    if (!cJSON_IsArray(v))
        return wrong_type(path, "array", err);
    *out = v;
    return 0;
}

int tdrv_json_strarr(const cJSON *obj, const char *path, int flags, const cJSON **out,
                     struct tdrv_err *err)
{
    const cJSON *v = NULL;
    int i = 0;

    if (tdrv_json_arr(obj, path, flags, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    for (const cJSON *c = v->child; c; c = c->next, i++)
        if (!cJSON_IsString(c))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.%s[%d]: expected string", path, i);
    *out = v;
    return 0;
}

int tdrv_json_check_keys(const cJSON *obj, const char *const *allowed, const char *what,
                         struct tdrv_err *err)
{
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        const char *const *a;

        for (a = allowed; *a; a++)
            if (!strcmp(*a, c->string))
                break;
        if (!*a)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0, "%s: unknown option '%s'",
                                 what, c->string);
    }
    return 0;
}

cJSON *tdrv_json_xobj(void)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        tdrv_oom();
    return o;
}

cJSON *tdrv_json_xarr(void)
{
    cJSON *o = cJSON_CreateArray();

    if (!o)
        tdrv_oom();
    return o;
}

cJSON *tdrv_json_xstr(const char *s)
{
    cJSON *o = cJSON_CreateString(s);

    if (!o)
        tdrv_oom();
    return o;
}

cJSON *tdrv_json_xnum(double v)
{
    cJSON *o = cJSON_CreateNumber(v);

    if (!o)
        tdrv_oom();
    return o;
}

cJSON *tdrv_json_xdup(const cJSON *item)
{
    cJSON *o = cJSON_Duplicate(item, 1);

    if (!o)
        tdrv_oom();
    return o;
}

void tdrv_json_add(cJSON *obj, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        tdrv_oom();
    }
}

void tdrv_json_set(cJSON *obj, const char *key, cJSON *item)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
            cJSON_Delete(item);
            tdrv_oom();
        }
        return;
    }
    tdrv_json_add(obj, key, item);
}

void tdrv_json_add_str(cJSON *obj, const char *key, const char *s)
{
    tdrv_json_add(obj, key, s ? tdrv_json_xstr(s) : cJSON_CreateNull());
}

void tdrv_json_add_num(cJSON *obj, const char *key, double v)
{
    tdrv_json_add(obj, key, tdrv_json_xnum(v));
}

void tdrv_json_add_bool(cJSON *obj, const char *key, int v)
{
    cJSON *b = cJSON_CreateBool(v);

    if (!b)
        tdrv_oom();
    tdrv_json_add(obj, key, b);
}

void tdrv_json_append(cJSON *arr, cJSON *item)
{
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        tdrv_oom();
    }
}

int tdrv_json_emit(FILE *f, const cJSON *doc, struct tdrv_err *err)
{
    char *s = cJSON_PrintUnformatted(doc);
    int bad;

    if (!s)
        tdrv_oom();
    bad = fputs(s, f) == EOF || fputc('\n', f) == EOF;
    cJSON_free(s);
    if (bad || fflush(f) == EOF || ferror(f))
        return tdrv_err_setw(err, TDRV_E_IO, "write_failed", errno, "unable to write output");
    return 0;
}
