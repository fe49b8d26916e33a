/* http.c and docker.c: redaction, error mapping, endpoint parsing, version compare. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"
#include "http.h"
#include "mem.h"
#include "tap.h"

void test_http(void);

static void test_redact(void)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"https://user:pw@reg.example:5000/v2/", "https://***@reg.example:5000/v2/"},
        {"http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"},
        {"http://h/path@x", "http://h/path@x"},
        {"no-scheme", "no-scheme"},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        cleanup_free char *got = tdrv_http_redact_url(cases[i].in);

        CHECK_STR(got, cases[i].want, "http: redact %s", cases[i].in);
    }
    ok(tdrv_http_header_is_secret("Authorization: Bearer x", 23), "http: Authorization is secret");
    ok(tdrv_http_header_is_secret("x-registry-auth: e30=", 21), "http: X-Registry-Auth is secret");
    ok(!tdrv_http_header_is_secret("Accept: */*", 11), "http: Accept is not secret");
}

static void test_errors(void)
{
    struct tdrv_http_resp resp;
    struct tdrv_err err = {0};
    struct tdrv_http_req req = {.url = "http://localhost/version",
                                .unix_socket = "/nonexistent/tdrv-test.sock",
                                .timeout_ms = 2000};

    tdrv_http_resp_init(&resp);
    CHECK_INT(tdrv_http_do(&req, &resp, &err), -1, "http: missing socket fails");
    CHECK_INT(err.code, 69, "http: missing socket is 69");
    CHECK_STR(err.word, "unreachable", "http: missing socket word");
    CHECK_INT(err.sys_errno, ENOENT, "http: missing socket errno");
    CHECK_STR(err.msg,
              "unable to fetch 'http://localhost/version' via '/nonexistent/tdrv-test.sock': No "
              "such file or directory",
              "http: missing socket message");

    tdrv_err_clear(&err);
    req = (struct tdrv_http_req){.url = "gopher://localhost/"};
    CHECK_INT(tdrv_http_do(&req, &resp, &err), -1, "http: bad scheme fails");
    CHECK_INT(err.code, 65, "http: bad scheme is 65");
    CHECK_STR(err.word, "invalid_url", "http: bad scheme word");
    tdrv_http_resp_release(&resp);
}

static void test_docker_setup(void)
{
    static const struct {
        const char *endpoint;
        const char *ca;
        const char *base;
        const char *sock;
        int code;
    } cases[] = {
        {"unix:///var/run/docker.sock", NULL, "http://localhost", "/var/run/docker.sock", 0},
        {"tcp://127.0.0.1:2375", NULL, "http://127.0.0.1:2375", NULL, 0},
        {"tcp://127.0.0.1:2376", "/etc/ca.pem", "https://127.0.0.1:2376", NULL, 0},
        {"unix://relative.sock", NULL, NULL, NULL, 78},
        {"ssh://host", NULL, NULL, NULL, 78},
        {"tcp://", NULL, NULL, NULL, 78},
    };

    for (size_t i = 0; i < TDRV_ARRAY_LEN(cases); i++) {
        struct tdrv_docker d;
        struct tdrv_err err = {0};
        int rc;

        tdrv_docker_init(&d);
        rc = tdrv_docker_setup(&d, cases[i].endpoint, cases[i].ca, NULL, NULL, &err);
        CHECK_INT(rc ? err.code : 0, cases[i].code, "docker: setup '%s' code", cases[i].endpoint);
        if (!rc) {
            CHECK_STR(d.base_url, cases[i].base, "docker: setup '%s' base url", cases[i].endpoint);
            CHECK_STR(d.socket_path, cases[i].sock, "docker: setup '%s' socket", cases[i].endpoint);
        }
        tdrv_docker_release(&d);
    }
    {
        struct tdrv_docker d;
        struct tdrv_err err = {0};

        setenv("DOCKER_HOST", "tcp://127.0.0.1:2376", 1);
        setenv("DOCKER_TLS_VERIFY", "1", 1);
        setenv("DOCKER_CERT_PATH", "/certs", 1);
        tdrv_docker_init(&d);
        CHECK_INT(tdrv_docker_setup(&d, NULL, NULL, NULL, NULL, &err), 0, "docker: from env");
        CHECK_STR(d.base_url, "https://127.0.0.1:2376", "docker: env TLS base url");
        CHECK_STR(d.ca_file, "/certs/ca.pem", "docker: env CA from DOCKER_CERT_PATH");
        CHECK_STR(d.key_file, "/certs/key.pem", "docker: env key from DOCKER_CERT_PATH");
        CHECK_INT(d.tls_verify, 1, "docker: DOCKER_TLS_VERIFY verifies");
        tdrv_docker_release(&d);
        unsetenv("DOCKER_TLS_VERIFY");
        unsetenv("DOCKER_CERT_PATH");
        setenv("DOCKER_HOST", "unix:///run/x.sock", 1);
        tdrv_docker_init(&d);
        CHECK_INT(tdrv_docker_setup(&d, "", NULL, NULL, NULL, &err), 0, "docker: empty endpoint");
        CHECK_STR(d.socket_path, "/run/x.sock", "docker: DOCKER_HOST unix socket");
        CHECK_INT(d.tls, 0, "docker: no TLS without DOCKER_TLS_VERIFY");
        tdrv_docker_release(&d);
        unsetenv("DOCKER_HOST");
    }
    CHECK_INT(tdrv_docker_api_cmp("1.41", "1.43"), -1, "docker: 1.41 < 1.43");
    CHECK_INT(tdrv_docker_api_cmp("1.43", "1.43"), 0, "docker: 1.43 = 1.43");
    CHECK_INT(tdrv_docker_api_cmp("1.100", "1.43"), 1, "docker: 1.100 > 1.43");
    CHECK_INT(tdrv_docker_api_cmp("2", "1.43"), 1, "docker: 2 > 1.43");
}

void test_http(void)
{
    test_redact();
    test_errors();
    test_docker_setup();
}
