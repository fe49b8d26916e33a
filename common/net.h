#ifndef TDRV_NET_H
#define TDRV_NET_H

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"

/*
 * Task networking for the daemonless backend (issue 6, docs/networking.md):
 *   host    the host's network namespace (network_mode "host", host_network, rkt net ["host"])
 *   none    a namespace of its own with only `lo` (the OCI runtime makes it)
 *   bridge  a namespace of its own on a CNI network (tdrv's default bridge, or an operator's
 *           network by name), ports forwarded by portmap; the default when the task has ports
 *   group   one namespace for all the tasks of an allocation, held while any of them runs
 * Bridge and group tasks keep what is needed to undo the network in a state file in the
 * task's directory, so tdrv_net_teardown works after a crash, from that file alone.
 */

enum tdrv_net_mode {
    TDRV_NET_HOST = 0,
    TDRV_NET_NONE = 1,
    TDRV_NET_BRIDGE = 2,
    TDRV_NET_GROUP = 3,
};

/* The state file's name in a task directory. */
#define TDRV_NET_STATE "network.json"

/* What a task document asks for. `network` is the CNI network ("" = tdrv's default). */
struct tdrv_net_req {
    enum tdrv_net_mode mode;
    char network[256];
};

/*
 * The mode from the document: the driver's own option first (oci `network_mode`,
 * containerd-driver `host_network`, rkt `net`), then Nomad's `network.mode` ("host",
 * "none", "bridge", "group", "cni/<name>"); with neither, bridge when the task has ports
 * (`ports` or `network.ports`), else host. 65 naming the option on a bad value.
 */
int tdrv_net_mode(const cJSON *doc, struct tdrv_net_req *req, struct tdrv_err *err);
const char *tdrv_net_mode_name(enum tdrv_net_mode m);

/* The CNI portMappings of the document's `ports` (tcp and udp; rkt: the port_map protocol). */
int tdrv_net_port_mappings(const cJSON *doc, cJSON **out, struct tdrv_err *err);

struct tdrv_net_in {
    const cJSON *doc;
    const struct tdrv_config *cfg;
    const char *alloc_id;
    const char *task;
    const char *alloc_dir;
    const char *task_dir; /* holds the state file and the task's `lease` */
};

/* A task's network once set up. */
struct tdrv_net {
    enum tdrv_net_mode mode;
    char *netns;      /* namespace path (bridge, group), else NULL */
    char *ip;         /* the container's IPv4 address, else NULL */
    char *state_path; /* the state file (bridge, group), else NULL */
    cJSON *summary;   /* for the handle: {mode, network, ip, netns, state_file, ports} */
};

void tdrv_net_init(struct tdrv_net *n);
void tdrv_net_release(struct tdrv_net *n);
#define cleanup_net __attribute__((cleanup(tdrv_net_release)))

/*
 * Set up the task's network: for bridge, a namespace <run_dir>/netns/<task>-<alloc_id>, CNI
 * ADD of `lo` and of the network with the port mappings; for group, join (or create) the
 * allocation's namespace <run_dir>/netns/<alloc_id> and add this task's port mappings. The
 * state file is written before anything is created; on failure what was made is undone.
 * Errors: those of tdrv_cni_load, tdrv_cni_run, tdrv_netns_create.
 */
int tdrv_net_setup(const struct tdrv_net_in *in, struct tdrv_net *net, struct tdrv_err *err);

/*
 * The same, in a child process, so that the caller can prepare the container meanwhile:
 * start forks it (host and none need no child); finish waits for it and fills *net from the
 * state file, or returns its error. finish must be called once after a successful start.
 */
struct tdrv_net_job {
    int pid;
    int fd;
    enum tdrv_net_mode mode;
    char *state_path;
};
int tdrv_net_setup_start(const struct tdrv_net_in *in, struct tdrv_net_job *job,
                         struct tdrv_err *err);
int tdrv_net_setup_finish(struct tdrv_net_job *job, struct tdrv_net *net, struct tdrv_err *err);

/* Fill *net from a task's state file (bridge, group). */
int tdrv_net_load(const char *state_path, struct tdrv_net *net, struct tdrv_err *err);

/*
 * Put the network into config.json: the namespace path into linux.namespaces' network
 * entry, NOMAD_IP_<label> and NOMAD_ADDR_<label> (container IP, container port) into
 * process.env.
 */
int tdrv_net_apply_spec(const struct tdrv_net *net, const cJSON *doc, cJSON *spec,
                        struct tdrv_err *err);

/*
 * In the /etc/hosts content the spec generated (files[hosts_path]), the task's own name line
 * (127.0.1.1 <hostname>) becomes <container ip> <hostname>, as Docker writes it for a
 * bridged container. Nothing changes without an IP or that line.
 */
void tdrv_net_apply_hosts(const struct tdrv_net *net, const char *hosts_path, const char *hostname,
                          cJSON *files);

/*
 * Undo a task's network from its state file alone (`<task dir>/network.json`): CNI DEL
 * (with the cached result), the namespace removed, the state file removed. A group task
 * leaves the allocation's network; the last task out (no other member whose lease is held)
 * tears it down. Idempotent: a missing state file is success. On a DEL failure the state
 * file stays, so a later call retries.
 */
int tdrv_net_teardown(const char *state_path, struct tdrv_err *err);

#endif
