/* SPDX-License-Identifier: MIT */
/*
 * sock: the psock_sock object, its three modes (blocking, non-blocking,
 * timeout) and the calls on the fd the program holds. Sits on the address
 * codec, the connection to psockd, deadlines, route and errors; the calls
 * layer (sockcalls.c, sockio.c) and the preload shim build on it.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "psock.pb-c.h"
#include "psock/psock.h"

/* The socket type bits that are flags, not a type. */
#define PC_SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

struct psock_sock {
  int fd;
  int family;
  int type; /* without SOCK_NONBLOCK / SOCK_CLOEXEC */
  int proto;
  double timeout; /* PSOCK_TIMEOUT_NONE: blocking; 0.0: non-blocking */
};

/*
 * Wrap fd (now owned by the new object) as a socket. fd must be
 * close-on-exec (every fd psock receives or makes is). type may hold
 * SOCK_NONBLOCK / SOCK_CLOEXEC: FD_CLOEXEC is cleared without SOCK_CLOEXEC,
 * and the timeout is 0.0 with SOCK_NONBLOCK, else the default timeout. On
 * failure closes fd, records the error and returns NULL.
 */
psock_sock *pc_sock_new(int fd, int family, int type, int proto);
/* As pc_sock_new(), for an fd whose close-on-exec flag already matches
 * SOCK_CLOEXEC in type (received with pc_call_fds(), or made so). */
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

/* Send req carrying s->fd to psockd, for a reply without fds: 0 (and the
 * response in *ret_resp if ret_resp is not NULL), or -PC_ERECORDED. */
int pc_sock_call(psock_sock *s, Psock__V1__Request *req,
                 Psock__V1__Response **ret_resp);
