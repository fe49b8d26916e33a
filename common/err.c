#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *word;
} exit_words[] = {
    {TDRV_E_NO, "no"},
    {TDRV_E_USAGE, "usage"},
    {TDRV_E_DATA, "invalid_input"},
    {TDRV_E_NOINPUT, "not_found"},
    {TDRV_E_UNAVAILABLE, "unavailable"},
    {TDRV_E_SOFTWARE, "internal_error"},
    {TDRV_E_OS, "os_error"},
    {TDRV_E_CANTCREAT, "cannot_create"},
    {TDRV_E_IO, "io_error"},
    {TDRV_E_TEMPFAIL, "temporary_failure"},
    {TDRV_E_PROTOCOL, "protocol_error"},
    {TDRV_E_NOPERM, "permission_denied"},
    {TDRV_E_CONFIG, "invalid_config"},
};

const char *tdrv_exit_word(int code)
{
    for (size_t i = 0; i < sizeof(exit_words) / sizeof(exit_words[0]); i++)
        if (exit_words[i].code == code)
            return exit_words[i].word;
    return "error";
}

void tdrv_err_clear(struct tdrv_err *e)
{
    memset(e, 0, sizeof(*e));
}

static void set_word(struct tdrv_err *e, const char *word)
{
    char w[sizeof(e->word)];

    snprintf(w, sizeof(w), "%s", word ? word : tdrv_exit_word(e->code));
    memcpy(e->word, w, sizeof(w));
}

/*
 * Callers re-word an error with its own text ("manifest.json: %s", err->msg): format into a
 * buffer of our own first, as printing a string into itself is undefined (glibc repeats the
 * prefix: "manifest.json: manifest.json: s[1]: ...", found by fuzz_load).
 */
int tdrv_err_setv(struct tdrv_err *e, int code, const char *word, int sys_errno, const char *fmt,
                  va_list ap)
{
    char msg[sizeof(e->msg)];

    /* A full file system is one condition whichever call met it (a write out of blocks,
     * a mkdir out of inodes, a quota): 74 "no_space", so a caller can free space and retry. */
    if ((sys_errno == ENOSPC || sys_errno == EDQUOT) && !word &&
        (code == TDRV_E_OS || code == TDRV_E_IO)) {
        code = TDRV_E_IO;
        word = "no_space";
    }
    e->code = code;
    e->sys_errno = sys_errno;
    set_word(e, word);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (sys_errno) {
        size_t n = strlen(msg);

        snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(sys_errno));
    }
    memcpy(e->msg, msg, sizeof(msg));
    return -1;
}

int tdrv_err_set(struct tdrv_err *e, int code, int sys_errno, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tdrv_err_setv(e, code, NULL, sys_errno, fmt, ap);
    va_end(ap);
    return -1;
}

int tdrv_err_setw(struct tdrv_err *e, int code, const char *word, int sys_errno, const char *fmt,
                  ...)
{
    va_list ap;

    va_start(ap, fmt);
    tdrv_err_setv(e, code, word, sys_errno, fmt, ap);
    va_end(ap);
    return -1;
}

int tdrv_err_invalid(struct tdrv_err *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tdrv_err_setv(e, TDRV_E_DATA, "invalid_config", 0, fmt, ap);
    va_end(ap);
    return -1;
}

int tdrv_err_wrap(struct tdrv_err *e, const char *fmt, ...)
{
    char ctx[512];
    char old[sizeof(e->msg)];
    size_t n;
    size_t room;
    size_t len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    n = strlen(ctx);
    if (n > sizeof(e->msg) - 3)
        n = sizeof(e->msg) - 3;
    memcpy(e->msg, ctx, n);
    memcpy(e->msg + n, ": ", 2);
    n += 2;
    room = sizeof(e->msg) - n - 1;
    len = strnlen(old, room);
    memcpy(e->msg + n, old, len);
    e->msg[n + len] = '\0';
    if (!e->code)
        e->code = TDRV_E_SOFTWARE;
    if (!e->word[0])
        set_word(e, NULL);
    return -1;
}
