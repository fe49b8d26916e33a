#ifndef TDRV_STORE_H
#define TDRV_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * The image store of DESIGN §3, under root (default /var/lib/tdrv):
 *   images/              an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>);
 *                        refs are org.opencontainers.image.ref.name (and
 *                        io.containerd.image.name) annotations in index.json, holding the
 *                        full normalized reference ("docker.io/library/busybox:latest")
 *   layers/<chain-hex>/  each layer unpacked once: an overlay lower dir (whiteouts as 0/0
 *                        char devices, opaque dirs with trusted.overlay.opaque=y); the name
 *                        is the hex of the layer's chain id (no ':' so it fits lowerdir=)
 *   layers/<chain-hex>.json  {"digest","diff_id","chain_id","size"} of that layer
 *   ingest/<hex>.partial a blob being downloaded (kept across failures, for resuming)
 *   locks/               flock files: "store" (index.json), "blob-<hex>", "layer-<hex>"
 *   pins/<manifest-hex>/ one file per mounted rootfs using the image (for tdrv-gc)
 * Every write is atomic (temporary name, then rename); concurrency is by flock: two
 * processes pulling the same blob or unpacking the same layer wait for each other and the
 * second finds the work done.
 *
 * Errors: 65 bad data (malformed manifest/config, unsafe or invalid layer), 66
 * "image_not_found", 71 system call failed, 76 "digest_mismatch" / "size_mismatch",
 * 65 "layer_too_large" when a decompression limit is hit.
 */
struct tdrv_store {
    char *root;
    int root_fd;
    /* Limits against decompression bombs, checked while streaming; 0 = default. open sets
     * them from $TDRV_MAX_LAYER_BYTES and $TDRV_MAX_LAYER_ENTRIES when those are set. */
    uint64_t max_layer_bytes; /* decompressed tar bytes per layer (default 64 GiB) */
    uint64_t max_entries;     /* tar entries per layer (default 4 Mi) */
    int jobs;                 /* parallel layer unpacks (default 4) */
    int hold_fd;              /* shared flock on locks/sweep while adding (tdrv_store_hold) */
};

/* Open (creating what is missing) the store at root; root NULL: $TDRV_ROOT or /var/lib/tdrv. */
int tdrv_store_open(struct tdrv_store *s, const char *root, struct tdrv_err *err);
void tdrv_store_release(struct tdrv_store *s);
#define cleanup_store __attribute__((cleanup(tdrv_store_release)))

/* ------------------------------------------------------------------------------------------
 * Blob ingest, streamed while downloading.
 *
 *   struct tdrv_blob_writer *w = NULL;
 *   int r = tdrv_store_blob_begin(s, "sha256:...", size, &w, err);
 *   if (r < 0) fail;                       // bad digest string, I/O, lock
 *   if (r == 1) done;                      // blob already in the store (w is NULL)
 *   uint64_t off = tdrv_blob_offset(w);    // bytes already held from an earlier attempt:
 *                                          // ask the server for "Range: bytes=off-"
 *   // server ignored the Range (200 instead of 206): tdrv_blob_restart(w, err)
 *   while (data) tdrv_blob_write(w, buf, n, err);   // hashes as it writes; more than the
 *                                                   // expected size is 76 "size_mismatch"
 *   tdrv_blob_commit(w, err);              // verifies size, then digest: 76
 *                                          // "digest_mismatch" (partial removed); on
 *                                          // success renamed into images/blobs/ and w freed
 *   // on a transfer error: tdrv_blob_abort(w) keeps ingest/<hex>.partial for a resume;
 *   // tdrv_blob_discard(w) removes it. Both free w. commit frees w whatever it returns.
 *
 * begin holds a per-digest flock until commit/abort: a second process ingesting the same
 * digest blocks in begin, then sees the blob present (returns 1). size < 0 means unknown
 * (no size check). digest NULL: the digest is computed (sha256), no resume, see
 * tdrv_blob_commit_digest. Supported digests: sha256, sha512.
 * ------------------------------------------------------------------------------------------ */
struct tdrv_blob_writer;

int tdrv_store_blob_begin(struct tdrv_store *s, const char *digest, int64_t size,
                          struct tdrv_blob_writer **w, struct tdrv_err *err);
uint64_t tdrv_blob_offset(const struct tdrv_blob_writer *w);
int tdrv_blob_restart(struct tdrv_blob_writer *w, struct tdrv_err *err);
int tdrv_blob_write(struct tdrv_blob_writer *w, const void *buf, size_t n, struct tdrv_err *err);
int tdrv_blob_commit(struct tdrv_blob_writer *w, struct tdrv_err *err);
/* commit, and write the blob's digest into digest (TDRV_DIGEST_MAX = 136 bytes) when not NULL;
 * with begin's digest NULL the blob is stored under the sha256 computed while writing. */
int tdrv_blob_commit_digest(struct tdrv_blob_writer *w, char *digest, struct tdrv_err *err);
void tdrv_blob_abort(struct tdrv_blob_writer *w);
void tdrv_blob_discard(struct tdrv_blob_writer *w);

/* Is the blob in images/blobs (1), absent (0)? */
int tdrv_store_blob_has(struct tdrv_store *s, const char *digest);
/* Path of a blob in the store (whether or not present); caller frees. */
char *tdrv_store_blob_path(struct tdrv_store *s, const char *digest);
/* Read a whole blob (capped at max bytes) and verify its digest. */
int tdrv_store_blob_read(struct tdrv_store *s, const char *digest, size_t max, char **data,
                         size_t *len, struct tdrv_err *err);
/* Store a small blob held in memory (manifest, config); verified against digest if given
 * (digest NULL: computed as sha256 and returned in *out_digest if non-NULL, caller frees). */
int tdrv_store_blob_put(struct tdrv_store *s, const char *digest, const void *data, size_t len,
                        char **out_digest, struct tdrv_err *err);

/* ------------------------------------------------------------------------------------------
 * Layers.
 *
 * A layer descriptor: its blob digest and size (from the manifest), its DiffID (from
 * config rootfs.diff_ids[i]) and its chain id (tdrv_chain_ids computes them).
 * ------------------------------------------------------------------------------------------ */
struct tdrv_layer_desc {
    char digest[136];   /* "sha256:<hex>" of the (compressed) blob */
    int64_t size;       /* blob size, -1 unknown */
    char diff_id[136];  /* "sha256:<hex>" of the uncompressed tar */
    char chain_id[136]; /* "sha256:<hex>" */
};

/* chain[0] = diff[0]; chain[i] = sha256(chain[i-1] + " " + diff[i]). Fills desc[].chain_id. */
int tdrv_chain_ids(struct tdrv_layer_desc *desc, size_t n, struct tdrv_err *err);

/* Is layers/<chain-hex>/ complete (1) or not (0)? */
int tdrv_store_layer_has(struct tdrv_store *s, const char *chain_id);

/*
 * Unpack a layer while it downloads: the writer takes the compressed blob bytes exactly as
 * tdrv_blob_writer does (same begin/offset/write/commit/abort contract, same return 1 when
 * there is nothing to do, i.e. both the blob and layers/<chain-hex>/ are present), stores the
 * blob and, in a thread, decompresses (gzip/zstd/none, sniffed), computes the DiffID and
 * applies the entries safely into a temporary directory. A resumed partial is replayed
 * into the unpacker first, so the caller just continues from tdrv_layer_offset().
 * commit verifies the blob (76 digest_mismatch), waits for the unpacker, compares the DiffID
 * with desc->diff_id (76 "diff_id_mismatch") and renames layers/<chain-hex>/ into place.
 * If the blob is present but not the layer, begin unpacks from the blob and returns 1.
 */
struct tdrv_layer_writer;

int tdrv_store_layer_begin(struct tdrv_store *s, const struct tdrv_layer_desc *desc,
                           struct tdrv_layer_writer **w, struct tdrv_err *err);
uint64_t tdrv_layer_offset(const struct tdrv_layer_writer *w);
int tdrv_layer_restart(struct tdrv_layer_writer *w, struct tdrv_err *err);
int tdrv_layer_write(struct tdrv_layer_writer *w, const void *buf, size_t n, struct tdrv_err *err);
int tdrv_layer_commit(struct tdrv_layer_writer *w, struct tdrv_err *err);
void tdrv_layer_abort(struct tdrv_layer_writer *w);

/* Unpack one layer from its blob already in the store (no-op when present). */
int tdrv_store_layer_unpack(struct tdrv_store *s, const struct tdrv_layer_desc *desc,
                            struct tdrv_err *err);
/* Unpack n layers from their blobs, up to s->jobs in parallel. */
int tdrv_store_layers_unpack(struct tdrv_store *s, const struct tdrv_layer_desc *desc, size_t n,
                             struct tdrv_err *err);

/* ------------------------------------------------------------------------------------------
 * Images.
 * ------------------------------------------------------------------------------------------ */

/*
 * Record an image: manifest (an OCI or Docker schema2 image manifest, not an index) whose
 * config and layer blobs are in the store. Stores the manifest blob, unpacks any layer not
 * yet unpacked, then (under the store lock) points ref at it in index.json, replacing an
 * older manifest of that ref. ref is the full normalized reference, may be NULL (digest
 * only). *info (if non-NULL) receives what tdrv_store_lookup returns.
 */
int tdrv_store_image_put(struct tdrv_store *s, const char *ref, const char *manifest,
                         size_t manifest_len, cJSON **info, struct tdrv_err *err);

/*
 * Find an image by reference (normalized "docker.io/library/busybox:latest"), by
 * manifest digest ("sha256:..."), or by "name@sha256:..." (the digest decides). On success *info is
 * a new object:
 *   {"reference", "manifest_digest", "config_digest", "config": {...image config...},
 *    "layers": [{"digest","size","media_type","diff_id","chain_id"}], "platform": "os/arch",
 *    "store": "<root>"}
 * Not present: 66 with code "image_not_found".
 */
int tdrv_store_lookup(struct tdrv_store *s, const char *ref, cJSON **info, struct tdrv_err *err);

/* Remove ref from index.json (blobs stay until tdrv-gc). 66 image_not_found if absent. */
int tdrv_store_untag(struct tdrv_store *s, const char *ref, struct tdrv_err *err);

/*
 * A root filesystem for one task in dir (created if absent): an overlay of the image's
 * layers with dir/upper and dir/work, mounted at dir/rootfs; or, when no_overlay is set
 * or overlay is unavailable, a flattened copy at dir/rootfs. The image is pinned while
 * mounted (tdrv-gc never removes it). *rootfs receives the path.
 */
int tdrv_store_rootfs_mount(struct tdrv_store *s, const char *manifest_digest, const char *dir,
                            int no_overlay, char **rootfs, struct tdrv_err *err);
/* Undo tdrv_store_rootfs_mount (unmount; remove dir's upper/work/rootfs). Idempotent. */
int tdrv_store_rootfs_unmount(struct tdrv_store *s, const char *dir, struct tdrv_err *err);

/* What mounted rootfs pin (for tdrv-gc): a new array of {"manifest_digest", "dirs": [...]}
 * from pins/, one per image a task rootfs uses. */
int tdrv_store_pins(struct tdrv_store *s, cJSON **pins, struct tdrv_err *err);

/* Write the image's flattened root filesystem into dir (created; must be empty or absent),
 * as `umoci unpack` gives a bundle's rootfs. */
int tdrv_store_flatten(struct tdrv_store *s, const char *manifest_digest, const char *dir,
                       struct tdrv_err *err);

/* ------------------------------------------------------------------------------------------
 * Loading local archives (common/load.c): docker-archive (docker save, legacy and OCI
 * layouts), oci-archive, an OCI layout directory, an ACI (plain or gzipped). Read as a
 * stream, never extracted; every blob verified. ref: which image of a multi-image archive
 * (NULL: the only one, or all of them); the tags recorded are normalized. *info receives
 * the lookup object of the (last) image loaded.
 * ------------------------------------------------------------------------------------------ */
int tdrv_store_load(struct tdrv_store *s, const char *path, const char *ref, cJSON **info,
                    struct tdrv_err *err);

/* ------------------------------------------------------------------------------------------
 * For tdrv-gc (common/store_gc.c). Three locks keep it from removing what is in use:
 *   locks/sweep         shared by every process adding blobs or layers (tdrv_store_hold, taken
 *                       by blob_begin/blob_put/layer_begin/layer_unpack and kept until
 *                       tdrv_store_release), exclusive while tdrv-gc sweeps unreferenced blobs
 *                       and layers: a pull's blobs are never swept before its image is indexed.
 *   locks/image-<hex>   one per image: its mtime is when the image was last used (lookup,
 *                       index, rootfs mount and unmount touch it); tdrv_store_rootfs_mount
 *                       holds it shared from loading the image until the pin is written,
 *                       tdrv-gc exclusive while it removes the image. A task starting from an
 *                       image is never removed under it.
 *   pins/<hex>/<key>    one per mounted rootfs (its content: the directory); a pin whose
 *                       directory is gone is stale and tdrv-gc prunes it.
 * ------------------------------------------------------------------------------------------ */

/* Take the shared sweep lock for this store handle (idempotent; released by
 * tdrv_store_release or tdrv_store_unhold). */
int tdrv_store_hold(struct tdrv_store *s, struct tdrv_err *err);
void tdrv_store_unhold(struct tdrv_store *s);
/* Touch locks/image-<hex>: the image was used now. Best effort. */
void tdrv_store_mark_used(struct tdrv_store *s, const char *manifest_digest);

/*
 * The images of the store: [{"manifest_digest", "references": [...], "pins": [dirs],
 * "stale_pins": [dirs], "last_used": unix seconds, "size": bytes of its blobs}], including
 * images only pinned or only recently used by digest (no reference).
 */
int tdrv_store_images(struct tdrv_store *s, cJSON **list, struct tdrv_err *err);

/*
 * Remove an image from index.json (every reference to manifest_digest), under its image lock
 * taken without waiting: returns 1 removed, 0 kept with *why set ("in_use": live pins,
 * "busy": a task is starting from it, "recently_used": used less than unused_ns before
 * now_s). Stale pins are pruned. dry: decide, change nothing.
 */
int tdrv_store_image_remove(struct tdrv_store *s, const char *manifest_digest, int64_t unused_ns,
                            int64_t now_s, int dry, const char **why, struct tdrv_err *err);

/*
 * Remove blobs, layer snapshots, temporary files, stale partial downloads (older than a
 * day) and image locks that no image references (index.json, live pins, or a use within
 * unused_ns), under locks/sweep taken without waiting (returns 0 with *busy = 1 when a pull
 * is adding to the store). Each removal is appended to `removed` as {"kind","id","bytes"}.
 * gone (may be NULL): manifest digests to count as removed already (a dry run's decisions).
 */
int tdrv_store_sweep(struct tdrv_store *s, int64_t unused_ns, int64_t now_s, int dry,
                     const cJSON *gone, cJSON *removed, int *busy, struct tdrv_err *err);

#endif
