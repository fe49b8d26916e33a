/* The Engine's multiplexed stream, split onto stdout/stderr, whatever the read sizes. */
#include <string.h>

#include "docker_run.h"
#include "mem.h"
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

void test_docker_run(void)
{
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
