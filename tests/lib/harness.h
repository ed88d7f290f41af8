/* SPDX-License-Identifier: MIT */
/*
 * Test support for the integration tests: cmocka programs that run as root,
 * start a real psockd on a private socket, and run client code as the
 * unprivileged user nobody (uid 65534), optionally inside an empty network
 * namespace.
 *
 * Functions named harness_start_* / harness_stop_* / harness_assert_* (and
 * those whose comment says so) run in the cmocka test process and fail the
 * current test (cmocka) when something goes wrong.
 * Functions passed to harness_run_as_nobody() run in a forked child: they
 * must not use cmocka's assert_* (a failure there would unwind into the
 * child's copy of the test runner); they use CHECK() and return non-zero.
 */
#ifndef PSOCK_TEST_HARNESS_H
#define PSOCK_TEST_HARNESS_H

#include <psock/psock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ------------------------------------------------------------- psockd */

struct psockd_proc;

/*
 * Start the psockd binary named by $PSOCKD (set by meson) on a socket in a
 * fresh directory /tmp/psock-test.XXXXXX (mode 0755, so that nobody can
 * reach it wherever the build tree lives). Arguments: --socket DIR/psockd.sock
 * --verbose, then extra_args (NULL-terminated, may be NULL). stderr and
 * stdout go to DIR/psockd.log. Waits (at most 5 s) until the socket accepts
 * a connection, then sets PSOCK_SOCKET in this process's environment so
 * that children inherit it. Fails the test on any error.
 *
 * With $PSOCKD_WRAPPER set (e.g. "valgrind --trace-children=yes ..."),
 * psockd runs under that command, with --no-seccomp (valgrind cannot run
 * a filtered worker), and every time limit of the harness on psockd is ten
 * times longer.
 */
struct psockd_proc *harness_start_psockd(const char *const *extra_args);

/* Flags of harness_start_psockd_flags(). */
/* psockd in a network namespace of its own with lo up and
 * net.ipv4.ping_group_range "0 2147483647" (as Debian with systemd sets
 * it), for ICMP datagram sockets without touching the host's setting.
 * Servers of the host's namespace are not reachable from it. */
#define HARNESS_PSOCKD_OWN_NETNS 0x1
/* psockd as pid 1 of a pid namespace of its own (a middle process, the one
 * harness_psockd_pid() names, forwards SIGTERM to it and exits with its
 * status): clients of the test's namespace have no pid there, so psockd
 * cannot read their cgroup (their systemd unit). */
#define HARNESS_PSOCKD_OWN_PIDNS 0x2

struct psockd_proc *harness_start_psockd_flags(int flags,
                                               const char *const *extra_args);

/*
 * harness_start_psockd() without --policy: psockd's built-in default
 * policy, what a user gets with no configuration. psockd would read
 * /etc/psockd/policy.conf where there is one, so an empty read-only tmpfs
 * is mounted over /etc/psockd first: call harness_private_name_service()
 * (which gives this process a private mount namespace) before. Waits
 * until psockd's log says it uses the default policy.
 */
struct psockd_proc *
harness_start_psockd_default_policy(const char *const *extra_args);

/*
 * SIGTERM psockd and wait (at most 10 s). Fails the test, after printing
 * the daemon's log, unless psockd exited with status 0, removed its socket
 * and its log holds no report of AddressSanitizer, LeakSanitizer (which
 * each of its processes runs as it exits, in an ASan build),
 * UndefinedBehaviorSanitizer or valgrind (a non-zero "ERROR SUMMARY").
 * Removes the directory and frees p. NULL is ignored.
 */
void harness_stop_psockd(struct psockd_proc *p);

pid_t harness_psockd_pid(const struct psockd_proc *p);
/* The socket path and the private directory (mode 0755) it lives in. */
const char *harness_psockd_socket(const struct psockd_proc *p);
const char *harness_psockd_dir(const struct psockd_proc *p);

/* psockd's log so far, NUL-terminated; the caller frees it. Never NULL. */
char *harness_psockd_log(const struct psockd_proc *p);

/* Print psockd's log to stderr, framed, for a failing test's record. */
void harness_print_psockd_log(const struct psockd_proc *p);

/* Number of entries in /proc/PID/fd, or -1 if it cannot be read. */
int harness_count_fds(pid_t pid);

/*
 * Open fds of psockd and of every process descended from it (psockd-priv,
 * psockd-spawn, workers and their resolvers), or -1 on error.
 */
int harness_psockd_fd_total(const struct psockd_proc *p);

/*
 * psockd's processes whose command line starts with title ("psockd-worker",
 * "psockd-resolver", "psockd --role=priv", ...): their count, and the first
 * max pids in ret (ret may be NULL). -1 on error. A child forked a moment
 * ago that still bears its parent's title is not counted.
 */
int harness_psockd_procs(const struct psockd_proc *p, const char *title,
                         pid_t *ret, size_t max);

/* pid's command line, arguments joined by spaces. False if it is gone. */
bool harness_proc_title(pid_t pid, char *buf, size_t len);

/*
 * Wait (up to 15 s) until every worker has retired (the harness starts
 * psockd with --worker-idle=1 unless told otherwise) and return psockd's
 * fd total then: with no client and no worker it must equal the total
 * right after the start. -1 if workers are still there.
 */
int harness_psockd_idle_fds(const struct psockd_proc *p);

/* --------------------------------------------------- clients as nobody */

#define HARNESS_NOBODY_UID 65534
#define HARNESS_NOBODY_GID 65534

/* Flags of harness_run_as_nobody(). */
#define HARNESS_EMPTY_NETNS 0x1 /* unshare(CLONE_NEWNET) before dropping */

/* Negative results of harness_run_as_nobody() that are not a signal. */
#define HARNESS_CHILD_TIMEOUT (-1000) /* ran too long: killed */
#define HARNESS_CHILD_FORK_FAILED (-1001)
#define HARNESS_CHILD_SETUP_FAILED (-1002) /* could not become nobody */
#define HARNESS_CHILD_TIMEOUT_S 20

/*
 * fork(); in the child: close every fd above 2 (a sandboxed client starts
 * with nothing of ours), optionally enter a new, empty network namespace
 * (only lo, down) while still root, drop to uid/gid 65534 with no
 * supplementary groups and no capabilities, stay dumpable (so LeakSanitizer
 * still works), check all of that, run fn(arg) and exit() with its result.
 * The parent waits at most HARNESS_CHILD_TIMEOUT_S seconds.
 *
 * Returns 0 if fn returned 0 and the child exited 0; fn's non-zero return
 * value (CHECK returns a line number) in full; the child's exit status if
 * fn returned 0 but the exit failed (a sanitizer report); -SIGNO if the
 * child died of a signal; HARNESS_CHILD_TIMEOUT, HARNESS_CHILD_FORK_FAILED
 * or HARNESS_CHILD_SETUP_FAILED. Every failure is explained on stderr.
 */
int harness_run_as_nobody(int flags, int (*fn)(void *), void *arg);

/*
 * As harness_run_as_nobody(), but the child stays root with every
 * capability: for what psockd's policy lets root do that it refuses nobody.
 */
int harness_run_as_root(int flags, int (*fn)(void *), void *arg);

/*
 * As harness_run_as_nobody(), but the child becomes uid/gid with exactly
 * the supplementary groups groups[0..n_groups) (none if n_groups is 0),
 * and no capabilities unless uid is 0: for policy rules on users and
 * groups. The setup is checked as for nobody.
 */
int harness_run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                   int flags, int (*fn)(void *), void *arg);

/*
 * As harness_run_as(), but without waiting: the child runs fn(arg) while
 * the test goes on (a client that holds a connection, or one half of two
 * clients that must overlap in time). Returns the child's pid, or -1
 * (explained on stderr). Collect it with harness_wait(); at most 8 at once.
 */
pid_t harness_start_as(uid_t uid, gid_t gid, const gid_t *groups,
                       size_t n_groups, int flags, int (*fn)(void *),
                       void *arg);

/*
 * Wait at most timeout_s for a client of harness_start_as() (killed after
 * that) and return its result as harness_run_as_nobody() does.
 */
int harness_wait(pid_t pid, int timeout_s);

/* Print a failed CHECK(): file:line, the expression, the psock error. */
void harness_check_failed(const char *file, int line, const char *expr);

/*
 * For functions run by harness_run_as_nobody(): on failure, print where
 * and why (including psock_last_error_message()) and return the line
 * number from the enclosing function.
 */
#define CHECK(expr)                                                            \
  do {                                                                         \
    if (!(expr)) {                                                             \
      harness_check_failed(__FILE__, __LINE__, #expr);                         \
      return __LINE__;                                                         \
    }                                                                          \
  } while (0)

/* -------------------------------------------------- a local echo server */

struct harness_echo;

/*
 * Start a TCP echo server on 127.0.0.1, on an ephemeral port, in the host's
 * network namespace. It echoes every byte of every connection until the
 * peer shuts down. The port is stored in *ret_port. Fails the test on
 * error.
 *
 * The server is a forked process, not a thread, so that the test process
 * stays single-threaded: the children of harness_run_as_nobody() then
 * inherit no thread that LeakSanitizer cannot stop.
 */
struct harness_echo *harness_start_echo(uint16_t *ret_port);

/* Number of connections the echo server has accepted so far. */
unsigned harness_echo_connections(const struct harness_echo *e);

/* Stop the server, close every socket, free e. NULL is ignored. */
void harness_stop_echo(struct harness_echo *e);

/* ------------------------------------------------ a private name service */

/*
 * Give this process, and every process it starts from now on (psockd and
 * its workers, clients, servers), a private mount namespace in which
 * /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf hold the given texts
 * (NULL leaves that file as it is). Each text is written to a fresh file
 * and bind-mounted over the system's (following a symlink, as mount(2)
 * does); the host's files are not changed and no process outside this tree
 * sees the difference. Then name lookups in tests never depend on the
 * machine's resolver, and a resolver the test controls (a nameserver in
 * 127.0.0.0/8) is what psockd and the test process both use. Call it in a
 * test program's setup, before harness_start_psockd(). Fails the test on
 * error.
 */
void harness_private_name_service(const char *hosts, const char *resolv_conf,
                                  const char *nsswitch_conf);

/* ------------------------------------------------------------ helpers */

/*
 * Copy the file src to dst (created or truncated) with the given mode, so
 * that nobody can run a build product from a directory it can reach.
 * Returns 0, or -1 with errno.
 */
int harness_copy_file(const char *src, const char *dst, mode_t mode);

/* The whole text of path (malloc'ed; "" if it cannot be read; aborts when
 * out of memory, so never NULL). */
char *harness_read_text(const char *path);

/* A socket of type bound to 127.0.0.1 on a free port (and listening, for
 * SOCK_STREAM), non-blocking and close-on-exec; its port in *ret_port.
 * Fails the cmocka test on error. */
int harness_loopback_socket(int type, uint16_t *ret_port);

/* -------------------------------- shared tools (tests/lib/harness_tools.c) */

/* CLOCK_MONOTONIC in milliseconds. */
double harness_now_ms(void);

/*
 * Stop a test's own psockd p (harness_stop_psockd()) and let PSOCK_SOCKET
 * name back_to's socket again, for the clients that follow. Fails the test.
 */
void harness_stop_own_psockd(struct psockd_proc *p,
                             const struct psockd_proc *back_to);

/*
 * size bytes of zeroed memory shared with every child forked from now on:
 * where a client and the test process tell each other how far they are.
 * Fails the test. Release it with munmap().
 */
void *harness_shared_memory(size_t size);

/* Wait until *flag (in harness_shared_memory()) is at least want; false
 * after timeout_ms. Safe in a client. */
bool harness_wait_flag(volatile int *flag, int want, int timeout_ms);

/*
 * Fail the test unless r, a result of harness_run_as*() or harness_wait(),
 * is 0: "WHAT failed (R; see stderr)", after printing p's log (p may be
 * NULL: the client talked to no psockd of the test's).
 */
void harness_assert_child(const struct psockd_proc *p, int r, const char *what);

/* How many times p's log says text so far. */
unsigned harness_psockd_log_count(const struct psockd_proc *p,
                                  const char *text);

/* Does p's log say text at least n times, within timeout_ms (0: now)? */
bool harness_psockd_logged(const struct psockd_proc *p, const char *text,
                           unsigned n, int timeout_ms);

/* As harness_psockd_logged(), but fail the test (p's log printed) if not. */
void harness_assert_logged(const struct psockd_proc *p, const char *text,
                           unsigned n, int timeout_ms);

/*
 * The one process of p titled title (a prefix, as harness_psockd_procs()
 * takes it), waiting up to timeout_ms for it to appear and for others of
 * that title to go (a worker that retires may overlap with its successor
 * for a moment). 0 if there is not exactly one by then (said on stderr).
 * Safe in a client.
 */
pid_t harness_psockd_one_proc(const struct psockd_proc *p, const char *title,
                              int timeout_ms);

/*
 * For CHECK() in a client: the last psock error is (kind, code) and, if
 * text is not NULL, its message holds text. Says what it got otherwise.
 */
bool harness_last_error(int kind, int code, const char *text);

/*
 * Write a policy file: rules, then, if with_default, the built-in default
 * policy (as `$PSOCKD --dump-policy` prints it). It is written beside path
 * and renamed into place, so that a psockd reading path (at its start or on
 * SIGHUP) never sees half of it. Fails the test.
 */
void harness_write_policy(const char *path, const char *rules,
                          bool with_default);

/*
 * A private name service (harness_private_name_service()) whose /etc/hosts
 * knows localhost only, and whose one name server never answers: a UDP
 * socket bound to port 53 of 127.NET.X.Y (X.Y from the pid: test programs
 * running at the same time, here or in another checkout, each get their
 * own) that nobody reads. A lookup of any other name takes timeout_s
 * seconds ("options timeout:T attempts:1"): long enough to hold lookups in
 * flight on purpose. hosts is nsswitch.conf's hosts line ("files dns").
 * Returns the socket (close it at the end); the resolv.conf text goes to
 * ret_resolv (at least 128 bytes). Fails the test.
 */
int harness_silent_name_service(unsigned net, int timeout_s, const char *hosts,
                                char *ret_resolv, size_t size);

/* The /etc/hosts of harness_silent_name_service(). */
#define HARNESS_HOSTS_LOCALHOST                                                \
  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"

/* An nsswitch.conf with files for all but hosts. passwd and group too:
 * psockd looks its service user up. */
#define HARNESS_NSSWITCH_FMT                                                   \
  "passwd: files\ngroup: files\nshadow: files\nhosts: %s\n"                    \
  "networks: files\nprotocols: files\nservices: files\n"

/*
 * In a sanitizer build (meson passes PSOCK_SANITIZE and
 * PSOCK_SANITIZER_RUNTIMES to the tests that need it), the runtimes a
 * program must have in front of libpsock-preload.so in LD_PRELOAD, as
 * "a:b:" (resolved file names); "" otherwise. 0, or -1 with why set.
 */
int harness_sanitizer_runtimes(char *out, size_t len, char *why,
                               size_t why_len);

/* ----------------------------------------------------- ICMP echo, by hand */

/* Does net.ipv4.ping_group_range (of this netns) let gid open ICMP
 * datagram ("ping") sockets? */
bool harness_ping_group_allows(gid_t gid);

/* The Internet checksum (RFC 1071) of data, as it goes into a header. */
uint16_t harness_inet_checksum(const void *data, size_t len);

/*
 * One ICMP echo (id, seq) to 127.0.0.1 on s, an ICMP socket from psockd:
 * raw (the reply must carry id and seq, a valid checksum and our payload,
 * and come from 127.0.0.1; our own request shows up too on loopback) or a
 * datagram "ping" socket (whose kernel sets the id and strips the IP
 * header). 0 once the reply is there, within 5 s; else non-zero, said on
 * stderr. For a client (CHECK, no cmocka).
 */
int harness_ping_loopback(psock_sock *s, uint16_t id, uint16_t seq);

#endif /* PSOCK_TEST_HARNESS_H */
