/* tdrv-pull's command line (cmd/tdrv-pull/main.c has the usage text). */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "pull.h"

enum {
    OPT_PARSE = TDRV_OPT_TOOL_BASE,
    OPT_TASK,
    OPT_PLATFORM,
    OPT_POLICY,
    OPT_MAXC,
    OPT_CA,
    OPT_PROGRESS,
    OPT_TO,
    OPT_LOAD,
    OPT_ROOTFS,
    OPT_ROOT,
};

static int parse_enum(const char *opt, const char *v, const char *const *names, int *out,
                      struct tdrv_err *err)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "invalid %s '%s'", opt, v);
}

int tdrv_pull_parse_args(const struct tdrv_tool *tool, int argc, char **argv,
                         struct tdrv_pull_args *o, struct tdrv_err *err)
{
    static const struct option longopts[] = {
        TDRV_STD_LONGOPTS,
        {"parse", required_argument, NULL, OPT_PARSE},
        {"task", required_argument, NULL, OPT_TASK},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"pull-policy", required_argument, NULL, OPT_POLICY},
        {"max-concurrent", required_argument, NULL, OPT_MAXC},
        {"ca-file", required_argument, NULL, OPT_CA},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"to", required_argument, NULL, OPT_TO},
        {"load", required_argument, NULL, OPT_LOAD},
        {"rootfs", required_argument, NULL, OPT_ROOTFS},
        {"root", required_argument, NULL, OPT_ROOT},
        {NULL, 0, NULL, 0},
    };
    static const char *const policies[] = {"", "never", "new", "update", NULL};
    static const char *const modes[] = {"auto", "none", "bar", "json", NULL};
    static const char *const targets[] = {"auto", "store", "docker", NULL};
    uint64_t n = 0;
    int v = 0;
    int c;

    tdrv_cli_init(tool);
    while ((c = getopt_long(argc, argv, TDRV_STD_OPTSTRING, longopts, NULL)) != -1) {
        switch (c) {
        case OPT_PARSE:
            o->parse = optarg;
            break;
        case OPT_TASK:
            o->pull.task_select = optarg;
            break;
        case OPT_PLATFORM:
            o->pull.platform = optarg;
            break;
        case OPT_POLICY:
            if (!*optarg || parse_enum("--pull-policy", optarg, policies, &v, err) < 0)
                return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                     "invalid --pull-policy '%s' (expected never, new or update)",
                                     optarg);
            o->pull.policy = (enum tdrv_pull_policy)v;
            break;
        case OPT_MAXC:
            if (tdrv_parse_u64(optarg, 1, 64, &n, err) < 0) {
                err->code = TDRV_E_USAGE;
                return tdrv_err_wrap(err, "--max-concurrent");
            }
            o->pull.max_concurrent = (unsigned)n;
            break;
        case OPT_CA:
            o->pull.ca_file = optarg;
            break;
        case OPT_PROGRESS:
            if (parse_enum("--progress", optarg, modes, &v, err) < 0)
                return -1;
            o->pull.progress = (enum tdrv_progress_mode)v;
            break;
        case OPT_TO:
            if (parse_enum("--to", optarg, targets, &v, err) < 0)
                return -1;
            o->pull.to = (enum tdrv_pull_target)v;
            break;
        case OPT_LOAD:
            o->pull.load = optarg;
            break;
        case OPT_ROOTFS:
            o->pull.rootfs = optarg;
            break;
        case OPT_ROOT:
            o->pull.root = optarg;
            break;
        default:
            if (tdrv_cli_std(tool, c, argv, err) < 0)
                return -1;
        }
    }
    if (optind < argc)
        o->pull.image = argv[optind++];
    if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    return 0;
}
