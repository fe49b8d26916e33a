#ifndef TDRV_CLI_H
#define TDRV_CLI_H

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdint.h>

#include "err.h"

#define TDRV_VERSION "0.1.0"

struct tdrv_tool {
    const char *name;
    const char *usage;
};

enum {
    TDRV_OPT_LOG_FORMAT = 0x1000,
    TDRV_OPT_TOOL_BASE = 0x1100, /* tools number their own long-only options from here */
};

/* Every tool's standard options; its optstring starts with "+:hVvq". */
#define TDRV_STD_OPTSTRING "+:hVvq"
#define TDRV_STD_LONGOPTS                                                                          \
    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},                         \
        {"verbose", no_argument, NULL, 'v'}, {"quiet", no_argument, NULL, 'q'},                    \
    {                                                                                              \
        "log-format", required_argument, NULL, TDRV_OPT_LOG_FORMAT                                 \
    }

/* Prepare a tool: logging, opterr = 0. */
void tdrv_cli_init(const struct tdrv_tool *tool);

/*
 * Handle a standard option, or the '?'/':' getopt_long returned. --help and --version
 * print to stdout and exit 0 here. Returns 0 when handled, -1 with a usage error (64).
 */
int tdrv_cli_std(const struct tdrv_tool *tool, int c, char **argv, struct tdrv_err *err);

/* Numbers from flags and documents: strtoull + endptr + range. */
int tdrv_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, struct tdrv_err *err);

/*
 * Finish a tool: on success emit `doc`; on failure emit `doc` (or {}) with an `error`
 * object and write one line to stderr (plus a "try --help" line for usage errors); a
 * pass-through error emits the document unchanged. Returns the exit status.
 */
int tdrv_finish(const struct tdrv_tool *tool, int rc, cJSON *doc, struct tdrv_err *err);

/* Build the error object of DESIGN §1. */
cJSON *tdrv_error_json(const char *tool, const struct tdrv_err *err);

#endif
