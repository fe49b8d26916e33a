#include "archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "mem.h"

/*
 * libarchive is loaded on first use (dlopen), not linked: as a DT_NEEDED library it (with
 * libxml2, ICU and its compressors) costs every start of a tool ~1.7 ms of dynamic
 * loading, and tdrv-run opens a tar only for no_overlay or a layer not yet unpacked
 * (docs/tdrv-run.md, "Start-up time"). Every call goes through la.<name>, filled by
 * la_load(), which tar_open() and tdrv_tar_writer_open() call: nothing else here runs
 * without a handle one of them made.
 */
#ifndef TDRV_LIBARCHIVE_SONAME
#define TDRV_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

#define LA_FUNCS(X)                                                                                \
    X(archive_entry_atime)                                                                         \
    X(archive_entry_atime_is_set)                                                                  \
    X(archive_entry_atime_nsec)                                                                    \
    X(archive_entry_clone)                                                                         \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_free)                                                                          \
    X(archive_entry_gid)                                                                           \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_mtime)                                                                         \
    X(archive_entry_mtime_nsec)                                                                    \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_perm)                                                                          \
    X(archive_entry_rdevmajor)                                                                     \
    X(archive_entry_rdevminor)                                                                     \
    X(archive_entry_set_hardlink)                                                                  \
    X(archive_entry_set_pathname)                                                                  \
    X(archive_entry_size)                                                                          \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_uid)                                                                           \
    X(archive_entry_xattr_next)                                                                    \
    X(archive_entry_xattr_reset)                                                                   \
    X(archive_error_string)                                                                        \
    X(archive_filter_count)                                                                        \
    X(archive_filter_name)                                                                         \
    X(archive_read_data)                                                                           \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_next_header)                                                                    \
    X(archive_read_open2)                                                                          \
    X(archive_read_support_filter_bzip2)                                                           \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_lzma)                                                            \
    X(archive_read_support_filter_none)                                                            \
    X(archive_read_support_filter_xz)                                                              \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_empty)                                                           \
    X(archive_read_support_format_raw)                                                             \
    X(archive_read_support_format_tar)                                                             \
    X(archive_set_error)                                                                           \
    X(archive_write_add_filter_none)                                                               \
    X(archive_write_close)                                                                         \
    X(archive_write_data)                                                                          \
    X(archive_write_free)                                                                          \
    X(archive_write_header)                                                                        \
    X(archive_write_new)                                                                           \
    X(archive_write_open2)                                                                         \
    X(archive_write_set_bytes_in_last_block)                                                       \
    X(archive_write_set_format_pax_restricted)

static struct {
#define LA_DECL(f) __typeof__(f) *f;
    LA_FUNCS(LA_DECL)
#undef LA_DECL
} la;

static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static char la_error[512];

static void la_load_once(void)
{
    void *so = dlopen(TDRV_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (!so) {
        snprintf(la_error, sizeof(la_error), "%s", dlerror());
        return;
    }
#define LA_SYM(f)                                                                                  \
    if (!la_error[0] && !(*(void **)&la.f = dlsym(so, #f)))                                        \
        snprintf(la_error, sizeof(la_error), "%s: no symbol %s", TDRV_LIBARCHIVE_SONAME, #f);
    LA_FUNCS(LA_SYM)
#undef LA_SYM
}

static int la_load(struct tdrv_err *err)
{
    pthread_once(&la_once, la_load_once);
    if (la_error[0])
        return tdrv_err_set(err, TDRV_E_UNAVAILABLE, 0, "unable to load libarchive: %s", la_error);
    return 0;
}

#define TAR_BLOCK (128u * 1024u)

struct tdrv_tar {
    struct archive *outer; /* decompression only ("raw" format) */
    struct archive *inner; /* tar entries, fed from outer */
    struct archive_entry *cur;
    struct tdrv_tar_src src;
    int fd;
    struct tdrv_hash *hash;
    uint64_t bytes;
    uint64_t entries;
    struct tdrv_tar_opts opts;
    int outer_eof;
    struct tdrv_err cb_err; /* an error raised inside a callback */
    char *inbuf;
    char *midbuf;
    struct tdrv_tar_xattr *xattrs;
    size_t xattrs_alloc;
};

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
    struct tdrv_tar *t = ctx;
    ssize_t r;

    do
        r = read(t->fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

static la_ssize_t outer_read_cb(struct archive *a, void *ctx, const void **buf)
{
    struct tdrv_tar *t = ctx;
    ssize_t r = t->src.read(t->src.ctx, t->inbuf, TAR_BLOCK);

    if (r < 0) {
        if (!t->cb_err.code)
            tdrv_err_set(&t->cb_err, TDRV_E_IO, errno, "unable to read the layer stream");
        la.archive_set_error(a, errno ? errno : EIO, "read failed");
        return -1;
    }
    *buf = t->inbuf;
    return r;
}

static la_ssize_t inner_read_cb(struct archive *a, void *ctx, const void **buf)
{
    struct tdrv_tar *t = ctx;
    la_ssize_t r;

    if (t->outer_eof)
        return 0;
    r = la.archive_read_data(t->outer, t->midbuf, TAR_BLOCK);
    if (r < 0) {
        if (!t->cb_err.code)
            tdrv_err_set(&t->cb_err, TDRV_E_DATA, 0, "unable to decompress the layer: %s",
                         la.archive_error_string(t->outer) ? la.archive_error_string(t->outer)
                                                           : "unknown error");
        la.archive_set_error(a, EIO, "decompression failed");
        return -1;
    }
    if (r == 0) {
        t->outer_eof = 1;
        return 0;
    }
    t->bytes += (uint64_t)r;
    if (t->opts.max_bytes && t->bytes > t->opts.max_bytes) {
        if (!t->cb_err.code)
            tdrv_err_setw(&t->cb_err, TDRV_E_DATA, "layer_too_large", 0,
                          "layer is larger than the limit of %llu bytes uncompressed",
                          (unsigned long long)t->opts.max_bytes);
        la.archive_set_error(a, EFBIG, "size limit");
        return -1;
    }
    tdrv_hash_update(t->hash, t->midbuf, (size_t)r);
    *buf = t->midbuf;
    return r;
}

static int fail(struct tdrv_tar *t, struct archive *a, const char *what, struct tdrv_err *err)
{
    if (t->cb_err.code) {
        *err = t->cb_err;
        return -1;
    }
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0, "%s: %s", what,
                         la.archive_error_string(a) ? la.archive_error_string(a) : "unknown error");
}

static int tar_open(struct tdrv_tar **out, const struct tdrv_tar_src *src, int fd,
                    const struct tdrv_tar_opts *o, struct tdrv_err *err)
{
    struct tdrv_tar *t = NULL;
    struct archive_entry *raw = NULL;
    int r;

    if (la_load(err) < 0)
        return -1;
    t = tdrv_xcalloc(1, sizeof(*t));
    t->src = *src;
    if (!t->src.ctx)
        t->src.ctx = t;
    t->fd = fd;
    if (o)
        t->opts = *o;
    t->hash = tdrv_hash_new(TDRV_SHA256);
    t->inbuf = tdrv_xmalloc(TAR_BLOCK);
    t->midbuf = tdrv_xmalloc(TAR_BLOCK);
    t->outer = la.archive_read_new();
    t->inner = la.archive_read_new();
    if (!t->outer || !t->inner)
        tdrv_oom();
    la.archive_read_support_filter_gzip(t->outer);
    la.archive_read_support_filter_zstd(t->outer);
    la.archive_read_support_filter_bzip2(t->outer);
    la.archive_read_support_filter_xz(t->outer);
    la.archive_read_support_filter_lzma(t->outer);
    la.archive_read_support_filter_none(t->outer);
    la.archive_read_support_format_raw(t->outer);
    la.archive_read_support_format_empty(t->outer);
    if (la.archive_read_open2(t->outer, t, NULL, outer_read_cb, NULL, NULL) != ARCHIVE_OK) {
        fail(t, t->outer, "unable to read the layer stream", err);
        tdrv_tar_free(t);
        return -1;
    }
    r = la.archive_read_next_header(t->outer, &raw);
    if (r == ARCHIVE_EOF) {
        t->outer_eof = 1;
    } else if (r < ARCHIVE_WARN) {
        fail(t, t->outer, "unable to read the layer stream", err);
        tdrv_tar_free(t);
        return -1;
    }
    la.archive_read_support_format_tar(t->inner);
    la.archive_read_support_format_empty(t->inner);
    if (la.archive_read_open2(t->inner, t, NULL, inner_read_cb, NULL, NULL) != ARCHIVE_OK) {
        fail(t, t->inner, "unable to read the tar stream", err);
        tdrv_tar_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int tdrv_tar_open(struct tdrv_tar **t, const struct tdrv_tar_src *src,
                  const struct tdrv_tar_opts *o, struct tdrv_err *err)
{
    return tar_open(t, src, -1, o, err);
}

int tdrv_tar_open_fd(struct tdrv_tar **t, int fd, const struct tdrv_tar_opts *o,
                     struct tdrv_err *err)
{
    struct tdrv_tar_src src = {.read = fd_read, .ctx = NULL};

    return tar_open(t, &src, fd, o, err);
}

static int tar_type(struct archive_entry *e)
{
    if (la.archive_entry_hardlink(e))
        return TDRV_TAR_HARDLINK;
    switch (la.archive_entry_filetype(e)) {
    case AE_IFREG:
        return TDRV_TAR_REG;
    case AE_IFDIR:
        return TDRV_TAR_DIR;
    case AE_IFLNK:
        return TDRV_TAR_SYMLINK;
    case AE_IFCHR:
        return TDRV_TAR_CHR;
    case AE_IFBLK:
        return TDRV_TAR_BLK;
    case AE_IFIFO:
        return TDRV_TAR_FIFO;
    default:
        return TDRV_TAR_OTHER;
    }
}

int tdrv_tar_next(struct tdrv_tar *t, struct tdrv_tar_entry *e, struct tdrv_err *err)
{
    struct archive_entry *ae = NULL;
    const char *name;
    const void *value;
    size_t size;
    int r;

    r = la.archive_read_next_header(t->inner, &ae);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN)
        return fail(t, t->inner, "malformed layer", err);
    if (t->opts.max_entries && ++t->entries > t->opts.max_entries)
        return tdrv_err_setw(err, TDRV_E_DATA, "layer_too_large", 0,
                             "layer has more than %llu entries",
                             (unsigned long long)t->opts.max_entries);
    t->cur = ae;
    memset(e, 0, sizeof(*e));
    e->path = la.archive_entry_pathname(ae);
    if (!e->path)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                             "malformed layer: entry without a usable name");
    e->type = tar_type(ae);
    if (e->type == TDRV_TAR_HARDLINK)
        e->link = la.archive_entry_hardlink(ae);
    else if (e->type == TDRV_TAR_SYMLINK)
        e->link = la.archive_entry_symlink(ae);
    /* an empty target too: symlink("") fails with ENOENT, which read as an OS error (71; found
     * by fuzz_load) */
    if ((e->type == TDRV_TAR_HARDLINK || e->type == TDRV_TAR_SYMLINK) && (!e->link || !*e->link))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                             "malformed layer: link '%s' without a usable target", e->path);
    e->mode = la.archive_entry_perm(ae) & 07777;
    if (la.archive_entry_uid(ae) < 0 || la.archive_entry_uid(ae) > 0xfffffffeLL ||
        la.archive_entry_gid(ae) < 0 || la.archive_entry_gid(ae) > 0xfffffffeLL)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                             "malformed layer: '%s' has an invalid owner", e->path);
    e->uid = (uid_t)la.archive_entry_uid(ae);
    e->gid = (gid_t)la.archive_entry_gid(ae);
    e->size = la.archive_entry_size(ae);
    e->mtime.tv_sec = la.archive_entry_mtime(ae);
    e->mtime.tv_nsec = la.archive_entry_mtime_nsec(ae);
    if (la.archive_entry_atime_is_set(ae)) {
        e->atime.tv_sec = la.archive_entry_atime(ae);
        e->atime.tv_nsec = la.archive_entry_atime_nsec(ae);
    } else {
        e->atime = e->mtime;
    }
    e->devmajor = (uint64_t)la.archive_entry_rdevmajor(ae);
    e->devminor = (uint64_t)la.archive_entry_rdevminor(ae);
    la.archive_entry_xattr_reset(ae);
    while (la.archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
        if (e->nxattrs == t->xattrs_alloc) {
            t->xattrs_alloc = t->xattrs_alloc ? t->xattrs_alloc * 2 : 8;
            t->xattrs = tdrv_xrealloc(t->xattrs, t->xattrs_alloc * sizeof(*t->xattrs));
        }
        t->xattrs[e->nxattrs].name = name;
        t->xattrs[e->nxattrs].value = value;
        t->xattrs[e->nxattrs].size = size;
        e->nxattrs++;
    }
    e->xattrs = t->xattrs;
    return 1;
}

int tdrv_tar_data(struct tdrv_tar *t, const void **buf, size_t *len, int64_t *offset,
                  struct tdrv_err *err)
{
    la_int64_t off = 0;
    int r = la.archive_read_data_block(t->inner, buf, len, &off);

    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN)
        return fail(t, t->inner, "malformed layer", err);
    *offset = off;
    return 1;
}

int tdrv_tar_finish(struct tdrv_tar *t, char *diff_id, uint64_t *bytes, struct tdrv_err *err)
{
    /* What the tar reader did not ask for (end blocks, padding, junk) is still hashed. */
    while (!t->outer_eof) {
        la_ssize_t r = la.archive_read_data(t->outer, t->midbuf, TAR_BLOCK);

        if (r < 0)
            return fail(t, t->outer, "unable to decompress the layer", err);
        if (r == 0)
            break;
        t->bytes += (uint64_t)r;
        if (t->opts.max_bytes && t->bytes > t->opts.max_bytes)
            return tdrv_err_setw(err, TDRV_E_DATA, "layer_too_large", 0,
                                 "layer is larger than the limit of %llu bytes uncompressed",
                                 (unsigned long long)t->opts.max_bytes);
        tdrv_hash_update(t->hash, t->midbuf, (size_t)r);
    }
    t->outer_eof = 1;
    /* A compressed source may still hold bytes past the end of the compressed stream. */
    for (;;) {
        ssize_t r = t->src.read(t->src.ctx, t->inbuf, TAR_BLOCK);

        if (r < 0)
            return tdrv_err_set(err, TDRV_E_IO, errno, "unable to read the layer stream");
        if (r == 0)
            break;
    }
    if (diff_id)
        tdrv_hash_final(t->hash, diff_id);
    if (bytes)
        *bytes = t->bytes;
    return 0;
}

const char *tdrv_tar_compression(struct tdrv_tar *t)
{
    const char *n =
        la.archive_filter_count(t->outer) > 1 ? la.archive_filter_name(t->outer, 0) : NULL;

    return n ? n : "none";
}

void tdrv_tar_free(struct tdrv_tar *t)
{
    if (!t)
        return;
    if (t->inner)
        la.archive_read_free(t->inner);
    if (t->outer)
        la.archive_read_free(t->outer);
    tdrv_hash_free(t->hash);
    free(t->inbuf);
    free(t->midbuf);
    free(t->xattrs);
    free(t);
}

void tdrv_tar_freep(struct tdrv_tar **t)
{
    tdrv_tar_free(*t);
    *t = NULL;
}

/* ---- writer ---- */

struct tdrv_tar_writer {
    struct archive *a;
    struct tdrv_tar_sink sink;
    struct tdrv_err cb_err;
};

static la_ssize_t writer_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
    struct tdrv_tar_writer *w = ctx;

    if (w->sink.write(w->sink.ctx, buf, n, &w->cb_err) < 0) {
        la.archive_set_error(a, EIO, "write failed");
        return -1;
    }
    return (la_ssize_t)n;
}

static int wfail(struct tdrv_tar_writer *w, const char *what, struct tdrv_err *err)
{
    if (w->cb_err.code) {
        *err = w->cb_err;
        return -1;
    }
    return tdrv_err_set(err, TDRV_E_IO, 0, "%s: %s", what,
                        la.archive_error_string(w->a) ? la.archive_error_string(w->a) : "unknown");
}

int tdrv_tar_writer_open(struct tdrv_tar_writer **out, const struct tdrv_tar_sink *sink,
                         struct tdrv_err *err)
{
    struct tdrv_tar_writer *w = NULL;

    if (la_load(err) < 0)
        return -1;
    w = tdrv_xcalloc(1, sizeof(*w));
    w->sink = *sink;
    w->a = la.archive_write_new();
    if (!w->a)
        tdrv_oom();
    la.archive_write_set_format_pax_restricted(w->a);
    la.archive_write_add_filter_none(w->a);
    la.archive_write_set_bytes_in_last_block(w->a, 1);
    if (la.archive_write_open2(w->a, w, NULL, writer_cb, NULL, NULL) != ARCHIVE_OK) {
        wfail(w, "unable to write a tar stream", err);
        tdrv_tar_writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int tdrv_tar_writer_copy(struct tdrv_tar_writer *w, struct tdrv_tar *r, const char *path,
                         const char *link, struct tdrv_err *err)
{
    struct archive_entry *e = la.archive_entry_clone(r->cur);
    int rc = 0;

    if (!e)
        tdrv_oom();
    la.archive_entry_set_pathname(e, path);
    if (la.archive_entry_hardlink(e))
        la.archive_entry_set_hardlink(e, link);
    if (la.archive_write_header(w->a, e) < ARCHIVE_WARN) {
        la.archive_entry_free(e);
        return wfail(w, "unable to write a tar header", err);
    }
    if (la.archive_entry_filetype(e) == AE_IFREG && !la.archive_entry_hardlink(e)) {
        const void *buf;
        size_t len;
        int64_t off;

        while ((rc = tdrv_tar_data(r, &buf, &len, &off, err)) == 1) {
            if (la.archive_write_data(w->a, buf, len) < 0) {
                la.archive_entry_free(e);
                return wfail(w, "unable to write tar data", err);
            }
        }
    }
    la.archive_entry_free(e);
    return rc < 0 ? -1 : 0;
}

int tdrv_tar_writer_close(struct tdrv_tar_writer *w, struct tdrv_err *err)
{
    if (la.archive_write_close(w->a) != ARCHIVE_OK)
        return wfail(w, "unable to finish a tar stream", err);
    return 0;
}

void tdrv_tar_writer_free(struct tdrv_tar_writer *w)
{
    if (!w)
        return;
    la.archive_write_free(w->a);
    free(w);
}
