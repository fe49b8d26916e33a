/* tdrv-gc: reap dangling tasks, unused images and stale leases, never what is not tdrv's. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "gc.h"
#include "json.h"
#include "mem.h"

static const char usage[] =
    "usage: tdrv-gc [options]\n"
    "       tdrv-gc --live [options] < live-allocs.json\n"
    "       tdrv-gc --alloc ID [--remove-alloc-dir]\n"
    "\n"
    "Reap what tdrv left behind: tasks whose supervisor is gone (their lease is free),\n"
    "exited tasks' leftovers, port leases of dead allocations, unused images. Prints a\n"
    "JSON report (found, removed, kept with reasons, errors). Never touches a container\n"
    "without tdrv's labels, a task whose lease is held or younger than the grace.\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run           report what would be removed; change nothing\n"
    "      --live              read the allocations still alive (a JSON array of ids) from\n"
    "                          stdin: any other allocation is over, lease or not\n"
    "      --alloc ID          only this allocation, which is over (a scheduler's epilog)\n"
    "      --remove-alloc-dir  also remove reaped allocations' directories (logs, results)\n"
    "      --[no-]images       remove unused images, or not (default: gc.image)\n"
    "      --[no-]containers   remove exited tasks' leftovers, or not (gc.container)\n"
    "      --backend B         oci, docker or all (default all)\n"
    "      --watch[=PERIOD]    a pass every PERIOD (gc.dangling_containers.period), until\n"
    "                          SIGTERM: one JSON line each\n"
    "  -v, --verbose           more messages on stderr (repeatable)\n"
    "  -q, --quiet             errors only\n"
    "      --log-format FMT    text (default) or json\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Environment: TDRV_ROOT (default /var/lib/tdrv), TDRV_RUN (default /run/tdrv),\n"
    "TDRV_CONFIG (default /etc/tdrv/config.yaml), DOCKER_HOST. Test only:\n"
    "TDRV_GC_NOW (+DURATION or Unix seconds), TDRV_GC_CRASH_AT (points, see docs).\n"
    "\n"
    "Exit status:\n"
    "  0 ok (the report says what was kept and why), 64 usage, 65 bad --live document,\n"
    "  69 Docker Engine unavailable (--backend docker), 71 OS error, 74 I/O error on\n"
    "  output, 75 some items could not be reaped (the report lists them; retry),\n"
    "  78 bad configuration\n";

static const struct tdrv_tool tool = {.name = "tdrv-gc", .usage = usage};

struct cli_opts {
    struct tdrv_gc_opts gc;
    int live;
    int watch;
    const char *period;
};

enum {
    OPT_LIVE = TDRV_OPT_TOOL_BASE,
    OPT_ALLOC,
    OPT_REMOVE_ALLOC_DIR,
    OPT_IMAGES,
    OPT_NO_IMAGES,
    OPT_CONTAINERS,
    OPT_NO_CONTAINERS,
    OPT_BACKEND,
    OPT_WATCH,
};

static int parse_opts(int argc, char **argv, struct cli_opts *o, struct tdrv_err *err)
{
    static const struct option longopts[] = {
        TDRV_STD_LONGOPTS,
        {"dry-run", no_argument, NULL, 'n'},
        {"live", no_argument, NULL, OPT_LIVE},
        {"alloc", required_argument, NULL, OPT_ALLOC},
        {"remove-alloc-dir", no_argument, NULL, OPT_REMOVE_ALLOC_DIR},
        {"images", no_argument, NULL, OPT_IMAGES},
        {"no-images", no_argument, NULL, OPT_NO_IMAGES},
        {"containers", no_argument, NULL, OPT_CONTAINERS},
        {"no-containers", no_argument, NULL, OPT_NO_CONTAINERS},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"watch", optional_argument, NULL, OPT_WATCH},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->gc.images = -1;
    o->gc.containers = -1;
    tdrv_cli_init(&tool);
    while ((c = getopt_long(argc, argv, TDRV_STD_OPTSTRING "n", longopts, NULL)) != -1) {
        if (c == 'n')
            o->gc.dry_run = 1;
        else if (c == OPT_LIVE)
            o->live = 1;
        else if (c == OPT_ALLOC)
            o->gc.alloc_id = optarg;
        else if (c == OPT_REMOVE_ALLOC_DIR)
            o->gc.remove_alloc_dir = 1;
        else if (c == OPT_IMAGES || c == OPT_NO_IMAGES)
            o->gc.images = c == OPT_IMAGES;
        else if (c == OPT_CONTAINERS || c == OPT_NO_CONTAINERS)
            o->gc.containers = c == OPT_CONTAINERS;
        else if (c == OPT_BACKEND) {
            if (tdrv_gc_backend_parse(optarg, &o->gc.backends, err) < 0)
                return -1;
        } else if (c == OPT_WATCH) {
            o->watch = 1;
            o->period = optarg;
        } else if (tdrv_cli_std(&tool, c, argv, err) < 0)
            return -1;
    }
    if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    return tdrv_gc_opts_check(&o->gc, o->live, o->watch, o->period, err);
}

int main(int argc, char **argv)
{
    struct tdrv_err err = {0};
    struct cli_opts opt = {0};
    cleanup_config struct tdrv_config cfg;
    cleanup_json cJSON *req = NULL;
    cleanup_json cJSON *res = NULL;
    int rc;

    tdrv_config_init(&cfg);
    rc = parse_opts(argc, argv, &opt, &err);
    if (rc == 0)
        rc = tdrv_config_load(&cfg, NULL, &err);
    if (rc == 0 && opt.live)
        rc = tdrv_doc_read_fd(STDIN_FILENO, TDRV_MAX_REQUEST, &req, &err);
    if (rc == 0 && opt.live)
        rc = tdrv_gc_live_parse(req, &opt.gc.live, &err);
    if (rc == 0 && opt.watch) {
        if (!opt.gc.watch_ns)
            opt.gc.watch_ns = cfg.gc_dangling_period_ns;
        return tdrv_finish(&tool, tdrv_gc_watch(&opt.gc, &cfg, &err), NULL, &err);
    }
    if (rc == 0)
        rc = tdrv_gc_run(&opt.gc, &cfg, &res, &err);
    return tdrv_finish(&tool, rc, res, &err);
}
