/* tdrv-gc: reap dangling tasks, unused images and stale leases, never what is not tdrv's. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "duration.h"
#include "gc.h"
#include "json.h"
#include "mem.h"

static const char usage[] =
    "usage: tdrv-gc [options]\n"
    "       tdrv-gc --live [options] < live-allocs.json\n"
    "       tdrv-gc --alloc ID [--remove-alloc-dir]\n"
    "\n"
    "Find what tdrv left behind on this host and remove it: tasks whose supervisor is\n"
    "gone (nobody holds their lease), exited tasks' containers and runtime state, port\n"
    "leases of dead allocations, images unused for gc.image_delay. Prints a JSON report:\n"
    "found, removed, kept (with reasons), errors. Never touches a container without\n"
    "tdrv's labels, anything outside $TDRV_ROOT and $TDRV_RUN, or a task whose lease is\n"
    "held, nor a task younger than gc.dangling_containers.creation_grace.\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run           report what would be removed; change nothing\n"
    "      --live              read the allocations still alive (a JSON array of ids) from\n"
    "                          stdin: any other allocation is over, lease or not\n"
    "      --alloc ID          only this allocation, which is over (a scheduler's epilog)\n"
    "      --remove-alloc-dir  also remove reaped allocations' directories (logs, results)\n"
    "      --images            remove unused images (default: gc.image)\n"
    "      --no-images         leave images alone\n"
    "      --containers        remove exited tasks' containers and state (gc.container)\n"
    "      --no-containers     keep exited tasks' containers and state\n"
    "      --backend B         oci, docker or all (default all)\n"
    "      --watch [PERIOD]    a pass every PERIOD (default gc.dangling_containers.period),\n"
    "                          one JSON line each, until SIGTERM\n"
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
        else if (c == OPT_BACKEND && !strcmp(optarg, "oci"))
            o->gc.backends = TDRV_GC_OCI;
        else if (c == OPT_BACKEND && !strcmp(optarg, "docker"))
            o->gc.backends = TDRV_GC_DOCKER;
        else if (c == OPT_BACKEND && !strcmp(optarg, "all"))
            o->gc.backends = TDRV_GC_ALL;
        else if (c == OPT_BACKEND)
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                 "--backend: expected oci, docker or all, got '%s'", optarg);
        else if (c == OPT_WATCH)
            o->watch = 1, o->period = optarg;
        else if (tdrv_cli_std(&tool, c, argv, err) < 0)
            return -1;
    }
    if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    if (o->gc.alloc_id && !o->gc.alloc_id[0])
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--alloc needs an allocation id");
    if (o->gc.alloc_id && o->live)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--alloc and --live cannot be used together");
    if (o->watch && (o->live || o->gc.alloc_id))
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--watch cannot be used with --live or --alloc");
    if (o->period && (tdrv_duration_parse(o->period, &o->gc.watch_ns, err) < 0 ||
                      o->gc.watch_ns < 1000000000LL)) {
        tdrv_err_clear(err);
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--watch: expected a period of at least 1s, got '%s'", o->period);
    }
    return 0;
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
