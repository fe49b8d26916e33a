#ifndef TDRV_DOCKER_RUN_H
#define TDRV_DOCKER_RUN_H

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "runtime.h"

/*
 * tdrv-run's docker backend (`driver: docker`): the task runs on a Docker Engine through
 * its HTTP API (DESIGN §4). State, as the oci backend keeps it (DESIGN §3):
 *   $TDRV_ROOT/allocs/<alloc_id>/alloc/            shared, mounted at /alloc
 *   $TDRV_ROOT/allocs/<alloc_id>/<task>/local/     mounted at /local
 *   $TDRV_ROOT/allocs/<alloc_id>/<task>/secrets/   mounted at /secrets
 *   $TDRV_ROOT/allocs/<alloc_id>/<task>/lease      flock'd by the supervisor for the task's life
 *   $TDRV_ROOT/allocs/<alloc_id>/<task>/state.json the handle, then the result
 *   $TDRV_ROOT/allocs/<alloc_id>/<task>/logs/      stdout.log, stderr.log (+ .1: rotated)
 *
 * Every entry point takes the task document (or the handle document a detached run
 * printed: both carry alloc_id and task), sets *res to the document to print, and
 * *status to the exit status tdrv-run should end with when it is not the error's (the
 * task's own status for a foreground run, --wait and --exec; -1 otherwise).
 */
struct tdrv_docker_run_opts {
    const struct tdrv_config *cfg; /* operator's settings (required) */
    int detach;                    /* start, leave a monitor holding the lease, print a handle */
    int dry_run;                   /* print {"name","create"}: the container-create body */
    int follow;                    /* logs: follow until the task ends */
    int quiet;                     /* foreground: do not copy the task's output to ours */
    int result_fd;                 /* foreground: the result document goes there (-1: *res) */
    const char *signal;            /* signal: the name or number to send */
    int signo;                     /* signal: or its number (wins when set) */
    char *const *exec_argv;        /* exec: the command (NULL-terminated) */
};

int tdrv_docker_run(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                    struct tdrv_err *err);
/* Wait for a detached task to end (its supervisor lets go of the lease); prints the result. */
int tdrv_docker_wait(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err);
/* kill_signal, then after kill_timeout SIGKILL (Engine stop when no kill_signal); waits. */
int tdrv_docker_stop(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err);
int tdrv_docker_signal(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                       struct tdrv_err *err);
/* {state, running, pid, exit_code, oom_killed, started_at, finished_at, container_id, ports} */
int tdrv_docker_inspect(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                        struct tdrv_err *err);
/* {cpu_percent, memory_usage, memory_limit, pids} from one stats sample */
int tdrv_docker_stats(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                      struct tdrv_err *err);
/* The task's logs to stdout/stderr (with follow: until the task ends); *res is NULL. */
int tdrv_docker_logs(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err);
/* Run o->exec_argv inside the task; its output is ours, *status its exit status. */
int tdrv_docker_exec(cJSON *doc, const struct tdrv_docker_run_opts *o, cJSON **res, int *status,
                     struct tdrv_err *err);
/* tdrv's containers on the Engine (label io.tdrv.alloc_id): {"tasks":[...]} */
int tdrv_docker_list(const struct tdrv_docker_run_opts *o, cJSON **res, struct tdrv_err *err);

/*
 * tdrv-run's dispatch by driver. tdrv_docker_wants: does this request go to the docker
 * backend (the document's `driver` or `handle.driver` is "docker"; for --alloc/--task,
 * the task's state.json says so)? tdrv_docker_dispatch runs it with tdrv_run()'s
 * contract (runtime.h): *out the document to emit, *status the exit status or -1
 * (125 when a foreground run failed).
 */
int tdrv_docker_wants(const struct tdrv_run_req *rq, const struct tdrv_config *cfg,
                      const cJSON *doc);
int tdrv_docker_dispatch(const struct tdrv_run_req *rq, const struct tdrv_config *cfg, cJSON *doc,
                         cJSON **out, int *status, struct tdrv_err *err);

/*
 * Reading the Engine's answers (exposed for tests). tdrv_docker_wait_code: the StatusCode of
 * a POST /containers/<id>/wait answer (0 when absent). tdrv_docker_result: the task's result
 * (DESIGN §1: exit_code, signal, oom_killed, started_at, finished_at, error, container_id)
 * from a container inspect answer, wait_code standing for a missing State.ExitCode.
 * tdrv_docker_result_status: tdrv-run's exit status for a result (its exit_code when in
 * 0-255, else 125).
 */
int64_t tdrv_docker_wait_code(const cJSON *ans);
cJSON *tdrv_docker_result(const cJSON *info, int64_t wait_code);
int tdrv_docker_result_status(const cJSON *result);

/*
 * Split a multiplexed (non-TTY) Engine stream into stdout/stderr. Feed it bytes as they
 * come; it calls out(stream 1|2, data, n, arg) per frame piece. Exposed for tests.
 */
struct tdrv_docker_demux {
    unsigned char hdr[8];
    size_t hdr_len;
    size_t left; /* bytes left in the current frame */
    int stream;
    int (*out)(int stream, const char *p, size_t n, void *arg);
    void *arg;
};
int tdrv_docker_demux_feed(struct tdrv_docker_demux *d, const char *p, size_t n);

#endif
