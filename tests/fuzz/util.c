/* Helpers linked into every libFuzzer target (not a target itself: no fuzz_ prefix). */
#include "fuzz.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

static char *scratch;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    if (scratch)
        nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(scratch);
    scratch = NULL;
}

char *fuzz_scratch_dir(void)
{
    const char *base = getenv("TMPDIR");
    size_t n;

    if (scratch)
        return scratch;
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    n = strlen(base) + sizeof("/tdrv-fuzz.XXXXXX");
    scratch = malloc(n);
    if (!scratch)
        abort();
    snprintf(scratch, n, "%s/tdrv-fuzz.XXXXXX", base);
    if (!mkdtemp(scratch)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t off = 0;

    if (fd < 0) {
        perror(path);
        abort();
    }
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);

        if (w < 0) {
            perror(path);
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
}
