/* main — `encore COMMAND [OPTIONS]`: picks the command and hands it its arguments. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", enc_cmd_run, "ingest event files into the warehouse, exactly once (watch or --once)"},
    {"gen", enc_cmd_gen, "generate a realistic sample: songs.csv, users.csv, events/*.json"},
    {"top", enc_cmd_top, "print a chart: top songs, artists, genres, countries or devices over a period"},
    {"wrapped", enc_cmd_wrapped, "one user's year in music: minutes, top songs, artists, genre and device"},
    {"check", enc_cmd_check, "data-quality report (--sink), or a dry run of the rules over files (--events)"},
};

static void usage(FILE *out)
{
    fprintf(out, "encore %s — real-time music playback analytics pipeline\n\n"
                 "usage: encore COMMAND [OPTIONS]\n\ncommands:\n", ENC_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`encore COMMAND --help` describes each command's options.\n");
}

int main(int argc, char **argv)
{
    enc_alloc_init();
    if (argc < 2) {
        usage(stderr);
        return ENC_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return ENC_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("encore %s\n", ENC_VERSION);
        return ENC_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "encore: unknown command '%s'; run `encore --help` for the list\n", name);
    return ENC_EXIT_USAGE;
}
