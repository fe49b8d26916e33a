/* tdrv-run's command line (cmd/tdrv-run/main.c has the usage text). */
#include <getopt.h>

#include "cli.h"
#include "runtime.h"
#include "spec.h"

/* An action's option value is ACT(action); the other tool options follow. */
#define ACT(a) (TDRV_OPT_TOOL_BASE + (a))
enum {
    OPT_FOLLOW = ACT(32),
    OPT_ALLOC,
    OPT_TASK,
    OPT_RESULT_FD,
    OPT_STDIN,
    OPT_TTY,
    OPT_NO_TTY,
};

int tdrv_run_parse_args(const struct tdrv_tool *tool, int argc, char **argv,
                        struct tdrv_run_req *rq, struct tdrv_err *err)
{
    static const struct option longopts[] = {
        TDRV_STD_LONGOPTS,
        {"dry-run", no_argument, NULL, ACT(TDRV_RUN_DRY_RUN)},
        {"detach", no_argument, NULL, ACT(TDRV_RUN_DETACH)},
        {"wait", no_argument, NULL, ACT(TDRV_RUN_WAIT)},
        {"stop", no_argument, NULL, ACT(TDRV_RUN_STOP)},
        {"signal", required_argument, NULL, ACT(TDRV_RUN_SIGNAL)},
        {"exec", no_argument, NULL, ACT(TDRV_RUN_EXEC)},
        {"inspect", no_argument, NULL, ACT(TDRV_RUN_INSPECT)},
        {"stats", no_argument, NULL, ACT(TDRV_RUN_STATS)},
        {"logs", no_argument, NULL, ACT(TDRV_RUN_LOGS)},
        {"list", no_argument, NULL, ACT(TDRV_RUN_LIST)},
        {"follow", no_argument, NULL, OPT_FOLLOW},
        {"alloc", required_argument, NULL, OPT_ALLOC},
        {"task", required_argument, NULL, OPT_TASK},
        {"result-fd", required_argument, NULL, OPT_RESULT_FD},
        {"stdin", required_argument, NULL, OPT_STDIN},
        {"tty", no_argument, NULL, OPT_TTY},
        {"no-tty", no_argument, NULL, OPT_NO_TTY},
        {NULL, 0, NULL, 0},
    };
    int c;
    uint64_t fd;

    tdrv_cli_init(tool);
    while ((c = getopt_long(argc, argv, TDRV_STD_OPTSTRING "dt", longopts, NULL)) != -1) {
        if (c == 'd')
            c = ACT(TDRV_RUN_DETACH);
        else if (c == 't')
            c = OPT_TTY;
        if (c > ACT(0) && c <= ACT(TDRV_RUN_LIST)) {
            if (rq->action && (int)rq->action != c - ACT(0))
                return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "conflicting actions");
            rq->action = (enum tdrv_run_action)(c - ACT(0));
        }
        if (c == ACT(TDRV_RUN_SIGNAL) && !(rq->signal = tdrv_signal_parse(optarg)))
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unknown signal '%s'", optarg);
        else if (c == OPT_FOLLOW)
            rq->follow = 1;
        else if (c == OPT_ALLOC)
            rq->alloc_id = optarg;
        else if (c == OPT_TASK)
            rq->task = optarg;
        else if (c == OPT_RESULT_FD && tdrv_parse_u64(optarg, 3, 1024, &fd, err) < 0)
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--result-fd: %s", err->msg);
        else if (c == OPT_RESULT_FD)
            rq->result_fd = (int)fd;
        else if (c == OPT_STDIN)
            rq->stdin_path = optarg;
        else if (c == OPT_TTY || c == OPT_NO_TTY)
            rq->exec_tty = c == OPT_TTY ? 1 : -1;
        else if ((c <= ACT(0) || c > ACT(TDRV_RUN_LIST)) && tdrv_cli_std(tool, c, argv, err) < 0)
            return -1;
    }
    if (rq->action == TDRV_RUN_EXEC)
        rq->exec_argv = argv + optind;
    else if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    if (rq->follow && rq->action != TDRV_RUN_LOGS)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--follow needs --logs");
    if (rq->exec_tty && rq->action != TDRV_RUN_EXEC)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--tty and --no-tty need --exec");
    if (rq->stdin_path && rq->action != TDRV_RUN_FOREGROUND && rq->action != TDRV_RUN_DETACH)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--stdin needs a run (or --detach)");
    return 0;
}
