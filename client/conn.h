/* SPDX-License-Identifier: MIT */
/*
 * conn: libpsock-client's connection to psockd (a small pool of them) and
 * the one request/response exchange every daemon call is made of. Sits on
 * deadlines and errors; knows nothing of sockets or addresses.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "page.h"
#include "psock.pb-c.h"

/* Set the call of a Request: CASE names the oneof case, field its member. */
#define PC_REQUEST(req, CASE, field, msg)                                      \
  do {                                                                         \
    (req).call_case = PSOCK__V1__REQUEST__CALL_##CASE;                         \
    (req).field = (msg);                                                       \
  } while (0)

/* For _cleanup_(pc_response_freep): a response freed on scope exit. */
static inline void pc_response_freep(Psock__V1__Response **resp) {
  if (*resp)
    psock__v1__response__free_unpacked(*resp, NULL);
}

/*
 * Send req (its id and fd_count are filled in here) with fds[0..nfds) to
 * psockd and wait for the answer. On success stores the response in
 * *ret_resp (free with psock__v1__response__free_unpacked) and exactly
 * want_fds received fds in ret_fds, and returns 0. A caller that needs
 * only the fds passes a NULL ret_resp (the response is then freed here,
 * and a socket reply decoded without protobuf-c: wire_hot.h). An error
 * response, a protocol violation or an unreachable daemon is recorded and
 * -PC_ERECORDED returned; no fd is left open.
 *
 * psockd judges every request by the credentials the kernel attests for
 * it: {getpid(), geteuid(), getegid()} in SCM_CREDENTIALS, or none where
 * those are the kernel's own (real ids equal to the effective ones, read
 * once where they cannot change), so that it judges the process that
 * sends it as it sends it (issue 13, finding 9), and on a connection opened
 * under the caller's current effective uid, gid and supplementary groups: a
 * pooled connection opened under another identity (before a setuid(), a
 * setgroups()) is closed, never reused.
 */
int pc_call(Psock__V1__Request *req, const int *fds, size_t nfds,
            size_t want_fds, Psock__V1__Response **ret_resp, int *ret_fds);
/* As pc_call(), but the fds received are close-on-exec only if cloexec:
 * a socket made without SOCK_CLOEXEC then needs no fcntl() to clear it. */
int pc_call_fds(Psock__V1__Request *req, const int *fds, size_t nfds,
                size_t want_fds, Psock__V1__Response **ret_resp, int *ret_fds,
                bool cloexec);
/* As pc_call(), for a reply whose own fields say how many fds it carries
 * (BindReply.replaced): 0..max_fds fds are accepted and their number
 * stored in *ret_nfds; the caller checks it against the reply. */
int pc_call_upto(Psock__V1__Request *req, const int *fds, size_t nfds,
                 size_t max_fds, Psock__V1__Response **ret_resp, int *ret_fds,
                 size_t *ret_nfds);

/*
 * pc_call_paged()'s hook: what the policy page of the connection about to
 * carry req says (v->page 0: no page, or psockd was rewriting it); it may
 * change req, and returns how many fds the reply may carry (>= 1).
 */
typedef size_t (*pc_page_hook)(Psock__V1__Request *req,
                               const struct pc_page_view *v, void *arg);

/*
 * As pc_call_upto(), for a request shaped by the page of the connection
 * that carries it (issue 16: a SocketRequest asks for a batch only where
 * that page lists the kind): hook(req, v, arg) runs just before req is
 * sent, on a new connection too, and bounds the fds of the reply, between
 * 1 and its answer, every one close-on-exec. *ret_view is what the page
 * said then: psockd adds a batch by that page, and a policy installed
 * since shows as another generation of it.
 */
int pc_call_paged(Psock__V1__Request *req, pc_page_hook hook, void *arg,
                  Psock__V1__Response **ret_resp, int *ret_fds,
                  size_t *ret_nfds, struct pc_page_view *ret_view);

/*
 * Has psockd closed its copies of every socket it sent this process? A
 * worker closes the copies of the fds of a reply right after sending it,
 * before it reads the connection's next request; but the program may run
 * first (the wakeup of the reply can preempt the worker), and while
 * psockd still holds a socket the program's close() does not end it: a
 * listener keeps completing handshakes, a bound port stays taken. False
 * while the last reply on one of the process's connections carried fds;
 * the next reply on that connection settles them.
 */
bool pc_conn_fds_settled(void);

/*
 * The policy page of the caller's identity, read now (issue 16): 1 and
 * *ret, from the page of a connection of this process, opened under the
 * caller's identity, that psockd still holds open (a page whose worker
 * died is written no more) and read consistently (page.h); 0 when there
 * is none to believe: every call then asks psockd. Never talks to psockd
 * and records no error; without a page it costs no system call, with one
 * a poll() and an fstat() of the connection.
 */
int pc_conn_page(struct pc_page_view *ret);

/*
 * Could psockd's policy refuse the caller's identity some sendto()
 * destination (HelloReply.sendto_restricted, true when psockd does not
 * say)? 1 or 0, or -PC_ERECORDED when psockd cannot be asked. For
 * psock-run's seccomp mode, which stops a program's own sends with a
 * destination only where a rule could refuse one.
 */
int pc_conn_sendto_restricted(void);

/*
 * The calling thread declares that its ids will not change (psock-run's
 * seccomp supervisor: one thread that never calls setuid(), holding
 * CAP_SYS_PTRACE only): they are read now and not again for each request,
 * as for a thread that could not change them. 0 or -errno.
 */
int pc_conn_identity_fixed(void);

/* Close the idle connections (tests; a program never needs it). */
void pc_conn_flush(void);
