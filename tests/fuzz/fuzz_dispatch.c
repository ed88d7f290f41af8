/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for request decoding and dispatch: the code a worker
 * runs on every packet a client sends (daemon/dispatch.c, the handlers in
 * daemon/rpc_*.c, policy, the address codec), fed a fuzzer-chosen sequence
 * of packets with real fds (socketpairs, inet sockets, a pipe, a memfd,
 * /dev/null) on one connection. Input format: tests/fuzz/fuzz.h.
 *
 * What stands in for the rest of psockd. This file links the daemon's
 * objects without worker.c and lookup.c and provides what those would: a
 * connection object, conn_send() (which checks every reply instead of
 * sending it), and a lookup "pool" that queues jobs and runs them when
 * this file says (after the packet, or later, or never: cancelled), on
 * this thread. There is no psockd-priv channel, so privileged operations
 * are tried in this process only (privops.c's single-process mode).
 *
 * Containment. The handlers run for real, as whoever runs the fuzzer
 * (often root), so what they may do is held to harmless calls by the
 * policy below and the peer identity: the client is uid 65534 (so psockd
 * refuses AF_UNIX path binds and connects before policy is asked); it may
 * create unix, TCP and UDP sockets (no raw, packet or netlink sockets: no
 * module loading, no traffic capture), bind them to loopback or an
 * abstract unix name, listen, connect and send only to port 1 on loopback,
 * and look names up. Name lookups use /etc/hosts, /etc/services and
 * /etc/protocols only (__nss_configure_lookup), never DNS. Options that
 * need privilege are denied by the policy; the rest act on the fuzzer's
 * own sockets.
 *
 * Oracles, besides the sanitizers: every reply must decode as a Response
 * whose fd_count equals the fds that came with it, each close-on-exec; an
 * error reply carries no fd and a message; after each input every call
 * object has been released (connection references and in-flight count
 * back to zero) and the process holds exactly the fds it held before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nss.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authz.h"
#include "dispatch.h"
#include "fuzz.h"
#include "lookup.h"
#include "policy.h"
#include "quota.h"
#include "wire.h"
#include "worker.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_UID 65534

static const char fuzz_policy[] =
    "allow anyone socket family=unix type=stream,dgram,seqpacket proto=0\n"
    "allow anyone socket family=inet,inet6 type=stream,dgram "
    "proto=0,tcp,udp\n"
    "allow anyone bind family=unix\n"
    "allow anyone bind family=inet,inet6 addr=127.0.0.1,::1 port=any\n"
    "allow anyone connect,sendto family=inet,inet6 addr=127.0.0.1,::1 "
    "port=1\n"
    "allow anyone listen family=any\n"
    "allow anyone lookup,reverse\n";

/* ------------------------------------------------ what worker.c would be */

struct worker {
  uint8_t pack_buf[PSOCK_MAX_PACKET];
};

struct lookup_pool {
  struct lookup_job *head, *tail;
};

static struct worker fake_worker;
static struct lookup_pool fake_pool;
static struct conn conn;

uint8_t *worker_pack_buffer(struct worker *w) {
  return w->pack_buf;
}

struct lookup_pool *conn_lookup_pool(struct conn *c) {
  (void)c;
  return &fake_pool;
}

void conn_ref(struct conn *c) {
  c->refs++;
}

void conn_unref(struct conn *c) {
  if (c->refs == 0)
    abort(); /* a call released twice */
  c->refs--;
}

void conn_close(struct conn *c, const char *why) {
  (void)why;
  c->dead = true;
}

static void check_reply(const void *buf, size_t len, const int *fds,
                        size_t nfds) {
  Psock__V1__Response *r;

  if (len == 0 || len > PSOCK_MAX_PACKET || nfds > PSOCK_MAX_FDS)
    abort();
  r = psock__v1__response__unpack(NULL, len, buf);
  if (!r || r->fd_count != nfds)
    abort();
  if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    const Psock__V1__Error *e = r->error;
    if (nfds != 0 || !e->message || !e->message[0] ||
        e->kind <= PSOCK__V1__ERROR__KIND__KIND_UNSPECIFIED ||
        e->kind > PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR)
      abort();
  } else if (r->result_case == PSOCK__V1__RESPONSE__RESULT__NOT_SET) {
    abort();
  }
  for (size_t i = 0; i < nfds; i++) {
    int flags = fcntl(fds[i], F_GETFD);
    if (flags < 0 || !(flags & FD_CLOEXEC))
      abort();
  }
  psock__v1__response__free_unpacked(r, NULL);
}

int conn_send(struct conn *c, const void *buf, size_t len, int *fds,
              size_t nfds) {
  if (c->dead) {
    wire_close_fds(fds, nfds);
    return -EPIPE;
  }
  check_reply(buf, len, fds, nfds);
  wire_close_fds(fds, nfds);
  if (c->close_when_sent)
    c->dead = true;
  return 0;
}

/* ------------------------------------------------ what lookup.c would be */

void lookup_submit(struct lookup_pool *pool, struct lookup_job *job) {
  job->cancelled = false;
  job->next = NULL;
  if (pool->tail)
    pool->tail->next = job;
  else
    pool->head = job;
  pool->tail = job;
}

/* Finish every queued job: run it first unless cancel is set. */
static void run_lookups(bool cancel) {
  while (fake_pool.head) {
    struct lookup_job *job = fake_pool.head;

    fake_pool.head = job->next;
    if (!fake_pool.head)
      fake_pool.tail = NULL;
    if (cancel)
      job->cancelled = true;
    else
      job->work(job);
    job->done(job);
  }
}

/* ---------------------------------------------------------------- fds */

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  if (!d)
    abort();
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own fd */
}

/* An fd of the given kind; *peer is the other end of a pair, or -1. */
static int make_fd(unsigned kind, int *peer) {
  int sv[2], fd = -1;

  *peer = -1;
  switch (kind) {
  case FUZZ_FD_UNIX_STREAM:
  case FUZZ_FD_UNIX_DGRAM:
    if (socketpair(AF_UNIX,
                   (kind == FUZZ_FD_UNIX_STREAM ? SOCK_STREAM : SOCK_DGRAM) |
                       SOCK_CLOEXEC,
                   0, sv) == 0) {
      *peer = sv[1];
      fd = sv[0];
    }
    break;
  case FUZZ_FD_UDP:
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    break;
  case FUZZ_FD_TCP:
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    break;
  case FUZZ_FD_UDP6:
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    break;
  case FUZZ_FD_PIPE:
    if (pipe2(sv, O_CLOEXEC) == 0) {
      *peer = sv[1];
      fd = sv[0];
    }
    break;
  case FUZZ_FD_MEMFD:
    fd = memfd_create("fuzz", MFD_CLOEXEC);
    break;
  default:
    break;
  }
  /* What always works: a file that is not a socket. */
  if (fd < 0)
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    abort();
  return fd;
}

/* ---------------------------------------------------------------- setup */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  struct policy *p = NULL;
  unsigned nerr = 0;

  (void)argc;
  (void)argv;
  /* Never ask DNS, whatever the machine's nsswitch.conf says. */
  __nss_configure_lookup("hosts", "files");
  __nss_configure_lookup("services", "files");
  __nss_configure_lookup("protocols", "files");
  if (policy_load_string("fuzz policy", fuzz_policy, sizeof(fuzz_policy) - 1,
                         stderr, &nerr, &p) != 0)
    abort();
  authz_install(p);
  /* Small limits, so that inputs reach them. */
  limits.inflight_per_conn = 3;
  limits.lookups_per_uid = 2;
  return 0;
}

static void conn_reset(bool hello_done) {
  static uint64_t serial;

  memset(&conn, 0, sizeof(conn));
  conn.w = &fake_worker;
  conn.fd = -1;
  conn.refs = 1; /* the worker's own reference */
  conn.serial = ++serial;
  conn.hello_done = hello_done;
  conn.peer.uid = FUZZ_UID;
  conn.peer.gid = FUZZ_UID;
  conn.peer.pid = getpid();
  conn.peer.pidfd = -1;
}

/* One packet with nfds fds of the kinds in kinds; true if conn lives on. */
static bool one_packet(const uint8_t *pkt, size_t len, unsigned nfds,
                       unsigned kinds) {
  int fds[3], peers[3];
  uint8_t *copy = malloc(len ? len : 1);
  int r;

  if (!copy)
    abort();
  /* An exact-size copy: reading past the packet is an ASan report. */
  memcpy(copy, pkt, len);
  for (unsigned i = 0; i < nfds; i++)
    fds[i] = make_fd(i == 2 ? kinds >> 6 : (kinds >> (3 * i)) & 7, &peers[i]);
  r = dispatch_packet(&conn, copy, len, fds, nfds);
  free(copy);
  for (unsigned i = 0; i < nfds; i++)
    if (peers[i] >= 0)
      close(peers[i]);
  if (r < 0)
    conn.dead = true;
  return !conn.dead;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fds_before = count_fds();

  conn_reset(size > 0 && (data[0] & FUZZ_CTL_HANDSHAKE));
  for (unsigned n = 0; n < FUZZ_DISPATCH_MAX_RECORDS &&
                       size >= FUZZ_RECORD_HEADER && !conn.dead;
       n++) {
    uint8_t ctl = data[0], kinds = data[1];
    size_t len = (size_t)data[2] | (size_t)data[3] << 8;

    data += FUZZ_RECORD_HEADER;
    size -= FUZZ_RECORD_HEADER;
    if (len > size)
      len = size;
    if (!one_packet(data, len, ctl & FUZZ_CTL_NFDS_MASK, kinds))
      break;
    data += len;
    size -= len;
    if (ctl & FUZZ_CTL_HANGUP) {
      conn_close(&conn, "client went away");
      break;
    }
    if (!(ctl & FUZZ_CTL_DEFER))
      run_lookups(ctl & FUZZ_CTL_CANCEL);
  }
  /* The client is gone; lookups still pending find a dead connection. */
  conn.dead = true;
  run_lookups(false);
  if (conn.refs != 1 || conn.inflight != 0)
    abort(); /* a call object was not released */
  if (count_fds() != fds_before)
    abort(); /* an fd was leaked (or closed twice) */
  return 0;
}
