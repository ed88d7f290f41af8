/* SPDX-License-Identifier: MIT */
/*
 * raw_client: speak psockd's wire protocol by hand, for tests that must
 * send what libpsock-client never would (a request on a connection after a
 * uid change, flags the library filters, an AF_UNIX request of a non-root
 * client, a pipeline of requests never read, malformed framing, wrong fd
 * counts, a wrong protocol version). Built on proto/wire.h and the
 * generated psock.pb-c.h; every function is safe to call in a forked child
 * (no cmocka asserts): failures are returned and explained on stderr.
 */
#ifndef PSOCK_TEST_RAW_CLIENT_H
#define PSOCK_TEST_RAW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "psock.pb-c.h"

/* How long raw_call() waits for its reply: far longer than psockd takes
 * for a request that needs no lookup. */
#define RAW_REPLY_TIMEOUT_MS 3000

/* Connect to $PSOCK_SOCKET, no handshake. The fd, or -1 (errno set). */
int raw_open(void);

/* Say hello with this protocol version (request id 1): the reply, as
 * raw_call() gives it. */
Psock__V1__Response *raw_hello(int fd, uint32_t version);

/* raw_open() and shake hands (psockd must answer with our protocol
 * version). The fd, or -1 (errno set). */
int raw_connect(void);

/* Send req (fd_count set from nfds) with fds[0..nfds). 0 or -errno. */
int raw_send(int fd, Psock__V1__Request *req, const int *fds, size_t nfds);

/* As raw_send(), but with any fd_count: what the library never sends. */
int raw_send_count(int fd, Psock__V1__Request *req, uint32_t fd_count,
                   const int *fds, size_t nfds);

/* Send req (no fds) without waiting: 0, -EAGAIN once psockd has stopped
 * reading this connection, or another -errno. */
int raw_send_nowait(int fd, Psock__V1__Request *req);

/* Any bytes with any fds (at most 8): what wire_send_packet() will not
 * send. 0 or -errno. */
int raw_sendmsg(int fd, const void *buf, size_t len, const int *fds,
                size_t nfds);

/*
 * The next reply within timeout_ms, or NULL with errno: 0 if psockd closed
 * the connection, ETIMEDOUT, or another error. Up to max_fds fds that came
 * with it go to fds (the rest are closed), their count to *ret_nfds.
 * Free the reply with psock__v1__response__free_unpacked(r, NULL).
 */
Psock__V1__Response *raw_recv(int fd, int timeout_ms, int *fds, size_t max_fds,
                              size_t *ret_nfds);

/* raw_send() then raw_recv() (the reply's id must match; 3 s). */
Psock__V1__Response *raw_call(int fd, Psock__V1__Request *req, const int *fds,
                              size_t nfds, int *ret_fds, size_t max_fds,
                              size_t *ret_nfds);

/* Does psockd close fd within RAW_REPLY_TIMEOUT_MS (a few replies still
 * on their way are read and skipped)? */
bool raw_closed(int fd);

/* Is a socket(AF_INET, SOCK_STREAM) request with this id answered with a
 * socket (closed here)? That is, psockd still serves fd. */
bool raw_served(int fd, uint64_t id);

/* Is r an Error of this kind and code (with a message)? Says why not. */
bool raw_is_error(const Psock__V1__Response *r, int kind, int code);

/* r's error message if r is an Error, else "" (r may be NULL). */
const char *raw_error_message(const Psock__V1__Response *r);

/* Is r a reply of this result case (PSOCK__V1__RESPONSE__RESULT_...)? */
bool raw_is_result(const Psock__V1__Response *r, int result_case);

/*
 * Calls on a socket: req (its id set here) carrying fd if fd >= 0; the
 * reply (as raw_call), with at most one fd back in *ret_fd and their count
 * in *ret_nfds (an fd that came back is closed if ret_nfds is NULL).
 */
Psock__V1__Response *raw_call_fd(int conn, Psock__V1__Request *req, int fd,
                                 int *ret_fd, size_t *ret_nfds);

/* bind (do_bind) or connect fd to an abstract AF_UNIX name. */
Psock__V1__Response *raw_abstract_call(int conn, int fd, bool do_bind,
                                       const char *name, int *ret_fd,
                                       size_t *ret_nfds);

/* sendto(fd, data, flags, host:port) through psockd. */
Psock__V1__Response *raw_sendto(int conn, int fd, const char *data, int flags,
                                const char *host, uint32_t port);

/* getsockopt through psockd: an int option if buflen is 0. */
Psock__V1__Response *raw_getsockopt(int conn, int fd, int level, int optname,
                                    uint32_t buflen);

/* setsockopt through psockd: the len bytes of buf, or the int v if buf is
 * NULL. */
Psock__V1__Response *raw_setsockopt(int conn, int fd, int level, int optname,
                                    const void *buf, size_t len, int v);

/* A request for socket(family, type, proto). */
struct raw_socket_req {
  Psock__V1__Request req;
  Psock__V1__SocketRequest s;
};
void raw_socket_request(struct raw_socket_req *r, uint64_t id, int family,
                        int type, int proto);

/* A request for getaddrinfo(host). */
struct raw_gai_req {
  Psock__V1__Request req;
  Psock__V1__GetaddrinfoRequest g;
};
void raw_gai_request(struct raw_gai_req *r, uint64_t id, const char *host);

/* socket(family, type, proto) through psockd on fd: the new fd, or -1 with
 * the reply's error kind and code in *ret_kind and *ret_code (0 and
 * errno if no reply came). */
int raw_socket(int fd, int family, int type, int proto, int *ret_kind,
               int *ret_code);

/* An Address for an abstract AF_UNIX name or an inet host:port. */
struct raw_address {
  Psock__V1__Address a;
  Psock__V1__InetAddress in;
};
void raw_abstract_address(struct raw_address *r, const char *name);
void raw_inet_address(struct raw_address *r, const char *host, uint32_t port);

#endif /* PSOCK_TEST_RAW_CLIENT_H */
