/* alloc — heap wrappers with test-only failure injection. */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

void *enc_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *enc_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *enc_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
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
