/*
 * Docker Engine answers tdrv parses: /version (tdrv_docker_api_version), a container wait and
 * inspect (tdrv_docker_wait_code, tdrv_docker_result, tdrv_docker_result_status), the JSON
 * Lines of an image pull (tdrv_pull_docker_check_stream) and a multiplexed log stream
 * (tdrv_docker_demux_feed), all on the input.
 * Invariants: the API version chosen is digits and dots, not newer than TDRV_DOCKER_API_MAX,
 * or the answer is refused with 76; a result has a numeric exit_code, a signal in 0-64, a
 * boolean oom_killed, and gives an exit status in 0-255; a pull stream is accepted or
 * refused with 66, 77 or 69 naming the image; the demultiplexer gives the same streams
 * whether fed at once or a byte at a time, only streams 1 and 2, and no more bytes than
 * the input after its frame headers.
 */
#include "fuzz.h"

#include "buf.h"
#include "docker.h"
#include "docker_run.h"
#include "json.h"
#include "mem.h"
#include "pull_docker.h"

static void version(const cJSON *doc)
{
    char api[16];
    struct tdrv_err err = {0};

    if (tdrv_docker_api_version(doc, api, sizeof(api), &err) < 0) {
        FUZZ_ASSERT(err.code == TDRV_E_PROTOCOL && err.msg[0], "version: exit %d", err.code);
        return;
    }
    FUZZ_ASSERT(api[0] && strspn(api, "0123456789.") == strlen(api), "API version '%s'", api);
    FUZZ_ASSERT(tdrv_docker_api_cmp(api, TDRV_DOCKER_API_MAX) <= 0, "API version '%s' too new",
                api);
}

static void result(const cJSON *doc)
{
    cleanup_json cJSON *r = tdrv_docker_result(doc, tdrv_docker_wait_code(doc));
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "exit_code");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(r, "signal");
    int st;

    FUZZ_ASSERT(cJSON_IsObject(r), "no result");
    FUZZ_ASSERT(cJSON_IsNumber(code), "exit_code");
    FUZZ_ASSERT(cJSON_IsNumber(sig) && sig->valuedouble >= 0 && sig->valuedouble <= 64, "signal %g",
                cJSON_IsNumber(sig) ? sig->valuedouble : -1.0);
    FUZZ_ASSERT(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "oom_killed")), "oom_killed");
    st = tdrv_docker_result_status(r);
    FUZZ_ASSERT(st >= 0 && st <= 255, "status %d", st);
    st = tdrv_docker_result_status(doc); /* a result document from elsewhere (state.json) */
    FUZZ_ASSERT(st >= 0 && st <= 255, "status %d", st);
}

static void pull_stream(const char *in)
{
    struct tdrv_err err = {0};

    if (tdrv_pull_docker_check_stream(in, "docker.io/library/fuzz:1", &err) == 0) {
        FUZZ_ASSERT(err.code == 0, "pull stream: error set on success");
        return;
    }
    FUZZ_ASSERT(err.code == TDRV_E_NOINPUT || err.code == TDRV_E_NOPERM ||
                    err.code == TDRV_E_UNAVAILABLE,
                "pull stream: exit %d", err.code);
    FUZZ_ASSERT(strstr(err.msg, "'docker.io/library/fuzz:1'"), "pull stream: '%s'", err.msg);
}

struct streams {
    struct tdrv_buf b[3];
};

static int collect(int stream, const char *p, size_t n, void *arg)
{
    struct streams *s = arg;
    struct tdrv_err err = {0};

    FUZZ_ASSERT(stream == 1 || stream == 2, "stream %d", stream);
    FUZZ_ASSERT(n > 0, "empty piece");
    FUZZ_ASSERT(tdrv_buf_add(&s->b[stream], p, n, &err) == 0, "buffer");
    return 0;
}

static void demux(const uint8_t *data, size_t size)
{
    struct streams whole;
    struct streams bytes;
    struct tdrv_docker_demux a = {.out = collect, .arg = &whole};
    struct tdrv_docker_demux b = {.out = collect, .arg = &bytes};

    for (int i = 0; i < 3; i++) {
        tdrv_buf_init(&whole.b[i], 1u << 24);
        tdrv_buf_init(&bytes.b[i], 1u << 24);
    }
    FUZZ_ASSERT(tdrv_docker_demux_feed(&a, (const char *)data, size) == 0, "demux");
    for (size_t i = 0; i < size; i++)
        FUZZ_ASSERT(tdrv_docker_demux_feed(&b, (const char *)data + i, 1) == 0, "demux");
    for (int i = 1; i < 3; i++)
        FUZZ_ASSERT(
            whole.b[i].len == bytes.b[i].len &&
                (!whole.b[i].len || !memcmp(whole.b[i].data, bytes.b[i].data, whole.b[i].len)),
            "stream %d differs when fed a byte at a time", i);
    FUZZ_ASSERT(whole.b[1].len + whole.b[2].len <= size, "more bytes out than in");
    for (int i = 0; i < 3; i++) {
        tdrv_buf_release(&whole.b[i]);
        tdrv_buf_release(&bytes.b[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    cleanup_json cJSON *doc = NULL;
    struct tdrv_err err = {0};

    demux(data, size);
    pull_stream(in);
    if (tdrv_json_parse(in, size, &doc, &err) < 0)
        return 0;
    version(doc);
    result(doc);
    return 0;
}
