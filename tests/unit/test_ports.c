/* Port parsing (port_map values, reserved lists), host addresses, and the ledger round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "mem.h"
#include "ports.h"
#include "tap.h"

void test_ports(void);

static const struct {
    const char *json;
    int code;
    int port;
    const char *proto;
    const char *msg;
} map_cases[] = {
    {"8080", 0, 8080, "tcp", NULL},
    {"\"8080\"", 0, 8080, "tcp", NULL},
    {"\"6379-tcp\"", 0, 6379, "tcp", NULL},
    {"\"53-udp\"", 0, 53, "udp", NULL},
    {"0", 65, 0, NULL, "request.config.port_map.x: expected a port number (1-65535)"},
    {"65536", 65, 0, NULL, "request.config.port_map.x: expected a port number (1-65535)"},
    {"80.5", 65, 0, NULL, "request.config.port_map.x: expected a port number (1-65535)"},
    {"\"80-sctp\"", 65, 0, NULL,
     "request.config.port_map.x: invalid port '80-sctp' (expected a number, or <port>-tcp or "
     "<port>-udp)"},
    {"\"http\"", 65, 0, NULL,
     "request.config.port_map.x: invalid port 'http' (expected a number, or <port>-tcp or "
     "<port>-udp)"},
    {"\"70000-tcp\"", 65, 0, NULL,
     "request.config.port_map.x: invalid port '70000-tcp' (expected a number, or <port>-tcp or "
     "<port>-udp)"},
    {"true", 65, 0, NULL,
     "request.config.port_map.x: expected a port number or a port name such as \"8080-tcp\""},
};

static void map_values(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(map_cases); i++) {
        struct tdrv_err err = {0};
        cJSON *v = cJSON_Parse(map_cases[i].json);
        int port = 0;
        char proto[4] = "";
        int rc = tdrv_ports_parse_map_value(v, "config.port_map.x", &port, proto, &err);

        if (map_cases[i].code == 0) {
            ok(rc == 0, "port_map value %s parses (%s)", map_cases[i].json, err.msg);
            CHECK_INT(port, map_cases[i].port, "port_map value %s port", map_cases[i].json);
            CHECK_STR(proto, map_cases[i].proto, "port_map value %s protocol", map_cases[i].json);
        } else {
            CHECK_INT(err.code, map_cases[i].code, "port_map value %s refused", map_cases[i].json);
            CHECK_STR(err.msg, map_cases[i].msg, "port_map value %s message", map_cases[i].json);
        }
        cJSON_Delete(v);
    }
}

static void reserved(void)
{
    cJSON *r = cJSON_Parse("[22, \"8000-8100\", 30000]");

    ok(tdrv_ports_is_reserved(r, 22), "22 reserved");
    ok(!tdrv_ports_is_reserved(r, 23), "23 not reserved");
    ok(tdrv_ports_is_reserved(r, 8000) && tdrv_ports_is_reserved(r, 8050) &&
           tdrv_ports_is_reserved(r, 8100),
       "range ends and middle reserved");
    ok(!tdrv_ports_is_reserved(r, 7999) && !tdrv_ports_is_reserved(r, 8101),
       "around the range not reserved");
    ok(!tdrv_ports_is_reserved(NULL, 22), "no list reserves nothing");
    cJSON_Delete(r);
}

static void host_addresses(void)
{
    char ip[64] = "";
    struct tdrv_err err = {0};

    ok(tdrv_ports_is_host_ip("127.0.0.1"), "127.0.0.1 is a host address");
    ok(!tdrv_ports_is_host_ip("192.0.2.77"), "192.0.2.77 (TEST-NET-1) is not");
    ok(!tdrv_ports_is_host_ip("not-an-ip"), "a name is not an address");
    ok(tdrv_ports_default_ip(ip, sizeof(ip), &err) == 0 && tdrv_ports_is_host_ip(ip),
       "the default IP (%s) is a host address", ip);
}

static cJSON *alloc_doc(const char *alloc_id, const char *ports)
{
    char *s = tdrv_xasprintf("{\"alloc_id\":\"%s\",\"group\":\"g\",\"task\":\"t\","
                             "\"network\":{\"ports\":%s}}",
                             alloc_id, ports);
    cJSON *d = cJSON_Parse(s);

    free(s);
    return d;
}

static void ledger(void)
{
    char tmpl[] = "/tmp/tdrv-test-ports-XXXXXX";
    struct tdrv_config cfg;
    struct tdrv_err err = {0};
    cJSON *a = NULL;
    cJSON *b = NULL;
    cJSON *list = NULL;
    cJSON *rel = NULL;
    char *s;

    if (!mkdtemp(tmpl)) {
        ok(0, "mkdtemp");
        return;
    }
    tdrv_config_init(&cfg);
    cfg.root = tdrv_xstrdup(tmpl);
    cfg.host_ip = tdrv_xstrdup("127.0.0.1");
    cfg.port_min = 47000;
    cfg.port_max = 47999;
    cfg.reserved_ports = cJSON_Parse("[\"47000-47997\"]");

    a = alloc_doc("a1", "[{\"label\":\"x\"},{\"label\":\"s\",\"static\":47998,\"to\":80}]");
    ok(tdrv_ports_allocate(a, &cfg, &err) == 0, "allocate a1 (%s)", err.msg);
    s = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "ports"));
    CHECK_STR(s,
              "[{\"label\":\"x\",\"value\":47999,\"to\":47999,\"host_ip\":\"127.0.0.1\"},"
              "{\"label\":\"s\",\"value\":47998,\"to\":80,\"host_ip\":\"127.0.0.1\"}]",
              "a1 gets the one free dynamic port and its static port");
    cJSON_free(s);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "env"), "NOMAD_PORT_s")->valuestring, "80",
              "NOMAD_PORT_ is the container side");

    b = alloc_doc("a2", "[{\"label\":\"x\"}]");
    tdrv_err_clear(&err);
    ok(tdrv_ports_allocate(b, &cfg, &err) < 0, "a2 finds no port");
    CHECK_STR(err.word, "ports_exhausted", "a2 exhausted word");
    CHECK_INT(err.code, 75, "a2 exhausted status");
    cJSON_Delete(b);

    b = alloc_doc("a2", "[{\"label\":\"y\",\"static\":47998}]");
    tdrv_err_clear(&err);
    ok(tdrv_ports_allocate(b, &cfg, &err) < 0, "a2 static conflict");
    CHECK_STR(err.msg, "port 47998 ('y') is already leased to alloc a1 (g/t, label 's')",
              "a2 conflict names the holder");
    cJSON_Delete(b);

    tdrv_err_clear(&err);
    ok(tdrv_ports_list(&cfg, NULL, &list, &err) == 0, "list");
    CHECK_INT(cJSON_GetObjectItem(list, "count")->valueint, 2, "two leases");
    cJSON_Delete(list);

    ok(tdrv_ports_release(&cfg, "a1", &rel, &err) == 0, "release a1");
    CHECK_INT(cJSON_GetArraySize(rel), 2, "two leases released");
    cJSON_Delete(rel);

    b = alloc_doc("a2", "[{\"label\":\"x\"}]");
    ok(tdrv_ports_allocate(b, &cfg, &err) == 0, "a2 allocates after the release (%s)", err.msg);
    cJSON_Delete(b);

    cJSON_Delete(a);
    {
        char *p1 = tdrv_xasprintf("%s/ports/ledger", tmpl);
        char *p2 = tdrv_xasprintf("%s/ports/lock", tmpl);
        char *p3 = tdrv_xasprintf("%s/ports/ledger.tmp", tmpl);
        char *p4 = tdrv_xasprintf("%s/ports", tmpl);

        unlink(p1);
        unlink(p2);
        unlink(p3);
        rmdir(p4);
        rmdir(tmpl);
        free(p1);
        free(p2);
        free(p3);
        free(p4);
    }
    tdrv_config_release(&cfg);
}

void test_ports(void)
{
    map_values();
    reserved();
    host_addresses();
    ledger();
}
