/* cmd — the CLI's commands. Each parses its own flags (an enc_opt table), calls the
 * library, prints, and returns the process exit status: 0 success, 1 the job found a
 * problem (a failed check), 2 bad usage or a setup error (bad flag, missing file). */
#ifndef ENC_CMD_H
#define ENC_CMD_H

#define ENC_VERSION "0.1.0"

#define ENC_EXIT_OK 0
#define ENC_EXIT_FAIL 1
#define ENC_EXIT_USAGE 2

int enc_cmd_run(int argc, char **argv);
int enc_cmd_gen(int argc, char **argv);
int enc_cmd_top(int argc, char **argv);
int enc_cmd_wrapped(int argc, char **argv);
int enc_cmd_check(int argc, char **argv);

#endif
