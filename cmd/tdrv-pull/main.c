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
    struct tdrv_pull_args opt = {0};
    cleanup_json cJSON *req = NULL;
    cleanup_json cJSON *res = NULL;
    int rc = tdrv_pull_parse_args(&tool, argc, argv, &opt, &err);

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
