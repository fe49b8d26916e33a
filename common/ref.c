#include "ref.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"

#define NAME_MAX_LEN 255
#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN "index.docker.io"

void tdrv_ref_init(struct tdrv_ref *r)
{
    memset(r, 0, sizeof(*r));
}

void tdrv_ref_release(struct tdrv_ref *r)
{
    free(r->name);
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    tdrv_ref_init(r);
}

static int bad(struct tdrv_err *err, const char *s, const char *why)
{
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0,
                         "invalid reference format '%.300s': %s", s, why);
}

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* over [p, p+n) */
static int valid_path_component(const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_lower_alnum(p[0]))
        return 0;
    while (i < n) {
        while (i < n && is_lower_alnum(p[i]))
            i++;
        if (i == n)
            return 1;
        if (p[i] == '.') {
            i++;
        } else if (p[i] == '_') {
            i++;
            if (i < n && p[i] == '_')
                i++;
        } else if (p[i] == '-') {
            while (i < n && p[i] == '-')
                i++;
        } else {
            return 0;
        }
        if (i == n || !is_lower_alnum(p[i]))
            return 0;
    }
    return 1;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static int valid_domain_component(const char *p, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)p[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '-')
            return 0;
    return 1;
}

/* domain := (domain-name | '[' IPv6 ']') [':' port] */
static int valid_domain(const char *d, size_t n)
{
    size_t hostlen = n;
    const char *colon;

    if (n == 0)
        return 0;
    if (d[0] == '[') {
        const char *close = memchr(d, ']', n);
        size_t inner;

        if (!close)
            return 0;
        inner = (size_t)(close - d) - 1;
        if (inner == 0)
            return 0;
        for (size_t i = 1; i <= inner; i++)
            if (!isxdigit((unsigned char)d[i]) && d[i] != ':')
                return 0;
        hostlen = (size_t)(close - d) + 1;
        if (hostlen == n)
            return 1;
        if (d[hostlen] != ':')
            return 0;
    } else {
        colon = memchr(d, ':', n);
        if (colon)
            hostlen = (size_t)(colon - d);
        for (size_t start = 0; start <= hostlen;) {
            const char *dot = memchr(d + start, '.', hostlen - start);
            size_t end = dot ? (size_t)(dot - d) : hostlen;

            if (!valid_domain_component(d + start, end - start))
                return 0;
            start = end + 1;
            if (!dot)
                break;
        }
        if (hostlen == n)
            return 1;
    }
    /* ':' port */
    if (hostlen + 1 >= n)
        return 0;
    for (size_t i = hostlen + 1; i < n; i++)
        if (!isdigit((unsigned char)d[i]))
            return 0;
    return 1;
}

static int valid_tag(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > 128 || !is_word(t[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
            return 0;
    return 1;
}

/* digest := algorithm ':' hex, with the algorithm registered (go-digest). */
static int check_digest(const char *s, const char *dg, struct tdrv_err *err)
{
    static const struct {
        const char *alg;
        size_t hexlen;
    } algs[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};
    const char *colon = strchr(dg, ':');
    size_t alen;
    size_t hlen;
    size_t i;

    if (!colon || colon == dg)
        return bad(err, s, "invalid digest");
    alen = (size_t)(colon - dg);
    /* algorithm := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* */
    for (i = 0; i < alen; i++) {
        char c = dg[i];

        if (isalpha((unsigned char)c))
            continue;
        if (isdigit((unsigned char)c) && i > 0 && dg[i - 1] != '-' && dg[i - 1] != '_' &&
            dg[i - 1] != '+' && dg[i - 1] != '.')
            continue;
        if ((c == '-' || c == '_' || c == '+' || c == '.') && i > 0 && i + 1 < alen &&
            isalpha((unsigned char)dg[i + 1]))
            continue;
        return bad(err, s, "invalid digest algorithm");
    }
    if (!isalpha((unsigned char)dg[0]))
        return bad(err, s, "invalid digest algorithm");
    hlen = strlen(colon + 1);
    if (hlen < 32)
        return bad(err, s, "invalid digest: too short");
    for (i = 0; i < hlen; i++)
        if (!isxdigit((unsigned char)colon[1 + i]))
            return bad(err, s, "invalid digest: not hexadecimal");
    for (i = 0; i < TDRV_ARRAY_LEN(algs); i++) {
        if (strlen(algs[i].alg) != alen || memcmp(algs[i].alg, dg, alen))
            continue;
        for (size_t j = 0; j < hlen; j++)
            if (isupper((unsigned char)colon[1 + j]))
                return bad(err, s, "invalid digest: upper-case hexadecimal");
        if (hlen != algs[i].hexlen)
            return bad(err, s, "invalid digest length");
        return 0;
    }
    return tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0,
                         "invalid reference format '%.300s': unsupported digest algorithm '%.*s'",
                         s, (int)alen, dg);
}

static int is_identifier(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int has_upper(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)p[i]))
            return 1;
    return 0;
}

int tdrv_ref_parse(const char *s, struct tdrv_ref *r, struct tdrv_err *err)
{
    const char *slash;
    const char *remainder;
    const char *at;
    const char *p;
    size_t first_len;
    size_t name_len;
    size_t remote_len;
    cleanup_free char *domain = NULL;
    cleanup_free char *path = NULL;
    cleanup_free char *tag = NULL;
    cleanup_free char *digest = NULL;

    if (!*s)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0,
                             "invalid reference format: repository name must have at least one "
                             "component");
    if (is_identifier(s))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0,
                             "invalid repository name '%s': cannot specify 64-byte hexadecimal "
                             "strings",
                             s);
    for (p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return bad(err, s, "unexpected character");

    /* splitDockerDomain */
    slash = strchr(s, '/');
    first_len = slash ? (size_t)(slash - s) : 0;
    if (!slash || (!memchr(s, '.', first_len) && !memchr(s, ':', first_len) &&
                   !(first_len == 9 && !memcmp(s, "localhost", 9)) && !has_upper(s, first_len))) {
        domain = tdrv_xstrdup(DEFAULT_DOMAIN);
        remainder = s;
    } else {
        domain = tdrv_xstrndup(s, first_len);
        remainder = slash + 1;
    }
    if (!strcmp(domain, LEGACY_DOMAIN)) {
        free(domain);
        domain = tdrv_xstrdup(DEFAULT_DOMAIN);
    }

    /* Split off digest and tag from the remainder. */
    at = strchr(remainder, '@');
    name_len = at ? (size_t)(at - remainder) : strlen(remainder);
    if (at) {
        digest = tdrv_xstrdup(at + 1);
        if (strchr(digest, '@'))
            return bad(err, s, "invalid digest");
    }
    {
        const char *colon = memchr(remainder, ':', name_len);
        const char *last_slash = NULL;

        for (p = remainder; p < remainder + name_len; p++)
            if (*p == '/')
                last_slash = p;
        /* A ':' before the last '/' means a port in a path: invalid. */
        if (colon && last_slash && colon < last_slash)
            return bad(err, s, "invalid repository name");
        remote_len = colon ? (size_t)(colon - remainder) : name_len;
        if (colon)
            tag = tdrv_xstrndup(colon + 1, name_len - remote_len - 1);
    }

    /* Repository names are lower-case (checked before the grammar, as Docker does). */
    if (has_upper(remainder, remote_len))
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0,
                             "invalid reference format '%.300s': repository name (%.*s) must be "
                             "lowercase",
                             s, (int)remote_len, remainder);

    if (!strcmp(domain, DEFAULT_DOMAIN) && !memchr(remainder, '/', remote_len))
        path = tdrv_xasprintf("library/%.*s", (int)remote_len, remainder);
    else
        path = tdrv_xstrndup(remainder, remote_len);

    if (!valid_domain(domain, strlen(domain)))
        return bad(err, s, "invalid domain");
    for (const char *c = path;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);

        if (!valid_path_component(c, n))
            return bad(err, s, n ? "invalid repository name" : "empty path component");
        if (!e)
            break;
        c = e + 1;
    }
    if (strlen(path) > NAME_MAX_LEN)
        return tdrv_err_setw(err, TDRV_E_DATA, "invalid_reference", 0,
                             "invalid reference format '%.300s': repository name must not be more "
                             "than %d characters",
                             s, NAME_MAX_LEN);
    if (tag && !valid_tag(tag))
        return bad(err, s, "invalid tag");
    if (digest && check_digest(s, digest, err) < 0)
        return -1;
    if (!tag && !digest)
        tag = tdrv_xstrdup("latest");

    tdrv_ref_release(r);
    r->name = tdrv_xasprintf("%s/%s", domain, path);
    r->domain = steal_ptr(&domain);
    r->path = steal_ptr(&path);
    r->tag = steal_ptr(&tag);
    r->digest = steal_ptr(&digest);
    return 0;
}

int tdrv_ref_parse_image(const char *s, struct tdrv_ref *r, struct tdrv_err *err)
{
    if (!strncmp(s, "docker://", 9))
        s += 9;
    else if (!strncmp(s, "https://", 8))
        s += 8;
    return tdrv_ref_parse(s, r, err);
}

char *tdrv_ref_string(const struct tdrv_ref *r)
{
    return tdrv_xasprintf("%s%s%s%s%s", r->name, r->tag ? ":" : "", r->tag ? r->tag : "",
                          r->digest ? "@" : "", r->digest ? r->digest : "");
}

cJSON *tdrv_ref_json(const struct tdrv_ref *r)
{
    cJSON *o = tdrv_json_xobj();

    tdrv_json_add_str(o, "name", r->name);
    tdrv_json_add_str(o, "domain", r->domain);
    tdrv_json_add_str(o, "path", r->path);
    tdrv_json_add_str(o, "tag", r->tag);
    tdrv_json_add_str(o, "digest", r->digest);
    return o;
}
