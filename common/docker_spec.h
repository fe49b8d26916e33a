#ifndef TDRV_DOCKER_SPEC_H
#define TDRV_DOCKER_SPEC_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/*
 * The task document -> Docker Engine container-create body (POST /containers/create),
 * as Nomad's docker driver maps it (shared/reference/docker-driver.md §1). Pure: reads
 * nothing but the seccomp profiles security_opt names and the paths it checks for
 * volumes; talks to no Engine.
 */

/* Inputs that do not come from the task document. */
struct tdrv_docker_spec_ctx {
    const struct tdrv_config *cfg; /* operator's settings (allow_*, volumes, datacenter) */
    const char *alloc_dir;         /* host path of the allocation directory */
    const char *lease_path;        /* the lease file, label io.tdrv.lease */
    const char *host_ip;           /* default host IP for ports without one; NULL: 127.0.0.1 */
    int64_t total_compute; /* node CPU in MHz (shares scaling, cpu_hard_limit); 0: 1000/cpu */
    int ncpu;              /* online CPUs; 0: 1 */
};

/* What the run needs besides the body. */
struct tdrv_docker_spec {
    char *name;     /* "<task>-<alloc_id>" ('/' in the task name becomes '_') */
    char *image;    /* Config.Image as written (leading https:// dropped) */
    char *alloc_id; /* the document's */
    char *task;     /* the document's */
    char *task_dir; /* <alloc_dir>/<task> */
    char *load;     /* config.load made absolute (under <task>/local), or NULL */
    cJSON *auth;    /* config.auth (a copy), or NULL */
    int auth_soft_fail;
    int force_pull;
    int64_t image_pull_timeout_ns; /* default 5m */
    int tty;
    int interactive;
    char *kill_signal;       /* "SIGTERM"..., or NULL: Engine stop (STOPSIGNAL, then SIGKILL) */
    int64_t kill_timeout_ns; /* default 5s */
    int advertise_ipv6;      /* advertise_ipv6_address */
    cJSON *env;              /* the task environment, object name -> value, in order */
    cJSON *body;             /* the container-create body */
};

void tdrv_docker_spec_init(struct tdrv_docker_spec *s);
void tdrv_docker_spec_release(struct tdrv_docker_spec *s);
#define cleanup_docker_spec __attribute__((cleanup(tdrv_docker_spec_release)))

/*
 * Build the body for the task document `doc`. Errors: 65 (`invalid_config`) naming the
 * option ("config.ulimit: malformed soft ulimit nofile: x:1"), an unknown option
 * ("config: unknown option 'bogus'"); 77 (`forbidden`) for what the operator's config
 * denies (privileged, capabilities, runtimes, namespace modes, volumes).
 */
int tdrv_docker_spec_build(const cJSON *doc, const struct tdrv_docker_spec_ctx *ctx,
                           struct tdrv_docker_spec *out, struct tdrv_err *err);

/* Lexically clean a path as Go's filepath.Clean does, in place. */
void tdrv_docker_path_clean(char *p);

#endif
