#include "pull.h"

#include "json.h"
#include "mem.h"
#include "ref.h"

int tdrv_pull(cJSON *req, const struct tdrv_pull_opts *opt, cJSON **res, struct tdrv_err *err)
{
    const char *image = opt->image;
    cleanup_ref struct tdrv_ref ref = {0};

    (void)res;
    if (!image && tdrv_json_str(req, "config.image", TDRV_REQUIRED, &image, err) < 0)
        return -1;
    if (tdrv_ref_parse_image(image, &ref, err) < 0)
        return tdrv_err_wrap(err, "request.config.image");
    return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "unsupported", 0,
                         "unable to pull '%s': registry pulls are not in this build", image);
}
