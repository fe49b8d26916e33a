/* Reading the task document: plain, pass-through errors, and Nomad API jobs. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "mem.h"
#include "tap.h"
#include "task.h"

void test_task(void);

static int is_uuid4(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* Read `text` through a pipe as tdrv_task_read does with stdin. */
static int read_text(const char *text, const char *select, cJSON **doc, struct tdrv_err *err)
{
    int p[2];
    int rc;

    if (pipe(p) < 0)
        return -1;
    if (write(p[1], text, strlen(text)) != (ssize_t)strlen(text))
        return -1;
    close(p[1]);
    rc = tdrv_task_read(p[0], select, doc, err);
    close(p[0]);
    return rc;
}

static int read_fixture(const char *select, cJSON **doc, struct tdrv_err *err)
{
    const char *top = getenv("TDRV_TOP");
    char path[4096];
    int fd;
    int rc;

    snprintf(path, sizeof(path), "%s/tests/fixtures/nomad-job.json", top ? top : ".");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tdrv_err_set(err, 66, 0, "no fixture '%s'", path);
    rc = tdrv_task_read(fd, select, doc, err);
    close(fd);
    return rc;
}

/* The document without its (random) alloc_id, as compact JSON. */
static char *without_id(cJSON *doc, int *uuid_ok)
{
    cJSON *id = cJSON_DetachItemFromObjectCaseSensitive(doc, "alloc_id");

    *uuid_ok = cJSON_IsString(id) && is_uuid4(id->valuestring);
    cJSON_Delete(id);
    return cJSON_PrintUnformatted(doc);
}

static const struct {
    const char *select;
    const char *want;
} jobs[] = {
    {"cache/redis",
     "{\"task\":\"redis\",\"group\":\"cache\",\"job\":\"example\",\"driver\":\"docker\","
     "\"config\":{\"image\":\"redis:7\",\"ports\":[\"db\"],\"args\":[\"--port\","
     "\"${NOMAD_PORT_db}\"]},\"env\":{\"LOG_LEVEL\":\"info\"},\"meta\":{\"owner\":\"infra\","
     "\"team\":\"cache\",\"tier\":\"backend\",\"role\":\"primary\"},\"resources\":{\"cpu\":500,"
     "\"memory\":256,\"memory_max\":512},\"network\":{\"mode\":\"bridge\",\"ports\":[{\"label\":"
     "\"admin\",\"static\":8500},{\"label\":\"db\",\"to\":6379}]},\"kill_timeout\":\"5s\","
     "\"kill_signal\":\"SIGTERM\"}"},
    {"web/frontend",
     "{\"task\":\"frontend\",\"group\":\"web\",\"job\":\"example\",\"driver\":\"docker\","
     "\"config\":{\"image\":\"nginx:1.25\",\"port_map\":[{\"http\":80}]},\"env\":{},\"meta\":{"
     "\"owner\":\"infra\",\"team\":\"web\"},\"user\":\"nobody\",\"resources\":{\"cpu\":100,"
     "\"memory\":64},\"network\":{\"ports\":[{\"label\":\"http\"}]},\"kill_timeout\":\"1m30s\"}"},
    {"web/sidecar",
     "{\"task\":\"sidecar\",\"group\":\"web\",\"job\":\"example\",\"driver\":\"rkt\","
     "\"config\":{\"image\":\"docker://busybox:1.36\",\"command\":\"/bin/sh\"},\"env\":{},"
     "\"meta\":{\"owner\":\"infra\",\"team\":\"web-sidecar\"},\"resources\":{\"cpu\":50,"
     "\"memory\":16}}"},
};

static const struct {
    const char *text;
    const char *select;
    int code;
    const char *msg;
} bad[] = {
    {"[1]", NULL, 65, "request: expected object"},
    {"{\"Job\": 3}", NULL, 65, "request.Job: expected object"},
    {"{\"Job\": {\"TaskGroups\": \"x\"}}", NULL, 65, "request.Job.TaskGroups: expected array"},
    {"{\"Job\": {\"TaskGroups\": []}}", NULL, 65, "request.Job: the job has no task"},
    {"{\"Job\": {\"TaskGroups\": [{\"Name\": \"g\", \"Tasks\": [{\"Name\": 7}]}]}}", NULL, 65,
     "request.Job.TaskGroups[0].Tasks[0].Name: expected string"},
    {"{\"Job\": {\"TaskGroups\": [{\"Name\": \"g\", \"Tasks\": [{\"Name\": \"t\", \"KillTimeout\":"
     " \"5s\"}]}]}}",
     NULL, 65, "request.Job.TaskGroups[0].Tasks[0].KillTimeout: expected number"},
    {"{\"Job\": {\"TaskGroups\": [{\"Name\": \"g\", \"Tasks\": [{\"Name\": \"t\"}]}]}}", "g", 64,
     "invalid --task 'g' (expected GROUP/TASK)"},
    {"{\"Job\": {\"TaskGroups\": [{\"Name\": \"g\", \"Tasks\": [{\"Name\": \"t\"}]}]}}", "g/u", 64,
     "no task 'g/u' in the job (tasks: g/t)"},
    {"{\"task\": \"t\", \"group\": \"g\"}", "g/u", 64,
     "--task 'g/u' does not match the document's task 'g/t'"},
    {"{\"Job\": {\"TaskGroups\": [{\"Name\": \"g\", \"Networks\": [{\"DynamicPorts\": [{\"To\": "
     "80}]}], \"Tasks\": [{\"Name\": \"t\"}]}]}}",
     NULL, 65, "request.Job.TaskGroups[0].Networks[0].DynamicPorts[0].Label: required"},
};

void test_task(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(jobs); i++) {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;
        char *s = NULL;
        int uuid_ok = 0;

        ok(read_fixture(jobs[i].select, &doc, &err) == 0, "job fixture %s converts (%s)",
           jobs[i].select, err.msg);
        if (doc)
            s = without_id(doc, &uuid_ok);
        ok(uuid_ok, "job fixture %s has a UUIDv4 alloc_id", jobs[i].select);
        CHECK_STR(s, jobs[i].want, "job fixture %s task document", jobs[i].select);
        cJSON_free(s);
        cJSON_Delete(doc);
    }
    {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;

        ok(read_fixture(NULL, &doc, &err) < 0, "job with three tasks needs --task");
        CHECK_INT(err.code, 64, "job with three tasks is a usage error");
        CHECK_STR(err.msg,
                  "the job has 3 tasks, choose one with --task GROUP/TASK: cache/redis, "
                  "web/frontend, web/sidecar",
                  "job with three tasks lists the choices");
        cJSON_Delete(doc);
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(bad); i++) {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;

        ok(read_text(bad[i].text, bad[i].select, &doc, &err) < 0, "bad task %zu refused", i);
        CHECK_INT(err.code, bad[i].code, "bad task %zu exit code", i);
        CHECK_STR(err.msg, bad[i].msg, "bad task %zu message", i);
        cJSON_Delete(doc);
    }
    {
        /* Found writing fuzz_task: long names overflowed the capped list of task names, so a job
         * whose only group had a 5000-byte name was refused with "more than 4096 bytes". */
        char name[5001];
        struct tdrv_err err = {0};
        cJSON *doc = NULL;
        char *one;
        char *two;

        memset(name, 'g', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        one = tdrv_xasprintf(
            "{\"Job\": {\"TaskGroups\": [{\"Name\": \"%s\", \"Tasks\": [{\"Name\": \"t\"}]}]}}",
            name);
        ok(read_text(one, NULL, &doc, &err) == 0, "job with a 5000-byte group name converts (%s)",
           err.msg);
        CHECK_STR(doc ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "group")) : NULL,
                  name, "job with a 5000-byte group name keeps it");
        cJSON_Delete(doc);
        doc = NULL;
        two = tdrv_xasprintf("{\"Job\": {\"TaskGroups\": [{\"Name\": \"a\", \"Tasks\": [{\"Name\": "
                             "\"t\"}]}, {\"Name\": \"%s\", \"Tasks\": [{\"Name\": \"u\"}]}]}}",
                             name);
        ok(read_text(two, NULL, &doc, &err) < 0, "job with two tasks and a long name needs --task");
        CHECK_INT(err.code, 64, "job with a long task name: usage error");
        CHECK_STR(err.msg, "the job has 2 tasks, choose one with --task GROUP/TASK: a/t, ...",
                  "job with a long task name: the list stops at the long name");
        cJSON_Delete(doc);
        free(one);
        free(two);
    }
    {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;
        const char *in =
            "{\"task\":\"x\",\"error\":{\"tool\":\"tdrv-pull\",\"code\":\"auth_failed\","
            "\"exit\":77,\"message\":\"denied\"}}";
        char *s;

        ok(read_text(in, NULL, &doc, &err) < 0, "error document is refused");
        CHECK_INT(err.passthrough, 1, "error document passes through");
        CHECK_INT(err.code, 77, "error document keeps its status");
        s = doc ? cJSON_PrintUnformatted(doc) : NULL;
        CHECK_STR(s, in, "error document is kept unchanged");
        cJSON_free(s);
        cJSON_Delete(doc);
    }
    {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;

        ok(read_text("{\"error\":{\"exit\":\"x\"}}", NULL, &doc, &err) < 0 && err.passthrough,
           "error document without a valid exit passes through");
        CHECK_INT(err.code, 70, "error document without a valid exit is 70");
        cJSON_Delete(doc);
    }
    {
        struct tdrv_err err = {0};
        cJSON *doc = NULL;
        const cJSON *id;

        ok(read_text("task: web\nnetwork: {ports: [{label: http}]}\n", "/", &doc, &err) < 0,
           "bad --task on a plain document refused");
        ok(read_text("task: web\nnetwork: {ports: [{label: http}]}\n", NULL, &doc, &err) == 0,
           "plain YAML task document reads");
        id = cJSON_GetObjectItemCaseSensitive(doc, "alloc_id");
        ok(id == NULL, "plain document gets no alloc_id from reading");
        ok(tdrv_task_ensure_alloc_id(doc, &err) == 0, "ensure_alloc_id adds one");
        id = cJSON_GetObjectItemCaseSensitive(doc, "alloc_id");
        ok(cJSON_IsString(id) && is_uuid4(id->valuestring), "added alloc_id is a UUIDv4");
        cJSON_Delete(doc);
        doc = NULL;
        ok(read_text("{\"alloc_id\": \"a1\"}", NULL, &doc, &err) == 0 &&
               tdrv_task_ensure_alloc_id(doc, &err) == 0,
           "ensure_alloc_id keeps an alloc_id");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(doc, "alloc_id")->valuestring, "a1",
                  "existing alloc_id unchanged");
        cJSON_Delete(doc);
        doc = NULL;
        ok(read_text("{\"alloc_id\": 5}", NULL, &doc, &err) == 0 &&
               tdrv_task_ensure_alloc_id(doc, &err) < 0 && err.code == 65,
           "non-string alloc_id is 65");
        cJSON_Delete(doc);
    }
    {
        char a[TDRV_UUID_BUFSZ];
        char b[TDRV_UUID_BUFSZ];
        struct tdrv_err err = {0};

        ok(tdrv_uuid4(a, &err) == 0 && tdrv_uuid4(b, &err) == 0 && is_uuid4(a) && is_uuid4(b) &&
               strcmp(a, b),
           "two UUIDv4 differ (%s %s)", a, b);
    }
}
