/* The image store's side of tdrv-gc: use marks, the sweep lock, image removal, the sweep. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define MAX_META (16u << 20)
#define ANN_REF "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD "io.containerd.image.name"
#define PARTIAL_MAX_AGE_S (24 * 3600) /* an abandoned partial download is kept this long */

static const char *hexpart(const char *digest)
{
    const char *c = strchr(digest, ':');

    return c ? c + 1 : digest;
}

int tdrv_store_hold(struct tdrv_store *s, struct tdrv_err *err)
{
    int fd;

    if (s->hold_fd > 0)
        return 0;
    fd = openat(s->root_fd, "locks/sweep", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s/locks/sweep'", s->root);
    while (flock(fd, LOCK_SH) < 0) {
        if (errno != EINTR) {
            int e = errno;

            close(fd);
            return tdrv_err_set(err, TDRV_E_OS, e, "unable to lock '%s/locks/sweep'", s->root);
        }
    }
    s->hold_fd = fd;
    return 0;
}

void tdrv_store_unhold(struct tdrv_store *s)
{
    if (s->hold_fd > 0)
        close(s->hold_fd);
    s->hold_fd = -1;
}

void tdrv_store_mark_used(struct tdrv_store *s, const char *manifest_digest)
{
    cleanup_free char *ln = NULL;
    int fd;

    if (!manifest_digest || tdrv_digest_parse(manifest_digest, NULL, NULL, &(struct tdrv_err){0}))
        return;
    ln = tdrv_xasprintf("locks/image-%s", hexpart(manifest_digest));
    fd = openat(s->root_fd, ln, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return;
    futimens(fd, NULL);
    close(fd);
}

/* ---- index.json (the same lock and atomic write as store.c) ---- */

static int index_load(struct tdrv_store *s, cJSON **index, struct tdrv_err *err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;

    if (tdrv_read_file_at(s->root_fd, "images/index.json", MAX_META, &text, &len, err) < 0 ||
        tdrv_json_parse(text, len, index, err) < 0)
        return tdrv_err_wrap(err, "store index.json");
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*index, "manifests")))
        tdrv_json_set(*index, "manifests", tdrv_json_xarr());
    return 0;
}

static const char *desc_digest(const cJSON *d)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(d, "digest");

    return cJSON_IsString(g) ? g->valuestring : NULL;
}

static const char *desc_ref(const cJSON *d)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "annotations");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, ANN_REF);

    if (!cJSON_IsString(r))
        r = cJSON_GetObjectItemCaseSensitive(a, ANN_CONTAINERD);
    return cJSON_IsString(r) ? r->valuestring : NULL;
}

/* ---- pins ---- */

/* A pin is live while its directory still holds the image.json of a mount of this image. */
static int pin_live(const char *dir, const char *hex)
{
    cleanup_free char *p = tdrv_xasprintf("%s/image.json", dir);
    cleanup_free char *text = NULL;
    size_t len = 0;
    struct tdrv_err e = {0};

    if (tdrv_read_file_at(AT_FDCWD, p, 1 << 16, &text, &len, &e) < 0)
        return e.code != TDRV_E_NOINPUT; /* unreadable for another reason: assume live */
    return strstr(text, hex) != NULL;
}

/* Live and stale pins of an image; prune removes the stale ones. */
static void pins_of(struct tdrv_store *s, const char *hex, cJSON *live, cJSON *stale, int prune)
{
    cleanup_free char *pdir = tdrv_xasprintf("pins/%s", hex);
    int fd = openat(s->root_fd, pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d;
    struct dirent *de;

    if (fd < 0)
        return;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    while ((de = readdir(d))) {
        cleanup_free char *text = NULL;
        size_t len = 0;
        struct tdrv_err e = {0};

        if (de->d_name[0] == '.')
            continue;
        if (tdrv_read_file_at(dirfd(d), de->d_name, 4096, &text, &len, &e) < 0)
            continue;
        if (pin_live(text, hex)) {
            if (live)
                tdrv_json_append(live, tdrv_json_xstr(text));
        } else {
            if (stale)
                tdrv_json_append(stale, tdrv_json_xstr(text));
            if (prune)
                unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
    if (prune)
        unlinkat(s->root_fd, pdir, AT_REMOVEDIR); /* fails while a pin is left: fine */
}

static int64_t mark_time(struct tdrv_store *s, const char *hex)
{
    cleanup_free char *ln = tdrv_xasprintf("locks/image-%s", hex);
    struct stat st;

    if (fstatat(s->root_fd, ln, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return (int64_t)st.st_mtim.tv_sec;
    /* never marked (older store): the manifest blob's time */
    {
        cleanup_free char *b = tdrv_xasprintf("images/blobs/sha256/%s", hex);

        if (fstatat(s->root_fd, b, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return (int64_t)st.st_mtim.tv_sec;
    }
    return 0;
}

/* ---- what an image references ---- */

struct refset {
    cJSON *blobs;  /* object: digest -> true */
    cJSON *layers; /* object: chain hex -> true */
};

static void refset_add(cJSON *set, const char *key)
{
    if (!cJSON_GetObjectItemCaseSensitive(set, key))
        tdrv_json_add(set, key, cJSON_CreateTrue());
}

/* Add a manifest's blobs and layer chain ids; *bytes (optional) its blobs' size. */
static int image_refs(struct tdrv_store *s, const char *manifest_digest, struct refset *rs,
                      double *bytes, struct tdrv_err *err)
{
    cleanup_free char *mt = NULL;
    cleanup_free char *ct = NULL;
    cleanup_json cJSON *m = NULL;
    cleanup_json cJSON *c = NULL;
    cleanup_free struct tdrv_layer_desc *desc = NULL;
    const cJSON *layers = NULL;
    const cJSON *diffs = NULL;
    const char *cd = NULL;
    size_t mlen = 0;
    size_t clen = 0;
    size_t n;
    size_t i = 0;
    const cJSON *l;

    if (tdrv_store_blob_read(s, manifest_digest, MAX_META, &mt, &mlen, err) < 0 ||
        tdrv_json_parse(mt, mlen, &m, err) < 0 ||
        tdrv_json_str(m, "config.digest", TDRV_REQUIRED, &cd, err) < 0 ||
        tdrv_json_arr(m, "layers", TDRV_REQUIRED, &layers, err) < 0 ||
        tdrv_store_blob_read(s, cd, MAX_META, &ct, &clen, err) < 0 ||
        tdrv_json_parse(ct, clen, &c, err) < 0 ||
        tdrv_json_arr(c, "rootfs.diff_ids", TDRV_REQUIRED, &diffs, err) < 0)
        return tdrv_err_wrap(err, "image %s", manifest_digest);
    refset_add(rs->blobs, manifest_digest);
    refset_add(rs->blobs, cd);
    if (bytes)
        *bytes += (double)(mlen + clen);
    n = (size_t)cJSON_GetArraySize(layers);
    if ((size_t)cJSON_GetArraySize(diffs) != n)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0,
                             "image %s: layers and diff_ids differ in number", manifest_digest);
    desc = tdrv_xcalloc(n ? n : 1, sizeof(*desc));
    cJSON_ArrayForEach(l, layers)
    {
        const char *d = NULL;
        const cJSON *di = cJSON_GetArrayItem(diffs, (int)i);
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(l, "size");

        if (tdrv_json_str(l, "digest", TDRV_REQUIRED, &d, err) < 0 || !cJSON_IsString(di))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0,
                                 "image %s: invalid layer %zu", manifest_digest, i);
        refset_add(rs->blobs, d);
        if (bytes && cJSON_IsNumber(sz))
            *bytes += sz->valuedouble;
        snprintf(desc[i].digest, sizeof(desc[i].digest), "%s", d);
        snprintf(desc[i].diff_id, sizeof(desc[i].diff_id), "%s", di->valuestring);
        i++;
    }
    if (tdrv_chain_ids(desc, n, err) < 0)
        return tdrv_err_wrap(err, "image %s", manifest_digest);
    for (i = 0; i < n; i++)
        refset_add(rs->layers, hexpart(desc[i].chain_id));
    return 0;
}

/* ---- listing ---- */

static cJSON *find_image(cJSON *list, const char *digest)
{
    cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "manifest_digest");

        if (cJSON_IsString(d) && !strcmp(d->valuestring, digest))
            return it;
    }
    return NULL;
}

static cJSON *image_entry(cJSON *list, const char *digest)
{
    cJSON *it = find_image(list, digest);

    if (it)
        return it;
    it = tdrv_json_xobj();
    tdrv_json_add_str(it, "manifest_digest", digest);
    tdrv_json_add(it, "references", tdrv_json_xarr());
    tdrv_json_append(list, it);
    return it;
}

/* Names under dir (relative to the store root) for which want(name) holds. */
static cJSON *list_dir(struct tdrv_store *s, const char *dir)
{
    cJSON *names = tdrv_json_xarr();
    int fd = openat(s->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d;
    struct dirent *de;

    if (fd < 0)
        return names;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return names;
    }
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            tdrv_json_append(names, tdrv_json_xstr(de->d_name));
    closedir(d);
    return names;
}

int tdrv_store_images(struct tdrv_store *s, cJSON **out, struct tdrv_err *err)
{
    cleanup_json cJSON *index = NULL;
    cleanup_json cJSON *list = tdrv_json_xarr();
    cleanup_json cJSON *pinned = list_dir(s, "pins");
    cleanup_json cJSON *locks = list_dir(s, "locks");
    const cJSON *m;
    cJSON *it;

    if (index_load(s, &index, err) < 0)
        return -1;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(index, "manifests"))
    {
        const char *d = desc_digest(m);
        const char *r = desc_ref(m);

        if (!d)
            continue;
        it = image_entry(list, d);
        if (r)
            tdrv_json_append(cJSON_GetObjectItemCaseSensitive(it, "references"), tdrv_json_xstr(r));
    }
    /* pinned, or marked used, but not indexed (run by digest) */
    cJSON_ArrayForEach(m, pinned)
    {
        cleanup_free char *d = tdrv_xasprintf("sha256:%s", m->valuestring);

        if (tdrv_store_blob_has(s, d))
            image_entry(list, d);
    }
    cJSON_ArrayForEach(m, locks)
    {
        cleanup_free char *d = NULL;

        if (strncmp(m->valuestring, "image-", 6))
            continue;
        d = tdrv_xasprintf("sha256:%s", m->valuestring + 6);
        if (tdrv_store_blob_has(s, d))
            image_entry(list, d);
    }
    cJSON_ArrayForEach(it, list)
    {
        const char *d = cJSON_GetObjectItemCaseSensitive(it, "manifest_digest")->valuestring;
        cJSON *live = tdrv_json_xarr();
        cJSON *stale = tdrv_json_xarr();
        struct refset rs = {tdrv_json_xobj(), tdrv_json_xobj()};
        double bytes = 0;
        struct tdrv_err e = {0};

        pins_of(s, hexpart(d), live, stale, 0);
        tdrv_json_add(it, "pins", live);
        tdrv_json_add(it, "stale_pins", stale);
        tdrv_json_add_num(it, "last_used", (double)mark_time(s, hexpart(d)));
        if (image_refs(s, d, &rs, &bytes, &e) == 0)
            tdrv_json_add_num(it, "size", bytes);
        else
            tdrv_json_add_str(it, "unreadable", e.msg);
        cJSON_Delete(rs.blobs);
        cJSON_Delete(rs.layers);
    }
    *out = steal_ptr(&list);
    return 0;
}

/* ---- removing an image ---- */

int tdrv_store_image_remove(struct tdrv_store *s, const char *manifest_digest, int64_t unused_ns,
                            int64_t now_s, int dry, const char **why, struct tdrv_err *err)
{
    cleanup_free char *ln = NULL;
    cleanup_close int use = -1;
    cleanup_close int lock = -1;
    cleanup_json cJSON *live = tdrv_json_xarr();
    cleanup_json cJSON *index = NULL;
    cJSON *manifests;
    int64_t last;
    int n = 0;

    *why = NULL;
    if (tdrv_digest_parse(manifest_digest, NULL, NULL, err) < 0)
        return -1;
    ln = tdrv_xasprintf("locks/image-%s", hexpart(manifest_digest));
    last = mark_time(s, hexpart(manifest_digest));
    /* a dry run creates nothing: no mark means nobody is mounting it either */
    use = openat(s->root_fd, ln, O_RDWR | (dry ? 0 : O_CREAT) | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (use < 0 && dry && errno == ENOENT) {
        pins_of(s, hexpart(manifest_digest), live, NULL, 0);
        if (cJSON_GetArraySize(live) > 0)
            *why = "in_use";
        else if (now_s - last < unused_ns / 1000000000LL)
            *why = "recently_used";
        return *why ? 0 : 1;
    }
    if (use < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s/%s'", s->root, ln);
    {
        /* creating the mark must not make the image look used now */
        struct timespec ts[2] = {{.tv_sec = last}, {.tv_sec = last}};
        struct stat st;

        if (fstat(use, &st) == 0 && st.st_mtim.tv_sec > last)
            futimens(use, ts);
    }
    if (flock(use, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s/%s'", s->root, ln);
        *why = "busy";
        return 0;
    }
    pins_of(s, hexpart(manifest_digest), live, NULL, !dry);
    if (cJSON_GetArraySize(live) > 0) {
        *why = "in_use";
        return 0;
    }
    last = mark_time(s, hexpart(manifest_digest)); /* again, under the lock */
    if (now_s - last < unused_ns / 1000000000LL) {
        *why = "recently_used";
        return 0;
    }
    if (dry)
        return 1;
    if (tdrv_lock_at(s->root_fd, "locks/store", &lock, err) < 0 || index_load(s, &index, err) < 0)
        return -1;
    manifests = cJSON_GetObjectItemCaseSensitive(index, "manifests");
    for (cJSON *m = manifests->child; m;) {
        cJSON *next = m->next;
        const char *d = desc_digest(m);

        if (d && !strcmp(d, manifest_digest)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(manifests, m));
            n++;
        }
        m = next;
    }
    if (n) {
        cleanup_free char *text = cJSON_PrintUnformatted(index);

        if (!text)
            tdrv_oom();
        if (tdrv_write_file_at(s->root_fd, "images/index.json", text, strlen(text), 0644, err) < 0)
            return -1;
    }
    /* its blobs and layers go with the next sweep; the mark must say "unused" from now on */
    unlinkat(s->root_fd, ln, 0);
    return 1;
}

/* ---- the sweep ---- */

static void removed_add(cJSON *removed, const char *kind, const char *id, double bytes)
{
    cJSON *r = tdrv_json_xobj();

    tdrv_json_add_str(r, "kind", kind);
    tdrv_json_add_str(r, "id", id);
    if (bytes >= 0)
        tdrv_json_add_num(r, "bytes", bytes);
    tdrv_json_append(removed, r);
}

static int remove_entry(struct tdrv_store *s, const char *rel, int dir, struct tdrv_err *err)
{
    if (dir)
        return tdrv_rm_rf_at(s->root_fd, rel, err);
    if (unlinkat(s->root_fd, rel, 0) < 0 && errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to remove '%s/%s'", s->root, rel);
    return 0;
}

/*
 * Unreferenced, but written within unused_ns (st_ctime: when we wrote it, whatever times a
 * layer's tar gave it): a pull that failed half-way may come back for it, so it stays as long
 * as an unused image would.
 */
static int fresh(const struct stat *st, int64_t unused_ns, int64_t now_s)
{
    return now_s - (int64_t)st->st_ctim.tv_sec < unused_ns / 1000000000LL;
}

/* images/index.json.tmp-*: an index write killed before its rename. Writers hold locks/store. */
static int sweep_index_tmp(struct tdrv_store *s, int dry, cJSON *removed, struct tdrv_err *err)
{
    cleanup_json cJSON *names = list_dir(s, "images");
    cleanup_close int lock = -1;
    const cJSON *it;

    cJSON_ArrayForEach(it, names)
    {
        cleanup_free char *rel = NULL;

        if (strncmp(it->valuestring, "index.json.tmp-", 15))
            continue;
        if (lock < 0 && tdrv_lock_at(s->root_fd, "locks/store", &lock, err) < 0)
            return -1;
        rel = tdrv_xasprintf("images/%s", it->valuestring);
        removed_add(removed, "temporary", it->valuestring, -1);
        if (!dry && remove_entry(s, rel, 0, err) < 0)
            return -1;
    }
    return 0;
}

int tdrv_store_sweep(struct tdrv_store *s, int64_t unused_ns, int64_t now_s, int dry,
                     const cJSON *gone, cJSON *removed, int *busy, struct tdrv_err *err)
{
    cleanup_close int sweep = -1;
    cleanup_json cJSON *images = NULL;
    cleanup_json cJSON *blobs = tdrv_json_xobj();
    cleanup_json cJSON *layers = tdrv_json_xobj();
    struct refset rs = {blobs, layers};
    const cJSON *it;
    static const char *const algs[] = {"sha256", "sha512"};

    *busy = 0;
    sweep = openat(s->root_fd, "locks/sweep", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (sweep < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s/locks/sweep'", s->root);
    if (flock(sweep, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s/locks/sweep'", s->root);
        *busy = 1;
        return 0;
    }
    /* the roots: indexed images, pinned ones, and any used within unused_ns */
    if (tdrv_store_images(s, &images, err) < 0)
        return -1;
    cJSON_ArrayForEach(it, images)
    {
        const char *d = cJSON_GetObjectItemCaseSensitive(it, "manifest_digest")->valuestring;
        const cJSON *refs = cJSON_GetObjectItemCaseSensitive(it, "references");
        const cJSON *pins = cJSON_GetObjectItemCaseSensitive(it, "pins");
        const cJSON *lu = cJSON_GetObjectItemCaseSensitive(it, "last_used");
        cleanup_json cJSON *index = NULL;
        int indexed = 0;
        const cJSON *g;
        int going = 0;

        cJSON_ArrayForEach(g, gone)
        {
            if (cJSON_IsString(g) && !strcmp(g->valuestring, d))
                going = 1;
        }
        if (going && cJSON_GetArraySize(pins) == 0)
            continue; /* a dry run's image that would have been removed */

        /* indexed: in index.json (with or without a name) */
        if (cJSON_GetArraySize(refs) > 0)
            indexed = 1;
        if (!indexed) {
            struct tdrv_err e = {0};
            const cJSON *m;

            if (index_load(s, &index, &e) == 0)
                cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(index, "manifests"))
                {
                    const char *md = desc_digest(m);

                    if (md && !strcmp(md, d))
                        indexed = 1;
                }
        }
        if (!indexed && cJSON_GetArraySize(pins) == 0 && cJSON_IsNumber(lu) &&
            now_s - (int64_t)lu->valuedouble >= unused_ns / 1000000000LL)
            continue; /* garbage itself */
        if (image_refs(s, d, &rs, NULL, err) < 0)
            return tdrv_err_wrap(err, "unable to tell what the store's images reference");
    }
    for (size_t a = 0; a < TDRV_ARRAY_LEN(algs); a++) {
        cleanup_free char *dir = tdrv_xasprintf("images/blobs/%s", algs[a]);
        cleanup_json cJSON *names = list_dir(s, dir);

        cJSON_ArrayForEach(it, names)
        {
            cleanup_free char *dg = tdrv_xasprintf("%s:%s", algs[a], it->valuestring);
            cleanup_free char *rel = tdrv_xasprintf("%s/%s", dir, it->valuestring);
            struct stat st;

            int tmp = strstr(it->valuestring, ".tmp-") != NULL;

            if (cJSON_GetObjectItemCaseSensitive(blobs, dg))
                continue;
            if (fstatat(s->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                (!tmp && fresh(&st, unused_ns, now_s)))
                continue;
            removed_add(removed, tmp ? "temporary" : "blob", dg, (double)st.st_size);
            if (!dry && remove_entry(s, rel, 0, err) < 0)
                return -1;
        }
    }
    {
        cleanup_json cJSON *names = list_dir(s, "layers");

        cJSON_ArrayForEach(it, names)
        {
            const char *n = it->valuestring;
            cleanup_free char *rel = tdrv_xasprintf("layers/%s", n);
            cleanup_free char *key = NULL;
            const char *dot = strchr(n, '.');
            int tmp = n[0] == '.' || strstr(n, ".tmp-");
            struct stat st;

            key = dot && !tmp ? tdrv_xstrndup(n, (size_t)(dot - n)) : tdrv_xstrdup(n);
            if (!tmp && cJSON_GetObjectItemCaseSensitive(layers, key))
                continue;
            if (!tmp && dot && strcmp(dot, ".json"))
                continue; /* not a name the store makes: leave it */
            if (!tmp && fstatat(s->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                fresh(&st, unused_ns, now_s))
                continue;
            removed_add(removed, tmp ? "temporary" : dot ? "layer_meta" : "layer", n, -1);
            if (!dry && remove_entry(s, rel, !dot || tmp, err) < 0)
                return -1;
        }
    }
    if (sweep_index_tmp(s, dry, removed, err) < 0)
        return -1;
    {
        cleanup_json cJSON *names = list_dir(s, "ingest");

        cJSON_ArrayForEach(it, names)
        {
            cleanup_free char *rel = tdrv_xasprintf("ingest/%s", it->valuestring);
            cleanup_free char *lk = NULL;
            const char *dot = strchr(it->valuestring, '.');
            struct stat st;
            int fd;

            if (fstatat(s->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                now_s - (int64_t)st.st_mtim.tv_sec < PARTIAL_MAX_AGE_S)
                continue;
            /* never one being written: its blob lock must be free */
            lk = tdrv_xasprintf("locks/blob-%.*s", dot ? (int)(dot - it->valuestring) : 0,
                                it->valuestring);
            fd = openat(s->root_fd, lk, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd >= 0) {
                int ok = flock(fd, LOCK_EX | LOCK_NB) == 0;

                close(fd);
                if (!ok)
                    continue;
            }
            removed_add(removed, "partial", it->valuestring, (double)st.st_size);
            if (!dry && remove_entry(s, rel, 0, err) < 0)
                return -1;
        }
    }
    {
        /* image use marks of images gone, and blob/layer locks of what is gone */
        cleanup_json cJSON *names = list_dir(s, "locks");

        cJSON_ArrayForEach(it, names)
        {
            const char *n = it->valuestring;
            cleanup_free char *rel = tdrv_xasprintf("locks/%s", n);
            cleanup_free char *dg = NULL;
            int fd;
            int ok;

            if (!strncmp(n, "image-", 6)) {
                dg = tdrv_xasprintf("sha256:%s", n + 6);
                if (cJSON_GetObjectItemCaseSensitive(blobs, dg))
                    continue;
            } else if (!strncmp(n, "blob-", 5)) {
                dg = tdrv_xasprintf("sha256:%s", n + 5);
                if (tdrv_store_blob_has(s, dg))
                    continue;
            } else if (!strncmp(n, "layer-", 6)) {
                if (cJSON_GetObjectItemCaseSensitive(layers, n + 6))
                    continue;
            } else {
                continue;
            }
            fd = openat(s->root_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd < 0)
                continue;
            ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
            if (ok && !dry)
                unlinkat(s->root_fd, rel, 0);
            close(fd);
        }
    }
    return 0;
}
