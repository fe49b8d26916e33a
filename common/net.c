#include "net.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "ports.h"

#define STATE_MAX (4u * 1024u * 1024u)

static const char *const mode_names[] = {"host", "none", "bridge", "group"};

const char *tdrv_net_mode_name(enum tdrv_net_mode m)
{
    return (unsigned)m < TDRV_ARRAY_LEN(mode_names) ? mode_names[m] : "host";
}

#define bad tdrv_err_invalid

static int set_network(struct tdrv_net_req *r, enum tdrv_net_mode m, const char *name)
{
    r->mode = m;
    snprintf(r->network, sizeof(r->network), "%s", name ? name : "");
    return 0;
}

/* A mode word shared by network_mode and network.mode; 1 when it was one. */
static int mode_word(struct tdrv_net_req *r, const char *v)
{
    if (!strcmp(v, "host"))
        return set_network(r, TDRV_NET_HOST, NULL), 1;
    if (!strcmp(v, "none"))
        return set_network(r, TDRV_NET_NONE, NULL), 1;
    if (!strcmp(v, "bridge") || !strcmp(v, "default"))
        return set_network(r, TDRV_NET_BRIDGE, NULL), 1;
    if (!strcmp(v, "group"))
        return set_network(r, TDRV_NET_GROUP, NULL), 1;
    if (!strncmp(v, "cni/", 4) && v[4])
        return set_network(r, TDRV_NET_BRIDGE, v + 4), 1;
    return 0;
}

static int has_ports(const cJSON *doc)
{
    const cJSON *p = tdrv_json_at(doc, "ports");
    const cJSON *np = tdrv_json_at(doc, "network.ports");

    return (cJSON_IsArray(p) && p->child) || (cJSON_IsArray(np) && np->child);
}

int tdrv_net_mode(const cJSON *doc, struct tdrv_net_req *r, struct tdrv_err *err)
{
    const cJSON *conf = tdrv_json_at(doc, "config");
    const char *mode = NULL;
    const char *nm = NULL;
    const cJSON *net = NULL;
    int hn = 0;

    memset(r, 0, sizeof(*r));
    if (tdrv_json_str(doc, "network.mode", TDRV_OPTIONAL, &mode, err) < 0)
        return -1;
    if (conf && (tdrv_json_str(conf, "network_mode", TDRV_OPTIONAL, &nm, err) < 0 ||
                 tdrv_json_bool(conf, "host_network", TDRV_OPTIONAL, &hn, err) < 0 ||
                 tdrv_json_strarr(conf, "net", TDRV_OPTIONAL, &net, err) < 0))
        return tdrv_err_wrap(err, "config");
    if (hn) {
        if (nm && *nm && strcmp(nm, "host"))
            return bad(err, "config.host_network: conflicts with network_mode '%s'", nm);
        if (mode && (!strcmp(mode, "bridge") || !strcmp(mode, "group")))
            return bad(err,
                       "config.host_network: host_network and %s network mode are mutually "
                       "exclusive",
                       mode);
        return set_network(r, TDRV_NET_HOST, NULL);
    }
    if (nm && *nm) {
        if (mode_word(r, nm))
            return 0;
        if (!strncmp(nm, "container:", 10))
            return bad(err, "config.network_mode: '%s' is not supported", nm);
        if (strlen(nm) >= sizeof(r->network) || strchr(nm, '/'))
            return bad(err, "config.network_mode: invalid network name '%s'", nm);
        return set_network(r, TDRV_NET_BRIDGE, nm);
    }
    if (net && net->child) {
        const char *v = net->child->valuestring;

        if (net->child->next)
            return bad(err, "config.net: more than one network ('%s', '%s') is not supported", v,
                       net->child->next->valuestring);
        if (!strcmp(v, "host") || !strcmp(v, "none") || !strcmp(v, "default"))
            return mode_word(r, v), 0;
        if (strchr(v, ':'))
            return bad(err, "config.net: network arguments are not supported ('%s')", v);
        if (!*v || strlen(v) >= sizeof(r->network) || strchr(v, '/'))
            return bad(err, "config.net: invalid network name '%s'", v);
        return set_network(r, TDRV_NET_BRIDGE, v);
    }
    if (mode && *mode) {
        if (mode_word(r, mode))
            return 0;
        return bad(err,
                   "request.network.mode: '%s' is not supported (host, none, bridge, "
                   "group, cni/<name>)",
                   mode);
    }
    return set_network(r, has_ports(doc) ? TDRV_NET_BRIDGE : TDRV_NET_HOST, NULL);
}

/* ---- port mappings ------------------------------------------------------------------------ */

/* The rkt port_map value of a label (object, or list of objects as HCL blocks decode). */
static const cJSON *port_map_value(const cJSON *doc, const char *label)
{
    const cJSON *pm = tdrv_json_at(doc, "config.port_map");

    if (cJSON_IsObject(pm))
        return cJSON_GetObjectItemCaseSensitive(pm, label);
    for (const cJSON *o = cJSON_IsArray(pm) ? pm->child : NULL; o; o = o->next) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, label);

        if (v)
            return v;
    }
    return NULL;
}

static void add_mapping(cJSON *arr, int64_t host, int64_t cont, const char *proto)
{
    cJSON *m = tdrv_json_xobj();

    tdrv_json_add_num(m, "hostPort", (double)host);
    tdrv_json_add_num(m, "containerPort", (double)cont);
    tdrv_json_add_str(m, "protocol", proto);
    tdrv_json_append(arr, m);
}

int tdrv_net_port_mappings(const cJSON *doc, cJSON **out, struct tdrv_err *err)
{
    const cJSON *ports = tdrv_json_at(doc, "ports");
    const char *driver = NULL;
    cleanup_json cJSON *arr = tdrv_json_xarr();
    int i = 0;

    if (ports && !cJSON_IsArray(ports))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_config", 0,
                             "request.ports: expected array");
    if (tdrv_json_str(doc, "driver", TDRV_OPTIONAL, &driver, err) < 0)
        return -1;
    for (const cJSON *p = ports ? ports->child : NULL; p; p = p->next, i++) {
        const char *label = NULL;
        int64_t value = 0;
        int64_t to = 0;
        const cJSON *pm;

        if (tdrv_json_str(p, "label", TDRV_REQUIRED, &label, err) < 0 ||
            tdrv_json_i64(p, "value", TDRV_REQUIRED, 1, 65535, &value, err) < 0 ||
            tdrv_json_i64(p, "to", TDRV_OPTIONAL, -1, 65535, &to, err) < 0)
            return tdrv_err_wrap(err, "request.ports[%d]", i);
        if (to <= 0)
            to = value;
        pm = driver && !strcmp(driver, "rkt") ? port_map_value(doc, label) : NULL;
        if (pm) {
            int port = 0;
            char proto[4];

            if (tdrv_ports_parse_map_value(pm, "config.port_map", &port, proto, err) < 0)
                return -1;
            add_mapping(arr, value, to, proto);
        } else {
            add_mapping(arr, value, to, "tcp");
            add_mapping(arr, value, to, "udp");
        }
    }
    *out = steal_ptr(&arr);
    return 0;
}

/* ---- state files ----------------------------------------------------------------------------- */

static int write_state(const char *path, const cJSON *st, struct tdrv_err *err)
{
    cleanup_free char *text = cJSON_PrintUnformatted(st);

    if (!text)
        tdrv_oom();
    return tdrv_write_file_at(AT_FDCWD, path, text, strlen(text), 0600, err);
}

static int read_state(const char *path, cJSON **st, struct tdrv_err *err)
{
    return tdrv_doc_read_file(path, STATE_MAX, st, err);
}

static const char *sget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The first IPv4 address of a CNI result (without its prefix length). */
static char *result_ip(const cJSON *res)
{
    const cJSON *ips = cJSON_GetObjectItemCaseSensitive(res, "ips");

    for (const cJSON *i = cJSON_IsArray(ips) ? ips->child : NULL; i; i = i->next) {
        const char *a = sget(i, "address");

        if (a && strchr(a, '.') && !strchr(a, ':'))
            return tdrv_xstrndup(a, strcspn(a, "/"));
    }
    return NULL;
}

void tdrv_net_init(struct tdrv_net *n)
{
    memset(n, 0, sizeof(*n));
}

void tdrv_net_release(struct tdrv_net *n)
{
    free(n->netns);
    free(n->ip);
    free(n->state_path);
    cJSON_Delete(n->summary);
    memset(n, 0, sizeof(*n));
}

/* ---- one namespace on one network: the bridge task's, or the allocation's ----------------- */

static const cJSON *lo_conf(void)
{
    static cJSON *lo;

    if (!lo) {
        lo = tdrv_json_xobj();
        tdrv_json_add_str(lo, "cniVersion", TDRV_CNI_VERSION);
        tdrv_json_add_str(lo, "name", "lo");
        tdrv_json_add_str(lo, "type", "loopback");
    }
    return lo;
}

/*
 * Build a namespace's state (written before anything exists), create the namespace, ADD lo and
 * the network. On failure the caller tears down from the state file.
 */
static int ns_up(const char *state_path, cJSON *st, const char *run_dir, const char *ns_name,
                 struct tdrv_err *err)
{
    cleanup_free char *nspath = NULL;
    cJSON *result = NULL;
    struct tdrv_cni_rt rt = {0};

    if (write_state(state_path, st, err) < 0)
        return -1;
    {
        /* a namespace of that name left by a crash before its state was written */
        cleanup_free char *stale = tdrv_xasprintf("%s/netns/%s", run_dir, ns_name);
        struct tdrv_err e = {0};

        if (access(stale, F_OK) == 0 && tdrv_netns_remove(stale, &e) < 0)
            tdrv_warn("%s", e.msg);
    }
    if (tdrv_netns_create(run_dir, ns_name, &nspath, err) < 0)
        return -1;
    rt.container_id = sget(st, "container_id");
    rt.netns = nspath;
    rt.ifname = "lo";
    if (tdrv_cni_exec(lo_conf(), TDRV_CNI_ADD, &rt, NULL, err) < 0)
        return -1;
    rt.ifname = sget(st, "ifname");
    rt.port_mappings = cJSON_GetObjectItemCaseSensitive(st, "port_mappings");
    if (rt.port_mappings && !rt.port_mappings->child)
        rt.port_mappings = NULL;
    if (tdrv_cni_run(cJSON_GetObjectItemCaseSensitive(st, "conflist"), TDRV_CNI_ADD, &rt, NULL,
                     &result, err) < 0)
        return -1;
    tdrv_json_set(st, "result", result);
    tdrv_json_set(st, "phase", tdrv_json_xstr("up"));
    return write_state(state_path, st, err);
}

/* DEL the network of a namespace state, remove the namespace; 0 when all went. */
static int ns_down(const cJSON *st, struct tdrv_err *err)
{
    const char *nspath = sget(st, "netns");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(st, "conflist");
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(st, "port_mappings");
    struct tdrv_cni_rt rt = {
        .container_id = sget(st, "container_id"),
        .netns = nspath && tdrv_netns_exists(nspath) ? nspath : "",
        .ifname = sget(st, "ifname") ? sget(st, "ifname") : "eth0",
        .port_mappings = pm && pm->child ? pm : NULL,
    };
    int rc = 0;

    if (!rt.container_id)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_state", 0,
                             "network state without container_id");
    if (list && tdrv_cni_run(list, TDRV_CNI_DEL, &rt,
                             cJSON_GetObjectItemCaseSensitive(st, "result"), NULL, err) < 0)
        rc = -1;
    if (nspath) {
        struct tdrv_err e = {0};

        if (tdrv_netns_remove(nspath, &e) < 0 && rc == 0) {
            *err = e;
            rc = -1;
        }
    }
    return rc;
}

static cJSON *ns_state(const char *kind, const cJSON *list, const char *cid, const char *run_dir,
                       const char *ns_name, const cJSON *mappings)
{
    cJSON *st = tdrv_json_xobj();
    cleanup_free char *nspath = tdrv_xasprintf("%s/netns/%s", run_dir, ns_name);

    tdrv_json_add_num(st, "version", 1);
    tdrv_json_add_str(st, "mode", kind);
    tdrv_json_add_str(st, "phase", "adding");
    tdrv_json_add_str(st, "network", sget(list, "name"));
    tdrv_json_add(st, "conflist", tdrv_json_xdup(list));
    tdrv_json_add_str(st, "container_id", cid);
    tdrv_json_add_str(st, "netns", nspath);
    tdrv_json_add_str(st, "ifname", "eth0");
    tdrv_json_add(st, "port_mappings", mappings ? tdrv_json_xdup(mappings) : tdrv_json_xarr());
    return st;
}

/* ---- group membership ------------------------------------------------------------------------ */

/* Is the lease in task_dir held by a live supervisor? */
static int member_live(const char *task_dir)
{
    cleanup_free char *lease = tdrv_xasprintf("%s/lease", task_dir);
    cleanup_close int fd = open(lease, O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK;
    return 0;
}

/* DEL a group task's own port mappings. */
static int task_ports_down(const cJSON *st, struct tdrv_err *err)
{
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(st, "portmap");
    const char *nspath = sget(st, "netns");
    struct tdrv_cni_rt rt = {
        .container_id = sget(st, "container_id"),
        .netns = nspath && tdrv_netns_exists(nspath) ? nspath : "",
        .ifname = "eth0",
        .port_mappings = cJSON_GetObjectItemCaseSensitive(st, "port_mappings"),
    };

    if (!pl || !rt.container_id)
        return 0;
    return tdrv_cni_run(pl, TDRV_CNI_DEL, &rt, cJSON_GetObjectItemCaseSensitive(st, "result"), NULL,
                        err);
}

/*
 * With the group lock held: drop `self` (may be NULL) and every member whose supervisor is
 * gone (their port mappings too); when no live member is left, take the allocation's network
 * down.
 */
static int group_leave(const char *gdir, const char *self, struct tdrv_err *err)
{
    cleanup_free char *mdir = tdrv_xasprintf("%s/tasks", gdir);
    cleanup_free char *gstate = tdrv_xasprintf("%s/state.json", gdir);
    DIR *d = opendir(mdir);
    struct dirent *de;
    int live = 0;
    int rc = 0;

    if (self) {
        cleanup_free char *m = tdrv_xasprintf("%s/%s", mdir, self);

        unlink(m);
    }
    while (d && (de = readdir(d))) {
        cleanup_free char *m = NULL;
        cleanup_free char *tdir = NULL;
        size_t len = 0;
        struct tdrv_err e = {0};

        if (de->d_name[0] == '.')
            continue;
        m = tdrv_xasprintf("%s/%s", mdir, de->d_name);
        if (tdrv_read_file_at(AT_FDCWD, m, 4096, &tdir, &len, &e) < 0)
            continue;
        tdir[strcspn(tdir, "\n")] = '\0';
        if (member_live(tdir)) {
            live++;
            continue;
        }
        {
            /* a member whose supervisor died: its port mappings and state go too */
            cleanup_free char *sp = tdrv_xasprintf("%s/%s", tdir, TDRV_NET_STATE);
            cleanup_json cJSON *st = NULL;

            if (read_state(sp, &st, &e) == 0) {
                if (task_ports_down(st, &e) < 0)
                    tdrv_warn("%s", e.msg);
                else
                    unlink(sp);
            }
            unlink(m);
        }
    }
    if (d)
        closedir(d);
    if (live == 0) {
        cleanup_json cJSON *st = NULL;
        struct tdrv_err e = {0};

        if (read_state(gstate, &st, &e) == 0) {
            if (ns_down(st, err) < 0)
                rc = -1;
            else
                unlink(gstate);
        } else if (e.code != TDRV_E_NOINPUT) {
            *err = e;
            rc = -1;
        }
    }
    return rc;
}

static int group_lock(const char *gdir, int *fd, struct tdrv_err *err)
{
    cleanup_free char *p = tdrv_xasprintf("%s/lock", gdir);

    if (tdrv_mkdir_p(AT_FDCWD, gdir, 0755, err) < 0)
        return -1;
    return tdrv_lock_at(AT_FDCWD, p, fd, err);
}

/* ---- setup -------------------------------------------------------------------------------------
 */

static cJSON *summary(const char *mode, const cJSON *st, const char *ip, const char *state_path)
{
    cJSON *s = tdrv_json_xobj();
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(st, "port_mappings");

    tdrv_json_add_str(s, "mode", mode);
    if (sget(st, "network"))
        tdrv_json_add_str(s, "network", sget(st, "network"));
    if (ip)
        tdrv_json_add_str(s, "ip", ip);
    if (sget(st, "netns"))
        tdrv_json_add_str(s, "netns", sget(st, "netns"));
    tdrv_json_add_str(s, "state_file", state_path);
    tdrv_json_add(s, "port_mappings", pm ? tdrv_json_xdup(pm) : tdrv_json_xarr());
    return s;
}

static int setup_bridge(const struct tdrv_net_in *in, const cJSON *list, const cJSON *mappings,
                        struct tdrv_net *net, struct tdrv_err *err)
{
    cleanup_free char *cid = tdrv_xasprintf("%s-%s", in->task, in->alloc_id);
    cleanup_json cJSON *st = ns_state("bridge", list, cid, in->cfg->run_dir, cid, mappings);

    tdrv_json_add_str(st, "task_dir", in->task_dir);
    if (ns_up(net->state_path, st, in->cfg->run_dir, cid, err) < 0)
        return -1;
    net->netns = tdrv_xstrdup(sget(st, "netns"));
    net->ip = result_ip(cJSON_GetObjectItemCaseSensitive(st, "result"));
    net->summary = summary("bridge", st, net->ip, net->state_path);
    return 0;
}

/* The list of the one portmap plugin of a network, for a group task's own ports. */
static cJSON *portmap_list(const cJSON *list)
{
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(list, "plugins");

    for (const cJSON *p = cJSON_IsArray(plugins) ? plugins->child : NULL; p; p = p->next) {
        const char *t = sget(p, "type");

        if (t && !strcmp(t, "portmap")) {
            cJSON *l = tdrv_json_xobj();
            cJSON *arr = tdrv_json_xarr();

            tdrv_json_add_str(l, "cniVersion", sget(list, "cniVersion"));
            tdrv_json_add_str(l, "name", sget(list, "name"));
            tdrv_json_append(arr, tdrv_json_xdup(p));
            tdrv_json_add(l, "plugins", arr);
            return l;
        }
    }
    return NULL;
}

static int setup_group(const struct tdrv_net_in *in, const cJSON *list, const cJSON *mappings,
                       struct tdrv_net *net, struct tdrv_err *err)
{
    cleanup_free char *gdir = tdrv_xasprintf("%s/network", in->alloc_dir);
    cleanup_free char *gstate = tdrv_xasprintf("%s/state.json", gdir);
    cleanup_free char *mdir = tdrv_xasprintf("%s/tasks", gdir);
    cleanup_free char *member = tdrv_xasprintf("%s/%s", mdir, in->task);
    cleanup_free char *cid = tdrv_xasprintf("%s-%s", in->task, in->alloc_id);
    cleanup_close int lk = -1;
    cleanup_json cJSON *gst = NULL;
    cleanup_json cJSON *st = tdrv_json_xobj();
    cleanup_json cJSON *pl = NULL;
    struct tdrv_err e = {0};

    if (group_lock(gdir, &lk, err) < 0 || tdrv_mkdir_p(AT_FDCWD, mdir, 0755, err) < 0 ||
        tdrv_write_file_at(AT_FDCWD, member, in->task_dir, strlen(in->task_dir), 0644, err) < 0)
        return -1;
    if (read_state(gstate, &gst, &e) == 0) {
        const char *p = sget(gst, "netns");
        const char *ph = sget(gst, "phase");

        if (!p || !tdrv_netns_exists(p) || !ph || strcmp(ph, "up")) {
            /* left by a crash: take it down and start again */
            if (ns_down(gst, &e) < 0)
                tdrv_warn("%s", e.msg);
            unlink(gstate);
            cJSON_Delete(gst);
            gst = NULL;
        }
    }
    if (!gst) {
        gst = ns_state("group", list, in->alloc_id, in->cfg->run_dir, in->alloc_id, NULL);
        if (ns_up(gstate, gst, in->cfg->run_dir, in->alloc_id, err) < 0) {
            struct tdrv_err e2 = {0};

            if (ns_down(gst, &e2) == 0)
                unlink(gstate);
            unlink(member);
            return -1;
        }
    }
    /* this task's own state: its port mappings on the allocation's namespace */
    tdrv_json_add_num(st, "version", 1);
    tdrv_json_add_str(st, "mode", "group");
    tdrv_json_add_str(st, "network", sget(gst, "network"));
    tdrv_json_add_str(st, "group_dir", gdir);
    tdrv_json_add_str(st, "task", in->task);
    tdrv_json_add_str(st, "task_dir", in->task_dir);
    tdrv_json_add_str(st, "container_id", cid);
    tdrv_json_add_str(st, "netns", sget(gst, "netns"));
    tdrv_json_add(st, "port_mappings", tdrv_json_xdup(mappings));
    tdrv_json_add(st, "result", tdrv_json_xdup(cJSON_GetObjectItemCaseSensitive(gst, "result")));
    pl = mappings->child ? portmap_list(list) : NULL;
    if (pl)
        tdrv_json_add(st, "portmap", tdrv_json_xdup(pl));
    if (write_state(net->state_path, st, err) < 0)
        return -1;
    if (pl) {
        struct tdrv_cni_rt rt = {.container_id = cid,
                                 .netns = sget(gst, "netns"),
                                 .ifname = "eth0",
                                 .port_mappings = mappings};
        cJSON *r = NULL;

        if (tdrv_cni_run(pl, TDRV_CNI_ADD, &rt, cJSON_GetObjectItemCaseSensitive(gst, "result"), &r,
                         err) < 0)
            return -1;
        cJSON_Delete(r);
    }
    net->netns = tdrv_xstrdup(sget(gst, "netns"));
    net->ip = result_ip(cJSON_GetObjectItemCaseSensitive(gst, "result"));
    net->summary = summary("group", st, net->ip, net->state_path);
    return 0;
}

static int has_port_plugin(const cJSON *list)
{
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(list, "plugins");

    for (const cJSON *p = cJSON_IsArray(plugins) ? plugins->child : NULL; p; p = p->next)
        if (cJSON_IsTrue(tdrv_json_at(p, "capabilities.portMappings")))
            return 1;
    return 0;
}

int tdrv_net_setup(const struct tdrv_net_in *in, struct tdrv_net *net, struct tdrv_err *err)
{
    struct tdrv_net_req req;
    cleanup_json cJSON *list = NULL;
    cleanup_json cJSON *mappings = NULL;
    int rc;

    tdrv_net_release(net);
    if (tdrv_net_mode(in->doc, &req, err) < 0)
        return -1;
    net->mode = req.mode;
    if (req.mode == TDRV_NET_HOST || req.mode == TDRV_NET_NONE) {
        net->summary = tdrv_json_xobj();
        tdrv_json_add_str(net->summary, "mode", tdrv_net_mode_name(req.mode));
        return 0;
    }
    net->state_path = tdrv_xasprintf("%s/%s", in->task_dir, TDRV_NET_STATE);
    {
        /* what a previous run of this task left (a crash): undo it first */
        struct tdrv_err e = {0};

        if (access(net->state_path, F_OK) == 0 && tdrv_net_teardown(net->state_path, &e) < 0)
            tdrv_warn("%s", e.msg);
    }
    if (tdrv_cni_load(in->cfg, req.network, &list, err) < 0 ||
        tdrv_net_port_mappings(in->doc, &mappings, err) < 0)
        return -1;
    if (mappings->child && !has_port_plugin(list))
        tdrv_warn("network '%s' has no plugin with the portMappings capability: the task's "
                  "ports are not forwarded",
                  sget(list, "name"));
    if (req.mode == TDRV_NET_BRIDGE)
        rc = setup_bridge(in, list, mappings, net, err);
    else
        rc = setup_group(in, list, mappings, net, err);
    if (rc < 0) {
        struct tdrv_err e = {0};

        if (tdrv_net_teardown(net->state_path, &e) < 0)
            tdrv_warn("%s", e.msg);
        return -1;
    }
    tdrv_info("network: %s on '%s', %s", tdrv_net_mode_name(req.mode), sget(list, "name"),
              net->ip ? net->ip : "no IPv4 address");
    return 0;
}

int tdrv_net_load(const char *state_path, struct tdrv_net *net, struct tdrv_err *err)
{
    cleanup_json cJSON *st = NULL;
    const char *mode;

    if (read_state(state_path, &st, err) < 0)
        return tdrv_err_wrap(err, "network state");
    mode = sget(st, "mode");
    tdrv_net_release(net);
    net->mode = mode && !strcmp(mode, "group") ? TDRV_NET_GROUP : TDRV_NET_BRIDGE;
    net->state_path = tdrv_xstrdup(state_path);
    if (sget(st, "netns"))
        net->netns = tdrv_xstrdup(sget(st, "netns"));
    net->ip = result_ip(cJSON_GetObjectItemCaseSensitive(st, "result"));
    net->summary = summary(tdrv_net_mode_name(net->mode), st, net->ip, state_path);
    return 0;
}

int tdrv_net_setup_start(const struct tdrv_net_in *in, struct tdrv_net_job *job,
                         struct tdrv_err *err)
{
    struct tdrv_net_req req;
    int p[2];
    pid_t pid;

    memset(job, 0, sizeof(*job));
    job->pid = -1;
    job->fd = -1;
    if (tdrv_net_mode(in->doc, &req, err) < 0)
        return -1;
    job->mode = req.mode;
    if (req.mode == TDRV_NET_HOST || req.mode == TDRV_NET_NONE)
        return 0;
    job->state_path = tdrv_xasprintf("%s/%s", in->task_dir, TDRV_NET_STATE);
    if (pipe2(p, O_CLOEXEC) < 0)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to create a pipe");
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int e = errno;

        close(p[0]);
        close(p[1]);
        return tdrv_err_set(err, TDRV_E_OS, e, "unable to fork");
    }
    if (pid == 0) {
        struct tdrv_err e = {0};
        struct tdrv_net n;

        close(p[0]);
        tdrv_net_init(&n);
        tdrv_net_setup(in, &n, &e);
        tdrv_net_release(&n);
        tdrv_write_all(p[1], &e, sizeof(e));
        _exit(0);
    }
    close(p[1]);
    job->pid = pid;
    job->fd = p[0];
    return 0;
}

int tdrv_net_setup_finish(struct tdrv_net_job *job, struct tdrv_net *net, struct tdrv_err *err)
{
    struct tdrv_err e = {0};
    ssize_t n = 0;
    int st;
    int rc = 0;

    tdrv_net_release(net);
    net->mode = job->mode;
    if (job->pid < 0) {
        net->summary = tdrv_json_xobj();
        tdrv_json_add_str(net->summary, "mode", tdrv_net_mode_name(job->mode));
        return 0;
    }
    do
        n = read(job->fd, &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(job->fd);
    while (waitpid(job->pid, &st, 0) < 0 && errno == EINTR)
        ;
    job->pid = -1;
    job->fd = -1;
    if (n != (ssize_t)sizeof(e))
        rc = tdrv_err_setw(err, TDRV_E_SOFTWARE, "internal", 0,
                           "the network setup process ended without a report");
    else if (e.code) {
        *err = e;
        rc = -1;
    } else {
        rc = tdrv_net_load(job->state_path, net, err);
    }
    free(job->state_path);
    job->state_path = NULL;
    return rc;
}

/* ---- config.json ------------------------------------------------------------------------------
 */

static void env_put(cJSON *env, const char *key, const char *val)
{
    size_t kl = strlen(key);
    char *kv = tdrv_xasprintf("%s=%s", key, val);

    for (cJSON *e = env->child; e; e = e->next)
        if (cJSON_IsString(e) && !strncmp(e->valuestring, key, kl) && e->valuestring[kl] == '=') {
            cJSON_ReplaceItemViaPointer(env, e, tdrv_json_xstr(kv));
            free(kv);
            return;
        }
    tdrv_json_append(env, tdrv_json_xstr(kv));
    free(kv);
}

int tdrv_net_apply_spec(const struct tdrv_net *net, const cJSON *doc, cJSON *spec,
                        struct tdrv_err *err)
{
    cJSON *nss = (cJSON *)tdrv_json_at(spec, "linux.namespaces");
    cJSON *env = (cJSON *)tdrv_json_at(spec, "process.env");
    const cJSON *ports = tdrv_json_at(doc, "ports");
    int found = 0;

    if (!net->netns)
        return 0;
    for (cJSON *n = cJSON_IsArray(nss) ? nss->child : NULL; n; n = n->next) {
        const char *t = sget(n, "type");

        if (t && !strcmp(t, "network")) {
            tdrv_json_set(n, "path", tdrv_json_xstr(net->netns));
            found = 1;
        }
    }
    if (!found)
        return tdrv_err_setw(err, TDRV_E_SOFTWARE, "internal", 0,
                             "config.json has no network namespace to join");
    if (!net->ip || !cJSON_IsArray(env))
        return 0;
    for (const cJSON *p = cJSON_IsArray(ports) ? ports->child : NULL; p; p = p->next) {
        const char *label = sget(p, "label");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(p, "to");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(p, "value");
        int port;
        char k[300];
        char v[300];

        if (!label || !cJSON_IsNumber(value))
            continue;
        port = cJSON_IsNumber(to) && to->valueint > 0 ? to->valueint : value->valueint;
        snprintf(k, sizeof(k), "NOMAD_IP_%s", label);
        for (char *q = k; *q; q++)
            if (!isalnum((unsigned char)*q) && *q != '_')
                *q = '_';
        env_put(env, k, net->ip);
        snprintf(k, sizeof(k), "NOMAD_ADDR_%s", label);
        for (char *q = k; *q; q++)
            if (!isalnum((unsigned char)*q) && *q != '_')
                *q = '_';
        snprintf(v, sizeof(v), "%s:%d", net->ip, port);
        env_put(env, k, v);
    }
    return 0;
}

void tdrv_net_apply_hosts(const struct tdrv_net *net, const char *hosts_path, const char *hostname,
                          cJSON *files)
{
    cJSON *f = files ? cJSON_GetObjectItemCaseSensitive(files, hosts_path) : NULL;
    cleanup_free char *line = NULL;
    const char *at;

    if (!net->ip || !hostname || !cJSON_IsString(f))
        return;
    line = tdrv_xasprintf("127.0.1.1\t%s\n", hostname);
    at = strstr(f->valuestring, line);
    if (!at || (at != f->valuestring && at[-1] != '\n'))
        return;
    {
        cleanup_free char *text =
            tdrv_xasprintf("%.*s%s\t%s\n%s", (int)(at - f->valuestring), f->valuestring, net->ip,
                           hostname, at + strlen(line));

        tdrv_json_set(files, hosts_path, tdrv_json_xstr(text));
    }
}

/* ---- teardown -----------------------------------------------------------------------------------
 */

int tdrv_net_teardown(const char *state_path, struct tdrv_err *err)
{
    cleanup_json cJSON *st = NULL;
    struct tdrv_err e = {0};
    const char *mode;

    if (read_state(state_path, &st, &e) < 0) {
        if (e.code == TDRV_E_NOINPUT)
            return 0;
        *err = e;
        return tdrv_err_wrap(err, "network state");
    }
    mode = sget(st, "mode");
    if (mode && !strcmp(mode, "group")) {
        const char *gdir = sget(st, "group_dir");
        const char *task = sget(st, "task");
        cleanup_close int lk = -1;
        int rc = 0;

        if (task_ports_down(st, err) < 0)
            return -1;
        unlink(state_path);
        if (!gdir)
            return 0;
        if (group_lock(gdir, &lk, err) < 0)
            return -1;
        rc = group_leave(gdir, task, err);
        return rc;
    }
    if (ns_down(st, err) < 0)
        return -1;
    if (unlink(state_path) < 0 && errno != ENOENT)
        return tdrv_err_set(err, TDRV_E_OS, errno, "unable to remove '%s'", state_path);
    return 0;
}
