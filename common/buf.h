#ifndef TDRV_BUF_H
#define TDRV_BUF_H

#include <stddef.h>

#include "err.h"

/* A growable byte buffer with a mandatory cap (curl's dynbuf "toobig"). Always NUL-terminated. */
struct tdrv_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
};

void tdrv_buf_init(struct tdrv_buf *b, size_t cap);
void tdrv_buf_release(struct tdrv_buf *b);
int tdrv_buf_add(struct tdrv_buf *b, const void *p, size_t n, struct tdrv_err *err);
int tdrv_buf_addstr(struct tdrv_buf *b, const char *s, struct tdrv_err *err);
/* Read all of fd into the buffer, failing with 65 past the cap. */
int tdrv_buf_read_fd(struct tdrv_buf *b, int fd, const char *what, struct tdrv_err *err);
char *tdrv_buf_steal(struct tdrv_buf *b);

#define cleanup_buf __attribute__((cleanup(tdrv_buf_release)))

#endif
