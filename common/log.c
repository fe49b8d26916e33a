#include "log.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_tool = "tdrv";
static int log_level = TDRV_LOG_WARN;
static enum tdrv_log_format log_format = TDRV_LOG_TEXT;
static int log_level_from_env;

void tdrv_log_init(const char *tool)
{
    const char *env = getenv("TDRV_LOG");

    log_tool = tool;
    if (!env)
        return;
    log_level_from_env = 1;
    if (!strcmp(env, "error") || !strcmp(env, "quiet"))
        log_level = TDRV_LOG_ERROR;
    else if (!strcmp(env, "warning") || !strcmp(env, "warn"))
        log_level = TDRV_LOG_WARN;
    else if (!strcmp(env, "info"))
        log_level = TDRV_LOG_INFO;
    else if (!strcmp(env, "debug"))
        log_level = TDRV_LOG_DEBUG;
    else
        log_level_from_env = 0;
}

void tdrv_log_set_level(int level)
{
    if (log_level_from_env)
        return;
    if (level < TDRV_LOG_ERROR)
        level = TDRV_LOG_ERROR;
    if (level > TDRV_LOG_DEBUG)
        level = TDRV_LOG_DEBUG;
    log_level = level;
}

int tdrv_log_get_level(void)
{
    return log_level;
}

void tdrv_log_set_format(enum tdrv_log_format f)
{
    log_format = f;
}

const char *tdrv_log_tool(void)
{
    return log_tool;
}

static const char *level_name(int level)
{
    switch (level) {
    case TDRV_LOG_ERROR:
        return "error";
    case TDRV_LOG_WARN:
        return "warning";
    case TDRV_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void tdrv_log(int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_format == TDRV_LOG_JSON) {
        char ts[40];
        struct timespec now;
        struct tm tm;
        cJSON *o = cJSON_CreateObject();
        char *line;

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ", now.tv_nsec / 1000000);
        if (!o)
            return;
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "level", level_name(level));
        cJSON_AddStringToObject(o, "tool", log_tool);
        cJSON_AddStringToObject(o, "msg", msg);
        line = cJSON_PrintUnformatted(o);
        if (line) {
            fprintf(stderr, "%s\n", line);
            cJSON_free(line);
        }
        cJSON_Delete(o);
        return;
    }
    {
        /* one line, whatever the message holds: a control character (a newline, an escape
         * sequence from a task document) is written as \xHH */
        char line[sizeof(msg) * 4];
        size_t o = 0;

        for (const char *p = msg; *p && o + 5 < sizeof(line); p++) {
            unsigned char c = (unsigned char)*p;

            if (c < 0x20 || c == 0x7f)
                o += (size_t)snprintf(line + o, sizeof(line) - o, "\\x%02x", c);
            else
                line[o++] = (char)c;
        }
        line[o] = '\0';
        fprintf(stderr, "%s: %s: %s\n", log_tool, level_name(level), line);
    }
}
