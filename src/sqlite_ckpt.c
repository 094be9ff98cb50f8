/* sqlite_ckpt — a checkpointer thread with its own connection (see sqlite_ckpt.h). */
#include "sqlite_ckpt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "alloc.h"
#include "trace.h"

struct enc_ckpt {
    sqlite3 *db;  /* the writer's connection (not owned); only its WAL hook is ours */
    sqlite3 *own; /* the thread's connection (owned) */
    int pages, hard_pages;
    pthread_t thread;
    /* Guarded by mu. `running` is set by whoever checkpoints (the thread, or the writer
     * at the hard limit), so the two never contend for SQLite's checkpoint lock. */
    pthread_mutex_t mu;
    pthread_cond_t changed;
    bool due, running, stopping;
    enc_ckpt_stats stats;
};

/* Waits until no checkpoint runs, then claims the right to run one. Called with mu held. */
static void claim(enc_ckpt *c)
{
    while (c->running)
        pthread_cond_wait(&c->changed, &c->mu);
    c->running = true;
    c->due = false;
}

static void release(enc_ckpt *c, int64_t *counter)
{
    pthread_mutex_lock(&c->mu);
    c->running = false;
    (*counter)++;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
}

static void *ckpt_main(void *arg)
{
    enc_ckpt *c = arg;
    prctl(PR_SET_NAME, "encore-ckpt");
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->due && !c->stopping)
            pthread_cond_wait(&c->changed, &c->mu);
        if (c->stopping)
            break;
        claim(c);
        pthread_mutex_unlock(&c->mu);
        /* A failure (a reader in the way, a full disk) leaves the WAL as it is: the next
         * commit asks again, and the commits report real errors themselves. */
        int64_t t = enc_trace_start();
        int nlog = -1, nckpt = -1;
        sqlite3_wal_checkpoint_v2(c->own, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        enc_trace_end("c.ckpt", t, nlog, nckpt); /* WAL frames, frames copied */
        release(c, &c->stats.background);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Runs on the writer thread inside each COMMIT, after the commit is durable. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int npages)
{
    enc_ckpt *c = arg;
    if (npages >= c->hard_pages) {
        pthread_mutex_lock(&c->mu);
        claim(c);
        pthread_mutex_unlock(&c->mu);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        release(c, &c->stats.inline_);
    } else if (npages >= c->pages) {
        pthread_mutex_lock(&c->mu);
        c->due = true;
        pthread_cond_broadcast(&c->changed);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static enc_status open_own(enc_ckpt *c, const char *path, const char *sync, enc_err *err)
{
    int rc = sqlite3_open_v2(path, &c->own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return enc_err_set(err, "sqlite: cannot open '%s' for checkpoints: %s", path,
                           c->own ? sqlite3_errmsg(c->own) : sqlite3_errstr(rc));
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sync);
    rc = sqlite3_exec(c->own, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return enc_err_set(err, "sqlite: %s: %s", sql, sqlite3_errmsg(c->own));
    return ENC_OK;
}

enc_status enc_ckpt_start(enc_ckpt **out, sqlite3 *db, const char *path, const char *sync, int pages, int hard_pages,
                          enc_err *err)
{
    *out = NULL;
    enc_ckpt *c = enc_calloc(1, sizeof *c);
    if (!c)
        return enc_err_set(err, "out of memory");
    c->db = db;
    c->pages = pages;
    c->hard_pages = hard_pages;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->changed, NULL);
    if (open_own(c, path, sync, err) != ENC_OK)
        goto fail;
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        enc_err_set(err, "cannot start the checkpoint thread");
        goto fail;
    }
    sqlite3_wal_hook(db, on_wal, c); /* replaces SQLite's automatic checkpoint */
    *out = c;
    return ENC_OK;
fail:
    sqlite3_close(c->own);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->changed);
    enc_free(c);
    return ENC_ERROR;
}

void enc_ckpt_request(enc_ckpt *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->due = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
}

void enc_ckpt_stop(enc_ckpt *c)
{
    if (!c)
        return;
    sqlite3_wal_hook(c->db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->own);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->changed);
    enc_free(c);
}

enc_ckpt_stats enc_ckpt_stats_get(enc_ckpt *c)
{
    pthread_mutex_lock(&c->mu);
    enc_ckpt_stats s = c->stats;
    pthread_mutex_unlock(&c->mu);
    return s;
}
