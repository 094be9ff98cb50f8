/* cmd_run — `encore run`: flags → pipeline config; prints progress and the summary. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cmd.h"
#include "dim.h"
#include "opts.h"
#include "pipeline.h"
#include "quality.h"
#include "rules.h"

typedef struct {
    const char *events;
    const char *songs;
    const char *users;
    const char *sink;
    const char *table;
    const char *sync;
    const char *rules;
    const char *commit_log;
    bool once;
    bool allow_overwrites;
    bool quiet;
    int64_t settle_ms;
    int64_t poll_ms;
    int64_t batch_events;
    int64_t max_record;
    int64_t watermark_ms;
    bool no_aggregates;
} run_opts;

#define O(field) offsetof(run_opts, field)
static const enc_opt run_table[] = {
    {"events", ENC_OPT_STR, "DIR", NULL, O(events), true, "directory the JSON event files land in (searched recursively)"},
    {"songs", ENC_OPT_STR, "FILE", NULL, O(songs), true, "songs.csv: song_id,title,artist,genre,duration"},
    {"users", ENC_OPT_STR, "FILE", NULL, O(users), true, "users.csv: user_id,country,subscription,device"},
    {"sink", ENC_OPT_STR, "SPEC", "sqlite:encore.db", O(sink), false, "where rows go: sqlite:PATH"},
    {"table", ENC_OPT_STR, "NAME", "MUSIC_EVENTS", O(table), false, "events table (quarantine goes to NAME_QUARANTINE)"},
    {"once", ENC_OPT_FLAG, NULL, NULL, O(once), false, "process what is there now, then exit (like Trigger.AvailableNow)"},
    {"settle", ENC_OPT_DURATION, "TIME", "1s", O(settle_ms), false, "quiet time before a final line without newline is taken"},
    {"poll", ENC_OPT_DURATION, "TIME", "1s", O(poll_ms), false, "rescan interval, the safety net under inotify"},
    {"batch-events", ENC_OPT_INT, "N", "100000", O(batch_events), false, "most events per micro-batch (one transaction)"},
    {"max-record", ENC_OPT_INT, "BYTES", "1M", O(max_record), false, "longest record accepted; longer ones are quarantined"},
    {"watermark", ENC_OPT_DURATION, "TIME", "24h", O(watermark_ms), false, "drop a repeated (user, song, event time) "
                                                                          "seen within this much event time; 0 = off"},
    {"rules", ENC_OPT_STR, "FILE", NULL, O(rules), false, "data-quality rules (see README, Data quality); "
                                                          "default: warn-only checks"},
    {"no-aggregates", ENC_OPT_FLAG, NULL, NULL, O(no_aggregates), false, "do not maintain the daily aggregates"},
    {"allow-overwrites", ENC_OPT_FLAG, NULL, NULL, O(allow_overwrites), false, "re-read files replaced or truncated after ingestion"},
    {"sync", ENC_OPT_STR, "MODE", "full", O(sync), false, "full: fsync each commit (survives power loss); normal: faster, "
                                                            "still exactly-once after a process crash"},
    {"commit-log", ENC_OPT_STR, "FILE", NULL, O(commit_log), false, "append 'offset<TAB>µs<TAB>path' per file "
                                                                    "after each COMMIT returns (latency measurement)"},
    {"quiet", ENC_OPT_FLAG, NULL, NULL, O(quiet), false, "no warnings or progress, only the summary and errors"},
};
#undef O
#define NOPTS (sizeof run_table / sizeof run_table[0])

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct {
    bool quiet;
    long count;
} warn_state;

enum { MAX_WARNINGS_SHOWN = 20 };

static void print_warning(void *arg, const char *msg)
{
    warn_state *w = arg;
    w->count++;
    if (w->quiet || w->count > MAX_WARNINGS_SHOWN)
        return;
    fprintf(stderr, "encore: warning: %s\n", msg);
}

static void print_progress(void *arg, const enc_pipeline_stats *st)
{
    (void)arg;
    double rate = st->seconds > 0 ? (double)st->events / st->seconds : 0;
    fprintf(stderr, "\rencore: %lld files, %lld events, %lld rows, %lld quarantined, %.0f events/s   ",
            (long long)st->files, (long long)st->events, (long long)st->rows, (long long)st->quarantined, rate);
}

/* --commit-log: one line per file a committed batch advanced, written once COMMIT has
 * returned (the batch is durable), so the time is the real end of its commit. Only an
 * observation: nothing reads it back, and a crash may lose its last lines. */
static void log_commit(void *arg, const enc_position *pos, size_t npos, int64_t wall_us)
{
    FILE *f = arg;
    for (size_t i = 0; i < npos; i++)
        fprintf(f, "%lld\t%lld\t%s\n", (long long)pos[i].offset, (long long)wall_us, pos[i].key);
    fflush(f);
}

static int check_file(const char *flag, const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "encore run: %s file '%s' not found; pass --%s PATH to an existing %s\n", flag, path, flag,
                what);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "encore run: --%s '%s' is not a regular file; pass the path of %s\n", flag, path, what);
        return -1;
    }
    return 0;
}

static int check_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "encore run: events directory '%s' not found; create it or pass --events DIR\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "encore run: --events '%s' is not a directory; pass the directory the JSON files land in\n",
                path);
        return -1;
    }
    return 0;
}

static int validate(const run_opts *o, const enc_sink_ops **sink, const char **target)
{
    if (check_dir(o->events))
        return -1;
    if (check_file("songs", o->songs, "songs.csv") || check_file("users", o->users, "users.csv"))
        return -1;
    *sink = enc_sink_lookup(o->sink, target);
    if (!*sink) {
        fprintf(stderr, "encore run: unknown sink '%s'; use sqlite:PATH\n", o->sink);
        return -1;
    }
    if (!enc_sql_identifier_ok(o->table)) {
        fprintf(stderr, "encore run: --table '%s' must be letters, digits and _ (not starting with a digit)\n",
                o->table);
        return -1;
    }
    if (strcmp(o->sync, "full") != 0 && strcmp(o->sync, "normal") != 0) {
        fprintf(stderr, "encore run: --sync '%s' is not valid; use full or normal\n", o->sync);
        return -1;
    }
    if (o->batch_events < 1 || o->max_record < 64 || o->max_record > (256 << 20)) {
        fprintf(stderr, "encore run: --batch-events must be >= 1 and --max-record between 64 and 256M\n");
        return -1;
    }
    return 0;
}

/* Warnings of a table loaded on another thread, kept to be printed once it is done, so
 * that they come out in the order a load on one thread gives (songs', then users'). */
typedef struct {
    char **msgs;
    size_t n, cap;
} warn_list;

static void collect_warning(void *arg, const char *msg)
{
    warn_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = enc_realloc(l->msgs, cap * sizeof *grown);
        if (!grown)
            return; /* a warning lost to a lack of memory the load itself will report */
        l->msgs = grown;
        l->cap = cap;
    }
    if ((l->msgs[l->n] = enc_strdup(msg)) != NULL)
        l->n++;
}

static void replay_warnings(warn_list *l, warn_state *w)
{
    for (size_t i = 0; i < l->n; i++) {
        if (w)
            print_warning(w, l->msgs[i]);
        enc_free(l->msgs[i]);
    }
    enc_free(l->msgs);
}

typedef struct {
    const char *path;
    enc_users *users;
    enc_status status;
    enc_err err;
    warn_list warns;
} users_load;

static void *load_users(void *arg)
{
    users_load *u = arg;
    u->status = enc_users_load(&u->users, u->path, collect_warning, &u->warns, &u->err);
    return NULL;
}

/* users.csv (the big one: 1M users load in about 0.35 s) on a second thread while this
 * one loads songs.csv; the pipeline starts once both are in. */
static int load_dimensions(const run_opts *o, warn_state *w, enc_songs **songs, enc_users **users)
{
    users_load u = {.path = o->users};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, load_users, &u) == 0;
    enc_err err = {{0}};
    enc_status st = enc_songs_load(songs, o->songs, print_warning, w, &err);
    if (threaded)
        pthread_join(th, NULL);
    else if (st == ENC_OK)
        load_users(&u);
    if (st != ENC_OK) { /* as when loaded one after the other: nothing about users.csv */
        fprintf(stderr, "encore run: %s\n", err.msg);
        replay_warnings(&u.warns, NULL);
        enc_users_free(u.users);
        return -1;
    }
    replay_warnings(&u.warns, w);
    if (u.status != ENC_OK) {
        fprintf(stderr, "encore run: %s\n", u.err.msg);
        enc_songs_free(*songs);
        *songs = NULL;
        return -1;
    }
    *users = u.users;
    return 0;
}

/* Loads the rules (or the default set) and makes the evaluator; checks the reference data. */
static int setup_quality(const run_opts *o, warn_state *w, const enc_songs *songs, const enc_users *users,
                         enc_rules **rules, enc_quality **q)
{
    enc_err err = {{0}};
    enc_status st = o->rules ? enc_rules_load(o->rules, rules, &err) : enc_rules_default(rules, &err);
    if (st != ENC_OK) {
        fprintf(stderr, "encore run: %s\n", err.msg);
        return -1;
    }
    enc_quality_config qc = {.rules = *rules, .songs = songs, .users = users,
                             .watermark_us = o->watermark_ms * 1000, .stop_on_fail = true};
    if (enc_quality_new(q, &qc, &err) != ENC_OK) {
        fprintf(stderr, "encore run: %s\n", err.msg);
        enc_rules_free(*rules);
        *rules = NULL;
        return -1;
    }
    enc_quality_check_reference(*q, print_warning, w);
    return 0;
}

static void print_summary(const enc_pipeline_stats *st, bool progress_shown)
{
    if (progress_shown)
        fputc('\n', stderr);
    double rate = st->seconds > 0 ? (double)st->events / st->seconds : 0;
    printf("encore: %lld files, %lld events read, %lld rows written, %lld quarantined, %lld rescued, "
           "%lld duplicates, %lld batches, %.2f s, %.0f events/s\n",
           (long long)st->files, (long long)st->events, (long long)st->rows, (long long)st->quarantined,
           (long long)st->rescued, (long long)st->duplicates, (long long)st->batches, st->seconds, rate);
    if (st->pending[0])
        printf("encore: note: %s\n", st->pending);
}

int enc_cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    enc_err err = {{0}};
    enc_opts_result r = enc_opts_parse("encore run", run_table, NOPTS, argc, argv, &o, &err);
    if (r == ENC_OPTS_HELP) {
        enc_opts_print_help(stdout, "encore run --events DIR --songs FILE --users FILE [--sink sqlite:PATH] [--once]",
                            "Ingest JSON playback events as they land, enrich them with songs and users, and write\n"
                            "them to MUSIC_EVENTS exactly once (the checkpoint commits with the rows).",
                            run_table, NOPTS);
        return ENC_EXIT_OK;
    }
    if (r == ENC_OPTS_ERROR) {
        fprintf(stderr, "%s\n", err.msg);
        return ENC_EXIT_USAGE;
    }
    const enc_sink_ops *sink;
    const char *target;
    if (validate(&o, &sink, &target) != 0)
        return ENC_EXIT_USAGE;
    /* From here on SIGINT/SIGTERM ask for a clean stop (exit 0), even during loading. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Past a file-size limit (ulimit -f) write() must fail with EFBIG, which the sink
     * reports, rather than SIGXFSZ killing the process without a word. */
    signal(SIGXFSZ, SIG_IGN);

    warn_state w = {.quiet = o.quiet};
    enc_songs *songs = NULL;
    enc_users *users = NULL;
    if (load_dimensions(&o, &w, &songs, &users) != 0)
        return ENC_EXIT_USAGE;
    enc_rules *rules = NULL;
    enc_quality *quality = NULL;
    if (setup_quality(&o, &w, songs, users, &rules, &quality) != 0) {
        enc_songs_free(songs);
        enc_users_free(users);
        return ENC_EXIT_USAGE;
    }

    FILE *commit_log = NULL;
    if (o.commit_log && !(commit_log = fopen(o.commit_log, "ae"))) {
        fprintf(stderr, "encore run: cannot open --commit-log '%s': %s\n", o.commit_log, strerror(errno));
        enc_quality_free(quality);
        enc_rules_free(rules);
        enc_songs_free(songs);
        enc_users_free(users);
        return ENC_EXIT_USAGE;
    }
    bool progress = !o.quiet && isatty(STDERR_FILENO);
    enc_pipeline_config cfg = {
        .source = &enc_source_dir,
        .source_cfg = {.location = o.events, .once = o.once, .allow_overwrites = o.allow_overwrites,
                       .settle_ms = o.settle_ms, .poll_ms = o.poll_ms > 0 ? o.poll_ms : 1,
                       .batch_events = o.batch_events, .batch_bytes = 64 << 20, .max_record = o.max_record,
                       .warn = print_warning, .warn_arg = &w},
        .sink = sink,
        .sink_target = target,
        .sink_cfg = {.table = o.table, .pipeline = o.table, .durable = strcmp(o.sync, "full") == 0},
        .songs = songs,
        .users = users,
        .aggregates = !o.no_aggregates,
        .watermark_us = o.watermark_ms * 1000,
        .quality = quality,
        .stop = &stop_flag,
        .progress = progress ? print_progress : NULL,
        .committed = commit_log ? log_commit : NULL,
        .committed_arg = commit_log,
    };
    enc_pipeline_stats st;
    enc_status rc = enc_pipeline_run(&cfg, &st, &err);
    if (commit_log)
        fclose(commit_log);
    if (w.count > MAX_WARNINGS_SHOWN && !o.quiet)
        fprintf(stderr, "encore: %ld more warnings not shown\n", w.count - MAX_WARNINGS_SHOWN);
    bool rule_failed = enc_quality_stopped(quality);
    enc_quality_free(quality);
    enc_rules_free(rules);
    enc_songs_free(songs);
    enc_users_free(users);
    if (rc != ENC_OK && st.started == false) {
        fprintf(stderr, "encore run: %s\n", err.msg);
        return ENC_EXIT_USAGE; /* the sink or source could not be opened: a setup problem */
    }
    print_summary(&st, progress);
    if (rc != ENC_OK) {
        /* A `fail` rule's line names the rule, the event's file and line; the batch was not committed. */
        fprintf(stderr, rule_failed ? "encore: %s\n" : "encore run: %s\n", err.msg);
        return ENC_EXIT_FAIL;
    }
    return ENC_EXIT_OK;
}
