/*
 * Local image archives (tdrv_store_load): the input describes a small tar, which the target
 * writes and loads into a fresh store, so docker-archive manifest.json, OCI index.json and
 * oci-layout, and ACI manifests are read as tdrv-pull --load reads them, blobs, layers and
 * all.
 *
 * The input is a list of entries, each a header line then its content:
 *   %%% NAME              a regular file (NAME ending in '/': a directory)
 *   %%% NAME -> TARGET    a symlink          %%% NAME => TARGET    a hard link
 * The content runs to the newline before the next header. In names and contents, @sha(#N)
 * is the sha256 hex of entry N's content (0-based, earlier entries only), @size(#N) its size,
 * @zeros(N) N zero bytes (up to 8192: an empty tar is @zeros(1024)), and @self, in a name,
 * the sha256 hex of the entry's own content; so blobs named by digest and manifests that
 * point at them stay consistent while the fuzzer mutates the rest.
 *
 * Invariants: a load gives an object naming a manifest digest that tdrv_store_lookup finds,
 * with layers whose chain ids are the store's; a refusal is 65, 66 or 76 with a message.
 */
#include "fuzz.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "json.h"
#include "mem.h"
#include "store.h"

#define MAX_ENTRIES 64

struct entry {
    char *name;
    char *link;
    char type; /* '0' file, '2' symlink, '1' hard link, '5' directory */
    struct tdrv_buf data;
    char hex[65];
};

static char *archive;
static char *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    archive = tdrv_xasprintf("%s/archive.tar", fuzz_scratch_dir());
    root = tdrv_xasprintf("%s/store", fuzz_scratch_dir());
    setenv("TDRV_MAX_LAYER_BYTES", "67108864", 1);
    setenv("TDRV_MAX_LAYER_ENTRIES", "10000", 1);
    unsetenv("TDRV_ROOT");
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_store(void)
{
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(struct tdrv_buf *b, const void *p, size_t n)
{
    struct tdrv_err err = {0};

    FUZZ_ASSERT(tdrv_buf_add(b, p, n, &err) == 0, "buffer: %s", err.msg);
}

/* Expand @sha(#N), @size(#N), @zeros(N), @self in s[0..n) into out. */
static void expand(struct tdrv_buf *out, const char *s, size_t n, const struct entry *e, size_t ne,
                   const char *self)
{
    size_t i = 0;

    while (i < n) {
        unsigned long k = 0;
        int used = 0;
        char num[32];

        if (s[i] == '@') {
            const char *p = s + i;
            size_t left = n - i;

            if (left > 6 && !strncmp(p, "@sha(#", 6) && sscanf(p + 6, "%lu)%n", &k, &used) == 1 &&
                used && k < ne) {
                put(out, e[k].hex, 64);
                i += 6 + (size_t)used;
                continue;
            }
            if (left > 7 && !strncmp(p, "@size(#", 7) && sscanf(p + 7, "%lu)%n", &k, &used) == 1 &&
                used && k < ne) {
                snprintf(num, sizeof(num), "%zu", e[k].data.len);
                put(out, num, strlen(num));
                i += 7 + (size_t)used;
                continue;
            }
            if (left > 7 && !strncmp(p, "@zeros(", 7) && sscanf(p + 7, "%lu)%n", &k, &used) == 1 &&
                used && k <= 8192) {
                static const char zeros[8192];

                put(out, zeros, k);
                i += 7 + (size_t)used;
                continue;
            }
            if (self && left >= 5 && !strncmp(p, "@self", 5)) {
                put(out, self, 64);
                i += 5;
                continue;
            }
        }
        put(out, s + i, 1);
        i++;
    }
}

static char *expand_str(const char *s, size_t n, const struct entry *e, size_t ne, const char *self)
{
    struct tdrv_buf b;

    tdrv_buf_init(&b, 1u << 16);
    expand(&b, s, n, e, ne, self);
    put(&b, "", 1);
    return tdrv_buf_steal(&b);
}

/* Split the input into entries; returns how many. */
static size_t parse(const char *in, size_t size, struct entry *e)
{
    size_t ne = 0;
    const char *p = in;
    const char *end = in + size;

    if (size < 4 || strncmp(in, "%%% ", 4))
        return 0;
    while (p < end && ne < MAX_ENTRIES) {
        const char *h = p + 4;
        const char *nl = memchr(h, '\n', (size_t)(end - h));
        const char *body = nl ? nl + 1 : end;
        const char *next = body;
        const char *arrow;
        size_t hlen = (size_t)((nl ? nl : end) - h);
        cleanup_free char *head = tdrv_xstrndup(h, hlen);
        char dg[TDRV_DIGEST_MAX];

        /* the content ends at "\n%%% " */
        for (;;) {
            const char *q = memchr(next, '\n', (size_t)(end - next));

            if (!q) {
                next = end;
                break;
            }
            if ((size_t)(end - q) > 4 && !strncmp(q + 1, "%%% ", 4)) {
                next = q;
                break;
            }
            next = q + 1;
        }
        memset(&e[ne], 0, sizeof(e[ne]));
        tdrv_buf_init(&e[ne].data, 1u << 20);
        expand(&e[ne].data, body, (size_t)(next - body), e, ne, NULL);
        tdrv_digest_buf(TDRV_SHA256, e[ne].data.data ? e[ne].data.data : "", e[ne].data.len, dg);
        snprintf(e[ne].hex, sizeof(e[ne].hex), "%s", dg + 7);
        e[ne].type = '0';
        arrow = strstr(head, " -> ");
        if (!arrow)
            arrow = strstr(head, " => ");
        if (arrow) {
            e[ne].type = arrow[1] == '-' ? '2' : '1';
            e[ne].link = expand_str(arrow + 4, strlen(arrow + 4), e, ne, e[ne].hex);
            head[arrow - head] = '\0';
        }
        e[ne].name = expand_str(head, strlen(head), e, ne, e[ne].hex);
        if (e[ne].type == '0' && e[ne].name[0] && e[ne].name[strlen(e[ne].name) - 1] == '/')
            e[ne].type = '5';
        ne++;
        p = next < end ? next + 1 : end;
    }
    return ne;
}

static void octal(char *field, size_t len, unsigned long long v)
{
    snprintf(field, len, "%0*llo", (int)len - 1, v);
}

/* A ustar header and the content, padded to 512 bytes. */
static void add_entry(struct tdrv_buf *t, const struct entry *e)
{
    unsigned char h[512];
    unsigned sum = 0;
    size_t n = e->type == '0' ? e->data.len : 0;
    static const char pad[512];

    memset(h, 0, sizeof(h));
    snprintf((char *)h, 100, "%s", e->name);
    octal((char *)h + 100, 8, e->type == '5' ? 0755 : 0644);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, n);
    octal((char *)h + 136, 12, 1700000000);
    memset(h + 148, ' ', 8);
    h[156] = (unsigned char)e->type;
    if (e->link)
        snprintf((char *)h + 157, 100, "%s", e->link);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (size_t i = 0; i < sizeof(h); i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    put(t, h, sizeof(h));
    if (n) {
        put(t, e->data.data, n);
        put(t, pad, (512 - n % 512) % 512);
    }
}

static void check_loaded(struct tdrv_store *s, const cJSON *info)
{
    const char *md =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "manifest_digest"));
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(info, "layers");
    const cJSON *l;
    cleanup_json cJSON *again = NULL;
    struct tdrv_err err = {0};

    FUZZ_ASSERT(cJSON_IsObject(info), "no image object");
    FUZZ_ASSERT(md && tdrv_digest_parse(md, NULL, NULL, &err) == 0, "manifest digest");
    FUZZ_ASSERT(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "config_digest")),
                "config digest");
    FUZZ_ASSERT(cJSON_IsArray(layers), "layers");
    FUZZ_ASSERT(tdrv_store_lookup(s, md, &again, &err) == 0, "loaded %s, lookup: %s", md, err.msg);
    cJSON_ArrayForEach(l, layers)
    {
        const char *chain = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "chain_id"));

        FUZZ_ASSERT(chain && tdrv_store_layer_has(s, chain), "layer %s not unpacked",
                    chain ? chain : "(null)");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    struct entry e[MAX_ENTRIES];
    size_t ne = parse(in, size, e);
    struct tdrv_buf tar;
    static const char end[1024];
    cleanup_store struct tdrv_store s = {0};
    cleanup_json cJSON *info = NULL;
    struct tdrv_err err = {0};
    int rc;

    tdrv_buf_init(&tar, 64u << 20);
    for (size_t i = 0; i < ne; i++)
        add_entry(&tar, &e[i]);
    put(&tar, end, sizeof(end));
    fuzz_write_file(archive, (const uint8_t *)tar.data, tar.len);
    tdrv_buf_release(&tar);
    for (size_t i = 0; i < ne; i++) {
        free(e[i].name);
        free(e[i].link);
        tdrv_buf_release(&e[i].data);
    }

    rm_store();
    FUZZ_ASSERT(tdrv_store_open(&s, root, &err) == 0, "store: %s", err.msg);
    rc = tdrv_store_load(&s, archive, NULL, &info, &err);
    if (getenv("FUZZ_DEBUG")) { /* FUZZ_DEBUG=1 build/fuzz/fuzz_load INPUT: what it gave */
        cleanup_free char *text = rc ? NULL : cJSON_PrintUnformatted(info);

        fprintf(stderr, "load: %d %s\n", rc, rc ? err.msg : text);
    }
    if (rc == 0) {
        FUZZ_ASSERT(err.code == 0, "error set on success: %s", err.msg);
        check_loaded(&s, info);
    } else {
        FUZZ_ASSERT(rc == -1, "rc %d", rc);
        FUZZ_ASSERT(info == NULL, "refusal gave an image");
        FUZZ_ASSERT(err.code == TDRV_E_DATA || err.code == TDRV_E_NOINPUT ||
                        err.code == TDRV_E_PROTOCOL,
                    "exit %d (%s): %s", err.code, err.word, err.msg);
        FUZZ_ASSERT(err.msg[0], "empty message");
    }
    return 0;
}
