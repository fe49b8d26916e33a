#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

#define WALK_MAX_LINKS 40

/* Take the next component of *rest off it into comp; 0 at the end, -1 when too long. *more:
 * components follow; *trail: a slash follows (the last component must be a directory). */
static int next_comp(char *rest, char *comp, size_t size, int *more, int *trail)
{
    char *p = rest;
    size_t len;
    char *after;

    while (*p == '/')
        p++;
    if (!*p)
        return 0;
    len = strcspn(p, "/");
    if (len >= size)
        return -1;
    memcpy(comp, p, len);
    comp[len] = '\0';
    after = p + len;
    *more = after[strspn(after, "/")] != '\0';
    *trail = after[0] == '/';
    memmove(rest, after, strlen(after) + 1);
    return 1;
}

/* Is fd the root (rst)? ".." stops there. */
static int at_root(int fd, const struct stat *rst)
{
    struct stat st;

    return fstat(fd, &st) == 0 && st.st_dev == rst->st_dev && st.st_ino == rst->st_ino;
}

int tdrv_openat_walk(int dirfd, const char *path, int flags, int beneath)
{
    struct stat rst;
    int cur;
    int links = 0;
    int rc = -1;
    int e = 0;
    int more = 0;
    int trail = 0;
    int r;
    char comp[256];
    char *rest = NULL;

    cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0 || fstat(cur, &rst) < 0) {
        e = errno;
        goto out;
    }
    rest = tdrv_xstrdup(path);
    if (beneath && rest[0] == '/') {
        e = EXDEV;
        goto out;
    }
    while ((r = next_comp(rest, comp, sizeof(comp), &more, &trail)) != 0) {
        struct stat st;
        int fd;

        if (r < 0) {
            e = ENAMETOOLONG;
            goto out;
        }
        if (!strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            /* up from a directory we walked down to, never above the root */
            if (at_root(cur, &rst)) {
                if (beneath) {
                    e = EXDEV;
                    goto out;
                }
                continue;
            }
            fd = openat(cur, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                e = errno;
                goto out;
            }
            close(cur);
            cur = fd;
            continue;
        }
        fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            e = errno;
            if (fd >= 0)
                close(fd);
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = -1;
            char *next;

            if (!more && !trail && (flags & O_NOFOLLOW)) { /* the link itself (O_PATH), or ELOOP */
                close(fd);
                rc = openat(cur, comp, flags | O_CLOEXEC);
                e = errno;
                goto out;
            }
            if (++links <= WALK_MAX_LINKS)
                n = readlinkat(fd, "", target, sizeof(target) - 1);
            e = links > WALK_MAX_LINKS ? ELOOP : n < 0 ? errno : n == 0 ? ENOENT : 0;
            close(fd);
            if (e)
                goto out;
            target[n] = '\0';
            if (target[0] == '/') {
                if (beneath) {
                    e = EXDEV;
                    goto out;
                }
                fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                    e = errno;
                    goto out;
                }
                close(cur);
                cur = fd;
            }
            /* what is left after the target; "link/" keeps its slash (a directory) */
            next = *rest || trail ? tdrv_xasprintf("%s/%s", target, rest) : tdrv_xstrdup(target);
            free(rest);
            rest = next;
            continue;
        }
        if (!more) { /* the last component, from its parent, never through a symlink */
            close(fd);
            rc = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC | (trail ? O_DIRECTORY : 0));
            e = errno;
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            e = ENOTDIR;
            goto out;
        }
        close(cur);
        cur = fd;
    }
    /* the path ends at the directory we are in (the root, or after "." or "..") */
    rc = openat(cur, ".", flags | O_CLOEXEC);
    e = errno;
out:
    if (cur >= 0)
        close(cur);
    free(rest);
    errno = e;
    return rc;
}

int tdrv_openat_resolved(int dirfd, const char *path, int flags, int beneath)
{
    static int no_openat2 = -1; /* layer unpack threads share it: relaxed atomics */
    int no = __atomic_load_n(&no_openat2, __ATOMIC_RELAXED);
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                           .resolve = (beneath ? RESOLVE_BENEATH : RESOLVE_IN_ROOT) |
                                      RESOLVE_NO_MAGICLINKS};
    long r;

    if (no < 0) {
        const char *v = getenv("TDRV_NO_OPENAT2");

        no = v && !strcmp(v, "1");
        __atomic_store_n(&no_openat2, no, __ATOMIC_RELAXED);
    }
    if (!no) {
        do
            r = syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
        while (r < 0 && (errno == EINTR || errno == EAGAIN));
        if (r >= 0 || errno != ENOSYS)
            return (int)r;
        __atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
    }
    return tdrv_openat_walk(dirfd, path, flags, beneath);
}
