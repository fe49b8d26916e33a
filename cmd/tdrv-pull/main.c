/* tdrv-pull: fetch an image named by a task document (or IMAGE) and store it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "mem.h"
#include "pull.h"
#include "ref.h"
#include "task.h"

static const char usage[] =
    "usage: tdrv-pull [options] < request.json\n"
    "       tdrv-pull [options] IMAGE\n"
    "       tdrv-pull --parse REF\n"
    "\n"
    "Fetch the image a task document's config.image names, verify it, store it, and\n"
    "write the document back with an `image` object added.\n"
    "\n"
    "Options:\n"
    "      --parse REF         print REF normalized as Docker does; no network\n"
    "      --task GROUP/TASK   the task of a Nomad job document ({\"Job\": ...})\n"
    "      --platform P        os/arch[/variant] to pull from an index (default: the host)\n"
    "      --pull-policy P     never, new or update (default: the driver's rule)\n"
    "      --max-concurrent N  blobs downloaded at once (default 4)\n"
    "      --ca-file FILE      trust the CA certificates in FILE (PEM) too\n"
    "      --progress MODE     bar, json (JSON Lines on stderr) or none\n"
    "      --to TARGET         store, or docker (a Docker Engine; the default for driver\n"
    "                          \"docker\")\n"
    "      --load PATH         load the image from a docker-archive, oci-archive, OCI\n"
    "                          layout directory or ACI (as config.load)\n"
    "      --rootfs DIR        also write the image's flattened root filesystem to DIR\n"
    "      --root DIR          the store (default $TDRV_ROOT, else /var/lib/tdrv)\n"
    "  -v, --verbose           more messages on stderr (repeatable)\n"
    "  -q, --quiet             errors only\n"
    "      --log-format FMT    text (default) or json\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Exit status:\n"
    "  0 ok, 64 usage, 65 bad input or image reference, 66 image not found,\n"
    "  69 registry unavailable, 70 internal error, 71 system call failed,\n"
    "  74 I/O error, 75 temporary failure (retry), 76 registry broke the protocol\n"
    "  (digest mismatch), 77 permission denied (authentication), 78 bad configuration\n";

static const struct tdrv_tool tool = {.name = "tdrv-pull", .usage = usage};

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

struct opts {
    const char *parse;
    struct tdrv_pull_opts pull;
};

static int parse_opts(int argc, char **argv, struct opts *o, struct tdrv_err *err)
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

    tdrv_cli_init(&tool);
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
            if (tdrv_cli_std(&tool, c, argv, err) < 0)
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

static int parse_ref(const char *s, cJSON **res, struct tdrv_err *err)
{
    cleanup_ref struct tdrv_ref ref = {0};

    if (tdrv_ref_parse_image(s, &ref, err) < 0)
        return -1;
    *res = tdrv_ref_json(&ref);
    return 0;
}

int main(int argc, char **argv)
{
    struct tdrv_err err = {0};
    struct opts opt = {0};
    cleanup_json cJSON *req = NULL;
    cleanup_json cJSON *res = NULL;
    int rc = parse_opts(argc, argv, &opt, &err);

    if (rc == 0 && opt.parse)
        rc = parse_ref(opt.parse, &res, &err);
    else if (rc == 0) {
        if (!opt.pull.image)
            rc = tdrv_task_read(STDIN_FILENO, opt.pull.task_select, &req, &err);
        else
            req = tdrv_json_xobj();
        if (rc == 0)
            rc = tdrv_pull(req, &opt.pull, &res, &err);
    }
    return tdrv_finish(&tool, rc, res ? res : req, &err);
}
