/* SPDX-License-Identifier: MIT */
/*
 * sv_calls: what psock-run's seccomp supervisor does with each system call
 * the filter (seccomp_filter.h) stops: socket, socketpair, bind, connect,
 * listen, setsockopt, fcntl(F_SETOWN_EX), two interface ioctls here, the
 * sends with a destination in sv_send.c. The supervisor performs the call;
 * it never lets the kernel run one whose check depended on memory the
 * program can still change: it copies the arguments once, checks that the
 * call is still waiting after the copy, asks psockd (libpsock-client) with
 * the copy, and answers with psockd's result, as the preload shim does in
 * the program's own process (docs/unmodified-programs.md):
 *
 *   socket, socketpair  psockd makes the socket (policy `socket`); it is
 *                       installed in the caller at its lowest free fd in
 *                       the same step as the answer (ADDFD + SEND), with
 *                       SOCK_CLOEXEC and SOCK_NONBLOCK as asked
 *   bind, connect       on an inet, inet6, netlink or tipc socket: the
 *                       kernel's address checks in its order (kcheck.h),
 *                       then psockd binds or connects the caller's own
 *                       socket (policy `bind`, `connect`); a blocking
 *                       socket's connect is answered when it is over
 *                       (sv_wait.h), a non-blocking one's at once
 *   listen              psockd (policy `listen`) for those and packet
 *   setsockopt          tried on the caller's socket; when the kernel
 *                       refused it for lack of privilege, psockd
 *                       (policy `setsockopt`)
 *   ioctl               SIOCGIFINDEX and SIOCGIFNAME (if_nametoindex(),
 *                       if_indextoname()), which the kernel answers for
 *                       the namespace of the socket they are made on:
 *                       on one of the caller's AF_UNIX sockets (where
 *                       glibc and musl make them), the supervisor makes
 *                       them on a NETLINK_ROUTE socket from psockd
 *                       (policy `socket`), as the preload does, and
 *                       copies the struct ifreq in and out; where psockd
 *                       refuses that socket, and on any other fd (a
 *                       socket from psockd is of psockd's namespace
 *                       already), the kernel runs the call (CONTINUE).
 *                       Nothing is judged on the program's copy, so
 *                       another thread changing the fd or the struct
 *                       meanwhile changes only the program's own answer
 *
 * Every other family (AF_UNIX above all) is the program's own: its bind,
 * connect and listen happen as the kernel does them in the program's own
 * namespaces. When no other task can change the caller's fd table (one
 * thread), the kernel runs the call itself (CONTINUE): the only thing
 * checked was which socket the fd is, and nothing can change that. With
 * more threads the supervisor performs it on the caller's socket with the
 * copied address, in the caller's working directory, root and umask
 * (sv_local.c).
 *
 * Trust boundary: the program's arguments, memory and fds.
 */
#pragma once

#include "sv_notif.h"

/* Answer the call r, one of those above (the dispatcher in supervisor.c
 * chose it by number), now or later (sv_wait.h). */
void sv_socket(struct sv_req *r);
void sv_socketpair(struct sv_req *r);
void sv_bind(struct sv_req *r);
void sv_connect(struct sv_req *r);
void sv_listen(struct sv_req *r);
void sv_setsockopt(struct sv_req *r);
void sv_fcntl(struct sv_req *r);
void sv_ioctl(struct sv_req *r);
