/* Durations as Go writes them: time.ParseDuration and Duration.String. */
#include "duration.h"

#include <string.h>

#define NS_US UINT64_C(1000)
#define NS_MS (1000 * NS_US)
#define NS_S (1000 * NS_MS)
#define NS_M (60 * NS_S)
#define NS_H (60 * NS_M)
#define NEG_LIMIT (UINT64_C(1) << 63) /* |INT64_MIN| */

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", NS_US},
    {"\xc2\xb5s", NS_US}, /* U+00B5 micro sign */
    {"\xce\xbcs", NS_US}, /* U+03BC greek mu */
    {"ms", NS_MS},
    {"s", NS_S},
    {"m", NS_M},
    {"h", NS_H},
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#define QUOTE_MAX 64 /* bytes of the input an error quotes: the reason must fit after it */

static int bad(struct tdrv_err *err, const char *orig, const char *why)
{
    return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid duration '%.*s%s': %s", QUOTE_MAX, orig,
                        strlen(orig) > QUOTE_MAX ? "..." : "", why);
}

/* Leading [0-9]*: -1 when the value passes 2^63, as Go's leadingInt. */
static int leading_int(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t x = 0;

    for (; is_digit(*s); s++) {
        if (x > NEG_LIMIT / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > NEG_LIMIT)
            return -1;
    }
    *out = x;
    *sp = s;
    return 0;
}

/* Leading [0-9]* of a fraction: stops gaining precision on overflow instead of failing. */
static void leading_fraction(const char **sp, uint64_t *out, double *scale)
{
    const char *s = *sp;
    uint64_t x = 0;
    int overflow = 0;

    *scale = 1;
    for (; is_digit(*s); s++) {
        uint64_t y;

        if (overflow)
            continue;
        if (x > (NEG_LIMIT - 1) / 10) {
            overflow = 1;
            continue;
        }
        y = x * 10 + (uint64_t)(*s - '0');
        if (y > NEG_LIMIT) {
            overflow = 1;
            continue;
        }
        x = y;
        *scale *= 10;
    }
    *out = x;
    *sp = s;
}

int tdrv_duration_parse(const char *s, int64_t *ns, struct tdrv_err *err)
{
    const char *orig = s;
    uint64_t d = 0;
    int neg = 0;

    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (!strcmp(s, "0")) {
        *ns = 0;
        return 0;
    }
    if (!*s)
        return bad(err, orig, *orig ? "bad number" : "empty");
    while (*s) {
        const char *start = s;
        const char *u;
        uint64_t v = 0;
        uint64_t f = 0;
        uint64_t unit = 0;
        double scale = 1;
        int pre;
        int post = 0;
        size_t ulen;

        if (!(*s == '.' || is_digit(*s)))
            return bad(err, orig, "bad number");
        if (leading_int(&s, &v) < 0)
            return bad(err, orig, "overflow");
        pre = s != start;
        if (*s == '.') {
            const char *fs = ++s;

            leading_fraction(&s, &f, &scale);
            post = s != fs;
        }
        if (!pre && !post)
            return bad(err, orig, "bad number");
        for (u = s; *s && *s != '.' && !is_digit(*s); s++)
            ;
        ulen = (size_t)(s - u);
        if (ulen == 0)
            return bad(err, orig, "missing unit");
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].name) == ulen && !memcmp(units[i].name, u, ulen))
                unit = units[i].ns;
        if (!unit)
            return tdrv_err_set(
                err, TDRV_E_DATA, 0, "invalid duration '%.*s%s': unknown unit '%.*s%s'", QUOTE_MAX,
                orig, strlen(orig) > QUOTE_MAX ? "..." : "",
                (int)(ulen > QUOTE_MAX ? QUOTE_MAX : ulen), u, ulen > QUOTE_MAX ? "..." : "");
        if (v > NEG_LIMIT / unit)
            return bad(err, orig, "overflow");
        v *= unit;
        if (f > 0) {
            /* Go computes the fraction in float64 and truncates; do the same, bit for bit. */
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > NEG_LIMIT)
                return bad(err, orig, "overflow");
        }
        d += v;
        if (d > NEG_LIMIT)
            return bad(err, orig, "overflow");
    }
    if (neg) {
        *ns = d == NEG_LIMIT ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > NEG_LIMIT - 1)
        return bad(err, orig, "overflow");
    *ns = (int64_t)d;
    return 0;
}

/* Write the fraction v / 10^prec before *w without trailing zeros; return v / 10^prec. */
static uint64_t fmt_frac(char *buf, size_t *w, uint64_t v, int prec)
{
    int print = 0;

    for (int i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(v % 10);

        print = print || digit != 0;
        if (print)
            buf[--*w] = (char)('0' + digit);
        v /= 10;
    }
    if (print)
        buf[--*w] = '.';
    return v;
}

static void fmt_int(char *buf, size_t *w, uint64_t v)
{
    do {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
}

void tdrv_duration_format(int64_t ns, char *buf, size_t n)
{
    char arr[TDRV_DURATION_BUFSZ];
    size_t w = sizeof(arr);
    uint64_t u = (uint64_t)ns;
    int neg = ns < 0;
    size_t len;

    if (n == 0)
        return;
    if (neg)
        u = -u;
    if (u < NS_S) {
        int prec = 0;

        arr[--w] = 's';
        if (u == 0) {
            arr[--w] = '0';
        } else {
            if (u < NS_US) {
                arr[--w] = 'n';
            } else if (u < NS_MS) {
                prec = 3;
                arr[--w] = '\xb5';
                arr[--w] = '\xc2';
            } else {
                prec = 6;
                arr[--w] = 'm';
            }
            u = fmt_frac(arr, &w, u, prec);
            fmt_int(arr, &w, u);
        }
    } else {
        arr[--w] = 's';
        u = fmt_frac(arr, &w, u, 9);
        fmt_int(arr, &w, u % 60);
        u /= 60;
        if (u > 0) {
            arr[--w] = 'm';
            fmt_int(arr, &w, u % 60);
            u /= 60;
            if (u > 0) {
                arr[--w] = 'h';
                fmt_int(arr, &w, u);
            }
        }
    }
    if (neg)
        arr[--w] = '-';
    len = sizeof(arr) - w;
    if (len > n - 1)
        len = n - 1;
    memcpy(buf, arr + w, len);
    buf[len] = '\0';
}
