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
