/* alloc — heap wrappers with test-only failure injection, and the huge-page hint.
 *
 * Blocks of ENC_ALLOC_HUGE bytes or more (dimension rows and indexes, batch arenas and
 * row arrays, the dedup set) are advised to the kernel as transparent-huge-page memory
 * (such a block starts on a 2 MiB boundary and madvise MADV_HUGEPAGE covers its whole
 * 2 MiB pages; the system's THP
 * setting is usually "madvise", which does nothing without it). One 2 MiB fault then
 * replaces 512 small ones, and the random probes into a dimension table's index or the
 * dedup set miss the TLB far less: on a 1M-event run the reader's CPU time fell by about
 * half (bench/RESULTS.md, session 3). Only a hint: where the kernel has no huge page to
 * give, nothing changes but the page size.
 *
 * Freed big blocks used to be kept for reuse (up to 128 MiB), when every micro-batch
 * allocated its arena and row arrays again; batches now keep theirs, and the kept blocks
 * had become the pending merges' buffers, which only held up to 128 MiB more resident
 * for no fewer page faults (bench/RESULTS.md, session 8): freed blocks go back at once.
 *
 * glibc's malloc raises its mmap threshold to the size of each mapped block freed (up
 * to 32 MiB), after which blocks that size come from the per-thread arenas, whose freed
 * memory stays in the process scattered between live blocks: over a 50M-event run the
 * resident set crept from ~750 to ~870 MiB (the merges of pending packs run on threads
 * of their own, each block a different size). enc_alloc_init fixes the threshold at
 * ENC_ALLOC_HUGE: the big blocks, which this file manages anyway, always get mappings
 * of their own, and the run stays at 650-770 MiB after its first day (bench/RESULTS.md,
 * session 8).
 *
 * Fixing one threshold fixes the other at its default, though: a heap gave back the free
 * memory at its top whenever it passed 128 KiB, so the blocks every transaction frees and
 * takes again (SQLite's pages beyond its cache while a batch is written, its copies of
 * the packs and the dedup keys it stores) came back as fresh pages each time, and fresh
 * pages are slow on these VMs (a fault zeroes the page). enc_alloc_init keeps up to
 * ENC_ALLOC_TRIM at a heap's top: 1M events 22.0k -> 14.0k page faults, 10M as shipped
 * 13.7 -> 11.1 s, +7 MiB peak (bench/RESULTS.md, session 9).
 */
#include "alloc.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long fail_countdown = -1;

static int should_fail(void)
{
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0)
        return 1;
    fail_countdown--;
    return 0;
}

void enc_alloc_fail_after(long n)
{
    fail_countdown = n;
}

#define HUGE_PAGE ((uintptr_t)2 << 20)

/* Advises the whole 2 MiB pages inside [p, p + n); pages already touched keep their size. */
static void *advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (p && n >= ENC_ALLOC_HUGE) {
        uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t b = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
        if (b > a)
            madvise((void *)a, b - a, MADV_HUGEPAGE); /* a hint: failure changes nothing */
    }
#endif
    return p;
}

void enc_alloc_init(void)
{
    mallopt(M_MMAP_THRESHOLD, (int)ENC_ALLOC_HUGE);
    mallopt(M_TRIM_THRESHOLD, (int)ENC_ALLOC_TRIM);
}

/* A big block starts on a 2 MiB boundary and is rounded up to whole 2 MiB pages, so that
 * huge pages can cover all of it: from malloc it would start 16 bytes into a fresh
 * mapping and leave up to 4 MiB at its two ends in small pages (1,000 faults of 4 KiB for
 * a 9.5 MB buffer). The rounding costs address space, not memory, until touched. */
static void *malloc_big(size_t n)
{
    if (n < ENC_ALLOC_HUGE)
        return malloc(n ? n : 1);
    void *p = NULL;
    if (n > SIZE_MAX - HUGE_PAGE)
        return NULL;
    n = (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1); /* and its tail is a whole huge page */
    return posix_memalign(&p, HUGE_PAGE, n) == 0 ? advise_huge(p, n) : NULL;
}

void *enc_malloc(size_t n)
{
    return should_fail() ? NULL : malloc_big(n);
}

void *enc_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    if (count == 0 || size == 0)
        return calloc(1, 1);
    if (count > SIZE_MAX / size)
        return NULL;
    size_t n = count * size;
    if (n < ENC_ALLOC_HUGE)
        return calloc(count, size);
    /* Advised before the zeroing touches it, so the zeroing faults in huge pages. */
    void *p = malloc_big(n);
    if (p)
        memset(p, 0, n);
    return p;
}

/* Growing into a big block: a new advised block and one copy, because realloc would
 * copy (or move) into memory it has already touched, in small pages. */
void *enc_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    size_t old = p ? malloc_usable_size(p) : 0;
    if (n < ENC_ALLOC_HUGE || old >= n)
        return realloc(p, n ? n : 1);
    void *q = malloc_big(n);
    if (q && p) {
        memcpy(q, p, old);
        free(p);
    }
    return q;
}

char *enc_strndup(const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = enc_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *enc_strdup(const char *s)
{
    return enc_strndup(s, strlen(s));
}

void enc_free(void *p)
{
    free(p);
}
