/* status — the result codes and error record every encore function returns.
 *
 * Library code never prints: it returns ENC_OK / ENC_RETRY / ENC_ERROR and fills an
 * enc_err with one human sentence (what is wrong and, where it helps, how to fix it).
 * Only the CLI (main.c, cmd_*.c) prints.
 */
#ifndef ENC_STATUS_H
#define ENC_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    ENC_OK = 0,
    ENC_RETRY = 1, /* transient: the caller may try the same thing again later */
    ENC_ERROR = 2, /* permanent: give up and report enc_err.msg */
} enc_status;

typedef struct {
    char msg[512];
} enc_err;

/* Sets err->msg with printf formatting (err may be NULL) and returns ENC_ERROR. */
enc_status enc_err_set(enc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enc_status enc_err_vset(enc_err *err, const char *fmt, va_list ap);

#endif
