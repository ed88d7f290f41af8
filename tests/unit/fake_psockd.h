/* SPDX-License-Identifier: MIT */
/*
 * A small fake psockd for libpsock-client's unit tests: a thread of the
 * test on a SOCK_SEQPACKET socket in a temporary directory, that can
 * misbehave on purpose (wrong protocol version, policy refusal, lying fd
 * counts, dropping the connection, never answering, replacing sockets).
 * It serves socket, bind, listen, connect, accept, setsockopt and
 * getaddrinfo for real, so the client's handling of the replies is checked
 * end to end, and it receives every request as the new psockd does, with
 * SO_PASSCRED: a request without SCM_CREDENTIALS ends the connection.
 *
 * With fake_page_start() it also does what issue 16 asks of psockd: it
 * sends a policy page (a sealed memfd) with every HelloReply, rewrites it
 * as a worker does at a reload (fake_page_set()), and adds sockets to a
 * SocketRequest with a batch when the page lists the kind.
 *
 * The directory and socket are open to every user (0755, 0666) so that a
 * child that dropped privileges can still reach it.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy_page.h"
#include "wire.h"

enum fake_mode {
  FAKE_NORMAL,
  FAKE_POLICY,     /* socket, bind, listen, connect, setsockopt: refused */
  FAKE_FD_LIE,     /* socket: fd_count 1, no fd attached */
  FAKE_EXTRA_FD,   /* socket: two fds for a call that returns one */
  FAKE_DROP_FIRST, /* socket: hang up on the first one, then serve */
  FAKE_SILENT,     /* socket: never answer */
  /* bind, connect: as the new psockd does for an abstract name, the call
   * made on a new socket of the same type, sent back with replaced=true */
  FAKE_REPLACE,
  FAKE_REPLACE_NO_FD,  /* bind: replaced=true, no fd */
  FAKE_FD_NOT_REPLACE, /* bind: an fd, replaced absent */
};

#define FAKE_MAX_CONNS 32

/* What HelloReply.page carries (fake_page_start()). */
enum fake_page {
  FAKE_PAGE_NONE,     /* no page: as an older psockd */
  FAKE_PAGE_GOOD,     /* the sealed page */
  FAKE_PAGE_UNSEALED, /* a page anyone could write */
  FAKE_PAGE_MAGIC,    /* a page of another layout */
  FAKE_PAGE_SHORT,    /* half a page */
  FAKE_PAGE_NO_FD,    /* page = true, no fd */
};

struct fake {
  char dir[32];
  char path[64];
  int lfd;
  int stop[2];
  pthread_t thread;
  /* Set by the test, read by the fake's thread. */
  _Atomic uint32_t hello_version;
  _Atomic int mode; /* enum fake_mode */
  bool dropped;
  atomic_int connections;
  atomic_int open_conns;
  /* SO_PEERCRED of each connection accepted, in order. */
  atomic_int accepted_uid[FAKE_MAX_CONNS];
  atomic_int accepted_gid[FAKE_MAX_CONNS];
  atomic_int requests;
  atomic_int served; /* requests done with, their fds closed */
  atomic_int socket_calls;
  atomic_int socket_peer_pid; /* SO_PEERCRED pid of the last socket call */
  atomic_int last_peer_uid;   /* SO_PEERCRED uid of the last request's conn */
  atomic_int last_peer_gid;
  atomic_int last_cred_uid; /* SCM_CREDENTIALS of the last request */
  atomic_int last_cred_gid;
  atomic_int last_cred_pid;
  atomic_int accept_calls;
  atomic_int bind_calls;
  atomic_int connect_calls;
  atomic_int listen_calls;
  atomic_int setsockopt_calls;
  atomic_int setsockopt_last; /* optname of the last setsockopt call */
  atomic_int last_batch;      /* SocketRequest.batch of the last socket call */
  atomic_int batch_extras;    /* sockets added to batches so far */
  _Atomic int page_kind;      /* enum fake_page */
  int page_fd;                /* the page's memfd, -1 */
  struct psock_page *page;    /* the fake's writable mapping */
  atomic_int hangup;          /* set: close every connection, then clear */
  uint8_t buf[PSOCK_MAX_PACKET];
};

extern struct fake fk;

/* cmocka setup/teardown: start the fake and point PSOCK_SOCKET at it. */
int fake_start(void **state);
int fake_stop(void **state);

/* Close the client's idle connections and wait until the fake has closed
 * its ends too, so that fd counts are taken at rest. */
void fake_quiesce(void);

/* Wait until the fake is done with every request it received (it answers
 * before it closes the fds that came with the request). */
void fake_settle(void);

/*
 * Send a policy page of this kind with every HelloReply from now on,
 * saying free and batch (enum psock_free_call, enum psock_batch_kind
 * bits), generation 1. The connections already open have none.
 */
void fake_page_start(int kind, uint32_t free, uint32_t batch);

/* Install a new "policy" as a worker does: seq odd, the bits, generation
 * + 1, seq even. */
void fake_page_set(uint32_t free, uint32_t batch);

/* Leave the page half-written (seq odd) or finish it (even again). */
void fake_page_hold(bool odd);

/* Close every client connection, as a worker that dies (the next poll of
 * the fake's thread), and wait until it has. */
void fake_hangup(void);

/* Open fds of this process. */
int count_fds(void);
/* CLOCK_MONOTONIC in seconds. */
double now_s(void);
