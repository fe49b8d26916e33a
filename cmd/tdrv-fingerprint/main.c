/* tdrv-fingerprint: what this host can run, as one JSON document (issue 9). */
#include <stdlib.h>

#include "cli.h"
#include "config.h"
#include "duration.h"
#include "fingerprint.h"
#include "json.h"
#include "mem.h"

static const char usage[] =
    "usage: tdrv-fingerprint [options]\n"
    "\n"
    "Print the host's attributes and the health of each driver (docker, rkt, oci,\n"
    "containerd) as one JSON document on stdout.\n"
    "\n"
    "options:\n"
    "  -c, --check EXPR       exit 0 when the constraint holds, 1 when not (repeatable, all\n"
    "                         must hold): '${attr.kernel.name} = linux',\n"
    "                         '${driver.docker.version} version >= 20.10, < 30'; operators\n"
    "                         = != > >= < <= version regexp is_set is_not_set\n"
    "                         set_contains set_contains_any\n"
    "  -w, --watch[=PERIOD]   print a new document (JSON Lines) whenever an attribute or a\n"
    "                         health changes, checking every PERIOD (default 30s)\n"
    "  -t, --timeout DURATION time allowed to each probe (default 2s)\n"
    "      --config FILE      the operator's file (default $TDRV_CONFIG, /etc/tdrv/config.yaml)\n"
    "  -v, --verbose          more messages on stderr (-vv: debug, with the HTTP trace)\n"
    "  -q, --quiet            errors only\n"
    "      --log-format FMT   text (default) or json\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Exit status:\n"
    "  0 ok (every --check holds), 1 a --check does not hold, 64 usage,\n"
    "  65 malformed --check expression, 70 internal error, 71 system call failed,\n"
    "  74 I/O error (stdout), 78 bad configuration\n";

static const struct tdrv_tool tool = {.name = "tdrv-fingerprint", .usage = usage};

enum { OPT_CONFIG = TDRV_OPT_TOOL_BASE };

struct fp_opts {
    const char **checks;
    size_t n_checks;
    int watch;
    long watch_ms;
    const char *config;
    struct tdrv_fp_opts probe;
};

static int parse_ms(const char *s, const char *what, long *out, struct tdrv_err *err)
{
    int64_t ns = 0;

    if (tdrv_duration_parse(s, &ns, err) < 0 || ns < 0) {
        tdrv_err_clear(err);
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "invalid duration '%s' for %s", s,
                             what);
    }
    *out = (long)(ns / 1000000);
    return 0;
}

static int parse_opts(int argc, char **argv, struct fp_opts *o, struct tdrv_err *err)
{
    static const struct option longopts[] = {
        TDRV_STD_LONGOPTS,
        {"check", required_argument, NULL, 'c'},
        {"watch", optional_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"config", required_argument, NULL, OPT_CONFIG},
        {NULL, 0, NULL, 0},
    };
    int c;

    tdrv_cli_init(&tool);
    o->checks = tdrv_xcalloc((size_t)argc + 1, sizeof(*o->checks));
    while ((c = getopt_long(argc, argv, TDRV_STD_OPTSTRING "c:w::t:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->checks[o->n_checks++] = optarg;
            break;
        case 'w':
            o->watch = 1;
            if (optarg && parse_ms(optarg, "--watch", &o->watch_ms, err) < 0)
                return -1;
            break;
        case 't':
            if (parse_ms(optarg, "--timeout", &o->probe.timeout_ms, err) < 0)
                return -1;
            break;
        case OPT_CONFIG:
            o->config = optarg;
            break;
        default:
            if (tdrv_cli_std(&tool, c, argv, err) < 0)
                return -1;
        }
    }
    if (optind < argc)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "unexpected argument '%s'",
                             argv[optind]);
    if (o->watch && o->n_checks)
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--watch and --check cannot be used together");
    return 0;
}

int main(int argc, char **argv)
{
    struct tdrv_err err = {0};
    struct fp_opts opt = {0};
    cleanup_config struct tdrv_config cfg;
    cleanup_json cJSON *res = NULL;
    int rc;

    tdrv_config_init(&cfg);
    rc = parse_opts(argc, argv, &opt, &err);
    if (rc == 0)
        rc = tdrv_config_load(&cfg, opt.config, &err);
    if (rc == 0 && opt.watch)
        rc = tdrv_fp_watch(&cfg, &opt.probe, opt.watch_ms, stdout, &err);
    else if (rc == 0)
        rc = tdrv_fingerprint(&cfg, &opt.probe, NULL, &res, &err);
    if (rc == 0 && res && opt.n_checks)
        rc = tdrv_fp_check_all(res, opt.checks, opt.n_checks, &err);
    free(opt.checks);
    if (opt.watch && rc == 0)
        return 0;
    return tdrv_finish(&tool, rc, res, &err);
}
