#ifndef TDRV_PULL_H
#define TDRV_PULL_H

#include <cjson/cJSON.h>

#include "err.h"
#include "registry.h"
#include "store.h"

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

/*
 * The config descriptor of an image manifest (parsed by tdrv_manifest_parse): *digest (owned by
 * man) and *size, at most 8 MiB; the manifest must have a layers array. 76 protocol_error.
 */
int tdrv_pull_manifest_config(const struct tdrv_manifest *man, const char **digest, uint64_t *size,
                              struct tdrv_err *err);

/*
 * The layers of an image manifest, each with the DiffID its image config (rootfs.diff_ids)
 * gives and its chain id: *descs (the caller frees it) holds *count of them. 76 protocol_error
 * when a layer has no valid digest and size or the diff_ids do not match the layers.
 */
int tdrv_pull_manifest_layers(const struct tdrv_manifest *man, const cJSON *config,
                              struct tdrv_layer_desc **descs, size_t *count, struct tdrv_err *err);

/* tdrv-pull's command line: --parse REF, or the options of a pull; 64 (usage) for the rest. */
struct tdrv_tool;
struct tdrv_pull_args {
    const char *parse;
    struct tdrv_pull_opts pull;
};
int tdrv_pull_parse_args(const struct tdrv_tool *tool, int argc, char **argv,
                         struct tdrv_pull_args *o, struct tdrv_err *err);

/* Fetch the image a task document names and add its `image` object; *res is the document. */
int tdrv_pull(cJSON *req, const struct tdrv_pull_opts *opt, cJSON **res, struct tdrv_err *err);

#endif
