/* cli.h — the `wagi` binary's commands, dispatched by main.c. Each takes
 * the arguments after its own name (wagi_cmd_server: the whole argv, whose
 * argv[0] is the program name) and returns the process exit status. */
#ifndef WAGI_CLI_CLI_H
#define WAGI_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* eventgrid.c: `wagi eventgrid -c TOPIC.toml [--listen IP:PORT]`, a local
 * Event Grid topic. 0 after SIGINT/SIGTERM, 1 on a usage, config or startup
 * error (printed). */
int wagi_cmd_eventgrid(int argc, char **argv);

/* compile.c: `wagi compile`, and loading a module for a tier (.wasm/.wat on
 * the interpreter, or compiled to native code for WAGI_TIER_AOT; .wasmc
 * natively). Prints the error and returns -1 on failure. */
typedef enum { WAGI_TIER_AUTO = 0, WAGI_TIER_INTERP, WAGI_TIER_AOT } wagi_tier;
int wagi_cmd_compile(int argc, char **argv);
void wagi_cmd_compile_usage(FILE *out);
struct wasm_module;
int wagi_cmd_load_module(const char *path, wagi_tier tier, struct wasm_module **out);
/* A cache of native code must be private: created 0700 if missing; one
 * writable by group/others or owned by someone else is refused. */
int wagi_cmd_check_cache_dir(const char *dir, char *err, size_t errlen);
void wagi_cmd_eventgrid_usage(FILE *out);

/* flags.c: values both the server's flags and `wagi run` take. */
/* SIZE: bytes, or a number with K, M, G (also KB/KiB...: always powers of
 * 1024). Returns 0 with *out set, or -1. */
int wagi_cmd_parse_size(const char *s, uint64_t *out);
/* --max-memory SIZE from 64K to 4G, into 64 KiB pages (rounded down).
 * Returns 0, or -1 with a sentence naming `flag` in err; with pages_hint
 * (`wagi run`, whose flag used to count pages) a small bare number is
 * answered with how to write that many pages as a size. */
int wagi_cmd_parse_memory(const char *flag, const char *s, bool pages_hint, uint32_t *pages,
                          char *err, size_t errlen);

#endif
