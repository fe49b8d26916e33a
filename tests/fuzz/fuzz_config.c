/*
 * The operator's config file (tdrv_config_load on a file holding the input). Invariants:
 * a config that loads has every default filled in (runtime, datacenter, node name, lists,
 * meta), absolute root and run_dir, ports.min <= ports.max, and reserved ports that are
 * numbers in 1-65535 or "a-b" ranges with a < b, each of which tdrv_ports_is_reserved
 * reports; a refusal is exit 78 (invalid_config). The struct is released either way.
 */
#include "fuzz.h"

#include "config.h"
#include "mem.h"
#include "ports.h"

static char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    unsetenv("TDRV_CONFIG");
    unsetenv("TDRV_ROOT");
    unsetenv("TDRV_RUN");
    path = tdrv_xasprintf("%s/config.yaml", fuzz_scratch_dir());
    return 0;
}

static void check_reserved(const cJSON *reserved)
{
    FUZZ_ASSERT(cJSON_IsArray(reserved), "reserved_ports is not a list");
    for (const cJSON *c = reserved->child; c; c = c->next) {
        int a = 0;
        int b = 0;
        char tail = 0;

        if (cJSON_IsNumber(c)) {
            FUZZ_ASSERT(c->valuedouble >= 1 && c->valuedouble <= 65535, "reserved %g",
                        c->valuedouble);
            a = b = (int)c->valuedouble;
        } else {
            FUZZ_ASSERT(cJSON_IsString(c), "reserved item of type %d", c->type);
            FUZZ_ASSERT(sscanf(c->valuestring, "%d-%d%c", &a, &b, &tail) == 2,
                        "reserved range '%s'", c->valuestring);
            FUZZ_ASSERT(a >= 1 && a < b && b <= 65535, "reserved range '%s'", c->valuestring);
        }
        FUZZ_ASSERT(tdrv_ports_is_reserved(reserved, a) && tdrv_ports_is_reserved(reserved, b),
                    "%d-%d listed but not reported reserved", a, b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_config struct tdrv_config c;
    struct tdrv_err err = {0};
    int rc;

    tdrv_config_init(&c);
    fuzz_write_file(path, data, size);
    rc = tdrv_config_load(&c, path, &err);
    if (rc < 0) {
        FUZZ_ASSERT(rc == -1, "rc %d", rc);
        FUZZ_ASSERT(err.code == TDRV_E_CONFIG, "exit %d: %s", err.code, err.msg);
        FUZZ_ASSERT(!strcmp(err.word, "invalid_config"), "code %s", err.word);
        FUZZ_ASSERT(err.msg[0], "empty message");
        return 0;
    }
    FUZZ_ASSERT(rc == 0, "rc %d", rc);
    FUZZ_ASSERT(c.path && !strcmp(c.path, path), "path");
    FUZZ_ASSERT(c.runtime && c.datacenter && c.node_name, "defaults missing");
    FUZZ_ASSERT(c.root && c.root[0] == '/' && c.run_dir && c.run_dir[0] == '/', "root '%s'",
                c.root ? c.root : "(null)");
    FUZZ_ASSERT(cJSON_IsArray(c.allow_caps) && cJSON_IsArray(c.allow_runtimes), "lists");
    FUZZ_ASSERT(cJSON_IsObject(c.meta), "meta");
    FUZZ_ASSERT(c.port_min >= 1 && c.port_min <= c.port_max, "ports %u-%u", c.port_min, c.port_max);
    FUZZ_ASSERT(c.pull_activity_timeout_ns > 0 && c.gc_image_delay_ns >= 0, "durations");
    check_reserved(c.reserved_ports);
    for (const cJSON *m = c.meta->child; m; m = m->next)
        FUZZ_ASSERT(cJSON_IsString(m), "meta.%s is not a string", m->string);
    return 0;
}
