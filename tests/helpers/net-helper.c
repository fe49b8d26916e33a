/*
 * A test-only driver of common/net.c and common/cni.c (not installed; tests/bats/net.bats
 * compiles it against the build's libtdrv.a):
 *   net-helper teardown STATE_FILE      tdrv_net_teardown, as tdrv-gc calls it
 *   net-helper check STATE_FILE         CNI CHECK of a bridge task's network
 *   net-helper default-conflist         the network tdrv ships, as written when missing
 *   net-helper mode < task.json         the network mode a document asks for
 * Exit status: 0 ok, else the tdrv error's exit code; the error message on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cni.h"
#include "json.h"
#include "mem.h"
#include "net.h"

static int fail(const struct tdrv_err *err)
{
    fprintf(stderr, "net-helper: %s\n", err->msg);
    return err->code ? err->code : 70;
}

int main(int argc, char **argv)
{
    struct tdrv_err err = {0};
    const char *cmd = argc > 1 ? argv[1] : "";

    if (!strcmp(cmd, "teardown") && argc == 3)
        return tdrv_net_teardown(argv[2], &err) < 0 ? fail(&err) : 0;
    if (!strcmp(cmd, "check") && argc == 3) {
        cleanup_json cJSON *st = NULL;
        const cJSON *pm;
        struct tdrv_cni_rt rt = {0};

        if (tdrv_doc_read_file(argv[2], TDRV_MAX_REQUEST, &st, &err) < 0)
            return fail(&err);
        pm = tdrv_json_at(st, "port_mappings");
        rt.container_id = cJSON_GetStringValue(tdrv_json_at(st, "container_id"));
        rt.netns = cJSON_GetStringValue(tdrv_json_at(st, "netns"));
        rt.ifname = cJSON_GetStringValue(tdrv_json_at(st, "ifname"));
        rt.port_mappings = pm && pm->child ? pm : NULL;
        if (tdrv_cni_run(tdrv_json_at(st, "conflist"), TDRV_CNI_CHECK, &rt,
                         tdrv_json_at(st, "result"), NULL, &err) < 0)
            return fail(&err);
        return 0;
    }
    if (!strcmp(cmd, "default-conflist") && argc == 2) {
        cleanup_json cJSON *l = tdrv_cni_default_conflist(
            TDRV_CNI_DEFAULT_NAME, TDRV_CNI_DEFAULT_BRIDGE, TDRV_CNI_DEFAULT_SUBNET);

        return tdrv_json_emit(stdout, l, &err) < 0 ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "mode") && argc == 2) {
        cleanup_json cJSON *doc = NULL;
        struct tdrv_net_req req;

        if (tdrv_doc_read_fd(0, TDRV_MAX_REQUEST, &doc, &err) < 0 ||
            tdrv_net_mode(doc, &req, &err) < 0)
            return fail(&err);
        printf("%s %s\n", tdrv_net_mode_name(req.mode), req.network[0] ? req.network : "-");
        return 0;
    }
    fprintf(stderr, "usage: net-helper teardown|check STATE | default-conflist | mode < doc\n");
    return 64;
}
