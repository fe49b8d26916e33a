#include "cni.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define CNI_OUT_MAX (4u * 1024u * 1024u)
#define CNI_TIMEOUT_MS 60000
#define NSFS_MAGIC_ 0x6e736673

extern char **environ;

static const char *const cmd_names[] = {"ADD", "DEL", "CHECK"};

const char *tdrv_cni_path(void)
{
    const char *p = getenv("TDRV_CNI_PATH");

    return p && *p ? p : "/usr/lib/cni:/opt/cni/bin";
}

const char *tdrv_cni_conf_dir(void)
{
    const char *p = getenv("TDRV_CNI_CONF_DIR");

    return p && *p ? p : "/etc/cni/net.d";
}

/* ---- configuration lists ----------------------------------------------------------------- */

cJSON *tdrv_cni_default_conflist(const char *name, const char *bridge, const char *subnet)
{
    cJSON *l = tdrv_json_xobj();
    cJSON *plugins = tdrv_json_xarr();
    cJSON *br = tdrv_json_xobj();
    cJSON *ipam = tdrv_json_xobj();
    cJSON *ranges = tdrv_json_xarr();
    cJSON *set = tdrv_json_xarr();
    cJSON *range = tdrv_json_xobj();
    cJSON *routes = tdrv_json_xarr();
    cJSON *route = tdrv_json_xobj();
    cJSON *fw = tdrv_json_xobj();
    cJSON *pm = tdrv_json_xobj();
    cJSON *caps = tdrv_json_xobj();

    tdrv_json_add_str(l, "cniVersion", TDRV_CNI_VERSION);
    tdrv_json_add_str(l, "name", name);
    tdrv_json_add(l, "plugins", plugins);

    tdrv_json_add_str(br, "type", "bridge");
    tdrv_json_add_str(br, "bridge", bridge);
    tdrv_json_add_bool(br, "isGateway", 1);
    tdrv_json_add_bool(br, "forceAddress", 1);
    tdrv_json_add_bool(br, "ipMasq", 1);
    tdrv_json_add_bool(br, "hairpinMode", 1);
    tdrv_json_add_str(ipam, "type", "host-local");
    tdrv_json_add_str(range, "subnet", subnet);
    tdrv_json_append(set, range);
    tdrv_json_append(ranges, set);
    tdrv_json_add(ipam, "ranges", ranges);
    tdrv_json_add_str(route, "dst", "0.0.0.0/0");
    tdrv_json_append(routes, route);
    tdrv_json_add(ipam, "routes", routes);
    tdrv_json_add(br, "ipam", ipam);
    tdrv_json_append(plugins, br);

    tdrv_json_add_str(fw, "type", "firewall");
    tdrv_json_add_str(fw, "backend", "iptables");
    tdrv_json_add_str(fw, "iptablesAdminChainName", "TDRV-ADMIN");
    tdrv_json_append(plugins, fw);

    tdrv_json_add_str(pm, "type", "portmap");
    tdrv_json_add_bool(caps, "portMappings", 1);
    tdrv_json_add(pm, "capabilities", caps);
    tdrv_json_add_bool(pm, "snat", 1);
    tdrv_json_append(plugins, pm);
    return l;
}

/* A parsed conf or conflist as a conflist; 78 when it is neither. */
static int as_conflist(cJSON *doc, const char *path, cJSON **out, struct tdrv_err *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(doc, "plugins");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "type");

    if (!cJSON_IsObject(doc) || !cJSON_IsString(name) || !*name->valuestring)
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_network", 0,
                             "%s: a CNI network needs a 'name'", path);
    if (cJSON_IsArray(plugins)) {
        if (!plugins->child)
            return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_network", 0, "%s: 'plugins' is empty",
                                 path);
        for (const cJSON *p = plugins->child; p; p = p->next)
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "type")))
                return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_network", 0,
                                     "%s: a plugin has no 'type'", path);
        *out = tdrv_json_xdup(doc);
        return 0;
    }
    if (!cJSON_IsString(type))
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_network", 0,
                             "%s: neither 'plugins' nor 'type'", path);
    {
        cJSON *l = tdrv_json_xobj();
        cJSON *arr = tdrv_json_xarr();
        cJSON *p = tdrv_json_xdup(doc);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "cniVersion");

        tdrv_json_add_str(l, "cniVersion", cJSON_IsString(v) ? v->valuestring : "0.4.0");
        tdrv_json_add_str(l, "name", name->valuestring);
        cJSON_DeleteItemFromObjectCaseSensitive(p, "cniVersion");
        cJSON_DeleteItemFromObjectCaseSensitive(p, "name");
        tdrv_json_append(arr, p);
        tdrv_json_add(l, "plugins", arr);
        *out = l;
    }
    return 0;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s);
    size_t b = strlen(suf);

    return a >= b && !strcmp(s + a - b, suf);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_default(const struct tdrv_config *cfg, cJSON **out, struct tdrv_err *err)
{
    cleanup_free char *dir = tdrv_xasprintf("%s/cni", cfg->root);
    cleanup_free char *path = tdrv_xasprintf("%s/tdrv.conflist", dir);
    cleanup_json cJSON *doc = NULL;

    if (access(path, F_OK) < 0) {
        cleanup_json cJSON *l = tdrv_cni_default_conflist(
            TDRV_CNI_DEFAULT_NAME, TDRV_CNI_DEFAULT_BRIDGE, TDRV_CNI_DEFAULT_SUBNET);
        cleanup_free char *text = cJSON_Print(l);

        if (!text)
            tdrv_oom();
        if (tdrv_mkdir_p(AT_FDCWD, dir, 0755, err) < 0 ||
            tdrv_write_file_at(AT_FDCWD, path, text, strlen(text), 0644, err) < 0)
            return tdrv_err_wrap(err, "unable to write the default network");
    }
    if (tdrv_doc_read_file(path, 1 << 20, &doc, err) < 0) {
        err->code = err->code == TDRV_E_DATA ? TDRV_E_CONFIG : err->code;
        return tdrv_err_wrap(err, "default network '%s'", path);
    }
    return as_conflist(doc, path, out, err);
}

int tdrv_cni_load(const struct tdrv_config *cfg, const char *name, cJSON **out,
                  struct tdrv_err *err)
{
    const char *dir = tdrv_cni_conf_dir();
    struct dirent **ents = NULL;
    int n;
    int rc = -1;
    int found = 0;

    if (!name || !*name || !strcmp(name, "bridge") || !strcmp(name, "default"))
        return load_default(cfg, out, err);
    n = scandir(dir, &ents, NULL, by_name);
    for (int i = 0; i < n; i++) {
        const char *f = ents[i]->d_name;
        cleanup_free char *path = NULL;
        cleanup_json cJSON *doc = NULL;
        const cJSON *nm;
        struct tdrv_err e = {0};

        if (found || f[0] == '.' ||
            !(has_suffix(f, ".conflist") || has_suffix(f, ".conf") || has_suffix(f, ".json")))
            continue;
        path = tdrv_xasprintf("%s/%s", dir, f);
        if (tdrv_doc_read_file(path, 1 << 20, &doc, &e) < 0) {
            tdrv_warn("ignoring CNI config: %s", e.msg);
            continue;
        }
        nm = cJSON_GetObjectItemCaseSensitive(doc, "name");
        if (!cJSON_IsString(nm) || strcmp(nm->valuestring, name))
            continue;
        found = 1;
        rc = as_conflist(doc, path, out, err);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    if (!found)
        return tdrv_err_setw(err, TDRV_E_NOINPUT, "network_not_found", 0,
                             "no CNI network named '%s' in '%s'", name, dir);
    return rc;
}

/* ---- running plugins ----------------------------------------------------------------------- */

static char *find_plugin(const char *type)
{
    cleanup_free char *path = tdrv_xstrdup(tdrv_cni_path());
    char *save = NULL;

    if (!*type || strchr(type, '/') || !strcmp(type, ".") || !strcmp(type, ".."))
        return NULL;
    for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *p = tdrv_xasprintf("%s/%s", d, type);

        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

static int memfd_with(const char *name, const char *data, struct tdrv_err *err)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a memfd");
    if (data && (tdrv_write_all(fd, data, strlen(data)) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
        int e = errno;

        close(fd);
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to write a memfd");
    }
    return fd;
}

static char *read_memfd(int fd)
{
    struct tdrv_buf b;
    struct tdrv_err e = {0};

    tdrv_buf_init(&b, CNI_OUT_MAX);
    lseek(fd, 0, SEEK_SET);
    if (tdrv_buf_read_fd(&b, fd, "cni plugin output", &e) < 0) {
        tdrv_buf_release(&b);
        return tdrv_xstrdup("");
    }
    return b.data ? tdrv_buf_steal(&b) : tdrv_xstrdup("");
}

/* Wait for pid at most timeout_ms; 0 with *status, -1 on timeout (the child is killed). */
static int wait_timeout(pid_t pid, int timeout_ms, int *status)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int r;

        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        close(pfd);
        if (r == 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
    }
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* The last non-empty line of text (in place). */
static const char *last_line(char *text)
{
    size_t n = strlen(text);
    char *nl;

    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

int tdrv_cni_exec(const cJSON *netconf, enum tdrv_cni_cmd cmd, const struct tdrv_cni_rt *rt,
                  cJSON **result, struct tdrv_err *err)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(netconf, "type");
    cleanup_free char *bin = NULL;
    cleanup_free char *in = NULL;
    cleanup_free char *out = NULL;
    cleanup_free char *errtext = NULL;
    cleanup_close int in_fd = -1;
    cleanup_close int out_fd = -1;
    cleanup_close int err_fd = -1;
    char *envp[8];
    char *argv[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0;
    int rc;
    struct timespec t0;
    struct timespec t1;

    if (!cJSON_IsString(type))
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_network", 0,
                             "a CNI plugin configuration has no 'type'");
    bin = find_plugin(type->valuestring);
    if (!bin)
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "cni_plugin_not_found", 0,
                             "no CNI plugin '%s' in '%s'", type->valuestring, tdrv_cni_path());
    in = cJSON_PrintUnformatted(netconf);
    if (!in)
        tdrv_oom();
    if ((in_fd = memfd_with("cni-in", in, err)) < 0 ||
        (out_fd = memfd_with("cni-out", NULL, err)) < 0 ||
        (err_fd = memfd_with("cni-err", NULL, err)) < 0)
        return -1;
    {
        const char *path = getenv("PATH");

        envp[0] = tdrv_xasprintf("CNI_COMMAND=%s", cmd_names[cmd]);
        envp[1] = tdrv_xasprintf("CNI_CONTAINERID=%s", rt->container_id);
        envp[2] = tdrv_xasprintf("CNI_NETNS=%s", rt->netns ? rt->netns : "");
        envp[3] = tdrv_xasprintf("CNI_IFNAME=%s", rt->ifname);
        envp[4] = tdrv_xasprintf("CNI_PATH=%s", tdrv_cni_path());
        envp[5] =
            tdrv_xasprintf("PATH=%s", path && *path ? path
                                                    : "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                                      "/usr/bin:/sbin:/bin");
        envp[6] = NULL;
    }
    argv[0] = bin;
    argv[1] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; envp[i]; i++)
        free(envp[i]);
    if (rc != 0)
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "cni_failed", rc,
                             "unable to run CNI plugin '%s'", bin);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (wait_timeout(pid, CNI_TIMEOUT_MS, &status) < 0)
        return tdrv_err_setw(err, TDRV_E_TEMPFAIL, "timeout", 0,
                             "CNI plugin '%s' (%s) did not finish within %d s", type->valuestring,
                             cmd_names[cmd], CNI_TIMEOUT_MS / 1000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    tdrv_debug("cni: %s %s %s (%s) in %lld ms", cmd_names[cmd], type->valuestring, rt->container_id,
               rt->ifname,
               (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    out = read_memfd(out_fd);
    errtext = read_memfd(err_fd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cleanup_json cJSON *e = NULL;
        struct tdrv_err pe = {0};
        const char *msg = NULL;
        const char *details = NULL;

        if (*out && tdrv_json_parse(out, strlen(out), &e, &pe) == 0) {
            tdrv_json_str(e, "msg", TDRV_OPTIONAL, &msg, &pe);
            tdrv_json_str(e, "details", TDRV_OPTIONAL, &details, &pe);
        }
        if (!msg)
            msg = *errtext ? last_line(errtext) : NULL;
        return tdrv_err_setw(err, TDRV_E_UNAVAILABLE, "cni_failed", 0,
                             "CNI plugin '%s' failed (%s): %s%s%s", type->valuestring,
                             cmd_names[cmd], msg ? msg : "exited non-zero",
                             details && *details ? ": " : "", details ? details : "");
    }
    if (result) {
        *result = NULL;
        if (cmd == TDRV_CNI_ADD) {
            if (tdrv_json_parse(out, strlen(out), result, err) < 0)
                return tdrv_err_wrap(err, "CNI plugin '%s' (ADD) wrote no valid result",
                                     type->valuestring);
        }
    }
    return 0;
}

/* The stdin of one plugin of a list. */
static cJSON *plugin_conf(const cJSON *list, const cJSON *plugin, const cJSON *prev,
                          const struct tdrv_cni_rt *rt)
{
    cJSON *c = tdrv_json_xdup(plugin);
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(plugin, "capabilities");

    tdrv_json_set(c, "cniVersion",
                  tdrv_json_xdup(cJSON_GetObjectItemCaseSensitive(list, "cniVersion")));
    tdrv_json_set(c, "name", tdrv_json_xdup(cJSON_GetObjectItemCaseSensitive(list, "name")));
    if (prev)
        tdrv_json_set(c, "prevResult", tdrv_json_xdup(prev));
    if (rt->port_mappings && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "portMappings"))) {
        cJSON *rc = tdrv_json_xobj();

        tdrv_json_add(rc, "portMappings", tdrv_json_xdup(rt->port_mappings));
        tdrv_json_set(c, "runtimeConfig", rc);
    }
    return c;
}

/* DEL every plugin, last first; the first failure is reported (the others warned, unless quiet). */
static int run_del(const cJSON *list, const struct tdrv_cni_rt *rt, const cJSON *prev, int quiet,
                   struct tdrv_err *err)
{
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(list, "plugins");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(list, "name"));
    int rc = 0;

    for (int i = cJSON_GetArraySize(plugins) - 1; i >= 0; i--) {
        cleanup_json cJSON *c = plugin_conf(list, cJSON_GetArrayItem(plugins, i), prev, rt);
        struct tdrv_err e = {0};

        if (tdrv_cni_exec(c, TDRV_CNI_DEL, rt, NULL, &e) < 0) {
            if (rc == 0) {
                *err = e;
                tdrv_err_wrap(err, "network '%s'", name);
                rc = -1;
            } else if (!quiet) {
                tdrv_warn("network '%s': %s", name, e.msg);
            }
        }
    }
    return rc;
}

int tdrv_cni_run(const cJSON *list, enum tdrv_cni_cmd cmd, const struct tdrv_cni_rt *rt,
                 const cJSON *prev, cJSON **result, struct tdrv_err *err)
{
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(list, "plugins");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(list, "name");
    int n = cJSON_GetArraySize(plugins);

    if (!cJSON_IsArray(plugins) || !n || !cJSON_IsString(name) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(list, "cniVersion")))
        return tdrv_err_setw(err, TDRV_E_CONFIG, "invalid_network", 0,
                             "a CNI network needs 'cniVersion', 'name' and 'plugins'");
    if (cmd == TDRV_CNI_ADD) {
        cleanup_json cJSON *cur = prev ? tdrv_json_xdup(prev) : NULL;

        for (const cJSON *p = plugins->child; p; p = p->next) {
            cleanup_json cJSON *c = plugin_conf(list, p, cur, rt);
            cJSON *r = NULL;

            if (tdrv_cni_exec(c, cmd, rt, &r, err) < 0) {
                /* undo what the plugins before it did, with what they reported (the
                 * firewall plugin finds its rules only through prevResult) */
                struct tdrv_err e = {0};

                run_del(list, rt, cur, 1, &e);
                return tdrv_err_wrap(err, "network '%s'", name->valuestring);
            }
            cJSON_Delete(cur);
            cur = r;
        }
        if (result)
            *result = steal_ptr(&cur);
        return 0;
    }
    if (cmd == TDRV_CNI_CHECK) {
        if (!prev)
            return tdrv_err_setw(err, TDRV_E_SOFTWARE, "invalid_state", 0,
                                 "CNI CHECK needs the ADD result");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(list, "disableCheck")))
            return 0;
        for (const cJSON *p = plugins->child; p; p = p->next) {
            cleanup_json cJSON *c = plugin_conf(list, p, prev, rt);

            if (tdrv_cni_exec(c, cmd, rt, NULL, err) < 0)
                return tdrv_err_wrap(err, "network '%s'", name->valuestring);
        }
        return 0;
    }
    return run_del(list, rt, prev, 0, err);
}

/* ---- network namespaces ------------------------------------------------------------------- */

int tdrv_netns_exists(const char *path)
{
    struct statfs s;

    return statfs(path, &s) == 0 && (unsigned long)s.f_type == NSFS_MAGIC_;
}

/* Make dir a shared mount point, as iproute2's netns_add does for /run/netns. */
static int share_dir(const char *run_dir, const char *dir, struct tdrv_err *err)
{
    cleanup_free char *lockp = tdrv_xasprintf("%s/netns.lock", run_dir);
    cleanup_close int lk = -1;

    if (tdrv_lock_at(AT_FDCWD, lockp, &lk, err) < 0)
        return -1;
    if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0)
        return 0;
    if (errno != EINVAL)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to make '%s' a shared mount", dir);
    if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to bind-mount '%s'", dir);
    if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to make '%s' a shared mount", dir);
    return 0;
}

int tdrv_netns_create(const char *run_dir, const char *name, char **out, struct tdrv_err *err)
{
    cleanup_free char *dir = tdrv_xasprintf("%s/netns", run_dir);
    cleanup_free char *path = tdrv_xasprintf("%s/%s", dir, name);
    int fd;
    pid_t pid;
    int st = 0;

    if (!*name || strchr(name, '/'))
        return tdrv_err_set(err, TDRV_E_SOFTWARE, 0, "invalid netns name '%s'", name);
    if (tdrv_mkdir_p(AT_FDCWD, dir, 0755, err) < 0 || share_dir(run_dir, dir, err) < 0)
        return -1;
    fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0)
        return tdrv_err_set(err, errno == EEXIST ? TDRV_E_CANTCREAT : TDRV_E_OS, errno,
                            "unable to create '%s'", path);
    close(fd);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int e = errno;

        unlink(path);
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to fork");
    }
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0)
            _exit(errno & 0x7f);
        if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
            _exit(errno & 0x7f);
        _exit(0);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        int e = WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;

        unlink(path);
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to create network namespace '%s'", path);
    }
    *out = steal_ptr(&path);
    return 0;
}

int tdrv_netns_remove(const char *path, struct tdrv_err *err)
{
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to unmount '%s'", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to remove '%s'", path);
    return 0;
}
