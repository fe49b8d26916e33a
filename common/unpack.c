#include "unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "digest.h"
#include "fs.h"
#include "log.h"
#include "mem.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"
#define MAX_LINK_DEPTH 40
#define MAX_PATH_LEN 4096

/* ---- a set of paths (this layer's entries and their ancestors) ---- */

struct pathset {
    char **slot;
    size_t cap;
    size_t n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int pathset_has(const struct pathset *ps, const char *p)
{
    if (!ps->cap)
        return 0;
    for (size_t i = hash_str(p) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
        if (!ps->slot[i])
            return 0;
        if (!strcmp(ps->slot[i], p))
            return 1;
    }
}

static void pathset_add1(struct pathset *ps, const char *p, size_t len)
{
    size_t i;

    if ((ps->n + 1) * 2 > ps->cap) {
        struct pathset grown = {.cap = ps->cap ? ps->cap * 2 : 1024};

        grown.slot = tdrv_xcalloc(grown.cap, sizeof(char *));
        for (size_t j = 0; j < ps->cap; j++) {
            if (!ps->slot[j])
                continue;
            for (i = hash_str(ps->slot[j]) & (grown.cap - 1); grown.slot[i];
                 i = (i + 1) & (grown.cap - 1))
                ;
            grown.slot[i] = ps->slot[j];
        }
        free(ps->slot);
        grown.n = ps->n;
        *ps = grown;
    }
    {
        cleanup_free char *s = tdrv_xstrndup(p, len);

        for (i = hash_str(s) & (ps->cap - 1); ps->slot[i]; i = (i + 1) & (ps->cap - 1))
            if (!strcmp(ps->slot[i], s))
                return;
        ps->slot[i] = steal_ptr(&s);
        ps->n++;
    }
}

/* Add p and each of its ancestors. */
static void pathset_add(struct pathset *ps, const char *p)
{
    size_t len = strlen(p);

    pathset_add1(ps, p, len);
    for (size_t i = len; i > 0; i--)
        if (p[i - 1] == '/')
            pathset_add1(ps, p, i - 1);
}

static void pathset_release(struct pathset *ps)
{
    for (size_t i = 0; i < ps->cap; i++)
        free(ps->slot[i]);
    free(ps->slot);
    memset(ps, 0, sizeof(*ps));
}

/* ---- paths ---- */

char *tdrv_path_clean(const char *name)
{
    size_t n = strlen(name);
    char *out = tdrv_xmalloc(n + 1);
    size_t o = 0;
    const char *p = name;

    while (*p) {
        const char *q;
        size_t len;

        while (*p == '/')
            p++;
        if (!*p)
            break;
        q = strchr(p, '/');
        len = q ? (size_t)(q - p) : strlen(p);
        if (len == 1 && p[0] == '.') {
            /* skip */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    out[o] = '\0';
    return out;
}

static int open_root_path(int root_fd, const char *path, int flags)
{
    return tdrv_openat_resolved(root_fd, path, flags, 0);
}

static void split(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');

    *dir = slash ? tdrv_xstrndup(path, (size_t)(slash - path)) : tdrv_xstrdup("");
    *base = slash ? slash + 1 : path;
}

/*
 * SecureJoin-style resolution, used when the kernel's walk fails on a missing component that a
 * later ".." in a symlink target would have left ("../dne/../../etc"): symlinks are expanded
 * inside the root, missing components are kept lexically, ".." is clamped at the root.
 */
static char *secure_join(int root_fd, const char *path, struct tdrv_err *err)
{
    cleanup_free char *rest = tdrv_path_clean(path);
    cleanup_free char *cur = tdrv_xstrdup("");
    int links = 0;

    while (*rest) {
        const char *slash = strchr(rest, '/');
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        cleanup_free char *comp = tdrv_xstrndup(rest, len);
        cleanup_free char *next = NULL;
        cleanup_close int cfd = -1;
        char target[MAX_PATH_LEN];
        struct stat st;
        ssize_t n;

        memmove(rest, slash ? slash + 1 : rest + len, strlen(slash ? slash + 1 : rest + len) + 1);
        if (!*comp || !strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            char *s = strrchr(cur, '/');

            if (s)
                *s = '\0';
            else
                cur[0] = '\0';
            continue;
        }
        cfd = open_root_path(root_fd, cur, O_PATH | O_DIRECTORY);
        if (cfd < 0 || fstatat(cfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode)) {
            next = *cur ? tdrv_xasprintf("%s/%s", cur, comp) : tdrv_xstrdup(comp);
            free(cur);
            cur = steal_ptr(&next);
            continue;
        }
        if (++links > 255) {
            tdrv_err_set(err, TDRV_E_DATA, ELOOP, "too many levels of symbolic links at '%s'",
                         path);
            return NULL;
        }
        n = readlinkat(cfd, comp, target, sizeof(target) - 1);
        if (n < 0) {
            tdrv_err_set(err, TDRV_E_OS, errno, "unable to read link '%s'", comp);
            return NULL;
        }
        target[n] = '\0';
        /* The link's target, then what was left, re-walked; ".." must not be cleaned away
         * lexically before the walk, so join without cleaning. */
        next = tdrv_xasprintf("%s/%s", target, rest);
        if (target[0] == '/')
            cur[0] = '\0';
        free(rest);
        rest = steal_ptr(&next);
    }
    return steal_ptr(&cur);
}

static int open_in_root_depth(int root_fd, const char *dir, int create, int depth,
                              struct tdrv_err *err)
{
    cleanup_free char *parent = NULL;
    cleanup_close int pfd = -1;
    const char *base;
    struct stat st;
    int fd = open_root_path(root_fd, dir, O_PATH | O_DIRECTORY);

    if (fd >= 0)
        return fd;
    if (!create && errno == ENOENT) {
        cleanup_free char *joined = secure_join(root_fd, dir, err);

        if (!joined)
            return -1;
        fd = open_root_path(root_fd, joined, O_PATH | O_DIRECTORY);
        if (fd >= 0)
            return fd;
        errno = ENOENT;
    }
    if (!create || (errno != ENOENT && errno != ENOTDIR))
        return tdrv_err_set(
            err, errno == ELOOP || errno == ENOENT || errno == ENOTDIR ? TDRV_E_DATA : TDRV_E_OS,
            errno, "unable to open '%s' in the root", dir);
    if (depth > MAX_LINK_DEPTH)
        return tdrv_err_set(err, TDRV_E_DATA, ELOOP, "too many levels of symbolic links at '%s'",
                            dir);
    split(dir, &parent, &base);
    pfd = open_in_root_depth(root_fd, parent, create, depth, err);
    if (pfd < 0)
        return -1;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to stat '%s'", dir);
    } else if (S_ISLNK(st.st_mode)) {
        /* A dangling symlink: make its target, resolved inside the root. (On the heap: this
         * recursion is as deep as the path.) */
        cleanup_free char *target = tdrv_xmalloc(MAX_PATH_LEN);
        ssize_t n = readlinkat(pfd, base, target, MAX_PATH_LEN - 1);
        cleanup_free char *joined = NULL;
        cleanup_free char *clean = NULL;
        int tfd;

        if (n < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to read link '%s'", dir);
        target[n] = '\0';
        joined = target[0] == '/' ? tdrv_xstrdup(target) : tdrv_xasprintf("%s/%s", parent, target);
        clean = tdrv_path_clean(joined);
        tfd = open_in_root_depth(root_fd, clean, create, depth + 1, err);
        if (tfd < 0)
            return -1;
        close(tfd);
        fd = open_root_path(root_fd, dir, O_PATH | O_DIRECTORY);
        if (fd < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s' in the root", dir);
        return fd;
    } else if (!S_ISDIR(st.st_mode)) {
        /* A non-directory in the way is replaced (the layer says a directory is here). */
        if (unlinkat(pfd, base, 0) < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to remove '%s'", dir);
    }
    if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create directory '%s'", dir);
    fd = openat(pfd, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", dir);
    return fd;
}

int tdrv_open_in_root(int root_fd, const char *dir, int create, struct tdrv_err *err)
{
    return open_in_root_depth(root_fd, dir, create, 0, err);
}

int tdrv_in_userns(void)
{
    char buf[256] = {0};
    cleanup_close int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    ssize_t n;
    unsigned long a = 0;
    unsigned long b = 0;
    unsigned long c = 0;

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    if (sscanf(buf, "%lu %lu %lu", &a, &b, &c) != 3)
        return 1;
    return !(a == 0 && b == 0 && c == 4294967295ul);
}

/* ---- applying entries ---- */

struct dirtime {
    char *path;
    struct timespec ts[2];
};

struct unpacker {
    int root_fd;
    const struct tdrv_unpack_opts *o;
    struct tdrv_tar *t;
    struct pathset seen; /* FLATTEN: this layer's paths and their ancestors */
    struct dirtime *dirs;
    size_t ndirs;
    size_t dirs_alloc;
    char procpath[64];
};

static const char *proc_path(struct unpacker *u, int pfd, const char *base, char *buf, size_t n)
{
    (void)u;
    snprintf(buf, n, "/proc/self/fd/%d/%s", pfd, base);
    return buf;
}

static int is_whiteout_dev(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* FLATTEN: remove pfd/name unless this layer put it (or something under it) there. */
static int remove_lower(struct unpacker *u, int pfd, const char *name, const char *path,
                        struct tdrv_err *err)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int fd;
    int rc = 0;

    if (!pathset_has(&u->seen, path))
        return tdrv_rm_rf_at(pfd, name, err);
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", path);
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to read '%s'", path);
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        cleanup_free char *child = NULL;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        child = *path ? tdrv_xasprintf("%s/%s", path, de->d_name) : tdrv_xstrdup(de->d_name);
        rc = remove_lower(u, dirfd(d), de->d_name, child, err);
    }
    closedir(d);
    return rc;
}

static int set_opaque(int pfd, const char *base, struct tdrv_err *err)
{
    char p[MAX_PATH_LEN + 64];

    snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", pfd, *base ? base : ".");
    if (lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to mark '%s' opaque", base);
    return 0;
}

static int apply_whiteout(struct unpacker *u, const char *dir, const char *name,
                          struct tdrv_err *err)
{
    cleanup_close int pfd = -1;
    cleanup_free char *path = NULL;
    struct stat st;

    if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0, "invalid whiteout '%s%s%s%s'",
                             dir, *dir ? "/" : "", WHITEOUT_PREFIX, name);
    path = *dir ? tdrv_xasprintf("%s/%s", dir, name) : tdrv_xstrdup(name);
    if (u->o->mode == TDRV_UNPACK_FLATTEN) {
        struct tdrv_err e2 = {0};

        pfd = tdrv_open_in_root(u->root_fd, dir, 0, &e2);
        if (pfd < 0)
            return 0; /* nothing below to hide */
        return remove_lower(u, pfd, name, path, err);
    }
    pfd = tdrv_open_in_root(u->root_fd, dir, 1, err);
    if (pfd < 0)
        return -1;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* This layer made it: it survives; a directory hides what is below it. */
        if (S_ISDIR(st.st_mode))
            return set_opaque(pfd, name, err);
        return 0;
    }
    if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create whiteout '%s'", path);
    return 0;
}

static int apply_opaque(struct unpacker *u, const char *dir, struct tdrv_err *err)
{
    cleanup_close int pfd = -1;

    if (u->o->mode == TDRV_UNPACK_FLATTEN) {
        struct tdrv_err e2 = {0};
        cleanup_close int dfd = -1;
        DIR *d;
        struct dirent *de;
        int rc = 0;

        pfd = tdrv_open_in_root(u->root_fd, dir, 0, &e2);
        if (pfd < 0)
            return 0;
        dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", dir);
        d = fdopendir(dfd);
        if (!d)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to read '%s'", dir);
        dfd = -1;
        while (rc == 0 && (de = readdir(d)) != NULL) {
            cleanup_free char *child = NULL;

            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            child = *dir ? tdrv_xasprintf("%s/%s", dir, de->d_name) : tdrv_xstrdup(de->d_name);
            rc = remove_lower(u, dirfd(d), de->d_name, child, err);
        }
        closedir(d);
        return rc;
    }
    pfd = tdrv_open_in_root(u->root_fd, dir, 1, err);
    if (pfd < 0)
        return -1;
    return set_opaque(pfd, "", err);
}

static int skip_xattr(const char *name)
{
    return !strcmp(name, "security.selinux") || !strcmp(name, "system.nfs4_acl");
}

static int apply_xattrs(struct unpacker *u, int fd, int pfd, const char *base,
                        const struct tdrv_tar_entry *e, struct tdrv_err *err)
{
    char p[MAX_PATH_LEN + 64];

    for (size_t i = 0; i < e->nxattrs; i++) {
        const char *name = e->xattrs[i].name;
        cleanup_free char *escaped = NULL;
        int r;

        if (skip_xattr(name))
            continue;
        if (u->o->mode == TDRV_UNPACK_OVERLAY &&
            (!strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13))) {
            const char *dot = strchr(name, '.');

            escaped = tdrv_xasprintf("%.*s.overlay%s", (int)(dot - name), name, dot);
            name = escaped;
        }
        if (fd >= 0)
            r = fsetxattr(fd, name, e->xattrs[i].value, e->xattrs[i].size, 0);
        else
            r = lsetxattr(proc_path(u, pfd, base, p, sizeof(p)), name, e->xattrs[i].value,
                          e->xattrs[i].size, 0);
        if (r < 0) {
            if (errno == ENOTSUP || (errno == EPERM && !strncmp(name, "user.", 5))) {
                tdrv_warn("ignoring xattr '%s' on '%s': %s", name, e->path, strerror(errno));
                continue;
            }
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to set xattr '%s' on '%s'", name,
                                e->path);
        }
    }
    return 0;
}

/* Owner, then mode (chown clears setuid), then xattrs (chown clears file capabilities). */
static int apply_meta(struct unpacker *u, int fd, int pfd, const char *base,
                      const struct tdrv_tar_entry *e, struct tdrv_err *err)
{
    int r;

    if (!u->o->no_chown) {
        r = fd >= 0 ? fchown(fd, e->uid, e->gid)
                    : fchownat(pfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to chown '%s'", e->path);
    }
    if (e->type != TDRV_TAR_SYMLINK) {
        r = fd >= 0 ? fchmod(fd, e->mode) : fchmodat(pfd, base, e->mode, 0);
        if (r < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to chmod '%s'", e->path);
    }
    if (apply_xattrs(u, fd, pfd, base, e, err) < 0)
        return -1;
    if (e->type != TDRV_TAR_DIR) {
        struct timespec ts[2] = {e->atime, e->mtime};

        r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
        if (r < 0 && errno != EPERM)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to set times of '%s'", e->path);
    }
    return 0;
}

static int write_data(struct unpacker *u, int fd, const struct tdrv_tar_entry *e,
                      struct tdrv_err *err)
{
    const void *buf;
    size_t len;
    int64_t off;
    int r;
    uint64_t total = 0;

    while ((r = tdrv_tar_data(u->t, &buf, &len, &off, err)) == 1) {
        const char *p = buf;

        total += len;
        if (off < 0 || (uint64_t)off + len > (uint64_t)e->size || total > (uint64_t)e->size)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                                 "malformed layer: '%s' holds more data than its size", e->path);
        while (len) {
            ssize_t w = pwrite(fd, p, len, off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return tdrv_err_set(err, TDRV_E_IO, errno, "unable to write '%s'", e->path);
            p += w;
            off += w;
            len -= (size_t)w;
        }
    }
    if (r < 0)
        return -1;
    if (ftruncate(fd, e->size) < 0)
        return tdrv_err_set(err, TDRV_E_IO, errno, "unable to write '%s'", e->path);
    return 0;
}

static int apply_hardlink(struct unpacker *u, int pfd, const char *base,
                          const struct tdrv_tar_entry *e, struct tdrv_err *err)
{
    cleanup_free char *target = tdrv_path_clean(e->link);
    cleanup_free char *tdir = NULL;
    cleanup_close int tfd = -1;
    const char *tbase;

    if (!*target)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                             "hardlink '%s' points at the root directory", e->path);
    split(target, &tdir, &tbase);
    tfd = tdrv_open_in_root(u->root_fd, tdir, 0, err);
    if (tfd < 0) {
        if (err->code == TDRV_E_DATA)
            snprintf(err->word, sizeof(err->word), "invalid_layer");
        return tdrv_err_wrap(err, "hardlink '%s'", e->path);
    }
    if (linkat(tfd, tbase, pfd, base, 0) < 0) {
        if (errno == ENOENT || errno == EPERM || errno == ENOTDIR)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", errno,
                                 "unable to link '%s' to '%s' (not in this layer)", e->path,
                                 target);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to link '%s' to '%s'", e->path, target);
    }
    return 0;
}

static void remember_dir(struct unpacker *u, const char *path, const struct tdrv_tar_entry *e)
{
    if (u->ndirs == u->dirs_alloc) {
        u->dirs_alloc = u->dirs_alloc ? u->dirs_alloc * 2 : 64;
        u->dirs = tdrv_xrealloc(u->dirs, u->dirs_alloc * sizeof(*u->dirs));
    }
    u->dirs[u->ndirs].path = tdrv_xstrdup(path);
    u->dirs[u->ndirs].ts[0] = e->atime;
    u->dirs[u->ndirs].ts[1] = e->mtime;
    u->ndirs++;
}

static int apply_entry(struct unpacker *u, const struct tdrv_tar_entry *e, struct tdrv_err *err)
{
    cleanup_free char *path = tdrv_path_clean(e->path);
    cleanup_free char *dir = NULL;
    cleanup_close int pfd = -1;
    cleanup_close int fd = -1;
    const char *base;
    struct stat st;
    int exists;
    int was_whiteout = 0;

    if (strlen(path) >= MAX_PATH_LEN)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0, "entry name too long");
    if (u->o->max_bytes && e->size > 0 && (uint64_t)e->size > u->o->max_bytes)
        return tdrv_err_setw(err, TDRV_E_DATA, "layer_too_large", 0,
                             "'%s' is larger than the limit of %llu bytes", e->path,
                             (unsigned long long)u->o->max_bytes);
    split(path, &dir, &base);
    if (!strncmp(base, WHITEOUT_PREFIX, 4)) {
        if (!strcmp(base, OPAQUE_MARKER))
            return apply_opaque(u, dir, err);
        return apply_whiteout(u, dir, base + 4, err);
    }
    if (!*path) {
        if (e->type != TDRV_TAR_DIR)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                                 "malicious layer entry '%s': refusing to change the type of "
                                 "the root directory",
                                 e->path);
        fd = openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open the root");
        if (apply_meta(u, fd, -1, "", e, err) < 0)
            return -1;
        remember_dir(u, "", e);
        return 0;
    }
    pfd = tdrv_open_in_root(u->root_fd, dir, 1, err);
    if (pfd < 0)
        return tdrv_err_wrap(err, "entry '%s'", e->path);
    if (u->o->mode == TDRV_UNPACK_FLATTEN)
        pathset_add(&u->seen, path);
    exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(S_ISDIR(st.st_mode) && e->type == TDRV_TAR_DIR)) {
        was_whiteout = is_whiteout_dev(&st);
        if (tdrv_rm_rf_at(pfd, base, err) < 0)
            return -1;
        exists = 0;
    }
    switch (e->type) {
    case TDRV_TAR_REG:
        fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", path);
        if (write_data(u, fd, e, err) < 0)
            return -1;
        return apply_meta(u, fd, pfd, base, e, err);
    case TDRV_TAR_DIR:
        if (!exists && mkdirat(pfd, base, 0700) < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create directory '%s'", path);
        fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", path);
        if (apply_meta(u, fd, pfd, base, e, err) < 0)
            return -1;
        if (was_whiteout && u->o->mode == TDRV_UNPACK_OVERLAY &&
            fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to mark '%s' opaque", path);
        remember_dir(u, path, e);
        return 0;
    case TDRV_TAR_SYMLINK:
        if (symlinkat(e->link, pfd, base) < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create symlink '%s'", path);
        return apply_meta(u, -1, pfd, base, e, err);
    case TDRV_TAR_HARDLINK:
        return apply_hardlink(u, pfd, base, e, err);
    case TDRV_TAR_CHR:
    case TDRV_TAR_BLK:
    case TDRV_TAR_FIFO: {
        mode_t type = e->type == TDRV_TAR_CHR   ? S_IFCHR
                      : e->type == TDRV_TAR_BLK ? S_IFBLK
                                                : S_IFIFO;

        if (e->devmajor > 0xffffffffull || e->devminor > 0xffffffffull)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                                 "malformed layer: device '%s' has an invalid number", e->path);
        if (type != S_IFIFO && u->o->skip_devices) {
            tdrv_warn("skipping device '%s' (devices cannot be made here)", path);
            return 0;
        }
        if (mknodat(pfd, base, type | 0600,
                    type == S_IFIFO ? 0 : makedev((unsigned)e->devmajor, (unsigned)e->devminor)) <
            0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", path);
        return apply_meta(u, -1, pfd, base, e, err);
    }
    default:
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_layer", 0,
                             "malformed layer: '%s' has an unsupported type", e->path);
    }
}

static int finish_dirs(struct unpacker *u, struct tdrv_err *err)
{
    (void)err;
    for (size_t i = u->ndirs; i-- > 0;) {
        cleanup_free char *dir = NULL;
        cleanup_close int pfd = -1;
        const char *base;
        struct tdrv_err e2 = {0};

        if (!*u->dirs[i].path) {
            futimens(u->root_fd, u->dirs[i].ts);
            continue;
        }
        split(u->dirs[i].path, &dir, &base);
        pfd = tdrv_open_in_root(u->root_fd, dir, 0, &e2);
        if (pfd >= 0)
            utimensat(pfd, base, u->dirs[i].ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

int tdrv_unpack(int root_fd, struct tdrv_tar *t, const struct tdrv_unpack_opts *o, char *diff_id,
                struct tdrv_err *err)
{
    struct unpacker u = {.root_fd = root_fd, .o = o, .t = t};
    struct tdrv_tar_entry e;
    int r;

    while ((r = tdrv_tar_next(t, &e, err)) == 1) {
        if (apply_entry(&u, &e, err) < 0) {
            /* Whatever made the data unusable, the layer is what is wrong. */
            if (err->code == TDRV_E_DATA && !strcmp(err->word, tdrv_exit_word(TDRV_E_DATA)))
                snprintf(err->word, sizeof(err->word), "invalid_layer");
            r = -1;
            break;
        }
    }
    if (r == 0)
        r = finish_dirs(&u, err);
    if (r == 0)
        r = tdrv_tar_finish(t, diff_id, NULL, err);
    pathset_release(&u.seen);
    for (size_t i = 0; i < u.ndirs; i++)
        free(u.dirs[i].path);
    free(u.dirs);
    return r;
}

int tdrv_unpack_fd(int root_fd, int fd, const struct tdrv_unpack_opts *o, char *diff_id,
                   struct tdrv_err *err)
{
    struct tdrv_tar_opts to = {.max_bytes = o->max_bytes, .max_entries = o->max_entries};
    cleanup_tar struct tdrv_tar *t = NULL;

    if (tdrv_tar_open_fd(&t, fd, &to, err) < 0)
        return -1;
    return tdrv_unpack(root_fd, t, o, diff_id, err);
}
