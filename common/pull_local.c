#include "pull_local.h"

#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "mem.h"
#include "store.h"

int tdrv_pull_local_finish(const struct tdrv_pull_local *o, cJSON *info, int cached,
                           struct tdrv_err *err)
{
    const char *md = NULL;

    /* The full config stays in the store (tdrv_store_lookup); the document names it. */
    cJSON_DeleteItemFromObjectCaseSensitive(info, "config");
    tdrv_json_set(info, "cached", cJSON_CreateBool(cached));
    if (!o->rootfs)
        return 0;
    if (tdrv_json_str(info, "manifest_digest", TDRV_REQUIRED, &md, err) < 0)
        return -1;
    {
        cleanup_store struct tdrv_store s = {.root_fd = -1};

        if (tdrv_store_open(&s, o->root, err) < 0 || tdrv_store_flatten(&s, md, o->rootfs, err) < 0)
            return tdrv_err_wrap(err, "unable to write the rootfs '%s'", o->rootfs);
    }
    tdrv_json_set(info, "rootfs", tdrv_json_xstr(o->rootfs));
    return 0;
}

int tdrv_pull_local(const struct tdrv_pull_local *o, const char *ref, cJSON **image, int *found,
                    struct tdrv_err *err)
{
    cleanup_store struct tdrv_store s = {.root_fd = -1};
    cleanup_json cJSON *info = NULL;
    int cached = 0;

    *found = 0;
    if (tdrv_store_open(&s, o->root, err) < 0)
        return -1;
    if (o->load) {
        cleanup_free char *local = NULL;
        const char *path = o->load;
        struct stat st;

        if (path[0] != '/' && o->alloc_id && o->task && !strchr(o->alloc_id, '/') &&
            !strchr(o->task, '/') && strcmp(o->alloc_id, "..") && strcmp(o->task, "..")) {
            local = tdrv_xasprintf("%s/allocs/%s/%s/local/%s", s.root, o->alloc_id, o->task, path);
            if (stat(local, &st) == 0)
                path = local;
        }
        if (tdrv_store_load(&s, path, ref, &info, err) < 0)
            return tdrv_err_wrap(err, "unable to load '%s'", path);
    } else {
        if (tdrv_store_lookup(&s, ref, &info, err) < 0) {
            if (err->code != TDRV_E_NOINPUT)
                return -1;
            tdrv_err_clear(err);
            return 0;
        }
        cached = 1;
    }
    *found = 1;
    if (tdrv_pull_local_finish(o, info, cached, err) < 0)
        return -1;
    *image = steal_ptr(&info);
    return 0;
}
