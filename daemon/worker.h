/* SPDX-License-Identifier: MIT */
/*
 * worker: the event loop that serves clients. It accepts connections on
 * the listening socket, records who is on the other end (SO_PEERCRED at
 * accept time), reads packets and hands each one to the dispatcher, and
 * sends replies, queueing them when a client does not read.
 *
 * Trust boundary: everything read from a connection is untrusted; it goes
 * through wire_recv_packet() and then dispatch_packet() and nowhere else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"
#include "lookup.h"

struct outpkt;
struct worker;

struct conn {
  struct worker *w;
  int fd;
  unsigned refs;
  bool dead;            /* fd closed: replies still pending are dropped */
  bool hello_done;      /* handshake completed */
  bool close_when_sent; /* protocol violation answered: close after reply */
  uint32_t events;      /* epoll mask now registered */
  uint64_t serial;      /* for log lines */
  unsigned inflight;    /* requests being served off the event loop */
  struct identity peer; /* who, fixed by the kernel at accept time */
  struct outpkt *out_head, *out_tail;
  struct conn *prev, *next;
};

struct worker_config {
  int listen_fd; /* SOCK_SEQPACKET, non-blocking */
  int ctl_fd;    /* control socket to the master, -1 if none */
  unsigned lookup_threads;
  /* Called once the loop's threads and fds exist, before any client is
   * read: the role drops its privileges here. Non-zero aborts. */
  int (*sandbox)(void *arg);
  void *sandbox_arg;
};

/*
 * Serve until SIGTERM or SIGINT, then stop accepting and finish what is in
 * flight (the master bounds how long that may take). Returns 0 or -errno.
 */
int worker_run(const struct worker_config *cfg);

/* The lookup pool of the worker serving conn. */
struct lookup_pool *conn_lookup_pool(struct conn *c);

/*
 * Send one reply packet to c: at once if the socket takes it, else queued
 * (the connection stops reading until its queue drains). Takes ownership
 * of fds in every case. Returns 0, or -errno when the connection failed
 * (it is closed then).
 */
int conn_send(struct conn *c, const void *buf, size_t len, int *fds,
              size_t nfds);

/* Drop the connection: close the fd now, free when the last ref goes. */
void conn_close(struct conn *c, const char *why);

void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Scratch buffer of PSOCK_MAX_PACKET bytes for packing replies. */
uint8_t *worker_pack_buffer(struct worker *w);
