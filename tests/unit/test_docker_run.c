/* The Engine's multiplexed stream, split onto stdout/stderr, whatever the read sizes; the
 * Engine's other answers: /version, wait, inspect, an image pull's stream. */
#include <string.h>

#include "docker.h"
#include "docker_run.h"
#include "json.h"
#include "mem.h"
#include "pull_docker.h"
#include "tap.h"

void test_docker_run(void);

struct got {
    char out[256];
    char err[256];
    size_t no;
    size_t ne;
};

static int collect(int stream, const char *p, size_t n, void *arg)
{
    struct got *g = arg;

    if (stream == 2) {
        memcpy(g->err + g->ne, p, n);
        g->ne += n;
    } else {
        memcpy(g->out + g->no, p, n);
        g->no += n;
    }
    return 0;
}

static cJSON *doc(const char *text)
{
    cJSON *d = NULL;
    struct tdrv_err err = {0};

    if (tdrv_json_parse(text, strlen(text), &d, &err) < 0)
        ok(0, "'%s': %s", text, err.msg);
    return d;
}

static void test_answers(void)
{
    static const struct {
        const char *version;
        const char *api; /* or the error message */
    } versions[] = {
        {"{\"ApiVersion\":\"1.41\",\"Version\":\"20.10.24\"}", "1.41"},
        {"{\"ApiVersion\":\"1.45\"}", "1.43"},
        {"{\"Version\":\"1.13.1\"}", "1.43"},
        {"{\"ApiVersion\":\"\"}", "1.43"},
        /* Found by fuzz_engine: the version becomes a path segment of every request. */
        {"{\"ApiVersion\":\"1.40-beta/../x\"}", "1.43"},
        {"{\"ApiVersion\":\"1.0000000000000000000001\"}", "1.43"},
        {"{\"ApiVersion\":5}", "docker engine /version: request.ApiVersion: expected string"},
    };
    static const struct {
        const char *inspect;
        const char *wait;
        long long exit_code;
        int signal;
        int status;
    } results[] = {
        {"{\"State\":{\"ExitCode\":137,\"OOMKilled\":true}}", "{}", 137, 9, 137},
        {"{\"State\":{}}", "{\"StatusCode\":3}", 3, 0, 3},
        {"{\"State\":{\"ExitCode\":-1}}", "{}", -1, 0, 125},
        /* Found by fuzz_engine: numbers no int64_t holds were cast (UBSan). */
        {"{\"State\":{\"ExitCode\":1e300}}", "{\"StatusCode\":2}", 2, 0, 2},
        {"{\"State\":{}}", "{\"StatusCode\":1e300}", 0, 0, 0},
        {"{\"State\":{\"ExitCode\":4294967296}}", "{}", 4294967296LL, 0, 125},
    };
    static const struct {
        const char *stream;
        int code;
        const char *msg;
    } pulls[] = {
        {"{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n"
         "{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\n",
         0, NULL},
        {"not json\n\n{\"error\":5}\n", 0, NULL},
        {"{\"error\":\"manifest for busybox:nope not found: manifest unknown\"}", 66,
         "docker engine: unable to pull 'busybox:nope': manifest for busybox:nope not found: "
         "manifest unknown"},
        {"{\"status\":\"x\"}\n{\"error\":\"unauthorized: authentication required\"}\n", 77,
         "docker engine: unable to pull 'busybox:nope': unauthorized: authentication required"},
        {"{\"error\":\"dial tcp: lookup registry-1.docker.io: no such host\"}", 69,
         "docker engine: unable to pull 'busybox:nope': dial tcp: lookup registry-1.docker.io: no "
         "such host"},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(versions); i++) {
        cleanup_json cJSON *v = doc(versions[i].version);
        struct tdrv_err err = {0};
        char api[16] = "";

        if (tdrv_docker_api_version(v, api, sizeof(api), &err) == 0) {
            CHECK_STR(api, versions[i].api, "api version %zu", i);
        } else {
            CHECK_INT(err.code, 76, "api version %zu refused", i);
            CHECK_STR(err.msg, versions[i].api, "api version %zu message", i);
        }
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(results); i++) {
        cleanup_json cJSON *insp = doc(results[i].inspect);
        cleanup_json cJSON *w = doc(results[i].wait);
        cleanup_json cJSON *r = tdrv_docker_result(insp, tdrv_docker_wait_code(w));

        CHECK_INT(cJSON_GetObjectItemCaseSensitive(r, "exit_code")->valuedouble,
                  results[i].exit_code, "result %zu exit_code", i);
        CHECK_INT(cJSON_GetObjectItemCaseSensitive(r, "signal")->valuedouble, results[i].signal,
                  "result %zu signal", i);
        CHECK_INT(tdrv_docker_result_status(r), results[i].status, "result %zu status", i);
    }
    {
        /* Found by fuzz_engine: a result document's exit_code was cast to int (UBSan). */
        cleanup_json cJSON *r = doc("{\"exit_code\":1e10}");

        CHECK_INT(tdrv_docker_result_status(r), 125, "status of exit_code 1e10");
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(pulls); i++) {
        struct tdrv_err err = {0};
        int rc = tdrv_pull_docker_check_stream(pulls[i].stream, "busybox:nope", &err);

        CHECK_INT(rc < 0 ? err.code : 0, pulls[i].code, "pull stream %zu", i);
        if (pulls[i].msg)
            CHECK_STR(err.msg, pulls[i].msg, "pull stream %zu message", i);
    }
}

void test_docker_run(void)
{
    test_answers();
    /* frames: stdout "hello\n", stderr "oops", stdout "", stdout "x" */
    static const unsigned char stream[] = {
        1,   0,   0,   0,   0, 0, 0, 6, 'h', 'e', 'l', 'l', 'o', '\n', 2, 0, 0, 0, 0, 0, 0,   4,
        'o', 'o', 'p', 's', 1, 0, 0, 0, 0,   0,   0,   0,   1,   0,    0, 0, 0, 0, 0, 1, 'x',
    };
    static const size_t chunks[] = {1, 3, 7, sizeof(stream)};

    for (size_t c = 0; c < TDRV_ARRAY_LEN(chunks); c++) {
        struct got g = {0};
        struct tdrv_docker_demux d = {.out = collect, .arg = &g};
        size_t off = 0;
        int rc = 0;

        while (off < sizeof(stream) && rc == 0) {
            size_t n = chunks[c] < sizeof(stream) - off ? chunks[c] : sizeof(stream) - off;

            rc = tdrv_docker_demux_feed(&d, (const char *)stream + off, n);
            off += n;
        }
        g.out[g.no] = '\0';
        g.err[g.ne] = '\0';
        CHECK_INT(rc, 0, "demux by %zu bytes: no error", chunks[c]);
        CHECK_STR(g.out, "hello\nx", "demux by %zu bytes: stdout", chunks[c]);
        CHECK_STR(g.err, "oops", "demux by %zu bytes: stderr", chunks[c]);
    }
}
