/* WWW-Authenticate parsing, base64, and config.json credential lookup (malformed input included).
 */
#include <string.h>

#include "auth.h"
#include "json.h"
#include "mem.h"
#include "pull_docker.h"
#include "tap.h"

void test_auth(void);

static const struct {
    const char *hdr;
    int code; /* 0 ok */
    const char *scheme;
    const char *realm; /* or the error message */
    const char *service;
    const char *scope;
    const char *error;
} chal_cases[] = {
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
     "scope=\"repository:samalba/my-app:pull,push\"",
     0, "bearer", "https://auth.docker.io/token", "registry.docker.io",
     "repository:samalba/my-app:pull,push", ""},
    {"bearer  realm = \"https://a/t\" , service=svc", 0, "bearer", "https://a/t", "svc", "", ""},
    {"Bearer realm=\"https://a/t\",error=\"insufficient_scope\",scope=\"repository:x:pull\"", 0,
     "bearer", "https://a/t", "", "repository:x:pull", "insufficient_scope"},
    {"Basic realm=\"Registry Realm\"", 0, "basic", "Registry Realm", "", "", ""},
    {"Basic realm=\"r1\", Bearer realm=\"https://b/t\",service=\"s\"", 0, "bearer", "https://b/t",
     "s", "", ""},
    {"Bearer realm=\"https://a/t\", Basic realm=\"r\"", 0, "bearer", "https://a/t", "", "", ""},
    {"Negotiate, Basic realm=\"x\"", 0, "basic", "x", "", "", ""},
    {"Bearer realm=\"https://a/\\\"q\\\"\"", 0, "bearer", "https://a/\"q\"", "", "", ""},
    {"Bearer realm=\"https://a/t", 76, NULL,
     "malformed WWW-Authenticate header: unterminated string", NULL, NULL, NULL},
    {"Bearer service=\"s\"", 76, NULL,
     "malformed WWW-Authenticate header: Bearer challenge without realm", NULL, NULL, NULL},
    {"realm=\"x\"", 76, NULL, "malformed WWW-Authenticate header: parameter before a scheme", NULL,
     NULL, NULL},
    {"Negotiate abc", 76, NULL, "unsupported WWW-Authenticate challenge 'Negotiate abc'", NULL,
     NULL, NULL},
    {"", 76, NULL, "unsupported WWW-Authenticate challenge ''", NULL, NULL, NULL},
    {"Bearer realm=\"x\" junk", 76, NULL, "malformed WWW-Authenticate header: expected ','", NULL,
     NULL, NULL},
    {"Bearer realm=@", 76, NULL, "malformed WWW-Authenticate header: expected ','", NULL, NULL,
     NULL},
    /* Found by fuzz_challenge: a Bearer challenge followed by another was returned without
     * the realm check the last one gets. */
    {"Bearer service=\"s\", Basic realm=\"r\"", 76, NULL,
     "malformed WWW-Authenticate header: Bearer challenge without realm", NULL, NULL, NULL},
    {"Bearer s\x9b\x8d", 76, NULL,
     "malformed WWW-Authenticate header: Bearer challenge without realm", NULL, NULL, NULL},
    {"Bearer realm=\"https://a/t\", Negotiate", 0, "bearer", "https://a/t", "", "", ""},
};

static const struct {
    const char *answer;
    int rc;           /* 1 credentials, 0 none, -1 refused */
    const char *user; /* or the error message */
    const char *pass;
    const char *token;
} helper_cases[] = {
    {"{\"ServerURL\":\"https://index.docker.io/v1/\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}",
     1, "alice", "s3cret", NULL},
    {"{\"Username\":\"<token>\",\"Secret\":\"refresh\"}", 1, NULL, NULL, "refresh"},
    {"{\"Username\":\"\",\"Secret\":\"\"}", 0, NULL, NULL, NULL},
    {"{}", 0, NULL, NULL, NULL},
    {"{\"Username\":5}", -1,
     "credential helper 'docker-credential-x': Username and Secret must be strings", NULL, NULL},
    {"[]", -1, "credential helper 'docker-credential-x' wrote malformed JSON", NULL, NULL},
    {"credentials not found", -1, "credential helper 'docker-credential-x' wrote malformed JSON",
     NULL, NULL},
};

static const struct {
    const char *in;
    const char *out; /* decoded, or the error */
    int code;
} b64_cases[] = {
    {"YWxpY2U6c2VjcmV0", "alice:secret", 0},
    {"YQ==", "a", 0},
    {"YQ", "a", 0},
    {"YWI=", "ab", 0},
    {"", "", 0},
    {"Y", "invalid base64: truncated", 65},
    {"YQ===", "invalid base64: too much padding", 65},
    {"Y*==", "invalid base64: bad character at 1", 65},
};

static const struct {
    const char *cfg;
    const char *host;
    int rc;           /* 1 found, 0 none, -1 error */
    const char *user; /* or the error message */
    const char *pass;
} cfg_cases[] = {
    {"{\"auths\":{\"reg.example:5000\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}", "reg.example:5000", 1,
     "alice", "s3cret"},
    {"{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}", "docker.io",
     1, "alice", "s3cret"},
    {"{\"auths\":{\"https://other.io/v1/\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}", "other.io", 1,
     "alice", "s3cret"},
    {"{\"auths\":{\"quay.io\":{\"username\":\"bob\",\"password\":\"pw\"}}}", "quay.io", 1, "bob",
     "pw"},
    {"{\"auths\":{\"quay.io\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}", "lolwhat.com", 0, NULL, NULL},
    {"{\"auths\":{\"quay.io\":{}}}", "quay.io", 0, NULL, NULL},
    {"{}", "quay.io", 0, NULL, NULL},
    {"{\"auths\":{\"a.io\":{\"auth\":\"bm9jb2xvbg==\"}}}", "a.io", -1,
     "auths.a.io.auth: expected base64 of 'username:password'", NULL},
    {"{\"auths\":{\"a.io\":{\"auth\":\"OnB3\"}}}", "a.io", -1,
     "auths.a.io.auth: expected base64 of 'username:password'", NULL},
    {"{\"auths\":{\"a.io\":{\"auth\":\"%%%\"}}}", "a.io", -1,
     "auths.a.io.auth: invalid base64: bad character at 0", NULL},
    {"{\"auths\":{\"a.io\":{\"auth\":5}}}", "a.io", -1, "auths.a.io.auth: expected string", NULL},
    {"{\"auths\":[]}", "a.io", -1, "auths: expected object", NULL},
    {"{\"auths\":{\"a.io\":\"x\"}}", "a.io", -1, "auths.a.io: expected object", NULL},
    {"{\"credHelpers\":{\"a.io\":5}}", "a.io", -1, "credHelpers.a.io: expected string", NULL},
    {"{\"credsStore\":{}}", "a.io", -1, "credsStore: expected string", NULL},
    {"{\"credHelpers\":{\"a.io\":\"../../bin/sh\"}}", "a.io", -1,
     "invalid credential helper name '../../bin/sh'", NULL},
    {"{\"credHelpers\":{\"a.io\":\"tdrv-no-such-helper\"}}", "a.io", -1,
     "unable to run credential helper 'docker-credential-tdrv-no-such-helper': No such file or "
     "directory",
     NULL},
    {"{\"auths\":{\"a.io\":{\"identitytoken\":\"tok\"}}}", "a.io", 1, NULL, NULL},
    {"[]", "a.io", -1, "expected a JSON object", NULL},
};

void test_auth(void)
{
    for (size_t i = 0; i < TDRV_ARRAY_LEN(chal_cases); i++) {
        struct tdrv_challenge c;
        struct tdrv_err err = {0};
        int rc = tdrv_auth_challenge_parse(chal_cases[i].hdr, &c, &err);
        if (chal_cases[i].code == 0) {
            if (!tap_ok(rc == 0, "challenge %zu parses", i))
                printf("#   %s\n", err.msg);
            CHECK_STR(c.scheme, chal_cases[i].scheme, "challenge %zu scheme", i);
            CHECK_STR(c.realm, chal_cases[i].realm, "challenge %zu realm", i);
            CHECK_STR(c.service, chal_cases[i].service, "challenge %zu service", i);
            CHECK_STR(c.scope, chal_cases[i].scope, "challenge %zu scope", i);
            CHECK_STR(c.error, chal_cases[i].error, "challenge %zu error", i);
        } else {
            CHECK_INT(err.code, chal_cases[i].code, "challenge %zu fails", i);
            CHECK_STR(err.msg, chal_cases[i].realm, "challenge %zu message", i);
        }
    }
    {
        /* an over-long parameter is refused, not truncated */
        char big[3000];
        struct tdrv_challenge c;
        struct tdrv_err err = {0};
        memset(big, 'a', sizeof(big));
        memcpy(big, "Bearer realm=", 13);
        big[sizeof(big) - 1] = 0;
        tdrv_auth_challenge_parse(big, &c, &err);
        CHECK_STR(err.msg, "malformed WWW-Authenticate header: parameter too long",
                  "challenge: long parameter");
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(b64_cases); i++) {
        cleanup_free char *out = NULL;
        size_t n = 0;
        struct tdrv_err err = {0};
        int rc = tdrv_base64_decode(b64_cases[i].in, &out, &n, &err);
        if (b64_cases[i].code == 0) {
            CHECK_INT(rc, 0, "base64 '%s' decodes", b64_cases[i].in);
            CHECK_STR(out, b64_cases[i].out, "base64 '%s' value", b64_cases[i].in);
        } else {
            CHECK_INT(err.code, 65, "base64 '%s' fails", b64_cases[i].in);
            CHECK_STR(err.msg, b64_cases[i].out, "base64 '%s' message", b64_cases[i].in);
        }
    }
    {
        cleanup_free char *e = tdrv_base64_encode("alice:s3cret", 12);
        CHECK_STR(e, "YWxpY2U6czNjcmV0", "base64 encode");
        free(e);
        e = tdrv_base64_encode("ab", 2);
        CHECK_STR(e, "YWI=", "base64 encode with padding");
    }
    {
        /* X-Registry-Auth for the Engine: base64url of the JSON (Nomad's TestDockerDriver_
         * AuthFromTaskConfig encodes {"username":"foo","password":"bar"} the same way) */
        struct tdrv_cred c = {0};
        cleanup_free char *h = NULL;
        cleanup_free char *dec = NULL;
        size_t n = 0;
        struct tdrv_err err = {0};
        c.username = tdrv_xstrdup("foo");
        c.password = tdrv_xstrdup("b?r>>");
        h = tdrv_registry_auth_header(&c, "www.foobar.com");
        ok(!strchr(h, '+') && !strchr(h, '/'), "X-Registry-Auth is base64url");
        for (char *p = h; *p; p++)
            *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        ok(tdrv_base64_decode(h, &dec, &n, &err) == 0, "X-Registry-Auth decodes");
        CHECK_STR(dec,
                  "{\"username\":\"foo\",\"password\":\"b?r>>\",\"serveraddress\":"
                  "\"www.foobar.com\"}",
                  "X-Registry-Auth JSON");
        tdrv_cred_release(&c);
    }
    for (size_t i = 0; i < TDRV_ARRAY_LEN(helper_cases); i++) {
        cleanup_free char *buf = tdrv_xstrdup(helper_cases[i].answer);
        size_t len = strlen(buf);
        struct tdrv_cred c = {0};
        struct tdrv_err err = {0};
        int rc = tdrv_auth_helper_answer("docker-credential-x", buf, len, &c, &err);
        size_t wiped = 0;

        while (wiped < len && buf[wiped] == 0)
            wiped++;
        CHECK_INT(rc, helper_cases[i].rc, "helper answer %zu result", i);
        CHECK_INT(wiped, len, "helper answer %zu wiped", i);
        if (rc == 1) {
            CHECK_STR(c.username, helper_cases[i].user, "helper answer %zu username", i);
            CHECK_STR(c.password, helper_cases[i].pass, "helper answer %zu password", i);
            CHECK_STR(c.identitytoken, helper_cases[i].token, "helper answer %zu token", i);
            CHECK_STR(c.source, "helper docker-credential-x", "helper answer %zu source", i);
        } else if (rc < 0) {
            CHECK_INT(err.code, 77, "helper answer %zu exit", i);
            CHECK_STR(err.msg, helper_cases[i].user, "helper answer %zu message", i);
        }
        tdrv_cred_release(&c);
    }
    CHECK_STR(tdrv_auth_key("docker.io"), "https://index.docker.io/v1/", "key for docker.io");
    CHECK_STR(tdrv_auth_key("index.docker.io"), "https://index.docker.io/v1/",
              "key for index.docker.io");
    CHECK_STR(tdrv_auth_key("quay.io"), "quay.io", "key for quay.io");
    for (size_t i = 0; i < TDRV_ARRAY_LEN(cfg_cases); i++) {
        cJSON *cfg = NULL;
        struct tdrv_cred c = {0};
        struct tdrv_err err = {0};
        int rc;
        if (tdrv_json_parse(cfg_cases[i].cfg, strlen(cfg_cases[i].cfg), &cfg, &err) < 0) {
            ok(0, "config %zu parses: %s", i, err.msg);
            continue;
        }
        rc = tdrv_auth_from_config(cfg, cfg_cases[i].host, &c, &err);
        CHECK_INT(rc, cfg_cases[i].rc, "config %zu result", i);
        if (rc == 1 && cfg_cases[i].user) {
            CHECK_STR(c.username, cfg_cases[i].user, "config %zu username", i);
            CHECK_STR(c.password, cfg_cases[i].pass, "config %zu password", i);
        } else if (rc == 1) {
            CHECK_STR(c.identitytoken, "tok", "config %zu identity token", i);
        } else if (rc < 0) {
            CHECK_STR(err.msg, cfg_cases[i].user, "config %zu message", i);
            ok(!strstr(err.msg, "s3cret"), "config %zu: no secret in the message", i);
        }
        tdrv_cred_release(&c);
        cJSON_Delete(cfg);
    }
}
