/*
 * fingerprint.c - request fingerprints: a 16-byte BLAKE2b digest of an
 * operation's kind and parameters, stored with the row it produced, so that
 * a retry with the same reference is told apart from a conflicting reuse.
 * Every field is length-prefixed; an absent text differs from any text.
 */
#include <string.h>

#include "internal.h"

static void fp_bytes(fingerprint *fp, const void *data, size_t length)
{
    unsigned char prefix[4] = {(unsigned char)(length >> 24), (unsigned char)(length >> 16),
                               (unsigned char)(length >> 8), (unsigned char)length};
    crypto_generichash_update(&fp->state, prefix, sizeof prefix);
    crypto_generichash_update(&fp->state, data, length);
}

void fp_text(fingerprint *fp, const char *s)
{
    if (s == NULL)
        fp_bytes(fp, "\xff", 1); /* absent differs from every text, which is valid UTF-8 */
    else
        fp_bytes(fp, s, strlen(s));
}

void fp_integer(fingerprint *fp, int64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)((uint64_t)v & 0xff);
        v = (int64_t)((uint64_t)v >> 8);
    }
    fp_bytes(fp, b, sizeof b);
}

void fp_start(fingerprint *fp, const char *kind)
{
    crypto_generichash_init(&fp->state, NULL, 0, REQUEST_HASH_BYTES);
    fp_text(fp, kind);
}

void fp_finish(fingerprint *fp, unsigned char out[REQUEST_HASH_BYTES])
{
    crypto_generichash_final(&fp->state, out, REQUEST_HASH_BYTES);
}

