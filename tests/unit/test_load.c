/* Loading archives into the store (tdrv_store_load): refusals found by fuzz_load, with their
 * exact messages (and, under ASan, no leak); and error messages re-worded from themselves. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "buf.h"
#include "err.h"
#include "mem.h"
#include "store.h"
#include "tap.h"

void test_load(void);

/* Append a ustar entry (type '0' file, '5' directory, '1' hard link or '2' symlink to data) to
 * b. */
static void tar_add(struct tdrv_buf *b, const char *name, char type, const char *data)
{
    unsigned char h[512];
    static const char pad[512];
    size_t n = data && type != '1' && type != '2' ? strlen(data) : 0;
    unsigned sum = 0;
    struct tdrv_err err = {0};

    memset(h, 0, sizeof(h));
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)n);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    if (type == '1' || type == '2')
        snprintf((char *)h + 157, 100, "%s", data);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    for (size_t i = 0; i < sizeof(h); i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    tdrv_buf_add(b, h, sizeof(h), &err);
    if (n) {
        tdrv_buf_add(b, data, n, &err);
        tdrv_buf_add(b, pad, (512 - n % 512) % 512, &err);
    }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static const struct {
    const char *entries[8]; /* name, data pairs; a name ending in '/' is a directory, and
                             * "NAME =>TARGET" a hard link */
    int code;
    const char *msg;
} cases[] = {
    /* an ACI refused after its rootfs was read leaked the config's rootfs and diff_ids */
    {{"manifest", "{\"acKind\":\"ImageManifest\",\"name\":\"x\",\"dependencies\":[{}]}", "rootfs/x",
      "x"},
     65,
     "ACI 'x' has dependencies, which need image discovery"},
    {{"manifest", "{\"acKind\":\"PodManifest\",\"name\":\"x\"}", "rootfs/", ""},
     65,
     "ACI manifest: acKind is 'PodManifest', expected ImageManifest"},
    /* a hard link to nothing (an entry of no type) was an I/O error of the tar writer (74) */
    {{"manifest", "{\"acKind\":\"ImageManifest\",\"name\":\"x\"}", "rootfs/a", "a", "rootfs/b =>",
      ""},
     65,
     "ACI entry 'rootfs/b' has an unsupported type"},
    {{"manifest", "{\"acKind\":\"ImageManifest\",\"name\":\"x\"}", "rootfs/b =>manifest", ""},
     65,
     "ACI entry 'rootfs/b' is a hard link outside rootfs/"},
    /* re-worded from its own text, the message repeated its prefix:
     * "manifest.json: manifest.json: s[1]: expected string" */
    {{"c.json", "{}", "manifest.json",
      "[{\"Config\":\"c.json\",\"RepoTags\":[\"a:1\",5],\"Layers\":[]}]"},
     65,
     "manifest.json: request.RepoTags[1]: expected string"},
};

void test_load(void)
{
    char tmpl[] = "/tmp/tdrv-unit-load.XXXXXX";
    char *top = mkdtemp(tmpl);

    if (!ok(top != NULL, "load: scratch dir"))
        return;
    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        cleanup_free char *root = tdrv_xasprintf("%s/store-%zu", top, i);
        cleanup_free char *path = tdrv_xasprintf("%s/a-%zu.tar", top, i);
        cleanup_store struct tdrv_store s = {0};
        cleanup_buf struct tdrv_buf b = {0};
        struct tdrv_err err = {0};
        cJSON *info = NULL;
        static const char end[1024];
        FILE *f;

        tdrv_buf_init(&b, 1u << 20);
        for (size_t e = 0; e + 1 < TDRV_ARRAY_LEN(cases[i].entries) && cases[i].entries[e];
             e += 2) {
            const char *name = cases[i].entries[e];

            const char *arrow = strstr(name, " =>");

            if (arrow) {
                cleanup_free char *n = tdrv_xstrndup(name, (size_t)(arrow - name));

                tar_add(&b, n, '1', arrow + 3);
            } else {
                tar_add(&b, name, name[strlen(name) - 1] == '/' ? '5' : '0',
                        cases[i].entries[e + 1]);
            }
        }
        tdrv_buf_add(&b, end, sizeof(end), &err);
        f = fopen(path, "we");
        if (f) {
            fwrite(b.data, 1, b.len, f);
            fclose(f);
        }
        if (!ok(tdrv_store_open(&s, root, &err) == 0, "load %zu: store (%s)", i, err.msg))
            continue;
        CHECK_INT(tdrv_store_load(&s, path, NULL, &info, &err), -1, "load %zu refused", i);
        CHECK_INT(err.code, cases[i].code, "load %zu exit", i);
        CHECK_STR(err.msg, cases[i].msg, "load %zu message", i);
        ok(info == NULL, "load %zu: no image", i);
    }
    {
        /* a symlink with an empty target: 71 "unable to create symlink" when unpacked */
        cleanup_free char *path = tdrv_xasprintf("%s/empty-link.tar", top);
        cleanup_buf struct tdrv_buf b = {0};
        cleanup_tar struct tdrv_tar *t = NULL;
        cleanup_close int fd = -1;
        struct tdrv_tar_entry e;
        struct tdrv_err err = {0};
        static const char end[1024];

        tdrv_buf_init(&b, 1u << 16);
        tar_add(&b, "x", '2', "");
        tdrv_buf_add(&b, end, sizeof(end), &err);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ok(fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len && lseek(fd, 0, SEEK_SET) == 0,
           "empty link: archive written");
        ok(tdrv_tar_open_fd(&t, fd, &(struct tdrv_tar_opts){0}, &err) == 0, "empty link: open");
        CHECK_INT(tdrv_tar_next(t, &e, &err), -1, "empty link: refused");
        CHECK_INT(err.code, 65, "empty link: exit");
        CHECK_STR(err.msg, "malformed layer: link 'x' without a usable target",
                  "empty link: message");
    }
    {
        struct tdrv_err err = {0};

        tdrv_err_set(&err, TDRV_E_DATA, 0, "inner %s", "problem");
        tdrv_err_setw(&err, TDRV_E_PROTOCOL, "protocol_error", 0, "outer: %s", err.msg);
        CHECK_STR(err.msg, "outer: inner problem", "an error re-worded from its own message");
        tdrv_err_setw(&err, TDRV_E_PROTOCOL, err.word, 0, "again");
        CHECK_STR(err.word, "protocol_error", "an error re-worded with its own word");
    }
    nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
