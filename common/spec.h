#ifndef TDRV_SPEC_H
#define TDRV_SPEC_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/*
 * The task document -> an OCI runtime config.json (runtime-spec 1.0), for the
 * daemonless drivers `oci` (default; the docker driver's option names), `rkt`
 * and `containerd-driver` (their own option names). docs/tdrv-run.md has the
 * whole mapping table.
 */

/* What the host offers, which changes the mapping; tdrv_spec_host_detect fills it. */
struct tdrv_spec_host {
    int cgroup_v2;      /* unified hierarchy */
    int memory_swap;    /* swap limit settable (memsw on v1, always on v2) */
    int swappiness;     /* memory.swappiness settable (v1) */
    int ncpu;           /* online CPUs */
    int64_t cpu_mhz;    /* one core's MHz (Nomad's compute unit), 0 = unknown */
    int cap_last;       /* /proc/sys/kernel/cap_last_cap */
    uint64_t cap_bound; /* our own bounding set: what privileged can get (0 = all) */
    const char *arch;   /* "x86_64", "aarch64", ... */
};

void tdrv_spec_host_detect(struct tdrv_spec_host *h);

struct tdrv_spec_in {
    const cJSON *doc;              /* the task document */
    const struct tdrv_config *cfg; /* operator settings */
    const struct tdrv_spec_host *host;
    const cJSON *image_config;       /* the image's config (Env, Entrypoint, Cmd, ...), or NULL */
    const char *const *passwd_roots; /* NULL-terminated dirs searched for etc/passwd, etc/group */
    const char *rootfs;              /* root.path */
    const char *alloc_dir;           /* host: $TDRV_ROOT/allocs/<alloc_id> */
    const char *task_dir;            /* host: <alloc_dir>/<task> */
    const char *volumes_dir;         /* host: where named volumes live ($TDRV_ROOT/volumes) */
    const char *alloc_id;
    const char *task;
    const char *const *parent_env; /* rkt inherit_env: tdrv-run's own "K=V" list, or NULL */
};

/* What the runtime needs beyond config.json. */
struct tdrv_task_opts {
    char *driver;
    char *runtime;           /* OCI runtime binary */
    int kill_signal;         /* default SIGTERM */
    int64_t kill_timeout_ns; /* default 5s */
    uint64_t log_max_size;   /* bytes per log file, default 2 MiB */
    int log_max_files;       /* default 2 */
    int no_overlay;
    int debug;
    int interactive;
    int tty;      /* process.terminal: a pseudo-terminal from the runtime's console socket */
    cJSON *files; /* {"<host path>": "<content>"}: files to write before start */
    cJSON *dirs;  /* ["<host path>", ...]: directories to create before start */
};

void tdrv_task_opts_release(struct tdrv_task_opts *o);
#define cleanup_task_opts __attribute__((cleanup(tdrv_task_opts_release)))

/*
 * Build config.json. Errors: 65 naming the option ("config.cap_add: unknown
 * capability 'FOO'", "config: unknown option 'bogus'"), 77 for what the
 * operator's config forbids (privileged, capabilities, host namespaces,
 * volumes, runtimes).
 */
int tdrv_spec_build(const struct tdrv_spec_in *in, cJSON **spec, struct tdrv_task_opts *opts,
                    struct tdrv_err *err);

/* Only the runtime options (kill_signal, kill_timeout, logging, runtime): for --stop etc. */
int tdrv_task_opts_parse(const cJSON *doc, const struct tdrv_config *cfg,
                         struct tdrv_task_opts *opts, struct tdrv_err *err);

/* "SIGTERM", "TERM", "term", "15" -> 15; 0 if unknown. */
int tdrv_signal_parse(const char *s);
/* 15 -> "SIGTERM" (static), or NULL. */
const char *tdrv_signal_name(int sig);

#endif
