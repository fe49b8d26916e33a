/* Path cleaning and in-root resolution used by the layer unpacker. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fs.h"
#include "mem.h"
#include "tap.h"
#include "unpack.h"

void test_unpack(void);

static const struct {
    const char *in;
    const char *want;
} clean_cases[] = {
    {"", ""},
    {"/", ""},
    {".", ""},
    {"./", ""},
    {"..", ""},
    {"../file", "file"},
    {"/../file", "file"},
    {"/etc/passwd", "etc/passwd"},
    {"a//b/./c/", "a/b/c"},
    {"a/b/../c", "a/c"},
    {"a/../../../../b", "b"},
    {"dne/../.wh.etc", ".wh.etc"},
    {"localetc/sub/..", "localetc"},
    {"./usr/bin/", "usr/bin"},
    {"...", "..."},
    {".wh..wh..opq", ".wh..wh..opq"},
};

static char *target_of(int root_fd, const char *dir, int create)
{
    struct tdrv_err err = {0};
    cleanup_close int fd = tdrv_open_in_root(root_fd, dir, create, &err);
    char p[64];
    char buf[4096];
    ssize_t n;

    if (fd < 0)
        return tdrv_xasprintf("error %d", err.sys_errno);
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    n = readlink(p, buf, sizeof(buf) - 1);
    if (n < 0)
        return tdrv_xstrdup("readlink failed");
    buf[n] = '\0';
    return tdrv_xstrdup(buf);
}

void test_unpack(void)
{
    char tmpl[] = "/tmp/tdrv-unit-XXXXXX";
    char *top = mkdtemp(tmpl);
    cleanup_free char *root = NULL;
    cleanup_close int root_fd = -1;
    struct tdrv_err err = {0};
    int alg = 0;
    const char *hex = NULL;
    char dg[TDRV_DIGEST_MAX];

    for (size_t i = 0; i < TDRV_ARRAY_LEN(clean_cases); i++) {
        cleanup_free char *got = tdrv_path_clean(clean_cases[i].in);

        CHECK_STR(got, clean_cases[i].want, "path_clean '%s'", clean_cases[i].in);
    }

    ok(top != NULL, "scratch dir");
    if (!top)
        return;
    root = tdrv_xasprintf("%s/root", top);
    mkdir(root, 0755);
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mkdirat(root_fd, "etc", 0755);
    symlinkat("/", root_fd, "toroot");
    symlinkat("../../../..", root_fd, "up");
    symlinkat("/etc", root_fd, "localetc");
    symlinkat("/dne/sub", root_fd, "dangling");
    symlinkat("loop2", root_fd, "loop1");
    symlinkat("loop1", root_fd, "loop2");
    close(openat(root_fd, "file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));

    {
        cleanup_free char *want_root = tdrv_xstrdup(root);
        cleanup_free char *want_etc = tdrv_xasprintf("%s/etc", root);
        cleanup_free char *want_dne = tdrv_xasprintf("%s/dne/sub", root);
        cleanup_free char *want_file = tdrv_xasprintf("%s/file", root);
        cleanup_free char *g1 = target_of(root_fd, "toroot", 0);
        cleanup_free char *g2 = target_of(root_fd, "up", 0);
        cleanup_free char *g3 = target_of(root_fd, "localetc", 0);
        cleanup_free char *g4 = target_of(root_fd, "dangling", 0);
        cleanup_free char *g5 = target_of(root_fd, "dangling", 1);
        cleanup_free char *g6 = target_of(root_fd, "loop1", 1);
        cleanup_free char *g7 = target_of(root_fd, "file", 1);
        struct stat st;

        CHECK_STR(g1, want_root, "symlink to / stays in the root");
        CHECK_STR(g2, want_root, "symlink climbing out is clamped at the root");
        CHECK_STR(g3, want_etc, "absolute symlink resolves inside the root");
        CHECK_STR(g4, "error 2", "dangling symlink without create is ENOENT");
        CHECK_STR(g5, want_dne, "dangling symlink with create makes its target in the root");
        CHECK_STR(g6, "error 40", "symlink loop is ELOOP");
        CHECK_STR(g7, want_file, "a file in the way is replaced by a directory");
        ok(fstatat(root_fd, "file", &st, 0) == 0 && S_ISDIR(st.st_mode), "file is a directory");
    }

    ok(tdrv_digest_parse("sha256:"
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                         &alg, &hex, &err) == 0 &&
           alg == TDRV_SHA256,
       "digest_parse sha256");
    ok(tdrv_digest_parse("sha256:abc", &alg, &hex, &err) < 0 && err.code == 65,
       "digest_parse short is 65");
    tdrv_err_clear(&err);
    ok(tdrv_digest_parse("md5:d41d8cd98f00b204e9800998ecf8427e", &alg, &hex, &err) < 0,
       "digest_parse md5 unsupported");
    tdrv_err_clear(&err);
    ok(tdrv_digest_parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                         &alg, &hex, &err) < 0,
       "digest_parse uppercase refused");
    tdrv_err_clear(&err);
    tdrv_digest_buf(TDRV_SHA256, "", 0, dg);
    CHECK_STR(dg, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
              "sha256 of nothing");

    {
        int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ok(tdrv_rm_rf_at(dfd, "root", &err) == 0, "rm -rf the scratch root");
        close(dfd);
        rmdir(top);
    }
}
