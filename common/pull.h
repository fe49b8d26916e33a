#ifndef TDRV_PULL_H
#define TDRV_PULL_H

#include <cjson/cJSON.h>

#include "err.h"

struct tdrv_pull_opts {
    const char *task_select; /* --task GROUP/TASK for a Nomad job document */
    const char *image;       /* IMAGE operand: pull it without a task document */
    const char *root;        /* --root: store root (NULL: $TDRV_ROOT or /var/lib/tdrv) */
    const char *load;        /* --load: an archive or OCI layout (else config.load) */
    const char *rootfs;      /* --rootfs: also write the flattened rootfs there */
};

/* Fetch the image a task document names and add its `image` object; *res is the document. */
int tdrv_pull(cJSON *req, const struct tdrv_pull_opts *opt, cJSON **res, struct tdrv_err *err);

#endif
