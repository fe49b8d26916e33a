/* tdrv-pull's flow: task document -> policy -> credentials -> registry -> store. */
#include "pull.h"

#include <string.h>

#include "auth.h"
#include "config.h"
#include "duration.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "platform.h"
#include "pull_docker.h"
#include "pull_local.h"
#include "ref.h"
#include "registry.h"
#include "store.h"

#define MAX_CONFIG_BLOB (8u << 20)

struct layer_job {
    struct tdrv_layer_desc desc;
    struct tdrv_layer_writer *w;
    const char *media_type;
};

static int lw_write(void *ctx, const void *p, size_t n, struct tdrv_err *err)
{
    return tdrv_layer_write(((struct layer_job *)ctx)->w, p, n, err);
}

static int lw_reset(void *ctx, struct tdrv_err *err)
{
    return tdrv_layer_restart(((struct layer_job *)ctx)->w, err);
}

static int lw_done(void *ctx, struct tdrv_err *err)
{
    struct layer_job *l = ctx;
    struct tdrv_layer_writer *w = l->w;

    l->w = NULL; /* commit frees it whatever it returns */
    return tdrv_layer_commit(w, err);
}

/* insecure_options (rkt): tls, http, image, all, none, or a comma list. */
static int parse_insecure(const cJSON *cfg, int *tls, int *http, struct tdrv_err *err)
{
    const cJSON *arr = NULL;
    const cJSON *it;

    if (tdrv_json_strarr(cfg, "insecure_options", TDRV_OPTIONAL, &arr, err) < 0)
        return -1;
    cJSON_ArrayForEach(it, arr)
    {
        const char *v = it->valuestring;
        if (!strcmp(v, "tls"))
            *tls = 1;
        else if (!strcmp(v, "http"))
            *http = 1;
        else if (!strcmp(v, "all"))
            *tls = *http = 1;
        else if (strcmp(v, "none") && strcmp(v, "image") && strcmp(v, "ondisk") &&
                 strcmp(v, "pubkey") && strcmp(v, "capabilities") && strcmp(v, "paths") &&
                 strcmp(v, "seccomp"))
            return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                                 "request.config.insecure_options: unknown value '%s' (expected "
                                 "tls, http, image, all or none)",
                                 v);
    }
    return 0;
}

static int get_timeout(const cJSON *cfg, const char *key, int64_t def_ms, int64_t *out,
                       struct tdrv_err *err)
{
    const char *s = NULL;
    int64_t ns = 0;

    *out = def_ms;
    if (tdrv_json_str(cfg, key, TDRV_OPTIONAL, &s, err) < 0)
        return -1;
    if (!s)
        return 0;
    if (tdrv_duration_parse(s, &ns, err) < 0)
        return tdrv_err_wrap(err, "request.config.%s", key);
    if (ns <= 0)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.config.%s: must be positive", key);
    *out = ns / 1000000;
    return 0;
}

static int is_latest(const struct tdrv_ref *ref)
{
    return !ref->digest && (!ref->tag || !strcmp(ref->tag, "latest"));
}

/* Is the stored image of the wanted platform (unknown: assume so)? */
static int platform_ok(const cJSON *info, const struct tdrv_platform *want)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(info, "platform");
    struct tdrv_platform have;
    struct tdrv_err e = {0};

    if (!cJSON_IsString(p) || tdrv_platform_parse(p->valuestring, &have, &e) < 0)
        return 1;
    return tdrv_platform_rank(want, &have, 0) >= 0;
}

/* Does the store's image for ref match what the registry has now (digest of a HEAD)? */
static int store_matches(struct tdrv_store *st, const cJSON *info, const char *remote,
                         const struct tdrv_platform *want)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(info, "manifest_digest");
    cleanup_free char *data = NULL;
    cleanup_json cJSON *idx = NULL;
    struct tdrv_err e = {0};
    const cJSON *d;
    size_t len = 0;

    if (!cJSON_IsString(md))
        return 0;
    if (!strcmp(md->valuestring, remote))
        return 1;
    /* remote is an index we stored before: the platform's entry must be ours */
    if (tdrv_store_blob_read(st, remote, TDRV_MAX_MANIFEST, &data, &len, &e) < 0 ||
        tdrv_json_parse(data, len, &idx, &e) < 0)
        return 0;
    d = tdrv_platform_select(idx, want, 0, &e);
    d = d ? cJSON_GetObjectItemCaseSensitive(d, "digest") : NULL;
    return cJSON_IsString(d) && !strcmp(d->valuestring, md->valuestring);
}

int tdrv_pull_manifest_config(const struct tdrv_manifest *man, const char **digest, uint64_t *size,
                              struct tdrv_err *err)
{
    const cJSON *cdesc = cJSON_GetObjectItemCaseSensitive(man->json, "config");
    const cJSON *cdg = cJSON_GetObjectItemCaseSensitive(cdesc, "digest");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(man->json, "layers");
    int64_t csz = -1;

    if (!cJSON_IsString(cdg) || !tdrv_digest_valid(cdg->valuestring) ||
        tdrv_desc_size(cdesc, &csz) < 0 || csz > MAX_CONFIG_BLOB || !cJSON_IsArray(layers))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "manifest %s: malformed config or layers", man->digest);
    *digest = cdg->valuestring;
    *size = (uint64_t)csz;
    return 0;
}

int tdrv_pull_manifest_layers(const struct tdrv_manifest *man, const cJSON *config,
                              struct tdrv_layer_desc **descs, size_t *count, struct tdrv_err *err)
{
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(man->json, "layers");
    const cJSON *diffs = tdrv_json_at(config, "rootfs.diff_ids");
    cleanup_free struct tdrv_layer_desc *d = NULL;
    size_t n = (size_t)cJSON_GetArraySize(layers);

    if (!cJSON_IsArray(layers))
        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "manifest %s: malformed config or layers", man->digest);
    if (!cJSON_IsArray(diffs) || (size_t)cJSON_GetArraySize(diffs) != n) {
        const char *cdg = cJSON_GetStringValue(tdrv_json_at(man->json, "config.digest"));

        return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                             "image config %s: rootfs.diff_ids does not match the %zu layers",
                             cdg ? cdg : "", n);
    }
    d = tdrv_xcalloc(n ? n : 1, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        const cJSON *l = cJSON_GetArrayItem(layers, (int)i);
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(l, "digest");
        const cJSON *df = cJSON_GetArrayItem(diffs, (int)i);

        if (!cJSON_IsString(dg) || !tdrv_digest_valid(dg->valuestring) ||
            tdrv_desc_size(l, &d[i].size) < 0 || !cJSON_IsString(df) ||
            !tdrv_digest_valid(df->valuestring))
            return tdrv_err_setw(err, TDRV_E_PROTOCOL, "protocol_error", 0,
                                 "manifest %s: layer %zu has no valid digest, size or diff_id",
                                 man->digest, i);
        snprintf(d[i].digest, sizeof(d[i].digest), "%s", dg->valuestring);
        snprintf(d[i].diff_id, sizeof(d[i].diff_id), "%s", df->valuestring);
    }
    if (tdrv_chain_ids(d, n, err) < 0)
        return -1;
    *descs = steal_ptr(&d);
    *count = n;
    return 0;
}

static int fetch_image(struct tdrv_registry *reg, struct tdrv_store *st, const char *refstr,
                       const char *reference, const struct tdrv_platform *want, cJSON **info,
                       char *index_digest, size_t idlen, struct tdrv_err *err)
{
    cleanup_manifest struct tdrv_manifest index = {0};
    cleanup_manifest struct tdrv_manifest man = {0};
    cleanup_buf struct tdrv_buf cfgb = {0};
    cleanup_json cJSON *cfg = NULL;
    cleanup_free struct tdrv_layer_desc *descs = NULL;
    const char *cdg = NULL;
    uint64_t csz = 0;
    const cJSON *layers;
    struct layer_job *lj = NULL;
    struct tdrv_blob_job *jobs = NULL;
    size_t n = 0;
    size_t nj = 0;
    int rc = -1;

    if (tdrv_registry_resolve(reg, reference, want, 0, &index, &man, err) < 0)
        return -1;
    if (index.json) {
        snprintf(index_digest, idlen, "%s", index.digest);
        if (tdrv_store_blob_put(st, index.digest, index.body.data, index.body.len, NULL, err) < 0)
            return -1;
    }
    if (tdrv_pull_manifest_config(&man, &cdg, &csz, err) < 0)
        return -1;
    layers = cJSON_GetObjectItemCaseSensitive(man.json, "layers");
    /* the config: small, in memory, verified, then stored */
    if (!tdrv_store_blob_has(st, cdg)) {
        tdrv_buf_init(&cfgb, MAX_CONFIG_BLOB);
        if (tdrv_registry_blob_get(reg, cdg, csz, &cfgb, err) < 0 ||
            tdrv_store_blob_put(st, cdg, cfgb.data ? cfgb.data : "", cfgb.len, NULL, err) < 0)
            return -1;
        if (tdrv_json_parse(cfgb.data ? cfgb.data : "", cfgb.len, &cfg, err) < 0)
            return tdrv_err_wrap(err, "image config %s", cdg);
    } else {
        cleanup_free char *data = NULL;
        size_t len = 0;
        if (tdrv_store_blob_read(st, cdg, MAX_CONFIG_BLOB, &data, &len, err) < 0 ||
            tdrv_json_parse(data, len, &cfg, err) < 0)
            return tdrv_err_wrap(err, "image config %s", cdg);
    }
    if (tdrv_pull_manifest_layers(&man, cfg, &descs, &n, err) < 0)
        return -1;
    lj = tdrv_xcalloc(n ? n : 1, sizeof(*lj));
    jobs = tdrv_xcalloc(n ? n : 1, sizeof(*jobs));
    for (size_t i = 0; i < n; i++)
        lj[i].desc = descs[i];
    for (size_t i = 0; i < n; i++) {
        const cJSON *l = cJSON_GetArrayItem(layers, (int)i);
        int dup = 0;
        int b;
        /* The same blob twice (empty layers): fetched once; tdrv_store_image_put unpacks
         * the later copies from it. Beginning it twice would wait on our own lock. */
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(lj[j].desc.digest, lj[i].desc.digest);
        if (dup)
            continue;
        b = tdrv_store_layer_begin(st, &lj[i].desc, &lj[i].w, err);
        if (b < 0)
            goto out;
        if (b == 1)
            continue;
        jobs[nj].digest = lj[i].desc.digest;
        jobs[nj].size = (uint64_t)lj[i].desc.size;
        jobs[nj].urls = cJSON_GetObjectItemCaseSensitive(l, "urls");
        jobs[nj].label = lj[i].desc.digest + 7;
        jobs[nj].offset = tdrv_layer_offset(lj[i].w);
        jobs[nj].sink_verifies = 1;
        jobs[nj].ctx = &lj[i];
        jobs[nj].write = lw_write;
        jobs[nj].reset = lw_reset;
        jobs[nj].done = lw_done;
        if (jobs[nj].offset)
            tdrv_info("layer %.19s: resuming at byte %llu", lj[i].desc.digest,
                      (unsigned long long)jobs[nj].offset);
        nj++;
    }
    if (tdrv_registry_fetch(reg, jobs, nj, err) < 0)
        goto out;
    if (tdrv_store_image_put(st, refstr, man.body.data, man.body.len, info, err) < 0)
        goto out;
    rc = 0;
out:
    for (size_t i = 0; lj && i < n; i++)
        if (lj[i].w)
            tdrv_layer_abort(lj[i].w); /* keeps the partial for a resume; nothing looks whole */
    free(lj);
    free(jobs);
    return rc;
}

/*
 * The task's auth block is read from a private copy; the document written back carries
 * "<redacted>" for the password, so no secret reaches stdout (DESIGN §6).
 */
static cJSON *take_task_auth(cJSON *req, const cJSON *auth)
{
    cJSON *copy;
    cJSON *pw;

    if (!auth)
        return NULL;
    copy = tdrv_json_xdup(auth);
    pw = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "config"), "auth");
    pw = cJSON_GetObjectItemCaseSensitive(pw, "password");
    if (cJSON_IsString(pw) && pw->valuestring[0]) {
        explicit_bzero(pw->valuestring, strlen(pw->valuestring));
        cJSON_SetValuestring(pw, "<redacted>");
    }
    return copy;
}

static void wipe_json(cJSON **p)
{
    cJSON *pw = *p ? cJSON_GetObjectItemCaseSensitive(*p, "password") : NULL;

    if (cJSON_IsString(pw))
        explicit_bzero(pw->valuestring, strlen(pw->valuestring));
    cJSON_Delete(*p);
    *p = NULL;
}

int tdrv_pull(cJSON *req, const struct tdrv_pull_opts *opt, cJSON **res, struct tdrv_err *err)
{
    const char *image = opt->image;
    const char *driver = NULL;
    const char *trust = NULL;
    const cJSON *cfgobj = NULL;
    const cJSON *task_auth = NULL;
    __attribute__((cleanup(wipe_json))) cJSON *auth_copy = NULL;
    cleanup_ref struct tdrv_ref ref = {0};
    cleanup_config struct tdrv_config conf = {0};
    cleanup_store struct tdrv_store st = {.root_fd = -1};
    cleanup_cred struct tdrv_cred cred = {0};
    cleanup_free char *refstr = NULL;
    cleanup_json cJSON *info = NULL;
    struct tdrv_registry *reg = NULL;
    struct tdrv_registry_opts ro = {0};
    struct tdrv_auth_opts ao = {0};
    struct tdrv_platform want;
    enum tdrv_pull_policy policy = opt->policy;
    char index_digest[160] = "";
    char remote[160] = "";
    int force = 0;
    int soft = 0;
    int cached = 0;
    int present;
    int rc;

    struct tdrv_pull_local lo = {.root = opt->root, .load = opt->load, .rootfs = opt->rootfs};

    if (!lo.load && tdrv_json_str(req, "config.load", TDRV_OPTIONAL, &lo.load, err) < 0)
        return -1;
    if (lo.load && !*lo.load && !opt->load)
        lo.load = NULL; /* load = "": nothing to load, as the docker driver */
    if (lo.load) {
        /* an archive (docker-archive, oci-archive, OCI layout, ACI): no registry */
        cleanup_free char *name = NULL;
        cJSON *obj = NULL;
        int found = 0;
        if (tdrv_json_str(req, "alloc_id", TDRV_OPTIONAL, &lo.alloc_id, err) < 0 ||
            tdrv_json_str(req, "task", TDRV_OPTIONAL, &lo.task, err) < 0)
            return -1;
        if (!image && tdrv_json_str(req, "config.image", TDRV_OPTIONAL, &image, err) < 0)
            return -1;
        if (image) {
            if (tdrv_ref_parse_image(image, &ref, err) < 0)
                return tdrv_err_wrap(err, "request.config.image");
            name = tdrv_ref_string(&ref);
        }
        if (tdrv_pull_local(&lo, name, &obj, &found, err) < 0)
            return -1;
        tdrv_json_set(req, "image", obj);
        *res = NULL;
        return 0;
    }
    if (!image) {
        if (tdrv_json_obj(req, "config", TDRV_REQUIRED, &cfgobj, err) < 0 ||
            tdrv_json_str(req, "config.image", TDRV_REQUIRED, &image, err) < 0)
            return -1;
        if (tdrv_json_str(req, "driver", TDRV_OPTIONAL, &driver, err) < 0 ||
            tdrv_json_bool(req, "config.force_pull", TDRV_OPTIONAL, &force, err) < 0 ||
            tdrv_json_bool(req, "config.auth_soft_fail", TDRV_OPTIONAL, &soft, err) < 0 ||
            tdrv_json_obj(req, "config.auth", TDRV_OPTIONAL, &task_auth, err) < 0)
            return -1;
        task_auth = auth_copy = take_task_auth(req, task_auth);
    }
    if (tdrv_ref_parse_image(image, &ref, err) < 0)
        return tdrv_err_wrap(err, "request.config.image");
    refstr = tdrv_ref_string(&ref);
    if (opt->platform) {
        if (tdrv_platform_parse(opt->platform, &want, err) < 0) {
            err->code = TDRV_E_USAGE;
            return tdrv_err_wrap(err, "--platform");
        }
    } else {
        tdrv_platform_host(&want);
    }
    tdrv_config_init(&conf);
    if (tdrv_config_load(&conf, NULL, err) < 0)
        return -1;
    /* rkt's trust_prefix: images are verified by digest here, the option has no effect but
     * its type is still the driver's */
    if (tdrv_json_str(req, "config.trust_prefix", TDRV_OPTIONAL, &trust, err) < 0)
        return -1;
    if (parse_insecure(cfgobj, &ro.insecure_tls, &ro.insecure_http, err) < 0 ||
        get_timeout(cfgobj, "image_pull_timeout", 5 * 60 * 1000, &ro.pull_timeout_ms, err) < 0)
        return -1;
    ro.activity_timeout_ms = conf.pull_activity_timeout_ns / 1000000;
    ro.ca_file = opt->ca_file;
    ro.max_concurrent = opt->max_concurrent;
    ro.retries = 4;
    ro.progress = opt->progress;

    if (opt->to == TDRV_TO_DOCKER ||
        (opt->to == TDRV_TO_AUTO && driver && !strcmp(driver, "docker"))) {
        struct tdrv_pull_docker pd = {.ref = &ref,
                                      .conf = &conf,
                                      .cred = &cred,
                                      .force = force,
                                      .timeout_ms = ro.pull_timeout_ms};
        cJSON *img = NULL;
        ao.task_auth = task_auth;
        ao.config_path = conf.auth_config;
        ao.helper = conf.auth_helper;
        ao.soft_fail = soft;
        if (tdrv_auth_resolve(&ao, ref.domain, &cred, err) < 0 ||
            tdrv_pull_docker(&pd, &img, err) < 0)
            return -1;
        tdrv_json_set(req, "image", img);
        *res = NULL;
        return 0;
    }
    if (tdrv_store_open(&st, opt->root, err) < 0)
        return -1;
    rc = tdrv_store_lookup(&st, refstr, &info, err);
    present = rc == 0;
    if (rc < 0 && err->code != TDRV_E_NOINPUT)
        return -1;
    if (present && !platform_ok(info, &want))
        present = 0; /* another platform's image is stored under this reference */
    tdrv_err_clear(err);
    if (policy == TDRV_POLICY_DEFAULT)
        /* The docker driver's rule (an omitted or `latest` tag is always re-checked)
         * for docker tasks and for a shell user's `tdrv-pull IMAGE`; the daemonless
         * drivers (oci, rkt, containerd-driver) default to rkt's "new". */
        policy = force || (driver && !strcmp(driver, "docker") && is_latest(&ref)) ||
                         (opt->image && is_latest(&ref))
                     ? TDRV_POLICY_UPDATE
                     : TDRV_POLICY_NEW;
    if (force && policy != TDRV_POLICY_NEVER)
        policy = TDRV_POLICY_UPDATE;
    if (policy == TDRV_POLICY_NEVER && !present)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                             "image '%s' is not in the store (pull policy never)", refstr);
    if (present && (policy == TDRV_POLICY_NEVER || policy == TDRV_POLICY_NEW))
        cached = 1;

    if (!cached) {
        ao.task_auth = task_auth;
        ao.config_path = conf.auth_config;
        ao.helper = conf.auth_helper;
        ao.soft_fail = soft;
        if (tdrv_auth_resolve(&ao, ref.domain, &cred, err) < 0)
            return -1;
        if (!tdrv_cred_empty(&cred))
            tdrv_info("using credentials from %s for '%s'", cred.source, ref.domain);
        ro.cred = &cred;
        if (tdrv_registry_open(&reg, &ref, &ro, err) < 0) {
            /* re-checking a stored image: an unreachable registry is not fatal */
            if (!present || force ||
                (err->code != TDRV_E_UNAVAILABLE && err->code != TDRV_E_TEMPFAIL))
                return -1;
            tdrv_warn("using the stored image: %s", err->msg);
            tdrv_err_clear(err);
            cached = 1;
        }
    }
    if (!cached) {
        if (present && !ref.digest && !force) {
            /* a cheap HEAD: a GET counts as a pull on Docker Hub */
            if (tdrv_registry_head(reg, ref.tag, remote, sizeof(remote), err) == 0 &&
                store_matches(&st, info, remote, &want))
                cached = 1;
            tdrv_err_clear(err);
        } else if (present && !force) {
            cached = 1;
        }
        if (!cached) {
            cJSON_Delete(info);
            info = NULL;
            rc = fetch_image(reg, &st, refstr, ref.digest ? ref.digest : ref.tag, &want, &info,
                             index_digest, sizeof(index_digest), err);
            if (rc < 0) {
                tdrv_registry_free(reg);
                return tdrv_err_wrap(err, "unable to pull '%s'", refstr);
            }
        }
        tdrv_registry_free(reg);
    }
    if (tdrv_pull_local_finish(&lo, info, cached, err) < 0)
        return -1;
    if (index_digest[0])
        tdrv_json_add_str(info, "index_digest", index_digest);
    if (!cJSON_GetObjectItemCaseSensitive(info, "reference"))
        tdrv_json_add_str(info, "reference", refstr);
    tdrv_json_set(req, "image", steal_ptr(&info));
    *res = NULL; /* the request document carries the result */
    return 0;
}
