#ifndef TDRV_LOG_H
#define TDRV_LOG_H

enum tdrv_log_level {
    TDRV_LOG_QUIET = 0, /* errors only */
    TDRV_LOG_ERROR = 0,
    TDRV_LOG_WARN = 1,
    TDRV_LOG_INFO = 2,
    TDRV_LOG_DEBUG = 3,
};

enum tdrv_log_format {
    TDRV_LOG_TEXT = 0,
    TDRV_LOG_JSON = 1,
};

/* Set the tool name, and take TDRV_LOG (error|warning|info|debug) from the environment. */
void tdrv_log_init(const char *tool);
void tdrv_log_set_level(int level);
int tdrv_log_get_level(void);
void tdrv_log_set_format(enum tdrv_log_format f);
const char *tdrv_log_tool(void);

/* One call is one line on stderr; fmt has no '\n'. Errors always print. */
__attribute__((format(printf, 2, 3))) void tdrv_log(int level, const char *fmt, ...);

#define tdrv_error(...) tdrv_log(TDRV_LOG_ERROR, __VA_ARGS__)
#define tdrv_warn(...) tdrv_log(TDRV_LOG_WARN, __VA_ARGS__)
#define tdrv_info(...) tdrv_log(TDRV_LOG_INFO, __VA_ARGS__)
#define tdrv_debug(...) tdrv_log(TDRV_LOG_DEBUG, __VA_ARGS__)

#endif
