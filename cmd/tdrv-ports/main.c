/* tdrv-ports: host ports for a task, from a ledger that never hands one out twice. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "json.h"
#include "mem.h"
#include "ports.h"
#include "task.h"

static const char usage[] =
    "usage: tdrv-ports [options] < task.json\n"
    "       tdrv-ports --release [--alloc ID | < task.json]\n"
    "       tdrv-ports --list [--alloc ID]\n"
    "\n"
    "Allocate the host ports a task's network.ports ask for (static, or dynamic from the\n"
    "operator's range), record them in the ledger under $TDRV_ROOT/ports, and add `ports`\n"
    "and NOMAD_PORT_/NOMAD_HOST_PORT_/NOMAD_IP_/NOMAD_ADDR_<label> to the document.\n"
    "\n"
    "Options:\n"
    "      --task GROUP/TASK   the task of a Nomad job document ({\"Job\": ...})\n"
    "      --release           give an allocation's ports back (the document's alloc_id)\n"
    "      --alloc ID          the allocation to release or list, instead of a document\n"
    "      --list              print the ledger as JSON\n"
    "  -v, --verbose           more messages on stderr (repeatable)\n"
    "  -q, --quiet             errors only\n"
    "      --log-format FMT    text (default) or json\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Environment: TDRV_ROOT (default /var/lib/tdrv), TDRV_CONFIG (default\n"
    "/etc/tdrv/config.yaml: ports.min, ports.max, ports.reserved, host_ip).\n"
    "\n"
    "Exit status:\n"
    "  0 ok, 64 usage, 65 bad input (document, network.ports, port_map),\n"
    "  70 internal error (corrupt ledger), 71 ledger I/O failed, 74 I/O error on output,\n"
    "  75 temporary failure, retry (port_conflict, ports_exhausted, lock_busy),\n"
    "  77 permission denied (port_reserved by the operator), 78 bad configuration\n";

static const struct tdrv_tool tool = {.name = "tdrv-ports", .usage = usage};

struct cli_opts {
    struct tdrv_ports_opts ports;
    const char *select;
};

enum {
    OPT_TASK = TDRV_OPT_TOOL_BASE,
    OPT_RELEASE,
    OPT_ALLOC,
    OPT_LIST,
};

static int parse_opts(int argc, char **argv, struct cli_opts *o, struct tdrv_err *err)
{
    static const struct option longopts[] = {
        TDRV_STD_LONGOPTS,
        {"task", required_argument, NULL, OPT_TASK},
        {"release", no_argument, NULL, OPT_RELEASE},
        {"alloc", required_argument, NULL, OPT_ALLOC},
        {"list", no_argument, NULL, OPT_LIST},
        {NULL, 0, NULL, 0},
    };
    int c;
    int release = 0;
    int list = 0;

    tdrv_cli_init(&tool);
    while ((c = getopt_long(argc, argv, TDRV_STD_OPTSTRING, longopts, NULL)) != -1) {
        if (c == OPT_TASK)
            o->select = optarg;
        else if (c == OPT_RELEASE)
            release = 1;
        else if (c == OPT_ALLOC)
            o->ports.alloc_id = optarg;
        else if (c == OPT_LIST)
            list = 1;
        else if (tdrv_cli_std(&tool, c, argv, err) < 0)
            return -1;
    }
    if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    if (release && list)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--release and --list cannot be used together");
    if (o->ports.alloc_id && !release && !list)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--alloc needs --release or --list");
    if (o->ports.alloc_id && !o->ports.alloc_id[0])
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--alloc needs an allocation id");
    o->ports.mode = list ? TDRV_PORTS_LIST : release ? TDRV_PORTS_RELEASE : TDRV_PORTS_ALLOCATE;
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
    if (rc == 0 && opt.ports.mode != TDRV_PORTS_LIST && !opt.ports.alloc_id)
        rc = tdrv_task_read(STDIN_FILENO, opt.select, &req, &err);
    if (rc == 0)
        rc = tdrv_ports_run(&opt.ports, &cfg, &req, &res, &err);
    return tdrv_finish(&tool, rc, res ? res : req, &err);
}
