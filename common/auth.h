#ifndef TDRV_AUTH_H
#define TDRV_AUTH_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "err.h"

/*
 * Registry credentials and challenges: the task's auth block, Docker's config.json
 * (auths, credHelpers, credsStore), docker-credential-* helpers, WWW-Authenticate.
 * Secrets are wiped when released and never appear in an error message.
 */
struct tdrv_cred {
    char *username;
    char *password;
    char *identitytoken; /* OAuth2 refresh token (config.json identitytoken) */
    char *registrytoken; /* a bearer token used as is */
    char source[64];     /* "task auth", "auth.config", "helper docker-credential-x" */
};

void tdrv_cred_release(struct tdrv_cred *c);
#define cleanup_cred __attribute__((cleanup(tdrv_cred_release)))
int tdrv_cred_empty(const struct tdrv_cred *c);

/* One challenge of a WWW-Authenticate header: the first Bearer one, else Basic. */
struct tdrv_challenge {
    char scheme[16]; /* "bearer" or "basic", lowercased */
    char realm[1024];
    char service[256];
    char scope[1024];
    char error[64];
};

/* Parse a WWW-Authenticate value (RFC 7235 auth-params, quoted strings with escapes). 76 when
 * malformed. */
int tdrv_auth_challenge_parse(const char *hdr, struct tdrv_challenge *out, struct tdrv_err *err);

/* Standard base64 (padding optional on decode). Decoded output is NUL-terminated. */
char *tdrv_base64_encode(const void *p, size_t n);
int tdrv_base64_decode(const char *s, char **out, size_t *outlen, struct tdrv_err *err);

/*
 * The key a registry host has in config.json and for helpers: "https://index.docker.io/v1/"
 * for docker.io, else the host (with its port).
 */
const char *tdrv_auth_key(const char *host);

/*
 * Look a registry host up in a parsed config.json: auths (exact key, then legacy
 * "https://host/v1/" style keys), credHelpers[key], credsStore. Returns 1 with *out filled,
 * 0 when the file has nothing for host, -1 on error (65 malformed entry, helper failures).
 */
int tdrv_auth_from_config(const cJSON *cfg, const char *host, struct tdrv_cred *out,
                          struct tdrv_err *err);

/*
 * Run docker-credential-<helper> get with the server on stdin. Returns 1 with *out, 0
 * when the helper knows no credentials ("credentials not found" or empty ones), -1 when
 * it cannot run or fails (77 "auth_failed").
 */
int tdrv_auth_helper_get(const char *helper, const char *server, struct tdrv_cred *out,
                         struct tdrv_err *err);

/*
 * A helper's answer to get (data[len] must be NUL; data is wiped): {"Username", "Secret"},
 * Username "<token>" making Secret an identity token. Returns 1 with *out, 0 when the
 * credentials are empty, -1 (77 auth_failed) when it is not such a JSON object. prog names
 * the helper in messages and in out->source.
 */
int tdrv_auth_helper_answer(const char *prog, char *data, size_t len, struct tdrv_cred *out,
                            struct tdrv_err *err);

/* The credential chain of the docker driver: task auth block, then config file, then helper. */
struct tdrv_auth_opts {
    const cJSON *task_auth;  /* {username,password,email,server_address} or NULL */
    const char *config_path; /* operator auth.config, or NULL */
    const char *helper;      /* operator auth.helper, or NULL */
    int soft_fail;           /* auth_soft_fail: a lookup error means anonymous */
};

/* Resolve credentials for host. Returns 0 (possibly with empty *out: anonymous) or -1. */
int tdrv_auth_resolve(const struct tdrv_auth_opts *o, const char *host, struct tdrv_cred *out,
                      struct tdrv_err *err);

#endif
