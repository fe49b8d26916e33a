/* Shared by the libFuzzer targets in tests/fuzz/: the entry points and an assert that aborts. */
#ifndef TDRV_FUZZ_H
#define TDRV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: say which, then abort() so libFuzzer saves the input as a crash. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: broken invariant: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a C string (malloc'd; it stops at the first NUL byte, as a C caller's would). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * A scratch directory for targets that read files, removed at exit (libFuzzer exits through
 * exit(), so atexit handlers run). Returns its malloc'd path, kept for the whole run.
 */
char *fuzz_scratch_dir(void);
/* Write data to path (created or truncated); aborts on failure. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

#endif
