/* Error objects: codes, words, errno text, and a full disk's one code. */
#include <errno.h>

#include "err.h"
#include "tap.h"

void test_err(void);

static const struct {
    int code;
    const char *word;
    int sys_errno;
    int want_code;
    const char *want_word;
} cases[] = {
    {TDRV_E_OS, NULL, ENOENT, TDRV_E_OS, "os_error"},
    {TDRV_E_IO, NULL, EIO, TDRV_E_IO, "io_error"},
    /* a full disk, whichever call met it */
    {TDRV_E_OS, NULL, ENOSPC, TDRV_E_IO, "no_space"},
    {TDRV_E_IO, NULL, ENOSPC, TDRV_E_IO, "no_space"},
    {TDRV_E_OS, NULL, EDQUOT, TDRV_E_IO, "no_space"},
    /* a setter's own word and other statuses are kept */
    {TDRV_E_IO, "write_failed", ENOSPC, TDRV_E_IO, "write_failed"},
    {TDRV_E_CANTCREAT, NULL, ENOSPC, TDRV_E_CANTCREAT, "cannot_create"},
    {TDRV_E_UNAVAILABLE, NULL, ENOSPC, TDRV_E_UNAVAILABLE, "unavailable"},
};

void test_err(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tdrv_err e = {0};

        CHECK_INT(tdrv_err_setw(&e, cases[i].code, cases[i].word, cases[i].sys_errno,
                                "unable to write '%s'", "x"),
                  -1, "err case %zu returns -1", i);
        CHECK_INT(e.code, cases[i].want_code, "err case %zu: code", i);
        CHECK_STR(e.word, cases[i].want_word, "err case %zu: word", i);
        CHECK_INT(e.sys_errno, cases[i].sys_errno, "err case %zu: errno kept", i);
    }
    {
        struct tdrv_err e = {0};

        tdrv_err_set(&e, TDRV_E_OS, ENOSPC, "unable to create directory '%s'", "home");
        tdrv_err_wrap(&e, "layer %s", "sha256:ab");
        CHECK_STR(e.msg,
                  "layer sha256:ab: unable to create directory 'home': No space left on device",
                  "a full disk's message names the cause");
        CHECK_STR(e.word, "no_space", "wrapping keeps no_space");
    }
}
