/* alloc — the one door to the heap.
 *
 * Every allocation in encore goes through these wrappers so that a test build can make
 * the Nth allocation fail (enc_alloc_fail_after) and prove each error path releases what
 * it took, as curl's torture tests and SQLite's malloc tests do. They return NULL on
 * failure exactly like the libc functions; nothing here aborts.
 */
#ifndef ENC_ALLOC_H
#define ENC_ALLOC_H

#include <stddef.h>

/* Blocks at least this big are advised to use transparent huge pages (alloc.c). */
#define ENC_ALLOC_HUGE ((size_t)4 << 20)
#define ENC_ALLOC_TRIM ((size_t)64 << 20) /* free memory a heap keeps at its top (enc_alloc_init) */

void *enc_malloc(size_t n);
void *enc_calloc(size_t count, size_t size);
void *enc_realloc(void *p, size_t n);
char *enc_strndup(const char *s, size_t n);
char *enc_strdup(const char *s);
void enc_free(void *p);

/* For a long-running process, once at start: malloc then serves every block of
 * ENC_ALLOC_HUGE or more from a mapping of its own, returned whole when freed, and keeps
 * up to ENC_ALLOC_TRIM of free memory at the top of each heap for the next batch (alloc.c). */
void enc_alloc_init(void);

/* Test hook: after `n` more successful allocations, every allocation fails.
 * n < 0 switches failure injection off (the default). Not thread-safe: tests only. */
void enc_alloc_fail_after(long n);

#endif
