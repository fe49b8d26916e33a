#ifndef TDRV_TASK_H
#define TDRV_TASK_H

#include <cjson/cJSON.h>

#include "err.h"

/* Room for a UUID's 36 characters and its NUL. */
#define TDRV_UUID_BUFSZ 37

/*
 * Read the task document (JSON or YAML, at most TDRV_MAX_REQUEST bytes) from fd.
 * - A document that carries an `error` object: *doc is set to it, err->passthrough = 1,
 *   err->code = error.exit (70 when absent or invalid), and -1 is returned, so that
 *   tdrv_finish writes it on unchanged with that status.
 * - A Nomad API job ({"Job": {...}}) becomes the task document of DESIGN §1 for the task
 *   `select` names ("GROUP/TASK"); with select NULL the job must have exactly one task
 *   (64 listing the choices otherwise), with a fresh alloc_id.
 * - Anything else must be an object, and is returned as it is.
 */
int tdrv_task_read(int fd, const char *select, cJSON **doc, struct tdrv_err *err);

/* What any task document may hold (65 invalid_config naming the field otherwise): at most
 * TDRV_MAX_ITEMS items in each driver option's array or object, in env, meta, ports and
 * network.ports; no control character and at most TDRV_MAX_OPTION_BYTES bytes in any string
 * or key of the driver options (except the free text of command, args, entrypoint and labels
 * values), nor in alloc_id, task, group, job, driver, user, kill_signal, kill_timeout; env
 * and meta values are free text. tdrv_task_read applies it. */
#define TDRV_MAX_ITEMS 4096
#define TDRV_MAX_OPTION_BYTES 65536
#define TDRV_STR_(x) #x
#define TDRV_STR(x) TDRV_STR_(x)
int tdrv_task_check_limits(const cJSON *doc, struct tdrv_err *err);

/* Turn a parsed Nomad API job document into a task document (see tdrv_task_read). */
int tdrv_task_from_job(const cJSON *job_doc, const char *select, cJSON **out, struct tdrv_err *err);

/*
 * --stdin FILE: once the document is read, FILE becomes fd 0, the input of an interactive
 * task (config.interactive; 64 when the task is not). 66 when FILE does not exist. A FIFO
 * blocks here until its writer opens it.
 */
int tdrv_task_stdin(const cJSON *doc, const char *path, struct tdrv_err *err);

/* Give a task document an `alloc_id` (a fresh UUIDv4) when it has none; 65 if not a string. */
int tdrv_task_ensure_alloc_id(cJSON *doc, struct tdrv_err *err);

/* A random (version 4) UUID, lowercase: "5f6c1b9e-3c1d-4d7e-9a55-0b2f6f3c9a10". */
int tdrv_uuid4(char out[TDRV_UUID_BUFSZ], struct tdrv_err *err);

#endif
