#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

void tdrv_buf_init(struct tdrv_buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
}

void tdrv_buf_release(struct tdrv_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

int tdrv_buf_add(struct tdrv_buf *b, const void *p, size_t n, struct tdrv_err *err)
{
    if (n > b->cap || b->len > b->cap - n)
        return tdrv_err_setw(err, TDRV_E_DATA, "too_large", 0, "more than %zu bytes", b->cap);
    if (b->len + n + 1 > b->alloc) {
        size_t want = b->alloc ? b->alloc : 256;

        while (want < b->len + n + 1)
            want *= 2;
        if (want > b->cap + 1)
            want = b->cap + 1;
        b->data = tdrv_xrealloc(b->data, want);
        b->alloc = want;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tdrv_buf_addstr(struct tdrv_buf *b, const char *s, struct tdrv_err *err)
{
    return tdrv_buf_add(b, s, strlen(s), err);
}

int tdrv_buf_read_fd(struct tdrv_buf *b, int fd, const char *what, struct tdrv_err *err)
{
    char chunk[65536];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return tdrv_err_set(err, TDRV_E_IO, errno, "unable to read %s", what);
        }
        if (n == 0)
            break;
        if (tdrv_buf_add(b, chunk, (size_t)n, err) < 0)
            return tdrv_err_wrap(err, "%s is too large", what);
    }
    if (!b->data)
        return tdrv_buf_add(b, "", 0, err);
    return 0;
}

char *tdrv_buf_steal(struct tdrv_buf *b)
{
    char *r = b->data;

    if (!r)
        r = tdrv_xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return r;
}
