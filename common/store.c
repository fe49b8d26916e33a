#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "digest.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "unpack.h"

#define DEFAULT_ROOT "/var/lib/tdrv"
#define DEFAULT_MAX_LAYER_BYTES (64ull << 30)
#define DEFAULT_MAX_ENTRIES (4ull << 20)
#define DEFAULT_JOBS 4
#define MAX_META (16u << 20) /* manifests, configs, index.json */

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ANN_REF "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD "io.containerd.image.name"

static unsigned tmp_counter;

static unsigned next_tmp(void)
{
    return __atomic_add_fetch(&tmp_counter, 1, __ATOMIC_SEQ_CST);
}

/* ---- open ---- */

static const char empty_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";
static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

static int store_lock(struct tdrv_store *s, int *fd, struct tdrv_err *err)
{
    return tdrv_lock_at(s->root_fd, "locks/store", fd, err);
}

/* A limit from the environment (the operator's file may set them later). */
static int env_u64(const char *name, uint64_t *out, struct tdrv_err *err)
{
    const char *v = getenv(name);

    if (!v || !*v)
        return 0;
    if (tdrv_parse_u64(v, 1, UINT64_MAX, out, err) < 0)
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_config", 0, "%s: %s", name, err->msg);
    return 0;
}

int tdrv_store_open(struct tdrv_store *s, const char *root, struct tdrv_err *err)
{
    static const char *const dirs[] = {
        "images/blobs/sha256", "images/blobs/sha512", "layers", "ingest", "locks", "pins"};
    cleanup_close int lock = -1;
    struct stat st;

    memset(s, 0, sizeof(*s));
    s->root_fd = -1;
    s->hold_fd = -1;
    if (!root || !*root)
        root = getenv("TDRV_ROOT");
    if (!root || !*root)
        root = DEFAULT_ROOT;
    s->root = tdrv_xstrdup(root);
    s->max_layer_bytes = DEFAULT_MAX_LAYER_BYTES;
    s->max_entries = DEFAULT_MAX_ENTRIES;
    s->jobs = DEFAULT_JOBS;
    if (env_u64("TDRV_MAX_LAYER_BYTES", &s->max_layer_bytes, err) < 0 ||
        env_u64("TDRV_MAX_LAYER_ENTRIES", &s->max_entries, err) < 0)
        return -1;
    if (tdrv_mkdir_p(AT_FDCWD, root, 0711, err) < 0)
        return tdrv_err_wrap(err, "unable to create the store");
    s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open the store '%s'", root);
    for (size_t i = 0; i < TDRV_ARRAY_LEN(dirs); i++)
        if (tdrv_mkdir_p(s->root_fd, dirs[i], 0755, err) < 0)
            return tdrv_err_wrap(err, "store '%s'", root);
    if (fstatat(s->root_fd, "images/index.json", &st, 0) == 0 &&
        fstatat(s->root_fd, "images/oci-layout", &st, 0) == 0)
        return 0;
    if (store_lock(s, &lock, err) < 0)
        return -1;
    if (fstatat(s->root_fd, "images/oci-layout", &st, 0) < 0 &&
        tdrv_write_file_at(s->root_fd, "images/oci-layout", oci_layout, strlen(oci_layout), 0644,
                           err) < 0)
        return -1;
    if (fstatat(s->root_fd, "images/index.json", &st, 0) < 0 &&
        tdrv_write_file_at(s->root_fd, "images/index.json", empty_index, strlen(empty_index), 0644,
                           err) < 0)
        return -1;
    return 0;
}

void tdrv_store_release(struct tdrv_store *s)
{
    tdrv_store_unhold(s);
    /* A zeroed struct (never opened) has root NULL: its root_fd 0 is not ours. */
    if (s->root && s->root_fd >= 0)
        close(s->root_fd);
    s->root_fd = -1;
    free(s->root);
    s->root = NULL;
}

/* ---- blobs ---- */

static char *blob_rel(const char *digest)
{
    const char *colon = strchr(digest, ':');

    return tdrv_xasprintf("images/blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
}

char *tdrv_store_blob_path(struct tdrv_store *s, const char *digest)
{
    cleanup_free char *rel = blob_rel(digest);

    return tdrv_xasprintf("%s/%s", s->root, rel);
}

int tdrv_store_blob_has(struct tdrv_store *s, const char *digest)
{
    struct tdrv_err err = {0};
    cleanup_free char *rel = NULL;
    struct stat st;

    if (tdrv_digest_parse(digest, NULL, NULL, &err) < 0)
        return 0;
    rel = blob_rel(digest);
    return fstatat(s->root_fd, rel, &st, 0) == 0 && S_ISREG(st.st_mode);
}

struct tdrv_blob_writer {
    struct tdrv_store *s;
    char digest[TDRV_DIGEST_MAX]; /* expected, "" when computed */
    int64_t size;
    int fd;
    int lock_fd;
    uint64_t offset;
    struct tdrv_hash *hash;
    char *partial; /* relative to root */
};

static void writer_free(struct tdrv_blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    tdrv_hash_free(w->hash);
    free(w->partial);
    free(w);
}

static int rehash_partial(struct tdrv_blob_writer *w, struct tdrv_err *err)
{
    char buf[128 * 1024];
    ssize_t r;

    if (lseek(w->fd, 0, SEEK_SET) < 0)
        return tdrv_err_set(err, TDRV_E_IO, errno, "unable to read '%s'", w->partial);
    while ((r = read(w->fd, buf, sizeof(buf))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return tdrv_err_set(err, TDRV_E_IO, errno, "unable to read '%s'", w->partial);
        tdrv_hash_update(w->hash, buf, (size_t)r);
        w->offset += (uint64_t)r;
    }
    return 0;
}

int tdrv_store_blob_begin(struct tdrv_store *s, const char *digest, int64_t size,
                          struct tdrv_blob_writer **out, struct tdrv_err *err)
{
    struct tdrv_blob_writer *w;
    int alg = TDRV_SHA256;
    const char *hex = NULL;

    *out = NULL;
    if (digest && tdrv_digest_parse(digest, &alg, &hex, err) < 0)
        return -1;
    if (tdrv_store_hold(s, err) < 0)
        return -1;
    w = tdrv_xcalloc(1, sizeof(*w));
    w->s = s;
    w->fd = -1;
    w->lock_fd = -1;
    w->size = size;
    w->hash = tdrv_hash_new(alg);
    if (digest) {
        cleanup_free char *lockname = tdrv_xasprintf("locks/blob-%s", hex);

        snprintf(w->digest, sizeof(w->digest), "%s", digest);
        if (tdrv_lock_at(s->root_fd, lockname, &w->lock_fd, err) < 0) {
            writer_free(w);
            return -1;
        }
        if (tdrv_store_blob_has(s, digest)) {
            writer_free(w);
            return 1;
        }
        w->partial = tdrv_xasprintf("ingest/%s.partial", hex);
    } else {
        w->partial = tdrv_xasprintf("ingest/tmp-%d-%u.partial", (int)getpid(), next_tmp());
    }
    w->fd = openat(s->root_fd, w->partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (w->fd < 0) {
        tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", w->partial);
        writer_free(w);
        return -1;
    }
    if (digest && rehash_partial(w, err) < 0) {
        writer_free(w);
        return -1;
    }
    if (w->size >= 0 && w->offset > (uint64_t)w->size && tdrv_blob_restart(w, err) < 0) {
        writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

uint64_t tdrv_blob_offset(const struct tdrv_blob_writer *w)
{
    return w->offset;
}

int tdrv_blob_restart(struct tdrv_blob_writer *w, struct tdrv_err *err)
{
    if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
        return tdrv_err_set(err, TDRV_E_IO, errno, "unable to truncate '%s'", w->partial);
    tdrv_hash_reset(w->hash);
    w->offset = 0;
    return 0;
}

int tdrv_blob_write(struct tdrv_blob_writer *w, const void *buf, size_t n, struct tdrv_err *err)
{
    if (w->size >= 0 && w->offset + n > (uint64_t)w->size)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "size_mismatch", 0,
                             "blob %s is larger than its expected %lld bytes",
                             w->digest[0] ? w->digest : "(new)", (long long)w->size);
    if (lseek(w->fd, (off_t)w->offset, SEEK_SET) < 0 || tdrv_write_all(w->fd, buf, n) < 0)
        return tdrv_err_set(err, TDRV_E_IO, errno, "unable to write '%s'", w->partial);
    tdrv_hash_update(w->hash, buf, n);
    w->offset += n;
    return 0;
}

int tdrv_blob_commit_digest(struct tdrv_blob_writer *w, char *digest, struct tdrv_err *err)
{
    char got[TDRV_DIGEST_MAX];
    cleanup_free char *rel = NULL;
    int rc = 0;

    if (w->size >= 0 && w->offset != (uint64_t)w->size) {
        rc = tdrv_err_setw(
            err, TDRV_E_PROTOCOL, "size_mismatch", 0, "blob %s has %llu bytes, expected %lld",
            w->digest[0] ? w->digest : "(new)", (unsigned long long)w->offset, (long long)w->size);
        unlinkat(w->s->root_fd, w->partial, 0);
        goto out;
    }
    tdrv_hash_final(w->hash, got);
    if (w->digest[0] && strcmp(got, w->digest)) {
        rc = tdrv_err_setw(err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                           "blob digest mismatch: expected %s, got %s", w->digest, got);
        unlinkat(w->s->root_fd, w->partial, 0);
        goto out;
    }
    rel = blob_rel(got);
    if (fchmod(w->fd, 0644) < 0 || renameat(w->s->root_fd, w->partial, w->s->root_fd, rel) < 0) {
        rc = tdrv_err_set(err, TDRV_E_OS, errno, "unable to store blob %s", got);
        unlinkat(w->s->root_fd, w->partial, 0);
        goto out;
    }
    if (digest)
        memcpy(digest, got, TDRV_DIGEST_MAX);
out:
    writer_free(w);
    return rc;
}

int tdrv_blob_commit(struct tdrv_blob_writer *w, struct tdrv_err *err)
{
    return tdrv_blob_commit_digest(w, NULL, err);
}

void tdrv_blob_abort(struct tdrv_blob_writer *w)
{
    if (w && !w->digest[0])
        unlinkat(w->s->root_fd, w->partial, 0);
    writer_free(w);
}

void tdrv_blob_discard(struct tdrv_blob_writer *w)
{
    if (w)
        unlinkat(w->s->root_fd, w->partial, 0);
    writer_free(w);
}

int tdrv_store_blob_read(struct tdrv_store *s, const char *digest, size_t max, char **data,
                         size_t *len, struct tdrv_err *err)
{
    cleanup_free char *rel = NULL;
    cleanup_free char *buf = NULL;
    char got[TDRV_DIGEST_MAX];
    int alg;
    size_t n = 0;

    if (tdrv_digest_parse(digest, &alg, NULL, err) < 0)
        return -1;
    rel = blob_rel(digest);
    if (tdrv_read_file_at(s->root_fd, rel, max, &buf, &n, err) < 0) {
        if (err->code == TDRV_E_NOINPUT)
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "blob_not_found", ENOENT,
                                 "blob %s is not in the store", digest);
        return tdrv_err_wrap(err, "blob %s", digest);
    }
    tdrv_digest_buf(alg, buf, n, got);
    if (strcmp(got, digest))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                             "stored blob %s is corrupt (digest %s)", digest, got);
    *data = steal_ptr(&buf);
    if (len)
        *len = n;
    return 0;
}

int tdrv_store_blob_put(struct tdrv_store *s, const char *digest, const void *data, size_t len,
                        char **out_digest, struct tdrv_err *err)
{
    struct tdrv_blob_writer *w = NULL;
    char got[TDRV_DIGEST_MAX];
    int r = tdrv_store_blob_begin(s, digest, (int64_t)len, &w, err);

    if (r < 0)
        return -1;
    if (r == 1) {
        if (out_digest)
            *out_digest = tdrv_xstrdup(digest);
        return 0;
    }
    if (tdrv_blob_restart(w, err) < 0 || tdrv_blob_write(w, data, len, err) < 0) {
        tdrv_blob_discard(w);
        return -1;
    }
    if (tdrv_blob_commit_digest(w, got, err) < 0)
        return -1;
    if (out_digest)
        *out_digest = tdrv_xstrdup(got);
    return 0;
}

/* ---- layers ---- */

int tdrv_chain_ids(struct tdrv_layer_desc *desc, size_t n, struct tdrv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (tdrv_digest_parse(desc[i].diff_id, NULL, NULL, err) < 0)
            return tdrv_err_wrap(err, "layer %zu diff_id", i);
        if (i == 0) {
            memcpy(desc[i].chain_id, desc[i].diff_id, sizeof(desc[i].chain_id));
        } else {
            cleanup_free char *s = tdrv_xasprintf("%s %s", desc[i - 1].chain_id, desc[i].diff_id);

            tdrv_digest_buf(TDRV_SHA256, s, strlen(s), desc[i].chain_id);
        }
    }
    return 0;
}

static const char *hex_of(const char *digest)
{
    const char *c = strchr(digest, ':');

    return c ? c + 1 : digest;
}

int tdrv_store_layer_has(struct tdrv_store *s, const char *chain_id)
{
    cleanup_free char *rel = tdrv_xasprintf("layers/%s", hex_of(chain_id));
    struct stat st;

    return fstatat(s->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static void unpack_opts(struct tdrv_store *s, int mode, struct tdrv_unpack_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = mode;
    o->max_bytes = s->max_layer_bytes ? s->max_layer_bytes : DEFAULT_MAX_LAYER_BYTES;
    o->max_entries = s->max_entries ? s->max_entries : DEFAULT_MAX_ENTRIES;
    o->skip_devices = tdrv_in_userns();
    o->no_chown = geteuid() != 0;
}

/* A fresh temporary layer directory under layers/. */
static int layer_tmp(struct tdrv_store *s, const char *chain_id, char **name, int *fd,
                     struct tdrv_err *err)
{
    cleanup_free char *n =
        tdrv_xasprintf("layers/.tmp-%s-%d-%u", hex_of(chain_id), (int)getpid(), next_tmp());

    if (mkdirat(s->root_fd, n, 0755) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create '%s'", n);
    *fd = openat(s->root_fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", n);
    *name = steal_ptr(&n);
    return 0;
}

static void rm_tmp(struct tdrv_store *s, const char *tmp)
{
    struct tdrv_err e = {0};

    if (tmp)
        tdrv_rm_rf_at(s->root_fd, tmp, &e);
}

/* Check the DiffID, record the layer's metadata and rename the directory into place. */
static int layer_finish(struct tdrv_store *s, const struct tdrv_layer_desc *desc, const char *tmp,
                        const char *diff_id, struct tdrv_err *err)
{
    cleanup_free char *final = tdrv_xasprintf("layers/%s", hex_of(desc->chain_id));
    cleanup_free char *meta = tdrv_xasprintf("layers/%s.json", hex_of(desc->chain_id));
    cleanup_json cJSON *j = tdrv_json_xobj();
    cleanup_free char *text = NULL;

    if (desc->diff_id[0] && strcmp(diff_id, desc->diff_id))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "diff_id_mismatch", 0,
                             "layer %s: uncompressed digest %s does not match diff_id %s",
                             desc->digest, diff_id, desc->diff_id);
    if (tdrv_store_layer_has(s, desc->chain_id)) {
        /* Already there (only its blob was missing): keep the one in place. */
        rm_tmp(s, tmp);
        return 0;
    }
    tdrv_json_add_str(j, "digest", desc->digest);
    tdrv_json_add_str(j, "diff_id", diff_id);
    tdrv_json_add_str(j, "chain_id", desc->chain_id);
    tdrv_json_add_num(j, "size", (double)desc->size);
    text = cJSON_PrintUnformatted(j);
    if (!text)
        tdrv_oom();
    if (tdrv_write_file_at(s->root_fd, meta, text, strlen(text), 0644, err) < 0)
        return -1;
    if (renameat(s->root_fd, tmp, s->root_fd, final) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to rename '%s'", tmp);
    return 0;
}

static int layer_lock(struct tdrv_store *s, const char *chain_id, int *fd, struct tdrv_err *err)
{
    cleanup_free char *n = tdrv_xasprintf("locks/layer-%s", hex_of(chain_id));

    return tdrv_lock_at(s->root_fd, n, fd, err);
}

static int layer_unpack_locked(struct tdrv_store *s, const struct tdrv_layer_desc *desc,
                               struct tdrv_err *err)
{
    cleanup_free char *rel = NULL;
    cleanup_free char *tmp = NULL;
    cleanup_close int bfd = -1;
    cleanup_close int tfd = -1;
    struct tdrv_unpack_opts o;
    char diff_id[TDRV_DIGEST_MAX];

    if (tdrv_store_layer_has(s, desc->chain_id))
        return 0;
    if (tdrv_digest_parse(desc->digest, NULL, NULL, err) < 0)
        return -1;
    rel = blob_rel(desc->digest);
    bfd = openat(s->root_fd, rel, O_RDONLY | O_CLOEXEC);
    if (bfd < 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "blob_not_found", errno,
                             "layer blob %s is not in the store", desc->digest);
    if (layer_tmp(s, desc->chain_id, &tmp, &tfd, err) < 0)
        return -1;
    unpack_opts(s, TDRV_UNPACK_OVERLAY, &o);
    if (tdrv_unpack_fd(tfd, bfd, &o, diff_id, err) < 0 ||
        layer_finish(s, desc, tmp, diff_id, err) < 0) {
        tdrv_err_wrap(err, "layer %s", desc->digest);
        rm_tmp(s, tmp);
        return -1;
    }
    return 0;
}

int tdrv_store_layer_unpack(struct tdrv_store *s, const struct tdrv_layer_desc *desc,
                            struct tdrv_err *err)
{
    cleanup_close int lock = -1;

    if (tdrv_store_layer_has(s, desc->chain_id))
        return 0;
    if (tdrv_store_hold(s, err) < 0 || layer_lock(s, desc->chain_id, &lock, err) < 0)
        return -1;
    return layer_unpack_locked(s, desc, err);
}

struct unpack_job {
    struct tdrv_store *s;
    const struct tdrv_layer_desc *desc;
    size_t n;
    size_t next;
    pthread_mutex_t mu;
    struct tdrv_err err;
    int failed;
};

static void *unpack_worker(void *arg)
{
    struct unpack_job *j = arg;

    for (;;) {
        struct tdrv_err e = {0};
        size_t i;

        pthread_mutex_lock(&j->mu);
        i = j->failed ? j->n : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->n)
            return NULL;
        if (tdrv_store_layer_unpack(j->s, &j->desc[i], &e) < 0) {
            pthread_mutex_lock(&j->mu);
            if (!j->failed)
                j->err = e;
            j->failed = 1;
            pthread_mutex_unlock(&j->mu);
        }
    }
}

int tdrv_store_layers_unpack(struct tdrv_store *s, const struct tdrv_layer_desc *desc, size_t n,
                             struct tdrv_err *err)
{
    struct unpack_job j = {.s = s, .desc = desc, .n = n};
    pthread_t th[16];
    size_t nth = 0;
    size_t want = (size_t)(s->jobs > 0 ? s->jobs : DEFAULT_JOBS);
    size_t todo = 0;

    for (size_t i = 0; i < n; i++)
        todo += !tdrv_store_layer_has(s, desc[i].chain_id);
    if (!todo)
        return 0;
    if (want > TDRV_ARRAY_LEN(th))
        want = TDRV_ARRAY_LEN(th);
    if (want > todo)
        want = todo;
    pthread_mutex_init(&j.mu, NULL);
    for (size_t i = 1; i < want; i++) {
        if (pthread_create(&th[nth], NULL, unpack_worker, &j) != 0)
            break;
        nth++;
    }
    unpack_worker(&j);
    for (size_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.mu);
    if (j.failed) {
        *err = j.err;
        return -1;
    }
    return 0;
}

/* ---- streamed layer writer ---- */

struct tdrv_layer_writer {
    struct tdrv_store *s;
    struct tdrv_layer_desc desc;
    struct tdrv_blob_writer *blob;
    int lock_fd;
    char *tmp;
    int tmp_fd;
    int sock[2];
    int replay_fd; /* the partial, replayed into the unpacker first */
    uint64_t replay_left;
    pthread_t thread;
    int running;
    int feed_failed;
    int rc;
    struct tdrv_err err;
    char diff_id[TDRV_DIGEST_MAX];
};

static ssize_t layer_src_read(void *ctx, void *buf, size_t n)
{
    struct tdrv_layer_writer *w = ctx;
    ssize_t r;

    if (w->replay_left) {
        if (n > w->replay_left)
            n = (size_t)w->replay_left;
        do
            r = read(w->replay_fd, buf, n);
        while (r < 0 && errno == EINTR);
        if (r > 0) {
            w->replay_left -= (uint64_t)r;
            return r;
        }
        if (r == 0)
            errno = EIO;
        return -1;
    }
    do
        r = read(w->sock[0], buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

static void *layer_thread(void *arg)
{
    struct tdrv_layer_writer *w = arg;
    struct tdrv_tar_src src = {.read = layer_src_read, .ctx = w};
    struct tdrv_unpack_opts o;
    cleanup_tar struct tdrv_tar *t = NULL;
    struct tdrv_tar_opts to;

    unpack_opts(w->s, TDRV_UNPACK_OVERLAY, &o);
    to.max_bytes = o.max_bytes;
    to.max_entries = o.max_entries;
    w->rc = tdrv_tar_open(&t, &src, &to, &w->err);
    if (w->rc == 0)
        w->rc = tdrv_unpack(w->tmp_fd, t, &o, w->diff_id, &w->err);
    {
        /* Keep reading to the feeder's end, whatever happened (an error, or data after the
         * tar's end): the blob is still being stored, and a feeder blocked on a full socket
         * would stall the download until pull_activity_timeout. A replay that cannot be
         * read any more is skipped: what matters now is the socket. */
        char buf[64 * 1024];
        ssize_t r;

        while ((r = layer_src_read(w, buf, sizeof(buf))) != 0)
            if (r < 0 && w->replay_left)
                w->replay_left = 0;
            else if (r < 0)
                break;
    }
    return NULL;
}

static int layer_start(struct tdrv_layer_writer *w, uint64_t replay, struct tdrv_err *err)
{
    if (layer_tmp(w->s, w->desc.chain_id, &w->tmp, &w->tmp_fd, err) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->sock) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a socket pair");
    w->replay_left = replay;
    if (replay) {
        cleanup_free char *rel = tdrv_xasprintf("ingest/%s.partial", hex_of(w->desc.digest));

        w->replay_fd = openat(w->s->root_fd, rel, O_RDONLY | O_CLOEXEC);
        if (w->replay_fd < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", rel);
    }
    w->rc = 0;
    w->feed_failed = 0;
    if (pthread_create(&w->thread, NULL, layer_thread, w) != 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to start the unpacker");
    w->running = 1;
    return 0;
}

static void layer_stop(struct tdrv_layer_writer *w)
{
    if (w->sock[1] >= 0) {
        shutdown(w->sock[1], SHUT_WR);
    }
    if (w->running) {
        pthread_join(w->thread, NULL);
        w->running = 0;
    }
    for (int i = 0; i < 2; i++) {
        if (w->sock[i] >= 0)
            close(w->sock[i]);
        w->sock[i] = -1;
    }
    if (w->replay_fd >= 0)
        close(w->replay_fd);
    w->replay_fd = -1;
    if (w->tmp_fd >= 0)
        close(w->tmp_fd);
    w->tmp_fd = -1;
}

static void layer_writer_free(struct tdrv_layer_writer *w, int remove_tmp)
{
    if (!w)
        return;
    layer_stop(w);
    if (remove_tmp)
        rm_tmp(w->s, w->tmp);
    free(w->tmp);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    free(w);
}

int tdrv_store_layer_begin(struct tdrv_store *s, const struct tdrv_layer_desc *desc,
                           struct tdrv_layer_writer **out, struct tdrv_err *err)
{
    struct tdrv_layer_writer *w;
    int r;

    *out = NULL;
    if (tdrv_digest_parse(desc->digest, NULL, NULL, err) < 0 ||
        tdrv_digest_parse(desc->chain_id, NULL, NULL, err) < 0)
        return -1;
    w = tdrv_xcalloc(1, sizeof(*w));
    w->s = s;
    w->desc = *desc;
    w->lock_fd = -1;
    w->tmp_fd = -1;
    w->replay_fd = -1;
    w->sock[0] = w->sock[1] = -1;
    if (tdrv_store_hold(s, err) < 0 || layer_lock(s, desc->chain_id, &w->lock_fd, err) < 0) {
        layer_writer_free(w, 0);
        return -1;
    }
    if (tdrv_store_blob_has(s, desc->digest)) {
        r = layer_unpack_locked(s, desc, err);
        layer_writer_free(w, 0);
        return r < 0 ? -1 : 1;
    }
    r = tdrv_store_blob_begin(s, desc->digest, desc->size, &w->blob, err);
    if (r != 0) {
        layer_writer_free(w, 0);
        if (r == 1)
            return tdrv_store_layer_unpack(s, desc, err) < 0 ? -1 : 1;
        return -1;
    }
    if (layer_start(w, tdrv_blob_offset(w->blob), err) < 0) {
        tdrv_blob_abort(w->blob);
        layer_writer_free(w, 1);
        return -1;
    }
    *out = w;
    return 0;
}

uint64_t tdrv_layer_offset(const struct tdrv_layer_writer *w)
{
    return tdrv_blob_offset(w->blob);
}

int tdrv_layer_restart(struct tdrv_layer_writer *w, struct tdrv_err *err)
{
    layer_stop(w);
    rm_tmp(w->s, w->tmp);
    free(w->tmp);
    w->tmp = NULL;
    if (tdrv_blob_restart(w->blob, err) < 0)
        return -1;
    return layer_start(w, 0, err);
}

int tdrv_layer_write(struct tdrv_layer_writer *w, const void *buf, size_t n, struct tdrv_err *err)
{
    const char *p = buf;

    if (tdrv_blob_write(w->blob, buf, n, err) < 0)
        return -1;
    while (n && !w->feed_failed) {
        ssize_t r = send(w->sock[1], p, n, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            w->feed_failed = 1; /* the unpacker stopped; its error is reported at commit */
            break;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int tdrv_layer_commit(struct tdrv_layer_writer *w, struct tdrv_err *err)
{
    struct tdrv_blob_writer *b = w->blob;
    int rc;

    w->blob = NULL;
    layer_stop(w);
    rc = tdrv_blob_commit(b, err);
    if (rc == 0 && w->rc < 0) {
        *err = w->err;
        tdrv_err_wrap(err, "layer %s", w->desc.digest);
        rc = -1;
    }
    if (rc == 0 && layer_finish(w->s, &w->desc, w->tmp, w->diff_id, err) < 0)
        rc = -1;
    layer_writer_free(w, rc < 0);
    return rc;
}

void tdrv_layer_abort(struct tdrv_layer_writer *w)
{
    if (!w)
        return;
    layer_stop(w);
    tdrv_blob_abort(w->blob);
    w->blob = NULL;
    layer_writer_free(w, 1);
}

/* ---- images ---- */

struct image {
    cJSON *manifest;
    cJSON *config;
    char manifest_digest[TDRV_DIGEST_MAX];
    const char *media_type;
    const char *config_digest;
    struct tdrv_layer_desc *layers;
    size_t nlayers;
};

static void image_release(struct image *im)
{
    cJSON_Delete(im->manifest);
    cJSON_Delete(im->config);
    free(im->layers);
    memset(im, 0, sizeof(*im));
}

static int image_parse(struct tdrv_store *s, const char *text, size_t len, struct image *im,
                       struct tdrv_err *err)
{
    const cJSON *layers = NULL;
    const cJSON *diff_ids = NULL;
    const char *mt = NULL;
    cleanup_free char *cfg = NULL;
    size_t cfg_len = 0;
    int64_t schema = 0;
    size_t i = 0;
    const cJSON *l;

    memset(im, 0, sizeof(*im));
    tdrv_digest_buf(TDRV_SHA256, text, len, im->manifest_digest);
    if (tdrv_json_parse(text, len, &im->manifest, err) < 0)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0, "invalid manifest: %s",
                             err->msg);
    if (!cJSON_IsObject(im->manifest))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0,
                             "invalid manifest: not an object");
    if (tdrv_json_str(im->manifest, "mediaType", TDRV_OPTIONAL, &mt, err) < 0 ||
        tdrv_json_i64(im->manifest, "schemaVersion", TDRV_REQUIRED, 2, 2, &schema, err) < 0 ||
        tdrv_json_str(im->manifest, "config.digest", TDRV_REQUIRED, &im->config_digest, err) < 0 ||
        tdrv_json_arr(im->manifest, "layers", TDRV_REQUIRED, &layers, err) < 0)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0, "invalid manifest: %s",
                             err->msg);
    if (mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST)))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0,
                             "expected an image manifest, got an index (%s)", mt);
    im->media_type = mt ? mt : MT_OCI_MANIFEST;
    if (tdrv_store_blob_read(s, im->config_digest, MAX_META, &cfg, &cfg_len, err) < 0)
        return tdrv_err_wrap(err, "image config");
    if (tdrv_json_parse(cfg, cfg_len, &im->config, err) < 0 || !cJSON_IsObject(im->config) ||
        tdrv_json_arr(im->config, "rootfs.diff_ids", TDRV_REQUIRED, &diff_ids, err) < 0)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_image_config", 0,
                             "invalid image config %s: %s", im->config_digest,
                             err->msg[0] ? err->msg : "not an object");
    im->nlayers = (size_t)cJSON_GetArraySize(layers);
    if ((size_t)cJSON_GetArraySize(diff_ids) != im->nlayers)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0,
                             "manifest has %zu layers but the config %d diff_ids", im->nlayers,
                             cJSON_GetArraySize(diff_ids));
    im->layers = tdrv_xcalloc(im->nlayers ? im->nlayers : 1, sizeof(*im->layers));
    cJSON_ArrayForEach(l, layers)
    {
        const char *d = NULL;
        int64_t size = -1;
        const cJSON *di = cJSON_GetArrayItem(diff_ids, (int)i);

        if (tdrv_json_str(l, "digest", TDRV_REQUIRED, &d, err) < 0 ||
            tdrv_json_i64(l, "size", TDRV_OPTIONAL, 0, INT64_MAX, &size, err) < 0 ||
            tdrv_digest_parse(d, NULL, NULL, err) < 0)
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_manifest", 0,
                                 "invalid manifest layer %zu: %s", i, err->msg);
        if (!cJSON_IsString(di))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_image_config", 0,
                                 "config rootfs.diff_ids[%zu]: expected string", i);
        snprintf(im->layers[i].digest, sizeof(im->layers[i].digest), "%s", d);
        snprintf(im->layers[i].diff_id, sizeof(im->layers[i].diff_id), "%s", di->valuestring);
        im->layers[i].size = size;
        i++;
    }
    if (tdrv_chain_ids(im->layers, im->nlayers, err) < 0)
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "invalid_image_config", 0, "%s", err->msg);
    return 0;
}

static cJSON *image_info(struct tdrv_store *s, const struct image *im, const char *ref)
{
    cJSON *info = tdrv_json_xobj();
    cJSON *layers = tdrv_json_xarr();
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(im->manifest, "layers");
    const char *os = NULL;
    const char *arch = NULL;
    const char *variant = NULL;
    struct tdrv_err e = {0};
    cleanup_free char *platform = NULL;

    tdrv_json_str(im->config, "os", TDRV_OPTIONAL, &os, &e);
    tdrv_json_str(im->config, "architecture", TDRV_OPTIONAL, &arch, &e);
    tdrv_json_str(im->config, "variant", TDRV_OPTIONAL, &variant, &e);
    platform = tdrv_xasprintf("%s/%s%s%s", os ? os : "linux", arch ? arch : "amd64",
                              variant ? "/" : "", variant ? variant : "");
    if (ref)
        tdrv_json_add_str(info, "reference", ref);
    tdrv_json_add_str(info, "manifest_digest", im->manifest_digest);
    tdrv_json_add_str(info, "media_type", im->media_type);
    tdrv_json_add_str(info, "config_digest", im->config_digest);
    tdrv_json_add(info, "config", tdrv_json_xdup(im->config));
    for (size_t i = 0; i < im->nlayers; i++) {
        cJSON *l = tdrv_json_xobj();
        const cJSON *mli = cJSON_GetArrayItem(ml, (int)i);
        const char *mt = NULL;

        tdrv_json_str(mli, "mediaType", TDRV_OPTIONAL, &mt, &e);
        tdrv_json_add_str(l, "digest", im->layers[i].digest);
        tdrv_json_add_num(l, "size", (double)im->layers[i].size);
        if (mt)
            tdrv_json_add_str(l, "media_type", mt);
        tdrv_json_add_str(l, "diff_id", im->layers[i].diff_id);
        tdrv_json_add_str(l, "chain_id", im->layers[i].chain_id);
        tdrv_json_append(layers, l);
    }
    tdrv_json_add(info, "layers", layers);
    tdrv_json_add_str(info, "platform", platform);
    tdrv_json_add_str(info, "store", s->root);
    return info;
}

static int index_read(struct tdrv_store *s, cJSON **index, struct tdrv_err *err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    const cJSON *m = NULL;

    if (tdrv_read_file_at(s->root_fd, "images/index.json", MAX_META, &text, &len, err) < 0 ||
        tdrv_json_parse(text, len, index, err) < 0)
        return tdrv_err_wrap(err, "store index.json");
    if (tdrv_json_arr(*index, "manifests", TDRV_OPTIONAL, &m, err) < 0)
        return tdrv_err_wrap(err, "store index.json");
    if (!m)
        tdrv_json_add(*index, "manifests", tdrv_json_xarr());
    return 0;
}

static int index_write(struct tdrv_store *s, const cJSON *index, struct tdrv_err *err)
{
    cleanup_free char *text = cJSON_PrintUnformatted(index);

    if (!text)
        tdrv_oom();
    return tdrv_write_file_at(s->root_fd, "images/index.json", text, strlen(text), 0644, err);
}

static const char *desc_ref(const cJSON *d)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "annotations");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, ANN_REF);

    if (!cJSON_IsString(r))
        r = cJSON_GetObjectItemCaseSensitive(a, ANN_CONTAINERD);
    return cJSON_IsString(r) ? r->valuestring : NULL;
}

static int desc_matches(const cJSON *d, const char *ref)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "annotations");
    const cJSON *r1 = cJSON_GetObjectItemCaseSensitive(a, ANN_REF);
    const cJSON *r2 = cJSON_GetObjectItemCaseSensitive(a, ANN_CONTAINERD);

    return (cJSON_IsString(r1) && !strcmp(r1->valuestring, ref)) ||
           (cJSON_IsString(r2) && !strcmp(r2->valuestring, ref));
}

static int index_add(struct tdrv_store *s, const char *ref, const struct image *im,
                     size_t manifest_len, struct tdrv_err *err)
{
    cleanup_close int lock = -1;
    cleanup_json cJSON *index = NULL;
    cJSON *manifests;
    cJSON *d;
    cJSON *plat;
    const char *os = NULL;
    const char *arch = NULL;
    const char *variant = NULL;
    struct tdrv_err e = {0};

    if (store_lock(s, &lock, err) < 0 || index_read(s, &index, err) < 0)
        return -1;
    manifests = cJSON_GetObjectItemCaseSensitive(index, "manifests");
    for (cJSON *m = manifests->child; m;) {
        cJSON *next = m->next;
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(m, "digest");
        int same = cJSON_IsString(dg) && !strcmp(dg->valuestring, im->manifest_digest);

        if (ref ? desc_matches(m, ref) : (same && !desc_ref(m)))
            cJSON_Delete(cJSON_DetachItemViaPointer(manifests, m));
        else if (!ref && same)
            return 0; /* already recorded under a name */
        m = next;
    }
    d = tdrv_json_xobj();
    tdrv_json_add_str(d, "mediaType", im->media_type);
    tdrv_json_add_str(d, "digest", im->manifest_digest);
    tdrv_json_add_num(d, "size", (double)manifest_len);
    tdrv_json_str(im->config, "os", TDRV_OPTIONAL, &os, &e);
    tdrv_json_str(im->config, "architecture", TDRV_OPTIONAL, &arch, &e);
    tdrv_json_str(im->config, "variant", TDRV_OPTIONAL, &variant, &e);
    if (os && arch) {
        plat = tdrv_json_xobj();
        tdrv_json_add_str(plat, "architecture", arch);
        tdrv_json_add_str(plat, "os", os);
        if (variant)
            tdrv_json_add_str(plat, "variant", variant);
        tdrv_json_add(d, "platform", plat);
    }
    if (ref) {
        cJSON *ann = tdrv_json_xobj();

        tdrv_json_add_str(ann, ANN_REF, ref);
        tdrv_json_add_str(ann, ANN_CONTAINERD, ref);
        tdrv_json_add(d, "annotations", ann);
    }
    tdrv_json_append(manifests, d);
    if (index_write(s, index, err) < 0)
        return -1;
    tdrv_store_mark_used(s, im->manifest_digest);
    return 0;
}

int tdrv_store_image_put(struct tdrv_store *s, const char *ref, const char *manifest,
                         size_t manifest_len, cJSON **info, struct tdrv_err *err)
{
    struct image im;
    int rc = -1;

    if (image_parse(s, manifest, manifest_len, &im, err) < 0)
        goto out;
    for (size_t i = 0; i < im.nlayers; i++) {
        if (!tdrv_store_blob_has(s, im.layers[i].digest)) {
            tdrv_err_setw(err, TDRV_E_NOINPUT, "blob_not_found", 0,
                          "layer blob %s is not in the store", im.layers[i].digest);
            goto out;
        }
    }
    if (tdrv_store_layers_unpack(s, im.layers, im.nlayers, err) < 0 ||
        tdrv_store_blob_put(s, im.manifest_digest, manifest, manifest_len, NULL, err) < 0 ||
        index_add(s, ref, &im, manifest_len, err) < 0)
        goto out;
    if (info)
        *info = image_info(s, &im, ref);
    rc = 0;
out:
    image_release(&im);
    return rc;
}

static int image_load(struct tdrv_store *s, const char *digest, struct image *im,
                      struct tdrv_err *err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;

    memset(im, 0, sizeof(*im));
    if (tdrv_store_blob_read(s, digest, MAX_META, &text, &len, err) < 0)
        return -1;
    return image_parse(s, text, len, im, err);
}

int tdrv_store_lookup(struct tdrv_store *s, const char *ref, cJSON **info, struct tdrv_err *err)
{
    cleanup_json cJSON *index = NULL;
    const cJSON *found = NULL;
    const cJSON *m;
    const char *dg;
    struct image im;
    int by_digest = !strncmp(ref, "sha256:", 7) || !strncmp(ref, "sha512:", 7);
    const char *at = strchr(ref, '@');
    int rc;

    /* "name@sha256:..." is content-addressed: the digest alone finds it. */
    if (at && (!strncmp(at + 1, "sha256:", 7) || !strncmp(at + 1, "sha512:", 7))) {
        rc = tdrv_store_lookup(s, at + 1, info, err);
        if (rc == 0)
            tdrv_json_set(*info, "reference", tdrv_json_xstr(ref));
        return rc;
    }
    if (index_read(s, &index, err) < 0)
        return -1;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(index, "manifests"))
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "digest");

        if (by_digest ? (cJSON_IsString(d) && !strcmp(d->valuestring, ref)) : desc_matches(m, ref))
            found = m;
    }
    if (!found && by_digest && tdrv_store_blob_has(s, ref))
        dg = ref;
    else if (!found)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                             "image '%s' is not in the store", ref);
    else
        dg = cJSON_GetObjectItemCaseSensitive(found, "digest")->valuestring;
    rc = image_load(s, dg, &im, err);
    if (rc == 0)
        tdrv_store_mark_used(s, im.manifest_digest);
    if (rc == 0)
        *info = image_info(s, &im, by_digest ? (found ? desc_ref(found) : NULL) : ref);
    image_release(&im);
    return rc;
}

int tdrv_store_untag(struct tdrv_store *s, const char *ref, struct tdrv_err *err)
{
    cleanup_close int lock = -1;
    cleanup_json cJSON *index = NULL;
    cJSON *manifests;
    int n = 0;

    if (store_lock(s, &lock, err) < 0 || index_read(s, &index, err) < 0)
        return -1;
    manifests = cJSON_GetObjectItemCaseSensitive(index, "manifests");
    for (cJSON *m = manifests->child; m;) {
        cJSON *next = m->next;

        if (desc_matches(m, ref)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(manifests, m));
            n++;
        }
        m = next;
    }
    if (!n)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                             "image '%s' is not in the store", ref);
    return index_write(s, index, err);
}

/* ---- root filesystems ---- */

static int flatten_into(struct tdrv_store *s, const struct image *im, int dir_fd,
                        struct tdrv_err *err)
{
    struct tdrv_unpack_opts o;

    unpack_opts(s, TDRV_UNPACK_FLATTEN, &o);
    for (size_t i = 0; i < im->nlayers; i++) {
        cleanup_free char *rel = blob_rel(im->layers[i].digest);
        cleanup_close int bfd = openat(s->root_fd, rel, O_RDONLY | O_CLOEXEC);
        char diff_id[TDRV_DIGEST_MAX];

        if (bfd < 0)
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "blob_not_found", errno,
                                 "layer blob %s is not in the store", im->layers[i].digest);
        if (tdrv_unpack_fd(dir_fd, bfd, &o, diff_id, err) < 0)
            return tdrv_err_wrap(err, "layer %s", im->layers[i].digest);
        if (strcmp(diff_id, im->layers[i].diff_id))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "diff_id_mismatch", 0,
                                 "layer %s: uncompressed digest %s does not match diff_id %s",
                                 im->layers[i].digest, diff_id, im->layers[i].diff_id);
    }
    return 0;
}

static int dir_is_empty(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    int empty = 1;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while (empty && (de = readdir(d)) != NULL)
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

int tdrv_store_flatten(struct tdrv_store *s, const char *manifest_digest, const char *dir,
                       struct tdrv_err *err)
{
    struct image im;
    cleanup_close int dfd = -1;
    int rc;

    if (tdrv_mkdir_p(AT_FDCWD, dir, 0755, err) < 0)
        return -1;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", dir);
    if (!dir_is_empty(dfd))
        return tdrv_err_setw(err, TDRV_E_CANTCREAT, "rootfs_not_empty", 0, "'%s' is not empty",
                             dir);
    if (image_load(s, manifest_digest, &im, err) < 0) {
        image_release(&im);
        return -1;
    }
    rc = flatten_into(s, &im, dfd, err);
    image_release(&im);
    return rc;
}

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC 0x00000001
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

static int fsconfig_str(int fd, const char *key, const char *val)
{
    return (int)syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, key, val, 0);
}

/* Mount an overlay with the new mount API ("lowerdir+" takes one layer at a time, so the
 * number of layers is not limited by the page-sized option string), else mount(2). */
static int mount_overlay(struct tdrv_store *s, const struct image *im, const char *upper,
                         const char *work, const char *target, struct tdrv_err *err)
{
    int fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    int ok = fsfd >= 0;
    int e = 0;

    for (size_t i = im->nlayers; ok && i-- > 0;) {
        cleanup_free char *l =
            tdrv_xasprintf("%s/layers/%s", s->root, hex_of(im->layers[i].chain_id));

        ok = fsconfig_str(fsfd, "lowerdir+", l) == 0;
    }
    if (ok)
        ok = fsconfig_str(fsfd, "upperdir", upper) == 0 &&
             fsconfig_str(fsfd, "workdir", work) == 0 &&
             syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
    if (ok) {
        int mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);

        ok = mfd >= 0 &&
             syscall(SYS_move_mount, mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) == 0;
        e = errno;
        if (mfd >= 0)
            close(mfd);
    }
    if (fsfd >= 0)
        close(fsfd);
    if (ok)
        return 0;
    {
        /* Fallback: one option string (bounded by the page size). */
        cleanup_free char *opt = tdrv_xasprintf("upperdir=%s,workdir=%s,lowerdir=", upper, work);

        for (size_t i = im->nlayers; i-- > 0;) {
            char *n = tdrv_xasprintf("%s%s%s/layers/%s", opt, i + 1 == im->nlayers ? "" : ":",
                                     s->root, hex_of(im->layers[i].chain_id));

            free(opt);
            opt = n;
        }
        if (mount("overlay", target, "overlay", 0, opt) == 0)
            return 0;
        e = errno;
    }
    return tdrv_err_set(err, TDRV_E_OS, e, "unable to mount the overlay at '%s'", target);
}

static int pin(struct tdrv_store *s, const char *manifest_digest, const char *dir, int add,
               struct tdrv_err *err)
{
    char key[TDRV_DIGEST_MAX];
    cleanup_free char *pdir = tdrv_xasprintf("pins/%s", hex_of(manifest_digest));
    cleanup_free char *p = NULL;

    tdrv_digest_buf(TDRV_SHA256, dir, strlen(dir), key);
    p = tdrv_xasprintf("%s/%.16s", pdir, hex_of(key));
    if (!add) {
        unlinkat(s->root_fd, p, 0);
        unlinkat(s->root_fd, pdir, AT_REMOVEDIR);
        return 0;
    }
    /* another task's unpin removes pdir when it finds it empty, maybe between our mkdir and
     * our write: make it again (a pin in it keeps it from then on) */
    for (int tries = 0;; tries++) {
        if (tdrv_mkdir_p(s->root_fd, pdir, 0755, err) < 0)
            return -1;
        if (tdrv_write_state_at(s->root_fd, p, dir, strlen(dir), 0644, err) == 0)
            return 0;
        if (err->sys_errno != ENOENT || tries == 100)
            return -1;
        tdrv_err_clear(err);
    }
}

int tdrv_store_rootfs_mount(struct tdrv_store *s, const char *manifest_digest, const char *dir,
                            int no_overlay, char **rootfs, struct tdrv_err *err)
{
    struct image im;
    cleanup_free char *rfs = tdrv_xasprintf("%s/rootfs", dir);
    cleanup_free char *upper = tdrv_xasprintf("%s/upper", dir);
    cleanup_free char *work = tdrv_xasprintf("%s/work", dir);
    cleanup_close int dfd = -1;
    cleanup_json cJSON *rec = tdrv_json_xobj();
    cleanup_free char *text = NULL;
    cleanup_close int use = -1;
    int held = s->hold_fd >= 0;
    int pinned = 0;
    int rc = -1;

    /* tdrv-gc removes an image only under its image lock taken exclusively */
    if (tdrv_digest_parse(manifest_digest, NULL, NULL, err) < 0)
        return -1;
    {
        cleanup_free char *ln = tdrv_xasprintf("locks/image-%s", hex_of(manifest_digest));

        use = openat(s->root_fd, ln, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (use < 0 || flock(use, LOCK_SH) < 0)
            return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s'", ln);
        futimens(use, NULL);
    }
    if (image_load(s, manifest_digest, &im, err) < 0)
        goto out;
    if (tdrv_mkdir_p(AT_FDCWD, dir, 0711, err) < 0 || tdrv_mkdir_p(AT_FDCWD, rfs, 0755, err) < 0)
        goto out;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", dir);
        goto out;
    }
    if (pin(s, im.manifest_digest, dir, 1, err) < 0)
        goto out;
    pinned = 1;
    tdrv_json_add_str(rec, "manifest_digest", im.manifest_digest);
    if (!no_overlay) {
        if (tdrv_store_layers_unpack(s, im.layers, im.nlayers, err) < 0)
            goto out;
        if (tdrv_mkdir_p(AT_FDCWD, upper, 0755, err) < 0 ||
            tdrv_mkdir_p(AT_FDCWD, work, 0700, err) < 0)
            goto out;
        if (im.nlayers && mount_overlay(s, &im, upper, work, rfs, err) == 0) {
            tdrv_json_add_str(rec, "mode", "overlay");
            goto done;
        }
        if (im.nlayers)
            tdrv_warn("overlay unavailable (%s), using a flattened copy", err->msg);
        tdrv_err_clear(err);
    }
    {
        cleanup_close int rfd = open(rfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (rfd < 0) {
            tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", rfs);
            goto out;
        }
        if (flatten_into(s, &im, rfd, err) < 0)
            goto out;
    }
    tdrv_json_add_str(rec, "mode", "copy");
done:
    text = cJSON_PrintUnformatted(rec);
    if (!text)
        tdrv_oom();
    if (tdrv_write_state_at(dfd, "image.json", text, strlen(text), 0644, err) < 0)
        goto out;
    *rootfs = steal_ptr(&rfs);
    rc = 0;
out:
    if (rc < 0 && pinned) {
        /* nothing half made stays: no mount, no partial copy (a full disk), no pin */
        struct tdrv_err e = {0};

        umount2(rfs, MNT_DETACH);
        unlinkat(dfd, "image.json", 0);
        if (tdrv_rm_rf_at(dfd, "rootfs", &e) == 0 && tdrv_rm_rf_at(dfd, "upper", &e) == 0)
            tdrv_rm_rf_at(dfd, "work", &e);
        pin(s, im.manifest_digest, dir, 0, &e);
    }
    if (!held)
        tdrv_store_unhold(s); /* taken only to unpack missing layers: the pin protects them */
    image_release(&im);
    return rc;
}

int tdrv_store_rootfs_unmount(struct tdrv_store *s, const char *dir, struct tdrv_err *err)
{
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_free char *rfs = tdrv_xasprintf("%s/rootfs", dir);
    cleanup_free char *text = NULL;
    cleanup_json cJSON *rec = NULL;
    size_t len = 0;
    const char *md = NULL;

    if (dfd < 0) {
        if (errno == ENOENT)
            return 0;
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", dir);
    }
    if (umount2(rfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to unmount '%s'", rfs);
    if (tdrv_read_file_at(dfd, "image.json", MAX_META, &text, &len, err) == 0 &&
        tdrv_json_parse(text, len, &rec, err) == 0 &&
        tdrv_json_str(rec, "manifest_digest", TDRV_OPTIONAL, &md, err) == 0 && md &&
        strchr(md, ':')) {
        pin(s, md, dir, 0, err);
        tdrv_store_mark_used(s, md);
    }
    tdrv_err_clear(err);
    if (tdrv_rm_rf_at(dfd, "rootfs", err) < 0 || tdrv_rm_rf_at(dfd, "upper", err) < 0 ||
        tdrv_rm_rf_at(dfd, "work", err) < 0)
        return -1;
    unlinkat(dfd, "image.json", 0);
    return 0;
}

int tdrv_store_pins(struct tdrv_store *s, cJSON **pins, struct tdrv_err *err)
{
    cleanup_json cJSON *out = tdrv_json_xarr();
    int fd = openat(s->root_fd, "pins", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to read '%s/pins'", s->root);
    }
    while ((de = readdir(d)) != NULL) {
        cleanup_free char *md = NULL;
        cJSON *dirs = NULL;
        int pfd;
        DIR *pd;
        struct dirent *pe;
        struct tdrv_err e2 = {0};

        if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
            continue;
        md = tdrv_xasprintf("sha256:%s", de->d_name);
        if (tdrv_digest_parse(md, NULL, NULL, &e2) < 0)
            continue;
        pfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        pd = pfd >= 0 ? fdopendir(pfd) : NULL;
        if (!pd) {
            if (pfd >= 0)
                close(pfd);
            continue;
        }
        dirs = tdrv_json_xarr();
        while ((pe = readdir(pd)) != NULL) {
            cleanup_free char *dir = NULL;
            size_t len = 0;

            if (pe->d_name[0] == '.')
                continue;
            if (tdrv_read_file_at(dirfd(pd), pe->d_name, 8192, &dir, &len, &e2) == 0)
                tdrv_json_append(dirs, tdrv_json_xstr(dir));
            tdrv_err_clear(&e2);
        }
        closedir(pd);
        if (cJSON_GetArraySize(dirs)) {
            cJSON *p = tdrv_json_xobj();

            tdrv_json_add_str(p, "manifest_digest", md);
            tdrv_json_add(p, "dirs", dirs);
            tdrv_json_append(out, p);
        } else {
            cJSON_Delete(dirs);
        }
    }
    closedir(d);
    *pins = steal_ptr(&out);
    return 0;
}
