#include "pull.h"

#include "json.h"
#include "mem.h"
#include "pull_local.h"
#include "ref.h"

int tdrv_pull(cJSON *req, const struct tdrv_pull_opts *opt, cJSON **res, struct tdrv_err *err)
{
    const char *image = opt->image;
    cleanup_ref struct tdrv_ref ref = {0};
    cleanup_free char *name = NULL;
    struct tdrv_pull_local lo = {.root = opt->root, .load = opt->load, .rootfs = opt->rootfs};
    cJSON *obj = NULL;
    int found = 0;

    (void)res;
    if (!lo.load && tdrv_json_str(req, "config.load", TDRV_OPTIONAL, &lo.load, err) < 0)
        return -1;
    if (lo.load && (tdrv_json_str(req, "alloc_id", TDRV_OPTIONAL, &lo.alloc_id, err) < 0 ||
                    tdrv_json_str(req, "task", TDRV_OPTIONAL, &lo.task, err) < 0))
        return -1;
    if (!image && tdrv_json_str(req, "config.image", lo.load ? TDRV_OPTIONAL : TDRV_REQUIRED,
                                &image, err) < 0)
        return -1;
    if (image) {
        if (tdrv_ref_parse_image(image, &ref, err) < 0)
            return tdrv_err_wrap(err, "request.config.image");
        name = tdrv_ref_string(&ref);
    }
    if (tdrv_pull_local(&lo, name, &obj, &found, err) < 0)
        return -1;
    if (found) {
        tdrv_json_set(req, "image", obj);
        return 0;
    }
    return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "unsupported", 0,
                         "unable to pull '%s': registry pulls are not in this build", image);
}
