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

static int bad(struct tdrv_err *err, const char *orig, const char *why)
{
    return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid quantity '%s': %s", orig, why);
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

/*
 * Parse `s` times 10^shift into a sign and the magnitude rounded up to an integer,
 * at most INT64_MAX.
 */
static int parse_scaled(const char *s, int shift, int *negp, uint64_t *magp, struct tdrv_err *err)
{
    const char *orig = s;
    const char *ip;
    const char *fp = "";
    const char *suf;
    size_t ni;
    size_t nf = 0;
    int64_t e10 = 0;
    int exp2 = 0;
    int found = 0;
    size_t first;
    size_t last;
    size_t total;
    int64_t nd;
    int64_t e;
    size_t fdig;
    size_t w;
    size_t pos;
    uint64_t acc = 0;
    int frac = 0;
    cleanup_free char *d = NULL;

    *negp = 0;
    if (!*s)
        return bad(err, orig, "empty");
    if (*s == '+' || *s == '-')
        *negp = *s++ == '-';
    ip = s;
    while (is_digit(*s))
        s++;
    ni = (size_t)(s - ip);
    if (*s == '.') {
        fp = ++s;
        while (is_digit(*s))
            s++;
        nf = (size_t)(s - fp);
    }
    if (ni + nf == 0)
        return bad(err, orig, "bad number");
    suf = s;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && !found; i++) {
        if (!strcmp(suf, suffixes[i].name)) {
            e10 = suffixes[i].exp10;
            exp2 = suffixes[i].exp2;
            found = 1;
        }
    }
    if (!found && parse_exponent(suf, &e10) < 0) {
        if (is_letter(*suf))
            return tdrv_err_set(err, TDRV_E_DATA, 0, "invalid quantity '%s': unknown suffix '%s'",
                                orig, suf);
        return bad(err, orig, "bad number");
    }

    /* The digits int++frac, as an integer without leading or trailing zeros, times 10^e. */
    total = ni + nf;
#define DIGIT(i) ((i) < ni ? ip[(i)] : fp[(i)-ni])
    for (first = 0; first < total && DIGIT(first) == '0'; first++)
        ;
    if (first == total) {
        *magp = 0;
        return 0;
    }
    for (last = total; DIGIT(last - 1) == '0'; last--)
        ;
    nd = (int64_t)(last - first);
    e = e10 + shift - (int64_t)nf + (int64_t)(total - last);
    if (nd + e > MAX_INT_DIGITS)
        return bad(err, orig, "overflow");
    if (nd + e < MIN_MAGNITUDE) {
        *magp = 1; /* a positive amount below one unit rounds up to one */
        return 0;
    }

    /* Fixed point: INT_DIGITS integer digits, then fdig fraction digits. */
    fdig = e < 0 ? (size_t)-e : 0;
    w = INT_DIGITS + fdig;
    d = tdrv_xcalloc(w, 1);
    pos = e < 0 ? w : INT_DIGITS - (size_t)e;
    for (size_t i = last; i > first; i--)
        d[--pos] = (char)(DIGIT(i - 1) - '0');
#undef DIGIT
    for (int b = 0; b < exp2; b++) {
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
    int neg = 0;
    uint64_t mag = 0;

    if (parse_scaled(s, 0, &neg, &mag, err) < 0)
        return -1;
    if (neg && mag != 0)
        return bad(err, s, "negative");
    *bytes = mag;
    return 0;
}

int tdrv_quantity_parse_milli(const char *s, int64_t *milli, struct tdrv_err *err)
{
    int neg = 0;
    uint64_t mag = 0;

    if (parse_scaled(s, 3, &neg, &mag, err) < 0)
        return -1;
    *milli = neg ? -(int64_t)mag : (int64_t)mag;
    return 0;
}
