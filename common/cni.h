#ifndef TDRV_CNI_H
#define TDRV_CNI_H

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"

/*
 * CNI (Container Network Interface, spec 1.0): run the standard plugins (Debian's
 * containernetworking-plugins in /usr/lib/cni) on a network configuration list, and
 * create the network namespaces they work in. docs/networking.md describes it.
 *
 * Plugin binaries are searched in $TDRV_CNI_PATH (':'-separated), else /usr/lib/cni and
 * /opt/cni/bin. Operator networks are read from $TDRV_CNI_CONF_DIR, else /etc/cni/net.d.
 */

/* The network tdrv ships: bridge + host-local on a private subnet, portmap, firewall. */
#define TDRV_CNI_DEFAULT_NAME "tdrv"
#define TDRV_CNI_DEFAULT_BRIDGE "tdrv0"
#define TDRV_CNI_DEFAULT_SUBNET "172.26.64.0/20"
#define TDRV_CNI_VERSION "1.0.0"

enum tdrv_cni_cmd {
    TDRV_CNI_ADD = 0,
    TDRV_CNI_DEL = 1,
    TDRV_CNI_CHECK = 2,
};

/* What a plugin call is about: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, runtimeConfig. */
struct tdrv_cni_rt {
    const char *container_id;
    const char *netns;
    const char *ifname;
    const cJSON *port_mappings; /* [{hostPort, containerPort, protocol[, hostIP]}], or NULL */
};

/* The plugin search path ($TDRV_CNI_PATH, else "/usr/lib/cni:/opt/cni/bin"). */
const char *tdrv_cni_path(void);
/* The operator's CNI config dir ($TDRV_CNI_CONF_DIR, else "/etc/cni/net.d"). */
const char *tdrv_cni_conf_dir(void);

/* The default conflist (name, bridge, subnet as given). */
cJSON *tdrv_cni_default_conflist(const char *name, const char *bridge, const char *subnet);

/*
 * The network configuration list a task names. "bridge" and "default" (and NULL) mean
 * tdrv's default network, <root>/cni/tdrv.conflist, written from tdrv_cni_default_conflist
 * when missing (an operator may edit it). Any other name is the operator's: the
 * *.conflist, *.conf or *.json in the CNI config dir whose `name` it is (a single-plugin
 * .conf becomes a list of one). 66 `network_not_found` when none has it, 78 when a file is
 * malformed.
 */
int tdrv_cni_load(const struct tdrv_config *cfg, const char *name, cJSON **conflist,
                  struct tdrv_err *err);

/*
 * Run one plugin (`netconf` is the whole stdin JSON) with command cmd; *result (may be NULL)
 * receives the parsed stdout of a successful ADD or CHECK. A plugin error result becomes
 * 69 `cni_failed` with the plugin's msg and details; a missing plugin binary 69
 * `cni_plugin_not_found`; a plugin that runs past 60 s is killed (75 `timeout`).
 */
int tdrv_cni_exec(const cJSON *netconf, enum tdrv_cni_cmd cmd, const struct tdrv_cni_rt *rt,
                  cJSON **result, struct tdrv_err *err);

/*
 * Run a conflist as the CNI spec says: ADD plugin by plugin, each given the previous one's
 * result as prevResult (the first given `prev` when not NULL: a list continuing another's
 * chain, as a group task's own portmap), *result the last; DEL in reverse order with `prev` (the
 * cached ADD result, may be NULL) as prevResult, every plugin run even when one fails (the first
 * error is returned); CHECK in order with `prev` (required). runtimeConfig.portMappings goes only
 * to plugins whose `capabilities` ask for it.
 */
int tdrv_cni_run(const cJSON *conflist, enum tdrv_cni_cmd cmd, const struct tdrv_cni_rt *rt,
                 const cJSON *prev, cJSON **result, struct tdrv_err *err);

/*
 * A persistent network namespace at <run_dir>/netns/<name>, as `ip netns add` makes it:
 * the directory made a shared mount, an empty file, a child that unshares its network
 * namespace and bind-mounts /proc/self/ns/net on the file. *path receives the file's path.
 * 73 when it exists already.
 */
int tdrv_netns_create(const char *run_dir, const char *name, char **path, struct tdrv_err *err);
/* Unmount and remove a namespace file; a missing or unmounted one is fine. */
int tdrv_netns_remove(const char *path, struct tdrv_err *err);
/* Whether path is a mounted network namespace. */
int tdrv_netns_exists(const char *path);

#endif
