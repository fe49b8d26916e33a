/* Network modes, port mappings, CNI conflists and the plugin runner (a fake plugin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni.h"
#include "config.h"
#include "json.h"
#include "mem.h"
#include "net.h"
#include "tap.h"

void test_net(void);

static const struct {
    const char *doc;
    const char *want; /* "mode network", or NULL for an error */
    const char *msg;  /* the error message */
} mode_cases[] = {
    {"{}", "host -", NULL},
    {"{\"ports\":[{\"label\":\"a\",\"value\":1}]}", "bridge -", NULL},
    {"{\"network\":{\"ports\":[{\"label\":\"a\"}]}}", "bridge -", NULL},
    {"{\"network\":{\"mode\":\"group\"}}", "group -", NULL},
    {"{\"network\":{\"mode\":\"none\"}}", "none -", NULL},
    {"{\"network\":{\"mode\":\"cni/mynet\"}}", "bridge mynet", NULL},
    {"{\"network\":{\"mode\":\"weird\"}}", NULL,
     "request.network.mode: 'weird' is not supported (host, none, bridge, group, cni/<name>)"},
    {"{\"config\":{\"network_mode\":\"host\"},\"ports\":[{\"label\":\"a\",\"value\":1}]}", "host -",
     NULL},
    {"{\"config\":{\"network_mode\":\"default\"}}", "bridge -", NULL},
    {"{\"config\":{\"network_mode\":\"opnet\"}}", "bridge opnet", NULL},
    {"{\"config\":{\"network_mode\":\"container:x\"}}", NULL,
     "config.network_mode: 'container:x' is not supported"},
    {"{\"config\":{\"host_network\":true}}", "host -", NULL},
    {"{\"config\":{\"host_network\":true},\"network\":{\"mode\":\"bridge\"}}", NULL,
     "config.host_network: host_network and bridge network mode are mutually exclusive"},
    {"{\"config\":{\"net\":[\"host\"]}}", "host -", NULL},
    {"{\"config\":{\"net\":[\"none\"]}}", "none -", NULL},
    {"{\"config\":{\"net\":[\"default\"]}}", "bridge -", NULL},
    {"{\"config\":{\"net\":[\"n1\"]}}", "bridge n1", NULL},
    {"{\"config\":{\"net\":[\"n1\",\"n2\"]}}", NULL,
     "config.net: more than one network ('n1', 'n2') is not supported"},
    {"{\"config\":{\"net\":[\"n1:IP=10.1.1.1\"]}}", NULL,
     "config.net: network arguments are not supported ('n1:IP=10.1.1.1')"},
    {"{\"config\":{\"net\":\"host\"}}", NULL, "config: request.net: expected array"},
};

static void test_modes(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(mode_cases); i++) {
        cleanup_json cJSON *doc = cJSON_Parse(mode_cases[i].doc);
        struct tdrv_net_req r;
        struct tdrv_err err = {0};
        char got[300];
        int rc = tdrv_net_mode(doc, &r, &err);

        if (mode_cases[i].want) {
            snprintf(got, sizeof(got), "%s %s", tdrv_net_mode_name(r.mode),
                     r.network[0] ? r.network : "-");
            CHECK_STR(rc == 0 ? got : err.msg, mode_cases[i].want, "mode of %s", mode_cases[i].doc);
        } else {
            CHECK_INT(rc, -1, "mode of %s fails", mode_cases[i].doc);
            CHECK_INT(err.code, 65, "... with 65");
            if (!strncmp(mode_cases[i].msg, "config: request.net", 19))
                ok(strstr(err.msg, "expected array") != NULL, "... %s", err.msg);
            else
                CHECK_STR(err.msg, mode_cases[i].msg, "... naming the option");
        }
    }
}

static void test_mappings(void)
{
    struct {
        const char *doc;
        const char *want;
    } cases[] = {
        {"{\"ports\":[{\"label\":\"http\",\"value\":20001,\"to\":80}]}",
         "[{\"hostPort\":20001,\"containerPort\":80,\"protocol\":\"tcp\"},"
         "{\"hostPort\":20001,\"containerPort\":80,\"protocol\":\"udp\"}]"},
        {"{\"ports\":[{\"label\":\"x\",\"value\":20002,\"to\":0}]}",
         "[{\"hostPort\":20002,\"containerPort\":20002,\"protocol\":\"tcp\"},"
         "{\"hostPort\":20002,\"containerPort\":20002,\"protocol\":\"udp\"}]"},
        {"{\"driver\":\"rkt\",\"config\":{\"port_map\":{\"dns\":\"53-udp\"}},"
         "\"ports\":[{\"label\":\"dns\",\"value\":20003,\"to\":53}]}",
         "[{\"hostPort\":20003,\"containerPort\":53,\"protocol\":\"udp\"}]"},
        {"{\"driver\":\"rkt\",\"config\":{\"port_map\":[{\"web\":\"8080-tcp\"}]},"
         "\"ports\":[{\"label\":\"web\",\"value\":20004,\"to\":8080}]}",
         "[{\"hostPort\":20004,\"containerPort\":8080,\"protocol\":\"tcp\"}]"},
        {"{}", "[]"},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        cleanup_json cJSON *doc = cJSON_Parse(cases[i].doc);
        cleanup_json cJSON *m = NULL;
        cleanup_free char *s = NULL;
        struct tdrv_err err = {0};

        if (tdrv_net_port_mappings(doc, &m, &err) == 0)
            s = cJSON_PrintUnformatted(m);
        CHECK_STR(s ? s : err.msg, cases[i].want, "port mappings of %s", cases[i].doc);
    }
    {
        cleanup_json cJSON *doc = cJSON_Parse("{\"ports\":[{\"label\":\"a\",\"value\":0}]}");
        cleanup_json cJSON *m = NULL;
        struct tdrv_err err = {0};

        CHECK_INT(tdrv_net_port_mappings(doc, &m, &err), -1, "a port without a host value");
        CHECK_INT(err.code, 65, "... is 65");
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A fake plugin: logs its CNI_COMMAND and stdin, answers with a result naming its type. */
static const char fake_plugin[] =
    "#!/bin/sh\n"
    "in=$(cat)\n"
    "echo \"$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME $in\" >>\"$(dirname \"$0\")/log\"\n"
    "case \"$in\" in *'\"fail\":true'*) "
    "echo '{\"code\":7,\"msg\":\"it failed\",\"details\":\"on purpose\"}'; exit 1;; esac\n"
    "[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":"
    "\"10.9.9.9/24\"}],\"by\":\"'$(basename \"$0\")'\"}'\n"
    "exit 0\n";

static void test_cni(void)
{
    char dir[] = "/tmp/tdrv-unit-cni.XXXXXX";
    struct tdrv_config cfg;
    struct tdrv_err err = {0};
    cleanup_free char *conf = NULL;
    cleanup_free char *bin = NULL;
    cleanup_free char *logp = NULL;
    cleanup_free char *log = NULL;
    cleanup_json cJSON *list = NULL;
    cleanup_json cJSON *res = NULL;
    struct tdrv_cni_rt rt = {.container_id = "c1", .netns = "/nonexistent", .ifname = "eth0"};
    cleanup_json cJSON *pm = cJSON_Parse("[{\"hostPort\":1,\"containerPort\":2,"
                                         "\"protocol\":\"tcp\"}]");

    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp");
        return;
    }
    conf = tdrv_xasprintf("%s/conf", dir);
    bin = tdrv_xasprintf("%s/bin", dir);
    logp = tdrv_xasprintf("%s/bin/log", dir);
    mkdir(conf, 0755);
    mkdir(bin, 0755);
    for (const char *const *t = (const char *const[]){"fa", "fb", NULL}; *t; t++) {
        cleanup_free char *p = tdrv_xasprintf("%s/%s", bin, *t);

        write_file(p, fake_plugin);
        chmod(p, 0755);
    }
    {
        cleanup_free char *p = tdrv_xasprintf("%s/10-two.conflist", conf);
        cleanup_free char *q = tdrv_xasprintf("%s/20-one.conf", conf);
        cleanup_free char *r = tdrv_xasprintf("%s/30-bad.conflist", conf);

        write_file(p, "{\"cniVersion\":\"1.0.0\",\"name\":\"two\",\"plugins\":[{\"type\":\"fa\"},"
                      "{\"type\":\"fb\",\"capabilities\":{\"portMappings\":true}}]}");
        write_file(q, "{\"cniVersion\":\"0.4.0\",\"name\":\"one\",\"type\":\"fa\",\"x\":1}");
        write_file(r, "{\"cniVersion\":\"1.0.0\",\"name\":\"bad\",\"plugins\":[]}");
    }
    setenv("TDRV_CNI_CONF_DIR", conf, 1);
    setenv("TDRV_CNI_PATH", bin, 1);
    tdrv_config_init(&cfg);
    free(cfg.root);
    cfg.root = tdrv_xstrdup(dir);

    CHECK_INT(tdrv_cni_load(&cfg, "one", &list, &err), 0, "a .conf loads by name");
    {
        cleanup_free char *s = cJSON_PrintUnformatted(list);

        CHECK_STR(s,
                  "{\"cniVersion\":\"0.4.0\",\"name\":\"one\",\"plugins\":[{\"type\":\"fa\","
                  "\"x\":1}]}",
                  "... as a list of one");
    }
    cJSON_Delete(list);
    list = NULL;
    CHECK_INT(tdrv_cni_load(&cfg, "nope", &list, &err), -1, "an unknown network");
    CHECK_INT(err.code, 66, "... is 66");
    ok(strstr(err.word, "network_not_found") != NULL, "... network_not_found");
    tdrv_err_clear(&err);
    CHECK_INT(tdrv_cni_load(&cfg, "bad", &list, &err), -1, "an empty plugin list");
    CHECK_INT(err.code, 78, "... is 78");
    tdrv_err_clear(&err);
    CHECK_INT(tdrv_cni_load(&cfg, "bridge", &list, &err), 0, "the default network");
    {
        cleanup_free char *p = tdrv_xasprintf("%s/cni/tdrv.conflist", dir);

        ok(access(p, F_OK) == 0, "... is written to <root>/cni/tdrv.conflist");
        CHECK_STR(cJSON_GetStringValue(tdrv_json_at(list, "name")), "tdrv", "... named tdrv");
    }
    cJSON_Delete(list);
    list = NULL;

    CHECK_INT(tdrv_cni_load(&cfg, "two", &list, &err), 0, "a conflist loads by name");
    rt.port_mappings = pm;
    CHECK_INT(tdrv_cni_run(list, TDRV_CNI_ADD, &rt, NULL, &res, &err), 0, "ADD runs the chain");
    CHECK_STR(cJSON_GetStringValue(tdrv_json_at(res, "by")), "fb", "... the result is the last's");
    CHECK_INT(tdrv_cni_run(list, TDRV_CNI_CHECK, &rt, res, NULL, &err), 0, "CHECK");
    CHECK_INT(tdrv_cni_run(list, TDRV_CNI_DEL, &rt, res, NULL, &err), 0, "DEL");
    {
        char *lines[16] = {0};
        int k = 0;

        {
            FILE *f = fopen(logp, "re");
            char *l = NULL;
            size_t cap = 0;

            while (f && k < 16 && getline(&l, &cap, f) > 0)
                lines[k++] = tdrv_xstrdup(l);
            free(l);
            if (f)
                fclose(f);
        }
        CHECK_INT(k, 6, "six plugin calls");
        ok(k > 1 && !strncmp(lines[0], "ADD c1 eth0 ", 12) && !strstr(lines[0], "prevResult") &&
               !strstr(lines[0], "runtimeConfig") && strstr(lines[0], "\"name\":\"two\""),
           "ADD fa: no prevResult, no runtimeConfig, the list's name");
        ok(k > 1 && strstr(lines[1], "\"prevResult\":{") && strstr(lines[1], "\"by\":\"fa\"") &&
               strstr(lines[1], "\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":1"),
           "ADD fb: prevResult from fa, runtimeConfig.portMappings (capability)");
        ok(k > 3 && !strncmp(lines[2], "CHECK", 5) && !strncmp(lines[3], "CHECK", 5),
           "CHECK in order");
        ok(k > 5 && !strncmp(lines[4], "DEL", 3) && strstr(lines[4], "\"type\":\"fb\"") &&
               strstr(lines[5], "\"type\":\"fa\"") && strstr(lines[5], "\"prevResult\""),
           "DEL in reverse order, with the cached result");
        for (int i = 0; i < k; i++)
            free(lines[i]);
    }
    cJSON_Delete(list);
    list = cJSON_Parse("{\"cniVersion\":\"1.0.0\",\"name\":\"f\",\"plugins\":[{\"type\":\"fa\"},"
                       "{\"type\":\"fb\",\"fail\":true},{\"type\":\"missing\"}]}");
    tdrv_err_clear(&err);
    CHECK_INT(tdrv_cni_run(list, TDRV_CNI_ADD, &rt, NULL, NULL, &err), -1, "a failing plugin");
    CHECK_STR(err.msg, "network 'f': CNI plugin 'fb' failed (ADD): it failed: on purpose",
              "... its msg and details");
    CHECK_INT(err.code, 69, "... is 69");
    tdrv_err_clear(&err);
    CHECK_INT(tdrv_cni_run(list, TDRV_CNI_DEL, &rt, NULL, NULL, &err), -1,
              "DEL runs every plugin and reports the first failure");
    ok(strstr(err.msg, "no CNI plugin 'missing'") != NULL, "... %s", err.msg);
    tdrv_config_release(&cfg);
    unsetenv("TDRV_CNI_CONF_DIR");
    unsetenv("TDRV_CNI_PATH");
    {
        cleanup_free char *cmd = tdrv_xasprintf("rm -rf '%s'", dir);

        if (system(cmd) != 0)
            ok(0, "rm -rf");
    }
}

static void test_apply(void)
{
    cleanup_json cJSON *spec =
        cJSON_Parse("{\"process\":{\"env\":[\"PATH=/bin\",\"NOMAD_IP_http=192.0.2.2\"]},\"linux\":{"
                    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"}]}}");
    cleanup_json cJSON *doc =
        cJSON_Parse("{\"ports\":[{\"label\":\"http\",\"value\":20001,\"to\":80},{\"label\":\"a-b\","
                    "\"value\":20002}]}");
    cleanup_json cJSON *host = cJSON_Parse("{\"linux\":{\"namespaces\":[]}}");
    struct tdrv_net net;
    struct tdrv_err err = {0};
    cleanup_free char *env = NULL;
    char dir[] = "/tmp/tdrv-unit-net.XXXXXX";

    tdrv_net_init(&net);
    net.mode = TDRV_NET_BRIDGE;
    net.netns = tdrv_xstrdup("/run/tdrv/netns/web-a1");
    net.ip = tdrv_xstrdup("172.26.64.5");
    CHECK_INT(tdrv_net_apply_spec(&net, doc, spec, &err), 0, "apply a bridge network");
    CHECK_STR(cJSON_GetStringValue(tdrv_json_at(
                  cJSON_GetArrayItem(tdrv_json_at(spec, "linux.namespaces"), 1), "path")),
              "/run/tdrv/netns/web-a1", "... the namespace path in linux.namespaces");
    env = cJSON_PrintUnformatted(tdrv_json_at(spec, "process.env"));
    CHECK_STR(env,
              "[\"PATH=/bin\",\"NOMAD_IP_http=172.26.64.5\",\"NOMAD_ADDR_http=172.26.64.5:80\","
              "\"NOMAD_IP_a_b=172.26.64.5\",\"NOMAD_ADDR_a_b=172.26.64.5:20002\"]",
              "... the container IP and port in NOMAD_IP_ and NOMAD_ADDR_");
    {
        cleanup_json cJSON *files = cJSON_Parse(
            "{\"/t/etc/hosts\":\"127.0.0.1\\tlocalhost\\n127.0.1.1\\tweb\\n10.1.1.1\\tdb\\n\"}");

        tdrv_net_apply_hosts(&net, "/t/etc/hosts", "web", files);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(files, "/t/etc/hosts")),
                  "127.0.0.1\tlocalhost\n172.26.64.5\tweb\n10.1.1.1\tdb\n",
                  "the task's name line in /etc/hosts names its container address");
        tdrv_net_apply_hosts(&net, "/t/etc/hosts", "other", files);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(files, "/t/etc/hosts")),
                  "127.0.0.1\tlocalhost\n172.26.64.5\tweb\n10.1.1.1\tdb\n",
                  "... and nothing changes without that line");
    }
    CHECK_INT(tdrv_net_apply_spec(&net, doc, host, &err), -1,
              "a spec without a network namespace to join");
    CHECK_INT(err.code, 70, "... is a bug (70)");
    tdrv_net_release(&net);

    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp");
        return;
    }
    {
        cleanup_free char *p = tdrv_xasprintf("%s/%s", dir, TDRV_NET_STATE);
        FILE *f = fopen(p, "we");

        if (f) {
            fputs("{\"mode\":\"group\",\"network\":\"n\",\"netns\":\"/x/netns/a1\","
                  "\"port_mappings\":[],\"result\":{\"ips\":[{\"address\":\"fd00::5/64\"},"
                  "{\"address\":\"10.1.2.3/24\"}]}}",
                  f);
            fclose(f);
        }
        CHECK_INT(tdrv_net_load(p, &net, &err), 0, "load a group task's network state");
        CHECK_INT(net.mode, TDRV_NET_GROUP, "... group");
        CHECK_STR(net.ip, "10.1.2.3", "... its first IPv4 address, without the prefix");
        CHECK_STR(net.netns, "/x/netns/a1", "... the namespace");
        CHECK_STR(cJSON_GetStringValue(tdrv_json_at(net.summary, "state_file")), p,
                  "... the summary names the state file");
        tdrv_net_release(&net);
        unlink(p);
        CHECK_INT(tdrv_net_teardown(p, &err), 0, "teardown of a missing state file is success");
        rmdir(dir);
    }
}

void test_net(void)
{
    test_modes();
    test_apply();
    test_mappings();
    test_cni();
}
