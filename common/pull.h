#ifndef TDRV_PULL_H
#define TDRV_PULL_H

#include <cjson/cJSON.h>

#include "err.h"
#include "registry.h"

enum tdrv_pull_policy {
    TDRV_POLICY_DEFAULT = 0, /* the driver's: docker re-checks "latest", else "new" */
    TDRV_POLICY_NEVER,       /* store only */
    TDRV_POLICY_NEW,         /* fetch when absent */
    TDRV_POLICY_UPDATE,      /* always ask the registry (a HEAD when present) */
};

enum tdrv_pull_target {
    TDRV_TO_AUTO = 0, /* the Docker Engine for driver "docker", else the store */
    TDRV_TO_STORE,
    TDRV_TO_DOCKER,
};

struct tdrv_pull_opts {
    const char *task_select; /* --task GROUP/TASK for a Nomad job document */
    const char *image;       /* IMAGE operand: pull it without a task document */
    const char *platform;    /* --platform os/arch[/variant], NULL: the host's */
    const char *ca_file;     /* --ca-file: extra CA bundle */
    unsigned max_concurrent; /* --max-concurrent, 0: default (4) */
    enum tdrv_pull_policy policy;
    enum tdrv_progress_mode progress;
    enum tdrv_pull_target to; /* --to store|docker */
    const char *root;         /* --root: store root (NULL: $TDRV_ROOT or /var/lib/tdrv) */
    const char *load;         /* --load: an archive or OCI layout (else config.load) */
    const char *rootfs;       /* --rootfs: also write the flattened rootfs there */
};

/* Fetch the image a task document names and add its `image` object; *res is the document. */
int tdrv_pull(cJSON *req, const struct tdrv_pull_opts *opt, cJSON **res, struct tdrv_err *err);

#endif
