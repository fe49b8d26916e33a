/* Kubernetes resource quantities, computed exactly on decimal digits. */
#include "quantity.h"

#include <string.h>

#include "mem.h"

#define INT_DIGITS 40       /* integer digits of the work buffer: 10^19 * 2^60 < 10^40 */
#define MAX_INT_DIGITS 19   /* a value with more integer digits exceeds INT64_MAX */
#define MIN_MAGNITUDE (-30) /* below 10^-30, even times 2^60 the value is under 1 */
#define EXP_CLAMP 1000000   /* exponents past this behave like infinity */

static const struct {
    const char *name;
    int exp10;
    int exp2;
} suffixes[] = {
    {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
    {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
    {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

#define QUOTE_MAX 64 /* bytes of the input an error quotes: the reason must fit after it */

static int bad(struct tdrv_err *err, const char *orig, const char *why)
{
    return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid quantity '%.*s%s': %s", QUOTE_MAX, orig,
                        strlen(orig) > QUOTE_MAX ? "..." : "", why);
}

/* An exponent suffix "e3", "E-3", "e+03": its value, clamped to +-EXP_CLAMP. */
static int parse_exponent(const char *s, int64_t *out)
{
    int neg = 0;
    int64_t v = 0;

    if (*s != 'e' && *s != 'E')
        return -1;
    s++;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!is_digit(*s))
            return -1;
        if (v < EXP_CLAMP)
            v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* A quantity as written: sign, integer and fraction digits, and its suffix's scale. */
struct qnum {
    int neg;
    const char *ip; /* integer digits */
    size_t ni;
    const char *fp; /* fraction digits */
    size_t nf;
    int64_t exp10;
    int exp2;
};

static int scan(const char *orig, struct qnum *q, struct tdrv_err *err)
{
    const char *s = orig;
    int found = 0;

    memset(q, 0, sizeof(*q));
    q->fp = "";
    if (!*s)
        return bad(err, orig, "empty");
    if (*s == '+' || *s == '-')
        q->neg = *s++ == '-';
    for (q->ip = s; is_digit(*s); s++)
        ;
    q->ni = (size_t)(s - q->ip);
    if (*s == '.') {
        for (q->fp = ++s; is_digit(*s); s++)
            ;
        q->nf = (size_t)(s - q->fp);
    }
    if (q->ni + q->nf == 0)
        return bad(err, orig, "bad number");
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && !found; i++) {
        if (!strcmp(s, suffixes[i].name)) {
            q->exp10 = suffixes[i].exp10;
            q->exp2 = suffixes[i].exp2;
            found = 1;
        }
    }
    if (!found && parse_exponent(s, &q->exp10) < 0) {
        if (is_letter(*s))
            return tdrv_err_set(err, TDRV_E_DATA, 0,
                                "invalid quantity '%.*s%s': unknown suffix '%.*s%s'", QUOTE_MAX,
                                orig, strlen(orig) > QUOTE_MAX ? "..." : "", QUOTE_MAX, s,
                                strlen(s) > QUOTE_MAX ? "..." : "");
        return bad(err, orig, "bad number");
    }
    return 0;
}

/* Digit i of the integer and fraction digits written one after the other. */
static char digit_at(const struct qnum *q, size_t i)
{
    return i < q->ni ? q->ip[i] : q->fp[i - q->ni];
}

/*
 * |q| times 10^shift, rounded up to an integer, at most INT64_MAX: the significant
 * digits go into a fixed-point decimal buffer, which is doubled exp2 times.
 */
static int magnitude(const struct qnum *q, int shift, const char *orig, uint64_t *magp,
                     struct tdrv_err *err)
{
    size_t total = q->ni + q->nf;
    size_t first;
    size_t last;
    int64_t e;
    size_t w;
    size_t pos;
    uint64_t acc = 0;
    int frac = 0;
    cleanup_free char *d = NULL;

    for (first = 0; first < total && digit_at(q, first) == '0'; first++)
        ;
    if (first == total) {
        *magp = 0;
        return 0;
    }
    for (last = total; digit_at(q, last - 1) == '0'; last--)
        ;
    /* The value is now digits[first, last) as an integer, times 10^e. */
    e = q->exp10 + shift - (int64_t)q->nf + (int64_t)(total - last);
    if ((int64_t)(last - first) + e > MAX_INT_DIGITS)
        return bad(err, orig, "overflow");
    if ((int64_t)(last - first) + e < MIN_MAGNITUDE) {
        *magp = 1; /* a positive amount below one unit rounds up to one */
        return 0;
    }

    /* INT_DIGITS integer digits, then -e fraction digits when e < 0. */
    w = INT_DIGITS + (e < 0 ? (size_t)-e : 0);
    d = tdrv_xcalloc(w, 1);
    pos = e < 0 ? w : INT_DIGITS - (size_t)e;
    for (size_t i = last; i > first; i--)
        d[--pos] = (char)(digit_at(q, i - 1) - '0');
    for (int b = 0; b < q->exp2; b++) {
        int carry = 0;

        for (size_t i = w; i > 0; i--) {
            int v = d[i - 1] * 2 + carry;

            d[i - 1] = (char)(v % 10);
            carry = v / 10;
        }
    }
    for (size_t i = 0; i < INT_DIGITS; i++) {
        if (acc > ((uint64_t)INT64_MAX - (uint64_t)d[i]) / 10)
            return bad(err, orig, "overflow");
        acc = acc * 10 + (uint64_t)d[i];
    }
    for (size_t i = INT_DIGITS; i < w && !frac; i++)
        frac = d[i] != 0;
    if (frac) {
        if (acc == (uint64_t)INT64_MAX)
            return bad(err, orig, "overflow");
        acc++;
    }
    *magp = acc;
    return 0;
}

int tdrv_quantity_parse_bytes(const char *s, uint64_t *bytes, struct tdrv_err *err)
{
    struct qnum q;
    uint64_t mag = 0;

    if (scan(s, &q, err) < 0 || magnitude(&q, 0, s, &mag, err) < 0)
        return -1;
    if (q.neg && mag != 0)
        return bad(err, s, "negative");
    *bytes = mag;
    return 0;
}

int tdrv_quantity_parse_milli(const char *s, int64_t *milli, struct tdrv_err *err)
{
    struct qnum q;
    uint64_t mag = 0;

    if (scan(s, &q, err) < 0 || magnitude(&q, 3, s, &mag, err) < 0)
        return -1;
    *milli = q.neg ? -(int64_t)mag : (int64_t)mag;
    return 0;
}
