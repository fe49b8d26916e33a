#include "mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tdrv_oom(void)
{
    static const char m[] = "tdrv: fatal: out of memory\n";
    ssize_t r = write(2, m, sizeof(m) - 1);

    (void)r;
    _exit(71);
}

void *tdrv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        tdrv_oom();
    return p;
}

void *tdrv_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        tdrv_oom();
    return p;
}

void *tdrv_xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n ? n : 1);

    if (!r)
        tdrv_oom();
    return r;
}

char *tdrv_xstrdup(const char *s)
{
    char *r = strdup(s);

    if (!r)
        tdrv_oom();
    return r;
}

char *tdrv_xstrndup(const char *s, size_t n)
{
    char *r = strndup(s, n);

    if (!r)
        tdrv_oom();
    return r;
}

char *tdrv_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *r = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&r, fmt, ap);
    va_end(ap);
    if (n < 0)
        tdrv_oom();
    return r;
}

void tdrv_freep(void *p)
{
    free(*(void **)p);
}

void tdrv_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;

        close(*fd);
        errno = saved;
    }
}

void tdrv_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
