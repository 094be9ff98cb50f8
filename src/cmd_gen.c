/* cmd_gen — `encore gen`: flags into enc_gen_opts, one run of the generator, one summary line. */
#include <stddef.h>
#include <stdio.h>

#include "cmd.h"
#include "gen.h"
#include "opts.h"

static const enc_opt gen_opts[] = {
    {"out", ENC_OPT_STR, "DIR", NULL, offsetof(enc_gen_opts, out_dir), true,
     "directory for songs.csv, users.csv and events/part-NNNNN.json (created if missing)"},
    {"events", ENC_OPT_INT, "N", "100000", offsetof(enc_gen_opts, events), false, "play events to generate"},
    {"files", ENC_OPT_INT, "K", "10", offsetof(enc_gen_opts, files), false,
     "event files, each the next slice of the year in time order"},
    {"songs", ENC_OPT_INT, "N", "1000", offsetof(enc_gen_opts, songs), false, "songs in the catalogue (artists: N/8)"},
    {"users", ENC_OPT_INT, "N", "1000", offsetof(enc_gen_opts, users), false, "users"},
    {"seed", ENC_OPT_INT, "S", "42", offsetof(enc_gen_opts, seed), false,
     "random seed: the same flags and seed give byte-identical files"},
    {"year", ENC_OPT_INT, "Y", "2025", offsetof(enc_gen_opts, year), false, "calendar year the plays fall in (UTC)"},
    {"days", ENC_OPT_INT, "N", "0", offsetof(enc_gen_opts, days), false,
     "only the first N days of the year (0: all of it); a denser stream, as a live service sees"},
};
#define N_GEN_OPTS (sizeof gen_opts / sizeof gen_opts[0])

int enc_cmd_gen(int argc, char **argv)
{
    enc_gen_opts o = {0};
    enc_err err = {{0}};
    switch (enc_opts_parse("encore gen", gen_opts, N_GEN_OPTS, argc, argv, &o, &err)) {
    case ENC_OPTS_HELP:
        enc_opts_print_help(stdout, "encore gen --out DIR [OPTIONS]",
                            "Generate a realistic, deterministic sample: a song catalogue, a user base and a year of\n"
                            "play events as NDJSON, including a small share (under 1 %) of imperfect events.",
                            gen_opts, N_GEN_OPTS);
        return ENC_EXIT_OK;
    case ENC_OPTS_ERROR:
        fprintf(stderr, "%s\n", err.msg);
        return ENC_EXIT_USAGE;
    case ENC_OPTS_OK:
        break;
    }
    enc_gen_stats st;
    if (enc_gen_run(&o, &st, &err) != ENC_OK) {
        fprintf(stderr, "encore gen: %s\n", err.msg);
        return ENC_EXIT_USAGE;
    }
    printf("encore gen: wrote %lld files, %lld events, %lld songs, %lld users to %s in %.2f s\n",
           (long long)st.files, (long long)st.events, (long long)o.songs, (long long)o.users, o.out_dir,
           st.seconds);
    return ENC_EXIT_OK;
}
