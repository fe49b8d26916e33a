#include "yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "json.h"
#include "mem.h"

struct yctx {
    yaml_parser_t parser;
    struct tdrv_err *err;
};

static int yerr(struct yctx *y, const yaml_mark_t *m, const char *what)
{
    return tdrv_err_set(y->err, TDRV_E_DATA, 0, "malformed YAML at line %zu, column %zu: %s",
                        m->line + 1, m->column + 1, what);
}

static int next_event(struct yctx *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev)) {
        yaml_mark_t m = y->parser.problem_mark;

        return tdrv_err_set(y->err, TDRV_E_DATA, 0, "malformed YAML at line %zu, column %zu: %s",
                            m.line + 1, m.column + 1,
                            y->parser.problem ? y->parser.problem : "parse error");
    }
    return 0;
}

static int is_plain_match(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcmp(s, *words))
            return 1;
    return 0;
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static cJSON *plain_scalar(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    char *end = NULL;

    if (is_plain_match(s, nulls))
        return cJSON_CreateNull();
    if (is_plain_match(s, trues))
        return cJSON_CreateTrue();
    if (is_plain_match(s, falses))
        return cJSON_CreateFalse();
    if (*s && strspn(s, "+-0123456789") > 0) {
        const char *d = s + (*s == '-' || *s == '+');

        if (*d && strspn(d, "0123456789") == strlen(d)) {
            errno = 0;
            double v = strtod(s, &end);

            if (end && !*end && errno == 0)
                return cJSON_CreateNumber(v);
        }
    }
    if (!strncmp(s, "0x", 2) && s[2] && strspn(s + 2, "0123456789abcdefABCDEF") == strlen(s + 2))
        return cJSON_CreateNumber((double)strtoull(s + 2, NULL, 16));
    if (!strncmp(s, "0o", 2) && s[2] && strspn(s + 2, "01234567") == strlen(s + 2))
        return cJSON_CreateNumber((double)strtoull(s + 2, NULL, 8));
    if (*s && strspn(s, "+-0123456789.eE") == strlen(s) && strpbrk(s, "0123456789")) {
        errno = 0;
        double v = strtod(s, &end);

        if (end && !*end && errno == 0 && isfinite(v))
            return cJSON_CreateNumber(v);
    }
    return cJSON_CreateString(s);
}

static int parse_node(struct yctx *y, yaml_event_t *ev, int depth, cJSON **out);

static int check_anchor(struct yctx *y, yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL;

    if (ev->type == YAML_SCALAR_EVENT)
        anchor = ev->data.scalar.anchor;
    else if (ev->type == YAML_SEQUENCE_START_EVENT)
        anchor = ev->data.sequence_start.anchor;
    else if (ev->type == YAML_MAPPING_START_EVENT)
        anchor = ev->data.mapping_start.anchor;
    if (anchor)
        return yerr(y, &ev->start_mark, "anchors are not allowed");
    return 0;
}

static int parse_seq(struct yctx *y, int depth, cJSON *arr)
{
    for (;;) {
        yaml_event_t ev;
        cJSON *item = NULL;
        int rc;

        if (next_event(y, &ev) < 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        rc = parse_node(y, &ev, depth, &item);
        yaml_event_delete(&ev);
        if (rc < 0)
            return -1;
        tdrv_json_append(arr, item);
    }
}

static int parse_map(struct yctx *y, int depth, cJSON *obj)
{
    for (;;) {
        yaml_event_t ev;
        cJSON *item = NULL;
        cleanup_free char *key = NULL;
        yaml_mark_t km;
        int rc;

        if (next_event(y, &ev) < 0)
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        km = ev.start_mark;
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = yerr(y, &km,
                      ev.type == YAML_ALIAS_EVENT ? "aliases are not allowed"
                                                  : "mapping keys must be scalars");
            yaml_event_delete(&ev);
            return rc;
        }
        if (check_anchor(y, &ev) < 0) {
            yaml_event_delete(&ev);
            return -1;
        }
        key = tdrv_xstrdup((const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
        if (!strcmp(key, "<<"))
            return yerr(y, &km, "merge keys are not allowed");
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
            char what[300];

            snprintf(what, sizeof(what), "duplicate key '%.200s'", key);
            return yerr(y, &km, what);
        }
        if (next_event(y, &ev) < 0)
            return -1;
        rc = parse_node(y, &ev, depth, &item);
        yaml_event_delete(&ev);
        if (rc < 0)
            return -1;
        tdrv_json_add(obj, key, item);
    }
}

static int parse_node(struct yctx *y, yaml_event_t *ev, int depth, cJSON **out)
{
    cJSON *node = NULL;

    if (ev->type == YAML_ALIAS_EVENT)
        return yerr(y, &ev->start_mark, "aliases are not allowed");
    if (check_anchor(y, ev) < 0)
        return -1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;

        if (strlen(v) != ev->data.scalar.length)
            return yerr(y, &ev->start_mark, "NUL byte in scalar");
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag)
            node = plain_scalar(v);
        else
            node = cJSON_CreateString(v);
        if (!node)
            tdrv_oom();
        *out = node;
        return 0;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (depth >= TDRV_MAX_DEPTH)
            return yerr(y, &ev->start_mark, "nested too deeply");
        node = ev->type == YAML_SEQUENCE_START_EVENT ? tdrv_json_xarr() : tdrv_json_xobj();
        if ((ev->type == YAML_SEQUENCE_START_EVENT ? parse_seq(y, depth + 1, node)
                                                   : parse_map(y, depth + 1, node)) < 0) {
            cJSON_Delete(node);
            return -1;
        }
        *out = node;
        return 0;
    default:
        return yerr(y, &ev->start_mark, "unexpected event");
    }
}

int tdrv_yaml_parse(const char *buf, size_t len, cJSON **out, struct tdrv_err *err)
{
    struct yctx y = {.err = err};
    yaml_event_t ev;
    cJSON *root = NULL;
    int rc = -1;
    int state = 0; /* 0 before doc, 1 in doc, 2 after doc */

    if (!yaml_parser_initialize(&y.parser))
        tdrv_oom();
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)buf, len);
    for (;;) {
        if (next_event(&y, &ev) < 0)
            goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT) {
            if (state != 0) {
                yerr(&y, &ev.start_mark, "more than one document");
                yaml_event_delete(&ev);
                goto out;
            }
            state = 1;
            yaml_event_delete(&ev);
            continue;
        }
        if (parse_node(&y, &ev, 0, &root) < 0) {
            yaml_event_delete(&ev);
            goto out;
        }
        yaml_event_delete(&ev);
    }
    if (!root) {
        tdrv_err_set(err, TDRV_E_DATA, 0, "empty document");
        goto out;
    }
    *out = root;
    root = NULL;
    rc = 0;
out:
    cJSON_Delete(root);
    yaml_parser_delete(&y.parser);
    return rc;
}
