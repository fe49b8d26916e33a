/* Image references, normalized as the Docker CLI does (distribution/reference). */
#include <string.h>

#include "ref.h"
#include "mem.h"
#include "tap.h"

void test_ref(void);

#define H64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H128 H64 H64

static const struct {
    const char *in;
    const char *name; /* NULL: invalid */
    const char *tag;
    const char *digest;
    const char *msg; /* for invalid ones: the exact message */
} cases[] = {
    {"redis", "docker.io/library/redis", "latest", NULL, NULL},
    {"redis:7", "docker.io/library/redis", "7", NULL, NULL},
    {"library/redis", "docker.io/library/redis", "latest", NULL, NULL},
    {"docker.io/redis", "docker.io/library/redis", "latest", NULL, NULL},
    {"index.docker.io/redis", "docker.io/library/redis", "latest", NULL, NULL},
    {"index.docker.io/foo/bar", "docker.io/foo/bar", "latest", NULL, NULL},
    {"docker.io/library/redis:7.2-alpine", "docker.io/library/redis", "7.2-alpine", NULL, NULL},
    {"foo/bar", "docker.io/foo/bar", "latest", NULL, NULL},
    {"foo/bar/baz", "docker.io/foo/bar/baz", "latest", NULL, NULL},
    {"localhost/foo", "localhost/foo", "latest", NULL, NULL},
    {"localhost:5000/foo", "localhost:5000/foo", "latest", NULL, NULL},
    {"127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b", "v1", NULL, NULL},
    {"quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd", "v3.5.0", NULL, NULL},
    {"[2001:db8::1]:5000/foo", "[2001:db8::1]:5000/foo", "latest", NULL, NULL},
    {"[2001:db8::1]/foo", "[2001:db8::1]/foo", "latest", NULL, NULL},
    {"test.com:5000", "docker.io/library/test.com", "5000", NULL, NULL},
    {"Docker/docker", "Docker/docker", "latest", NULL, NULL},
    {"a.b-c.d/e__f/g-h/i--j/k.l", "a.b-c.d/e__f/g-h/i--j/k.l", "latest", NULL, NULL},
    {"redis@sha256:" H64, "docker.io/library/redis", NULL, "sha256:" H64, NULL},
    {"redis:7@sha256:" H64, "docker.io/library/redis", "7", "sha256:" H64, NULL},
    {"redis@sha512:" H128, "docker.io/library/redis", NULL, "sha512:" H128, NULL},
    {"localhost:8080@sha256:" H64, "docker.io/library/localhost", "8080", "sha256:" H64, NULL},
    {"sha256:" H64, "docker.io/library/sha256", H64, NULL, NULL},
    {"docker://redis:7", "docker.io/library/redis", "7", NULL, NULL},
    {"https://quay.io/a/b", "quay.io/a/b", "latest", NULL, NULL},
    {"a:_tag", "docker.io/library/a", "_tag", NULL, NULL},
    /* invalid */
    {"", NULL, NULL, NULL,
     "invalid reference format: repository name must have at least one component"},
    {H64, NULL, NULL, NULL,
     "invalid repository name '" H64 "': cannot specify 64-byte hexadecimal strings"},
    {"docker/Docker", NULL, NULL, NULL,
     "invalid reference format 'docker/Docker': repository name (docker/Docker) must be "
     "lowercase"},
    {"Redis", NULL, NULL, NULL,
     "invalid reference format 'Redis': repository name (Redis) must be lowercase"},
    {"[2001:db8::1]", NULL, NULL, NULL,
     "invalid reference format '[2001:db8::1]': invalid repository name"},
    {"foo:", NULL, NULL, NULL, "invalid reference format 'foo:': invalid tag"},
    {"foo:-bar", NULL, NULL, NULL, "invalid reference format 'foo:-bar': invalid tag"},
    {"foo:a/b", NULL, NULL, NULL, "invalid reference format 'foo:a/b': invalid domain"},
    {"foo_bar.com:8080/a", NULL, NULL, NULL,
     "invalid reference format 'foo_bar.com:8080/a': invalid domain"},
    {"-foo", NULL, NULL, NULL, "invalid reference format '-foo': invalid repository name"},
    {"foo-", NULL, NULL, NULL, "invalid reference format 'foo-': invalid repository name"},
    {"foo..bar", NULL, NULL, NULL, "invalid reference format 'foo..bar': invalid repository name"},
    {"foo___bar", NULL, NULL, NULL,
     "invalid reference format 'foo___bar': invalid repository name"},
    {"foo//bar", NULL, NULL, NULL, "invalid reference format 'foo//bar': empty path component"},
    {"foo/", NULL, NULL, NULL, "invalid reference format 'foo/': empty path component"},
    {"-host.com/foo", NULL, NULL, NULL, "invalid reference format '-host.com/foo': invalid domain"},
    {"host.com:/foo", NULL, NULL, NULL, "invalid reference format 'host.com:/foo': invalid domain"},
    {"host.com:50a/foo", NULL, NULL, NULL,
     "invalid reference format 'host.com:50a/foo': invalid domain"},
    {"foo bar", NULL, NULL, NULL, "invalid reference format 'foo bar': unexpected character"},
    {"redis@sha256:abc", NULL, NULL, NULL,
     "invalid reference format 'redis@sha256:abc': invalid digest: too short"},
    {"redis@sha256:" H64 "aa", NULL, NULL, NULL,
     "invalid reference format 'redis@sha256:" H64 "aa': invalid digest length"},
    {"redis@sha256:"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     NULL, NULL, NULL,
     "invalid reference format "
     "'redis@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'"
     ": invalid digest: upper-case hexadecimal"},
    {"redis@md5:" H64, NULL, NULL, NULL,
     "invalid reference format 'redis@md5:" H64 "': unsupported digest algorithm 'md5'"},
    {"redis@sha256:" H64 "@x", NULL, NULL, NULL,
     "invalid reference format 'redis@sha256:" H64 "@x': invalid digest"},
    {"redis@", NULL, NULL, NULL, "invalid reference format 'redis@': invalid digest"},
};

void test_ref(void)
{
    char longname[300];
    char longtag[140];

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        struct tdrv_ref r = {0};
        struct tdrv_err err = {0};
        int rc = tdrv_ref_parse_image(cases[i].in, &r, &err);

        if (cases[i].name) {
            ok(rc == 0, "ref '%s' parses (%s)", cases[i].in, err.msg);
            CHECK_STR(r.name, cases[i].name, "ref '%s' name", cases[i].in);
            CHECK_STR(r.tag, cases[i].tag ? cases[i].tag : (cases[i].digest ? NULL : "latest"),
                      "ref '%s' tag", cases[i].in);
            CHECK_STR(r.digest, cases[i].digest, "ref '%s' digest", cases[i].in);
        } else {
            CHECK_INT(rc, -1, "ref '%s' refused", cases[i].in);
            CHECK_INT(err.code, 65, "ref '%s' exit 65", cases[i].in);
            CHECK_STR(err.word, "invalid_reference", "ref '%s' code", cases[i].in);
            CHECK_STR(err.msg, cases[i].msg, "ref '%s' message", cases[i].in);
        }
        tdrv_ref_release(&r);
    }

    /* path length: 255 ok, 256 refused */
    for (int n = 255; n <= 256; n++) {
        struct tdrv_ref r = {0};
        struct tdrv_err err = {0};

        memcpy(longname, "library/", 8);
        memset(longname + 8, 'a', (size_t)n - 8);
        longname[n] = '\0';
        CHECK_INT(tdrv_ref_parse(longname, &r, &err), n == 255 ? 0 : -1, "path of %d chars", n);
        tdrv_ref_release(&r);
    }
    /* tag length: 128 ok, 129 refused */
    for (int n = 128; n <= 129; n++) {
        struct tdrv_ref r = {0};
        struct tdrv_err err = {0};
        cleanup_free char *s = NULL;

        memset(longtag, 't', (size_t)n);
        longtag[n] = '\0';
        s = tdrv_xasprintf("redis:%s", longtag);
        CHECK_INT(tdrv_ref_parse(s, &r, &err), n == 128 ? 0 : -1, "tag of %d chars", n);
        tdrv_ref_release(&r);
    }
    {
        struct tdrv_ref r = {0};
        struct tdrv_err err = {0};
        cleanup_free char *s = NULL;

        tdrv_ref_parse("quay.io/a/b:1@sha256:" H64, &r, &err);
        s = tdrv_ref_string(&r);
        CHECK_STR(s, "quay.io/a/b:1@sha256:" H64, "ref string keeps tag and digest");
        tdrv_ref_release(&r);
    }
}
