/* SPDX-License-Identifier: MIT */
/*
 * call: the call object (see call.h): a per-call arena that protobuf-c
 * decodes into and replies are built in, recycled call objects (serving a
 * request allocates nothing in the common case), typed errors, and the
 * reply's way out through conn_send().
 *
 * Trust boundary: none beyond call.h's; every fd a call holds is closed
 * through the closer when it may be a client's.
 */
#include "call.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"
#include "closer.h"
#include "log.h"

/* Finished call objects kept for reuse, so serving needs no malloc. */
#define MAX_FREE_CALLS 64

/*
 * Under AddressSanitizer (test and fuzz builds) the arena poisons what it
 * has not handed out and leaves a poisoned gap after each allocation, so an
 * overrun of one decoded field into the next is reported as with malloc.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_REDZONE 16
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ARENA_REDZONE 0
#endif

static struct rpc_call *free_calls, *limbo;
static unsigned n_free_calls;
/* Replies are packed on the loop thread only: one buffer serves. */
static uint8_t pack_buf[PSOCK_MAX_PACKET];

/* ------------------------------------------------------------- arena */

void *rpc_alloc(struct rpc_call *call, size_t size) {
  struct arena *a = &call->arena;
  struct arena_block *b;
  size_t align = _Alignof(max_align_t);
  size_t want = size;
  void *p;

  if (size > PSOCK_MAX_PACKET * 4)
    return NULL; /* nothing a request needs; keeps the sums below small */
  size = (size + ARENA_REDZONE + align - 1) & ~(align - 1);
  if (size <= sizeof(a->first) - a->used) {
    p = (char *)a->first + a->used;
    a->used += size;
  } else if ((b = a->head) && size <= b->size - b->used) {
    p = (char *)b->data + b->used;
    b->used += size;
  } else {
    /* Requests are bounded by PSOCK_MAX_PACKET, so blocks stay small. */
    size_t bsize = size > 16384 ? size : 16384;
    b = malloc(sizeof(*b) + bsize);
    if (!b)
      return NULL;
    ASAN_POISON_MEMORY_REGION(b->data, bsize);
    b->size = bsize;
    b->used = size;
    b->next = a->head;
    a->head = b;
    p = b->data;
  }
  ASAN_UNPOISON_MEMORY_REGION(p, want);
  return p;
}

char *rpc_strdup(struct rpc_call *call, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = rpc_alloc(call, n);
  if (p)
    memcpy(p, s, n);
  return p;
}

static void arena_reset(struct arena *a) {
  while (a->head) {
    struct arena_block *next = a->head->next;
    free(a->head);
    a->head = next;
  }
  a->used = 0;
  ASAN_POISON_MEMORY_REGION(a->first, sizeof(a->first));
}

static void *pb_alloc(void *data, size_t size) {
  return rpc_alloc(data, size);
}

static void pb_free(void *data, void *p) {
}

void call_allocator(struct rpc_call *call, ProtobufCAllocator *ret) {
  *ret = (ProtobufCAllocator){pb_alloc, pb_free, call};
}

/* ---------------------------------------------------------- call life */

struct rpc_call *call_new(struct conn *conn) {
  struct rpc_call *call = free_calls;

  if (call) {
    free_calls = call->next_free;
    n_free_calls--;
  } else {
    call = malloc(sizeof(*call));
    if (!call)
      return NULL;
  }
  /* Everything but the arena's data block starts zeroed. */
  memset(call, 0, offsetof(struct rpc_call, arena));
  call->arena.head = NULL;
  call->arena.used = 0;
  ASAN_POISON_MEMORY_REGION(call->arena.first, sizeof(call->arena.first));
  for (size_t i = 0; i < PSOCK_MAX_FDS; i++)
    call->fds_in[i] = -1;
  for (size_t i = 0; i < PSOCK_MAX_REPLY_FDS; i++)
    call->fds_out[i] = -1;
  call->resp = (Psock__V1__Response)PSOCK__V1__RESPONSE__INIT;
  call->name = "unknown";
  if (conn)
    conn_ref(conn);
  call->conn = conn;
  call->authz = authz_get();
  return call;
}

void call_release(struct rpc_call *call) {
  struct closer *closer = call->conn ? call->conn->set->closer : NULL;

  /* fds_in are the client's sockets: it may have set SO_LINGER on them and
   * closed its own copy, so ours may be the last one. */
  closer_add_fds(closer, call->fds_in, PSOCK_MAX_FDS);
  closer_add_fds(closer, call->fds_out, PSOCK_MAX_REPLY_FDS);
  if (call->pending && call->conn)
    conn_unwait(call->conn, &call->waiter);
  authz_put(call->authz);
  call->authz = NULL;
  if (call->conn)
    conn_unref(call->conn);
  call->conn = NULL;
  call->next_free = limbo;
  limbo = call;
}

void call_reap(void) {
  while (limbo) {
    struct rpc_call *call = limbo;
    limbo = call->next_free;
    arena_reset(&call->arena);
    if (n_free_calls < MAX_FREE_CALLS) {
      call->next_free = free_calls;
      free_calls = call;
      n_free_calls++;
    } else {
      ASAN_UNPOISON_MEMORY_REGION(call->arena.first, sizeof(call->arena.first));
      free(call);
    }
  }
}

void call_cleanup(void) {
  call_reap();
  while (free_calls) {
    struct rpc_call *next = free_calls->next_free;
    ASAN_UNPOISON_MEMORY_REGION(free_calls->arena.first,
                                sizeof(free_calls->arena.first));
    free(free_calls);
    free_calls = next;
  }
  n_free_calls = 0;
}

/* --------------------------------------------------------------- errors */

enum rpc_outcome rpc_fail(struct rpc_call *call, Psock__V1__Error__Kind kind,
                          int code, const char *fmt, ...) {
  Psock__V1__Error *e = RPC_NEW(call, Psock__V1__Error, PSOCK__V1__ERROR__INIT);
  char *msg = rpc_alloc(call, 256);
  va_list ap;

  if (!e || !msg) {
    /* Out of memory while failing: answer with a static error. */
    static Psock__V1__Error oom = PSOCK__V1__ERROR__INIT;
    oom.kind = PSOCK__V1__ERROR__KIND__OS_ERROR;
    oom.code = ENOMEM;
    oom.message = (char *)"Cannot allocate memory";
    e = &oom;
  } else {
    va_start(ap, fmt);
    vsnprintf(msg, 256, fmt, ap);
    va_end(ap);
    e->kind = kind;
    e->code = code;
    e->message = msg;
  }
  call->resp.result_case = PSOCK__V1__RESPONSE__RESULT_ERROR;
  call->resp.error = e;
  return RPC_FAILED;
}

enum rpc_outcome rpc_errno(struct rpc_call *call, int neg) {
  int e = neg < 0 ? -neg : EIO;

  return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, e, "%s", strerror(e));
}

bool rpc_allowed(struct rpc_call *call, const struct policy_query *q) {
  static const struct identity nobody_known = {.unit_unknown = 1};
  const struct identity *who = call->conn ? &call->conn->peer : &nobody_known;

  return authz_decide(call->authz, who, q, &call->decision);
}

bool rpc_sendto_restricted(const struct rpc_call *call) {
  return !call->conn || authz_sendto_restricted(call->authz, &call->conn->peer);
}

bool rpc_batchable(const struct rpc_call *call, int family, int type,
                   int proto) {
  return call->conn &&
         authz_batchable(call->authz, &call->conn->peer, family, type, proto);
}

enum rpc_outcome rpc_refuse(struct rpc_call *call) {
  const struct policy_decision *d = &call->decision;

  return rpc_fail(call, PSOCK__V1__ERROR__KIND__POLICY_DENIED,
                  d->error ? d->error : EACCES, "denied by policy (%s)",
                  d->rule);
}

int rpc_add_fd(struct rpc_call *call, int fd) {
  if (call->nfds_out >= PSOCK_MAX_REPLY_FDS) {
    close(fd);
    return -EMSGSIZE;
  }
  call->fds_out[call->nfds_out++] = fd;
  return 0;
}

/* ------------------------------------------------------- off the loop */

static void call_cancel(struct conn_waiter *w) {
  struct rpc_call *call =
      (struct rpc_call *)((char *)w - offsetof(struct rpc_call, waiter));

  call->pending = false;
  call->conn->inflight--;
  if (call->cancel)
    call->cancel(call);
  else
    rpc_finish(call, rpc_errno(call, -ECANCELED));
}

enum rpc_outcome rpc_pending(struct rpc_call *call,
                             void (*cancel)(struct rpc_call *call)) {
  call->cancel = cancel;
  call->waiter.cancel = call_cancel;
  call->pending = true;
  if (call->conn) {
    call->conn->inflight++;
    conn_wait(call->conn, &call->waiter);
  }
  return RPC_PENDING;
}

void rpc_resumed(struct rpc_call *call) {
  if (!call->pending)
    return;
  call->pending = false;
  if (call->conn) {
    call->conn->inflight--;
    conn_unwait(call->conn, &call->waiter);
  }
}

/* ------------------------------------------------------------ replies */

static void log_error_reply(const struct rpc_call *call) {
  const Psock__V1__Error *e = call->resp.error;
  uint64_t serial = call->conn ? call->conn->serial : 0;

  /* A client that sends what it should not is worth a notice (limited: it
   * may send nothing else); an operation that failed is the client's
   * business, logged only with --verbose. */
  if (e->kind == PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR)
    log_limited(LOG_NOTICE,
                "conn %" PRIu64 ": %s request %" PRIu64
                " answered with error kind %d code %d: %s",
                serial, call->name, call->id, (int)e->kind, (int)e->code,
                e->message);
  else
    log_debug("conn %" PRIu64 ": %s request %" PRIu64
              " answered with error kind %d code %d: %s",
              serial, call->name, call->id, (int)e->kind, (int)e->code,
              e->message);
}

/* Make the reply consistent with the outcome before it is packed. */
static void settle(struct rpc_call *call, enum rpc_outcome outcome) {
  Psock__V1__Response *resp = &call->resp;
  struct closer *closer = call->conn ? call->conn->set->closer : NULL;

  if (outcome == RPC_REPLIED &&
      (resp->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR ||
       !resp->hello)) {
    /* All result members are pointers in one union: hello aliases them. */
    log_err("handler %s replied without a reply", call->name);
    rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EIO, "internal error");
  } else if (outcome != RPC_REPLIED &&
             resp->result_case != PSOCK__V1__RESPONSE__RESULT_ERROR) {
    log_err("handler %s failed without an error", call->name);
    rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EIO, "internal error");
  }
  if (resp->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    log_error_reply(call);
    closer_add_fds(closer, call->fds_out, PSOCK_MAX_REPLY_FDS);
    call->nfds_out = 0;
  }
  resp->id = call->id;
  resp->fd_count = (uint32_t)call->nfds_out;
}

/* Pack a settled reply; one too large becomes an error that fits. */
static ssize_t pack(struct rpc_call *call, void *buf, size_t cap) {
  ssize_t len = wire_pack(&call->resp.base, buf, cap);

  if (len >= 0)
    return len;
  log_err("reply to %s does not fit in a packet", call->name);
  rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EMSGSIZE, "reply too large");
  settle(call, RPC_FAILED);
  return wire_pack(&call->resp.base, buf, cap);
}

ssize_t call_pack_reply(struct rpc_call *call, void *buf, size_t cap) {
  settle(call, call->resp.result_case == PSOCK__V1__RESPONSE__RESULT_ERROR
                   ? RPC_FAILED
                   : RPC_REPLIED);
  return pack(call, buf, cap);
}

void rpc_finish(struct rpc_call *call, enum rpc_outcome outcome) {
  struct conn *c = call->conn;
  ssize_t len;

  rpc_resumed(call);
  settle(call, outcome);
  /* Our copies of the client's sockets go before the reply does: once the
   * client has its answer it may close its own copy and expect the socket
   * gone (a listener no longer accepting), as natively. */
  closer_add_fds(c ? c->set->closer : NULL, call->fds_in, PSOCK_MAX_FDS);
  if (c && !c->dead) {
    len = pack(call, pack_buf, sizeof(pack_buf));
    /* conn_send() owns the fds from here, sent or not. */
    if (len > 0)
      conn_send(c, pack_buf, (size_t)len, call->fds_out, call->nfds_out);
    for (size_t i = 0; i < PSOCK_MAX_REPLY_FDS; i++)
      call->fds_out[i] = -1;
  }
  call_release(call);
}
