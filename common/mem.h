#ifndef TDRV_MEM_H
#define TDRV_MEM_H

#include <stddef.h>
#include <stdio.h>

/* Report exhaustion on stderr and exit 71. */
__attribute__((noreturn)) void tdrv_oom(void);

/* Allocation that never returns NULL: on exhaustion the process reports and exits 71. */
void *tdrv_xmalloc(size_t n);
void *tdrv_xcalloc(size_t nmemb, size_t size);
void *tdrv_xrealloc(void *p, size_t n);
char *tdrv_xstrdup(const char *s);
char *tdrv_xstrndup(const char *s, size_t n);
__attribute__((format(printf, 1, 2))) char *tdrv_xasprintf(const char *fmt, ...);

void tdrv_freep(void *p);
void tdrv_closep(int *fd);
void tdrv_fclosep(FILE **f);

#define cleanup_free __attribute__((cleanup(tdrv_freep)))
#define cleanup_close __attribute__((cleanup(tdrv_closep)))
#define cleanup_fclose __attribute__((cleanup(tdrv_fclosep)))

/* Take ownership out of a cleanup variable (type-checked, as bubblewrap's steal_pointer). */
static inline void *tdrv_steal_ptr_(void *pp)
{
    void **p = (void **)pp;
    void *r = *p;
    *p = NULL;
    return r;
}
#define steal_ptr(pp) ((__typeof__(*(pp)))tdrv_steal_ptr_(pp))

static inline int steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}

#define TDRV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
