/* fuzz_hll — libFuzzer harness for the HyperLogLog blob decoder (src/hll.c).
 *
 * Arbitrary bytes go to enc_hll_deserialize. A rejected blob must leave *out NULL and
 * give a reason. An accepted one must be canonical (re-encode to the input bytes), round
 * trip again to the same bytes and count, union with an empty sketch to itself, and
 * union with fixed sparse/dense sketches the same way in either order, and the same way
 * through enc_hll_union_blobs (which must refuse what the decoder refuses). abort() on any
 * broken invariant. Seeds: fuzz/corpus/hll/ (ok_* valid, bad_* invalid).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hll.h"

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c))                                                                                            \
            abort();                                                                                         \
    } while (0)

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Fixed partners for unions: inline sparse, heap sparse near the dense threshold, dense. */
static enc_hll *fixed[3];
static enc_buf fixed_blob[3];

static void make_fixed(void)
{
    static const uint64_t sizes[3] = {5, 3500, 20000};
    for (int i = 0; i < 3; i++) {
        fixed[i] = enc_hll_new();
        CHECK(fixed[i] != NULL);
        for (uint64_t j = 0; j < sizes[i]; j++)
            CHECK(enc_hll_add(fixed[i], mix64(j)) == ENC_OK);
        enc_buf_init(&fixed_blob[i], ENC_HLL_BLOB_MAX);
        CHECK(enc_hll_serialize(fixed[i], &fixed_blob[i]) == ENC_OK);
    }
}

static void blob(const enc_hll *h, enc_buf *b)
{
    enc_buf_init(b, ENC_HLL_BLOB_MAX);
    CHECK(enc_hll_serialize(h, b) == ENC_OK);
}

static int same(const enc_buf *a, const enc_buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static enc_hll *decode(const enc_buf *b)
{
    enc_hll *h = NULL;
    CHECK(enc_hll_deserialize(b->data, b->len, &h, NULL) == ENC_OK && h != NULL);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fixed[0])
        make_fixed();
    enc_hll *h = (enc_hll *)&size; /* must come back NULL on rejection */
    enc_err err;
    err.msg[0] = '\0';
    enc_slice in = {(const char *)data, size};
    if (enc_hll_deserialize(data, size, &h, &err) != ENC_OK) {
        CHECK(h == NULL && err.msg[0] != '\0');
        /* The blob-level union refuses it too, before or after a valid blob. */
        enc_slice two[2] = {{fixed_blob[0].data, fixed_blob[0].len}, in};
        enc_buf u;
        enc_buf_init(&u, ENC_HLL_BLOB_MAX);
        err.msg[0] = '\0';
        CHECK(enc_hll_union_blobs(two, 2, &u, &err) == ENC_ERROR && err.msg[0] != '\0' && u.len == 0);
        CHECK(enc_hll_union_blobs(&in, 1, &u, &err) == ENC_ERROR && u.len == 0);
        enc_buf_free(&u);
        return 0;
    }
    CHECK(h != NULL);
    CHECK(enc_hll_memory(h) <= 64 + (size_t)16384 + (size_t)4 * ENC_HLL_SPARSE_MAX);
    uint64_t n = enc_hll_count(h);

    enc_buf a, b;
    blob(h, &a);
    CHECK(a.len == size && memcmp(a.data, data, size) == 0); /* one encoding per sketch */
    enc_hll *g = decode(&a);
    CHECK(enc_hll_count(g) == n);
    blob(g, &b);
    CHECK(same(&a, &b));
    enc_buf_free(&b);
    enc_hll_free(g);

    /* Union with the empty set changes nothing. */
    enc_hll *e = enc_hll_new();
    CHECK(e != NULL);
    CHECK(enc_hll_merge(e, h) == ENC_OK);
    CHECK(enc_hll_count(e) == n);
    blob(e, &b);
    CHECK(same(&a, &b));
    enc_buf_free(&b);
    CHECK(enc_hll_merge(e, e) == ENC_OK);
    enc_hll_free(e);

    /* Union is commutative and idempotent; the blob-level union gives the same bytes. */
    for (int i = 0; i < 3; i++) {
        enc_hll *x = decode(&a);
        enc_buf xb, yb, ub;
        enc_hll *y = decode(&fixed_blob[i]);
        CHECK(enc_hll_merge(x, fixed[i]) == ENC_OK);
        CHECK(enc_hll_merge(y, h) == ENC_OK);
        blob(x, &xb);
        blob(y, &yb);
        CHECK(same(&xb, &yb));
        enc_slice three[3] = {in, {fixed_blob[i].data, fixed_blob[i].len}, in};
        enc_buf_init(&ub, ENC_HLL_BLOB_MAX);
        CHECK(enc_hll_union_blobs(three, 3, &ub, &err) == ENC_OK);
        CHECK(same(&ub, &xb));
        enc_buf_free(&ub);
        CHECK(enc_hll_merge(x, h) == ENC_OK);
        enc_buf_free(&xb);
        blob(x, &xb);
        CHECK(same(&xb, &yb));
        (void)enc_hll_count(x);
        enc_buf_free(&xb);
        enc_buf_free(&yb);
        enc_hll_free(x);
        enc_hll_free(y);
    }

    /* Adds keep working on a decoded sketch. */
    CHECK(enc_hll_add(h, mix64(size)) == ENC_OK);
    (void)enc_hll_count(h);
    enc_buf_free(&a);
    enc_hll_free(h);
    return 0;
}
