#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

int tdrv_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tdrv_mkdir_p(int dirfd, const char *path, mode_t mode, struct tdrv_err *err)
{
    cleanup_free char *p = NULL;
    size_t n;

    /* the common case, the parent exists: one mkdir, not one per component */
    if (mkdirat(dirfd, path, mode) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create directory '%s'", path);
    p = tdrv_xstrdup(path);
    n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdirat(dirfd, p, mode) < 0 && errno != EEXIST)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create directory '%s'", p);
        if (i < n)
            p[i] = '/';
    }
    return 0;
}

static int rm_rf_depth(int parent, const char *name, int depth, struct tdrv_err *err)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int fd;
    int rc = 0;

    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to stat '%s'", name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to remove '%s'", name);
        return 0;
    }
    if (depth > 4096)
        return tdrv_err_set(err, TDRV_E_DATA, ELOOP, "directory tree too deep at '%s'", name);
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", name);
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to read '%s'", name);
    }
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        rc = rm_rf_depth(dirfd(d), de->d_name, depth + 1, err);
    }
    closedir(d);
    if (rc < 0)
        return rc;
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to remove '%s'", name);
    return 0;
}

int tdrv_rm_rf_at(int dirfd, const char *name, struct tdrv_err *err)
{
    return rm_rf_depth(dirfd, name, 0, err);
}

static int write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    int sync, struct tdrv_err *err)
{
    static unsigned counter;
    cleanup_free char *tmp =
        tdrv_xasprintf("%s.tmp-%d-%u", name, (int)getpid(), __atomic_add_fetch(&counter, 1, 0));
    cleanup_close int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", tmp);
    if (tdrv_write_all(fd, data, len) < 0 || (sync && fsync(fd) < 0)) {
        int e = errno;

        unlinkat(dirfd, tmp, 0);
        return tdrv_err_set(err, TDRV_E_IO, e, "unable to write '%s'", tmp);
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        int e = errno;

        unlinkat(dirfd, tmp, 0);
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to rename '%s'", tmp);
    }
    return 0;
}

int tdrv_write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       struct tdrv_err *err)
{
    return write_at(dirfd, name, data, len, mode, 1, err);
}

int tdrv_write_state_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                        struct tdrv_err *err)
{
    return write_at(dirfd, name, data, len, mode, 0, err);
}

int tdrv_read_file_at(int dirfd, const char *name, size_t max, char **data, size_t *len,
                      struct tdrv_err *err)
{
    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    cleanup_free char *buf = NULL;
    size_t n = 0;
    size_t alloc = 0;

    if (fd < 0)
        return tdrv_err_set(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_OS, errno,
                            "unable to open '%s'", name);
    for (;;) {
        ssize_t r;

        if (n + 1 >= alloc) {
            alloc = alloc ? alloc * 2 : 4096;
            buf = tdrv_xrealloc(buf, alloc);
        }
        r = read(fd, buf + n, alloc - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return tdrv_err_set(err, TDRV_E_IO, errno, "unable to read '%s'", name);
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            return tdrv_err_set(err, TDRV_E_DATA, 0, "'%s' is larger than %zu bytes", name, max);
    }
    if (!buf)
        buf = tdrv_xmalloc(1);
    buf[n] = '\0';
    *data = steal_ptr(&buf);
    if (len)
        *len = n;
    return 0;
}

int tdrv_lock_at(int dirfd, const char *name, int *fd, struct tdrv_err *err)
{
    cleanup_close int f = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (f < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open lock '%s'", name);
    while (flock(f, LOCK_EX) < 0) {
        if (errno != EINTR)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s'", name);
    }
    *fd = steal_fd(&f);
    return 0;
}
