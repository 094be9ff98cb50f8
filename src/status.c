/* status — filling enc_err records. */
#include "status.h"

#include <stdio.h>

enc_status enc_err_vset(enc_err *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return ENC_ERROR;
}

enc_status enc_err_set(enc_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enc_err_vset(err, fmt, ap);
    va_end(ap);
    return ENC_ERROR;
}
