#ifndef TDRV_FS_H
#define TDRV_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* File-system helpers relative to directory fds; none follows a symlink in the last
 * component unless it says so. */

/* mkdir -p of path (relative to dirfd, or absolute); existing directories are fine. */
int tdrv_mkdir_p(int dirfd, const char *path, mode_t mode, struct tdrv_err *err);
/* rm -rf dirfd/name, never following symlinks; a missing name is fine. */
int tdrv_rm_rf_at(int dirfd, const char *name, struct tdrv_err *err);
/* Write data to dirfd/name atomically (temporary name, fsync, rename). */
int tdrv_write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       struct tdrv_err *err);
/* The same without fsync, for records of a mount or a process, which a crash removes too
 * (a rootfs pin, a bundle's image.json): the rename stays the atomic step. An fsync costs
 * 0.5 ms on an idle disk and tens of ms on a busy one, on tdrv-run's start path. */
int tdrv_write_state_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                        struct tdrv_err *err);
/* Read dirfd/name whole, at most max bytes (65 past it, 66 missing); *data NUL-terminated. */
int tdrv_read_file_at(int dirfd, const char *name, size_t max, char **data, size_t *len,
                      struct tdrv_err *err);
/* Open (creating) dirfd/name and take an exclusive flock on it, waiting. */
int tdrv_lock_at(int dirfd, const char *name, int *fd, struct tdrv_err *err);
/*
 * openat2(dirfd, path, {flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS}), or with `beneath`
 * RESOLVE_BENEATH instead of RESOLVE_IN_ROOT: path resolved with dirfd as its root (".." and
 * absolute symlink targets stop there) or beneath it (whatever would leave it is EXDEV).
 * Where the kernel has no openat2 (before 5.6, valgrind, a seccomp profile answering ENOSYS)
 * the same walk is done here (tdrv_openat_walk). Returns the fd, or -1 with errno.
 */
int tdrv_openat_resolved(int dirfd, const char *path, int flags, int beneath);
/* The walk itself: one component at a time with O_PATH|O_NOFOLLOW from an fd already inside
 * the root, a symlink read and its target walked (from the root when absolute), at most 40
 * of them; ".." opened from where we are unless that is the root (device and inode); the
 * last component opened with flags|O_NOFOLLOW from its parent's fd. */
int tdrv_openat_walk(int dirfd, const char *path, int flags, int beneath);
/* Write all of buf to fd (EINTR/short writes retried). */
int tdrv_write_all(int fd, const void *buf, size_t n);

#endif
