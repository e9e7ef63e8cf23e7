/*
 * input.c - files the `loyalty` tool reads for the library: a program
 * (JSON text), a checkpoint (text) and a public key file (one line of 64
 * hex characters, '#' lines being comments). "-" means standard input.
 * Files are read whole, up to CLI_FILE_MAX_BYTES, and must hold text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define READ_CHUNK_BYTES 65536

/* Appends the stream's bytes to a growing buffer; returns 0, or an errno value. */
static int read_stream(FILE *stream, char **text_out, size_t *length_out)
{
    char *text = NULL;
    size_t length = 0;
    size_t capacity = 0;
    for (;;) {
        if (length > CLI_FILE_MAX_BYTES)
            break; /* the caller reports the size */
        if (capacity - length < READ_CHUNK_BYTES) {
            char *grown = realloc(text, capacity + READ_CHUNK_BYTES + 1);
            if (grown == NULL) {
                free(text);
                return ENOMEM;
            }
            text = grown;
            capacity += READ_CHUNK_BYTES;
        }
        size_t got = fread(text + length, 1, capacity - length, stream);
        length += got;
        if (got == 0)
            break;
    }
    if (ferror(stream)) {
        int error = errno != 0 ? errno : EIO;
        free(text);
        return error;
    }
    text[length] = '\0';
    *text_out = text;
    *length_out = length;
    return 0;
}

/*
 * Reads a whole text file ("-" for stdin) into *text_out (release with
 * free()). option names the argument in messages. Returns CLI_CONTINUE, or
 * exit 2 (1 when memory ran out) after printing the error.
 */
int cli_read_file(cli_context *cli, const char *option, const char *path, char **text_out)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *stream = from_stdin ? stdin : fopen(path, "rb");
    *text_out = NULL;
    if (stream == NULL)
        return cli_usage_error(cli, "%s: cannot read %s: %s", option, path, strerror(errno));
    char *text = NULL;
    size_t length = 0;
    errno = 0;
    int error = read_stream(stream, &text, &length);
    if (!from_stdin)
        fclose(stream);
    if (error == ENOMEM)
        return cli_out_of_memory(cli);
    if (error != 0)
        return cli_usage_error(cli, "%s: cannot read %s: %s", option, path, strerror(error));
    if (length > CLI_FILE_MAX_BYTES || memchr(text, '\0', length) != NULL) {
        free(text);
        return cli_usage_error(cli, "%s: %s is not a text file of at most %d bytes", option,
                               path, CLI_FILE_MAX_BYTES);
    }
    *text_out = text;
    return CLI_CONTINUE;
}

/* Trims white space at both ends of a line, in place. */
static char *trim(char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    size_t length = strlen(line);
    while (length > 0 && isspace((unsigned char)line[length - 1]))
        line[--length] = '\0';
    return line;
}

/* Copies the key in lower case when it is exactly 64 hex characters; returns 1 then. */
static int take_hex_key(const char *line, char hex_out[LOYALTY_PUBLIC_KEY_HEX + 1])
{
    if (strlen(line) != LOYALTY_PUBLIC_KEY_HEX)
        return 0;
    for (size_t i = 0; i < LOYALTY_PUBLIC_KEY_HEX; i++) {
        if (!isxdigit((unsigned char)line[i]))
            return 0;
        hex_out[i] = (char)tolower((unsigned char)line[i]);
    }
    hex_out[LOYALTY_PUBLIC_KEY_HEX] = '\0';
    return 1;
}

/*
 * Reads a public key file: the first line that is neither blank nor a '#'
 * comment, trimmed, must be 64 hex characters. Returns CLI_CONTINUE, or an
 * exit code after printing the error.
 */
int cli_read_public_key(cli_context *cli, const char *path, char hex_out[LOYALTY_PUBLIC_KEY_HEX + 1])
{
    char *text = NULL;
    int exit_code = cli_read_file(cli, "--pubkey", path, &text);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char *line = NULL;
    for (char *next = text; next != NULL && line == NULL;) {
        char *candidate = next;
        next = strchr(candidate, '\n');
        if (next != NULL)
            *next++ = '\0';
        candidate = trim(candidate);
        if (candidate[0] != '\0' && candidate[0] != '#')
            line = candidate;
    }
    int found = line != NULL && take_hex_key(line, hex_out);
    free(text);
    if (!found)
        return cli_usage_error(cli, "--pubkey: %s does not hold a public key "
                                    "(a line of 64 hex characters)", path);
    return CLI_CONTINUE;
}
