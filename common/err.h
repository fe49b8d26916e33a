#ifndef TDRV_ERR_H
#define TDRV_ERR_H

#include <stdarg.h>

/* Exit statuses (sysexits.h numbers), DESIGN §5. */
enum tdrv_exit {
    TDRV_E_OK = 0,
    TDRV_E_NO = 1,
    TDRV_E_USAGE = 64,
    TDRV_E_DATA = 65,
    TDRV_E_NOINPUT = 66,
    TDRV_E_UNAVAILABLE = 69,
    TDRV_E_SOFTWARE = 70,
    TDRV_E_OS = 71,
    TDRV_E_CANTCREAT = 73,
    TDRV_E_IO = 74,
    TDRV_E_TEMPFAIL = 75,
    TDRV_E_PROTOCOL = 76,
    TDRV_E_NOPERM = 77,
    TDRV_E_CONFIG = 78,
};

/*
 * The error a fallible function reports. The caller owns it (zeroed), the
 * callee fills it once at the failure; callers only add context.
 * `word` is the stable machine code of the JSON error (`auth_failed`, ...);
 * when a setter does not name one, the exit status's default word is used, except that
 * an OS or I/O error whose errno is ENOSPC or EDQUOT becomes 74 "no_space".
 */
struct tdrv_err {
    int code;
    int sys_errno;
    int passthrough; /* the input document already carried this error */
    char word[40];
    char msg[1024];
};

__attribute__((format(printf, 4, 5))) int tdrv_err_set(struct tdrv_err *e, int code, int sys_errno,
                                                       const char *fmt, ...);
__attribute__((format(printf, 5, 6))) int
tdrv_err_setw(struct tdrv_err *e, int code, const char *word, int sys_errno, const char *fmt, ...);
__attribute__((format(printf, 5, 0))) int tdrv_err_setv(struct tdrv_err *e, int code,
                                                        const char *word, int sys_errno,
                                                        const char *fmt, va_list ap);
/* A task option with a wrong type or value: 65, "invalid_config". */
__attribute__((format(printf, 2, 3))) int tdrv_err_invalid(struct tdrv_err *e, const char *fmt,
                                                           ...);
__attribute__((format(printf, 2, 3))) int tdrv_err_wrap(struct tdrv_err *e, const char *fmt, ...);

/* The default machine word for an exit status ("usage", "invalid_input", ...). */
const char *tdrv_exit_word(int code);
/* Clear an error so the struct can be reused. */
void tdrv_err_clear(struct tdrv_err *e);

#endif
