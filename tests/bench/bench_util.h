/* SPDX-License-Identifier: MIT */
/*
 * Support for psock-bench: clocks and statistics, CPU placement, child
 * processes run as an unprivileged user, a psockd of its own (optionally in
 * private namespaces with a name service that never answers), and reading
 * a process tree's memory from /proc.
 *
 * Everything here runs as root in the benchmark's own processes; a child
 * that is to act as a client gives up root with bench_become() first.
 */
#ifndef PSOCK_BENCH_UTIL_H
#define PSOCK_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The unprivileged user the clients (and psockd's workers) run as. */
#define BENCH_UID 65534
#define BENCH_GID 65534

/* ------------------------------------------------------------- clocks */

uint64_t bench_now_ns(void);
void bench_sleep_ms(int ms);

/* ------------------------------------------------------------ statistics */

/* Sort v[0..n) ascending. */
void bench_sort(double *v, size_t n);
/* The p-quantile (0..1) of sorted v, nearest rank. 0 if n is 0. */
double bench_quantile(const double *sorted, size_t n, double p);
/* Median of v[0..n) (sorts a copy). */
double bench_median(const double *v, size_t n);

/* ------------------------------------------------------------ placement */

/* Pin the calling thread to cpu. 0 or -errno. */
int bench_pin_self(int cpu);
/* Pin every thread of process pid to cpu (-1: every CPU). 0 or -errno. */
int bench_pin_process(pid_t pid, int cpu);
/* The CPUs this machine has online. */
int bench_ncpus(void);

/* ---------------------------------------------------------- processes */

/* Shared anonymous memory that forked children can write; never NULL. */
void *bench_shared(size_t size);
void bench_unshare(void *p, size_t size);

/* fork(); the child runs fn(arg) and _exit()s with its result. */
pid_t bench_spawn(int (*fn)(void *), void *arg);
/* Wait at most timeout_ms for pid: its exit status (0..255), 128+signal,
 * or -1 after killing it on timeout. */
int bench_wait(pid_t pid, int timeout_ms);
/* SIGKILL pid and reap it. Ignores pid <= 0. */
void bench_kill(pid_t pid);

/* In a child: no supplementary groups, uid/gid BENCH_UID/BENCH_GID, die
 * with the parent. 0 or -errno. */
int bench_become_user(void);

/* Bring the loopback interface of the current network namespace up. */
int bench_loopback_up(void);

/* ---------------------------------------------------------------- psockd */

#define BENCH_NS_NET 0x1      /* psockd in a private network namespace */
#define BENCH_NS_STALLDNS 0x2 /* ... whose resolver never answers */

struct bench_psockd {
  pid_t pid;    /* master */
  pid_t holder; /* process holding the private namespaces, or 0 */
  char dir[64];
  char sock[96];
  char log[96];
};

/*
 * Start psockd (binary at path) on DIR/psockd.sock with --policy policy,
 * --workers workers (per client identity), --socket-mode=0666 (clients run
 * as BENCH_UID), --worker-idle=3600 (a worker, once started, stays for the
 * run), and extra (NULL-terminated, may be NULL). dir is a fresh directory
 * (mode 0755) owned by the caller. With BENCH_NS_NET psockd runs in a
 * network namespace of its own (loopback up); with BENCH_NS_STALLDNS it
 * also runs in a mount namespace whose resolv.conf names a DNS server on
 * 127.0.0.1:53 in that network namespace that reads every query and never
 * answers (each lookup stalls until the resolver's timeout of
 * dns_timeout_s). Waits until the socket accepts and psockd-spawn runs:
 * workers start with the first connection of their identity (the check
 * of the socket is root's, so root has one). 0 or -errno; on failure
 * psockd's log is printed.
 */
int bench_psockd_start(struct bench_psockd *p, const char *path,
                       const char *dir, const char *policy, unsigned workers,
                       unsigned flags, int dns_timeout_s,
                       const char *const *extra);
void bench_psockd_stop(struct bench_psockd *p);
/* psockd's processes (any depth) whose title starts with title
 * ("psockd-worker uid=65534 ", "psockd-resolver", ...): their count, the
 * first max pids in out. */
int bench_psockd_procs(const struct bench_psockd *p, const char *title,
                       pid_t *out, int max);
/* Every worker's pid (title "psockd-worker uid=U id=N", children of
 * psockd-spawn), of any identity. */
int bench_psockd_workers(const struct bench_psockd *p, pid_t *out, int max);
/* psockd-priv's pid (child of the master started with --role=priv). */
int bench_psockd_priv(const struct bench_psockd *p, pid_t *out, int max);
/* psockd-spawn's pid: the workers it forks inherit its CPU placement. */
int bench_psockd_spawn(const struct bench_psockd *p, pid_t *out, int max);
/* Join the network namespace psockd runs in (for BENCH_NS_NET). */
int bench_psockd_enter_netns(const struct bench_psockd *p);

/* ---------------------------------------------------------------- memory */

/* Sum of VmRSS (KiB) of pid and all its descendants, or -1. Pages that
 * forked processes share count once per process. */
long bench_tree_rss_kib(pid_t pid);
/* Sum of their PSS (KiB): each shared page split among its sharers. */
long bench_tree_pss_kib(pid_t pid);

/* ------------------------------------------------------------- helpers */

/* Does an executable named name exist on PATH? Its path in buf. */
bool bench_find_program(const char *name, char *buf, size_t len);
/* Write text to path (created 0644). 0 or -errno. */
int bench_write_file(const char *path, const char *text);
/* Copy src to dst with mode. 0 or -errno. */
int bench_copy_file(const char *src, const char *dst, unsigned mode);

#endif /* PSOCK_BENCH_UTIL_H */
