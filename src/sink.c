/* sink — the registry of sinks and the SQL identifier rule they share. */
#include "sink.h"

#include <string.h>

static const enc_sink_ops *const registry[] = {
    &enc_sink_sqlite,
    &enc_sink_null,
};

const enc_sink_ops *enc_sink_lookup(const char *spec, const char **target)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return NULL;
    size_t n = (size_t)(colon - spec);
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strlen(registry[i]->name) == n && strncmp(registry[i]->name, spec, n) == 0) {
            *target = colon + 1;
            return registry[i];
        }
    }
    return NULL;
}

bool enc_sql_identifier_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return false;
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}
