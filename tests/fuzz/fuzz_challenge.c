/*
 * WWW-Authenticate headers (tdrv_auth_challenge_parse). Invariants: a header that parses
 * gives scheme "bearer" (with a realm) or "basic", every field NUL-terminated inside its
 * buffer; written back as one challenge with quoted, escaped parameters it parses to the
 * same five fields; a refusal is exit 76 with a message.
 */
#include "fuzz.h"

#include "auth.h"
#include "buf.h"
#include "mem.h"

static void add_param(struct tdrv_buf *b, const char *name, const char *v)
{
    struct tdrv_err err = {0};

    FUZZ_ASSERT(tdrv_buf_addstr(b, ",", &err) == 0 && tdrv_buf_addstr(b, name, &err) == 0 &&
                    tdrv_buf_addstr(b, "=\"", &err) == 0,
                "buffer");
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            FUZZ_ASSERT(tdrv_buf_add(b, "\\", 1, &err) == 0, "buffer");
        FUZZ_ASSERT(tdrv_buf_add(b, v, 1, &err) == 0, "buffer");
    }
    FUZZ_ASSERT(tdrv_buf_add(b, "\"", 1, &err) == 0, "buffer");
}

static void check_ok(const char *in, const struct tdrv_challenge *c)
{
    cleanup_buf struct tdrv_buf b = {0};
    struct tdrv_challenge back;
    struct tdrv_err err = {0};

    FUZZ_ASSERT(strnlen(c->scheme, sizeof(c->scheme)) < sizeof(c->scheme) &&
                    strnlen(c->realm, sizeof(c->realm)) < sizeof(c->realm) &&
                    strnlen(c->service, sizeof(c->service)) < sizeof(c->service) &&
                    strnlen(c->scope, sizeof(c->scope)) < sizeof(c->scope) &&
                    strnlen(c->error, sizeof(c->error)) < sizeof(c->error),
                "'%s': a field is not terminated", in);
    FUZZ_ASSERT(!strcmp(c->scheme, "bearer") || !strcmp(c->scheme, "basic"), "'%s': scheme '%s'",
                in, c->scheme);
    FUZZ_ASSERT(strcmp(c->scheme, "bearer") || c->realm[0], "'%s': bearer without realm", in);

    tdrv_buf_init(&b, 1u << 16);
    FUZZ_ASSERT(
        tdrv_buf_addstr(&b, !strcmp(c->scheme, "bearer") ? "Bearer x=y" : "Basic x=y", &err) == 0,
        "buffer");
    add_param(&b, "realm", c->realm);
    add_param(&b, "service", c->service);
    add_param(&b, "scope", c->scope);
    add_param(&b, "error", c->error);
    FUZZ_ASSERT(tdrv_auth_challenge_parse(b.data, &back, &err) == 0, "'%s': '%s' refused: %s", in,
                b.data, err.msg);
    FUZZ_ASSERT(!strcmp(back.scheme, c->scheme) && !strcmp(back.realm, c->realm) &&
                    !strcmp(back.service, c->service) && !strcmp(back.scope, c->scope) &&
                    !strcmp(back.error, c->error),
                "'%s': written back as '%s', parses to %s realm '%s' service '%s' scope '%s' "
                "error '%s'",
                in, b.data, back.scheme, back.realm, back.service, back.scope, back.error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);
    struct tdrv_challenge c;
    struct tdrv_err err = {0};
    int rc = tdrv_auth_challenge_parse(in, &c, &err);

    if (rc == 0) {
        FUZZ_ASSERT(err.code == 0, "'%s': error set on success: %s", in, err.msg);
        check_ok(in, &c);
        return 0;
    }
    FUZZ_ASSERT(rc == -1, "rc %d", rc);
    FUZZ_ASSERT(err.code == TDRV_E_PROTOCOL, "'%s': exit %d", in, err.code);
    FUZZ_ASSERT(err.msg[0], "'%s': empty message", in);
    return 0;
}
