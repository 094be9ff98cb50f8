/* event_json — parses one playback-event record (one JSON object) into its schema fields.
 *
 * Owns the JSON grammar for events: the four schema fields come out as slices, every
 * member that does not fit the schema is kept verbatim in `rescued` for _rescued_data.
 * Called by the pipeline once per record, on the hot path: one forward pass, no heap call,
 * nothing allocated unless a value has escapes or members are rescued (then: the arena).
 * It never prints and never keeps state between calls.
 */
#ifndef ENC_EVENT_JSON_H
#define ENC_EVENT_JSON_H

#include <stddef.h>

#include "arena.h"
#include "slice.h"

enum { ENC_EV_USER_ID, ENC_EV_SONG_ID, ENC_EV_TIMESTAMP, ENC_EV_DEVICE, ENC_EV_NFIELDS };

/* Lifetime: every slice points either into the input bytes or into the arena, so it lives
 * as long as both the input buffer and the arena (until its next reset). */
typedef struct {
    /* p == NULL: absent, JSON null, or rescued (an object/array value, a duplicate key);
     * else the value: unescaped UTF-8 bytes for a string (may contain U+0000 from \u0000),
     * the JSON text for a number or true/false. */
    enc_slice field[ENC_EV_NFIELDS];
    unsigned char is_string[ENC_EV_NFIELDS]; /* 1: value was a JSON string; 0: otherwise */
    /* JSON members `"k":v,"k2":v2` (no braces) for _rescued_data, each as raw key text ':'
     * raw value text from the input (whitespace around ':' dropped, inside values kept);
     * p == NULL when nothing was rescued. `{` rescued `}` is itself a valid JSON object. */
    enc_slice rescued;
} enc_event;

typedef enum {
    ENC_EVP_OK = 0,
    ENC_EVP_SYNTAX,     /* not JSON (includes bad escapes, lone surrogates, raw control chars) */
    ENC_EVP_NOT_OBJECT, /* valid JSON, but the top-level value is not an object */
    ENC_EVP_TOO_DEEP,   /* nesting deeper than ENC_EVENT_MAX_DEPTH */
    ENC_EVP_BAD_UTF8,   /* a string holds bytes that are not UTF-8 */
    ENC_EVP_NOMEM,      /* the arena could not grow */
} enc_evp_code;

typedef struct {
    enc_evp_code code;
    size_t offset; /* byte offset into the record where the problem was found */
    char msg[160]; /* one sentence, usable as a quarantine reason */
} enc_event_error;

/* The top-level object counts as depth 1: 64 nested objects/arrays parse, 65 do not. */
#define ENC_EVENT_MAX_DEPTH 64

/* Parses the n bytes at p (one JSON value, surrounding RFC 8259 whitespace allowed; need not
 * be NUL-terminated; a byte order mark is the caller's to strip). Fills *ev and returns
 * ENC_EVP_OK, or returns the error code and fills *err (err may be NULL); on error *ev
 * holds no fields. Keys match case-sensitively after unescaping; the first occurrence of a
 * schema key wins, later ones are rescued. arena is used only for unescaped strings and
 * for joining more than one rescued member. */
enc_evp_code enc_event_parse(const char *p, size_t n, enc_arena *arena, enc_event *ev, enc_event_error *err);

/* The two halves of enc_event_parse, for tests and fuzzers, which hold the one to the
 * other. _full: the parser for any record, same contract as enc_event_parse. _fast: the
 * path for common records (short, no backslash, no byte < 0x20 or >= 0x80): ENC_EVP_OK
 * with *ev as _full would fill it, or -1 when it leaves the record to _full. */
enc_evp_code enc_event_parse_full(const char *p, size_t n, enc_arena *arena, enc_event *ev, enc_event_error *err);
int enc_event_parse_fast(const char *p, size_t n, enc_arena *arena, enc_event *ev);

/* "user_id", "song_id", "timestamp", "device"; NULL for a number out of range. */
const char *enc_event_field_name(int field);

#endif
