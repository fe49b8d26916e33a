#ifndef TDRV_RUNTIME_H
#define TDRV_RUNTIME_H

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"

/*
 * The daemonless backend of tdrv-run: an allocation directory under
 * $TDRV_ROOT/allocs/<alloc_id>/, a bundle under $TDRV_RUN/tasks/<task>-<alloc_id>/,
 * and an OCI runtime (runc) started with `run --detach` under a supervisor that is
 * the container's subreaper and holds the task's lease (DESIGN §3) for its whole life.
 */

enum tdrv_run_action {
    TDRV_RUN_FOREGROUND = 0,
    TDRV_RUN_DRY_RUN,
    TDRV_RUN_DETACH,
    TDRV_RUN_WAIT,
    TDRV_RUN_STOP,
    TDRV_RUN_SIGNAL,
    TDRV_RUN_EXEC,
    TDRV_RUN_INSPECT,
    TDRV_RUN_STATS,
    TDRV_RUN_LOGS,
    TDRV_RUN_LIST,
};

struct tdrv_run_req {
    enum tdrv_run_action action;
    const char *alloc_id; /* --alloc: a task named by flags instead of a handle document */
    const char *task;     /* --task */
    int signal;           /* --signal */
    int follow;           /* --logs --follow */
    char **exec_argv;     /* --exec -- CMD... (NULL-terminated) */
    int exec_tty;         /* --exec: 1 --tty, -1 --no-tty, 0 a terminal when stdin is one */
    int result_fd;        /* where the foreground result document goes (-1: stdout) */
    /* --stdin: an interactive task's input, already opened on fd 0 */
    const char *stdin_path;
};

/* tdrv-run's options and operands into *rq; 64 (usage) for what does not fit. */
struct tdrv_tool;
int tdrv_run_parse_args(const struct tdrv_tool *tool, int argc, char **argv,
                        struct tdrv_run_req *rq, struct tdrv_err *err);

/*
 * Run one request. `doc` is the task (or handle) document, NULL for --list or when
 * --alloc/--task name the task. *out receives the document to emit (or NULL: nothing,
 * as after --logs and --exec). *status is the exit status to use instead of the tdrv
 * code (the task's own status, 128+N, 125/126/127), or -1.
 */
int tdrv_run(const struct tdrv_run_req *rq, const struct tdrv_config *cfg, cJSON *doc, cJSON **out,
             int *status, struct tdrv_err *err);

#endif
