#ifndef TDRV_STORE_H
#define TDRV_STORE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "err.h"

/*
 * The image store of DESIGN §3, under root (default /var/lib/tdrv):
 *   images/            an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>);
 *                      refs are org.opencontainers.image.ref.name annotations in index.json
 *   layers/<chain-id>/ each layer unpacked once (overlay lower dir; whiteouts as 0/0 char
 *                      devices, opaque dirs with trusted.overlay.opaque=y)
 * Every write is atomic (temporary name, then rename); concurrency is by flock.
 */
struct tdrv_store {
    char *root;
    int root_fd;
};

int tdrv_store_open(struct tdrv_store *s, const char *root, struct tdrv_err *err);
void tdrv_store_release(struct tdrv_store *s);
#define cleanup_store __attribute__((cleanup(tdrv_store_release)))

/*
 * Find an image by reference (normalized "docker.io/library/busybox:latest") or by
 * manifest digest ("sha256:..."). On success *info is a new object:
 *   {"reference", "manifest_digest", "config_digest", "config": {...image config...},
 *    "layers": [{"digest","size","media_type","diff_id","chain_id"}], "platform": "os/arch"}
 * Not present: 66 with code "image_not_found".
 */
int tdrv_store_lookup(struct tdrv_store *s, const char *ref, cJSON **info, struct tdrv_err *err);

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

#endif
