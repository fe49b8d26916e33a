#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mem.h"

void tdrv_cli_init(const struct tdrv_tool *tool)
{
    opterr = 0;
    tdrv_log_init(tool->name);
}

int tdrv_cli_std(const struct tdrv_tool *tool, int c, char **argv, struct tdrv_err *err)
{
    switch (c) {
    case 'h':
        fputs(tool->usage, stdout);
        exit(fflush(stdout) == EOF || ferror(stdout) ? TDRV_E_IO : 0);
    case 'V':
        printf("%s %s\n", tool->name, TDRV_VERSION);
        exit(fflush(stdout) == EOF || ferror(stdout) ? TDRV_E_IO : 0);
    case 'v':
        tdrv_log_set_level(tdrv_log_get_level() + 1);
        return 0;
    case 'q':
        tdrv_log_set_level(TDRV_LOG_ERROR);
        return 0;
    case TDRV_OPT_LOG_FORMAT:
        if (!strcmp(optarg, "text"))
            tdrv_log_set_format(TDRV_LOG_TEXT);
        else if (!strcmp(optarg, "json"))
            tdrv_log_set_format(TDRV_LOG_JSON);
        else
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                 "invalid --log-format '%s' (expected text or json)", optarg);
        return 0;
    case ':':
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "option '%s' requires an argument",
                             argv[optind - 1]);
    case '?':
    default:
        if (optopt && optopt < 0x100)
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unknown option '-%c'", optopt);
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unknown option '%s'",
                             argv[optind - 1]);
    }
}

int tdrv_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, struct tdrv_err *err)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid number '%s'", s ? s : "");
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || !end || *end)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid number '%s'", s);
    if (v < min || v > max)
        return tdrv_err_set(err, TDRV_E_DATA, 0, "number %s is out of range [%llu, %llu]", s,
                            (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

cJSON *tdrv_error_json(const char *tool, const struct tdrv_err *err)
{
    cJSON *e = tdrv_json_xobj();
    int code = err->code ? err->code : TDRV_E_SOFTWARE;

    tdrv_json_add_str(e, "tool", tool);
    tdrv_json_add_str(e, "code", err->word[0] ? err->word : tdrv_exit_word(code));
    tdrv_json_add_num(e, "exit", code);
    if (err->sys_errno)
        tdrv_json_add_num(e, "errno", err->sys_errno);
    tdrv_json_add_str(e, "message", err->msg[0] ? err->msg : "unknown error");
    return e;
}

int tdrv_finish(const struct tdrv_tool *tool, int rc, cJSON *doc, struct tdrv_err *err)
{
    struct tdrv_err werr = {0};
    cJSON *empty = NULL;
    int code;

    if (rc == 0 && !err->code) {
        if (doc && tdrv_json_emit(stdout, doc, &werr) < 0) {
            tdrv_error("%s", werr.msg);
            return TDRV_E_IO;
        }
        return 0;
    }
    code = err->code ? err->code : TDRV_E_SOFTWARE;
    if (err->passthrough) {
        if (doc && tdrv_json_emit(stdout, doc, &werr) < 0)
            tdrv_error("%s", werr.msg);
        return code;
    }
    if (!doc)
        doc = empty = tdrv_json_xobj();
    tdrv_json_set(doc, "error", tdrv_error_json(tool->name, err));
    if (tdrv_json_emit(stdout, doc, &werr) < 0)
        code = TDRV_E_IO;
    tdrv_error("%s", err->msg[0] ? err->msg : "unknown error");
    if (werr.code)
        tdrv_error("%s", werr.msg);
    if (err->code == TDRV_E_USAGE)
        fprintf(stderr, "%s: try '%s --help'\n", tool->name, tool->name);
    cJSON_Delete(empty);
    return code;
}
