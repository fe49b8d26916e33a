/* The task document -> OCI config.json mapping, driver by driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "mem.h"
#include "spec.h"
#include "tap.h"

void test_spec(void);

#define IMG_EP                                                                                     \
    "{\"config\":{\"Entrypoint\":[\"/e\"],\"Cmd\":[\"d\"],\"Env\":[\"FOO=img\",\"BAR=img\"]}}"
#define IMG_CMD "{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"PATH=/bin\"],\"WorkingDir\":\"/w\"}}"

enum {
    PRIV = 1,  /* allow_privileged */
    NOVOL = 2, /* volumes.enabled = false */
};

static const struct {
    const char *doc; /* the task document, alloc "a1", task "web" added */
    const char *img; /* image config */
    int flags;
    const char *path; /* "process.args", or "mount:/dst", or "env:NAME" */
    const char *want; /* unformatted JSON (or env value), NULL: path absent */
    int code;         /* expected error, 0 = none */
    const char *msg;  /* exact error message */
} cases[] = {
    /* command, args, entrypoint */
    {"{\"config\":{\"image\":\"i\",\"args\":[\"-c\",\"x\"]}}", IMG_EP, 0, "process.args",
     "[\"/e\",\"-c\",\"x\"]", 0, NULL},
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "process.args", "[\"/e\",\"d\"]", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"command\":\"c\",\"args\":[\"a\"]}}", IMG_CMD, 0,
     "process.args", "[\"c\",\"a\"]", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"entrypoint\":[\"/x\"],\"args\":[\"a\"]}}", IMG_EP, 0,
     "process.args", "[\"/x\",\"a\"]", 0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"entrypoint\":[\"/bin/"
     "sh\"],\"args\":[\"-c\",\"x\"]}}",
     IMG_EP, 0, "process.args", "[\"/bin/sh\",\"-c\",\"x\"]", 0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"entrypoint\":[\"\"],"
     "\"args\":[\"only\"]}}",
     IMG_EP, 0, "process.args", "[\"only\"]", 0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"entrypoint\":[\"/x\"],"
     "\"command\":\"c\"}}",
     IMG_EP, 0, NULL, NULL, 65,
     "config: both command and entrypoint are set; only one of them can be set"},
    {"{\"driver\":\"rkt\",\"config\":{\"image\":\"i\",\"args\":[\"a\"]}}", IMG_EP, 0,
     "process.args", "[\"/e\",\"d\",\"a\"]", 0, NULL},
    {"{\"driver\":\"rkt\",\"config\":{\"image\":\"i\",\"command\":\"/c\",\"args\":[\"a\"]}}",
     IMG_EP, 0, "process.args", "[\"/c\",\"a\"]", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"command\":\" c\"}}", IMG_EP, 0, NULL, NULL, 65,
     "config.command: command contains extra white space"},
    {"{\"config\":{\"image\":\"i\"}}", "{}", 0, NULL, NULL, 65,
     "config.command: no command given and the image has no Entrypoint or Cmd"},
    {"{\"config\":{\"image\":\"i\",\"network_mode\":\"host\",\"command\":\"c\","
     "\"args\":[\"${NOMAD_PORT_http}\","
     "\"${NOMAD_META_team}\",\"${nope}\"]},\"meta\":{\"team\":\"infra\"},\"ports\":[{\"label\":"
     "\"http\",\"value\":20001,\"to\":80,\"host_ip\":\"127.0.0.1\"}]}",
     IMG_CMD, 0, "process.args", "[\"c\",\"20001\",\"infra\",\"${nope}\"]", 0, NULL},
    /* options per driver */
    {"{\"config\":{\"image\":\"i\",\"bogus\":1}}", IMG_CMD, 0, NULL, NULL, 65,
     "config: unknown option 'bogus' for driver 'oci'"},
    {"{\"config\":{\"image\":\"i\",\"net\":[\"host\"]}}", IMG_CMD, 0, NULL, NULL, 65,
     "config: unknown option 'net' for driver 'oci'"},
    {"{\"driver\":\"rkt\",\"config\":{\"image\":\"i\",\"cap_add\":[\"CHOWN\"]}}", IMG_CMD, 0, NULL,
     NULL, 65, "config: unknown option 'cap_add' for driver 'rkt'"},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"work_dir\":\"/x\"}}", IMG_CMD,
     0, NULL, NULL, 65, "config: unknown option 'work_dir' for driver 'containerd-driver'"},
    {"{\"driver\":\"lxc\",\"config\":{\"image\":\"i\"}}", IMG_CMD, 0, NULL, NULL, 65,
     "request.driver: 'lxc' is not a daemonless driver (oci, rkt, containerd-driver)"},
    {"{\"config\":{\"image\":\"i\",\"ipv4_address\":\"10.0.0.2\"}}", IMG_CMD, 0, NULL, NULL, 65,
     "config.ipv4_address: not supported by the oci backend"},
    /* working directory */
    {"{\"config\":{\"image\":\"i\"}}", IMG_CMD, 0, "process.cwd", "\"/w\"", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"work_dir\":\"/srv\"}}", IMG_CMD, 0, "process.cwd", "\"/srv\"",
     0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"cwd\":\"rel\"}}", IMG_CMD, 0,
     NULL, NULL, 65, "config.cwd: 'rel' must be an absolute path"},
    /* user and groups from the image's files */
    {"{\"config\":{\"image\":\"i\"},\"user\":\"nobody\"}", IMG_CMD, 0, "process.user",
     "{\"uid\":65534,\"gid\":65534,\"additionalGids\":[100]}", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"user\":\"1000:1000\"}", IMG_CMD, 0, "process.user",
     "{\"uid\":1000,\"gid\":1000}", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"group_add\":[\"users\"]},\"user\":\"root\"}", IMG_CMD, 0,
     "process.user", "{\"uid\":0,\"gid\":0,\"additionalGids\":[100]}", 0, NULL},
    {"{\"driver\":\"rkt\",\"config\":{\"image\":\"i\",\"group\":\"nogroup\"},\"user\":"
     "\"nobody\"}",
     IMG_CMD, 0, "process.user.gid", "65534", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"user\":\"ghost\"}", IMG_CMD, 0, NULL, NULL, 65,
     "request.user: unable to find user 'ghost': no matching entries in passwd file"},
    {"{\"config\":{\"image\":\"i\"},\"user\":\"nobody\"}", IMG_CMD, 0, "env:HOME", "/nonexistent",
     0, NULL},
    /* environment: image < task < NOMAD_* */
    {"{\"config\":{\"image\":\"i\"},\"env\":{\"FOO\":\"task\",\"NOMAD_TASK_NAME\":\"x\"}}", IMG_EP,
     0, "env:FOO", "task", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"env\":{\"FOO\":\"task\"}}", IMG_EP, 0, "env:BAR", "img", 0,
     NULL},
    {"{\"config\":{\"image\":\"i\"},\"env\":{\"NOMAD_TASK_NAME\":\"x\"}}", IMG_EP, 0,
     "env:NOMAD_TASK_NAME", "web", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"env\":{\"A\":\"${NOMAD_ALLOC_ID}-${B}\",\"B\":\"b\"}}",
     IMG_EP, 0, "env:A", "a1-b", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"meta\":{\"team\":\"infra\"}}", IMG_EP, 0,
     "env:NOMAD_META_TEAM", "infra", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"cpu\":500,\"memory\":256}}", IMG_EP, 0,
     "env:NOMAD_MEMORY_LIMIT", "256", 0, NULL},
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "env:NOMAD_ALLOC_DIR", "/alloc", 0, NULL},
    /* hostname */
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "hostname", "\"web\"", 0, NULL},
    {"{\"driver\":\"rkt\",\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "hostname", "\"rkt-a1\"", 0,
     NULL},
    {"{\"config\":{\"image\":\"i\",\"hostname\":\"h-${NOMAD_TASK_NAME}\"}}", IMG_EP, 0, "hostname",
     "\"h-web\"", 0, NULL},
    /* volumes and mounts */
    {"{\"config\":{\"image\":\"i\",\"volumes\":[\"/h:/c:readOnly\"]}}", IMG_EP, 0, "mount:/c",
     "{\"destination\":\"/c\",\"type\":\"bind\",\"source\":\"/h\",\"options\":[\"rbind\","
     "\"ro\"]}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"volumes\":[\"data:/c\"]}}", IMG_EP, 0, "mount:/c",
     "{\"destination\":\"/c\",\"type\":\"bind\",\"source\":\"/A/web/data\",\"options\":["
     "\"rbind\",\"rw\"]}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"volumes\":[\"/h\"]}}", IMG_EP, 0, NULL, NULL, 65,
     "config.volumes[0]: invalid volume '/h' (host:container[:mode])"},
    {"{\"config\":{\"image\":\"i\",\"volumes\":[\"/h:/c\"]}}", IMG_EP, NOVOL, NULL, NULL, 77,
     "config.volumes[0]: volumes are disabled by the operator; '/h' is outside the allocation "
     "directory"},
    {"{\"config\":{\"image\":\"i\",\"volumes\":[\"../alloc/x:/c\"]}}", IMG_EP, NOVOL, "mount:/c",
     "{\"destination\":\"/c\",\"type\":\"bind\",\"source\":\"/A/alloc/x\",\"options\":["
     "\"rbind\",\"rw\"]}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"mount\":[{\"type\":\"tmpfs\",\"target\":\"/t\","
     "\"tmpfs_options\":{\"size\":1024}}]}}",
     IMG_EP, 0, "mount:/t",
     "{\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":["
     "\"nosuid\",\"nodev\",\"size=1024\",\"rw\"]}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"mounts\":[{\"type\":\"bind\",\"target\":\"/b\","
     "\"source\":\"/s\",\"readonly\":true}]}}",
     IMG_EP, 0, "mount:/b",
     "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"rbind\","
     "\"ro\"]}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"mounts\":[{\"type\":\"nfs\",\"target\":\"/b\"}]}}", IMG_EP, 0,
     NULL, NULL, 65, "config.mounts[0].type: 'nfs' is not one of bind, volume, tmpfs"},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"mounts\":[{\"type\":"
     "\"bind\",\"target\":\"/b\",\"source\":\"/s\"}]}}",
     IMG_EP, 0, NULL, NULL, 65,
     "config.mounts[0]: options cannot be empty for mount type bind; you need to at least "
     "pass rbind and ro"},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"mounts\":[{\"type\":"
     "\"bind\",\"target\":\"/b\",\"source\":\"local/conf\",\"options\":[\"rbind\",\"ro\"]}]}}",
     IMG_EP, 0, "mount:/b",
     "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"/A/web/local/conf\",\"options\":["
     "\"rbind\",\"ro\"]}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "mount:/secrets",
     "{\"destination\":\"/secrets\",\"type\":\"bind\",\"source\":\"/A/web/secrets\","
     "\"options\":[\"rbind\",\"rw\"]}",
     0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"shm_size\":\"128M\"}}",
     IMG_EP, 0, "mount:/dev/shm",
     "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":["
     "\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=134217728\"]}",
     0, NULL},
    /* capabilities */
    {"{\"config\":{\"image\":\"i\",\"cap_drop\":[\"chown\",\"CAP_KILL\"]}}", IMG_EP, 0,
     "process.capabilities.bounding",
     "[\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_SETGID\",\"CAP_SETUID\","
     "\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_MKNOD\","
     "\"CAP_AUDIT_WRITE\",\"CAP_SETFCAP\"]",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"cap_add\":[\"NET_ADMIN\",\"sys_time\"]}}", IMG_EP, 0, NULL,
     NULL, 77,
     "config.cap_add: the operator does not allow the following capabilities: NET_ADMIN, "
     "sys_time"},
    {"{\"config\":{\"image\":\"i\",\"cap_add\":[\"FLY\"]}}", IMG_EP, 0, NULL, NULL, 65,
     "config.cap_add: unknown capability 'FLY'"},
    {"{\"config\":{\"image\":\"i\",\"cap_drop\":[\"all\"]}}", IMG_EP, 0,
     "process.capabilities.effective", "[]", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"privileged\":true}}", IMG_EP, 0, NULL, NULL, 77,
     "config.privileged: privileged mode is disabled by the operator (allow_privileged)"},
    {"{\"config\":{\"image\":\"i\",\"privileged\":true}}", IMG_EP, PRIV, "linux.seccomp", NULL, 0,
     NULL},
    {"{\"config\":{\"image\":\"i\",\"privileged\":true}}", IMG_EP, PRIV, "linux.maskedPaths", NULL,
     0, NULL},
    /* security */
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "linux.seccomp.defaultAction",
     "\"SCMP_ACT_ALLOW\"", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"security_opt\":[\"seccomp=unconfined\"]}}", IMG_EP, 0,
     "linux.seccomp", NULL, 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"security_opt\":[\"no-new-privileges\"]}}", IMG_EP, 0,
     "process.noNewPrivileges", "true", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"security_opt\":[\"bogus\"]}}", IMG_EP, 0, NULL, NULL, 65,
     "config.security_opt[0]: invalid 'bogus'"},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "linux.seccomp",
     NULL, 0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"seccomp\":true}}", IMG_EP, 0,
     "linux.seccomp.defaultAction", "\"SCMP_ACT_ALLOW\"", 0, NULL},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"seccomp_profile\":\"/p\"}}",
     IMG_EP, 0, NULL, NULL, 65,
     "config.seccomp_profile: seccomp must be set to true to use seccomp_profile"},
    {"{\"config\":{\"image\":\"i\",\"security_opt\":[\"seccomp=/nonexistent.json\"]}}", IMG_EP, 0,
     NULL, NULL, 66,
     "config.seccomp_profile: unable to open '/nonexistent.json': No such file or directory"},
    {"{\"config\":{\"image\":\"i\",\"readonly_rootfs\":true}}", IMG_EP, 0, "root.readonly", "true",
     0, NULL},
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "linux.readonlyPaths",
     "[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]", 0, NULL},
    /* resources */
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"memory\":256,\"memory_max\":512}}", IMG_EP, 0,
     "linux.resources.memory", "{\"limit\":536870912,\"swap\":536870912,\"reservation\":268435456}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"memory_hard_limit\":300},\"resources\":{\"memory\":256}}",
     IMG_EP, 0, "linux.resources.memory.limit", "314572800", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"memory\":\"128Mi\"}}", IMG_EP, 0,
     "linux.resources.memory", "{\"limit\":134217728,\"swap\":134217728}", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"memory\":512,\"memory_max\":256}}", IMG_EP, 0,
     NULL, NULL, 65,
     "request.resources.memory: task memory requirements exceed driver hard limit of 256 MB"},
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"memory\":\"12q\"}}", IMG_EP, 0, NULL, NULL, 65,
     NULL},
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"cpu\":500}}", IMG_EP, 0, "linux.resources.cpu",
     "{\"shares\":500}", 0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"resources\":{\"cpu\":\"750m\"}}", IMG_EP, 0,
     "linux.resources.cpu", "{\"shares\":768}", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"cpu_hard_limit\":true},\"resources\":{\"cpu\":\"500m\"}}",
     IMG_EP, 0, "linux.resources.cpu", "{\"shares\":512,\"quota\":50000,\"period\":100000}", 0,
     NULL},
    {"{\"config\":{\"image\":\"i\",\"cpu_hard_limit\":true,\"cpu_cfs_period\":200000},"
     "\"resources\":{\"cpu\":1000}}",
     IMG_EP, 0, "linux.resources.cpu", "{\"shares\":1000,\"quota\":100000,\"period\":200000}", 0,
     NULL},
    {"{\"config\":{\"image\":\"i\",\"cpuset_cpus\":\"0-1\"}}", IMG_EP, 0,
     "linux.resources.cpu.cpus", "\"0-1\"", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"pids_limit\":64}}", IMG_EP, 0, "linux.resources.pids",
     "{\"limit\":64}", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"oom_score_adj\":500}}", IMG_EP, 0, "process.oomScoreAdj",
     "500", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"ulimit\":{\"nofile\":\"2048:4096\"}}}", IMG_EP, 0,
     "process.rlimits", "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":4096,\"soft\":2048}]", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"ulimit\":{\"nproc\":\"abc:1\"}}}", IMG_EP, 0, NULL, NULL, 65,
     "config.ulimit.nproc: Malformed soft ulimit 'abc'"},
    /* namespaces */
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "linux.namespaces",
     "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}]", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"network_mode\":\"none\"}}", IMG_EP, 0, "linux.namespaces",
     "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{"
     "\"type\":\"network\"}]",
     0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"network\":{\"mode\":\"bridge\"}}", IMG_EP, 0,
     "linux.namespaces",
     "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{"
     "\"type\":\"network\"}]",
     0, NULL},
    {"{\"config\":{\"image\":\"i\"},\"network\":{\"mode\":\"weird\"}}", IMG_EP, 0, NULL, NULL, 65,
     "request.network.mode: 'weird' is not supported (host, none, bridge, group, cni/<name>)"},
    {"{\"config\":{\"image\":\"i\",\"pid_mode\":\"host\"}}", IMG_EP, 0, NULL, NULL, 77,
     "config.pid_mode: host namespaces need allow_privileged in the operator's config"},
    {"{\"config\":{\"image\":\"i\",\"sysctl\":{\"net.core.somaxconn\":\"1024\"}}}", IMG_EP, 0, NULL,
     NULL, 65,
     "config.sysctl.net.core.somaxconn: net.* sysctls need a network namespace (network mode "
     "none)"},
    {"{\"config\":{\"image\":\"i\",\"network_mode\":\"none\",\"sysctl\":{\"net.core."
     "somaxconn\":1024}}}",
     IMG_EP, 0, "linux.sysctl", "{\"net.core.somaxconn\":\"1024\"}", 0, NULL},
    /* labels, logging, kill settings */
    {"{\"config\":{\"image\":\"i\",\"labels\":{\"team\":\"infra\"}}}", IMG_EP, 0, "annotations",
     "{\"team\":\"infra\",\"io.tdrv.alloc_id\":\"a1\",\"io.tdrv.task\":\"web\","
     "\"io.tdrv.driver\":\"oci\"}",
     0, NULL},
    {"{\"config\":{\"image\":\"i\",\"logging\":{\"type\":\"syslog\"}}}", IMG_EP, 0, NULL, NULL, 65,
     "config.logging.type: 'syslog' is not supported (json-file, local, file)"},
    {"{\"kill_signal\":\"SIGNOPE\",\"config\":{\"image\":\"i\"}}", IMG_EP, 0, NULL, NULL, 65,
     "request.kill_signal: unknown signal 'SIGNOPE'"},
    /* tty: a terminal from the runtime; rkt's environment options are rkt's alone */
    {"{\"config\":{\"image\":\"i\",\"tty\":true}}", IMG_EP, 0, "process.terminal", "true", 0, NULL},
    {"{\"config\":{\"image\":\"i\"}}", IMG_EP, 0, "process.terminal", "false", 0, NULL},
    {"{\"config\":{\"image\":\"i\",\"inherit_env\":true}}", IMG_EP, 0, NULL, NULL, 65,
     "config: unknown option 'inherit_env' for driver 'oci'"},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"set_env_file\":\"e\"}}",
     IMG_EP, 0, NULL, NULL, 65,
     "config: unknown option 'set_env_file' for driver 'containerd-driver'"},
    {"{\"driver\":\"rkt\",\"config\":{\"image\":\"i\",\"inherit_env\":\"yes\"}}", IMG_EP, 0, NULL,
     NULL, 65, NULL},
    {"{\"config\":{\"image\":\"i\",\"runtime\":\"kata\"}}", IMG_EP, 0, NULL, NULL, 77,
     "config.runtime: requested runtime 'kata' is not allowed"},
    {"{\"config\":{\"image\":\"i\",\"devices\":[{\"host_path\":\"/dev/null\","
     "\"cgroup_permissions\":\"rxb\"}]}}",
     IMG_EP, 0, NULL, NULL, 65, "config.devices[0]: invalid cgroup permission string 'rxb'"},
    {"{\"driver\":\"containerd-driver\",\"config\":{\"image\":\"i\",\"devices\":[\"/dev/"
     "null\"]}}",
     IMG_EP, 0, "linux.devices",
     "[{\"path\":\"/dev/null\",\"type\":\"c\",\"major\":1,\"minor\":3,\"fileMode\":438,"
     "\"uid\":0,\"gid\":0}]",
     0, NULL},
};

static char *render(const cJSON *spec, const char *path)
{
    const cJSON *v = NULL;
    char *s;
    char *out;

    if (!strncmp(path, "mount:", 6)) {
        for (const cJSON *m = tdrv_json_at(spec, "mounts")->child; m; m = m->next)
            if (!strcmp(tdrv_json_at(m, "destination")->valuestring, path + 6))
                v = m;
    } else if (!strncmp(path, "env:", 4)) {
        size_t n = strlen(path + 4);

        for (const cJSON *e = tdrv_json_at(spec, "process.env")->child; e; e = e->next)
            if (!strncmp(e->valuestring, path + 4, n) && e->valuestring[n] == '=')
                return tdrv_xstrdup(e->valuestring + n + 1);
        return NULL;
    } else {
        v = tdrv_json_at(spec, path);
    }
    if (!v)
        return NULL;
    s = cJSON_PrintUnformatted(v);
    out = tdrv_xstrdup(s);
    cJSON_free(s);
    return out;
}

static void put(const char *dir, const char *name, const char *text)
{
    char *p = tdrv_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "we");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

void test_spec(void)
{
    char tmpl[] = "/tmp/tdrv-spec-XXXXXX";
    char *root = mkdtemp(tmpl);
    char *etc = tdrv_xasprintf("%s/etc", root);
    char *cfgp = tdrv_xasprintf("%s/config.yaml", root);
    const char *roots[] = {root, NULL};
    struct tdrv_spec_host host = {.cgroup_v2 = 0,
                                  .memory_swap = 1,
                                  .ncpu = 4,
                                  .cpu_mhz = 2000,
                                  .cap_last = 40,
                                  .arch = "x86_64"};
    struct tdrv_config cfg;
    struct tdrv_err err = {0};

    mkdir(etc, 0755);
    put(root, "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    put(root, "etc/group", "root:x:0:\nusers:x:100:nobody,root\nnogroup:x:65534:\n");
    put(root, "config.yaml", "");
    tdrv_config_init(&cfg);
    ok(tdrv_config_load(&cfg, cfgp, &err) == 0, "spec: operator config loads (%s)", err.msg);

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        cJSON *doc = NULL;
        cJSON *img = cJSON_Parse(cases[i].img);
        cJSON *spec = NULL;
        struct tdrv_task_opts o;
        struct tdrv_spec_in in = {
            .cfg = &cfg,
            .host = &host,
            .passwd_roots = roots,
            .rootfs = "/R",
            .alloc_dir = "/A",
            .task_dir = "/A/web",
            .volumes_dir = "/V",
            .alloc_id = "a1",
            .task = "web",
        };
        int rc;

        tdrv_err_clear(&err);
        memset(&o, 0, sizeof(o));
        if (tdrv_json_parse(cases[i].doc, strlen(cases[i].doc), &doc, &err) < 0) {
            ok(0, "spec case %zu: document parses (%s)", i, err.msg);
            cJSON_Delete(img);
            continue;
        }
        cfg.allow_privileged = (cases[i].flags & PRIV) != 0;
        cfg.volumes_enabled = !(cases[i].flags & NOVOL);
        in.doc = doc;
        in.image_config = img;
        rc = tdrv_spec_build(&in, &spec, &o, &err);
        if (cases[i].code) {
            CHECK_INT(rc == 0 ? 0 : err.code, cases[i].code, "spec case %zu: exit %d", i,
                      cases[i].code);
            if (cases[i].msg)
                CHECK_STR(err.msg, cases[i].msg, "spec case %zu: message", i);
        } else if (rc < 0) {
            ok(0, "spec case %zu: builds (%s)", i, err.msg);
        } else {
            char *got = render(spec, cases[i].path);

            CHECK_STR(got, cases[i].want, "spec case %zu: %s", i, cases[i].path);
            free(got);
        }
        cJSON_Delete(spec);
        cJSON_Delete(doc);
        cJSON_Delete(img);
        tdrv_task_opts_release(&o);
    }

    /* rkt: inherit_env and set_env_file, and their order */
    {
        static const char *const parent[] = {"P=parent", "FOO=parent", "Q=parent",
                                             "=odd",     "NOEQ",       NULL};
        static const struct {
            const char *file; /* NULL: no file */
            const char *conf; /* extra config */
            int flags;
            const char *env; /* "NAME=want|NAME=want", "NAME" alone: absent */
            int code;
            const char *msg;
        } ec[] = {
            {"A=1\n# c\n; c\n\nB=x=y\r\nC=\nQ=file", "\"inherit_env\":true", 0,
             "A=1|B=x=y|C=|Q=file|P=parent|FOO=img|BAR=task|NOMAD_TASK_NAME=web", 0, NULL},
            {"Q=file\n", "\"inherit_env\":false", 0, "Q=file|P|FOO=img", 0, NULL},
            {NULL, "\"inherit_env\":true", 0, "Q=parent|P=parent|FOO=img|NOEQ", 0, NULL},
            {"FOO=file\nBAR=file\n", "\"inherit_env\":true", 0, "FOO=file|BAR=task", 0, NULL},
            {"A=1\nA=2\n", "", 0, NULL, 65, "config.set_env_file: 'env' line 2: 'A' is set twice"},
            {"A=1\n=2\n", "", 0, NULL, 65,
             "config.set_env_file: 'env' line 2: expected NAME=VALUE"},
            {"  \n", "", 0, NULL, 65, "config.set_env_file: 'env' line 1: expected NAME=VALUE"},
            {"A=1\nB", "", 0, NULL, 65, "config.set_env_file: 'env' line 2: expected NAME=VALUE"},
            {"A=1\n", "", NOVOL, "A=1", 0, NULL},
        };

        for (size_t i = 0; i < TDRV_ARRAY_LEN(ec) + 2; i++) {
            char *task_dir = tdrv_xasprintf("%s/web", root);
            char *env_path = tdrv_xasprintf("%s/env", task_dir);
            const char *src = i < TDRV_ARRAY_LEN(ec)    ? "env"
                              : i == TDRV_ARRAY_LEN(ec) ? "nope"
                                                        : "/etc/hostname";
            char *text = tdrv_xasprintf(
                "{\"driver\":\"rkt\",\"env\":{\"BAR\":\"task\",\"NOMAD_TASK_NAME\":\"x\"},"
                "\"config\":{\"image\":\"i\"%s%s%s%s%s}}",
                i < TDRV_ARRAY_LEN(ec) && ec[i].conf[0] ? "," : "",
                i < TDRV_ARRAY_LEN(ec) ? ec[i].conf : "",
                i >= TDRV_ARRAY_LEN(ec) || ec[i].file ? ",\"set_env_file\":\"" : "",
                i >= TDRV_ARRAY_LEN(ec) || ec[i].file ? src : "",
                i >= TDRV_ARRAY_LEN(ec) || ec[i].file ? "\"" : "");
            cJSON *doc = cJSON_Parse(text);
            cJSON *img = cJSON_Parse(IMG_EP);
            cJSON *spec = NULL;
            struct tdrv_task_opts o;
            struct tdrv_spec_in in = {
                .doc = doc,
                .cfg = &cfg,
                .host = &host,
                .image_config = img,
                .passwd_roots = roots,
                .rootfs = "/R",
                .alloc_dir = root,
                .task_dir = task_dir,
                .volumes_dir = "/V",
                .alloc_id = "a1",
                .task = "web",
                .parent_env = parent,
            };
            int rc;

            mkdir(task_dir, 0755);
            unlink(env_path);
            if (i < TDRV_ARRAY_LEN(ec) && ec[i].file)
                put(task_dir, "env", ec[i].file);
            cfg.allow_privileged = 0;
            cfg.volumes_enabled =
                !(i > TDRV_ARRAY_LEN(ec) || (i < TDRV_ARRAY_LEN(ec) && (ec[i].flags & NOVOL)));
            tdrv_err_clear(&err);
            memset(&o, 0, sizeof(o));
            rc = tdrv_spec_build(&in, &spec, &o, &err);
            if (i == TDRV_ARRAY_LEN(ec)) {
                CHECK_INT(rc == 0 ? 0 : err.code, 66, "env file: a missing file is 66");
                CHECK_STR(err.word, "env_file_not_found", "env file: missing, code word");
            } else if (i > TDRV_ARRAY_LEN(ec)) {
                CHECK_INT(rc == 0 ? 0 : err.code, 77,
                          "env file: outside the allocation with volumes disabled is 77");
            } else if (ec[i].code) {
                CHECK_INT(rc == 0 ? 0 : err.code, ec[i].code, "env file case %zu: exit", i);
                CHECK_STR(err.msg, ec[i].msg, "env file case %zu: message", i);
            } else if (rc < 0) {
                ok(0, "env file case %zu: builds (%s)", i, err.msg);
            } else {
                char *want = tdrv_xstrdup(ec[i].env);
                char *save = NULL;

                for (char *w = strtok_r(want, "|", &save); w; w = strtok_r(NULL, "|", &save)) {
                    char *eq = strchr(w, '=');
                    char *key = tdrv_xasprintf("env:%.*s", eq ? (int)(eq - w) : (int)strlen(w), w);
                    char *got = render(spec, key);

                    CHECK_STR(got, eq ? eq + 1 : NULL, "env file case %zu: %s", i, key);
                    free(got);
                    free(key);
                }
                free(want);
            }
            unlink(env_path);
            rmdir(task_dir);
            cJSON_Delete(spec);
            cJSON_Delete(doc);
            cJSON_Delete(img);
            tdrv_task_opts_release(&o);
            free(text);
            free(env_path);
            free(task_dir);
        }
        cfg.volumes_enabled = 1;
    }

    /* signals */
    CHECK_INT(tdrv_signal_parse("SIGTERM"), 15, "signal: SIGTERM");
    CHECK_INT(tdrv_signal_parse("usr1"), 10, "signal: usr1");
    CHECK_INT(tdrv_signal_parse("9"), 9, "signal: 9");
    CHECK_INT(tdrv_signal_parse("SIGDOESNOTEXIST"), 0, "signal: unknown");
    CHECK_STR(tdrv_signal_name(2), "SIGINT", "signal: name of 2");

    /* runtime options: defaults and the logging block */
    {
        cJSON *doc = cJSON_Parse("{\"kill_timeout\":\"2s\",\"kill_signal\":\"SIGINT\",\"config\":"
                                 "{\"logging\":{\"type\":\"json-file\",\"config\":[{\"max-"
                                 "size\":\"10m\",\"max-file\":\"3\"}]}}}");
        struct tdrv_task_opts o;

        tdrv_err_clear(&err);
        ok(tdrv_task_opts_parse(doc, &cfg, &o, &err) == 0, "opts: parse (%s)", err.msg);
        CHECK_INT(o.kill_timeout_ns, 2000000000LL, "opts: kill_timeout");
        CHECK_INT(o.kill_signal, 2, "opts: kill_signal");
        CHECK_INT(o.log_max_size, 10 * 1024 * 1024, "opts: max-size 10m");
        CHECK_INT(o.log_max_files, 3, "opts: max-file 3");
        CHECK_STR(o.runtime, "runc", "opts: runtime default");
        tdrv_task_opts_release(&o);
        cJSON_Delete(doc);
        doc = cJSON_Parse("{\"config\":{}}");
        ok(tdrv_task_opts_parse(doc, &cfg, &o, &err) == 0, "opts: defaults");
        CHECK_INT(o.log_max_size, 2 * 1024 * 1024, "opts: default max-size 2 MiB");
        CHECK_INT(o.log_max_files, 2, "opts: default max-file 2");
        CHECK_INT(o.kill_timeout_ns, 5000000000LL, "opts: default kill_timeout 5s");
        tdrv_task_opts_release(&o);
        cJSON_Delete(doc);
    }
    tdrv_config_release(&cfg);
    put(root, "etc/passwd", "");
    {
        char *cmd = tdrv_xasprintf("%s/etc/passwd", root);

        unlink(cmd);
        free(cmd);
        cmd = tdrv_xasprintf("%s/etc/group", root);
        unlink(cmd);
        free(cmd);
    }
    rmdir(etc);
    unlink(cfgp);
    rmdir(root);
    free(etc);
    free(cfgp);
}
