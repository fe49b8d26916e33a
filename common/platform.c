/* Platform normalization, matching and index selection, after containerd/platforms. */
#include "platform.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "mem.h"

static void set_str(char *dst, size_t n, const char *s)
{
    size_t l = strnlen(s, n - 1);
    memcpy(dst, s, l);
    dst[l] = 0;
}
#define SET(field, s) set_str((field), sizeof(field), (s))

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

void tdrv_platform_normalize(struct tdrv_platform *p)
{
    lower(p->os);
    lower(p->arch);
    lower(p->variant);
    if (!strcmp(p->os, "macos"))
        SET(p->os, "darwin");
    if (!strcmp(p->arch, "i386")) {
        SET(p->arch, "386");
        p->variant[0] = 0;
    } else if (!strcmp(p->arch, "x86_64") || !strcmp(p->arch, "x86-64") ||
               !strcmp(p->arch, "amd64")) {
        SET(p->arch, "amd64");
        if (!strcmp(p->variant, "v1"))
            p->variant[0] = 0;
    } else if (!strcmp(p->arch, "aarch64") || !strcmp(p->arch, "arm64")) {
        SET(p->arch, "arm64");
        if (!strcmp(p->variant, "8") || !strcmp(p->variant, "v8") || !strcmp(p->variant, "v8.0"))
            p->variant[0] = 0;
        else if (!strcmp(p->variant, "9") || !strcmp(p->variant, "9.0") ||
                 !strcmp(p->variant, "v9.0"))
            SET(p->variant, "v9");
    } else if (!strcmp(p->arch, "armhf")) {
        SET(p->arch, "arm");
        SET(p->variant, "v7");
    } else if (!strcmp(p->arch, "armel")) {
        SET(p->arch, "arm");
        SET(p->variant, "v6");
    } else if (!strcmp(p->arch, "arm")) {
        if (!p->variant[0] || !strcmp(p->variant, "7"))
            SET(p->variant, "v7");
        else if (!strcmp(p->variant, "5") || !strcmp(p->variant, "6") || !strcmp(p->variant, "8")) {
            char v[16] = {'v', p->variant[0], 0};
            SET(p->variant, v);
        }
    }
}

static int valid_part(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

int tdrv_platform_parse(const char *s, struct tdrv_platform *out, struct tdrv_err *err)
{
    const char *parts[3] = {0};
    size_t lens[3] = {0};
    size_t n = 0;
    const char *p = s;
    struct tdrv_platform host;

    memset(out, 0, sizeof(*out));
    while (n < 3) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        parts[n] = p;
        lens[n++] = len;
        if (!slash)
            break;
        p = slash + 1;
        if (n == 3)
            return tdrv_err_set(err, TDRV_E_DATA, 0,
                                "invalid platform '%s' (expected os/arch[/variant])", s);
    }
    for (size_t i = 0; i < n; i++)
        if (!valid_part(parts[i], lens[i]) || lens[i] >= sizeof(out->variant))
            return tdrv_err_set(err, TDRV_E_DATA, 0,
                                "invalid platform '%s' (expected os/arch[/variant])", s);
    if (n == 1) {
        /* A lone word is an OS when it names one, else an architecture. */
        tdrv_platform_host(&host);
        if (!strncmp(parts[0], "linux", lens[0]) || !strncmp(parts[0], "windows", lens[0]) ||
            !strncmp(parts[0], "darwin", lens[0])) {
            snprintf(out->os, sizeof(out->os), "%.*s", (int)lens[0], parts[0]);
            SET(out->arch, host.arch);
            SET(out->variant, host.variant);
        } else {
            SET(out->os, host.os);
            snprintf(out->arch, sizeof(out->arch), "%.*s", (int)lens[0], parts[0]);
        }
    } else {
        snprintf(out->os, sizeof(out->os), "%.*s", (int)lens[0], parts[0]);
        snprintf(out->arch, sizeof(out->arch), "%.*s", (int)lens[1], parts[1]);
        if (n == 3)
            snprintf(out->variant, sizeof(out->variant), "%.*s", (int)lens[2], parts[2]);
    }
    tdrv_platform_normalize(out);
    return 0;
}

static void arm_variant(char *v, size_t len)
{
    cleanup_fclose FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];

    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "CPU architecture", 16)) {
            const char *c = strchr(line, ':');
            int n = 0;
            if (c && sscanf(c + 1, "%d", &n) == 1 && n >= 5 && n <= 8)
                snprintf(v, len, "v%d", n == 8 ? 8 : n);
            return;
        }
    }
}

void tdrv_platform_host(struct tdrv_platform *out)
{
    struct utsname u;

    memset(out, 0, sizeof(*out));
    SET(out->os, "linux");
    if (uname(&u) == 0)
        SET(out->arch, u.machine);
    else
        SET(out->arch, "amd64");
    if (!strncmp(out->arch, "armv", 4) || !strcmp(out->arch, "arm")) {
        SET(out->arch, "arm");
        arm_variant(out->variant, sizeof(out->variant));
    } else if (!strcmp(out->arch, "i686") || !strcmp(out->arch, "i586")) {
        SET(out->arch, "386");
    }
    tdrv_platform_normalize(out);
}

const char *tdrv_platform_str(const struct tdrv_platform *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
    return buf;
}

/* Variant numbers "vN" (N from 1 to 99), 0 for none/other. */
static int vnum(const char *v)
{
    int n = 0;
    if (v[0] != 'v' || !isdigit((unsigned char)v[1]))
        return 0;
    if (sscanf(v + 1, "%d", &n) != 1)
        return 0;
    return n;
}

int tdrv_platform_rank(const struct tdrv_platform *want, const struct tdrv_platform *cand,
                       int strict)
{
    int wv;
    int cv;

    if (strcmp(want->os, cand->os))
        return -1;
    if (!strcmp(want->arch, cand->arch) && !strcmp(want->variant, cand->variant))
        return 0;
    if (strict)
        return -1;
    wv = vnum(want->variant);
    cv = vnum(cand->variant);
    if (!strcmp(want->arch, "amd64")) {
        int top = wv ? wv : 1;
        if (!strcmp(cand->arch, "amd64")) {
            int c = cand->variant[0] ? cv : 1;
            if (c >= 1 && c <= top && (c != 1 || !cand->variant[0]))
                return top - c + 1;
            return -1;
        }
        if (!strcmp(cand->arch, "386") && !cand->variant[0])
            return top + 1;
        return -1;
    }
    if (!strcmp(want->arch, "arm")) {
        if (!strcmp(cand->arch, "arm") && cv >= 5 && cv <= wv)
            return wv - cv + 1;
        return -1;
    }
    if (!strcmp(want->arch, "arm64")) {
        if (!strcmp(cand->arch, "arm64") && !cand->variant[0])
            return 1;
        if (!strcmp(cand->arch, "arm") && cv >= 5 && cv <= 8)
            return 2 + (8 - cv);
        return -1;
    }
    return -1;
}

static int known_manifest_type(const char *mt)
{
    return !mt || !strcmp(mt, "application/vnd.oci.image.manifest.v1+json") ||
           !strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json");
}

const cJSON *tdrv_platform_select(const cJSON *index, const struct tdrv_platform *want, int strict,
                                  struct tdrv_err *err)
{
    const cJSON *mans = cJSON_GetObjectItemCaseSensitive(index, "manifests");
    const cJSON *d;
    const cJSON *best = NULL;
    int best_rank = -1;
    char offer[512] = "";
    size_t off = 0;
    char wbuf[96];

    cJSON_ArrayForEach(d, mans)
    {
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(d, "mediaType");
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(d, "platform");
        struct tdrv_platform c;
        int rank;

        if (!cJSON_IsObject(d) || (mt && !cJSON_IsString(mt)) ||
            !known_manifest_type(mt ? mt->valuestring : NULL))
            continue;
        memset(&c, 0, sizeof(c));
        if (cJSON_IsObject(pl)) {
            const cJSON *os = cJSON_GetObjectItemCaseSensitive(pl, "os");
            const cJSON *arch = cJSON_GetObjectItemCaseSensitive(pl, "architecture");
            const cJSON *var = cJSON_GetObjectItemCaseSensitive(pl, "variant");
            if (!cJSON_IsString(os) || !cJSON_IsString(arch))
                continue;
            SET(c.os, os->valuestring);
            SET(c.arch, arch->valuestring);
            if (cJSON_IsString(var))
                SET(c.variant, var->valuestring);
            tdrv_platform_normalize(&c);
            if (!strcmp(c.os, "unknown"))
                continue;
            if (off < sizeof(offer) - 1) {
                char pb[96];
                int w = snprintf(offer + off, sizeof(offer) - off, "%s%s", off ? ", " : "",
                                 tdrv_platform_str(&c, pb, sizeof(pb)));
                if (w > 0)
                    off += (size_t)w;
            }
            rank = tdrv_platform_rank(want, &c, strict);
        } else if (!pl) {
            rank = 1000; /* no platform at all: acceptable, but last */
        } else {
            continue;
        }
        if (rank >= 0 && (best_rank < 0 || rank < best_rank)) {
            best = d;
            best_rank = rank;
        }
    }
    if (!best)
        tdrv_err_setw(err, TDRV_E_NOINPUT, "image_not_found", 0,
                      "no manifest for platform '%s' in the image index (it offers: %s)",
                      tdrv_platform_str(want, wbuf, sizeof(wbuf)), off ? offer : "none");
    return best;
}
