#ifndef TDRV_PORTS_H
#define TDRV_PORTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

/*
 * Host ports for tasks (issue 8). The ledger lives under <root>/ports/: `ledger` holds one
 * lease a line (port, protocol, alloc id, group, task, label, host IP, creation time), `lock`
 * is flock'd around every read-modify-write, and the ledger is rewritten as `ledger.tmp` then
 * renamed, so a crash at any point leaves the old ledger or the new one, never a mix.
 * A port leased to one allocation is never handed to another, whatever the protocol or IP.
 */

enum tdrv_ports_mode {
    TDRV_PORTS_ALLOCATE = 0,
    TDRV_PORTS_RELEASE = 1,
    TDRV_PORTS_LIST = 2,
};

struct tdrv_ports_opts {
    enum tdrv_ports_mode mode;
    const char *alloc_id; /* --alloc: release or list one allocation's leases */
};

/*
 * Allocate the ports the task document's `network.ports` ask for (static, or dynamic from
 * the operator's range; `to` from the port, else from the docker or rkt `config.port_map`),
 * all or nothing, and add `ports` [{label, value, to, host_ip}] and the port environment
 * (NOMAD_PORT_, NOMAD_HOST_PORT_, NOMAD_IP_, NOMAD_ADDR_<label>) to `doc`. A document without
 * `alloc_id` gets one. Errors: 65 bad request, 75 `port_conflict` / `ports_exhausted` /
 * `lock_busy`, 77 `port_reserved`, 71 ledger I/O.
 */
int tdrv_ports_allocate(cJSON *doc, const struct tdrv_config *cfg, struct tdrv_err *err);

/* Give back every lease of alloc_id; *released receives the leases removed (may be empty). */
int tdrv_ports_release(const struct tdrv_config *cfg, const char *alloc_id, cJSON **released,
                       struct tdrv_err *err);

/* The ledger as {"leases": [...], "count": N}; alloc_id (may be NULL) filters. */
int tdrv_ports_list(const struct tdrv_config *cfg, const char *alloc_id, cJSON **out,
                    struct tdrv_err *err);

/*
 * What tdrv-ports does for one invocation: allocate into `doc`, release (`doc`'s alloc_id or
 * opts->alloc_id), or list. *res receives the document to emit.
 */
int tdrv_ports_run(const struct tdrv_ports_opts *opts, const struct tdrv_config *cfg, cJSON **doc,
                   cJSON **res, struct tdrv_err *err);

/*
 * The host IP ports are bound on when neither the operator nor the task names one: the IPv4
 * address of the interface carrying the default route (/proc/net/route), else 127.0.0.1.
 */
int tdrv_ports_default_ip(char *buf, size_t n, struct tdrv_err *err);

/* Whether `ip` is an address of one of this host's interfaces. */
int tdrv_ports_is_host_ip(const char *ip);

/*
 * One `port_map` value: a container port number (docker: 8080, "8080") or an rkt/appc port
 * name ("8080-tcp", "53-udp"). Sets *port and proto ("tcp" or "udp"). 65 on anything else.
 */
int tdrv_ports_parse_map_value(const cJSON *v, const char *path, int *port, char proto[4],
                               struct tdrv_err *err);

/* Whether `port` is in the operator's reserved list (numbers and "a-b" strings). */
int tdrv_ports_is_reserved(const cJSON *reserved, int port);

#endif
