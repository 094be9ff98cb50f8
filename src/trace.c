/* trace — the optional step timeline (see trace.h). */
#include "trace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

bool enc_trace_enabled;
static FILE *trace_file;
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

static void open_trace(void)
{
    const char *path = getenv("ENC_TRACE");
    if (!path || !*path || !(trace_file = fopen(path, "a")))
        return;
    setvbuf(trace_file, NULL, _IOLBF, 0);
    enc_trace_enabled = true;
}

void enc_trace_init(void)
{
    pthread_once(&trace_once, open_trace);
}

void enc_trace_write(const char *step, int64_t start_us, int64_t dur_us, int64_t a, int64_t b)
{
    char thread[16] = "?";
    prctl(PR_GET_NAME, thread);
    pthread_mutex_lock(&trace_mu);
    if (trace_file)
        fprintf(trace_file, "%s %s %lld %lld %lld %lld\n", thread, step, (long long)start_us, (long long)dur_us,
                (long long)a, (long long)b);
    pthread_mutex_unlock(&trace_mu);
}
