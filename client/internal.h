/* SPDX-License-Identifier: MIT */
/*
 * Internal interface between the files of libpsock-client. Nothing here is
 * installed or exported: cross-file functions are named pc_* so that the
 * version script (psock_[a-z]*) keeps them local, and public functions are
 * marked PSOCK_EXPORT because the objects are built -fvisibility=hidden.
 *
 * Error convention: helpers return >= 0 on success and a negative value on
 * failure. -errno means "an OS error not yet recorded"; -PC_ETIMEOUT means
 * "the socket's timeout expired"; -PC_ERECORDED means "a typed error has
 * already been recorded for this thread". A public function turns any of
 * them into its -1/NULL return with pc_fail().
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "psock.pb-c.h"
#include "psock/psock.h"
#include "wire.h"

#define PSOCK_EXPORT __attribute__((visibility("default")))

/* Outside the errno range on purpose: see the convention above. */
#define PC_ERECORDED 10001
#define PC_ETIMEOUT 10002

/* The socket type bits that are flags, not a type. */
#define PC_SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

struct psock_sock {
  int fd;
  int family;
  int type; /* without SOCK_NONBLOCK / SOCK_CLOEXEC */
  int proto;
  double timeout; /* PSOCK_TIMEOUT_NONE: blocking; 0.0: non-blocking */
};

/* ---------------------------------------------------------- error.c */

struct pc_error_state {
  int kind;
  int code;
  char message[512];
};

/* Record an error for this thread; sets errno for OS/TIMEOUT/POLICY.
 * Returns -PC_ERECORDED so callers can `return pc_error(...)`. */
int pc_error(int kind, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An OS error with strerror() text. Returns -PC_ERECORDED. */
int pc_error_os(int code);
/* A Python ValueError (code EINVAL). Returns -PC_ERECORDED. */
int pc_error_value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record what a negative helper result means (see the convention). */
void pc_record(int neg);
/* pc_record(neg) and return -1, for public functions. */
int pc_fail(int neg);
/* Save / restore the thread's error, so that a call which fails internally
 * and then succeeds leaves the caller's last error untouched. */
void pc_error_save(struct pc_error_state *st);
void pc_error_restore(const struct pc_error_state *st);
/* After a failed daemon call: if psockd said "not ready" (OS_ERROR EAGAIN),
 * restore *saved and return -EAGAIN so pc_sock_io() waits and retries;
 * otherwise return -PC_ERECORDED. */
int pc_error_again(const struct pc_error_state *saved);

/* ----------------------------------------------------------- conn.c */

/* Set the call of a Request: CASE names the oneof case, field its member. */
#define PC_REQUEST(req, CASE, field, msg)                                      \
  do {                                                                         \
    (req).call_case = PSOCK__V1__REQUEST__CALL_##CASE;                         \
    (req).field = (msg);                                                       \
  } while (0)

/*
 * Send req (its id and fd_count are filled in here) with fds[0..nfds) to
 * psockd and wait for the answer. On success stores the response in
 * *ret_resp (free with psock__v1__response__free_unpacked) and exactly
 * want_fds received fds in ret_fds, and returns 0. An error response, a
 * protocol violation or an unreachable daemon is recorded and
 * -PC_ERECORDED returned; no fd is left open.
 */
int pc_call(Psock__V1__Request *req, const int *fds, size_t nfds,
            size_t want_fds, Psock__V1__Response **ret_resp, int *ret_fds);
/* As pc_call(), but the fds received are close-on-exec only if cloexec:
 * a socket made without SOCK_CLOEXEC then needs no fcntl() to clear it. */
int pc_call_fds(Psock__V1__Request *req, const int *fds, size_t nfds,
                size_t want_fds, Psock__V1__Response **ret_resp, int *ret_fds,
                bool cloexec);

/* Close the idle connections (tests; a program never needs it). */
void pc_conn_flush(void);

/* True if PSOCK_ROUTE=daemon: every call with a daemon message goes there. */
bool pc_route_daemon(void);

/* ----------------------------------------------------------- sock.c */

/*
 * Wrap fd (now owned by the new object) as a socket. fd must be
 * close-on-exec (every fd psock receives or makes is). type may hold
 * SOCK_NONBLOCK / SOCK_CLOEXEC: FD_CLOEXEC is cleared without SOCK_CLOEXEC, and
 * the timeout is 0.0 with SOCK_NONBLOCK, else the default timeout. On
 * failure closes fd, records the error and returns NULL.
 */
psock_sock *pc_sock_new(int fd, int family, int type, int proto);
/* As pc_sock_new(), for an fd whose close-on-exec flag already matches
 * SOCK_CLOEXEC in type (received with pc_call_fds()). */
psock_sock *pc_sock_wrap(int fd, int family, int type, int proto);

/* Apply a timeout to s: O_NONBLOCK on unless timeout is None. -errno. */
int pc_sock_set_timeout(psock_sock *s, double timeout);

/* An I/O step: >= 0 done, -EAGAIN/-EWOULDBLOCK not ready, other <0 fail. */
typedef ssize_t (*pc_io_fn)(psock_sock *s, void *ctx);

/*
 * Run fn on s in the socket's mode. Non-blocking mode runs it once;
 * timeout mode waits for events with the time left and retries until done
 * or -PC_ETIMEOUT; blocking mode runs it once, or for via_daemon (psockd
 * made a non-blocking attempt for us) waits as long as it takes.
 */
ssize_t pc_sock_io(psock_sock *s, short events, pc_io_fn fn, void *ctx,
                   bool via_daemon);

/* NULL-socket check shared by every socket call: records a ValueError. */
int pc_check_sock(const psock_sock *s);

/* -------------------------------------------------------- deadlines */

struct pc_deadline {
  bool forever;
  struct timespec at; /* CLOCK_MONOTONIC */
};

/* timeout < 0 means forever. */
void pc_deadline_init(struct pc_deadline *d, double timeout);
/* Milliseconds left for poll(): -1 forever, 0 when expired (rounded up). */
int pc_deadline_ms(const struct pc_deadline *d);
/* Wait for events on fd: 0 ready, -PC_ETIMEOUT, -errno. */
int pc_wait_fd(int fd, short events, const struct pc_deadline *d);

/* ----------------------------------------------------------- pure.c */

/* A valid timeout: None, or a number >= 0 (not NaN). */
bool pc_timeout_ok(double t);

/* ------------------------------------------------------ sockcalls.c */

int pc_daemon_setsockopt(psock_sock *s, int level, int optname, const int *ival,
                         const void *buf, size_t len);
/* Does setting this option need privilege (so psockd sets it)? ival is the
 * int value, or NULL when the buffer holds none. (The preload shim asks.) */
bool pc_option_privileged(int level, int optname, const int *ival);
ssize_t pc_daemon_sendto(psock_sock *s, const void *buf, size_t len, int flags,
                         const psock_address *address);
/* True for an AF_UNIX path address the client binds/connects itself. */
bool pc_unix_path_local(const psock_address *a);
/* Wait for a connect in progress on s (honouring its timeout). */
int pc_connect_finish(psock_sock *s);

/* ---------------------------------------------------------- names.c */

/* Resolve a host name through psockd to a numeric host of family. */
int pc_resolve_host(int family, const char *host, char *out, size_t outlen);

/* -------------------------------------------------------- address.c */

/*
 * psock_address -> protobuf Address built in buf without allocation;
 * string fields point into a, which must outlive *ret. -EINVAL for an
 * unterminated host or a length out of range, -EAFNOSUPPORT for an
 * unknown family.
 */
int pc_address_to_proto(const psock_address *a, struct addr_buf *buf,
                        Psock__V1__Address **ret);
/* protobuf Address -> psock_address. -EAFNOSUPPORT, -EINVAL. */
int pc_address_from_proto(const Psock__V1__Address *pa, psock_address *ret);
/* sockaddr -> psock_address, without protobuf. -EAFNOSUPPORT, -EINVAL. */
int pc_sockaddr_to_address(const struct sockaddr *sa, socklen_t len,
                           psock_address *ret);
/*
 * psock_address -> sockaddr for a local system call; a host name is
 * resolved through psockd in the family of the address. Records errors.
 */
int pc_address_to_sockaddr(const psock_address *a, struct sockaddr_storage *ss,
                           socklen_t *ret_len);
/* Copy a string into a caller's buffer; -ERANGE if it does not fit. */
int pc_copy_str(const char *src, char *buf, size_t len);
