/* SPDX-License-Identifier: MIT */
/*
 * resolveask: a worker's queries to its resolver (see resolveask.h).
 * Pending queries sit in a small slot table; a tag is the slot's index and
 * its generation, so an answer for a cancelled query (the resolver may have
 * been running it) finds a changed generation and is dropped.
 *
 * Trust boundary: answers come from the resolver, a process of the same
 * user that runs NSS modules; each is decoded with protobuf-c and must
 * carry the result case of its query or an error.
 */
#include "resolveask.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "resolveproto.h"
#include "wire.h"

struct slot {
  struct rpc_call *call; /* NULL: free */
  resolve_done_fn done;
  uint32_t gen;
  int call_case;
};

static struct {
  struct loop *loop;
  struct watch watch;
  int fd;
  bool lost;
  struct slot *slots;
  unsigned n_slots, used;
  uint8_t buf[sizeof(struct resolve_hdr) + PSOCK_MAX_PACKET];
} RA = {.fd = -1};

bool resolveask_lost(void) {
  return RA.lost;
}

static uint64_t tag_of(unsigned i) {
  return (uint64_t)RA.slots[i].gen << 32 | i;
}

static struct slot *slot_of(uint64_t tag) {
  uint32_t i = (uint32_t)tag;

  if (i >= RA.n_slots || !RA.slots[i].call ||
      RA.slots[i].gen != (uint32_t)(tag >> 32))
    return NULL;
  return &RA.slots[i];
}

static void slot_free(struct slot *s) {
  s->call = NULL;
  s->gen++;
  RA.used--;
}

static int send_hdr(uint32_t kind, uint64_t tag, const void *body, size_t len) {
  struct resolve_hdr h = {.kind = kind, .tag = tag};

  memcpy(RA.buf, &h, sizeof(h));
  if (len)
    memcpy(RA.buf + sizeof(h), body, len);
  return wire_send_packet(RA.fd, RA.buf, sizeof(h) + len, NULL, 0, 0);
}

/* The client went away: the resolver drops the query if it has not
 * started it, and its answer finds no slot. */
static void cancel(struct rpc_call *call) {
  for (unsigned i = 0; i < RA.n_slots; i++) {
    if (RA.slots[i].call != call)
      continue;
    if (!RA.lost)
      send_hdr(RESOLVE_CANCEL, tag_of(i), NULL, 0);
    slot_free(&RA.slots[i]);
    break;
  }
  rpc_finish(call, rpc_errno(call, -ECANCELED));
}

static void deliver(struct slot *s, const uint8_t *buf, size_t len) {
  struct rpc_call *call = s->call;
  resolve_done_fn done = s->done;
  int want = s->call_case;
  ProtobufCAllocator alloc;
  Psock__V1__Response *resp;

  slot_free(s);
  rpc_resumed(call);
  call_allocator(call, &alloc);
  resp = buf ? psock__v1__response__unpack(&alloc, len, buf) : NULL;
  if (resp && resp->result_case != PSOCK__V1__RESPONSE__RESULT_ERROR &&
      (int)resp->result_case != want) {
    log_err("resolver answered a different call (%d for %d)",
            (int)resp->result_case, want);
    resp = NULL;
  }
  done(call, resp);
}

static void fail_all(void) {
  for (unsigned i = 0; i < RA.n_slots; i++) {
    struct slot *s = &RA.slots[i];
    if (s->call)
      deliver(s, NULL, 0);
  }
}

static void on_answer(struct watch *w, uint32_t events) {
  struct resolve_hdr h;
  struct slot *s;
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet(RA.fd, RA.buf, sizeof(RA.buf), NULL, 0, &nfds,
                       MSG_DONTWAIT);
  if (n == -EAGAIN)
    return;
  if (n < (ssize_t)sizeof(h)) {
    log_err("resolver gone (%s)", n < 0 ? strerror((int)-n) : "closed");
    RA.lost = true;
    loop_del(RA.loop, RA.fd, &RA.watch);
    fail_all();
    return;
  }
  memcpy(&h, RA.buf, sizeof(h));
  s = h.kind == RESOLVE_ANSWER ? slot_of(h.tag) : NULL;
  if (s)
    deliver(s, RA.buf + sizeof(h), (size_t)n - sizeof(h));
}

int resolveask_init(struct loop *l, int fd, unsigned max_pending) {
  RA.loop = l;
  RA.fd = fd;
  RA.n_slots = max_pending ? max_pending : 1;
  RA.slots = calloc(RA.n_slots, sizeof(*RA.slots));
  if (!RA.slots)
    return -ENOMEM;
  RA.watch.on_event = on_answer;
  return loop_add(l, fd, EPOLLIN, &RA.watch);
}

void resolveask_shutdown(void) {
  RA.lost = true;
  fail_all();
  if (RA.fd >= 0) {
    loop_del(RA.loop, RA.fd, &RA.watch);
    close(RA.fd);
  }
  RA.fd = -1;
  free(RA.slots);
  RA.slots = NULL;
  RA.n_slots = 0;
}

enum rpc_outcome resolveask(struct rpc_call *call,
                            const Psock__V1__Request *req,
                            resolve_done_fn done) {
  /* The header and the request in one packet of at most PSOCK_MAX_PACKET. */
  uint8_t body[PSOCK_MAX_PACKET - sizeof(struct resolve_hdr)];
  unsigned i;
  ssize_t len;
  int r;

  if (RA.lost)
    return rpc_errno(call, -EIO);
  if (RA.used >= RA.n_slots) {
    log_limited(LOG_NOTICE,
                "%u name lookups already in flight for this user: refused",
                RA.used);
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EAGAIN,
                    "too many name lookups in flight for this user");
  }
  len = wire_pack(&req->base, body, sizeof(body));
  if (len < 0)
    return rpc_errno(call, (int)len);
  for (i = 0; RA.slots[i].call; i++)
    ;
  r = send_hdr(RESOLVE_QUERY, tag_of(i), body, (size_t)len);
  if (r < 0)
    return rpc_errno(call, r);
  RA.slots[i] = (struct slot){.call = call,
                              .done = done,
                              .gen = RA.slots[i].gen,
                              .call_case = (int)req->call_case};
  RA.used++;
  return rpc_pending(call, cancel);
}
