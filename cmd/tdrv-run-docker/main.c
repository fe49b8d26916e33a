/*
 * tdrv-run-docker: a TEMPORARY front end for tdrv-run's docker backend (issue 7), until
 * tdrv-run's main.c dispatches `driver: docker` to common/docker_run.h. Same options as
 * tdrv-run; tests and bench reach it through $TDRV_RUN_DOCKER.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "docker_run.h"
#include "json.h"
#include "mem.h"
#include "task.h"

static const char usage[] =
    "usage: tdrv-run-docker [options] < task.json\n"
    "       tdrv-run-docker --exec [options] -- CMD [ARG...] < handle.json\n"
    "\n"
    "Run a task (driver: docker) on a Docker Engine: in the foreground by default, with\n"
    "the task's output as ours, its result on stdout last and its exit status as ours.\n"
    "\n"
    "options:\n"
    "  -d, --detach        start, leave a monitor holding the lease, print a handle\n"
    "      --wait          wait for a detached task; print its result\n"
    "      --stop          kill_signal, then after kill_timeout SIGKILL; print the result\n"
    "      --signal SIG    send SIG to the task\n"
    "      --exec          run the command after -- inside the task\n"
    "      --inspect       the task's state as JSON\n"
    "      --stats         cpu and memory usage as JSON\n"
    "      --logs          the task's logs (--follow: until it ends)\n"
    "      --list          tdrv's tasks on the Engine\n"
    "      --dry-run       print the container-create body; run nothing\n"
    "      --alloc ID --task NAME   name the task instead of a document on stdin\n"
    "      --config FILE   the operator's file (default $TDRV_CONFIG, /etc/tdrv/config.yaml)\n"
    "  -v, --verbose  -q, --quiet  --log-format text|json  -h, --help  -V, --version\n"
    "\n"
    "exit status: the task's own (128+N for signal N) in the foreground and with --wait,\n"
    "--stop and --exec; 125 when tdrv-run failed in the foreground; otherwise\n"
    "  0 ok   64 usage   65 bad task document   66 no such task or image\n"
    "  69 Docker Engine unavailable   71 system call failed   74 cannot write stdout\n"
    "  75 temporary (lease busy, engine 5xx)   77 forbidden by the operator's config\n"
    "  78 invalid operator config\n";

static const struct tdrv_tool tool = {.name = "tdrv-run-docker", .usage = usage};

enum {
    OP_RUN,
    OP_WAIT = TDRV_OPT_TOOL_BASE,
    OP_STOP,
    OP_SIGNAL,
    OP_EXEC,
    OP_INSPECT,
    OP_STATS,
    OP_LOGS,
    OP_LIST,
    OPT_FOLLOW,
    OPT_DRY,
    OPT_ALLOC,
    OPT_TASK,
    OPT_CONFIG,
};

struct opts {
    int op;
    const char *alloc;
    const char *task;
    const char *config;
    struct tdrv_docker_run_opts run;
};

static int parse_opts(int argc, char **argv, struct opts *o, struct tdrv_err *err)
{
    static const struct option longopts[] = {
        TDRV_STD_LONGOPTS,
        {"detach", no_argument, NULL, 'd'},
        {"wait", no_argument, NULL, OP_WAIT},
        {"stop", no_argument, NULL, OP_STOP},
        {"signal", required_argument, NULL, OP_SIGNAL},
        {"exec", no_argument, NULL, OP_EXEC},
        {"inspect", no_argument, NULL, OP_INSPECT},
        {"stats", no_argument, NULL, OP_STATS},
        {"logs", no_argument, NULL, OP_LOGS},
        {"list", no_argument, NULL, OP_LIST},
        {"follow", no_argument, NULL, OPT_FOLLOW},
        {"dry-run", no_argument, NULL, OPT_DRY},
        {"alloc", required_argument, NULL, OPT_ALLOC},
        {"task", required_argument, NULL, OPT_TASK},
        {"config", required_argument, NULL, OPT_CONFIG},
        {NULL, 0, NULL, 0},
    };
    int c;

    tdrv_cli_init(&tool);
    while ((c = getopt_long(argc, argv, TDRV_STD_OPTSTRING "d", longopts, NULL)) != -1) {
        if (c >= OP_WAIT && c <= OP_LIST) {
            if (o->op)
                return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "choose one operation");
            o->op = c;
            if (c == OP_SIGNAL)
                o->run.signal = optarg;
            continue;
        }
        switch (c) {
        case 'd':
            o->run.detach = 1;
            break;
        case OPT_FOLLOW:
            o->run.follow = 1;
            break;
        case OPT_DRY:
            o->run.dry_run = 1;
            break;
        case OPT_ALLOC:
            o->alloc = optarg;
            break;
        case OPT_TASK:
            o->task = optarg;
            break;
        case OPT_CONFIG:
            o->config = optarg;
            break;
        default:
            if (tdrv_cli_std(&tool, c, argv, err) < 0)
                return -1;
        }
    }
    if (o->op == OP_EXEC)
        o->run.exec_argv = argv + optind;
    else if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    if (!!o->alloc != !!o->task)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--alloc and --task go together");
    return 0;
}

int main(int argc, char **argv)
{
    struct tdrv_err err = {0};
    struct opts o = {0};
    struct tdrv_config cfg;
    cleanup_json cJSON *doc = NULL;
    cleanup_json cJSON *res = NULL;
    int status = -1;
    int rc = parse_opts(argc, argv, &o, &err);
    int code;

    tdrv_config_init(&cfg);
    o.run.cfg = &cfg;
    if (rc == 0)
        rc = tdrv_config_load(&cfg, o.config, &err);
    if (rc == 0 && o.op != OP_LIST) {
        if (o.alloc) {
            doc = tdrv_json_xobj();
            tdrv_json_add_str(doc, "alloc_id", o.alloc);
            tdrv_json_add_str(doc, "task", o.task);
        } else {
            rc = tdrv_task_read(STDIN_FILENO, NULL, &doc, &err);
        }
    }
    if (rc == 0) {
        switch (o.op) {
        case OP_RUN:
            rc = tdrv_docker_run(doc, &o.run, &res, &status, &err);
            break;
        case OP_WAIT:
            rc = tdrv_docker_wait(doc, &o.run, &res, &status, &err);
            break;
        case OP_STOP:
            rc = tdrv_docker_stop(doc, &o.run, &res, &status, &err);
            break;
        case OP_SIGNAL:
            rc = tdrv_docker_signal(doc, &o.run, &res, &status, &err);
            break;
        case OP_EXEC:
            rc = tdrv_docker_exec(doc, &o.run, &res, &status, &err);
            break;
        case OP_INSPECT:
            rc = tdrv_docker_inspect(doc, &o.run, &res, &status, &err);
            break;
        case OP_STATS:
            rc = tdrv_docker_stats(doc, &o.run, &res, &status, &err);
            break;
        case OP_LOGS:
            rc = tdrv_docker_logs(doc, &o.run, &res, &status, &err);
            break;
        default:
            rc = tdrv_docker_list(&o.run, &res, &err);
        }
    }
    if (rc < 0 && !res && doc && !err.passthrough)
        res = steal_ptr(&doc);
    code = tdrv_finish(&tool, rc, res ? res : (err.passthrough ? doc : NULL), &err);
    tdrv_config_release(&cfg);
    if (code == 0 && status >= 0)
        code = status;
    else if (code != 0 && o.op == OP_RUN && !o.run.detach && !o.run.dry_run && !err.passthrough &&
             code != TDRV_E_IO)
        code = 125;
    return code;
}
