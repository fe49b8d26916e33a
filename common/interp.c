/* ${...} interpolation of task strings, as Nomad's client/taskenv does it. */
#include "interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

#define ENV_INDEX_OPEN "env[\""
#define ENV_INDEX_CLOSE "\"]}"

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* A value as text: strings as they are, numbers and booleans as JSON writes them. */
static const char *value_text(const cJSON *v, char *num, size_t n)
{
    if (cJSON_IsString(v) && v->valuestring)
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;

        if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(long long)d)
            snprintf(num, n, "%lld", (long long)d);
        else if (snprintf(num, n, "%.15g", d) > 0 && strtod(num, NULL) != d)
            snprintf(num, n, "%.17g", d); /* the shortest of the two that reads back, as cJSON */
        return num;
    }
    return NULL;
}

static const char *get(const cJSON *obj, const char *key, char *num, size_t n)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    return value_text(cJSON_GetObjectItemCaseSensitive(obj, key), num, n);
}

/* Resolve a ${name}: the env first, then node., attr. and meta. names. */
static const char *lookup(const struct tdrv_interp *ctx, const char *name, char *num, size_t n)
{
    const char *v = get(ctx->env, name, num, n);

    if (v)
        return v;
    if (!strncmp(name, "node.", 5))
        return get(ctx->node, name + 5, num, n);
    if (!strncmp(name, "attr.", 5))
        return get(ctx->attrs, name + 5, num, n);
    if (!strncmp(name, "meta.", 5))
        return get(ctx->meta, name + 5, num, n);
    return NULL;
}

/*
 * At p == "${": the length of the reference and its value, or 0 when no reference starts
 * here (the '$' is then literal text).
 */
static size_t reference(const struct tdrv_interp *ctx, const char *p, const char **value, char *num,
                        size_t n)
{
    const char *name = p + 2;
    const char *q = name;
    cleanup_free char *key = NULL;

    *value = NULL;
    while (is_name_char(*q))
        q++;
    if (q > name && *q == '}') {
        key = tdrv_xstrndup(name, (size_t)(q - name));
        *value = lookup(ctx, key, num, n);
        return (size_t)(q + 1 - p);
    }
    if (!strncmp(name, ENV_INDEX_OPEN, strlen(ENV_INDEX_OPEN))) {
        const char *k = name + strlen(ENV_INDEX_OPEN);

        for (q = k; *q && *q != '"' && *q != '\\' && *q != '}'; q++)
            ;
        if (q > k && !strncmp(q, ENV_INDEX_CLOSE, strlen(ENV_INDEX_CLOSE))) {
            key = tdrv_xstrndup(k, (size_t)(q - k));
            *value = get(ctx->env, key, num, n);
            return (size_t)(q + strlen(ENV_INDEX_CLOSE) - p);
        }
    }
    return 0;
}

static int interp_into(const struct tdrv_interp *ctx, const char *in, struct tdrv_buf *b,
                       struct tdrv_err *err)
{
    const char *p = in;

    while (*p) {
        const char *dollar = strstr(p, "${");
        const char *value = NULL;
        char num[32];
        size_t len;

        if (!dollar)
            return tdrv_buf_addstr(b, p, err);
        if (tdrv_buf_add(b, p, (size_t)(dollar - p), err) < 0)
            return -1;
        len = reference(ctx, dollar, &value, num, sizeof(num));
        if (len == 0) {
            if (tdrv_buf_add(b, dollar, 1, err) < 0)
                return -1;
            p = dollar + 1;
            continue;
        }
        if (value ? tdrv_buf_addstr(b, value, err) : tdrv_buf_add(b, dollar, len, err))
            return -1;
        p = dollar + len;
    }
    return 0;
}

char *tdrv_interp_str(const struct tdrv_interp *ctx, const char *in, struct tdrv_err *err)
{
    cleanup_buf struct tdrv_buf b = {0};

    tdrv_buf_init(&b, TDRV_INTERP_MAX);
    if (interp_into(ctx, in, &b, err) < 0) {
        tdrv_err_wrap(err, "unable to interpolate string");
        return NULL;
    }
    return tdrv_buf_steal(&b);
}

struct walk {
    const struct tdrv_interp *ctx;
    size_t budget; /* bytes the document's strings may still take */
    char path[512];
};

static int walk(struct walk *w, cJSON *v, size_t plen, struct tdrv_err *err)
{
    if (cJSON_IsString(v) && v->valuestring) {
        cleanup_buf struct tdrv_buf b = {0};

        if (!strstr(v->valuestring, "${"))
            return 0;
        tdrv_buf_init(&b, w->budget < TDRV_INTERP_MAX ? w->budget : TDRV_INTERP_MAX);
        if (interp_into(w->ctx, v->valuestring, &b, err) < 0) {
            if (b.cap == TDRV_INTERP_MAX)
                return tdrv_err_wrap(err, "unable to interpolate '%s'", plen ? w->path : "value");
            /* The document's budget ran out, not this string's own limit: say so. */
            tdrv_err_clear(err);
            return tdrv_err_setw(err, TDRV_E_DATA, "too_large", 0,
                                 "unable to interpolate '%s': the document's strings grow past "
                                 "%zu bytes",
                                 plen ? w->path : "value", 4 * (size_t)TDRV_INTERP_MAX);
        }
        w->budget -= b.len;
        if (!cJSON_SetValuestring(v, b.data ? b.data : ""))
            tdrv_oom();
        return 0;
    }
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        size_t i = 0;
        cJSON *c;

        cJSON_ArrayForEach(c, v)
        {
            int n;

            if (cJSON_IsArray(v))
                n = snprintf(w->path + plen, sizeof(w->path) - plen, "[%zu]", i);
            else
                n = snprintf(w->path + plen, sizeof(w->path) - plen, "%s%s", plen ? "." : "",
                             c->string ? c->string : "");
            if (n < 0 || (size_t)n >= sizeof(w->path) - plen)
                n = (int)(sizeof(w->path) - 1 - plen);
            if (walk(w, c, plen + (size_t)n, err) < 0)
                return -1;
            w->path[plen] = '\0';
            i++;
        }
    }
    return 0;
}

int tdrv_interp_json(const struct tdrv_interp *ctx, cJSON *v, struct tdrv_err *err)
{
    struct walk w = {.ctx = ctx, .budget = 4 * (size_t)TDRV_INTERP_MAX};

    return walk(&w, v, 0, err);
}
