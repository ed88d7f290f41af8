/* SPDX-License-Identifier: MIT */
/*
 * prog_run: what the psock-run tests (test_psock_run, its seccomp mode's
 * test_psock_run_seccomp) need besides the harness: programs run (as
 * nobody, through setpriv) with their output in files, psockd's audit
 * trail searched, and small servers of the host's namespace (HTTP, UDP
 * echo, traps no one may reach). Functions fail the cmocka test on error.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* 0777: where runs write their output and run (set it first). */
extern char run_files[96];

struct run {
  const char *tag;              /* names the output files */
  bool nobody;                  /* through setpriv as nobody */
  const char *const *argv;      /* argv[0] is a path */
  const char *const *extra_env; /* "NAME=value", NULL-terminated */
  const char *stdin_text;       /* NULL: /dev/null */
  const char *cwd;              /* NULL: run_files */
  pid_t pid;
  int status;
  char *out, *err;
  char outpath[PATH_MAX], errpath[PATH_MAX];
};

long long now_ms(void);
void sleep_ms(int ms);
void write_text(const char *path, const char *text, mode_t mode);
/* The first of /usr/bin, /bin, /usr/sbin, /sbin that has name. */
const char *system_program(const char *name);

/* Start r (argv with setpriv in front for nobody), stdio in files of
 * run_files named by its tag. */
void start(struct run *r);
/* Wait (bounded) and read its output; false after a timeout (killed). */
bool finish(struct run *r, int timeout_ms);
void show(const struct run *r);
void run_free(struct run *r);
int exit_code(const struct run *r);
void assert_has(const struct run *r, const char *text, const char *want);
void assert_lacks(const struct run *r, const char *text, const char *unwanted);
void assert_exit(const struct run *r, int want);
/* Run to completion as nobody (RUN_TIMEOUT_MS). */
#define RUN_TIMEOUT_MS 30000
void run_nobody(struct run *r);

/* A line of psockd's audit trail with every one of words (a
 * NULL-terminated list: AUDIT("call=socket", ...)), or fail. */
void assert_audit(const struct psockd_proc *p, const struct run *r,
                  const char *const *words);
#define AUDIT(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A forked HTTP server on host:*port (0: an ephemeral one, stored) that
 * answers every request with body. */
pid_t start_http(const char *host, uint16_t *port, const char *body);
/* A forked UDP echo server on 127.0.0.1; its port in *port. */
pid_t start_udp_echo(uint16_t *port);
/* Did anything reach a trap, a socket of this process no one may reach
 * (harness_loopback_socket())? */
bool trap_reached(int fd, int type);
void stop_pid(pid_t pid);

/* GET / from 127.0.0.1:80 of the network namespace of process pid (a
 * psockd of its own), the answer in buf. False if nothing answered. */
bool fetch_port80(pid_t pid, char *buf, size_t len);
/* A listener on 127.0.0.1 whose queue is full (its port in *port, the
 * connection that fills it in *filler): a connect() to it cannot
 * complete. Returns the listener. */
int full_listener(uint16_t *port, int *filler);

/* Copy the file $var names into work/name (0755), its path into dst. */
void copy_in(const char *work, const char *var, const char *name, char *dst);
/* Build tests/integration/go/NAME offline (TESTING.md: Debian's
 * golang-go, no modules), with cgo or not, into work; its path in dst. */
void go_build(const char *work, const char *name, bool cgo, char *dst);
