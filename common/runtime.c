#include "runtime.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "console.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "ref.h"
#include "spec.h"
#include "store.h"
#include "task.h"

extern char **environ;

#define STATE_MAX (4u * 1024u * 1024u)

static int64_t t0_ns; /* when tdrv_run began, for -vv timings */

/* ---- small helpers ------------------------------------------------------------------------ */

static void now_rfc3339(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    char s[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%09ldZ", s, ts.tv_nsec);
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Atomic write without fsync: runtime state, not data (rename is the atomic step). */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode,
                        struct tdrv_err *err)
{
    cleanup_free char *tmp = tdrv_xasprintf("%s.tmp.%d", path, (int)getpid());
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to create '%s'", tmp);
    if (tdrv_write_all(fd, data, len) < 0) {
        int e = errno;

        unlink(tmp);
        return tdrv_err_set(err, TDRV_E_IO, e, "unable to write '%s'", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;

        unlink(tmp);
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to rename '%s'", tmp);
    }
    return 0;
}

static int write_json(const char *path, const cJSON *doc, struct tdrv_err *err)
{
    char *s = cJSON_Print(doc);
    int rc;

    if (!s)
        tdrv_oom();
    rc = write_atomic(path, s, strlen(s), 0644, err);
    cJSON_free(s);
    return rc;
}

static int mkdirs(const char *path, mode_t mode, struct tdrv_err *err)
{
    return tdrv_mkdir_p(AT_FDCWD, path, mode, err);
}

static int valid_id(const char *s)
{
    if (!s || !*s || *s == '.' || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return 1;
}

/* ---- the task's paths ------------------------------------------------------------------------ */

struct task {
    char *alloc_id;
    char *name;
    char *cid; /* <task>-<alloc_id>: the runtime's container id */
    char *alloc_dir;
    char *task_dir;
    char *state_path;
    char *lease_path;
    char *logs_dir;
    char *bundle;
    char *runtime_root;
    char *store_root;
    int lease_fd;
    int keep; /* detached: the monitor owns the mount and the lease now */
    int mounted;
    struct tdrv_store store;
    int store_open;
    struct tdrv_task_opts opts;
    cJSON *state;
    char *runtime;
    struct tdrv_net net; /* bridge/group network (common/net.c), set up by begin() */
    int opts_parsed;     /* opts holds the task's options (begin), before the spec's */
    /* the foreground's pipelined start (early_start): runc started, config.json a FIFO */
    int early_ok;
    int early;
    pid_t early_pid;
    int early_fifo;
    int early_out[2];
    int early_err[2];
};

static void early_abort(struct task *t);

static void task_release(struct task *t)
{
    struct tdrv_err e = {0};

    early_abort(t);
    if (t->mounted && !t->keep && t->store_open)
        tdrv_store_rootfs_unmount(&t->store, t->bundle, &e);
    if (t->store_open)
        tdrv_store_release(&t->store);
    if (t->lease_fd >= 0)
        close(t->lease_fd);
    free(t->alloc_id);
    free(t->name);
    free(t->cid);
    free(t->alloc_dir);
    free(t->task_dir);
    free(t->state_path);
    free(t->lease_path);
    free(t->logs_dir);
    free(t->bundle);
    free(t->runtime_root);
    free(t->store_root);
    free(t->runtime);
    tdrv_task_opts_release(&t->opts);
    tdrv_net_release(&t->net);
    cJSON_Delete(t->state);
    memset(t, 0, sizeof(*t));
    t->lease_fd = -1;
}

#define cleanup_task __attribute__((cleanup(task_release)))

static int task_paths(struct task *t, const struct tdrv_config *cfg, const char *alloc_id,
                      const char *name, struct tdrv_err *err)
{
    if (!valid_id(alloc_id))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.alloc_id: invalid '%s'", alloc_id ? alloc_id : "");
    if (!valid_id(name))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.task: invalid task name '%s' (letters, digits, '_', '.', "
                             "'-')",
                             name ? name : "");
    t->alloc_id = tdrv_xstrdup(alloc_id);
    t->name = tdrv_xstrdup(name);
    t->cid = tdrv_xasprintf("%s-%s", name, alloc_id);
    t->alloc_dir = tdrv_xasprintf("%s/allocs/%s", cfg->root, alloc_id);
    t->task_dir = tdrv_xasprintf("%s/%s", t->alloc_dir, name);
    t->state_path = tdrv_xasprintf("%s/state.json", t->task_dir);
    t->lease_path = tdrv_xasprintf("%s/lease", t->task_dir);
    t->logs_dir = tdrv_xasprintf("%s/logs", t->task_dir);
    t->bundle = tdrv_xasprintf("%s/tasks/%s", cfg->run_dir, t->cid);
    t->runtime_root = tdrv_xasprintf("%s/runtime", cfg->run_dir);
    t->store_root = tdrv_xstrdup(cfg->root);
    return 0;
}

/* The task a handle document, a task document or --alloc/--task names. */
static int task_from_req(struct task *t, const struct tdrv_run_req *rq,
                         const struct tdrv_config *cfg, const cJSON *doc, struct tdrv_err *err)
{
    const char *a = rq->alloc_id;
    const char *n = rq->task;

    if (!a || !n) {
        const cJSON *h = tdrv_json_at(doc, "handle");
        const cJSON *src = h && cJSON_IsObject(h) ? h : doc;

        if (!doc)
            return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                                 "name the task with --alloc ID --task NAME or a handle "
                                 "document on stdin");
        if (tdrv_json_str(src, "alloc_id", TDRV_REQUIRED, &a, err) < 0 ||
            tdrv_json_str(src, "task", TDRV_REQUIRED, &n, err) < 0)
            return -1;
    }
    return task_paths(t, cfg, a, n, err);
}

static int load_state(struct task *t, struct tdrv_err *err)
{
    cleanup_json cJSON *st = NULL;

    /* checked first: tdrv_doc_read_file releases an uninitialised buffer when open fails */
    if (access(t->state_path, F_OK) < 0 && errno == ENOENT)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_found", 0,
                             "no task '%s' in allocation '%s'", t->name, t->alloc_id);
    if (tdrv_doc_read_file(t->state_path, STATE_MAX, &st, err) < 0) {
        if (err->code == TDRV_E_NOINPUT) {
            tdrv_err_clear(err);
            return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_found", 0,
                                 "no task '%s' in allocation '%s'", t->name, t->alloc_id);
        }
        return -1;
    }
    cJSON_Delete(t->state);
    t->state = steal_ptr(&st);
    {
        const char *r = NULL;
        const char *rr = NULL;

        tdrv_json_str(t->state, "runtime", TDRV_OPTIONAL, &r, err);
        tdrv_json_str(t->state, "runtime_root", TDRV_OPTIONAL, &rr, err);
        free(t->runtime);
        t->runtime = tdrv_xstrdup(r ? r : "runc");
        if (rr) {
            free(t->runtime_root);
            t->runtime_root = tdrv_xstrdup(rr);
        }
    }
    return 0;
}

static int save_state(struct task *t, struct tdrv_err *err)
{
    return write_json(t->state_path, t->state, err);
}

/* network (issue 6): undo a bridge/group network from its state file; every stop path calls
 * this, and it does nothing when there is none (host, none, already torn down). */
static void net_down(struct task *t)
{
    cleanup_free char *p = tdrv_xasprintf("%s/%s", t->task_dir, TDRV_NET_STATE);
    struct tdrv_err e = {0};

    if (tdrv_net_teardown(p, &e) < 0)
        tdrv_warn("%s", e.msg);
}

/* Is the lease free (its supervisor gone)? 1 free, 0 held, -1 error. */
static int lease_free(const char *path)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        return 1;
    return errno == EWOULDBLOCK ? 0 : -1;
}

/* Wait until the lease is free; timeout_ns < 0 waits for ever. 0 ok, -1 timed out. */
static int lease_wait(const char *path, int64_t timeout_ns)
{
    int64_t end = mono_ns() + timeout_ns;

    if (timeout_ns < 0) {
        /* no deadline: block on the lease itself, released at once */
        cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

        while (fd >= 0 && flock(fd, LOCK_SH) < 0 && errno == EINTR)
            ;
        return 0;
    }
    for (;;) {
        if (lease_free(path) != 0)
            return 0;
        if (timeout_ns >= 0 && mono_ns() > end)
            return -1;
        usleep(20000);
    }
}

/* ---- the OCI runtime binary ---------------------------------------------------------------------
 */

static int spawn(char *const argv[], int in, int out, int errfd, pid_t *pid, struct tdrv_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    sigset_t all;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (in >= 0)
        posix_spawn_file_actions_adddup2(&fa, in, 0);
    if (out >= 0)
        posix_spawn_file_actions_adddup2(&fa, out, 1);
    if (errfd >= 0)
        posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc)
        return tdrv_err_setw(err, rc == ENOENT ? TDRV_E_UNAVAILABLE : TDRV_E_OS,
                             rc == ENOENT ? "runtime_not_found" : "os_error", rc,
                             "unable to run '%s'", argv[0]);
    return 0;
}

static int wait_pid(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* runtime --root R ARGS... ; stdio inherited unless given; returns its wait status. */
static int runtime_cmd(const struct task *t, const char *const *args, int in, int out, int errfd,
                       int *status, struct tdrv_err *err)
{
    const char *argv[64];
    size_t n = 0;
    pid_t pid;

    argv[n++] = t->runtime;
    argv[n++] = "--root";
    argv[n++] = t->runtime_root;
    for (; *args && n < TDRV_ARRAY_LEN(argv) - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    if (spawn((char *const *)argv, in, out, errfd, &pid, err) < 0)
        return -1;
    if (wait_pid(pid, status) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to wait for '%s'", t->runtime);
    return 0;
}

static void runtime_delete(const struct task *t)
{
    struct tdrv_err e = {0};
    int st;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    runtime_cmd(t, (const char *const[]){"delete", "--force", t->cid, NULL}, null, null, null, &st,
                &e);
    if (null >= 0)
        close(null);
}

/*
 * The last error message of the runtime's JSON log, and the status it means; without one,
 * how the runtime ended (its exit status, or the signal that killed it).
 */
static int runtime_failure(const struct task *t, const char *log, int wstatus, struct tdrv_err *err)
{
    cleanup_fclose FILE *f = fopen(log, "re");
    char line[8192];
    char msg[2048];
    int status = 125;

    if (WIFSIGNALED(wstatus))
        snprintf(msg, sizeof(msg), "the OCI runtime '%s' was killed by signal %d (%s)", t->runtime,
                 WTERMSIG(wstatus),
                 tdrv_signal_name(WTERMSIG(wstatus)) ? tdrv_signal_name(WTERMSIG(wstatus))
                                                     : "unknown");
    else
        snprintf(msg, sizeof(msg), "the OCI runtime '%s' failed with status %d", t->runtime,
                 WEXITSTATUS(wstatus));

    while (f && fgets(line, sizeof(line), f)) {
        cJSON *l = cJSON_Parse(line);
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(l, "level");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(l, "msg");

        if (cJSON_IsString(lv) && cJSON_IsString(m) &&
            (!strcmp(lv->valuestring, "error") || !strcmp(lv->valuestring, "fatal")))
            snprintf(msg, sizeof(msg), "%s", m->valuestring);
        cJSON_Delete(l);
    }
    if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory"))
        status = 127;
    else if (strstr(msg, "permission denied") || strstr(msg, "exec format error") ||
             strstr(msg, "is a directory"))
        status = 126;
    if (status == 127 && strstr(msg, "exec"))
        tdrv_err_setw(err, TDRV_E_NOINPUT, "command_not_found", 0, "%s", msg);
    else if (status == 126)
        tdrv_err_setw(err, TDRV_E_NOPERM, "command_not_executable", 0, "%s", msg);
    else {
        status = 125;
        tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "runtime_failed", 0, "%s", msg);
    }
    return status;
}

/* ---- log files with rotation (docker json-file's max-size / max-file)
 * ---------------------------- */

struct logw {
    char *path;
    int fd;
    uint64_t size;
    uint64_t max;
    int files;
};

static void logw_open(struct logw *l, const char *path, uint64_t max, int files)
{
    struct stat st;

    l->path = tdrv_xstrdup(path);
    l->max = max;
    l->files = files;
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    l->size = l->fd >= 0 && fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void logw_rotate(struct logw *l)
{
    if (l->fd >= 0)
        close(l->fd);
    for (int i = l->files - 1; i >= 1; i--) {
        char *from = i == 1 ? tdrv_xstrdup(l->path) : tdrv_xasprintf("%s.%d", l->path, i - 1);
        char *to = tdrv_xasprintf("%s.%d", l->path, i);

        rename(from, to);
        free(from);
        free(to);
    }
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    l->size = 0;
}

static void logw_write(struct logw *l, const char *buf, size_t n)
{
    while (n > 0) {
        size_t room;
        size_t k;

        if (l->size >= l->max)
            logw_rotate(l);
        room = (size_t)(l->max - l->size);
        k = n < room ? n : room;
        /* rotate at a line end when one is near */
        if (k < n) {
            const char *nl = memrchr(buf, '\n', k);

            if (nl && l->size + (uint64_t)(nl - buf + 1) > 0)
                k = (size_t)(nl - buf + 1);
        }
        if (l->fd >= 0)
            tdrv_write_all(l->fd, buf, k);
        l->size += k;
        if (k < n && l->size < l->max)
            l->size = l->max; /* force the rotation before the rest */
        buf += k;
        n -= k;
    }
}

static void logw_close(struct logw *l)
{
    if (l->fd >= 0)
        close(l->fd);
    free(l->path);
    l->fd = -1;
    l->path = NULL;
}

/* ---- preparing a task ---------------------------------------------------------------------------
 */

static int image_ref(const cJSON *doc, char **ref, struct tdrv_err *err)
{
    const char *d = NULL;
    const char *image = NULL;
    struct tdrv_ref r;

    if (tdrv_json_str(doc, "image.manifest_digest", TDRV_OPTIONAL, &d, err) < 0)
        return -1;
    if (d && *d) {
        *ref = tdrv_xstrdup(d);
        return 0;
    }
    if (tdrv_json_str(doc, "config.image", TDRV_REQUIRED, &image, err) < 0)
        return -1;
    if (!strncmp(image, "sha256:", 7)) {
        *ref = tdrv_xstrdup(image);
        return 0;
    }
    tdrv_ref_init(&r);
    if (tdrv_ref_parse_image(image, &r, err) < 0) {
        tdrv_ref_release(&r);
        return tdrv_err_wrap(err, "config.image");
    }
    *ref = tdrv_ref_string(&r);
    tdrv_ref_release(&r);
    return 0;
}

static const char *doc_str(const cJSON *doc, const char *key)
{
    const cJSON *v = tdrv_json_at(doc, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Build config.json (dry run: with the image's layers for /etc/passwd, nothing written). */
static int prepare(struct task *t, const struct tdrv_config *cfg, cJSON *doc, int dry,
                   cJSON **spec_out, struct tdrv_err *err)
{
    cleanup_free char *ref = NULL;
    cleanup_json cJSON *info = NULL;
    cleanup_json cJSON *spec = NULL;
    cleanup_free char *volumes = tdrv_xasprintf("%s/volumes", cfg->root);
    cleanup_free char *rootfs = NULL;
    const char *roots[64] = {0};
    char *layer_paths[63] = {0};
    struct tdrv_spec_host host;
    const char *digest = NULL;
    int rc = -1;

    if (image_ref(doc, &ref, err) < 0)
        return -1;
    if (tdrv_store_open(&t->store, cfg->root, err) < 0)
        return -1;
    t->store_open = 1;
    if (tdrv_store_lookup(&t->store, ref, &info, err) < 0)
        return -1;
    if (tdrv_json_str(info, "manifest_digest", TDRV_REQUIRED, &digest, err) < 0)
        return -1;
    tdrv_spec_host_detect(&host);
    /* the options first: a bad option fails before anything is mounted (begin parsed them
     * already, but for --dry-run) */
    if (!t->opts_parsed) {
        struct tdrv_task_opts o;

        if (tdrv_task_opts_parse(doc, cfg, &o, err) < 0) {
            tdrv_task_opts_release(&o);
            return -1;
        }
        t->opts.no_overlay = o.no_overlay;
        tdrv_task_opts_release(&o);
    }
    if (dry) {
        /* /etc/passwd from the topmost layer that has one */
        const cJSON *layers = tdrv_json_at(info, "layers");
        int n = cJSON_GetArraySize(layers);
        int k = 0;

        for (int i = n - 1; i >= 0 && k < (int)TDRV_ARRAY_LEN(layer_paths); i--) {
            const char *cid = doc_str(cJSON_GetArrayItem(layers, i), "chain_id");

            if (cid && strchr(cid, ':'))
                cid = strchr(cid, ':') + 1;
            if (cid) {
                layer_paths[k] = tdrv_xasprintf("%s/layers/%s", cfg->root, cid);
                roots[k] = layer_paths[k];
                k++;
            }
        }
        rootfs = tdrv_xasprintf("%s/rootfs", t->bundle);
    } else {
        if (mkdirs(t->bundle, 0711, err) < 0)
            goto out;
        if (tdrv_store_rootfs_mount(&t->store, digest, t->bundle, t->opts.no_overlay, &rootfs,
                                    err) < 0)
            goto out;
        t->mounted = 1;
        roots[0] = rootfs;
    }
    {
        struct tdrv_spec_in in = {
            .doc = doc,
            .cfg = cfg,
            .host = &host,
            .image_config = tdrv_json_at(info, "config"),
            .passwd_roots = roots,
            .rootfs = rootfs,
            .alloc_dir = t->alloc_dir,
            .task_dir = t->task_dir,
            .volumes_dir = volumes,
            .alloc_id = t->alloc_id,
            .task = t->name,
            .parent_env = (const char *const *)environ,
        };

        tdrv_task_opts_release(&t->opts);
        if (tdrv_spec_build(&in, &spec, &t->opts, err) < 0)
            goto out;
    }
    *spec_out = steal_ptr(&spec);
    rc = 0;
out:
    for (size_t i = 0; i < TDRV_ARRAY_LEN(layer_paths); i++)
        free(layer_paths[i]);
    return rc;
}

static int write_bundle(struct task *t, const cJSON *spec, struct tdrv_err *err)
{
    cleanup_free char *cj = tdrv_xasprintf("%s/config.json", t->bundle);
    cleanup_free char *etc = tdrv_xasprintf("%s/etc", t->task_dir);

    if (mkdirs(etc, 0755, err) < 0)
        return -1;
    for (const cJSON *d = t->opts.dirs ? t->opts.dirs->child : NULL; d; d = d->next)
        if (mkdirs(d->valuestring, 0755, err) < 0)
            return -1;
    for (const cJSON *f = t->opts.files ? t->opts.files->child : NULL; f; f = f->next)
        if (write_atomic(f->string, f->valuestring, strlen(f->valuestring), 0644, err) < 0)
            return -1;
    if (t->early)
        return 0; /* early_feed writes it, last */
    return write_json(cj, spec, err);
}

/* The allocation directory and the lease, taken without waiting (75 when held). */
static int alloc_dirs(struct task *t, struct tdrv_err *err)
{
    /* parents first, each one mkdir: a fresh allocation is ten directories on disk */
    const char *sub[] = {"alloc", "alloc/data", "alloc/logs", "alloc/tmp",
                         "",      "local",      "secrets",    "logs"};
    cleanup_close int afd = -1;

    if (mkdirs(t->alloc_dir, 0755, err) < 0)
        return -1;
    afd = open(t->alloc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (afd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to open '%s'", t->alloc_dir);
    for (size_t i = 0; i < TDRV_ARRAY_LEN(sub); i++) {
        /* "" and what follows: the task's own directory and its subdirectories */
        cleanup_free char *rel =
            i < 4 ? tdrv_xstrdup(sub[i])
                  : tdrv_xasprintf("%s%s%s", t->name, sub[i][0] ? "/" : "", sub[i]);

        if (mkdirat(afd, rel, !strcmp(sub[i], "secrets") ? 0700 : 0755) < 0 && errno != EEXIST)
            return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to create directory '%s/%s'",
                                t->alloc_dir, rel);
    }
    t->lease_fd = open(t->lease_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (t->lease_fd < 0)
        return tdrv_err_set(err, TDRV_E_CANTCREAT, errno, "unable to open '%s'", t->lease_path);
    if (flock(t->lease_fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        /* the previous run of this task may be tearing down after recording its result */
        cleanup_json cJSON *st = NULL;
        struct tdrv_err e2 = {0};
        const char *state = NULL;
        int64_t end = mono_ns() + 30000000000LL;

        if (access(t->state_path, F_OK) == 0 &&
            tdrv_doc_read_file(t->state_path, STATE_MAX, &st, &e2) == 0 &&
            tdrv_json_str(st, "state", TDRV_OPTIONAL, &state, &e2) == 0 && state &&
            (!strcmp(state, "exited") || !strcmp(state, "failed")))
            while (flock(t->lease_fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK &&
                   mono_ns() < end)
                usleep(2000);
    }
    if (flock(t->lease_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "task_running", 0,
                                 "task '%s' of allocation '%s' is already running (lease '%s' "
                                 "is held)",
                                 t->name, t->alloc_id, t->lease_path);
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to lock '%s'", t->lease_path);
    }
    return 0;
}

static cJSON *handle_json(const struct task *t)
{
    cJSON *h = tdrv_json_xobj();
    const cJSON *v;

    tdrv_json_add_str(h, "alloc_id", t->alloc_id);
    tdrv_json_add_str(h, "task", t->name);
    tdrv_json_add_str(h, "container_id", t->cid);
    tdrv_json_add_str(h, "driver", t->opts.driver ? t->opts.driver : "oci");
    tdrv_json_add_str(h, "runtime", t->runtime);
    tdrv_json_add_str(h, "runtime_root", t->runtime_root);
    tdrv_json_add_str(h, "state_file", t->state_path);
    tdrv_json_add_str(h, "lease", t->lease_path);
    tdrv_json_add_str(h, "logs", t->logs_dir);
    for (const char *const *k =
             (const char *const[]){"pid", "monitor_pid", "started_at", "network", NULL};
         *k; k++)
        if ((v = tdrv_json_at(t->state, *k)))
            tdrv_json_add(h, *k, tdrv_json_xdup(v));
    return h;
}

/* ---- supervising
 * ----------------------------------------------------------------------------------- */

struct sup {
    struct task *t;
    int tee_out; /* foreground: our stdout/stderr, -1 detached */
    int tee_err;
    int stdin_fd;
    int status_fd; /* detached: report start to the waiting parent, then close */
    /* config.tty: the terminal (common/console.h), else NULL */
    struct tdrv_console *con;
    pid_t pid;
    char cgroup_v1_mem[1024];
    char cgroup_v2[1024];
    cJSON *cgroups;      /* {"memory": path, ...} on v1, {"unified": path} on v2 */
    cJSON *runc_cgroups; /* runc's own record of them (state.json cgroup_paths), or NULL */
    int runc_rdt;        /* runc recorded an Intel RDT group: its own delete removes it */
    int async_cleanup;   /* foreground: tear down in a child after the result is recorded */
    char started_at[64];
    int last_nl; /* did the task's stdout end with a newline? */
};

struct start_msg {
    int ok;
    int status;
    pid_t pid;
    struct tdrv_err err;
};

/* The container's cgroup: the runtime puts it at <its own cgroup>/<container id>, and the
 * runtime runs in ours. Computed, not read from /proc/<pid>, so a task that has already
 * exited still has its OOM counter found. */
static void read_cgroups(struct sup *s)
{
    char line[2048];
    FILE *f = fopen("/proc/self/cgroup", "re");

    s->cgroups = tdrv_json_xobj();
    while (f && fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        const char *own;
        const char *dir;
        char *path;

        if (!c2)
            continue;
        c2[strcspn(c2, "\n")] = '\0';
        *c2++ = '\0';
        own = strcmp(c2, "/") ? c2 : "";
        if (!strcmp(line, "0") && !c1[1]) {
            snprintf(s->cgroup_v2, sizeof(s->cgroup_v2), "/sys/fs/cgroup%s/%s", own, s->t->cid);
            continue;
        }
        dir = !strncmp(c1 + 1, "name=", 5) ? c1 + 6 : c1 + 1;
        path = tdrv_xasprintf("/sys/fs/cgroup/%s%s/%s", dir, own, s->t->cid);
        for (char *save = NULL, *ctl = strtok_r(c1 + 1, ",", &save); ctl;
             ctl = strtok_r(NULL, ",", &save)) {
            if (!strcmp(ctl, "memory"))
                snprintf(s->cgroup_v1_mem, sizeof(s->cgroup_v1_mem), "%s", path);
            if (!cJSON_GetObjectItemCaseSensitive(s->cgroups, ctl))
                tdrv_json_add_str(s->cgroups, ctl, path);
        }
        free(path);
    }
    if (f)
        fclose(f);
    /* a v2 path is only meaningful on a unified host */
    if (s->cgroup_v1_mem[0])
        s->cgroup_v2[0] = '\0';
    else if (s->cgroup_v2[0]) {
        cJSON_Delete(s->cgroups);
        s->cgroups = tdrv_json_xobj();
        tdrv_json_add_str(s->cgroups, "unified", s->cgroup_v2);
    }
}

/* runc itself, by name or path: what its state.json and reading config.json once allow */
static int is_runc(const char *runtime)
{
    const char *base = runtime ? strrchr(runtime, '/') : NULL;

    return runtime && !strcmp(base ? base + 1 : runtime, "runc");
}

/*
 * A top-level member of runc's state.json, parsed alone: the file is 13 kB, nearly all of it
 * the container's config, and the start of a short task waits on this. Go writes compact
 * JSON; inside a JSON string every quote is escaped, so `{"key":` or `,"key":` is a member
 * name wherever it appears, and the top-level members that matter here come after "config"
 * in runc's state (its last occurrence). NULL when it is not there in that form.
 */
static cJSON *state_member(const char *text, size_t len, const char *key)
{
    char pat[64];
    size_t n = (size_t)snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *hit = NULL;

    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), pat, n)); p += n)
        if (p > text && (p[-1] == '{' || p[-1] == ','))
            hit = p;
    if (!hit)
        return NULL;
    hit += n;
    return cJSON_ParseWithLengthOpts(hit, len - (size_t)(hit - text), NULL, 0);
}

/* The cgroups from runc's own record when there is one: exact, wherever runc put them. */
static void runc_cgroups(struct sup *s)
{
    cleanup_free char *p = NULL;
    cleanup_free char *text = NULL;
    cleanup_json cJSON *whole = NULL;
    cleanup_json cJSON *cpj = NULL;
    cleanup_json cJSON *rdtj = NULL;
    const cJSON *cp;
    const cJSON *rdt;
    const cJSON *mem;
    const cJSON *uni;
    struct tdrv_err e = {0};
    size_t len = 0;

    if (!is_runc(s->t->runtime))
        return; /* another runtime: no record we know */
    p = tdrv_xasprintf("%s/%s/state.json", s->t->runtime_root, s->t->cid);
    if (tdrv_read_file_at(AT_FDCWD, p, STATE_MAX, &text, &len, &e) < 0)
        return;
    cp = cpj = state_member(text, len, "cgroup_paths");
    rdt = rdtj = state_member(text, len, "intel_rdt_path");
    if (!cJSON_IsObject(cp)) { /* not the layout above: the whole file, then */
        whole = cJSON_ParseWithLength(text, len);
        cp = cJSON_GetObjectItemCaseSensitive(whole, "cgroup_paths");
        rdt = cJSON_GetObjectItemCaseSensitive(whole, "intel_rdt_path");
    }
    if (!cJSON_IsObject(cp) || !cp->child)
        return;
    mem = cJSON_GetObjectItemCaseSensitive(cp, "memory");
    uni = cJSON_GetObjectItemCaseSensitive(cp, "");
    s->runc_rdt = cJSON_IsString(rdt) && rdt->valuestring[0];
    s->runc_cgroups = tdrv_json_xdup(cp);
    cJSON_Delete(s->cgroups);
    s->cgroups = tdrv_json_xobj();
    s->cgroup_v1_mem[0] = s->cgroup_v2[0] = '\0';
    for (const cJSON *c = cp->child; c; c = c->next)
        if (cJSON_IsString(c) && c->string[0] && strncmp(c->string, "name=", 5))
            tdrv_json_add_str(s->cgroups, c->string, c->valuestring);
    if (cJSON_IsString(mem))
        snprintf(s->cgroup_v1_mem, sizeof(s->cgroup_v1_mem), "%s", mem->valuestring);
    else if (cJSON_IsString(uni)) {
        snprintf(s->cgroup_v2, sizeof(s->cgroup_v2), "%s", uni->valuestring);
        cJSON_Delete(s->cgroups);
        s->cgroups = tdrv_json_xobj();
        tdrv_json_add_str(s->cgroups, "unified", s->cgroup_v2);
    }
}

/*
 * What `runc delete` does for a container whose init has exited, without starting another
 * runc: remove the cgroups runc recorded at the start and its state directory. Any doubt (no
 * record, a cgroup still busy, Intel RDT, another runtime) returns -1 and the caller runs
 * the runtime's delete.
 */
static int fast_delete(const struct sup *s)
{
    cleanup_free char *dir = tdrv_xasprintf("%s/%s", s->t->runtime_root, s->t->cid);
    cleanup_free char *st = tdrv_xasprintf("%s/state.json", dir);
    struct tdrv_err e = {0};

    if (!s->runc_cgroups || s->runc_rdt || access(st, F_OK) < 0)
        return -1;
    for (const cJSON *c = s->runc_cgroups->child; c; c = c->next)
        if (cJSON_IsString(c) && rmdir(c->valuestring) < 0 && errno != ENOENT)
            return -1;
    return tdrv_rm_rf_at(AT_FDCWD, dir, &e);
}

static long long read_key(const char *file, const char *key)
{
    cleanup_fclose FILE *f = fopen(file, "re");
    char line[256];
    size_t n = strlen(key);

    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, n) && line[n] == ' ')
            return strtoll(line + n + 1, NULL, 10);
    return -1;
}

static long long read_num(const char *file)
{
    cleanup_fclose FILE *f = fopen(file, "re");
    long long v = -1;

    if (!f || fscanf(f, "%lld", &v) != 1)
        return -1;
    return v;
}

static int oom_killed(const struct sup *s)
{
    char p[1100];

    if (s->cgroup_v1_mem[0]) {
        snprintf(p, sizeof(p), "%s/memory.oom_control", s->cgroup_v1_mem);
        return read_key(p, "oom_kill") > 0;
    }
    if (s->cgroup_v2[0]) {
        snprintf(p, sizeof(p), "%s/memory.events", s->cgroup_v2);
        return read_key(p, "oom_kill") > 0;
    }
    return 0;
}

/* `runtime [--debug] --log LOG --log-format json run --detach --bundle B --pid-file P
 * [--console-socket S] ID` into args (20 slots), after clearing what a crash left. */
static void run_args(const struct task *t, const char *log, const char *pidf, const char *console,
                     const char **args)
{
    size_t n = 0;

    unlink(log);
    {
        /* a container of that name left by a crash */
        cleanup_free char *stale = tdrv_xasprintf("%s/%s", t->runtime_root, t->cid);

        if (access(stale, F_OK) == 0)
            runtime_delete(t);
    }
    /* config.debug: the runtime's debug messages go to its log in the bundle */
    if (t->opts.debug)
        args[n++] = "--debug";
    for (const char *const *a =
             (const char *const[]){"--log", log, "--log-format", "json", "run", "--detach",
                                   "--bundle", t->bundle, "--pid-file", pidf, NULL};
         *a; a++)
        args[n++] = *a;
    if (console) {
        args[n++] = "--console-socket";
        args[n++] = console;
    }
    args[n++] = t->cid;
    args[n] = NULL;
}

/* Start the container: `runtime run --detach`, as its subreaper. Returns the exit status to
 * use on failure (125/126/127) or 0. */
static int start(struct sup *s, int out_w, int err_w, struct tdrv_err *err)
{
    struct task *t = s->t;
    cleanup_free char *log = tdrv_xasprintf("%s/runtime.log", t->bundle);
    cleanup_free char *pidf = tdrv_xasprintf("%s/pid", t->bundle);
    cleanup_fclose FILE *pf = NULL;
    int st = 0;
    int pid = 0;

    if (t->early) {
        /* started by early_start, its config.json fed by begin_task: wait for it */
        t->early = 0;
        if (wait_pid(t->early_pid, &st) < 0) {
            tdrv_err_set(err, TDRV_E_OS, errno, "unable to wait for '%s'", t->runtime);
            return 125;
        }
    } else {
        const char *args[20];

        if (s->con && tdrv_console_listen(s->con, t->bundle, err) < 0)
            return 125;
        run_args(t, log, pidf, s->con ? s->con->path : NULL, args);
        if (runtime_cmd(t, args, s->stdin_fd, out_w, err_w, &st, err) < 0)
            return 125;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return runtime_failure(t, log, st, err);
    pf = fopen(pidf, "re");
    if (!pf || fscanf(pf, "%d", &pid) != 1 || pid <= 0) {
        tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "runtime_failed", 0,
                      "the OCI runtime wrote no pid file '%s'", pidf);
        return 125;
    }
    s->pid = pid;
    if (s->con && tdrv_console_recv(s->con, err) < 0)
        return 125;
    now_rfc3339(s->started_at, sizeof(s->started_at));
    read_cgroups(s);
    runc_cgroups(s);
    return 0;
}

/*
 * The foreground's pipelined start, with runc: runc spends its first ~4 ms starting (Go's
 * runtime, its flags) before it opens config.json, and the bundle takes ~1 ms to prepare
 * (the store, the rootfs mount, the spec, /etc files, state.json). So once the lease is held,
 * runc starts with config.json a FIFO that it blocks on, and early_feed gives it the spec
 * when all is ready. runc reads config.json once, as a stream; another runtime may not, so
 * it goes the usual way, and so does anything here that fails.
 */
static void early_start(struct task *t)
{
    cleanup_free char *cj = tdrv_xasprintf("%s/config.json", t->bundle);
    cleanup_free char *log = tdrv_xasprintf("%s/runtime.log", t->bundle);
    cleanup_free char *pidf = tdrv_xasprintf("%s/pid", t->bundle);
    const char *args[20];
    const char *argv[24];
    struct tdrv_err e = {0};
    cleanup_close int null = -1;
    size_t n = 0;

    free(t->runtime);
    t->runtime = tdrv_xstrdup(t->opts.runtime);
    if (mkdirs(t->bundle, 0711, &e) < 0)
        return;
    unlink(cj);
    if (mkfifo(cj, 0644) < 0)
        return;
    /* read-write: its opens never block, and runc's open finds a writer at once */
    t->early_fifo = open(cj, O_RDWR | O_CLOEXEC);
    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (t->early_fifo < 0 || null < 0 || pipe2(t->early_out, O_CLOEXEC) < 0) {
        if (t->early_fifo >= 0)
            close(t->early_fifo);
        unlink(cj);
        return;
    }
    if (pipe2(t->early_err, O_CLOEXEC) < 0) {
        close(t->early_out[0]);
        close(t->early_out[1]);
        close(t->early_fifo);
        unlink(cj);
        return;
    }
    run_args(t, log, pidf, NULL, args);
    argv[n++] = t->runtime;
    argv[n++] = "--root";
    argv[n++] = t->runtime_root;
    for (const char **a = args; *a; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    /* before runc can exit: the container's init is ours to reap */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    t->early = 1;
    if (spawn((char *const *)argv, null, t->early_out[1], t->early_err[1], &t->early_pid, &e) < 0)
        early_abort(t); /* runc missing: the usual way says so */
    else
        tdrv_debug("%s started (pid %d) before the bundle is ready; config.json is a FIFO",
                   t->runtime, (int)t->early_pid);
}

/* Stop an early runc before it has a config (or after a failure): EOF on its FIFO, SIGKILL,
 * reaped; what it made removed. The run goes on the usual way, or ends. */
static void early_abort(struct task *t)
{
    int st;

    if (!t->early)
        return;
    t->early = 0;
    if (t->early_fifo >= 0)
        close(t->early_fifo);
    t->early_fifo = -1;
    if (t->early_pid > 0) {
        kill(t->early_pid, SIGKILL);
        wait_pid(t->early_pid, &st);
        t->early_pid = 0;
    }
    for (int i = 0; i < 2; i++) {
        close(t->early_out[i]);
        close(t->early_err[i]);
    }
    {
        cleanup_free char *made = tdrv_xasprintf("%s/%s", t->runtime_root, t->cid);

        if (access(made, F_OK) == 0)
            runtime_delete(t);
    }
}

/*
 * The spec to an early runc: config.json in the bundle becomes a regular file (what runc
 * opens from now on, and what config.debug keeps), then the FIFO that runc may already hold
 * gets the same text and its end. A spec larger than the pipe can take goes the usual way.
 */
static int early_feed(struct task *t, const cJSON *spec, struct tdrv_err *err)
{
    cleanup_free char *cj = tdrv_xasprintf("%s/config.json", t->bundle);
    char *text = cJSON_Print(spec);
    size_t len;
    int cap;
    int rc;

    if (!text)
        tdrv_oom();
    len = strlen(text);
    cap = fcntl(t->early_fifo, F_GETPIPE_SZ);
    if (cap < 0 || (len > (size_t)cap &&
                    (len > (1u << 30) || fcntl(t->early_fifo, F_SETPIPE_SZ, (int)len) < 0))) {
        tdrv_debug("config.json (%zu bytes) does not fit the FIFO: %s started anew", len,
                   t->runtime);
        early_abort(t);
    }
    rc = write_atomic(cj, text, len, 0644, err);
    if (t->early) {
        if (rc < 0 || tdrv_write_all(t->early_fifo, text, len) < 0)
            early_abort(t);
        else {
            close(t->early_fifo); /* its EOF: the whole spec is in the pipe */
            t->early_fifo = -1;
        }
    }
    cJSON_free(text);
    return rc;
}

static void forward(struct sup *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
}

static void arm(int tfd, int64_t ns)
{
    struct itimerspec it = {0};

    it.it_value.tv_sec = ns / 1000000000LL;
    it.it_value.tv_nsec = ns % 1000000000LL;
    if (!it.it_value.tv_sec && !it.it_value.tv_nsec)
        it.it_value.tv_nsec = 1;
    timerfd_settime(tfd, 0, &it, NULL);
}

/* Pump logs and signals until the container's init exits; *wstatus is its wait status. */
static void supervise(struct sup *s, int sfd, int out_r, int err_r, int *wstatus)
{
    struct task *t = s->t;
    cleanup_free char *lo = tdrv_xasprintf("%s/stdout.log", t->logs_dir);
    cleanup_free char *le = tdrv_xasprintf("%s/stderr.log", t->logs_dir);
    struct logw lw[2];
    int fds[2] = {out_r, err_r};
    int tees[2] = {s->tee_out, s->tee_err};
    struct tdrv_console *con = s->con;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    int exited = 0;
    int stopping = 0;
    int64_t drain_until = 0;
    char buf[65536];

    logw_open(&lw[0], lo, t->opts.log_max_size, t->opts.log_max_files);
    logw_open(&lw[1], le, t->opts.log_max_size, t->opts.log_max_files);
    s->last_nl = 1;
    while (fds[0] >= 0 || fds[1] >= 0 || (con && con->master >= 0) || !exited) {
        struct pollfd p[6];
        int np = 0;
        int timeout = -1;

        p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        p[np++] = (struct pollfd){.fd = tfd, .events = POLLIN};
        for (int i = 0; i < 2; i++)
            p[np++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (con) { /* the terminal's output, and the task's input while it runs */
            p[np++] = (struct pollfd){.fd = con->master,
                                      .events = (short)(POLLIN | (con->npend ? POLLOUT : 0))};
            p[np++] = (struct pollfd){
                .fd =
                    con->in_fd >= 0 && !con->npend && !exited && con->master >= 0 ? con->in_fd : -1,
                .events = POLLIN};
        }
        if (exited) {
            /* processes that outlive init may hold the pipes; drain briefly */
            int64_t left = drain_until - mono_ns();

            if (left <= 0)
                break;
            timeout = (int)(left / 1000000) + 1;
        }
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;

                if (sig == SIGCHLD) {
                    pid_t r;
                    int st;

                    while ((r = waitpid(-1, &st, WNOHANG)) > 0)
                        if (r == s->pid && !exited) {
                            *wstatus = st;
                            exited = 1;
                            drain_until = mono_ns() + 2000000000LL;
                        }
                } else if (sig == SIGWINCH && con) {
                    tdrv_console_winsize(con);
                } else if (sig == SIGTERM && !exited) {
                    /* a stop: kill_signal, then SIGKILL after kill_timeout */
                    if (!stopping) {
                        stopping = 1;
                        tdrv_info("stopping task '%s' with %s", t->name,
                                  tdrv_signal_name(t->opts.kill_signal)
                                      ? tdrv_signal_name(t->opts.kill_signal)
                                      : "signal");
                        forward(s, t->opts.kill_signal);
                        arm(tfd, t->opts.kill_timeout_ns);
                    }
                } else if (!exited) {
                    forward(s, sig);
                }
            }
        }
        if (p[1].revents & POLLIN) {
            uint64_t x;

            if (read(tfd, &x, sizeof(x)) > 0 && !exited) {
                tdrv_info("task '%s' still running after kill_timeout: SIGKILL", t->name);
                forward(s, SIGKILL);
            }
        }
        for (int i = 0; i < 2; i++) {
            ssize_t n;

            if (fds[i] < 0 || !(p[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(fds[i], buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            logw_write(&lw[i], buf, (size_t)n);
            if (tees[i] >= 0 && tdrv_write_all(tees[i], buf, (size_t)n) < 0)
                tees[i] = -1; /* the reader went away: keep logging */
            if (i == 0)
                s->last_nl = buf[n - 1] == '\n';
        }
        if (con && con->master >= 0 && (p[4].revents & (POLLIN | POLLHUP | POLLERR))) {
            /* stdout and stderr in one: the terminal's output is stdout's */
            ssize_t n = read(con->master, buf, sizeof(buf));

            if (n > 0) {
                logw_write(&lw[0], buf, (size_t)n);
                if (tees[0] >= 0 && tdrv_write_all(tees[0], buf, (size_t)n) < 0)
                    tees[0] = -1;
                s->last_nl = buf[n - 1] == '\n';
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(con->master); /* EIO: every end of the terminal's slave side is closed */
                con->master = -1;
            }
        }
        if (con && con->master >= 0 && ((p[4].revents & POLLOUT) || p[5].revents))
            tdrv_console_input(con, p[5].revents != 0, (p[4].revents & POLLOUT) != 0);
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        logw_close(&lw[i]);
    }
    close(tfd);
}

static cJSON *result_json(const struct sup *s, int wstatus)
{
    cJSON *r = tdrv_json_xobj();
    char fin[64];
    int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    int oom = oom_killed(s);

    now_rfc3339(fin, sizeof(fin));
    tdrv_json_add_num(r, "exit_code", WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + sig);
    tdrv_json_add_num(r, "signal", sig);
    tdrv_json_add_bool(r, "oom_killed", oom);
    tdrv_json_add_str(r, "started_at", s->started_at);
    tdrv_json_add_str(r, "finished_at", fin);
    return r;
}

static int status_of(const cJSON *result)
{
    const cJSON *c = tdrv_json_at(result, "exit_code");

    return cJSON_IsNumber(c) ? (int)c->valueint : 125;
}

static void close_other_fds(const int *keep, size_t n);

/*
 * A start that failed: no rootfs mount, pin or bundle stays behind. With config.debug the
 * bundle (config.json, the runtime's runtime.log) is kept for inspection.
 */
static void bundle_drop(struct task *t)
{
    struct tdrv_err e = {0};

    early_abort(t);
    if (t->mounted && tdrv_store_rootfs_unmount(&t->store, t->bundle, &e) < 0) {
        tdrv_debug("%s", e.msg);
        return; /* never remove a directory something may still be mounted in */
    }
    t->mounted = 0;
    if (!t->opts.debug && tdrv_rm_rf_at(AT_FDCWD, t->bundle, &e) < 0)
        tdrv_debug("%s", e.msg);
}

/* Remove what the run left: the runtime's container, the rootfs mount, the bundle. */
static void teardown(struct sup *s)
{
    struct task *t = s->t;
    struct tdrv_err e2 = {0};
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    const char *del[] = {t->runtime, "--root", t->runtime_root, "delete", "--force", t->cid, NULL};
    pid_t dpid = -1;
    int dst;

    /* the runtime deletes its container while the rootfs is unmounted */
    if (fast_delete(s) < 0 && spawn((char *const *)del, null, null, null, &dpid, &e2) < 0)
        tdrv_warn("%s", e2.msg);
    cJSON_Delete(s->runc_cgroups);
    s->runc_cgroups = NULL;
    if (null >= 0)
        close(null);
    tdrv_err_clear(&e2);
    if (t->mounted && tdrv_store_rootfs_unmount(&t->store, t->bundle, &e2) < 0)
        tdrv_warn("%s", e2.msg);
    t->mounted = 0;
    tdrv_err_clear(&e2);
    tdrv_rm_rf_at(AT_FDCWD, t->bundle, &e2);
    net_down(t); /* network (issue 6): CNI DEL, namespace removed */
    if (dpid > 0)
        wait_pid(dpid, &dst);
}

/*
 * The supervisor's whole job: start, record, pump, reap, record, clean up. The lease stays
 * held (t->lease_fd) until the caller releases the task. Returns the task's exit status, or
 * 125/126/127 with *err set.
 */
static int run_supervised(struct sup *s, cJSON **result, struct tdrv_err *err)
{
    struct task *t = s->t;
    sigset_t set;
    sigset_t old;
    int sfd;
    int out_p[2];
    int err_p[2];
    int wstatus = 0;
    int ok;
    int rc;

    sigemptyset(&set);
    for (const int *g = (const int[]){SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0}; *g;
         g++)
        sigaddset(&set, *g);
    if (s->con && s->con->term_fd >= 0)
        sigaddset(&set, SIGWINCH); /* our terminal's size follows to the task's */
    sigprocmask(SIG_BLOCK, &set, &old);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* a reader of our stdout that goes away must not kill the supervisor (and orphan the
     * task): the write fails, the tee stops, the logs go on */
    signal(SIGPIPE, SIG_IGN);
    ok = sfd >= 0;
    if (ok && t->early) { /* the pipes runc was started with */
        memcpy(out_p, t->early_out, sizeof(out_p));
        memcpy(err_p, t->early_err, sizeof(err_p));
    } else if (ok && pipe2(out_p, O_CLOEXEC) < 0) {
        ok = 0;
    } else if (ok && pipe2(err_p, O_CLOEXEC) < 0) {
        close(out_p[0]);
        close(out_p[1]);
        ok = 0;
    }
    if (!ok) {
        tdrv_err_set(err, TDRV_E_OS, errno, "unable to create pipes");
        early_abort(t);
        if (sfd >= 0)
            close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return 125;
    }
    tdrv_debug("prepared in %lld us", (long long)((mono_ns() - t0_ns) / 1000));
    rc = start(s, out_p[1], err_p[1], err);
    tdrv_debug("started in %lld us", (long long)((mono_ns() - t0_ns) / 1000));
    close(out_p[1]);
    close(err_p[1]);
    if (rc) {
        /* cleaned up and recorded before a detached caller hears of it: a retry that
         * follows at once finds the task "failed" and nothing in its way */
        close(out_p[0]);
        close(err_p[0]);
        close(sfd);
        runtime_delete(t);
        bundle_drop(t);
        net_down(t);
        tdrv_json_set(t->state, "state", tdrv_json_xstr("failed"));
        tdrv_json_set(t->state, "error", tdrv_error_json("tdrv-run", err));
        {
            struct tdrv_err e2 = {0};

            save_state(t, &e2);
        }
    }
    if (rc == 0) {
        /* recorded once, before a detached caller hears of the start */
        struct tdrv_err e2 = {0};

        tdrv_json_set(t->state, "state", tdrv_json_xstr("running"));
        tdrv_json_set(t->state, "pid", tdrv_json_xnum(s->pid));
        tdrv_json_set(t->state, "started_at", tdrv_json_xstr(s->started_at));
        if (s->cgroups) {
            tdrv_json_set(t->state, "cgroup", s->cgroups);
            s->cgroups = NULL;
        }
        if (save_state(t, &e2) < 0)
            tdrv_warn("%s", e2.msg);
    }
    if (s->status_fd >= 0) {
        struct start_msg m = {.ok = rc == 0, .status = rc, .pid = s->pid};

        if (rc)
            m.err = *err;
        tdrv_write_all(s->status_fd, &m, sizeof(m));
        close(s->status_fd);
        s->status_fd = -1;
    }
    if (rc) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    if (s->con) {
        tdrv_console_winsize(s->con);
        tdrv_console_raw(s->con);
    }
    supervise(s, sfd, out_p[0], err_p[0], &wstatus);
    if (s->con)
        tdrv_console_restore(s->con);
    tdrv_debug("exited at %lld us", (long long)((mono_ns() - t0_ns) / 1000));
    close(sfd);
    *result = result_json(s, wstatus);
    tdrv_json_set(t->state, "state", tdrv_json_xstr("exited"));
    tdrv_json_set(t->state, "result", tdrv_json_xdup(*result));
    {
        struct tdrv_err e2 = {0};

        if (save_state(t, &e2) < 0)
            tdrv_warn("%s", e2.msg);
    }
    tdrv_debug("result recorded at %lld us", (long long)((mono_ns() - t0_ns) / 1000));
    if (s->async_cleanup) {
        /*
         * The task is over and its result recorded: a child takes the lease over and removes
         * the container, the rootfs mount (umount waits for an RCU grace period, tens of ms)
         * and the bundle, while we report. A new run of this task waits for it (alloc_dirs).
         */
        pid_t c;

        fflush(NULL);
        c = fork();
        if (c == 0) {
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);

            setsid();
            if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
            }
            close_other_fds((const int[]){null, t->lease_fd, t->store.root_fd}, 3);
            teardown(s);
            _exit(0);
        }
        if (c > 0) {
            t->mounted = 0; /* the child's now */
            cJSON_Delete(s->runc_cgroups);
            s->runc_cgroups = NULL;
        } else {
            teardown(s);
        }
    } else {
        teardown(s);
    }
    tdrv_debug("cleaned up at %lld us", (long long)((mono_ns() - t0_ns) / 1000));
    sigprocmask(SIG_SETMASK, &old, NULL);
    return status_of(*result);
}

/* ---- foreground, detach
 * --------------------------------------------------------------------------- */

/* The bundle, the rootfs, the network and state.json of a task whose lease we hold. */
static int begin_task(struct task *t, const struct tdrv_config *cfg, cJSON *doc, int dry,
                      cJSON **spec, struct tdrv_err *err)
{
    struct tdrv_net_job job = {.pid = -1, .fd = -1};

    if (!dry) {
        /* network (issue 6): namespace + CNI ADD in a child while the rootfs is prepared */
        struct tdrv_net_in ni = {.doc = doc,
                                 .cfg = cfg,
                                 .alloc_id = t->alloc_id,
                                 .task = t->name,
                                 .alloc_dir = t->alloc_dir,
                                 .task_dir = t->task_dir};

        if (tdrv_net_setup_start(&ni, &job, err) < 0)
            return -1;
    }
    if (prepare(t, cfg, doc, dry, spec, err) < 0) {
        if (!dry) {
            struct tdrv_err e2 = {0};

            tdrv_net_setup_finish(&job, &t->net, &e2);
            net_down(t);
        }
        return -1;
    }
    free(t->runtime);
    t->runtime = tdrv_xstrdup(t->opts.runtime);
    if (t->opts.tty)
        tdrv_console_size_spec(*spec);
    if (dry)
        return 0;
    {
        if (tdrv_net_setup_finish(&job, &t->net, err) < 0)
            return -1;
        if (tdrv_net_apply_spec(&t->net, doc, *spec, err) < 0) {
            net_down(t);
            return -1;
        }
        {
            cleanup_free char *hosts = tdrv_xasprintf("%s/etc/hosts", t->task_dir);

            tdrv_net_apply_hosts(&t->net, hosts, doc_str(*spec, "hostname"), t->opts.files);
        }
    }
    if (write_bundle(t, *spec, err) < 0) {
        net_down(t);
        return -1;
    }
    t->state = tdrv_json_xobj();
    tdrv_json_add_str(t->state, "alloc_id", t->alloc_id);
    tdrv_json_add_str(t->state, "task", t->name);
    tdrv_json_add_str(t->state, "container_id", t->cid);
    tdrv_json_add_str(t->state, "state", "starting");
    tdrv_json_add_str(t->state, "driver", t->opts.driver);
    tdrv_json_add_str(t->state, "runtime", t->runtime);
    tdrv_json_add_str(t->state, "runtime_root", t->runtime_root);
    tdrv_json_add_str(t->state, "bundle", t->bundle);
    tdrv_json_add_str(t->state, "lease", t->lease_path);
    tdrv_json_add_str(t->state, "logs", t->logs_dir);
    tdrv_json_add_num(t->state, "monitor_pid", getpid());
    tdrv_json_add_str(t->state, "kill_signal", tdrv_signal_name(t->opts.kill_signal));
    tdrv_json_add_num(t->state, "kill_timeout_ns", (double)t->opts.kill_timeout_ns);
    if (tdrv_json_at(doc, "ports"))
        tdrv_json_add(t->state, "ports", tdrv_json_xdup(tdrv_json_at(doc, "ports")));
    if (tdrv_json_at(doc, "image.manifest_digest"))
        tdrv_json_add(t->state, "image",
                      tdrv_json_xdup(tdrv_json_at(doc, "image.manifest_digest")));
    if (t->net.summary)
        tdrv_json_add(t->state, "network", tdrv_json_xdup(t->net.summary));
    if (save_state(t, err) < 0 || (t->early && early_feed(t, *spec, err) < 0)) {
        net_down(t);
        return -1;
    }
    return 0;
}

static int begin(struct task *t, const struct tdrv_config *cfg, cJSON *doc, int dry, cJSON **spec,
                 struct tdrv_err *err)
{
    const char *name = NULL;

    if (tdrv_task_ensure_alloc_id(doc, err) < 0)
        return -1;
    if (tdrv_json_str(doc, "task", TDRV_REQUIRED, &name, err) < 0)
        return -1;
    if (task_paths(t, cfg, doc_str(doc, "alloc_id"), name, err) < 0)
        return -1;
    if (!dry) {
        if (alloc_dirs(t, err) < 0)
            return -1;
        /* the options first: a bad one fails before anything is started or mounted */
        if (tdrv_task_opts_parse(doc, cfg, &t->opts, err) < 0)
            return -1;
        t->opts_parsed = 1;
        if (t->early_ok && !t->opts.tty && !t->opts.interactive && is_runc(t->opts.runtime))
            early_start(t);
    }
    if (begin_task(t, cfg, doc, dry, spec, err) < 0) {
        if (!dry)
            bundle_drop(t); /* the lease is ours: so is the bundle */
        return -1;
    }
    return 0;
}

static int run_foreground(const struct tdrv_run_req *rq, const struct tdrv_config *cfg, cJSON *doc,
                          cJSON **out, int *status, struct tdrv_err *err)
{
    cleanup_task struct task t = {.lease_fd = -1};
    cleanup_json cJSON *spec = NULL;
    cJSON *result = NULL;
    struct sup s = {.t = &t, .tee_out = 1, .tee_err = 2, .status_fd = -1, .async_cleanup = 1};
    struct tdrv_console con;
    int null = -1;
    int in = 0;
    int own_in = -1;
    int rc;

    sigset_t set;

    /* a stop request while the bundle is prepared waits for the task to start; SIGCHLD
     * waits for the supervisor's signalfd (runc may be started early, early_start) */
    sigemptyset(&set);
    for (const int *g = (const int[]){SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, 0}; *g;
         g++)
        sigaddset(&set, *g);
    sigprocmask(SIG_BLOCK, &set, NULL);
    t.early_ok = 1;
    if (begin(&t, cfg, doc, 0, &spec, err) < 0)
        return -1;
    tdrv_debug("bundle ready at %lld us", (long long)((mono_ns() - t0_ns) / 1000));
    if (t.opts.interactive)
        in = own_in = tdrv_console_stdin(rq->stdin_path != NULL);
    if (!t.opts.interactive || t.opts.tty)
        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s.stdin_fd = t.opts.interactive && !t.opts.tty ? in : null;
    if (t.opts.tty) {
        tdrv_console_init(&con);
        con.in_fd = t.opts.interactive ? in : -1;
        con.term_fd = tdrv_console_term(con.in_fd);
        s.con = &con;
    }
    *status = run_supervised(&s, &result, err);
    if (s.con)
        tdrv_console_release(&con);
    if (own_in > 0)
        close(own_in);
    if (null >= 0)
        close(null);
    if (!result)
        return -1;
    if (rq->result_fd < 0 && !s.last_nl)
        tdrv_write_all(1, "\n", 1);
    tdrv_json_set(doc, "result", result);
    if (rq->result_fd >= 0) {
        /* the document to the caller's fd; stdout stays the task's alone */
        FILE *f = fdopen(rq->result_fd, "w");

        if (!f)
            return tdrv_err_setw(err, TDRV_E_IO, "write_failed", errno,
                                 "unable to open --result-fd %d", rq->result_fd);
        rc = tdrv_json_emit(f, doc, err);
        fclose(f);
        return rc;
    }
    *out = doc;
    return 0;
}

/* The monitor keeps only what it needs: a caller's pipes (a test harness's, a shell's $(...))
 * must not stay open for the task's whole life. */
static void close_other_fds(const int *keep, size_t n)
{
    DIR *d = opendir("/proc/self/fd");
    int fds[1024];
    size_t k = 0;
    struct dirent *e;

    while (d && (e = readdir(d)) && k < TDRV_ARRAY_LEN(fds)) {
        int fd = (int)strtol(e->d_name, NULL, 10);
        size_t i;

        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < 3 || fd == dirfd(d))
            continue;
        for (i = 0; i < n && keep[i] != fd; i++)
            ;
        if (i == n)
            fds[k++] = fd;
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < k; i++)
        close(fds[i]);
}

static int run_detach(const struct tdrv_run_req *rq, const struct tdrv_config *cfg, cJSON *doc,
                      cJSON **out, struct tdrv_err *err)
{
    cleanup_task struct task t = {.lease_fd = -1};
    cleanup_json cJSON *spec = NULL;
    struct start_msg m = {0};
    int sp[2];
    pid_t child;
    ssize_t n;
    int st;

    if (begin(&t, cfg, doc, 0, &spec, err) < 0)
        return -1;
    if (pipe2(sp, O_CLOEXEC) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a pipe");
    fflush(NULL);
    child = fork();
    if (child < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to fork");
    if (child == 0) {
        /* the monitor: its own session, re-parented to init, holding the lease */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        cJSON *result = NULL;
        struct tdrv_err merr = {0};
        struct sup s = {.t = &t, .tee_out = -1, .tee_err = -1, .status_fd = sp[1]};
        struct tdrv_console con;
        /* an interactive task's input: the file of --stdin (on fd 0), else none */
        int in = t.opts.interactive && rq->stdin_path ? fcntl(0, F_DUPFD_CLOEXEC, 3) : -1;

        close(sp[0]);
        setsid();
        if (fork() != 0)
            _exit(0);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        close_other_fds((const int[]){null, sp[1], t.lease_fd, t.store.root_fd, in}, 5);
        tdrv_json_set(t.state, "monitor_pid", tdrv_json_xnum(getpid()));
        s.stdin_fd = in >= 0 && !t.opts.tty ? in : null;
        if (t.opts.tty) { /* the terminal's output goes to the logs */
            tdrv_console_init(&con);
            con.in_fd = in;
            s.con = &con;
        }
        run_supervised(&s, &result, &merr);
        if (s.con)
            tdrv_console_release(&con);
        cJSON_Delete(result);
        task_release(&t);
        cJSON_Delete(spec);
        spec = NULL;
        _exit(0);
    }
    close(sp[1]);
    wait_pid(child, &st);
    n = read(sp[0], &m, sizeof(m));
    close(sp[0]);
    t.keep = 1;
    if (n != (ssize_t)sizeof(m))
        return tdrv_err_setw(err, TDRV_E_SOFTWARE, "monitor_failed", 0,
                             "the monitor process ended before starting the task");
    if (!m.ok) {
        *err = m.err;
        return -1;
    }
    {
        struct tdrv_err e2 = {0};

        load_state(&t, &e2);
    }
    tdrv_json_set(doc, "handle", handle_json(&t));
    *out = doc;
    return 0;
}

/* ---- handle operations
 * ---------------------------------------------------------------------------- */

static int op_wait(struct task *t, cJSON *doc, cJSON **out, int *status, int64_t timeout,
                   struct tdrv_err *err)
{
    const cJSON *res;

    if (load_state(t, err) < 0)
        return -1;
    if (lease_wait(t->lease_path, timeout) < 0)
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "timeout", 0, "task '%s' is still running",
                             t->name);
    if (load_state(t, err) < 0)
        return -1;
    res = tdrv_json_at(t->state, "result");
    if (!res)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "no_result", 0,
                             "task '%s' ended without a result (its supervisor was killed)",
                             t->name);
    if (status)
        *status = status_of(res);
    if (!doc)
        doc = tdrv_json_xobj();
    tdrv_json_set(doc, "result", tdrv_json_xdup(res));
    *out = doc;
    return 0;
}

static cJSON *live_state(struct task *t);

static int op_stop(struct task *t, cJSON *doc, cJSON **out, struct tdrv_err *err)
{
    const cJSON *mp;
    const cJSON *kt;
    int64_t timeout = 5000000000LL;

    if (load_state(t, err) < 0)
        return -1;
    mp = tdrv_json_at(t->state, "monitor_pid");
    kt = tdrv_json_at(t->state, "kill_timeout_ns");
    if (cJSON_IsNumber(kt))
        timeout = (int64_t)kt->valuedouble;
    if (lease_free(t->lease_path) == 0 && cJSON_IsNumber(mp)) {
        /* the supervisor does kill_signal, kill_timeout, SIGKILL */
        kill((pid_t)mp->valueint, SIGTERM);
        if (lease_wait(t->lease_path, timeout + 15000000000LL) < 0)
            return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "timeout", 0, "task '%s' did not stop",
                                 t->name);
    } else if (!tdrv_json_at(t->state, "result")) {
        /* the supervisor is gone (kill -9, crash): clean up after it */
        struct tdrv_err e2 = {0};

        runtime_delete(t);
        net_down(t);
        if (tdrv_store_open(&t->store, t->store_root, &e2) == 0) {
            t->store_open = 1;
            tdrv_store_rootfs_unmount(&t->store, t->bundle, &e2);
        }
        tdrv_err_clear(&e2);
        tdrv_rm_rf_at(AT_FDCWD, t->bundle, &e2);
        tdrv_json_set(t->state, "state", tdrv_json_xstr("stopped"));
        if (save_state(t, err) < 0)
            return -1;
        if (!doc)
            doc = tdrv_json_xobj();
        tdrv_json_set(doc, "inspect", live_state(t));
        *out = doc;
        return 0;
    }
    return op_wait(t, doc, out, NULL, 0, err);
}

static int op_signal(struct task *t, int sig, cJSON *doc, cJSON **out, struct tdrv_err *err)
{
    const cJSON *pid;

    if (load_state(t, err) < 0)
        return -1;
    pid = tdrv_json_at(t->state, "pid");
    if (lease_free(t->lease_path) != 0 || !cJSON_IsNumber(pid))
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_running", 0, "task '%s' is not running",
                             t->name);
    if (kill((pid_t)pid->valueint, sig) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to signal task '%s'", t->name);
    *out = doc ? doc : tdrv_json_xobj();
    return 0;
}

/* A controlling terminal: where runc looks when none of stdin, stdout, stderr is one. */
static int has_ctty(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static int op_exec(struct task *t, char **argv, int tty, int *status, struct tdrv_err *err)
{
    const char *args[60];
    size_t n = 0;
    int st;

    if (load_state(t, err) < 0)
        return -1;
    if (lease_free(t->lease_path) != 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_running", 0, "task '%s' is not running",
                             t->name);
    /* as `nomad alloc exec`: a terminal when ours is one, unless --tty or --no-tty says; runc
     * then holds it (raw mode, window size) as it holds a foreground `runc run`'s */
    if (tty == 0)
        tty = isatty(0) ? 1 : -1;
    if (tty > 0 && tdrv_console_term(-1) < 0 && !has_ctty())
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0,
                             "--tty: no terminal to attach (stdin, stdout and stderr are not "
                             "terminals, and there is no controlling terminal)");
    args[n++] = "exec";
    if (tty > 0)
        args[n++] = "--tty";
    args[n++] = t->cid;
    for (; argv && *argv && n < TDRV_ARRAY_LEN(args) - 1; argv++)
        args[n++] = *argv;
    args[n] = NULL;
    if (n == 2 + (tty > 0))
        return tdrv_err_setw(err, TDRV_E_USAGE, "usage", 0, "--exec needs a command after --");
    if (runtime_cmd(t, args, 0, 1, 2, &st, err) < 0)
        return -1;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

static cJSON *live_state(struct task *t)
{
    cJSON *s = tdrv_json_xdup(t->state);
    int free_ = lease_free(t->lease_path);
    const cJSON *st = tdrv_json_at(s, "state");

    tdrv_json_set(s, "lease_held", cJSON_CreateBool(free_ == 0));
    if (free_ == 1 && cJSON_IsString(st) &&
        (!strcmp(st->valuestring, "running") || !strcmp(st->valuestring, "starting")))
        tdrv_json_set(s, "state", tdrv_json_xstr("dangling"));
    return s;
}

static int op_inspect(struct task *t, cJSON *doc, cJSON **out, struct tdrv_err *err)
{
    if (load_state(t, err) < 0)
        return -1;
    if (!doc)
        doc = tdrv_json_xobj();
    tdrv_json_set(doc, "inspect", live_state(t));
    *out = doc;
    return 0;
}

static void stat_file(cJSON *o, const char *key, const char *dir, const char *file)
{
    char p[1200];
    long long v;

    snprintf(p, sizeof(p), "%s/%s", dir, file);
    v = read_num(p);
    if (v >= 0)
        tdrv_json_add_num(o, key, (double)v);
}

static void stat_key(cJSON *o, const char *key, const char *dir, const char *file, const char *k)
{
    char p[1200];
    long long v;

    snprintf(p, sizeof(p), "%s/%s", dir, file);
    v = read_key(p, k);
    if (v >= 0)
        tdrv_json_add_num(o, key, (double)v);
}

static int op_stats(struct task *t, cJSON *doc, cJSON **out, struct tdrv_err *err)
{
    const char *mem = NULL;
    const char *uni = NULL;
    cJSON *st;
    cJSON *m;
    cJSON *c;
    cJSON *p;
    char ts[64];

    if (load_state(t, err) < 0)
        return -1;
    if (lease_free(t->lease_path) != 0)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "task_not_running", 0, "task '%s' is not running",
                             t->name);
    tdrv_json_str(t->state, "cgroup.memory", TDRV_OPTIONAL, &mem, err);
    tdrv_json_str(t->state, "cgroup.unified", TDRV_OPTIONAL, &uni, err);
    st = tdrv_json_xobj();
    m = tdrv_json_xobj();
    c = tdrv_json_xobj();
    p = tdrv_json_xobj();
    now_rfc3339(ts, sizeof(ts));
    tdrv_json_add_str(st, "timestamp", ts);
    if (uni) {
        stat_file(m, "usage", uni, "memory.current");
        stat_file(m, "limit", uni, "memory.max");
        stat_key(m, "rss", uni, "memory.stat", "anon");
        stat_key(m, "cache", uni, "memory.stat", "file");
        stat_file(m, "swap", uni, "memory.swap.current");
        stat_key(c, "usage_usec", uni, "cpu.stat", "usage_usec");
        stat_key(c, "user_usec", uni, "cpu.stat", "user_usec");
        stat_key(c, "system_usec", uni, "cpu.stat", "system_usec");
        stat_key(c, "throttled_periods", uni, "cpu.stat", "nr_throttled");
        stat_file(p, "current", uni, "pids.current");
    } else if (mem) {
        const char *acct = NULL;
        const char *pids = NULL;

        tdrv_json_str(t->state, "cgroup.cpuacct", TDRV_OPTIONAL, &acct, err);
        tdrv_json_str(t->state, "cgroup.pids", TDRV_OPTIONAL, &pids, err);
        stat_file(m, "usage", mem, "memory.usage_in_bytes");
        stat_file(m, "max_usage", mem, "memory.max_usage_in_bytes");
        stat_file(m, "limit", mem, "memory.limit_in_bytes");
        stat_key(m, "rss", mem, "memory.stat", "rss");
        stat_key(m, "cache", mem, "memory.stat", "cache");
        stat_key(m, "swap", mem, "memory.stat", "swap");
        stat_key(m, "mapped_file", mem, "memory.stat", "mapped_file");
        if (acct) {
            char u[1200];
            long long v;

            snprintf(u, sizeof(u), "%s/cpuacct.usage", acct);
            if ((v = read_num(u)) >= 0)
                tdrv_json_add_num(c, "usage_usec", (double)(v / 1000));
            stat_key(c, "user_ticks", acct, "cpuacct.stat", "user");
            stat_key(c, "system_ticks", acct, "cpuacct.stat", "system");
        }
        if (pids)
            stat_file(p, "current", pids, "pids.current");
    }
    tdrv_json_add(st, "memory", m);
    tdrv_json_add(st, "cpu", c);
    tdrv_json_add(st, "pids", p);
    if (!doc)
        doc = tdrv_json_xobj();
    tdrv_json_set(doc, "stats", st);
    *out = doc;
    return 0;
}

/* Copy path (and its rotated older files, oldest first) to fd. */
static off_t cat_logs(const char *path, int files, int fd)
{
    char buf[65536];
    off_t last = 0;

    for (int i = files - 1; i >= 0; i--) {
        char *p = i ? tdrv_xasprintf("%s.%d", path, i) : tdrv_xstrdup(path);
        int in = open(p, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        free(p);
        if (in < 0)
            continue;
        last = 0;
        while ((n = read(in, buf, sizeof(buf))) > 0) {
            tdrv_write_all(fd, buf, (size_t)n);
            last += n;
        }
        close(in);
    }
    return last;
}

static int op_logs(struct task *t, int follow, struct tdrv_err *err)
{
    cleanup_free char *lo = tdrv_xasprintf("%s/stdout.log", t->logs_dir);
    cleanup_free char *le = tdrv_xasprintf("%s/stderr.log", t->logs_dir);
    const char *paths[2] = {lo, le};
    int fdo[2] = {1, 2};
    int in[2] = {-1, -1};
    ino_t ino[2] = {0, 0};

    if (load_state(t, err) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        struct stat st;

        cat_logs(paths[i], 100, fdo[i]);
        if (follow && (in[i] = open(paths[i], O_RDONLY | O_CLOEXEC)) >= 0) {
            lseek(in[i], 0, SEEK_END);
            if (fstat(in[i], &st) == 0)
                ino[i] = st.st_ino;
        }
    }
    while (follow) {
        int done = lease_free(t->lease_path) != 0;
        char buf[65536];

        for (int i = 0; i < 2; i++) {
            struct stat st;
            ssize_t n;

            if (in[i] < 0) {
                in[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
                if (in[i] >= 0 && fstat(in[i], &st) == 0)
                    ino[i] = st.st_ino;
                continue;
            }
            while ((n = read(in[i], buf, sizeof(buf))) > 0)
                if (tdrv_write_all(fdo[i], buf, (size_t)n) < 0)
                    return tdrv_err_setw(err, TDRV_E_IO, "write_failed", errno,
                                         "unable to write logs");
            if (stat(paths[i], &st) == 0 && st.st_ino != ino[i]) {
                /* rotated: the new file from its start */
                close(in[i]);
                in[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
                ino[i] = st.st_ino;
            }
        }
        if (done)
            break;
        usleep(100000);
    }
    for (int i = 0; i < 2; i++)
        if (in[i] >= 0)
            close(in[i]);
    return 0;
}

static int op_list(const struct tdrv_config *cfg, cJSON **out, struct tdrv_err *err)
{
    cleanup_free char *allocs = tdrv_xasprintf("%s/allocs", cfg->root);
    DIR *d = opendir(allocs);
    cJSON *doc = tdrv_json_xobj();
    cJSON *list = tdrv_json_xarr();
    struct dirent *a;

    tdrv_json_add(doc, "tasks", list);
    (void)err;
    while (d && (a = readdir(d))) {
        cleanup_free char *ad = NULL;
        DIR *td;
        struct dirent *e;

        if (a->d_name[0] == '.')
            continue;
        ad = tdrv_xasprintf("%s/%s", allocs, a->d_name);
        td = opendir(ad);
        while (td && (e = readdir(td))) {
            struct task t = {.lease_fd = -1};
            struct tdrv_err e2 = {0};
            cJSON *s;
            cJSON *item;

            if (e->d_name[0] == '.' || !strcmp(e->d_name, "alloc"))
                continue;
            if (task_paths(&t, cfg, a->d_name, e->d_name, &e2) < 0 || load_state(&t, &e2) < 0) {
                task_release(&t);
                continue;
            }
            s = live_state(&t);
            item = tdrv_json_xobj();
            for (const char *const *k =
                     (const char *const[]){"alloc_id", "task", "container_id", "state", "pid",
                                           "started_at", "lease_held", "result", NULL};
                 *k; k++)
                if (tdrv_json_at(s, *k))
                    tdrv_json_add(item, *k, tdrv_json_xdup(tdrv_json_at(s, *k)));
            tdrv_json_append(list, item);
            cJSON_Delete(s);
            task_release(&t);
        }
        if (td)
            closedir(td);
    }
    if (d)
        closedir(d);
    *out = doc;
    return 0;
}

/* ---- entry
 * ---------------------------------------------------------------------------------------- */

int tdrv_run(const struct tdrv_run_req *rq, const struct tdrv_config *cfg, cJSON *doc, cJSON **out,
             int *status, struct tdrv_err *err)
{
    cleanup_task struct task t = {.lease_fd = -1};

    *status = -1;
    *out = NULL;
    t0_ns = mono_ns();
    switch (rq->action) {
    case TDRV_RUN_FOREGROUND:
        return run_foreground(rq, cfg, doc, out, status, err);
    case TDRV_RUN_DETACH:
        return run_detach(rq, cfg, doc, out, err);
    case TDRV_RUN_DRY_RUN: {
        cleanup_json cJSON *spec = NULL;

        if (begin(&t, cfg, doc, 1, &spec, err) < 0)
            return -1;
        *out = steal_ptr(&spec);
        return 0;
    }
    case TDRV_RUN_LIST:
        return op_list(cfg, out, err);
    default:
        break;
    }
    if (task_from_req(&t, rq, cfg, doc, err) < 0)
        return -1;
    switch (rq->action) {
    case TDRV_RUN_WAIT:
        return op_wait(&t, doc, out, status, -1, err);
    case TDRV_RUN_STOP:
        return op_stop(&t, doc, out, err);
    case TDRV_RUN_SIGNAL:
        return op_signal(&t, rq->signal, doc, out, err);
    case TDRV_RUN_EXEC:
        return op_exec(&t, rq->exec_argv, rq->exec_tty, status, err);
    case TDRV_RUN_INSPECT:
        return op_inspect(&t, doc, out, err);
    case TDRV_RUN_STATS:
        return op_stats(&t, doc, out, err);
    case TDRV_RUN_LOGS:
        return op_logs(&t, rq->follow, err);
    default:
        return tdrv_err_set(err, TDRV_E_SOFTWARE, 0, "unknown action %d", rq->action);
    }
}
