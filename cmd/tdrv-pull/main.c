/* tdrv-pull: fetch an image named by a task document (or IMAGE) and store it. */
#include <stdio.h>
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
};

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
        {NULL, 0, NULL, 0},
    };
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
