/* The operator's config file: defaults, every key, and the refusals (exit 78 naming the key). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "tap.h"

void test_config(void);

static const struct {
    const char *text;
    int code;
    const char *msg;
} cases[] = {
    {"", 0, NULL},
    {"# only a comment\n\n", 0, NULL},
    {"{}", 0, NULL},
    {"allow_privileged: true\nallow_caps: [CHOWN, NET_RAW]\nruntime: crun\n", 0, NULL},
    {"gc:\n  image_delay: 10m\n  dangling_containers:\n    creation_grace: 1m\n", 0, NULL},
    {"ports:\n  min: 30000\n  max: 30010\n  reserved: [30001, \"30003-30005\"]\n", 0, NULL},
    {"ports: {reserved: \"22, 80,8000-8100\"}\n", 0, NULL},
    {"{\"host_ip\": \"127.0.0.1\", \"meta\": {\"rack\": \"r1\", \"n\": 2}}", 0, NULL},
    {"bogus: 1\n", 78, "config.bogus: unknown key"},
    {"gc:\n  imagedelay: 3m\n", 78, "config.gc.imagedelay: unknown key"},
    {"gc: {dangling_containers: {grace: 1m}}\n", 78,
     "config.gc.dangling_containers.grace: unknown key"},
    {"gc: {image_delay: soon}\n", 78, "config.gc.image_delay: invalid duration 'soon': bad number"},
    {"gc: {image_delay: 180}\n", 78,
     "config.gc.image_delay: expected a duration string such as \"5m\""},
    {"gc: {dangling_containers: {creation_grace: 30s}}\n", 78,
     "config.gc.dangling_containers.creation_grace: '30s' is less than the minimum 1m0s"},
    {"pull_activity_timeout: 10s\n", 78,
     "config.pull_activity_timeout: '10s' is less than the minimum 1m0s"},
    {"allow_privileged: yes please\n", 78, "config.allow_privileged: expected true or false"},
    {"allow_caps: CHOWN\n", 78, "config.allow_caps: expected a list of strings"},
    {"allow_caps: [CHOWN, 3]\n", 78, "config.allow_caps[1]: expected a string"},
    {"volumes: true\n", 78, "config.volumes: expected a mapping"},
    {"ports: {min: 0}\n", 78, "config.ports.min: 0 is not a port number (1-65535)"},
    {"ports: {max: 70000}\n", 78, "config.ports.max: 70000 is not a port number (1-65535)"},
    {"ports: {min: 30000, max: 20000}\n", 78, "config.ports.min: 30000 is above ports.max 20000"},
    /* Found writing fuzz_config (UBSan): numbers past INT_MAX were cast to int. */
    {"ports: {min: 1e10}\n", 78, "config.ports.min: 10000000000 is not a port number (1-65535)"},
    {"{\"ports\": {\"max\": 1e999}}", 78, "config.ports.max: expected a port number"},
    {"ports: {min: 1.5}\n", 78, "config.ports.min: expected a port number"},
    {"ports: {reserved: [1e300]}\n", 78,
     "config.ports.reserved[0]: expected a port number (1-65535)"},
    {"ports: {reserved: [-3000000000]}\n", 78,
     "config.ports.reserved[0]: expected a port number (1-65535)"},
    {"ports: {reserved: \"22,x\"}\n", 78, "config.ports.reserved: invalid port or range 'x'"},
    {"ports: {reserved: [\"90-80\"]}\n", 78,
     "config.ports.reserved[0]: range '90-80' ends before it starts"},
    {"ports: {reserved: [true]}\n", 78,
     "config.ports.reserved[0]: expected a port number or an \"a-b\" range"},
    {"host_ip: localhost\n", 78, "config.host_ip: 'localhost' is not an IP address"},
    {"root: relative/dir\n", 78, "config.root: 'relative/dir' is not an absolute path"},
    {"meta: {a: [1]}\n", 78, "config.meta.a: expected a string"},
    /* found by fuzz_config: a huge number in meta was cast to long long (UB) */
    {"{\"meta\": {\"n\": 2.7e106}}", 0, NULL},
    {"meta: {n: 1, a: [1]}\n", 78, "config.meta.a: expected a string"},
    {"- a\n- b\n", 78, "config: expected a mapping of settings"},
    {"runtime: \"\"\n", 78, "config.runtime: must not be empty"},
};

static char *write_tmp(const char *text)
{
    char tmpl[] = "/tmp/tdrv-test-config-XXXXXX";
    int fd = mkstemp(tmpl);
    size_t n = strlen(text);

    if (fd < 0)
        return NULL;
    if (write(fd, text, n) != (ssize_t)n) {
        close(fd);
        unlink(tmpl);
        return NULL;
    }
    close(fd);
    return strdup(tmpl);
}

static void defaults(void)
{
    struct tdrv_config c;
    struct tdrv_err err = {0};
    char *path = write_tmp("");
    char *caps;

    tdrv_config_init(&c);
    ok(tdrv_config_load(&c, path, &err) == 0, "empty config loads");
    CHECK_INT(c.port_min, 20000, "default port_min");
    CHECK_INT(c.port_max, 32000, "default port_max");
    CHECK_INT(c.gc_image_delay_ns, 180000000000LL, "default gc.image_delay 3m");
    CHECK_INT(c.pull_activity_timeout_ns, 120000000000LL, "default pull_activity_timeout 2m");
    CHECK_INT(c.gc_dangling_creation_grace_ns, 300000000000LL, "default creation_grace 5m");
    CHECK_INT(c.gc_image && c.gc_container && c.gc_dangling_enabled && c.volumes_enabled, 1,
              "default gc and volumes on");
    CHECK_INT(c.allow_privileged || c.gc_dangling_dry_run, 0, "default privileged, dry_run off");
    CHECK_STR(c.runtime, "runc", "default runtime");
    CHECK_STR(c.datacenter, "dc1", "default datacenter");
    ok(c.node_name && c.node_name[0], "default node_name is the hostname");
    caps = cJSON_PrintUnformatted(c.allow_caps);
    CHECK_STR(caps,
              "[\"AUDIT_WRITE\",\"CHOWN\",\"DAC_OVERRIDE\",\"FOWNER\",\"FSETID\",\"KILL\","
              "\"MKNOD\",\"NET_BIND_SERVICE\",\"SETFCAP\",\"SETGID\",\"SETPCAP\",\"SETUID\","
              "\"SYS_CHROOT\"]",
              "default allow_caps is the docker driver's");
    cJSON_free(caps);
    tdrv_config_release(&c);
    unlink(path);
    free(path);
}

static void values(void)
{
    struct tdrv_config c;
    struct tdrv_err err = {0};
    char *path = write_tmp("ports:\n  min: 30000\n  max: 30010\n  reserved: \"22, 80,8000-8100\"\n"
                           "gc: {dangling_containers: {dry_run: true, period: 90s}}\n"
                           "tls: {ca: /ca.pem}\nauth: {helper: pass}\nhost_ip: 10.0.0.1\n"
                           "meta: {n: 2, b: true}\nroot: /srv/tdrv\n");
    char *s;
    const char *old_root = getenv("TDRV_ROOT");
    char *saved = old_root ? strdup(old_root) : NULL;

    unsetenv("TDRV_ROOT");
    tdrv_config_init(&c);
    ok(tdrv_config_load(&c, path, &err) == 0, "full config loads (%s)", err.msg);
    CHECK_INT(c.port_min, 30000, "ports.min");
    CHECK_INT(c.port_max, 30010, "ports.max");
    s = cJSON_PrintUnformatted(c.reserved_ports);
    CHECK_STR(s, "[22,80,\"8000-8100\"]", "ports.reserved string normalized");
    cJSON_free(s);
    CHECK_INT(c.gc_dangling_dry_run, 1, "dry_run");
    CHECK_INT(c.gc_dangling_period_ns, 90000000000LL, "period 90s");
    CHECK_INT(c.gc_image_delay_ns, 180000000000LL, "image_delay keeps its default");
    CHECK_STR(c.docker_tls_ca, "/ca.pem", "tls.ca");
    CHECK_STR(c.auth_helper, "pass", "auth.helper");
    CHECK_STR(c.host_ip, "10.0.0.1", "host_ip");
    CHECK_STR(c.root, "/srv/tdrv", "root from the file without TDRV_ROOT");
    s = cJSON_PrintUnformatted(c.meta);
    CHECK_STR(s, "{\"n\":\"2\",\"b\":\"true\"}", "meta values become strings");
    cJSON_free(s);
    tdrv_config_release(&c);

    setenv("TDRV_ROOT", "/env/root", 1);
    tdrv_config_init(&c);
    ok(tdrv_config_load(&c, path, &err) == 0, "config loads again");
    CHECK_STR(c.root, "/env/root", "TDRV_ROOT overrides root");
    tdrv_config_release(&c);
    if (saved)
        setenv("TDRV_ROOT", saved, 1);
    else
        unsetenv("TDRV_ROOT");
    free(saved);
    unlink(path);
    free(path);
}

static void missing(void)
{
    struct tdrv_config c;
    struct tdrv_err err = {0};

    tdrv_config_init(&c);
    ok(tdrv_config_load(&c, "/nonexistent/tdrv.yaml", &err) < 0, "missing named config fails");
    CHECK_INT(err.code, 78, "missing named config is 78");
    CHECK_STR(err.word, "invalid_config", "missing named config word");
    CHECK_STR(err.msg, "unable to open config '/nonexistent/tdrv.yaml': No such file or directory",
              "missing named config message");
    tdrv_config_release(&c);
}

void test_config(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tdrv_config c;
        struct tdrv_err err = {0};
        char *path = write_tmp(cases[i].text);
        int rc;

        tdrv_config_init(&c);
        rc = tdrv_config_load(&c, path, &err);
        if (cases[i].code == 0) {
            ok(rc == 0, "config case %zu loads (%s)", i, err.msg);
        } else {
            ok(rc < 0, "config case %zu fails", i);
            CHECK_INT(err.code, cases[i].code, "config case %zu exit code", i);
            CHECK_STR(err.word, "invalid_config", "config case %zu word", i);
            CHECK_STR(err.msg, cases[i].msg, "config case %zu message", i);
        }
        tdrv_config_release(&c);
        unlink(path);
        free(path);
    }
    {
        struct tdrv_config c;
        struct tdrv_err err = {0};
        char *path = write_tmp("a: [1\n");

        tdrv_config_init(&c);
        ok(tdrv_config_load(&c, path, &err) < 0 && err.code == 78,
           "malformed YAML config is 78 (%s)", err.msg);
        ok(strstr(err.msg, "malformed YAML at line") != NULL, "malformed config gives the line");
        tdrv_config_release(&c);
        unlink(path);
        free(path);
    }
    defaults();
    values();
    missing();
}
