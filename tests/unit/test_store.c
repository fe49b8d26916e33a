/* The store's ingest API as the registry client uses it: resumable verified blobs, a layer
 * unpacked while it streams, images recorded and looked up, and a task's rootfs. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "fs.h"
#include "json.h"
#include "mem.h"
#include "store.h"
#include "tap.h"

void test_store(void);

/* A ustar archive holding one regular file. */
static size_t make_tar(unsigned char *t, const char *name, const char *data)
{
    size_t n = strlen(data);
    unsigned sum = 0;

    memset(t, 0, 2048);
    snprintf((char *)t, 100, "%s", name);
    snprintf((char *)t + 100, 8, "%07o", 0644);
    snprintf((char *)t + 108, 8, "%07o", 0);
    snprintf((char *)t + 116, 8, "%07o", 0);
    snprintf((char *)t + 124, 12, "%011o", (unsigned)n);
    snprintf((char *)t + 136, 12, "%011o", 0);
    t[156] = '0';
    memcpy(t + 257, "ustar", 6);
    memcpy(t + 263, "00", 2);
    memset(t + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += t[i];
    snprintf((char *)t + 148, 8, "%06o", sum);
    memcpy(t + 512, data, n);
    return 2048;
}

/* gzip of buf with one stored (uncompressed) deflate block: a real gzip stream, no zlib. */
static size_t make_gzip(unsigned char *out, const unsigned char *buf, size_t n)
{
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    uint32_t crc = 0xffffffffu;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    crc ^= 0xffffffffu;
    memcpy(out, hdr, sizeof(hdr));
    o = sizeof(hdr);
    out[o++] = 1; /* BFINAL, stored */
    out[o++] = (unsigned char)(n & 0xff);
    out[o++] = (unsigned char)(n >> 8);
    out[o++] = (unsigned char)(~n & 0xff);
    out[o++] = (unsigned char)((~n >> 8) & 0xff);
    memcpy(out + o, buf, n);
    o += n;
    for (int k = 0; k < 4; k++)
        out[o++] = (unsigned char)(crc >> (8 * k));
    for (int k = 0; k < 4; k++)
        out[o++] = (unsigned char)(n >> (8 * k));
    return o;
}

static int exists(const char *dir, const char *rel)
{
    cleanup_free char *p = tdrv_xasprintf("%s/%s", dir, rel);
    struct stat st;

    return lstat(p, &st) == 0;
}

void test_store(void)
{
    char tmpl[] = "/tmp/tdrv-store-XXXXXX";
    char *top = mkdtemp(tmpl);
    cleanup_free char *root = NULL;
    struct tdrv_store s = {.root_fd = -1};
    struct tdrv_err err = {0};
    struct tdrv_blob_writer *w = NULL;
    struct tdrv_layer_writer *lw = NULL;
    unsigned char tar[2048];
    size_t n = make_tar(tar, "hello", "hi\n");
    char dg[TDRV_DIGEST_MAX];
    struct tdrv_layer_desc desc;
    cleanup_json cJSON *info = NULL;
    const char *md = NULL;

    if (!ok(top != NULL, "store: scratch dir"))
        return;
    root = tdrv_xasprintf("%s/root", top);
    ok(tdrv_store_open(&s, root, &err) == 0, "store: open creates the layout");
    ok(exists(root, "images/oci-layout") && exists(root, "images/index.json"),
       "store: oci-layout and index.json");

    /* resumable blob */
    tdrv_digest_buf(TDRV_SHA256, tar, n, dg);
    CHECK_INT(tdrv_store_blob_begin(&s, dg, (int64_t)n, &w, &err), 0, "blob: begin");
    ok(tdrv_blob_write(w, tar, 1000, &err) == 0, "blob: write part");
    tdrv_blob_abort(w);
    CHECK_INT(tdrv_store_blob_begin(&s, dg, (int64_t)n, &w, &err), 0, "blob: begin again");
    CHECK_INT(tdrv_blob_offset(w), 1000, "blob: resumes at the partial's length");
    ok(tdrv_blob_write(w, tar + 1000, n - 1000, &err) == 0, "blob: write the rest");
    CHECK_INT(tdrv_blob_commit(w, &err), 0, "blob: commit verifies");
    ok(tdrv_store_blob_has(&s, dg), "blob: present");
    CHECK_INT(tdrv_store_blob_begin(&s, dg, (int64_t)n, &w, &err), 1,
              "blob: begin on a present blob says so");

    /* mismatches */
    {
        char other[TDRV_DIGEST_MAX];

        tdrv_digest_buf(TDRV_SHA256, "x", 1, other);
        CHECK_INT(tdrv_store_blob_begin(&s, other, 3, &w, &err), 0, "blob: begin (bad data)");
        tdrv_blob_write(w, "abc", 3, &err);
        CHECK_INT(tdrv_blob_commit(w, &err), -1, "blob: wrong content refused");
        CHECK_STR(err.word, "digest_mismatch", "blob: digest_mismatch");
        CHECK_INT(err.code, 76, "blob: 76");
        ok(!tdrv_store_blob_has(&s, other), "blob: nothing unverified kept");
        tdrv_err_clear(&err);
        CHECK_INT(tdrv_store_blob_begin(&s, other, 1, &w, &err), 0, "blob: begin (too long)");
        CHECK_INT(tdrv_blob_write(w, "ab", 2, &err), -1, "blob: past the expected size");
        CHECK_STR(err.word, "size_mismatch", "blob: size_mismatch");
        tdrv_blob_discard(w);
        tdrv_err_clear(&err);
    }

    /* a layer unpacked while it streams, interrupted and resumed */
    {
        unsigned char tar2[2048];
        size_t n2 = make_tar(tar2, "etc/streamed", "streamed\n");

        memset(&desc, 0, sizeof(desc));
        tdrv_digest_buf(TDRV_SHA256, tar2, n2, desc.digest);
        memcpy(desc.diff_id, desc.digest, sizeof(desc.diff_id));
        desc.size = (int64_t)n2;
        ok(tdrv_chain_ids(&desc, 1, &err) == 0, "layer: chain id");
        CHECK_INT(tdrv_store_layer_begin(&s, &desc, &lw, &err), 0, "layer: begin");
        ok(tdrv_layer_write(lw, tar2, 700, &err) == 0, "layer: write part");
        tdrv_layer_abort(lw);
        CHECK_INT(tdrv_store_layer_begin(&s, &desc, &lw, &err), 0, "layer: begin again");
        CHECK_INT(tdrv_layer_offset(lw), 700, "layer: resumes at 700");
        for (size_t off = 700; off < n2; off += 100)
            tdrv_layer_write(lw, tar2 + off, n2 - off < 100 ? n2 - off : 100, &err);
        CHECK_INT(tdrv_layer_commit(lw, &err), 0, "layer: commit");
        if (err.code)
            printf("# %s\n", err.msg);
        ok(tdrv_store_layer_has(&s, desc.chain_id), "layer: in place");
        {
            cleanup_free char *p =
                tdrv_xasprintf("layers/%s/etc/streamed", strchr(desc.chain_id, ':') + 1);

            ok(exists(root, p), "layer: file unpacked");
        }
        CHECK_INT(tdrv_store_layer_begin(&s, &desc, &lw, &err), 1, "layer: nothing left to do");
    }
    /* a gzip layer, as registries serve them: blob digest != DiffID */
    {
        unsigned char t4[2048];
        unsigned char gz[2200];
        size_t n4 = make_tar(t4, "gz/inside", "gzipped\n");
        size_t ng = make_gzip(gz, t4, n4);
        struct tdrv_layer_desc g;

        memset(&g, 0, sizeof(g));
        tdrv_digest_buf(TDRV_SHA256, gz, ng, g.digest);
        tdrv_digest_buf(TDRV_SHA256, t4, n4, g.diff_id);
        g.size = (int64_t)ng;
        tdrv_chain_ids(&g, 1, &err);
        CHECK_INT(tdrv_store_layer_begin(&s, &g, &lw, &err), 0, "gzip layer: begin");
        for (size_t off = 0; off < ng; off += 333)
            tdrv_layer_write(lw, gz + off, ng - off < 333 ? ng - off : 333, &err);
        CHECK_INT(tdrv_layer_commit(lw, &err), 0, "gzip layer: commit checks the DiffID");
        if (err.code)
            printf("# %s\n", err.msg);
        {
            cleanup_free char *p =
                tdrv_xasprintf("layers/%s/gz/inside", strchr(g.chain_id, ':') + 1);

            ok(exists(root, p), "gzip layer: unpacked while streaming");
        }
        ok(tdrv_store_blob_has(&s, g.digest), "gzip layer: compressed blob stored");
        {
            cleanup_free char *bp = tdrv_store_blob_path(&s, g.digest);

            unlink(bp);
            CHECK_INT(tdrv_store_layer_begin(&s, &g, &lw, &err), 0,
                      "gzip layer: blob gone, layer there: stream again");
            tdrv_layer_write(lw, gz, ng, &err);
            CHECK_INT(tdrv_layer_commit(lw, &err), 0, "gzip layer: the layer in place is kept");
            ok(tdrv_store_blob_has(&s, g.digest), "gzip layer: blob back");
        }
    }
    {
        struct tdrv_layer_desc bad = desc;
        unsigned char tar3[2048];
        size_t n3 = make_tar(tar3, "x", "x");

        tdrv_digest_buf(TDRV_SHA256, tar3, n3, bad.digest);
        bad.size = (int64_t)n3;
        tdrv_digest_buf(TDRV_SHA256, "nope", 4, bad.diff_id);
        tdrv_chain_ids(&bad, 1, &err);
        CHECK_INT(tdrv_store_layer_begin(&s, &bad, &lw, &err), 0, "layer: begin (bad diff_id)");
        tdrv_layer_write(lw, tar3, n3, &err);
        CHECK_INT(tdrv_layer_commit(lw, &err), -1, "layer: diff_id mismatch refused");
        CHECK_STR(err.word, "diff_id_mismatch", "layer: diff_id_mismatch");
        ok(!tdrv_store_layer_has(&s, bad.chain_id), "layer: not renamed into place");
        tdrv_err_clear(&err);
    }

    /* an image */
    {
        cleanup_free char *cfg = tdrv_xasprintf(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]},"
            "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}",
            dg, desc.diff_id);
        cleanup_free char *cfg_digest = NULL;
        cleanup_free char *man = NULL;

        ok(tdrv_store_blob_put(&s, NULL, cfg, strlen(cfg), &cfg_digest, &err) == 0,
           "image: config stored");
        man = tdrv_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
            "\"digest\":\"%s\",\"size\":%zu},\"layers\":["
            "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
            "\"size\":%zu},"
            "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
            "\"size\":%lld}]}",
            cfg_digest, strlen(cfg), dg, n, desc.digest, (long long)desc.size);
        CHECK_INT(
            tdrv_store_image_put(&s, "docker.io/library/unit:1", man, strlen(man), &info, &err), 0,
            "image: put");
        if (err.code)
            printf("# %s\n", err.msg);
        tdrv_json_str(info, "manifest_digest", TDRV_REQUIRED, &md, &err);
        ok(md != NULL, "image: manifest digest");
    }
    {
        cleanup_json cJSON *a = NULL;
        cleanup_json cJSON *b = NULL;
        const char *ref = NULL;

        CHECK_INT(tdrv_store_lookup(&s, "docker.io/library/unit:1", &a, &err), 0,
                  "lookup: by reference");
        CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "layers")), 2, "lookup: 2 layers");
        CHECK_INT(tdrv_store_lookup(&s, md, &b, &err), 0, "lookup: by digest");
        tdrv_json_str(b, "reference", TDRV_OPTIONAL, &ref, &err);
        CHECK_STR(ref, "docker.io/library/unit:1", "lookup: digest gives the reference");
        CHECK_INT(tdrv_store_lookup(&s, "docker.io/library/nope:1", &a, &err), -1,
                  "lookup: absent");
        CHECK_STR(err.word, "image_not_found", "lookup: image_not_found (66)");
        tdrv_err_clear(&err);
    }

    /* a task's rootfs: overlay, then a copy */
    for (int no_overlay = 0; no_overlay < 2 && md; no_overlay++) {
        cleanup_free char *dir = tdrv_xasprintf("%s/task%d", top, no_overlay);
        cleanup_free char *rootfs = NULL;

        CHECK_INT(tdrv_store_rootfs_mount(&s, md, dir, no_overlay, &rootfs, &err), 0,
                  "rootfs: mount (no_overlay=%d)", no_overlay);
        if (err.code)
            printf("# %s\n", err.msg);
        ok(rootfs && exists(rootfs, "hello") && exists(rootfs, "etc/streamed"),
           "rootfs: both layers visible (no_overlay=%d)", no_overlay);
        {
            cleanup_free char *pins = tdrv_xasprintf("%s/pins/%s", root, strchr(md, ':') + 1);
            struct stat st;

            ok(stat(pins, &st) == 0, "rootfs: image pinned (no_overlay=%d)", no_overlay);
        }
        {
            cleanup_json cJSON *pins = NULL;
            const cJSON *first = NULL;
            const char *pmd = NULL;
            const char *pdir = NULL;

            CHECK_INT(tdrv_store_pins(&s, &pins, &err), 0, "pins: listed");
            first = cJSON_GetArrayItem(pins, 0);
            tdrv_json_str(first, "manifest_digest", TDRV_OPTIONAL, &pmd, &err);
            CHECK_STR(pmd, md, "pins: the image");
            pdir = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(first, "dirs"), 0));
            CHECK_STR(pdir, dir, "pins: the task dir");
        }
        CHECK_INT(tdrv_store_rootfs_unmount(&s, dir, &err), 0, "rootfs: unmount");
        ok(!exists(dir, "rootfs") && !exists(dir, "upper"), "rootfs: removed");
        CHECK_INT(tdrv_store_rootfs_unmount(&s, dir, &err), 0, "rootfs: unmount is idempotent");
        {
            cleanup_json cJSON *pins = NULL;

            tdrv_store_pins(&s, &pins, &err);
            CHECK_INT(cJSON_GetArraySize(pins), 0, "pins: none after unmount");
        }
    }

    /* two tasks of one image mounting and unmounting at once: the last unpin of one removes
     * the image's pins directory, which the other's pin must survive (recreated) */
    if (md) {
        int fails = 0;
        pid_t child = fork();

        if (child == 0) {
            struct tdrv_store s2 = {.root_fd = -1};
            struct tdrv_err e2 = {0};
            cleanup_free char *dir = tdrv_xasprintf("%s/concurrent-b", top);
            int bad = 0;

            if (tdrv_store_open(&s2, root, &e2) < 0)
                _exit(2);
            for (int i = 0; i < 400; i++) {
                cleanup_free char *rootfs = NULL;

                bad |= tdrv_store_rootfs_mount(&s2, md, dir, 1, &rootfs, &e2) < 0;
                bad |= tdrv_store_rootfs_unmount(&s2, dir, &e2) < 0;
            }
            tdrv_store_release(&s2);
            _exit(bad);
        }
        {
            cleanup_free char *dir = tdrv_xasprintf("%s/concurrent-a", top);
            int st = 0;

            for (int i = 0; i < 400; i++) {
                cleanup_free char *rootfs = NULL;

                if (tdrv_store_rootfs_mount(&s, md, dir, 1, &rootfs, &err) < 0) {
                    if (!fails++)
                        printf("# %s\n", err.msg);
                    tdrv_err_clear(&err);
                }
                tdrv_store_rootfs_unmount(&s, dir, &err);
                tdrv_err_clear(&err);
            }
            waitpid(child, &st, 0);
            CHECK_INT(fails, 0, "pins: mounts of one image beside another's unmounts all succeed");
            CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
                      "pins: ... in the other process too");
        }
    }

    /* records of a mount (pin, image.json): atomic, without fsync */
    {
        int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cleanup_free char *got = NULL;
        size_t len = 0;

        CHECK_INT(tdrv_write_state_at(dfd, "state.rec", "one", 3, 0644, &err), 0,
                  "write_state_at: written");
        CHECK_INT(tdrv_write_state_at(dfd, "state.rec", "second", 6, 0644, &err), 0,
                  "write_state_at: replaced");
        CHECK_INT(tdrv_read_file_at(dfd, "state.rec", 64, &got, &len, &err), 0,
                  "write_state_at: read back");
        CHECK_STR(got, "second", "write_state_at: the last content");
        CHECK_INT(tdrv_write_state_at(dfd, "no/such/dir", "x", 1, 0644, &err), -1,
                  "write_state_at: a missing directory fails");
        CHECK_INT(err.code, 71, "write_state_at: 71");
        tdrv_err_clear(&err);
        close(dfd);
    }

    tdrv_store_release(&s);
    {
        int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        tdrv_rm_rf_at(dfd, top + 5, &err);
        close(dfd);
    }
}
