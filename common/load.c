#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "archive.h"
#include "digest.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "ref.h"
#include "store.h"
#include "unpack.h"

#define MAX_META (16u << 20)
#define MAX_FILES 100000
#define ANN_REF "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD "io.containerd.image.name"

const char *tdrv_host_arch(void)
{
    static char arch[80];
    struct utsname u;

    if (arch[0])
        return arch;
    if (uname(&u) < 0)
        return "amd64";
    if (!strcmp(u.machine, "x86_64"))
        snprintf(arch, sizeof(arch), "amd64");
    else if (!strcmp(u.machine, "aarch64"))
        snprintf(arch, sizeof(arch), "arm64");
    else if (!strncmp(u.machine, "armv", 4))
        snprintf(arch, sizeof(arch), "arm");
    else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
        snprintf(arch, sizeof(arch), "386");
    else
        snprintf(arch, sizeof(arch), "%s", u.machine);
    return arch;
}

/* ---- what the archive held ---- */

struct afile {
    char *name; /* cleaned entry name */
    char *link; /* symlink/hardlink target (cleaned, archive-relative), or NULL */
    char digest[TDRV_DIGEST_MAX];
    int64_t size;
};

struct loaded {
    char *ref;
    char digest[TDRV_DIGEST_MAX];
};

struct loader {
    struct tdrv_store *s;
    struct afile *files;
    size_t nfiles;
    size_t alloc;
    struct loaded *images;
    size_t nimages;
    /* ACI */
    int aci;
    struct tdrv_blob_writer *aci_blob;
    struct tdrv_tar_writer *aci_tar;
    char aci_layer[TDRV_DIGEST_MAX];
    int64_t aci_size;
};

static void loader_release(struct loader *l)
{
    for (size_t i = 0; i < l->nfiles; i++) {
        free(l->files[i].name);
        free(l->files[i].link);
    }
    free(l->files);
    for (size_t i = 0; i < l->nimages; i++)
        free(l->images[i].ref);
    free(l->images);
    if (l->aci_tar)
        tdrv_tar_writer_free(l->aci_tar);
    if (l->aci_blob)
        tdrv_blob_discard(l->aci_blob);
}

static struct afile *add_file(struct loader *l, const char *name, struct tdrv_err *err)
{
    struct afile *f;

    if (l->nfiles >= MAX_FILES) {
        tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "archive has more than %d entries",
                      MAX_FILES);
        return NULL;
    }
    if (l->nfiles == l->alloc) {
        l->alloc = l->alloc ? l->alloc * 2 : 64;
        l->files = tdrv_xrealloc(l->files, l->alloc * sizeof(*l->files));
    }
    f = &l->files[l->nfiles++];
    memset(f, 0, sizeof(*f));
    f->name = tdrv_path_clean(name);
    f->size = -1;
    return f;
}

/* Find a regular file by archive path, following the archive's own links (in-archive). */
static const struct afile *find_file(const struct loader *l, const char *name)
{
    cleanup_free char *cur = tdrv_path_clean(name);

    for (int depth = 0; depth < 16; depth++) {
        const struct afile *hit = NULL;

        for (size_t i = l->nfiles; i-- > 0;)
            if (!strcmp(l->files[i].name, cur)) {
                hit = &l->files[i];
                break;
            }
        if (!hit)
            return NULL;
        if (!hit->link)
            return hit;
        free(cur);
        cur = tdrv_xstrdup(hit->link);
    }
    return NULL;
}

static int sink_blob(void *ctx, const void *buf, size_t n, struct tdrv_err *err)
{
    struct loader *l = ctx;

    l->aci_size += (int64_t)n;
    return tdrv_blob_write(l->aci_blob, buf, n, err);
}

static int aci_start(struct loader *l, struct tdrv_err *err)
{
    struct tdrv_tar_sink sink = {.write = sink_blob, .ctx = l};

    l->aci = 1;
    if (tdrv_store_blob_begin(l->s, NULL, -1, &l->aci_blob, err) < 0)
        return -1;
    return tdrv_tar_writer_open(&l->aci_tar, &sink, err);
}

static int ingest_entry(struct loader *l, struct tdrv_tar *t, const struct tdrv_tar_entry *e,
                        struct tdrv_err *err)
{
    cleanup_free char *name = tdrv_path_clean(e->path);
    struct tdrv_blob_writer *w = NULL;
    struct afile *f;
    const void *buf;
    size_t len;
    int64_t off;
    int r;

    /* ACI: rootfs/ becomes a layer; entries keep their metadata, lose the prefix. */
    if (!strcmp(name, "rootfs") || !strncmp(name, "rootfs/", 7)) {
        cleanup_free char *link = NULL;

        if (!l->aci && aci_start(l, err) < 0)
            return -1;
        if (!strcmp(name, "rootfs"))
            return 0;
        /* An entry of no known type (a hard link to nothing reads so) made the tar writer
         * fail, reported as an I/O error (74; found by fuzz_load); unpack refuses them too. */
        if (e->type == TDRV_TAR_OTHER)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                                 "ACI entry '%s' has an unsupported type", name);
        if (e->type == TDRV_TAR_HARDLINK) {
            cleanup_free char *lc = tdrv_path_clean(e->link);

            /* the layer holds rootfs/ only: a link elsewhere would dangle in it */
            if (strncmp(lc, "rootfs/", 7) || !lc[7])
                return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                                     "ACI entry '%s' is a hard link outside rootfs/", name);
            link = tdrv_xstrdup(lc + 7);
        }
        return tdrv_tar_writer_copy(l->aci_tar, t, name + 7, link, err);
    }
    if (e->type == TDRV_TAR_SYMLINK || e->type == TDRV_TAR_HARDLINK) {
        cleanup_free char *dir = NULL;
        const char *slash = strrchr(name, '/');

        f = add_file(l, name, err);
        if (!f)
            return -1;
        if (e->type == TDRV_TAR_SYMLINK && e->link[0] != '/' && slash) {
            cleanup_free char *j = tdrv_xasprintf("%.*s/%s", (int)(slash - name), name, e->link);

            f->link = tdrv_path_clean(j);
        } else {
            f->link = tdrv_path_clean(e->link);
        }
        (void)dir;
        return 0;
    }
    if (e->type != TDRV_TAR_REG)
        return 0;
    if (tdrv_store_blob_begin(l->s, NULL, e->size, &w, err) < 0)
        return -1;
    while ((r = tdrv_tar_data(t, &buf, &len, &off, err)) == 1) {
        if ((uint64_t)off != tdrv_blob_offset(w)) {
            /* sparse entries are not blobs anyone writes; refuse them */
            tdrv_blob_discard(w);
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                                 "archive entry '%s' is sparse", name);
        }
        if (tdrv_blob_write(w, buf, len, err) < 0) {
            tdrv_blob_discard(w);
            return -1;
        }
    }
    if (r < 0) {
        tdrv_blob_discard(w);
        return -1;
    }
    f = add_file(l, name, err);
    if (!f) {
        tdrv_blob_discard(w);
        return -1;
    }
    f->size = e->size;
    return tdrv_blob_commit_digest(w, f->digest, err);
}

/* ---- naming ---- */

static char *normalize(const char *name)
{
    struct tdrv_err err = {0};
    cleanup_ref struct tdrv_ref r;

    tdrv_ref_init(&r);
    if (!name || tdrv_ref_parse(name, &r, &err) < 0)
        return NULL;
    return tdrv_ref_string(&r);
}

static int record(struct loader *l, const char *ref, const char *manifest, size_t len,
                  struct tdrv_err *err)
{
    cleanup_json cJSON *info = NULL;
    const char *dg = NULL;

    if (tdrv_store_image_put(l->s, ref, manifest, len, &info, err) < 0)
        return -1;
    tdrv_json_str(info, "manifest_digest", TDRV_REQUIRED, &dg, err);
    l->images = tdrv_xrealloc(l->images, (l->nimages + 1) * sizeof(*l->images));
    l->images[l->nimages].ref = ref ? tdrv_xstrdup(ref) : NULL;
    snprintf(l->images[l->nimages].digest, TDRV_DIGEST_MAX, "%s", dg ? dg : "");
    l->nimages++;
    return 0;
}

/* ---- OCI layouts ---- */

static int read_json_blob(struct tdrv_store *s, const char *digest, char **text, size_t *len,
                          cJSON **doc, struct tdrv_err *err)
{
    if (tdrv_store_blob_read(s, digest, MAX_META, text, len, err) < 0)
        return -1;
    if (tdrv_json_parse(*text, *len, doc, err) < 0)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "blob %s: %s", digest,
                             err->msg);
    return 0;
}

static int platform_ok(const cJSON *d)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "platform");
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(p, "os");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(p, "architecture");

    if (!p)
        return 1;
    return cJSON_IsString(os) && !strcmp(os->valuestring, "linux") && cJSON_IsString(arch) &&
           !strcmp(arch->valuestring, tdrv_host_arch());
}

/* Walk an index: image manifests are recorded, nested indexes give the host's platform. */
static int load_index(struct loader *l, const cJSON *index, const char *inherited, int depth,
                      struct tdrv_err *err)
{
    const cJSON *d;

    if (depth > 4)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "indexes nested too deep");
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(index, "manifests"))
    {
        const char *mt = NULL;
        const char *dg = NULL;
        const cJSON *ann = cJSON_GetObjectItemCaseSensitive(d, "annotations");
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(ann, ANN_CONTAINERD);
        const cJSON *rn = cJSON_GetObjectItemCaseSensitive(ann, ANN_REF);
        cleanup_free char *ref = NULL;
        cleanup_free char *text = NULL;
        cleanup_json cJSON *doc = NULL;
        size_t len = 0;

        if (tdrv_json_str(d, "mediaType", TDRV_OPTIONAL, &mt, err) < 0 ||
            tdrv_json_str(d, "digest", TDRV_REQUIRED, &dg, err) < 0 ||
            tdrv_digest_parse(dg, NULL, NULL, err) < 0)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "index.json: %s",
                                 err->msg);
        if (cJSON_IsString(cn))
            ref = normalize(cn->valuestring);
        else if (cJSON_IsString(rn) &&
                 (strchr(rn->valuestring, '/') || strchr(rn->valuestring, ':')))
            ref = normalize(rn->valuestring);
        else if (inherited)
            ref = tdrv_xstrdup(inherited);
        if (read_json_blob(l->s, dg, &text, &len, &doc, err) < 0)
            return tdrv_err_wrap(err, "manifest");
        if (!mt) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "mediaType");

            mt = cJSON_IsString(m) ? m->valuestring : "";
        }
        if (strstr(mt, "index") || strstr(mt, "manifest.list") ||
            cJSON_GetObjectItemCaseSensitive(doc, "manifests")) {
            if (load_index(l, doc, ref, depth + 1, err) < 0)
                return -1;
            continue;
        }
        if (!platform_ok(d))
            continue;
        if (record(l, ref, text, len, err) < 0)
            return -1;
    }
    return 0;
}

static int check_oci_layout(const char *text, size_t len, struct tdrv_err *err)
{
    cleanup_json cJSON *doc = NULL;
    const char *v = NULL;

    if (tdrv_json_parse(text, len, &doc, err) < 0 ||
        tdrv_json_str(doc, "imageLayoutVersion", TDRV_REQUIRED, &v, err) < 0)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "oci-layout: %s", err->msg);
    if (strcmp(v, "1.0.0"))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                             "unsupported OCI layout version '%s'", v);
    return 0;
}

static int load_oci_archive(struct loader *l, struct tdrv_err *err)
{
    const struct afile *lay = find_file(l, "oci-layout");
    const struct afile *idx = find_file(l, "index.json");
    cleanup_free char *text = NULL;
    cleanup_json cJSON *index = NULL;
    size_t len = 0;

    /* Every blobs/<alg>/<hex> must hold what its name says. */
    for (size_t i = 0; i < l->nfiles; i++) {
        const struct afile *f = &l->files[i];

        if (f->link || strncmp(f->name, "blobs/sha256/", 13))
            continue;
        if (strcmp(f->name + 13, f->digest + 7))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "digest_mismatch", 0,
                                 "archive blob '%s' has digest %s", f->name, f->digest);
    }
    if (!idx)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                             "OCI archive without index.json");
    if (read_json_blob(l->s, lay->digest, &text, &len, &index, err) < 0 ||
        check_oci_layout(text, len, err) < 0)
        return -1;
    cJSON_Delete(index);
    index = NULL;
    free(text);
    text = NULL;
    if (read_json_blob(l->s, idx->digest, &text, &len, &index, err) < 0)
        return tdrv_err_wrap(err, "index.json");
    return load_index(l, index, NULL, 0, err);
}

static const char *sniff_layer_type(struct tdrv_store *s, const char *digest)
{
    cleanup_free char *p = tdrv_store_blob_path(s, digest);
    cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
    unsigned char m[4] = {0};

    if (fd >= 0 && read(fd, m, sizeof(m)) == (ssize_t)sizeof(m)) {
        if (m[0] == 0x1f && m[1] == 0x8b)
            return "application/vnd.oci.image.layer.v1.tar+gzip";
        if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
            return "application/vnd.oci.image.layer.v1.tar+zstd";
    }
    return "application/vnd.oci.image.layer.v1.tar";
}

static cJSON *descriptor(const char *mt, const char *digest, int64_t size)
{
    cJSON *d = tdrv_json_xobj();

    tdrv_json_add_str(d, "mediaType", mt);
    tdrv_json_add_str(d, "digest", digest);
    tdrv_json_add_num(d, "size", (double)size);
    return d;
}

/* Build an OCI manifest for a config and layers already in the store, and record it. */
static int record_built(struct loader *l, const char *config_digest, int64_t config_size,
                        const struct afile *const *layers, size_t n, const cJSON *tags,
                        struct tdrv_err *err)
{
    cleanup_json cJSON *m = tdrv_json_xobj();
    cJSON *arr = tdrv_json_xarr();
    cleanup_free char *text = NULL;
    const cJSON *tag;
    int named = 0;

    tdrv_json_add_num(m, "schemaVersion", 2);
    tdrv_json_add_str(m, "mediaType", "application/vnd.oci.image.manifest.v1+json");
    tdrv_json_add(
        m, "config",
        descriptor("application/vnd.oci.image.config.v1+json", config_digest, config_size));
    for (size_t i = 0; i < n; i++)
        tdrv_json_append(arr, descriptor(sniff_layer_type(l->s, layers[i]->digest),
                                         layers[i]->digest, layers[i]->size));
    tdrv_json_add(m, "layers", arr);
    text = cJSON_PrintUnformatted(m);
    if (!text)
        tdrv_oom();
    cJSON_ArrayForEach(tag, tags)
    {
        cleanup_free char *ref = cJSON_IsString(tag) ? normalize(tag->valuestring) : NULL;

        if (!ref)
            continue;
        if (record(l, ref, text, strlen(text), err) < 0)
            return -1;
        named = 1;
    }
    if (!named && record(l, NULL, text, strlen(text), err) < 0)
        return -1;
    return 0;
}

static int load_docker_archive(struct loader *l, const struct afile *mf, struct tdrv_err *err)
{
    cleanup_free char *text = NULL;
    cleanup_json cJSON *doc = NULL;
    size_t len = 0;
    const cJSON *img;

    if (read_json_blob(l->s, mf->digest, &text, &len, &doc, err) < 0)
        return tdrv_err_wrap(err, "manifest.json");
    if (!cJSON_IsArray(doc) || !cJSON_GetArraySize(doc))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                             "manifest.json: expected a non-empty array");
    cJSON_ArrayForEach(img, doc)
    {
        const char *cfg = NULL;
        const cJSON *layers = NULL;
        const cJSON *tags = NULL;
        const struct afile *cf;
        const struct afile **lf = NULL;
        size_t n;
        size_t i = 0;
        const cJSON *lp;
        int rc;

        if (tdrv_json_str(img, "Config", TDRV_REQUIRED, &cfg, err) < 0 ||
            tdrv_json_strarr(img, "Layers", TDRV_REQUIRED, &layers, err) < 0 ||
            tdrv_json_strarr(img, "RepoTags", TDRV_OPTIONAL, &tags, err) < 0)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "manifest.json: %s",
                                 err->msg);
        cf = find_file(l, cfg);
        if (!cf)
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                                 "manifest.json: config '%s' is not in the archive", cfg);
        n = (size_t)cJSON_GetArraySize(layers);
        lf = tdrv_xcalloc(n ? n : 1, sizeof(*lf));
        cJSON_ArrayForEach(lp, layers)
        {
            lf[i] = find_file(l, lp->valuestring);
            if (!lf[i]) {
                free(lf);
                return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                                     "manifest.json: layer '%s' is not in the archive",
                                     lp->valuestring);
            }
            i++;
        }
        rc = record_built(l, cf->digest, cf->size, lf, n, tags, err);
        free(lf);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ACI manifest (appc spec) -> OCI image config. */
static int load_aci(struct loader *l, const struct afile *mf, struct tdrv_err *err)
{
    cleanup_free char *text = NULL;
    cleanup_json cJSON *m = NULL;
    cleanup_json cJSON *cfg = tdrv_json_xobj();
    cleanup_json cJSON *tags = tdrv_json_xarr();
    cleanup_free char *cfg_text = NULL;
    cleanup_free char *cfg_digest = NULL;
    const char *kind = NULL;
    const char *name = NULL;
    const char *version = NULL;
    const char *os = "linux";
    const char *arch = NULL;
    const cJSON *app = NULL;
    const cJSON *lab;
    const cJSON *deps = NULL;
    cJSON *c = tdrv_json_xobj();
    cJSON *rootfs;
    cJSON *diffs;
    struct afile layer = {0};
    const struct afile *lp = &layer;
    size_t len = 0;

    tdrv_json_add(cfg, "config", c);
    if (read_json_blob(l->s, mf->digest, &text, &len, &m, err) < 0)
        return tdrv_err_wrap(err, "ACI manifest");
    if (tdrv_json_str(m, "acKind", TDRV_REQUIRED, &kind, err) < 0 ||
        tdrv_json_str(m, "name", TDRV_REQUIRED, &name, err) < 0 ||
        tdrv_json_obj(m, "app", TDRV_OPTIONAL, &app, err) < 0 ||
        tdrv_json_arr(m, "dependencies", TDRV_OPTIONAL, &deps, err) < 0)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "ACI manifest: %s", err->msg);
    if (strcmp(kind, "ImageManifest"))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                             "ACI manifest: acKind is '%s', expected ImageManifest", kind);
    if (deps && cJSON_GetArraySize(deps))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                             "ACI '%s' has dependencies, which need image discovery", name);
    cJSON_ArrayForEach(lab, cJSON_GetObjectItemCaseSensitive(m, "labels"))
    {
        const cJSON *ln = cJSON_GetObjectItemCaseSensitive(lab, "name");
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(lab, "value");

        if (!cJSON_IsString(ln) || !cJSON_IsString(lv))
            continue;
        if (!strcmp(ln->valuestring, "version"))
            version = lv->valuestring;
        else if (!strcmp(ln->valuestring, "os"))
            os = lv->valuestring;
        else if (!strcmp(ln->valuestring, "arch"))
            arch = lv->valuestring;
    }
    if (arch && !strcmp(arch, "amd64"))
        arch = "amd64";
    else if (arch && !strcmp(arch, "aarch64"))
        arch = "arm64";
    tdrv_json_add_str(cfg, "os", os);
    tdrv_json_add_str(cfg, "architecture", arch ? arch : tdrv_host_arch());
    if (app) {
        const cJSON *exec = cJSON_GetObjectItemCaseSensitive(app, "exec");
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(app, "user");
        const cJSON *group = cJSON_GetObjectItemCaseSensitive(app, "group");
        const cJSON *wd = cJSON_GetObjectItemCaseSensitive(app, "workingDirectory");
        const cJSON *env;
        cJSON *envs = tdrv_json_xarr();

        if (cJSON_IsArray(exec))
            tdrv_json_add(c, "Entrypoint", tdrv_json_xdup(exec));
        if (cJSON_IsString(user)) {
            cleanup_free char *u =
                cJSON_IsString(group)
                    ? tdrv_xasprintf("%s:%s", user->valuestring, group->valuestring)
                    : tdrv_xstrdup(user->valuestring);

            tdrv_json_add_str(c, "User", u);
        }
        if (cJSON_IsString(wd))
            tdrv_json_add_str(c, "WorkingDir", wd->valuestring);
        cJSON_ArrayForEach(env, cJSON_GetObjectItemCaseSensitive(app, "environment"))
        {
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(env, "name");
            const cJSON *ev = cJSON_GetObjectItemCaseSensitive(env, "value");

            if (cJSON_IsString(en) && cJSON_IsString(ev)) {
                cleanup_free char *kv = tdrv_xasprintf("%s=%s", en->valuestring, ev->valuestring);

                tdrv_json_append(envs, tdrv_json_xstr(kv));
            }
        }
        tdrv_json_add(c, "Env", envs);
    }
    /* The layer: the rewritten rootfs, uncompressed, so its digest is its DiffID. */
    if (tdrv_tar_writer_close(l->aci_tar, err) < 0)
        return -1;
    tdrv_tar_writer_free(l->aci_tar);
    l->aci_tar = NULL;
    layer.size = l->aci_size;
    {
        struct tdrv_blob_writer *w = l->aci_blob;

        l->aci_blob = NULL;
        if (tdrv_blob_commit_digest(w, layer.digest, err) < 0)
            return -1;
    }
    /* made here, not at the top: a refusal above would leak them (found by fuzz_load) */
    diffs = tdrv_json_xarr();
    rootfs = tdrv_json_xobj();
    tdrv_json_append(diffs, tdrv_json_xstr(layer.digest));
    tdrv_json_add_str(rootfs, "type", "layers");
    tdrv_json_add(rootfs, "diff_ids", diffs);
    tdrv_json_add(cfg, "rootfs", rootfs);
    cfg_text = cJSON_PrintUnformatted(cfg);
    if (!cfg_text)
        tdrv_oom();
    if (tdrv_store_blob_put(l->s, NULL, cfg_text, strlen(cfg_text), &cfg_digest, err) < 0)
        return -1;
    {
        cleanup_free char *tagged = tdrv_xasprintf("%s:%s", name, version ? version : "latest");

        tdrv_json_append(tags, tdrv_json_xstr(tagged));
    }
    return record_built(l, cfg_digest, (int64_t)strlen(cfg_text), &lp, 1, tags, err);
}

static int load_stream(struct loader *l, const char *path, struct tdrv_err *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_tar struct tdrv_tar *t = NULL;
    /* The archive as a whole is held to the per-layer limit (a bomb in a gzipped archive). */
    struct tdrv_tar_opts o = {.max_bytes = l->s->max_layer_bytes, .max_entries = MAX_FILES};
    struct tdrv_tar_entry e;
    const struct afile *mf;
    int r;

    if (fd < 0)
        return tdrv_err_setw(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_OS,
                             errno == ENOENT ? "archive_not_found" : NULL, errno,
                             "unable to open '%s'", path);
    if (tdrv_tar_open_fd(&t, fd, &o, err) < 0)
        return -1;
    while ((r = tdrv_tar_next(t, &e, err)) == 1)
        if (ingest_entry(l, t, &e, err) < 0)
            return -1;
    if (r < 0 || tdrv_tar_finish(t, NULL, NULL, err) < 0)
        return -1;
    if (find_file(l, "oci-layout"))
        return load_oci_archive(l, err);
    mf = find_file(l, "manifest.json");
    if (mf)
        return load_docker_archive(l, mf, err);
    mf = find_file(l, "manifest");
    if (mf && l->aci)
        return load_aci(l, mf, err);
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                         "'%s' is not a docker-archive, oci-archive or ACI", path);
}

/* An OCI layout directory: copy (and verify) each referenced blob. */
static int copy_blob(struct loader *l, int dfd, const char *digest, struct tdrv_err *err)
{
    cleanup_free char *rel = NULL;
    cleanup_close int fd = -1;
    struct tdrv_blob_writer *w = NULL;
    char buf[128 * 1024];
    const char *colon;
    struct stat st;
    int r;

    if (tdrv_digest_parse(digest, NULL, NULL, err) < 0)
        return -1;
    colon = strchr(digest, ':');
    rel = tdrv_xasprintf("blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
    fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "blob_not_found", errno,
                             "blob %s is not in the layout", digest);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0,
                             "blob %s is not a regular file", digest);
    r = tdrv_store_blob_begin(l->s, digest, st.st_size, &w, err);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (tdrv_blob_restart(w, err) < 0) {
        tdrv_blob_discard(w);
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tdrv_blob_discard(w);
            return tdrv_err_set(err, TDRV_E_IO, errno, "unable to read blob %s", digest);
        }
        if (n == 0)
            break;
        if (tdrv_blob_write(w, buf, (size_t)n, err) < 0) {
            tdrv_blob_discard(w);
            return -1;
        }
    }
    return tdrv_blob_commit(w, err);
}

static int copy_tree(struct loader *l, int dfd, const cJSON *doc, int depth, struct tdrv_err *err)
{
    const cJSON *d;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");

    if (depth > 4)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_archive", 0, "indexes nested too deep");
    if (cfg) {
        const char *dg = NULL;

        if (tdrv_json_str(cfg, "digest", TDRV_REQUIRED, &dg, err) < 0 ||
            copy_blob(l, dfd, dg, err) < 0)
            return -1;
    }
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "layers"))
    {
        const char *dg = NULL;

        if (tdrv_json_str(d, "digest", TDRV_REQUIRED, &dg, err) < 0 ||
            copy_blob(l, dfd, dg, err) < 0)
            return -1;
    }
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "manifests"))
    {
        const char *dg = NULL;
        cleanup_free char *text = NULL;
        cleanup_json cJSON *sub = NULL;
        size_t len = 0;

        if (tdrv_json_str(d, "digest", TDRV_REQUIRED, &dg, err) < 0)
            return -1;
        if (!platform_ok(d))
            continue;
        if (copy_blob(l, dfd, dg, err) < 0 ||
            read_json_blob(l->s, dg, &text, &len, &sub, err) < 0 ||
            copy_tree(l, dfd, sub, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

static int load_layout_dir(struct loader *l, const char *path, struct tdrv_err *err)
{
    cleanup_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_free char *text = NULL;
    cleanup_json cJSON *index = NULL;
    size_t len = 0;

    if (dfd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", path);
    if (tdrv_read_file_at(dfd, "oci-layout", MAX_META, &text, &len, err) < 0 ||
        check_oci_layout(text, len, err) < 0)
        return tdrv_err_wrap(err, "'%s' is not an OCI layout", path);
    free(text);
    text = NULL;
    if (tdrv_read_file_at(dfd, "index.json", MAX_META, &text, &len, err) < 0 ||
        tdrv_json_parse(text, len, &index, err) < 0)
        return tdrv_err_wrap(err, "'%s/index.json'", path);
    if (copy_tree(l, dfd, index, 0, err) < 0)
        return -1;
    return load_index(l, index, NULL, 0, err);
}

int tdrv_store_load(struct tdrv_store *s, const char *path, const char *ref, cJSON **info,
                    struct tdrv_err *err)
{
    struct loader l = {.s = s};
    struct stat st;
    const struct loaded *pick = NULL;
    cleanup_free char *want = NULL;
    int rc = -1;

    if (stat(path, &st) < 0) {
        tdrv_err_setw(err, errno == ENOENT ? TDRV_E_NOINPUT : TDRV_E_OS,
                      errno == ENOENT ? "archive_not_found" : NULL, errno, "unable to open '%s'",
                      path);
        goto out;
    }
    if ((S_ISDIR(st.st_mode) ? load_layout_dir(&l, path, err) : load_stream(&l, path, err)) < 0)
        goto out;
    if (!l.nimages) {
        tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0, "'%s' holds no image for linux/%s",
                      path, tdrv_host_arch());
        goto out;
    }
    if (ref) {
        want = normalize(ref);
        if (!want) {
            tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0, "invalid image reference '%s'",
                          ref);
            goto out;
        }
        for (size_t i = 0; i < l.nimages; i++)
            if (l.images[i].ref && !strcmp(l.images[i].ref, want))
                pick = &l.images[i];
        if (!pick && l.nimages == 1) {
            cleanup_free char *text = NULL;
            size_t len = 0;

            /* One image: the task's name for it becomes a tag (docker load + image). */
            if (tdrv_store_blob_read(s, l.images[0].digest, MAX_META, &text, &len, err) < 0 ||
                record(&l, want, text, len, err) < 0)
                goto out;
            pick = &l.images[l.nimages - 1];
        }
        if (!pick) {
            tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                          "'%s' does not hold image '%s'", path, want);
            goto out;
        }
    } else {
        pick = &l.images[l.nimages - 1];
    }
    if (tdrv_store_lookup(s, pick->ref ? pick->ref : pick->digest, info, err) < 0)
        goto out;
    rc = 0;
out:
    loader_release(&l);
    return rc;
}
