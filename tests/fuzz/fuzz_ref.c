/*
 * Image references (tdrv_ref_parse, tdrv_ref_parse_image). Invariants: a reference that
 * parses has a domain, a path, a tag or a digest, name == domain "/" path, and
 * tdrv_ref_string() of it parses again to the same fields; a refusal is exit 65,
 * code invalid_reference, and leaves the struct as it was.
 */
#include "fuzz.h"

#include "mem.h"
#include "ref.h"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && !strcmp(a, b));
}

static const char *show(const char *s)
{
    return s ? s : "(null)";
}

static void check_ok(const char *in, const struct tdrv_ref *r)
{
    cleanup_free char *name = NULL;
    cleanup_free char *str = NULL;
    cleanup_ref struct tdrv_ref back = {0};
    struct tdrv_err err = {0};
    cJSON *j = NULL;

    FUZZ_ASSERT(r->name && r->domain && r->path, "'%s': missing field", in);
    FUZZ_ASSERT(r->tag || r->digest, "'%s': neither tag nor digest", in);
    name = tdrv_xasprintf("%s/%s", r->domain, r->path);
    FUZZ_ASSERT(!strcmp(name, r->name), "'%s': name '%s' is not domain/path '%s'", in, r->name,
                name);
    FUZZ_ASSERT(strcmp(r->domain, "index.docker.io") != 0, "'%s': legacy domain kept", in);
    FUZZ_ASSERT(strlen(r->path) <= 255, "'%s': path too long", in);
    FUZZ_ASSERT(!r->tag || (*r->tag && strlen(r->tag) <= 128), "'%s': bad tag", in);
    FUZZ_ASSERT(!r->digest || strchr(r->digest, ':'), "'%s': bad digest", in);

    str = tdrv_ref_string(r);
    FUZZ_ASSERT(tdrv_ref_parse(str, &back, &err) == 0, "'%s': string '%s' does not parse: %s", in,
                str, err.msg);
    FUZZ_ASSERT(same(back.name, r->name) && same(back.domain, r->domain) &&
                    same(back.path, r->path) && same(back.tag, r->tag) &&
                    same(back.digest, r->digest),
                "'%s' -> '%s' parses to %s %s %s %s %s, not %s %s %s %s %s", in, str, back.name,
                back.domain, back.path, show(back.tag), show(back.digest), r->name, r->domain,
                r->path, show(r->tag), show(r->digest));

    j = tdrv_ref_json(r);
    FUZZ_ASSERT(j != NULL, "no JSON");
    cJSON_Delete(j);
}

static void one(const char *in, int image)
{
    cleanup_ref struct tdrv_ref r = {0};
    struct tdrv_err err = {0};
    int rc = image ? tdrv_ref_parse_image(in, &r, &err) : tdrv_ref_parse(in, &r, &err);

    if (rc == 0) {
        FUZZ_ASSERT(err.code == 0, "'%s': error set on success", in);
        check_ok(in, &r);
        return;
    }
    FUZZ_ASSERT(rc == -1, "rc %d", rc);
    FUZZ_ASSERT(err.code == TDRV_E_DATA, "'%s': exit %d", in, err.code);
    FUZZ_ASSERT(!strcmp(err.word, "invalid_reference"), "'%s': code %s", in, err.word);
    FUZZ_ASSERT(err.msg[0] != '\0', "'%s': empty message", in);
    FUZZ_ASSERT(!r.name && !r.domain && !r.path && !r.tag && !r.digest,
                "'%s': a refused reference filled the struct", in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *in = fuzz_cstr(data, size);

    one(in, 0);
    one(in, 1);
    return 0;
}
