/* sqlite_ckpt — WAL checkpoints off the commit path, for the SQLite sink.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold: that
 * commit also copies the whole WAL into the database file and fsyncs it, so one batch in
 * every few waits for all of them. Here the writing connection's WAL hook only signals a
 * thread with its own connection, which runs PASSIVE checkpoints (they never block the
 * writer, and the writer never waits for them). Should the WAL still grow past a hard
 * limit (the checkpointer cannot finish while the writer keeps appending), the writer
 * waits for the running checkpoint and checkpoints the rest itself, so the log is reset
 * and its size stays bounded. Checkpoints only move committed pages: exactly-once and
 * durability are those of the commits.
 */
#ifndef ENC_SQLITE_CKPT_H
#define ENC_SQLITE_CKPT_H

#include <sqlite3.h>
#include <stdint.h>

#include "status.h"

typedef struct enc_ckpt enc_ckpt;

typedef struct {
    int64_t background; /* checkpoints run by the thread */
    int64_t inline_;    /* checkpoints the writer ran itself at the hard limit */
} enc_ckpt_stats;

/* Starts the checkpointer of the WAL database at path and installs the WAL hook on db
 * (the writing connection, which keeps ownership of db). A checkpoint is due once the
 * WAL holds `pages` frames; the writer checkpoints itself past `hard_pages`. sync is the
 * writer's synchronous setting ("FULL" or "NORMAL"). *out owned by the caller: stop it
 * with enc_ckpt_stop before closing db. */
enc_status enc_ckpt_start(enc_ckpt **out, sqlite3 *db, const char *path, const char *sync, int pages, int hard_pages,
                          enc_err *err);

/* Asks the thread for a checkpoint now, whatever the WAL holds; returns at once. The
 * writer calls it when it is about to stop, so the log is copied while it folds. */
void enc_ckpt_request(enc_ckpt *c);

/* Stops the thread (after the checkpoint it is running, if any), closes its connection
 * and removes the hook from db. NULL is fine. */
void enc_ckpt_stop(enc_ckpt *c);

/* Checkpoints done so far (for tests and measurement). */
enc_ckpt_stats enc_ckpt_stats_get(enc_ckpt *c);

#endif
