/* tdrv_openat_walk, the user-space openat2 for kernels without it, checked against the kernel's
 * openat2 on a tree of escaping symlinks: the same object (device and inode) or the same errno,
 * in the root's and the beneath mode. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "mem.h"
#include "tap.h"

void test_openat(void);

struct res {
    int err;
    dev_t dev;
    ino_t ino;
};

static struct res describe(int fd)
{
    struct res r = {0};
    struct stat st;

    if (fd < 0) {
        r.err = errno;
        return r;
    }
    if (fstat(fd, &st) == 0) {
        r.dev = st.st_dev;
        r.ino = st.st_ino;
    }
    close(fd);
    return r;
}

static struct res kernel(int root, const char *path, int flags, int beneath)
{
    struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                           .resolve = (beneath ? RESOLVE_BENEATH : RESOLVE_IN_ROOT) |
                                      RESOLVE_NO_MAGICLINKS};

    return describe((int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how)));
}

static void mk(const char *dir, const char *name, const char *link)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (link)
        ok(symlink(link, p) == 0, "symlink %s -> %s", name, link);
    else if (name[strlen(name) - 1] == '/')
        ok(mkdir(p, 0755) == 0, "mkdir %s", name);
    else
        ok(close(open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) == 0, "create %s", name);
}

void test_openat(void)
{
    char tmpl[] = "/tmp/tdrv-openat.XXXXXX";
    char *top = mkdtemp(tmpl);
    char root[300];
    static const char *const tree[][2] = {
        {"root/", NULL},
        {"outside", NULL},
        {"root/etc/", NULL},
        {"root/etc/passwd", NULL},
        {"root/a/", NULL},
        {"root/a/b/", NULL},
        {"root/a/b/file", NULL},
        {"root/abs", "/etc"},               /* absolute: the root's /etc, not the host's */
        {"root/up", "../../../../outside"}, /* climbs past the root */
        {"root/a/rel", "b/file"},
        {"root/a/b/back", "../../etc/passwd"},
        {"root/loop1", "loop2"},
        {"root/loop2", "loop1"},
        {"root/dangling", "nowhere/at/all"},
        {"root/proc", "/proc/self/root"}, /* a magic link's path, read as a plain path */
        {"root/dotdot", ".."},
        {"root/chain", "a/b/back"},
        {"root/filedir", "etc/passwd/x"},
    };
    static const char *const paths[] = {
        "",
        ".",
        "..",
        "/",
        "etc",
        "etc/passwd",
        "/etc/passwd",
        "../../etc/passwd",
        "abs",
        "abs/passwd",
        "up",
        "up/../etc",
        "a/rel",
        "a/b/back",
        "a/b/../../../etc",
        "chain",
        "loop1",
        "dangling",
        "proc",
        "proc/etc",
        "dotdot",
        "dotdot/etc/passwd",
        "filedir",
        "etc/passwd/x",
        "missing/x",
        "a/b/file/",
        "a/rel/",
        "abs/",
        "dotdot/",
        "a//b/./file",
    };
    static const int flags[] = {O_RDONLY, O_PATH, O_PATH | O_DIRECTORY, O_PATH | O_NOFOLLOW};
    int rfd;
    int same = 0;
    int total = 0;

    if (!ok(top != NULL, "a temporary directory"))
        return;
    for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
        mk(top, tree[i][0], tree[i][1]);
    snprintf(root, sizeof(root), "%s/root", top);
    rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ok(rfd >= 0, "open the root");
    if (kernel(rfd, "", O_PATH, 0).err == ENOSYS) {
        ok(1, "# SKIP the kernel has no openat2 to compare with");
        close(rfd);
        return;
    }
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
            for (int beneath = 0; beneath < 2; beneath++) {
                struct res k = kernel(rfd, paths[p], flags[f], beneath);
                struct res w = describe(tdrv_openat_walk(rfd, paths[p], flags[f], beneath));

                total++;
                if (k.err == w.err && k.dev == w.dev && k.ino == w.ino)
                    same++;
                else
                    printf("# '%s' flags %#x %s: kernel errno %d ino %lu, walk errno %d ino %lu\n",
                           paths[p], (unsigned)flags[f], beneath ? "beneath" : "in root", k.err,
                           (unsigned long)k.ino, w.err, (unsigned long)w.ino);
            }
    CHECK_INT(same, total, "the walk opens what openat2 opens, or fails as it does (%d cases)",
              total);
    /* nothing outside the root is ever reached */
    {
        struct stat out;
        char op[320];
        struct res r;

        snprintf(op, sizeof(op), "%s/outside", top);
        stat(op, &out);
        r = describe(tdrv_openat_walk(rfd, "up", O_RDONLY, 0));
        ok(r.ino != out.st_ino, "a symlink climbing out stays in the root");
        r = describe(tdrv_openat_walk(rfd, "up", O_RDONLY, 1));
        CHECK_INT(r.err, EXDEV, "beneath: a symlink climbing out is EXDEV");
    }
    close(rfd);
    {
        struct tdrv_err e = {0};
        int d = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);

        tdrv_rm_rf_at(d, strrchr(top, '/') + 1, &e);
        close(d);
    }
}
