/*
 * validate.c - the input rules shared by every operation: identifiers,
 * reason codes, free text and points ranges. Pure functions, plus thin
 * wrappers that set the handle's message naming what was wrong.
 */
#include <string.h>

#include "internal.h"

static int id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

int valid_id(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= LOYALTY_ID_MAX || !id_char((unsigned char)s[n]))
            return 0;
    return n > 0;
}

int valid_actor(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= LOYALTY_ID_MAX || !(id_char((unsigned char)s[n]) || s[n] == '@'))
            return 0;
    return n > 0;
}

/*
 * Length of the well-formed UTF-8 sequence starting at s, or 0 when it is
 * malformed: overlong forms, UTF-16 surrogates and code points above
 * U+10FFFF are refused (the JSON serialiser refuses them too, and a text
 * must reach the signed payload exactly as it was accepted).
 */
static size_t utf8_sequence(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    unsigned char low = 0x80, high = 0xbf;
    size_t n;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (s[0] == 0xe0)
        low = 0xa0; /* overlong */
    else if (s[0] == 0xed)
        high = 0x9f; /* surrogates */
    else if (s[0] == 0xf0)
        low = 0x90; /* overlong */
    else if (s[0] == 0xf4)
        high = 0x8f; /* above U+10FFFF */
    if (s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

int valid_text(const char *s, size_t max_bytes)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > max_bytes)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        size_t n = utf8_sequence(p);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

int check_id(loyalty_ledger *l, const char *what, const char *s)
{
    if (s == NULL)
        return fail(l, LOYALTY_ERR_INVALID, "%s is required", what);
    if (!valid_id(s))
        return fail(l, LOYALTY_ERR_INVALID,
                    "%s must be 1 to %d characters of A-Z a-z 0-9 . _ : -", what, LOYALTY_ID_MAX);
    return LOYALTY_OK;
}

int check_points(loyalty_ledger *l, const char *what, int64_t points)
{
    if (points < 1 || points > LIMIT_POINTS_MAX)
        return fail(l, LOYALTY_ERR_INVALID, "%s must be between 1 and %lld", what,
                    (long long)LIMIT_POINTS_MAX);
    return LOYALTY_OK;
}

int check_optional_text(loyalty_ledger *l, const char *what, const char *s, size_t max_bytes)
{
    if (s == NULL)
        return LOYALTY_OK;
    if (!valid_text(s, max_bytes))
        return fail(l, LOYALTY_ERR_INVALID,
                    "%s must be 1 to %zu bytes of UTF-8 text without control characters", what,
                    max_bytes);
    return LOYALTY_OK;
}
