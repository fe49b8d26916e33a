#ifndef TDRV_ARCHIVE_H
#define TDRV_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"

/*
 * Reading tar streams (the only file that includes <archive.h>). The input is compressed
 * with gzip, zstd, bzip2 or xz, or not at all (sniffed); the decompressed tar is hashed
 * (the DiffID) and counted against a size limit while streaming. libarchive only reads
 * entries; applying them is common/unpack.c's job.
 */

/* Where the compressed bytes come from: read() semantics (bytes, 0 at end, -1 + errno). */
struct tdrv_tar_src {
    ssize_t (*read)(void *ctx, void *buf, size_t n);
    void *ctx;
};

struct tdrv_tar_opts {
    uint64_t max_bytes;   /* decompressed bytes, 0 = unlimited */
    uint64_t max_entries; /* 0 = unlimited */
};

struct tdrv_tar_xattr {
    const char *name;
    const void *value;
    size_t size;
};

enum tdrv_tar_type {
    TDRV_TAR_REG = 1,
    TDRV_TAR_DIR,
    TDRV_TAR_SYMLINK,
    TDRV_TAR_HARDLINK,
    TDRV_TAR_CHR,
    TDRV_TAR_BLK,
    TDRV_TAR_FIFO,
    TDRV_TAR_OTHER,
};

/* One entry; the strings and xattrs stay valid until the next tdrv_tar_next. */
struct tdrv_tar_entry {
    const char *path;
    const char *link; /* symlink target or hardlink target path */
    int type;         /* enum tdrv_tar_type */
    mode_t mode;      /* permission bits with setuid/setgid/sticky */
    uid_t uid;
    gid_t gid;
    int64_t size;
    struct timespec mtime;
    struct timespec atime;
    uint64_t devmajor;
    uint64_t devminor;
    size_t nxattrs;
    struct tdrv_tar_xattr *xattrs;
};

struct tdrv_tar;

int tdrv_tar_open(struct tdrv_tar **t, const struct tdrv_tar_src *src,
                  const struct tdrv_tar_opts *o, struct tdrv_err *err);
/* Read the compressed stream from fd (a file or a pipe). */
int tdrv_tar_open_fd(struct tdrv_tar **t, int fd, const struct tdrv_tar_opts *o,
                     struct tdrv_err *err);
/* Next entry: 1 with *e filled, 0 at the end of the archive, -1 on error (65 malformed). */
int tdrv_tar_next(struct tdrv_tar *t, struct tdrv_tar_entry *e, struct tdrv_err *err);
/* Next block of the current entry's data: 1 with buf/len/offset (sparse files have holes
 * between offsets), 0 at its end. */
int tdrv_tar_data(struct tdrv_tar *t, const void **buf, size_t *len, int64_t *offset,
                  struct tdrv_err *err);
/* Drain what follows the archive (padding, trailing junk) and give the digest of the whole
 * decompressed stream ("sha256:...") and its length. */
int tdrv_tar_finish(struct tdrv_tar *t, char *diff_id, uint64_t *bytes, struct tdrv_err *err);
/* Which compression the stream had: "gzip", "zstd", "none", ... (after the first entry). */
const char *tdrv_tar_compression(struct tdrv_tar *t);
void tdrv_tar_free(struct tdrv_tar *t);
void tdrv_tar_freep(struct tdrv_tar **t);
#define cleanup_tar __attribute__((cleanup(tdrv_tar_freep)))

/*
 * A tar writer (uncompressed pax), used to convert an ACI's rootfs/ into a layer. Entries
 * are copied from a reader's current entry with a new path.
 */
struct tdrv_tar_writer;
struct tdrv_tar_sink {
    int (*write)(void *ctx, const void *buf, size_t n, struct tdrv_err *err);
    void *ctx;
};
int tdrv_tar_writer_open(struct tdrv_tar_writer **w, const struct tdrv_tar_sink *sink,
                         struct tdrv_err *err);
/* Copy the reader's current entry (header, and data unless skipped) under a new path; for a
 * hardlink, link is the new target path. */
int tdrv_tar_writer_copy(struct tdrv_tar_writer *w, struct tdrv_tar *r, const char *path,
                         const char *link, struct tdrv_err *err);
int tdrv_tar_writer_close(struct tdrv_tar_writer *w, struct tdrv_err *err);
void tdrv_tar_writer_free(struct tdrv_tar_writer *w);

#endif
