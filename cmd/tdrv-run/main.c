/* tdrv-run: run a task in a container with an OCI runtime, no daemon. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "docker_run.h"
#include "json.h"
#include "runtime.h"
#include "spec.h"
#include "task.h"

static const char usage[] =
    "usage: tdrv-run [options] < task.json\n"
    "       tdrv-run --dry-run|--detach < task.json\n"
    "       tdrv-run --wait|--stop|--inspect|--stats|--logs [--follow] < handle.json\n"
    "       tdrv-run --signal SIG|--exec -- CMD [ARG...]  (or --alloc ID --task NAME)\n"
    "       tdrv-run --list\n"
    "\n"
    "Run a task in a container: drivers oci (default), rkt and containerd-driver take\n"
    "the rootfs from the image store, config.json from the task, and runc; driver\n"
    "docker runs it on a Docker Engine. In the foreground the task's\n"
    "output is tdrv-run's; the document with `result` is the last line of stdout.\n"
    "\n"
    "Options:\n"
    "      --dry-run           print the OCI config.json and run nothing\n"
    "  -d, --detach            start, print a `handle` document, leave a monitor\n"
    "      --wait              wait for a detached task; exit with its status\n"
    "      --stop              stop it: kill_signal, then SIGKILL after kill_timeout\n"
    "      --signal SIG        send SIG (name or number) to the task\n"
    "      --exec              run CMD (after --) inside the running task\n"
    "  -t, --tty | --no-tty    --exec on a terminal, or not (default: when stdin is one)\n"
    "      --inspect|--stats   state, pid, times, ports | cpu and memory usage\n"
    "      --logs [--follow]   print the task's logs (and follow until it ends)\n"
    "      --list              tdrv's tasks on this host\n"
    "      --alloc ID --task NAME  name the task instead of a handle document\n"
    "      --task GROUP/TASK   the task of a Nomad job document\n"
    "      --result-fd FD      write the foreground result document to FD\n"
    "      --stdin FILE        an interactive task's input (default: the terminal)\n"
    "  -v, --verbose           more messages on stderr (repeatable)\n"
    "  -q, --quiet             errors only\n"
    "      --log-format FMT    text (default) or json\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Environment: TDRV_ROOT (/var/lib/tdrv), TDRV_RUN (/run/tdrv), TDRV_CONFIG.\n"
    "\n"
    "Exit status:\n"
    "  foreground and --wait: the task's status, 128+N when killed by signal N;\n"
    "  --exec: the command's status; 125 the runtime failed to start the task,\n"
    "  126 the command cannot be invoked, 127 the command was not found;\n"
    "  otherwise 0 ok, 64 usage, 65 bad input or task config, 66 image or task not\n"
    "  found, 69 runtime unavailable, 70 internal error, 71 OS error, 74 I/O error,\n"
    "  75 temporary failure (task already running, timeout), 77 forbidden by the\n"
    "  operator's config, 78 bad configuration\n";

static const struct tdrv_tool tool = {.name = "tdrv-run", .usage = usage};

int main(int argc, char **argv)
{
    struct tdrv_err err = {0};
    struct tdrv_run_req rq = {.result_fd = -1};
    cleanup_config struct tdrv_config cfg;
    cleanup_json cJSON *req = NULL;
    cJSON *res = NULL;
    int status = -1;
    int rc;
    int code;
    int by_flags;

    tdrv_config_init(&cfg);
    rc = tdrv_run_parse_args(&tool, argc, argv, &rq, &err);
    by_flags = rq.alloc_id != NULL || rq.action == TDRV_RUN_LIST;
    if (rc == 0)
        rc = tdrv_config_load(&cfg, NULL, &err);
    if (rc == 0 && !by_flags)
        rc = tdrv_task_read(STDIN_FILENO, rq.task, &req, &err);
    if (rc == 0 && rq.stdin_path) /* the document read, FILE is the task's input */
        rc = tdrv_task_stdin(req, rq.stdin_path, &err);
    /* driver: docker goes to the Docker Engine backend (common/docker_run.h) */
    if (rc == 0 && tdrv_docker_wants(&rq, &cfg, req))
        rc = tdrv_docker_dispatch(&rq, &cfg, req, &res, &status, &err);
    else if (rc == 0)
        rc = tdrv_run(&rq, &cfg, req, &res, &status, &err);
    code = tdrv_finish(&tool, rc, rc == 0 ? res : (res ? res : req), &err);
    if (res != req)
        cJSON_Delete(res);
    if (status >= 0 && code != TDRV_E_IO)
        return status;
    return code;
}
