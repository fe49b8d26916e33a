#ifndef TDRV_GC_H
#define TDRV_GC_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/*
 * tdrv-gc (issue 10): reap what crashes leave behind, on one host, safely.
 *
 * A task (allocs/<alloc_id>/<task>/, DESIGN §3) is judged by its lease: whoever takes the
 * lease's flock knows the supervisor is gone. tdrv-gc takes it (LOCK_EX|LOCK_NB) and holds
 * it for the whole reap, so a second tdrv-gc, or a restart of the task, waits or fails
 * instead of racing. A task whose lease is held is never touched, except when the scheduler
 * says its allocation is gone (--live without it, or --alloc): then its container is
 * stopped (kill_signal, kill_timeout, SIGKILL) and, once the supervisor lets go, reaped.
 * A task younger than gc.dangling_containers.creation_grace is never touched.
 *
 * Reaping is idempotent, step by step (stop, runtime state or container, rootfs, network,
 * ports, state.json), so a tdrv-gc killed at any point leaves what the next run finishes.
 */

enum tdrv_gc_backend {
    TDRV_GC_OCI = 1,
    TDRV_GC_DOCKER = 2,
    TDRV_GC_ALL = 3,
};

struct tdrv_gc_opts {
    int dry_run;          /* report, change nothing (also gc.dangling_containers.dry_run) */
    const cJSON *live;    /* --live: array of the allocation ids still alive, or NULL */
    const char *alloc_id; /* --alloc: only this allocation, which is over */
    int remove_alloc_dir; /* also remove a reaped allocation's directory (logs, result) */
    int images;           /* -1: gc.image; 0 no; 1 yes */
    int containers;       /* -1: gc.container; 0 no; 1 yes */
    unsigned backends;    /* enum tdrv_gc_backend bits; 0: all */
    int64_t watch_ns;     /* --watch: a pass every watch_ns (0: one pass) */
};

/*
 * One pass. *report receives {"dry_run", "time", "found": [...], "removed": [...],
 * "kept": [...], "errors": [...], "counts": {...}} (items name kind, backend, alloc_id,
 * task, id, reason). An item that could not be reaped is in "errors" and the pass fails
 * with 75 (retry) after finishing everything else; *report is set either way.
 */
int tdrv_gc_run(const struct tdrv_gc_opts *o, const struct tdrv_config *cfg, cJSON **report,
                struct tdrv_err *err);

/* --watch: a pass every o->watch_ns, each report a JSON line on stdout, until SIGTERM/SIGINT. */
int tdrv_gc_watch(const struct tdrv_gc_opts *o, const struct tdrv_config *cfg,
                  struct tdrv_err *err);

/* --backend: "oci", "docker" or "all" (64 otherwise). */
int tdrv_gc_backend_parse(const char *s, unsigned *backends, struct tdrv_err *err);
/* The options that exclude each other (64); --watch's PERIOD (at least 1s) into o->watch_ns. */
int tdrv_gc_opts_check(struct tdrv_gc_opts *o, int live, int watch, const char *period,
                       struct tdrv_err *err);

/* The --live document: a JSON array of allocation id strings, or {"live": [...]}. */
int tdrv_gc_live_parse(const cJSON *doc, const cJSON **live, struct tdrv_err *err);

/*
 * The clock, in seconds. TDRV_GC_NOW (test only) moves it: "+6m" (a Go duration added to
 * the real time) or a Unix time in seconds.
 */
int64_t tdrv_gc_now(void);

/*
 * Engine images: tdrv-gc removes only those tdrv pulled. The docker backend records each
 * image it pulled (absent before) in $TDRV_ROOT/gc/engine-images/<id-hex>.json, and holds
 * $TDRV_ROOT/gc/engine-images.lock shared from checking the image until the container is
 * created, so tdrv-gc (exclusive, without waiting) never removes it under a starting task.
 */
int tdrv_gc_engine_image_record(const struct tdrv_config *cfg, const char *id, const char *ref,
                                struct tdrv_err *err);
int tdrv_gc_engine_image_hold(const struct tdrv_config *cfg, int *fd, struct tdrv_err *err);

#endif
