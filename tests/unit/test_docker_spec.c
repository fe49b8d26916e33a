/* Task document -> container-create body: one table, each case checks the body or the error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "docker_spec.h"
#include "json.h"
#include "mem.h"
#include "tap.h"

void test_docker_spec(void);

#define ALLOC "/var/lib/tdrv/allocs/a1"
#define DOC(cfg) "{\"alloc_id\":\"a1\",\"task\":\"web\",\"group\":\"g\",\"config\":{" cfg "}}"
#define IMG "\"image\":\"busybox:1.36\""

struct check {
    const char *path; /* '>'-separated keys from the body */
    const char *want; /* compact JSON, or NULL: must be absent */
};

struct spec_case {
    const char *name;
    const char *doc;
    int privileged;      /* operator allow_privileged */
    int volumes_enabled; /* operator volumes.enabled */
    const char *caps;    /* operator allow_caps as JSON, or NULL: default */
    int code;            /* expected error status, 0 = success */
    const char *msg;     /* expected error message (exact) */
    struct check checks[8];
};

static const struct spec_case cases[] = {
    {"minimal",
     DOC(IMG),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Image", "\"busybox:1.36\""},
      {"HostConfig>Binds", "[\"" ALLOC "/alloc:/alloc\",\"" ALLOC "/web/local:/local\",\"" ALLOC
                           "/web/secrets:/secrets\"]"},
      {"HostConfig>LogConfig",
       "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"2\",\"max-size\":\"2m\"}}"},
      {"HostConfig>CapDrop", "[\"NET_RAW\"]"},
      {"HostConfig>Memory", "314572800"},
      {"HostConfig>CpuShares", "100"},
      {"HostConfig>NetworkMode", "\"default\""},
      {"Labels", "{\"io.tdrv.alloc_id\":\"a1\",\"io.tdrv.task\":\"web\",\"io.tdrv.group\":\"g\","
                 "\"io.tdrv.lease\":\"" ALLOC "/web/lease\"}"}}},
    {"no image",
     DOC("\"command\":\"x\""),
     0,
     0,
     NULL,
     65,
     "config.image: image name required for docker driver",
     {{0}}},
    {"unknown option",
     DOC(IMG ",\"bogus\":1"),
     0,
     0,
     NULL,
     65,
     "config: unknown option 'bogus'",
     {{0}}},
    {"https prefix",
     DOC("\"image\":\"https://example.com/a/b:2\""),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Image", "\"example.com/a/b:2\""}}},
    {"command and args",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"env\":{\"X\":\"1\"},\"meta\":{\"m\":\"v\"},"
     "\"config\":{" IMG ",\"command\":\"/bin/sh\",\"args\":[\"-c\",\"echo ${X} ${NOMAD_META_m} "
     "${NOMAD_TASK_NAME} ${nope}\"],\"entrypoint\":[\"/bin/env\"],\"work_dir\":\"/tmp\","
     "\"hostname\":\"h1\"}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Cmd", "[\"/bin/sh\",\"-c\",\"echo 1 v web ${nope}\"]"},
      {"Entrypoint", "[\"/bin/env\"]"},
      {"WorkingDir", "\"/tmp\""},
      {"Hostname", "\"h1\""}}},
    {"args alone",
     DOC(IMG ",\"args\":[\"a\",\"b\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Cmd", "[\"a\",\"b\"]"}, {"Entrypoint", NULL}}},
    {"command white space",
     DOC(IMG ",\"command\":\" sh\""),
     0,
     0,
     NULL,
     65,
     "config.command: command contains extra white space: \" sh\"",
     {{0}}},
    {"env",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"group\":\"g\",\"user\":\"nobody\","
     "\"env\":{\"A\":\"b\",\"NOMAD_TASK_NAME\":\"evil\",\"P\":\"${NOMAD_PORT_db}\"},"
     "\"meta\":{\"team\":\"infra\"},\"resources\":{\"cpu\":500,\"memory\":256},"
     "\"ports\":[{\"label\":\"db\",\"value\":23456,\"to\":6379,\"host_ip\":\"10.0.0.1\"}],"
     "\"config\":{" IMG "}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"User", "\"nobody\""},
      {"Env",
       "[\"NOMAD_ALLOC_DIR=/alloc\",\"NOMAD_TASK_DIR=/local\",\"NOMAD_SECRETS_DIR=/secrets\","
       "\"NOMAD_ALLOC_ID=a1\",\"NOMAD_SHORT_ALLOC_ID=a1\",\"NOMAD_TASK_NAME=web\",\"NOMAD_GROUP_"
       "NAME=g\","
       "\"NOMAD_DC=dc1\",\"NOMAD_REGION=global\","
       "\"NOMAD_CPU_LIMIT=500\",\"NOMAD_MEMORY_LIMIT=256\",\"NOMAD_META_TEAM=infra\","
       "\"NOMAD_META_team=infra\",\"NOMAD_PORT_db=6379\",\"NOMAD_HOST_PORT_db=23456\","
       "\"NOMAD_IP_db=10.0.0.1\",\"NOMAD_ADDR_db=10.0.0.1:23456\","
       "\"NOMAD_HOST_IP_db=10.0.0.1\",\"NOMAD_HOST_ADDR_db=10.0.0.1:23456\",\"A=b\","
       "\"P=6379\"]"}}},
    {"labels",
     DOC(IMG ",\"labels\":{\"a\":\"b\",\"io.tdrv.alloc_id\":\"bad\"}"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Labels>a", "\"b\""}, {"Labels>io.tdrv.alloc_id", "\"a1\""}}},
    {"labels list of maps",
     DOC(IMG ",\"labels\":[{\"a\":\"1\"},{\"b\":2}]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Labels>a", "\"1\""}, {"Labels>b", "\"2\""}}},
    {"nomad label refused",
     DOC(IMG ",\"labels\":{\"com.hashicorp.nomad.alloc_id\":\"x\"}"),
     0,
     0,
     NULL,
     65,
     "config.labels: 'com.hashicorp.nomad.alloc_id' is Nomad's label; tdrv never sets it",
     {{0}}},
    {"memory hard limit",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"resources\":{\"memory\":256},\"config\":{" IMG
     ",\"memory_hard_limit\":300}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>Memory", "314572800"},
      {"HostConfig>MemoryReservation", "268435456"},
      {"HostConfig>MemorySwap", "314572800"},
      {"HostConfig>MemorySwappiness", "0"}}},
    {"quantities",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"resources\":{\"cpu\":\"1.5\",\"memory\":"
     "\"100Mi\",\"memory_max\":\"1Gi\"},\"config\":{" IMG "}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>CpuShares", "1500"},
      {"HostConfig>Memory", "1073741824"},
      {"HostConfig>MemoryReservation", "104857600"}}},
    {"bad quantity",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"resources\":{\"memory\":\"5x\"},\"config\":{" IMG
     "}}",
     0,
     0,
     NULL,
     65,
     NULL,
     {{0}}},
    {"memory max -1",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"resources\":{\"memory\":10,\"memory_max\":-1},"
     "\"config\":{" IMG "}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>Memory", NULL}, {"HostConfig>MemoryReservation", "10485760"}}},
    {"memory exceeds hard limit",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"resources\":{\"memory\":17},\"config\":{" IMG
     ",\"memory_hard_limit\":6}}",
     0,
     0,
     NULL,
     65,
     "config.memory_hard_limit: task memory requirements exceed driver hard limit of 6 MB",
     {{0}}},
    {"cpu hard limit",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"resources\":{\"cpu\":1000},\"config\":{" IMG
     ",\"cpu_hard_limit\":true,\"cpu_cfs_period\":50000,\"cpuset_cpus\":\"0\"}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>CpuShares", "1000"},
      {"HostConfig>CpuPeriod", "50000"},
      {"HostConfig>CpuQuota", "25000"},
      {"HostConfig>CpusetCpus", "\"0\""}}},
    {"cpu_cfs_period range",
     DOC(IMG ",\"cpu_cfs_period\":1000001"),
     0,
     0,
     NULL,
     65,
     "config.cpu_cfs_period: invalid value for cpu_cfs_period",
     {{0}}},
    {"limits",
     DOC(IMG ",\"pids_limit\":64,\"ulimit\":{\"nproc\":\"4242\",\"nofile\":\"1024:2048\"},"
             "\"sysctl\":{\"net.core.somaxconn\":\"16384\"},\"readonly_rootfs\":true,\"init\":true,"
             "\"shm_size\":1048576,\"oom_score_adj\":500,\"group_add\":[\"audio\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>PidsLimit", "64"},
      {"HostConfig>Ulimits", "[{\"Name\":\"nproc\",\"Soft\":4242,\"Hard\":4242},"
                             "{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":2048}]"},
      {"HostConfig>Sysctls", "{\"net.core.somaxconn\":\"16384\"}"},
      {"HostConfig>ReadonlyRootfs", "true"},
      {"HostConfig>Init", "true"},
      {"HostConfig>ShmSize", "1048576"},
      {"HostConfig>OomScoreAdj", "500"},
      {"HostConfig>GroupAdd", "[\"audio\"]"}}},
    {"ulimit empty",
     DOC(IMG ",\"ulimit\":{\"nproc\":\"\"}"),
     0,
     0,
     NULL,
     65,
     "config.ulimit: malformed ulimit specification nproc: \"\", cannot be empty",
     {{0}}},
    {"ulimit soft",
     DOC(IMG ",\"ulimit\":{\"nproc\":\"abc:1234\"}"),
     0,
     0,
     NULL,
     65,
     "config.ulimit: malformed soft ulimit nproc: abc:1234",
     {{0}}},
    {"ulimit hard",
     DOC(IMG ",\"ulimit\":{\"nproc\":\"1234:abc\"}"),
     0,
     0,
     NULL,
     65,
     "config.ulimit: malformed hard ulimit nproc: 1234:abc",
     {{0}}},
    {"privileged denied",
     DOC(IMG ",\"privileged\":true"),
     0,
     0,
     NULL,
     77,
     "config.privileged: Docker privileged mode is disabled by the operator's config "
     "(allow_privileged)",
     {{0}}},
    {"privileged allowed",
     DOC(IMG ",\"privileged\":true,\"pid_mode\":\"host\",\"ipc_mode\":\"host\","
             "\"uts_mode\":\"host\",\"userns_mode\":\"host\""),
     1,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>Privileged", "true"},
      {"HostConfig>PidMode", "\"host\""},
      {"HostConfig>IpcMode", "\"host\""},
      {"HostConfig>UTSMode", "\"host\""},
      {"HostConfig>UsernsMode", "\"host\""}}},
    {"pid_mode denied",
     DOC(IMG ",\"pid_mode\":\"host\""),
     0,
     0,
     NULL,
     77,
     "config.pid_mode: cannot apply \"pid_mode\" configuration: needs allow_privileged",
     {{0}}},
    {"caps",
     DOC(IMG ",\"cap_add\":[\"fowner\",\"CAP_MKNOD\"],\"cap_drop\":[\"chown\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>CapAdd", "[\"FOWNER\",\"MKNOD\"]"},
      {"HostConfig>CapDrop", "[\"NET_RAW\",\"CHOWN\"]"}}},
    {"caps denied",
     DOC(IMG ",\"cap_add\":[\"net_admin\",\"SYS_ADMIN\"]"),
     0,
     0,
     NULL,
     77,
     "config.cap_add: driver does not allow the following capabilities: net_admin, sys_admin",
     {{0}}},
    {"caps all allowed",
     DOC(IMG ",\"cap_add\":[\"net_admin\"]"),
     0,
     0,
     "[\"all\"]",
     0,
     NULL,
     {{"HostConfig>CapAdd", "[\"NET_ADMIN\"]"}, {"HostConfig>CapDrop", NULL}}},
    {"caps narrow allow",
     DOC(IMG),
     0,
     0,
     "[\"CHOWN\",\"NET_RAW\"]",
     0,
     NULL,
     {{"HostConfig>CapDrop", "[\"AUDIT_WRITE\",\"DAC_OVERRIDE\",\"FOWNER\",\"FSETID\",\"KILL\","
                             "\"MKNOD\",\"NET_BIND_SERVICE\",\"SETFCAP\",\"SETGID\",\"SETPCAP\","
                             "\"SETUID\",\"SYS_CHROOT\"]"}}},
    {"cap_drop all",
     DOC(IMG ",\"cap_drop\":[\"all\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>CapDrop", "[\"ALL\"]"}}},
    {"security_opt",
     DOC(IMG ",\"security_opt\":[\"no-new-privileges\",\"apparmor=unconfined\","
             "\"seccomp=unconfined\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>SecurityOpt",
       "[\"no-new-privileges\",\"apparmor=unconfined\",\"seccomp=unconfined\"]"}}},
    {"security_opt bad",
     DOC(IMG ",\"security_opt\":[\"bogus\"]"),
     0,
     0,
     NULL,
     65,
     "config.security_opt: invalid option 'bogus'",
     {{0}}},
    {"seccomp missing",
     DOC(IMG ",\"security_opt\":[\"seccomp=/nonexistent/prof.json\"]"),
     0,
     0,
     NULL,
     66,
     "config.security_opt: unable to open seccomp profile '/nonexistent/prof.json': No such file "
     "or directory",
     {{0}}},
    {"runtime",
     DOC(IMG ",\"runtime\":\"runc\""),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>Runtime", "\"runc\""}}},
    {"runtime denied",
     DOC(IMG ",\"runtime\":\"denied\""),
     0,
     0,
     NULL,
     77,
     "config.runtime: requested runtime \"denied\" is not allowed",
     {{0}}},
    {"isolation",
     DOC(IMG ",\"isolation\":\"hyperv\""),
     0,
     0,
     NULL,
     65,
     "config.isolation: isolation is only supported on Windows",
     {{0}}},
    {"devices",
     DOC(IMG ",\"devices\":[{\"host_path\":\"/dev/null\"},{\"host_path\":\"/dev/zero\","
             "\"container_path\":\"/dev/z\",\"cgroup_permissions\":\"r\"}]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>Devices",
       "[{\"PathOnHost\":\"/dev/null\",\"PathInContainer\":\"/dev/null\",\"CgroupPermissions\":"
       "\"rwm\"},{\"PathOnHost\":\"/dev/zero\",\"PathInContainer\":\"/dev/z\","
       "\"CgroupPermissions\":\"r\"}]"}}},
    {"devices no host path",
     DOC(IMG ",\"devices\":[{\"container_path\":\"/dev/x\"}]"),
     0,
     0,
     NULL,
     65,
     "config.devices[0]: host path must be set in configuration for devices",
     {{0}}},
    {"devices bad perms",
     DOC(IMG ",\"devices\":[{\"host_path\":\"/dev/x\",\"cgroup_permissions\":"
             "\"rxb\"}]"),
     0,
     0,
     NULL,
     65,
     "config.devices[0]: invalid cgroup permission string: \"rxb\"",
     {{0}}},
    {"volumes inside alloc",
     DOC(IMG ",\"volumes\":[\"data:/data\",\"../alloc/x:/x:ro\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>Binds",
       "[\"" ALLOC "/alloc:/alloc\",\"" ALLOC "/web/local:/local\",\"" ALLOC
       "/web/secrets:/secrets\",\"" ALLOC "/web/data:/data\",\"" ALLOC "/alloc/x:/x:ro\"]"}}},
    {"volumes outside refused",
     DOC(IMG ",\"volumes\":[\"/etc:/etc2\"]"),
     0,
     0,
     NULL,
     77,
     "config.volumes[0]: '/etc' is outside the allocation directory and volumes are disabled",
     {{0}}},
    {"volumes escape refused",
     DOC(IMG ",\"volumes\":[\"../../../x:/x\"]"),
     0,
     0,
     NULL,
     77,
     "config.volumes[0]: '../../../x' is outside the allocation directory and volumes are "
     "disabled",
     {{0}}},
    {"volumes enabled",
     DOC(IMG ",\"volumes\":[\"/tmp/nomad/../test-path:/t:rw\"]"),
     0,
     1,
     NULL,
     0,
     NULL,
     {{"HostConfig>Binds>3", "\"/tmp/test-path:/t:rw\""}}},
    {"volume spec",
     DOC(IMG ",\"volumes\":[\"/single-path\"]"),
     0,
     1,
     NULL,
     65,
     "config.volumes[0]: invalid docker volume: '/single-path'",
     {{0}}},
    {"volume_driver",
     DOC(IMG ",\"volume_driver\":\"local\",\"volumes\":[\"vol1:/v\"]"),
     0,
     1,
     NULL,
     0,
     NULL,
     {{"HostConfig>VolumeDriver", "\"local\""}, {"HostConfig>Binds>3", "\"vol1:/v\""}}},
    {"volume_driver refused",
     DOC(IMG ",\"volume_driver\":\"local\""),
     0,
     0,
     NULL,
     77,
     "config.volume_driver: volumes are not enabled",
     {{0}}},
    {"mounts",
     DOC(IMG
         ",\"mount\":[{\"type\":\"bind\",\"source\":\"local/cfg\",\"target\":\"/cfg\","
         "\"readonly\":true},{\"type\":\"tmpfs\",\"target\":\"/scratch\",\"tmpfs_options\":"
         "{\"size\":1048576,\"mode\":448}}],\"mounts\":[{\"target\":\"/v\",\"source\":\"v1\"}]"),
     0,
     1,
     NULL,
     0,
     NULL,
     {{"HostConfig>Mounts",
       "[{\"Type\":\"bind\",\"Target\":\"/cfg\",\"Source\":\"" ALLOC
       "/web/local/cfg\",\"ReadOnly\":true,\"BindOptions\":{}},{\"Type\":\"tmpfs\",\"Target\":"
       "\"/scratch\",\"TmpfsOptions\":{\"SizeBytes\":1048576,\"Mode\":448}},{\"Type\":\"volume\","
       "\"Target\":\"/v\",\"Source\":\"v1\",\"VolumeOptions\":{\"DriverConfig\":{}}}]"}}},
    {"mount volume refused",
     DOC(IMG ",\"mount\":[{\"target\":\"/v\",\"source\":\"v1\"}]"),
     0,
     0,
     NULL,
     77,
     "config.mount[0]: volumes are not enabled; cannot mount volume 'v1'",
     {{0}}},
    {"mount bad type",
     DOC(IMG ",\"mount\":[{\"type\":\"nfs\",\"target\":\"/v\"}]"),
     0,
     0,
     NULL,
     65,
     "config.mount[0]: mount type 'nfs' is not one of bind, volume, tmpfs",
     {{0}}},
    {"network",
     DOC(IMG ",\"network_mode\":\"tdrvnet\",\"network_aliases\":[\"web\"],\"ipv4_address\":"
             "\"172.30.0.5\",\"mac_address\":\"02:68:b3:29:da:98\",\"dns_servers\":[\"1.1.1.1\","
             "\"bogus\"],\"dns_search_domains\":[\"example.com\"],\"dns_options\":[\"ndots:2\"],"
             "\"extra_hosts\":[\"db:10.0.0.2\"]"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>NetworkMode", "\"tdrvnet\""},
      {"NetworkingConfig", "{\"EndpointsConfig\":{\"tdrvnet\":{\"Aliases\":[\"web\"],"
                           "\"IPAMConfig\":{\"IPv4Address\":\"172.30.0.5\"},\"MacAddress\":"
                           "\"02:68:b3:29:da:98\"}}}"},
      {"MacAddress", "\"02:68:b3:29:da:98\""},
      {"HostConfig>Dns", "[\"1.1.1.1\"]"},
      {"HostConfig>DnsSearch", "[\"example.com\"]"},
      {"HostConfig>DnsOptions", "[\"ndots:2\"]"},
      {"HostConfig>ExtraHosts", "[\"db:10.0.0.2\"]"}}},
    {"bad ipv4",
     DOC(IMG ",\"ipv4_address\":\"1.2.3\""),
     0,
     0,
     NULL,
     65,
     "config.ipv4_address: invalid IPv4 address '1.2.3'",
     {{0}}},
    {"host network",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"network\":{\"mode\":\"host\"},"
     "\"config\":{" IMG "}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>NetworkMode", "\"host\""}}},
    {"ports",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"ports\":[{\"label\":\"http\",\"value\":8080,"
     "\"to\":80,\"host_ip\":\"127.0.0.1\"},{\"label\":\"x\",\"value\":9000}],"
     "\"config\":{" IMG ",\"ports\":[\"http\",\"x\"]}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"ExposedPorts", "{\"80/tcp\":{},\"80/udp\":{},\"9000/tcp\":{},\"9000/udp\":{}}"},
      {"HostConfig>PortBindings",
       "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}],\"80/udp\":[{\"HostIp\":"
       "\"127.0.0.1\",\"HostPort\":\"8080\"}],\"9000/tcp\":[{\"HostIp\":\"127.0.0.1\","
       "\"HostPort\":\"9000\"}],\"9000/"
       "udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"9000\"}]}"}}},
    {"ports unknown",
     DOC(IMG ",\"ports\":[\"nope\"]"),
     0,
     0,
     NULL,
     65,
     "config.ports: port \"nope\" not found, check network block",
     {{0}}},
    {"ports static from network",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"network\":{\"ports\":[{\"label\":\"s\",\"static\":"
     "7000}]},\"config\":{" IMG ",\"ports\":[\"s\"]}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>PortBindings>7000/tcp", "[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"7000\"}]"}}},
    {"port_map",
     "{\"alloc_id\":\"a1\",\"task\":\"web\",\"ports\":[{\"label\":\"main\",\"value\":23332}],"
     "\"config\":{" IMG ",\"port_map\":[{\"main\":8080}]}}",
     0,
     0,
     NULL,
     0,
     NULL,
     {{"ExposedPorts", "{\"8080/tcp\":{},\"8080/udp\":{}}"},
      {"HostConfig>PortBindings>8080/udp", "[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"23332\"}]"}}},
    {"port_map no network",
     DOC(IMG ",\"port_map\":{\"main\":8080}"),
     0,
     0,
     NULL,
     65,
     "config.port_map: trying to map ports but no network interface is available",
     {{0}}},
    {"tty interactive",
     DOC(IMG ",\"tty\":true,\"interactive\":true"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"Tty", "true"}, {"OpenStdin", "true"}, {"AttachStdin", "true"}, {"StdinOnce", "true"}}},
    {"logging type wins",
     DOC(IMG ",\"logging\":{\"type\":\"json-file\",\"driver\":\"fluentd\"}"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>LogConfig", "{\"Type\":\"json-file\"}"}}},
    {"logging driver",
     DOC(IMG ",\"logging\":{\"driver\":\"fluentd\"}"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>LogConfig", "{\"Type\":\"fluentd\"}"}}},
    {"logging config only",
     DOC(IMG ",\"logging\":{\"config\":{\"max-size\":\"10m\"}}"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>LogConfig", "{\"Type\":\"\",\"Config\":{\"max-size\":\"10m\"}}"}}},
    {"storage_opt healthchecks",
     DOC(IMG ",\"storage_opt\":{\"size\":\"40G\"},\"healthchecks\":{\"disable\":true}"),
     0,
     0,
     NULL,
     0,
     NULL,
     {{"HostConfig>StorageOpt", "{\"size\":\"40G\"}"}, {"Healthcheck", "{\"Test\":[\"NONE\"]}"}}},
    {"type error",
     DOC(IMG ",\"privileged\":\"yes\""),
     0,
     0,
     NULL,
     65,
     "config.privileged: expected boolean",
     {{0}}},
    {"bad image", DOC("\"image\":\"wrong-docker-image:\""), 0, 0, NULL, 65, NULL, {{0}}},
    {"bad task name",
     "{\"alloc_id\":\"a1\",\"task\":\"../x\",\"config\":{" IMG "}}",
     0,
     0,
     NULL,
     65,
     "request.task: invalid task name '../x'",
     {{0}}},
};

static const cJSON *body_at(const cJSON *body, const char *path)
{
    char buf[256];
    char *save = NULL;
    const cJSON *v = body;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ">", &save); k && v; k = strtok_r(NULL, ">", &save)) {
        if (cJSON_IsArray(v))
            v = cJSON_GetArrayItem(v, (int)strtol(k, NULL, 10));
        else
            v = cJSON_GetObjectItemCaseSensitive(v, k);
    }
    return v;
}

static void run_case(const struct spec_case *c)
{
    struct tdrv_config cfg;
    struct tdrv_docker_spec spec;
    struct tdrv_err err = {0};
    cleanup_json cJSON *doc = NULL;
    struct tdrv_docker_spec_ctx ctx = {
        .cfg = &cfg,
        .alloc_dir = ALLOC,
        .lease_path = ALLOC "/web/lease",
        .host_ip = "127.0.0.1",
        .total_compute = 4000,
        .ncpu = 2,
    };
    int rc;

    tdrv_config_init(&cfg);
    cfg.allow_privileged = c->privileged;
    cfg.volumes_enabled = c->volumes_enabled;
    if (c->caps)
        tdrv_json_parse(c->caps, strlen(c->caps), &cfg.allow_caps, &err);
    tdrv_docker_spec_init(&spec);
    if (tdrv_json_parse(c->doc, strlen(c->doc), &doc, &err) < 0) {
        ok(0, "docker_spec %s: document parses (%s)", c->name, err.msg);
        tdrv_config_release(&cfg);
        return;
    }
    rc = tdrv_docker_spec_build(doc, &ctx, &spec, &err);
    if (c->code) {
        CHECK_INT(rc < 0 ? err.code : 0, c->code, "docker_spec %s: exit %d", c->name, c->code);
        if (c->msg)
            CHECK_STR(err.msg, c->msg, "docker_spec %s: message", c->name);
    } else {
        CHECK_INT(rc, 0, "docker_spec %s: builds (%s)", c->name, err.msg);
        for (size_t i = 0; rc == 0 && i < TDRV_ARRAY_LEN(c->checks) && c->checks[i].path; i++) {
            const cJSON *v = body_at(spec.body, c->checks[i].path);
            char *got = v ? cJSON_PrintUnformatted(v) : NULL;

            CHECK_STR(got, c->checks[i].want, "docker_spec %s: %s", c->name, c->checks[i].path);
            cJSON_free(got);
        }
    }
    tdrv_docker_spec_release(&spec);
    tdrv_config_release(&cfg);
}

static void test_seccomp_inline(void)
{
    char dir[] = "/tmp/tdrv-spec-XXXXXX";
    cleanup_free char *path = NULL;
    cleanup_free char *docs = NULL;
    cleanup_json cJSON *doc = NULL;
    struct tdrv_config cfg;
    struct tdrv_docker_spec spec;
    struct tdrv_err err = {0};
    struct tdrv_docker_spec_ctx ctx = {.cfg = &cfg, .alloc_dir = "/x"};
    FILE *f;
    const cJSON *v;

    if (!mkdtemp(dir)) {
        ok(0, "docker_spec seccomp: mkdtemp");
        return;
    }
    path = tdrv_xasprintf("%s/p.json", dir);
    f = fopen(path, "w");
    fputs("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n", f);
    fclose(f);
    docs = tdrv_xasprintf(DOC(IMG ",\"security_opt\":[\"seccomp=%s\"]"), path);
    tdrv_config_init(&cfg);
    tdrv_docker_spec_init(&spec);
    tdrv_json_parse(docs, strlen(docs), &doc, &err);
    CHECK_INT(tdrv_docker_spec_build(doc, &ctx, &spec, &err), 0, "docker_spec seccomp: builds");
    v = body_at(spec.body, "HostConfig>SecurityOpt>0");
    CHECK_STR(v ? v->valuestring : NULL, "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}",
              "docker_spec seccomp: profile inlined, compacted");
    CHECK_STR(spec.name, "web-a1", "docker_spec: container name <task>-<alloc_id>");
    CHECK_INT(spec.kill_timeout_ns, 5000000000LL, "docker_spec: kill_timeout default 5s");
    tdrv_docker_spec_release(&spec);
    tdrv_config_release(&cfg);
    unlink(path);
    rmdir(dir);
}

static void test_path_clean(void)
{
    static const struct {
        const char *in;
        const char *want;
    } t[] = {
        {"/tmp/alloc/task/../../d1/d2", "/tmp/d1/d2"},
        {"/home/user/..", "/home"},
        {"a/./b//c/", "a/b/c"},
        {"../a", "../a"},
        {"/..", "/"},
        {"", "."},
        {"a/..", "."},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(t); i++) {
        char buf[128];

        snprintf(buf, sizeof(buf), "%s", t[i].in);
        tdrv_docker_path_clean(buf);
        CHECK_STR(buf, t[i].want, "path_clean '%s'", t[i].in);
    }
}

void test_docker_spec(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++)
        run_case(&cases[i]);
    test_seccomp_inline();
    test_path_clean();
}
