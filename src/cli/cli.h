/* cli.h — the `wagi` binary's commands, dispatched by main.c. Each takes
 * the arguments after its own name (wagi_cmd_server: the whole argv, whose
 * argv[0] is the program name) and returns the process exit status. */
#ifndef WAGI_CLI_CLI_H
#define WAGI_CLI_CLI_H

#include <stdio.h>

/* run.c: `wagi run [OPTIONS] MODULE.wasm [ARG...]`, a WASI command module. */
int wagi_cmd_run(int argc, char **argv);

/* server_flags.c: `wagi -c modules.toml [OPTIONS]`, the WAGI server. Returns
 * 0 after a clean shutdown, 1 on a flag or startup error (printed). */
int wagi_cmd_server(int argc, char **argv);
/* Prints the server's usage text (every flag, its default and env var). */
void wagi_cmd_server_usage(FILE *out);
/* 1 if `arg` (argv[1] of `wagi`) is a server flag such as -c/--config. */
int wagi_cmd_is_server_arg(const char *arg);

#endif
