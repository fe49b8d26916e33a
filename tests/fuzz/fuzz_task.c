/*
 * Reading the task document (tdrv_task_read from a file descriptor, tdrv_task_from_job).
 * Invariants: a document read is an object; one converted from a Nomad job ({"Job": ...})
 * has a 36-character alloc_id, task, group, job, config, env and meta; a document that
 * carries an error is handed back with err->passthrough and a status in 1-255; any other
 * refusal leaves *doc NULL with exit 64 or 65. A job converted with --task naming its first
 * task gives that task.
 */
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

#include "json.h"
#include "mem.h"
#include "task.h"

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void check_converted(const cJSON *doc)
{
    const char *id = str(doc, "alloc_id");

    FUZZ_ASSERT(cJSON_IsObject(doc), "not an object");
    FUZZ_ASSERT(id && strlen(id) == TDRV_UUID_BUFSZ - 1, "alloc_id '%s'", id ? id : "(null)");
    FUZZ_ASSERT(str(doc, "task") && str(doc, "group") && str(doc, "job"), "names missing");
    FUZZ_ASSERT(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "config")), "no config");
    FUZZ_ASSERT(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "env")), "no env");
    FUZZ_ASSERT(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "meta")), "no meta");
}

/* --task GROUP/TASK for the job's first task, when its names can be written so. */
static char *first_task(const cJSON *in)
{
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(in, "Job");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(job, "TaskGroups");
    const cJSON *g = cJSON_IsArray(groups) ? groups->child : NULL;
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(g, "Tasks");
    const cJSON *t = cJSON_IsArray(tasks) ? tasks->child : NULL;
    const char *gn = str(g, "Name");
    const char *tn = str(t, "Name");

    if (!gn || !tn || !*gn || !*tn || strchr(gn, '/') || strchr(tn, '/'))
        return NULL;
    return tdrv_xasprintf("%s/%s", gn, tn);
}

static void by_name(const cJSON *in)
{
    cleanup_free char *select = first_task(in);
    cleanup_json cJSON *doc = NULL;
    struct tdrv_err err = {0};
    const char *slash;

    if (!select)
        return;
    if (tdrv_task_from_job(in, select, &doc, &err) < 0) {
        FUZZ_ASSERT(doc == NULL, "refusal left a document");
        FUZZ_ASSERT(err.code == TDRV_E_DATA, "--task '%s': exit %d: %s", select, err.code, err.msg);
        return;
    }
    check_converted(doc);
    slash = strchr(select, '/');
    FUZZ_ASSERT(!strncmp(str(doc, "group"), select, (size_t)(slash - select)) &&
                    !strcmp(str(doc, "task"), slash + 1),
                "--task '%s' gave '%s/%s'", select, str(doc, "group"), str(doc, "task"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_close int fd = memfd_create("fuzz_task", MFD_CLOEXEC);
    cleanup_json cJSON *doc = NULL;
    cleanup_json cJSON *in = NULL;
    cleanup_free char *buf = fuzz_cstr(data, size);
    struct tdrv_err err = {0};
    struct tdrv_err ignored = {0};
    int rc;

    FUZZ_ASSERT(fd >= 0, "memfd_create");
    FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size, "write");
    FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    rc = tdrv_task_read(fd, NULL, &doc, &err);
    if (rc == 0) {
        FUZZ_ASSERT(cJSON_IsObject(doc), "a document read is not an object");
        FUZZ_ASSERT(err.code == 0, "error set on success: %s", err.msg);
    } else if (err.passthrough) {
        FUZZ_ASSERT(doc && cJSON_GetObjectItemCaseSensitive(doc, "error"), "no error object");
        FUZZ_ASSERT(err.code >= 1 && err.code <= 255, "status %d", err.code);
    } else {
        FUZZ_ASSERT(rc == -1, "rc %d", rc);
        FUZZ_ASSERT(doc == NULL, "refusal left a document");
        FUZZ_ASSERT(err.code == TDRV_E_DATA || err.code == TDRV_E_USAGE, "exit %d: %s", err.code,
                    err.msg);
        FUZZ_ASSERT(err.msg[0], "empty message");
        /* Only the 16 MiB request cap may say too_large; an internal buffer must not. */
        FUZZ_ASSERT(strcmp(err.word, "too_large") != 0, "internal cap reached: %s", err.msg);
    }

    if (tdrv_doc_parse(buf, size, &in, &ignored) < 0 || !cJSON_IsObject(in) ||
        !cJSON_GetObjectItemCaseSensitive(in, "Job"))
        return 0;
    if (cJSON_GetObjectItemCaseSensitive(in, "error") &&
        !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(in, "error")))
        return 0;
    if (rc == 0)
        check_converted(doc);
    by_name(in);
    return 0;
}
