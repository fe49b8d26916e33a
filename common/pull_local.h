#ifndef TDRV_PULL_LOCAL_H
#define TDRV_PULL_LOCAL_H

#include <cjson/cJSON.h>

#include "err.h"

/*
 * The store side of tdrv-pull: load an archive (--load / config.load), find an image
 * already stored, write a flattened rootfs (--rootfs), and build the document's `image`
 * object:
 *   {"reference", "manifest_digest", "config_digest",
 *    "layers": [{"digest","size","media_type","diff_id","chain_id"}], "platform",
 *    "store", "cached", "rootfs"?}
 */
struct tdrv_pull_local {
    const char *root;   /* store root (NULL: $TDRV_ROOT or /var/lib/tdrv) */
    const char *load;   /* archive or OCI layout to load, or NULL */
    const char *rootfs; /* also write the flattened rootfs here, or NULL */
    /* A relative load path is looked for first in the task's local dir, as Nomad's docker
     * driver does: <root>/allocs/<alloc_id>/<task>/local/<load>; else taken as given. */
    const char *alloc_id;
    const char *task;
};

/*
 * ref: the normalized reference (may be NULL with load). With load, the archive is loaded
 * (and ref, if given, names its image). Without, the store is searched: *found is 0 when the
 * image is not there (the caller pulls it, then calls tdrv_pull_local_finish). On success
 * *image is the new `image` object.
 */
int tdrv_pull_local(const struct tdrv_pull_local *o, const char *ref, cJSON **image, int *found,
                    struct tdrv_err *err);
/* Turn a lookup object into the `image` object (cached flag, rootfs written if asked). */
int tdrv_pull_local_finish(const struct tdrv_pull_local *o, cJSON *info, int cached,
                           struct tdrv_err *err);

#endif
