/* SPDX-License-Identifier: MIT */
/*
 * wire: packet I/O for the psock protocol, shared by psockd, libpsock-client
 * and the tests.
 *
 * One SOCK_SEQPACKET packet carries one protobuf message and its fds as
 * SCM_RIGHTS. Trust boundary: wire_recv_packet() is the first code that
 * touches bytes from the peer. It never returns a partial packet: a packet
 * larger than the caller's buffer, a truncated control message, more fds
 * than the caller allows or a control message other than SCM_RIGHTS is a
 * framing error, and every fd that arrived with it is closed before return.
 *
 * The library's own plumbing uses raw system calls (wire_sys_*) rather than
 * the libc symbols, so a preload shim that interposes socket()/connect()
 * can be built on top of it without recursing into itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "psock.pb-c.h"

/* Protocol version spoken by this build (Hello.protocol_version). */
#define PSOCK_PROTOCOL_VERSION 2u

/* Largest packet either side sends or accepts, in bytes. */
#define PSOCK_MAX_PACKET (64u * 1024u)

/* Most fds one request may carry, and most any reply carried before
 * issue 16 (socketpair carries two). psockd reads requests with this. */
#define PSOCK_MAX_FDS 2u

/*
 * Most fds one reply may carry: a socket reply with its batch (up to
 * PSOCK_MAX_REPLY_FDS - 1 more sockets, SocketRequest.batch). A client
 * reads replies with this; requests stay at PSOCK_MAX_FDS.
 */
#define PSOCK_MAX_REPLY_FDS 8u

_Static_assert(PSOCK_MAX_FDS <= PSOCK_MAX_REPLY_FDS,
               "a reply may carry what a request may");

/* Where psockd listens unless told otherwise. */
#define PSOCK_DEFAULT_SOCKET "/run/psockd/psockd.sock"

/*
 * Send one packet of len bytes with nfds fds attached (nfds may be 0).
 * flags are passed to sendmsg() in addition to MSG_NOSIGNAL.
 * Returns 0 on success, -EMSGSIZE if len > PSOCK_MAX_PACKET or
 * nfds > PSOCK_MAX_REPLY_FDS (the limit of the direction is the receiver's
 * to check: psockd reads requests with PSOCK_MAX_FDS), -EINVAL if len is 0 (the
 * peer would read an empty packet as EOF), or -errno from sendmsg(). The fds
 * stay the caller's.
 */
int wire_send_packet(int sock, const void *buf, size_t len, const int *fds,
                     size_t nfds, int flags);

/*
 * As wire_send_packet(), with an SCM_CREDENTIALS message carrying *creds
 * next to the fds. The kernel accepts only the sender's own pid and one of
 * its real, effective or saved uids and gids (unless it has CAP_SYS_ADMIN /
 * CAP_SETUID / CAP_SETGID): -EPERM otherwise. Without this message a
 * receiver with SO_PASSCRED is given the sender's real uid and gid, which
 * in a setuid program are not the effective ids SO_PEERCRED reports:
 * libpsock-client sends {getpid(), geteuid(), getegid()} with every
 * request. -EINVAL if creds is NULL; otherwise as wire_send_packet().
 */
int wire_send_packet_creds(int sock, const void *buf, size_t len,
                           const int *fds, size_t nfds, int flags,
                           const struct ucred *creds);

/*
 * Receive one packet into buf (cap bytes) and up to max_fds fds.
 * Received fds are O_CLOEXEC. On success returns the packet length (>= 1)
 * and stores the fd count in *ret_nfds; returns 0 on orderly shutdown of the
 * peer (recvmsg() cannot tell an empty packet without fds from EOF, so
 * neither side sends one). Errors: -EMSGSIZE (packet larger than cap),
 * -EPROTO (control data truncated, more than max_fds fds, unexpected control
 * message, empty packet with fds), -EINVAL (max_fds > PSOCK_MAX_REPLY_FDS),
 * or
 * -errno from recvmsg() (-EAGAIN with MSG_DONTWAIT). On any error no fd is
 * left open and *ret_nfds is 0.
 */
ssize_t wire_recv_packet(int sock, void *buf, size_t cap, int *fds,
                         size_t max_fds, size_t *ret_nfds, int flags);

/*
 * As wire_recv_packet(), for a socket with SO_PASSCRED set: the packet must
 * carry exactly one SCM_CREDENTIALS message (the kernel attaches the
 * sender's pid, uid and gid as of its sendmsg()), which is stored in
 * *ret_creds; a packet without one is -EPROTO. EOF (0) carries none.
 */
ssize_t wire_recv_packet_creds(int sock, void *buf, size_t cap, int *fds,
                               size_t max_fds, size_t *ret_nfds, int flags,
                               struct ucred *ret_creds);

/*
 * As wire_recv_packet(), for libpsock-client's receive of an answer: a
 * receive interrupted by a signal returns -EINTR instead of being retried
 * (a blocking receive bounded by SO_RCVTIMEO, whose bound each retry would
 * restart), and the fds are close-on-exec only if cloexec is true (a
 * socket() without SOCK_CLOEXEC gets its fd as the kernel would give it,
 * without a second system call to clear the flag).
 */
ssize_t wire_recv_packet_once(int sock, void *buf, size_t cap, int *fds,
                              size_t max_fds, size_t *ret_nfds, int flags,
                              bool cloexec);

/* Close fds[0..n) that are >= 0 and set each slot to -1. */
void wire_close_fds(int *fds, size_t n);

/*
 * Pack msg into buf (cap bytes). Returns the packed length, or -EMSGSIZE if
 * it does not fit.
 */
ssize_t wire_pack(const ProtobufCMessage *msg, void *buf, size_t cap);

/*
 * Forget the unknown fields of msg and of every message inside it, so that
 * a message passed on carries only what its reader knows: protobuf-c
 * decodes some bytes as unknown fields that it will not pack back (field
 * number 0). For a message decoded into an arena: the fields' memory goes
 * with the arena. NULL is ignored.
 */
void wire_drop_unknown(ProtobufCMessage *msg);

/*
 * Connect a new SOCK_SEQPACKET | SOCK_CLOEXEC socket to the psockd control
 * socket at path. Returns the fd or -errno (-ENAMETOOLONG for a path that
 * does not fit sun_path). Uses raw system calls only.
 */
int wire_connect_path(const char *path);

/* Raw system calls that a preload shim cannot interpose. Return -errno. */
int wire_sys_socket(int domain, int type, int proto);
int wire_sys_connect(int fd, const struct sockaddr *sa, socklen_t len);
