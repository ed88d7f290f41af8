/* SPDX-License-Identifier: MIT */
/*
 * policy_page: what psockd's policy lets one identity do without asking,
 * in a page psockd shares read-only with that identity's clients (issue
 * 16). A worker serves exactly one identity: it makes one page (a memfd,
 * PSOCK_PAGE_SIZE bytes, sealed against growing, shrinking and any new
 * writable mapping: F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
 * F_SEAL_SEAL), keeps the one writable mapping it made before sealing,
 * and sends the memfd with every HelloReply to a Hello that asks for it
 * (Hello.page; the reply sets HelloReply.page, fd_count 1). A client maps
 * it PROT_READ, MAP_SHARED.
 *
 * Trust boundary: the page is psockd's word to the client about the
 * client's own policy; the client can only read it. Nothing it says widens
 * what the client can do: each "free" call is one the program could make
 * itself on a socket it holds (connect, bind, listen, sendto on an
 * unconnected socket); the page only spares it the round trip to psockd
 * where psockd would have said yes to every possible request of that kind.
 *
 * Reading (the client): a seqlock. Load seq with acquire; if it is odd,
 * psockd is rewriting: treat nothing as free. Read the fields, then load
 * seq again (acquire fence before it); if it changed, treat nothing as
 * free. Writing (the worker): seq += 1 (odd; then a release fence, so
 * that no field is written before it), write the fields, generation += 1,
 * seq += 1 (even, release). generation changes at every
 * policy the worker installs, so a client that cached anything by policy
 * (sockets from a batch) knows to drop it.
 */
#pragma once

#include <stdint.h>

#define PSOCK_PAGE_MAGIC 0x67617070u /* "ppag" little-endian */
#define PSOCK_PAGE_LAYOUT 1u
#define PSOCK_PAGE_SIZE 4096u

/*
 * Calls an identity may make without asking psockd: psockd's policy allows
 * every request of that call and family for this identity (any address,
 * any port; for bind, port 0 and ports 1024-65535, the range the kernel
 * leaves to unprivileged processes by default: a client sends a bind to
 * ports 1-1023 to psockd even where net.ipv4.ip_unprivileged_port_start
 * is lower, and a bind the kernel refuses for lack of privilege still goes
 * to psockd).
 * psockd sets none of them while it audits allowed calls (--audit-allow):
 * each call must reach it to be recorded.
 */
enum psock_free_call {
  PSOCK_FREE_CONNECT_INET = 1u << 0,
  PSOCK_FREE_CONNECT_INET6 = 1u << 1,
  PSOCK_FREE_SENDTO_INET = 1u << 2, /* sendto/sendmsg with a destination */
  PSOCK_FREE_SENDTO_INET6 = 1u << 3,
  PSOCK_FREE_BIND_INET = 1u << 4,
  PSOCK_FREE_BIND_INET6 = 1u << 5,
  PSOCK_FREE_LISTEN_INET = 1u << 6,
  PSOCK_FREE_LISTEN_INET6 = 1u << 7,
};

/*
 * Socket kinds psockd hands this identity in batches (SocketRequest.batch):
 * those its policy allows outright, without privilege.
 */
enum psock_batch_kind {
  PSOCK_BATCH_TCP4 = 1u << 0, /* AF_INET, SOCK_STREAM, 0 or IPPROTO_TCP */
  PSOCK_BATCH_UDP4 = 1u << 1, /* AF_INET, SOCK_DGRAM, 0 or IPPROTO_UDP */
  PSOCK_BATCH_TCP6 = 1u << 2,
  PSOCK_BATCH_UDP6 = 1u << 3,
};

struct psock_page {
  uint32_t magic;      /* PSOCK_PAGE_MAGIC */
  uint32_t layout;     /* PSOCK_PAGE_LAYOUT */
  uint64_t seq;        /* seqlock; odd while psockd rewrites the page */
  uint64_t generation; /* +1 at every policy the worker installs */
  uint32_t free;       /* enum psock_free_call bits */
  uint32_t batch;      /* enum psock_batch_kind bits */
};

_Static_assert(sizeof(struct psock_page) <= PSOCK_PAGE_SIZE,
               "the page holds the header");
