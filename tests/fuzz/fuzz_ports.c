/*
 * The port ledger (<root>/ports/ledger, read by tdrv_ports_list and rewritten by
 * tdrv_ports_release) and port_map values (tdrv_ports_parse_map_value). The input is the
 * ledger's text. Invariants: a ledger that reads lists leases with ports in 1-65535 and a
 * count that matches; a refusal is exit 70 (ledger_corrupt); releasing the first lease's
 * allocation rewrites the ledger so that it reads back as the same leases less the ones
 * released, in order. The input's first line as a port_map string gives a port in
 * 1-65535 and "tcp" or "udp", or exit 65.
 */
#include "fuzz.h"

#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "mem.h"
#include "ports.h"

static struct tdrv_config cfg;
static char *ledger;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir;

    (void)argc;
    (void)argv;
    tdrv_config_init(&cfg);
    cfg.root = tdrv_xstrdup(fuzz_scratch_dir());
    dir = tdrv_xasprintf("%s/ports", cfg.root);
    if (mkdir(dir, 0755) < 0)
        abort();
    free(dir);
    ledger = tdrv_xasprintf("%s/ports/ledger", cfg.root);
    return 0;
}

static cJSON *list(const char *what)
{
    cJSON *out = NULL;
    struct tdrv_err err = {0};
    const cJSON *leases;
    int n = 0;

    if (tdrv_ports_list(&cfg, NULL, &out, &err) < 0) {
        FUZZ_ASSERT(out == NULL, "%s: refusal left a result", what);
        FUZZ_ASSERT(err.code == TDRV_E_SOFTWARE && !strcmp(err.word, "ledger_corrupt"),
                    "%s: exit %d (%s): %s", what, err.code, err.word, err.msg);
        return NULL;
    }
    leases = cJSON_GetObjectItemCaseSensitive(out, "leases");
    FUZZ_ASSERT(cJSON_IsArray(leases), "%s: no leases", what);
    for (const cJSON *l = leases->child; l; l = l->next, n++) {
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(l, "port");

        FUZZ_ASSERT(cJSON_IsNumber(port) && port->valuedouble >= 1 && port->valuedouble <= 65535,
                    "%s: lease %d port", what, n);
        FUZZ_ASSERT(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "alloc_id")),
                    "%s: lease %d alloc_id", what, n);
    }
    FUZZ_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(out, "count")) == n,
                "%s: count", what);
    return out;
}

static void release_first(const cJSON *before)
{
    const cJSON *leases = cJSON_GetObjectItemCaseSensitive(before, "leases");
    const char *alloc = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(leases ? leases->child : NULL, "alloc_id"));
    cleanup_json cJSON *released = NULL;
    cleanup_json cJSON *after = NULL;
    struct tdrv_err err = {0};
    const cJSON *kept;
    const cJSON *r;
    const cJSON *k;

    if (!alloc)
        return;
    FUZZ_ASSERT(tdrv_ports_release(&cfg, alloc, &released, &err) == 0, "release '%s': %s", alloc,
                err.msg);
    after = list("after release");
    FUZZ_ASSERT(after != NULL, "the rewritten ledger does not read back");
    kept = cJSON_GetObjectItemCaseSensitive(after, "leases");
    r = released->child;
    k = kept->child;
    for (const cJSON *l = leases->child; l; l = l->next) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "alloc_id"));
        const cJSON **side = !strcmp(id, alloc) ? &r : &k;

        FUZZ_ASSERT(*side && cJSON_Compare(l, *side, 1), "lease of '%s' changed on rewrite", id);
        *side = (*side)->next;
    }
    FUZZ_ASSERT(!r && !k, "extra leases after the rewrite");
}

static void map_value(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    cleanup_free char *s = fuzz_cstr(data, nl ? (size_t)(nl - data) : size);
    cleanup_json cJSON *v = tdrv_json_xstr(s);
    struct tdrv_err err = {0};
    char proto[4] = "";
    int port = 0;

    if (tdrv_ports_parse_map_value(v, "config.port_map.x", &port, proto, &err) < 0) {
        FUZZ_ASSERT(err.code == TDRV_E_DATA, "port_map '%s': exit %d", s, err.code);
        return;
    }
    FUZZ_ASSERT(port >= 1 && port <= 65535, "port_map '%s' gives %d", s, port);
    FUZZ_ASSERT(!strcmp(proto, "tcp") || !strcmp(proto, "udp"), "port_map '%s' gives '%s'", s,
                proto);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_json cJSON *before = NULL;

    fuzz_write_file(ledger, data, size);
    before = list("ledger");
    if (before)
        release_first(before);
    map_value(data, size);
    return 0;
}
