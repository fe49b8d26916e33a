#ifndef TDRV_CONFIG_H
#define TDRV_CONFIG_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "err.h"

/*
 * The operator's settings (DESIGN §7): /etc/tdrv/config.yaml, or $TDRV_CONFIG.
 * A missing default file means all defaults; a missing $TDRV_CONFIG file, an
 * unknown key or a bad value is exit 78 naming the key ("config.gc.image_delay").
 */
struct tdrv_config {
    char *path;                       /* the file read, or NULL for defaults */
    char *root;                       /* store root: $TDRV_ROOT, else `root`, else /var/lib/tdrv */
    char *run_dir;                    /* $TDRV_RUN, else `run_dir`, else /run/tdrv */
    int allow_privileged;             /* default 0 */
    cJSON *allow_caps;                /* array of strings; default Nomad's docker driver list */
    cJSON *allow_runtimes;            /* array of strings; default ["runc", "crun"] */
    char *runtime;                    /* OCI runtime binary name, default "runc" */
    int volumes_enabled;              /* default 1 */
    char *auth_config;                /* docker config.json path, or NULL */
    char *auth_helper;                /* docker-credential-<suffix>, or NULL */
    int64_t pull_activity_timeout_ns; /* default 2m */
    int gc_image;                     /* default 1 */
    int64_t gc_image_delay_ns;        /* default 3m */
    int gc_container;                 /* default 1 */
    int gc_dangling_enabled;          /* default 1 */
    int gc_dangling_dry_run;          /* default 0 */
    int64_t gc_dangling_period_ns;    /* default 5m */
    int64_t gc_dangling_creation_grace_ns; /* default 5m, minimum 1m */
    char *docker_endpoint; /* default NULL: DOCKER_HOST or unix:///var/run/docker.sock */
    char *docker_tls_ca;   /* tls.ca */
    char *docker_tls_cert; /* tls.cert */
    char *docker_tls_key;  /* tls.key */
    uint16_t port_min;     /* dynamic range, default 20000 */
    uint16_t port_max;     /* default 32000 */
    cJSON *reserved_ports; /* array of numbers / "a-b" strings, default [] */
    char *host_ip;         /* host address for ports, or NULL (default route's) */
    char *datacenter;      /* default "dc1" */
    char *node_name;       /* default: hostname */
    cJSON *meta;           /* object of strings, default {} */
    cJSON *raw;            /* the parsed file, or NULL */
};

void tdrv_config_init(struct tdrv_config *c);
void tdrv_config_release(struct tdrv_config *c);
/* Load the operator's file (path NULL: $TDRV_CONFIG, else /etc/tdrv/config.yaml). */
int tdrv_config_load(struct tdrv_config *c, const char *path, struct tdrv_err *err);

#define cleanup_config __attribute__((cleanup(tdrv_config_release)))

#endif
