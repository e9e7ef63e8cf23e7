/*
 * json_parse.c - parsing JSON text when memory may run out.
 *
 * jansson 2.14's parser is not safe when an allocation fails: a string token
 * whose copy fails is reported as a syntax error, and a failed append to the
 * lexer's buffer is ignored, after which the token is decoded with a
 * character missing (a wrong value, an assertion, or a read past the buffer).
 * A verifier that turned that into "verification failed", or a ledger that
 * aborted, would be lying or fragile, so no parse in the library is allowed
 * to see an allocation fail.
 *
 * On first use the library puts its own functions in front of jansson's
 * allocator (json_set_alloc_funcs, chaining to whatever was installed
 * before). Outside a parse they only forward. While json_parse() runs on a
 * thread, every block jansson allocates on that thread is remembered; an
 * allocation that fails unwinds the parse with longjmp (jansson holds
 * nothing but memory while it parses a string), every block the parse still
 * held is freed, and the caller is told that memory ran out.
 *
 * An application that installs its own jansson allocator must do so before
 * its first call into the library, as jansson itself requires.
 */
#include "internal.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_SLOTS 256 /* blocks a typical payload's parse needs; more grows on the heap */

typedef struct parse_guard {
    jmp_buf unwind;
    int active;
    void **slots; /* open addressing, linear probing; NULL is empty */
    size_t capacity;
    size_t count;
    void *inline_slots[INLINE_SLOTS];
} parse_guard;

static _Thread_local parse_guard guard;

static json_malloc_t next_malloc;
static json_free_t next_free;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static size_t slot_of(const void *block, size_t capacity)
{
    uint64_t h = (uint64_t)(uintptr_t)block * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (capacity - 1);
}

static void place(void **slots, size_t capacity, void *block)
{
    size_t i = slot_of(block, capacity);
    while (slots[i] != NULL)
        i = (i + 1) & (capacity - 1);
    slots[i] = block;
}

/* Remembers block; 0 when the table could not grow. */
static int remember(parse_guard *g, void *block)
{
    if ((g->count + 1) * 2 > g->capacity) {
        size_t capacity = g->capacity * 2;
        void **slots = calloc(capacity, sizeof *slots);
        if (slots == NULL)
            return 0;
        for (size_t i = 0; i < g->capacity; i++)
            if (g->slots[i] != NULL)
                place(slots, capacity, g->slots[i]);
        if (g->slots != g->inline_slots)
            free(g->slots);
        g->slots = slots;
        g->capacity = capacity;
    }
    place(g->slots, g->capacity, block);
    g->count++;
    return 1;
}

/* Forgets block if remembered (backward-shift deletion keeps probe chains whole). */
static void forget(parse_guard *g, const void *block)
{
    size_t mask = g->capacity - 1;
    size_t i = slot_of(block, g->capacity);
    while (g->slots[i] != block) {
        if (g->slots[i] == NULL)
            return;
        i = (i + 1) & mask;
    }
    g->slots[i] = NULL;
    g->count--;
    for (size_t j = (i + 1) & mask; g->slots[j] != NULL; j = (j + 1) & mask) {
        size_t home = slot_of(g->slots[j], g->capacity);
        /* Move slots[j] into the hole unless its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            g->slots[i] = g->slots[j];
            g->slots[j] = NULL;
            i = j;
        }
    }
}

static void *guarded_malloc(size_t size)
{
    void *block = next_malloc(size);
    parse_guard *g = &guard;
    if (!g->active)
        return block;
    if (block == NULL)
        longjmp(g->unwind, 1);
    if (!remember(g, block)) {
        next_free(block);
        longjmp(g->unwind, 1);
    }
    return block;
}

static void guarded_free(void *block)
{
    parse_guard *g = &guard;
    if (g->active && block != NULL)
        forget(g, block);
    next_free(block);
}

static void hook(void)
{
    json_get_alloc_funcs(&next_malloc, &next_free);
    if (next_malloc == NULL || next_free == NULL) {
        next_malloc = malloc;
        next_free = free;
    }
    json_set_alloc_funcs(guarded_malloc, guarded_free);
}

static void guard_start(parse_guard *g)
{
    g->slots = g->inline_slots;
    g->capacity = INLINE_SLOTS;
    g->count = 0;
    memset(g->inline_slots, 0, sizeof g->inline_slots);
    g->active = 1;
}

/* Ends the guard; with release, frees every block the parse still holds. */
static void guard_end(parse_guard *g, int release)
{
    g->active = 0;
    if (release)
        for (size_t i = 0; i < g->capacity; i++)
            if (g->slots[i] != NULL)
                next_free(g->slots[i]);
    if (g->slots != g->inline_slots)
        free(g->slots);
    g->slots = NULL;
    g->capacity = 0;
    g->count = 0;
}

json_t *json_parse(const char *text, size_t flags, json_error_t *error, int *out_of_memory)
{
    pthread_once(&hook_once, hook);
    *out_of_memory = 0;
    parse_guard *g = &guard;
    if (g->active) /* not reentrant; jansson never calls back into a parse */
        abort();
    if (setjmp(g->unwind) != 0) {
        guard_end(g, 1);
        *out_of_memory = 1;
        if (error != NULL) {
            memset(error, 0, sizeof *error);
            error->line = error->column = -1;
            snprintf(error->text, sizeof error->text, "out of memory");
        }
        return NULL;
    }
    guard_start(g);
    json_t *value = json_loads(text, flags, error);
    guard_end(g, 0);
    if (value == NULL && error != NULL && json_error_code(error) == json_error_out_of_memory)
        *out_of_memory = 1;
    return value;
}
