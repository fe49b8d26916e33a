#ifndef TDRV_UNPACK_H
#define TDRV_UNPACK_H

#include <stdint.h>

#include "archive.h"
#include "err.h"

/*
 * Safe layer application (reference registry-images.md §3). Whatever the tar holds, nothing
 * is written, read or linked outside the root: names are cleaned lexically as if rooted,
 * every parent is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) from the
 * root fd, and the last component is created with *at() calls that never follow it.
 */
enum tdrv_unpack_mode {
    /* root is a fresh overlay lower dir: .wh.x becomes a 0/0 char device x, an opaque
     * marker the trusted.overlay.opaque=y xattr; trusted.overlay.* xattrs are escaped. */
    TDRV_UNPACK_OVERLAY = 0,
    /* root holds the layers below: whiteouts delete what they put there. */
    TDRV_UNPACK_FLATTEN = 1,
};

struct tdrv_unpack_opts {
    int mode;             /* enum tdrv_unpack_mode */
    uint64_t max_bytes;   /* decompressed bytes, 0 = unlimited */
    uint64_t max_entries; /* 0 = unlimited */
    int skip_devices;     /* char/block devices skipped with a warning (user namespaces) */
    int no_chown;         /* keep the unpacking user's ownership */
};

/* Unpack one layer read from t into root_fd (an O_DIRECTORY fd). diff_id (may be NULL,
 * TDRV_DIGEST_MAX bytes) receives the digest of the whole decompressed stream. */
int tdrv_unpack(int root_fd, struct tdrv_tar *t, const struct tdrv_unpack_opts *o, char *diff_id,
                struct tdrv_err *err);
/* The same, reading the compressed layer from fd. */
int tdrv_unpack_fd(int root_fd, int fd, const struct tdrv_unpack_opts *o, char *diff_id,
                   struct tdrv_err *err);

/* Clean a tar entry name lexically as if rooted at "/": "" for the root itself, else a
 * relative path without ".", "..", or empty components ("../a//./b/.." -> "a"). */
char *tdrv_path_clean(const char *name);

/* Open dir (a cleaned path) under root_fd, resolving symlinks as if root_fd were "/"; with
 * create, missing directories are made, a non-directory in the way replaced, and a dangling
 * symlink's target created in the root. Returns an O_PATH fd, or -1 with *err set. */
int tdrv_open_in_root(int root_fd, const char *dir, int create, struct tdrv_err *err);

/* Are we in a user namespace that does not map every id (devices cannot be made)? */
int tdrv_in_userns(void);

#endif
