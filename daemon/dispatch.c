/* SPDX-License-Identifier: MIT */
/*
 * dispatch: the one place where a client's request packet becomes a call.
 *
 * Trust boundary: buf and fds come straight from a client. In order, this
 * file checks that the packet decodes as a Request, that fd_count equals the
 * fds that arrived, that the handshake came first, that the call is one we
 * serve, that the call carries exactly the fds it takes and that each is a
 * socket. Only then does a handler run. A framing error (first three
 * checks) closes the connection; the others answer with a typed error.
 */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authz.h"
#include "config.h"
#include "log.h"
#include "quota.h"
#include "rpc.h"
#include "worker.h"

/* Finished call objects kept for reuse, so serving needs no malloc. */
#define MAX_FREE_CALLS 64

/*
 * Under AddressSanitizer (test and fuzz builds) the arena poisons what it
 * has not handed out and leaves a poisoned gap after each allocation, so
 * an overrun of one decoded field into the next is reported as it would be
 * with malloc.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_REDZONE 16
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ARENA_REDZONE 0
#endif

static int rpc_hello(struct rpc_call *call);

#define M(case_, name_, fn_, fds_)                                             \
  [PSOCK__V1__REQUEST__CALL_##                                                 \
      case_] = {.name = name_, .handler = fn_, .fds_in = fds_}
#define L(case_, name_, fn_, pol_)                                             \
  [PSOCK__V1__REQUEST__CALL_##                                                 \
      case_] = {.name = name_, .handler = fn_, .policy = RPC_POLICY_##pol_}

/* The method table: one entry per Request.call case. */
static const struct rpc_method methods[] = {
    M(HELLO, "hello", rpc_hello, 0),
    M(SOCKET, "socket", rpc_socket, 0),
    M(SOCKETPAIR, "socketpair", rpc_socketpair, 0),
    M(FROMFD, "fromfd", rpc_fromfd, 1),
    M(CREATE_CONNECTION, "create_connection", rpc_create_connection, 0),
    M(BIND, "bind", rpc_bind, 1),
    M(CONNECT, "connect", rpc_connect, 1),
    M(LISTEN, "listen", rpc_listen, 1),
    M(ACCEPT, "accept", rpc_accept, 1),
    M(SETSOCKOPT, "setsockopt", rpc_setsockopt, 1),
    M(GETSOCKOPT, "getsockopt", rpc_getsockopt, 1),
    M(GETSOCKNAME, "getsockname", rpc_getsockname, 1),
    M(GETPEERNAME, "getpeername", rpc_getpeername, 1),
    M(SHUTDOWN, "shutdown", rpc_shutdown, 1),
    M(SENDTO, "sendto", rpc_sendto, 1),
    L(GETADDRINFO, "getaddrinfo", rpc_getaddrinfo, LOOKUP),
    L(GETNAMEINFO, "getnameinfo", rpc_getnameinfo, REVERSE),
    L(GETHOSTBYNAME, "gethostbyname", rpc_gethostbyname, LOOKUP),
    L(GETHOSTBYNAME_EX, "gethostbyname_ex", rpc_gethostbyname_ex, LOOKUP),
    L(GETHOSTBYADDR, "gethostbyaddr", rpc_gethostbyaddr, REVERSE),
    L(GETHOSTNAME, "gethostname", rpc_gethostname, LOOKUP),
    L(GETFQDN, "getfqdn", rpc_getfqdn, REVERSE),
    L(GETPROTOBYNAME, "getprotobyname", rpc_getprotobyname, LOOKUP),
    L(GETSERVBYNAME, "getservbyname", rpc_getservbyname, LOOKUP),
    L(GETSERVBYPORT, "getservbyport", rpc_getservbyport, LOOKUP),
    L(HAS_IPV6, "has_ipv6", rpc_has_ipv6, LOOKUP),
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Stands in for a call we do not serve, so logs can name it. */
static const struct rpc_method unknown_method = {.name = "unknown"};

static struct rpc_call *free_calls;
static unsigned n_free_calls;

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

/* ---------------------------------------------------------- call life */

static struct rpc_call *call_new(struct conn *c) {
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
    call->fds_in[i] = call->fds_out[i] = -1;
  call->resp = (Psock__V1__Response)PSOCK__V1__RESPONSE__INIT;
  conn_ref(c);
  call->conn = c;
  call->authz = authz_get();
  return call;
}

static void call_release(struct rpc_call *call) {
  wire_close_fds(call->fds_in, PSOCK_MAX_FDS);
  wire_close_fds(call->fds_out, PSOCK_MAX_FDS);
  arena_reset(&call->arena);
  authz_put(call->authz);
  conn_unref(call->conn);
  if (n_free_calls < MAX_FREE_CALLS) {
    call->next_free = free_calls;
    free_calls = call;
    n_free_calls++;
  } else {
    ASAN_UNPOISON_MEMORY_REGION(call->arena.first, sizeof(call->arena.first));
    free(call);
  }
}

void dispatch_cleanup(void) {
  while (free_calls) {
    struct rpc_call *next = free_calls->next_free;
    ASAN_UNPOISON_MEMORY_REGION(free_calls->arena.first,
                                sizeof(free_calls->arena.first));
    free(free_calls);
    free_calls = next;
  }
  n_free_calls = 0;
}

/* --------------------------------------------------------------- replies */

int rpc_fail(struct rpc_call *call, Psock__V1__Error__Kind kind, int code,
             const char *fmt, ...) {
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
  return 0;
}

int rpc_add_fd(struct rpc_call *call, int fd) {
  if (call->nfds_out >= PSOCK_MAX_FDS) {
    close(fd);
    return -EMSGSIZE;
  }
  call->fds_out[call->nfds_out++] = fd;
  return 0;
}

void rpc_finish(struct rpc_call *call, int rc) {
  struct conn *c = call->conn;
  Psock__V1__Response *resp = &call->resp;
  ssize_t len;

  if (rc < 0)
    rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, -rc, "%s", strerror(-rc));
  else if (resp->result_case != PSOCK__V1__RESPONSE__RESULT_ERROR &&
           !resp->hello) {
    /* All result members are pointers in one union: hello aliases them. */
    log_err("handler %s returned no reply", call->method->name);
    rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EIO, "internal error");
  }
  if (resp->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    const Psock__V1__Error *e = resp->error;
#define LOG_ERROR_REPLY(log, ...)                                              \
  log(__VA_ARGS__,                                                             \
      "conn %" PRIu64 " (uid %u): %s request %" PRIu64                         \
      " answered with error kind %d code %d: %s",                              \
      c->serial, c->peer.uid, call->method->name, call->id, (int)e->kind,      \
      (int)e->code, e->message)
    /* A client that sends what it should not is worth a notice (limited:
     * it may send nothing else); an operation that failed is the client's
     * business, logged only with --verbose. */
    if (e->kind == PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR)
      LOG_ERROR_REPLY(log_limited, LOG_NOTICE);
    else
      LOG_ERROR_REPLY(log_msg, LOG_DEBUG);
#undef LOG_ERROR_REPLY
    wire_close_fds(call->fds_out, PSOCK_MAX_FDS);
    call->nfds_out = 0;
  }
  resp->id = call->id;
  resp->fd_count = (uint32_t)call->nfds_out;

  if (!c->dead) {
    uint8_t *buf = worker_pack_buffer(c->w);
    len = wire_pack(&resp->base, buf, PSOCK_MAX_PACKET);
    if (len < 0) {
      log_err("conn %" PRIu64 ": reply to %s does not fit in a packet",
              c->serial, call->method->name);
      rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EMSGSIZE,
               "reply too large");
      wire_close_fds(call->fds_out, PSOCK_MAX_FDS);
      call->nfds_out = 0;
      resp->fd_count = 0;
      len = wire_pack(&resp->base, buf, PSOCK_MAX_PACKET);
    }
    /* conn_send() owns the fds from here, sent or not. */
    conn_send(c, buf, (size_t)len, call->fds_out, call->nfds_out);
    for (size_t i = 0; i < PSOCK_MAX_FDS; i++)
      call->fds_out[i] = -1;
  }
  call_release(call);
}

/* ----------------------------------------------------------- handshake */

size_t dispatch_features(const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < N_METHODS && n < max; i++)
    if (methods[i].handler && methods[i].handler != rpc_hello)
      names[n++] = methods[i].name;
  return n;
}

static int rpc_hello(struct rpc_call *call) {
  const Psock__V1__Hello *h = call->req->hello;
  struct conn *c = call->conn;
  Psock__V1__HelloReply *r;
  const char **features;

  if (c->hello_done)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO,
                    "handshake already done");
  if (h->protocol_version != PSOCK_PROTOCOL_VERSION) {
    log_limited(
        LOG_WARNING, "conn %" PRIu64 ": uid %u speaks protocol %u, we speak %u",
        c->serial, c->peer.uid, h->protocol_version, PSOCK_PROTOCOL_VERSION);
    c->close_when_sent = true;
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR,
                    EPROTONOSUPPORT,
                    "protocol version %u not supported (psockd speaks %u)",
                    h->protocol_version, PSOCK_PROTOCOL_VERSION);
  }
  r = RPC_NEW(call, Psock__V1__HelloReply, PSOCK__V1__HELLO_REPLY__INIT);
  features = rpc_alloc(call, N_METHODS * sizeof(*features));
  if (!r || !features)
    return -ENOMEM;
  r->protocol_version = PSOCK_PROTOCOL_VERSION;
  r->daemon_version = (char *)PSOCK_VERSION;
  r->n_features = dispatch_features(features, N_METHODS);
  r->features = (char **)features;
  r->max_packet = PSOCK_MAX_PACKET;
  c->hello_done = true;
  call->resp.hello = r;
  return 0;
}

/* ------------------------------------------------------------ dispatch */

/* SO_DOMAIN answers ENOTSOCK for anything but a socket, and the handlers
 * need the family: one system call does for both (call->fd_family). */
static int check_fds_are_sockets(struct rpc_call *call) {
  for (size_t i = 0; i < call->nfds_in; i++) {
    socklen_t len = sizeof(int);
    int family;

    if (getsockopt(call->fds_in[i], SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
      return -errno;
    if (i == 0)
      call->fd_family = family;
  }
  return 0;
}

static int check_lookup_policy(struct rpc_call *call,
                               const struct rpc_method *m) {
  struct policy_query q = {0};

  if (m->policy == RPC_POLICY_HANDLER)
    return 0;
  q.call = m->policy == RPC_POLICY_LOOKUP ? POLICY_LOOKUP : POLICY_REVERSE;
  rpc_authorize(call, &q);
  return 0;
}

/* Checks that answer with a typed error; the connection stays. */
static int check_call(struct rpc_call *call, int call_case) {
  struct conn *c = call->conn;
  int r;

  if (call_case <= 0 || (size_t)call_case >= N_METHODS ||
      !methods[call_case].handler) {
    /* A call this schema lacks arrives as an unknown field: name it. */
    unsigned number = (unsigned)call_case;
    if (call_case == 0 && call->req->base.n_unknown_fields > 0)
      number = call->req->base.unknown_fields[0].tag;
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, ENOSYS,
                    "unknown call %u", number);
  }
  if (call->nfds_in != methods[call_case].fds_in)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO,
                    "%s takes %u fd(s), got %zu", methods[call_case].name,
                    methods[call_case].fds_in, call->nfds_in);
  if (c->inflight >= limits.inflight_per_conn) {
    log_limited(LOG_NOTICE,
                "conn %" PRIu64 " (uid %u): %u requests in flight: %s refused",
                c->serial, c->peer.uid, c->inflight, methods[call_case].name);
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EAGAIN,
                    "too many requests in flight on this connection");
  }
  r = check_fds_are_sockets(call);
  if (r < 0)
    return r;
  return check_lookup_policy(call, &methods[call_case]);
}

int dispatch_packet(struct conn *c, const uint8_t *buf, size_t len, int *fds,
                    size_t nfds) {
  ProtobufCAllocator alloc = {pb_alloc, pb_free, NULL};
  struct rpc_call *call = call_new(c);
  int call_case, r;

  if (!call) {
    wire_close_fds(fds, nfds);
    return -ENOMEM;
  }
  if (nfds > PSOCK_MAX_FDS) {
    /* wire_recv_packet() never passes more; do not trust that here. */
    log_limited(LOG_WARNING, "conn %" PRIu64 " (uid %u): %zu fds in one packet",
                c->serial, c->peer.uid, nfds);
    wire_close_fds(fds, nfds);
    r = -EPROTO;
    goto framing_error;
  }
  memcpy(call->fds_in, fds, nfds * sizeof(int));
  call->nfds_in = nfds;
  alloc.allocator_data = call;
  call->req = psock__v1__request__unpack(&alloc, len, buf);
  if (!call->req) {
    log_limited(LOG_WARNING,
                "conn %" PRIu64 " (uid %u): undecodable packet of %zu bytes",
                c->serial, c->peer.uid, len);
    r = -EBADMSG;
    goto framing_error;
  }
  if (call->req->fd_count != nfds) {
    log_limited(LOG_WARNING,
                "conn %" PRIu64 " (uid %u): fd_count %u but %zu fds arrived",
                c->serial, c->peer.uid, call->req->fd_count, nfds);
    r = -EPROTO;
    goto framing_error;
  }
  call_case = (int)call->req->call_case;
  if (!c->hello_done && call_case != PSOCK__V1__REQUEST__CALL_HELLO) {
    log_limited(LOG_WARNING,
                "conn %" PRIu64 " (uid %u): request %d before handshake",
                c->serial, c->peer.uid, call_case);
    r = -EPROTO;
    goto framing_error;
  }
  call->id = call->req->id;
  call->method = call_case > 0 && (size_t)call_case < N_METHODS &&
                         methods[call_case].handler
                     ? &methods[call_case]
                     : &unknown_method;
  /* Reply and request share case numbers: see psock.proto. */
  call->resp.result_case = (Psock__V1__Response__ResultCase)call_case;

  r = check_call(call, call_case);
  if (r == 0 && call->resp.result_case != PSOCK__V1__RESPONSE__RESULT_ERROR)
    r = call->method->handler(call);
  if (r != RPC_ASYNC)
    rpc_finish(call, r);
  return 0;

framing_error:
  call_release(call);
  return r;
}
