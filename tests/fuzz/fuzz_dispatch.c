/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for a worker below its event loop: request decoding and
 * the method table (daemon/dispatch.c), the call object (call.c), every
 * handler (rpc_socket.c, rpc_sockopt.c, rpc_connection.c, rpc_lookup.c),
 * the resolver's asking side (resolveask.c) and the name-service handlers
 * (names.c), authz and the policy, the closer, the address codec, fed a
 * fuzzer-chosen sequence of packets with real fds (socketpairs, inet
 * sockets, a pipe, a memfd, /dev/null) on one connection. Input format:
 * tests/fuzz/fuzz.h.
 *
 * What is not psockd's own code:
 *  - the connection: tests/fuzz/fake_conn.c stands in for conn.c (no
 *    client socket: every reply is checked instead of sent; see there);
 *  - the log: tests/fuzz/fuzz_log.c formats every line and drops it;
 *  - the resolver process: this file plays it, over a real SOCK_SEQPACKET
 *    socketpair given to resolveask_init(). After each packet it reads the
 *    queries the worker sent and answers them with the real names.c
 *    handlers (names_handler()) on this thread, as resolver.c does on its
 *    lookup threads; or later, or never (the input says); it honours
 *    RESOLVE_CANCEL as resolver.c does for a query not yet started, or
 *    answers anyway (a query already running). A resolver record sends
 *    the input's bytes as an answer instead: a forged one;
 *  - worker.c's loop: this file calls dispatch_packet() as conn_read()
 *    would, and runs a real epoll loop (struct loop) after each packet,
 *    which delivers the resolver's answers and drives the create_connection
 *    attempts (non-blocking connects and their timerfds), with
 *    closer_flush(), call_reap() and conn_bury() after every batch.
 *
 * Containment. The handlers run for real, in this process, so what they
 * may do is held to harmless calls:
 *  - the process drops every capability first (a worker has none, so this
 *    is also the worker's real situation), and there is no psockd-priv
 *    channel (privask's single-process mode: the kernel's refusal stands);
 *  - the client is uid 65534, so psockd refuses AF_UNIX sockets and
 *    AF_UNIX path binds and connects before the policy is asked;
 *  - the policy below allows unix, TCP and UDP sockets (no raw, packet or
 *    netlink sockets: no module loading, no traffic capture), binds to
 *    loopback, abstract unix names @psock-fuzz-* only, listen, connects
 *    and sendto to port 1 on loopback only, and name lookups; privileged
 *    socket options are denied;
 *  - name lookups use /etc/hosts, /etc/services and /etc/protocols only
 *    (__nss_configure_lookup), never DNS;
 *  - a forged resolver answer that would hand the worker a unix path is
 *    not sent (the policy does not judge paths, see docs/policy.md);
 *  - small limits (3 requests in flight, 2 lookups) so inputs reach them;
 *  - an input of even length runs with --audit-allow (every decision
 *    formats its record), one of odd length without it, so that the
 *    policy's batch kinds (TCP and UDP) give batches.
 *
 * Oracles, besides the sanitizers and those of fake_conn.c on every reply:
 *  - a reply answers a request the client sent and no request is answered
 *    twice; while the connection lives, every request is either answered
 *    or in flight;
 *  - the worker asks its resolver name-service calls only;
 *  - a socket reply with more than one fd (a batch, issue 16) comes
 *    without --audit-allow only, and its fds are distinct TCP or UDP
 *    sockets of one kind; a hello reply that says it carries the policy
 *    page carries one fd, sealed, and any other carries none;
 *  - no AF_UNIX socket made for the client; a socket bound or connected in
 *    psockd's place ("replaced") has an abstract name the policy names; a
 *    connect or create_connection reply names port 1;
 *  - after each input the connection's last reference is the target's own
 *    (every call released), nothing is in flight or waiting, and the
 *    process holds exactly the fds it held before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <nss.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "bounds.h"
#include "call.h"
#include "closer.h"
#include "dispatch.h"
#include "fake_conn.h"
#include "fuzz.h"
#include "names.h"
#include "page.h"
#include "policy.h"
#include "resolveask.h"
#include "resolveproto.h"
#include "wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_UID 65534
#define ABSTRACT_PREFIX "psock-fuzz-"
/* How long one packet may wait for create_connection attempts (ms). */
#define ATTEMPT_WAIT_MS 20
/* Queries the played resolver holds at most (the worker allows 2 live). */
#define MAX_QUERIES 32

static const char fuzz_policy[] =
    "allow anyone socket family=unix type=stream,dgram,seqpacket proto=0\n"
    "allow anyone socket family=inet,inet6 type=stream,dgram "
    "proto=0,tcp,udp\n"
    "allow anyone bind family=inet,inet6 addr=127.0.0.1,::1 port=any\n"
    "allow anyone bind,connect,sendto family=unix addr=@" ABSTRACT_PREFIX "*\n"
    "allow anyone connect,sendto family=inet,inet6 addr=127.0.0.1,::1 "
    "port=1\n"
    "allow anyone listen family=any\n"
    "allow anyone lookup,reverse\n";

/* -------------------------------------------------------- the worker */

static struct loop loop = {.epfd = -1};
static struct closer *closer; /* the worker's, for the process's life */
static struct conn_set conns;
static struct conn *conn;
static struct page *page; /* the worker's policy page */
static bool audit_allow;  /* this input's --audit-allow */

/* Ids of requests that were dispatched and not answered yet. */
static struct {
  uint64_t ids[FUZZ_DISPATCH_MAX_RECORDS];
  size_t n;
} unanswered;

/* ------------------------------------------------- the resolver, played */

struct query {
  uint64_t tag;
  bool running; /* a cancel does not stop its answer */
  uint8_t *req;
  size_t len;
};

static struct {
  int fd; /* the resolver's end of the channel */
  struct query q[MAX_QUERIES];
  size_t n;
  uint64_t dropped[MAX_QUERIES]; /* tags never to be answered */
  size_t n_dropped;
  uint8_t buf[sizeof(struct resolve_hdr) + PSOCK_MAX_PACKET];
} R = {.fd = -1};

static void query_remove(size_t i) {
  free(R.q[i].req);
  memmove(&R.q[i], &R.q[i + 1], (R.n - i - 1) * sizeof(R.q[0]));
  R.n--;
}

static void dropped_remove(uint64_t tag) {
  for (size_t i = 0; i < R.n_dropped; i++)
    if (R.dropped[i] == tag) {
      R.dropped[i] = R.dropped[--R.n_dropped];
      return;
    }
}

/*
 * A query from the worker: a name-service Request, nothing else.
 * (The worker drops unknown fields before it passes a request on:
 * protobuf-c decodes a field number 0 written as "80 00" as an unknown
 * field it then packs as "00" and refuses to read back.)
 */
static void on_query(uint64_t tag, const uint8_t *body, size_t len,
                     uint8_t ctl) {
  Psock__V1__Request *req = psock__v1__request__unpack(NULL, len, body);
  struct query *q;

  if (!req || !names_handler((int)req->call_case))
    fuzz_fail("the worker asked its resolver for %s %d",
              req ? "call" : "an undecodable query of",
              req ? (int)req->call_case : (int)len);
  psock__v1__request__free_unpacked(req, NULL);
  if ((ctl & FUZZ_CTL_DROP) || R.n == MAX_QUERIES) {
    if (R.n_dropped < MAX_QUERIES)
      R.dropped[R.n_dropped++] = tag;
    return;
  }
  q = &R.q[R.n++];
  *q = (struct query){.tag = tag,
                      .running = ctl & FUZZ_CTL_RUNNING,
                      .req = malloc(len ? len : 1),
                      .len = len};
  if (!q->req)
    abort();
  memcpy(q->req, body, len);
}

/* RESOLVE_CANCEL: resolver.c removes a query no thread has taken. */
static void on_cancel(uint64_t tag) {
  dropped_remove(tag);
  for (size_t i = 0; i < R.n; i++)
    if (R.q[i].tag == tag && !R.q[i].running) {
      query_remove(i);
      return;
    }
}

/* Read everything the worker sent; ctl says what to do with queries. */
static void resolver_read(uint8_t ctl) {
  for (;;) {
    struct resolve_hdr h;
    size_t nfds = 0;
    ssize_t n = wire_recv_packet(R.fd, R.buf, sizeof(R.buf), NULL, 0, &nfds,
                                 MSG_DONTWAIT);

    if (n == -EAGAIN)
      return;
    if (n < (ssize_t)sizeof(h))
      fuzz_fail("the worker sent its resolver a packet of %zd", n);
    memcpy(&h, R.buf, sizeof(h));
    if (h.kind == RESOLVE_QUERY)
      on_query(h.tag, R.buf + sizeof(h), (size_t)n - sizeof(h), ctl);
    else if (h.kind == RESOLVE_CANCEL && n == sizeof(h))
      on_cancel(h.tag);
    else
      fuzz_fail("the worker sent its resolver kind %u (%zd bytes)", h.kind, n);
  }
}

static void loop_run(void);

/* Send an answer (R.buf holds its body). 0, or -errno: as resolver.c, an
 * answer that cannot be sent is lost (logged there). */
static int resolver_send(uint64_t tag, size_t body_len) {
  struct resolve_hdr h = {.kind = RESOLVE_ANSWER, .tag = tag};
  int r;

  memcpy(R.buf, &h, sizeof(h));
  r = wire_send_packet(R.fd, R.buf, sizeof(h) + body_len, NULL, 0,
                       MSG_DONTWAIT);
  if (r == -EAGAIN) {
    /* resolver.c blocks until the worker reads; this thread is also the
     * worker's: let it read, then try again. */
    loop_run();
    r = wire_send_packet(R.fd, R.buf, sizeof(h) + body_len, NULL, 0,
                         MSG_DONTWAIT);
  }
  if (r == -EAGAIN)
    fuzz_fail("the worker does not read its resolver's answers");
  return r;
}

/* Run one query as resolver.c's on_query() and rjob_work() do. */
static void resolver_answer(const struct query *q) {
  struct rpc_call *call = call_new(NULL);
  ProtobufCAllocator alloc;
  names_handler_fn fn;
  ssize_t len;

  if (!call)
    abort();
  call_allocator(call, &alloc);
  call->req = psock__v1__request__unpack(&alloc, q->len, q->req);
  fn = call->req ? names_handler((int)call->req->call_case) : NULL;
  if (!fn) {
    rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO,
             "not a name-service call");
  } else {
    call->resp.result_case =
        (Psock__V1__Response__ResultCase)call->req->call_case;
    fn(call);
  }
  len = call_pack_reply(call, R.buf + sizeof(struct resolve_hdr),
                        PSOCK_MAX_PACKET);
  if (len > 0)
    resolver_send(q->tag, (size_t)len);
  call_release(call);
}

/* Answer every query held, in the order they came. */
static void resolver_answer_all(void) {
  while (R.n) {
    resolver_answer(&R.q[0]);
    query_remove(0);
  }
}

/* Would this answer hand the worker a unix path to bind or connect? */
static bool names_a_path(const uint8_t *body, size_t len) {
  Psock__V1__Response *r = psock__v1__response__unpack(NULL, len, body);
  bool path = false;

  if (r && r->result_case == PSOCK__V1__RESPONSE__RESULT_GETADDRINFO)
    for (size_t i = 0; i < r->getaddrinfo->n_results; i++) {
      const Psock__V1__Address *a = r->getaddrinfo->results[i]->address;
      path |= a && a->addr_case == PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
    }
  psock__v1__response__free_unpacked(r, NULL);
  return path;
}

/* A resolver record: its bytes answer the oldest query held. */
static void resolver_forge(const uint8_t *body, size_t len) {
  uint64_t tag = R.n ? R.q[0].tag : 0;

  if (len > PSOCK_MAX_PACKET - sizeof(struct resolve_hdr) ||
      names_a_path(body, len))
    return;
  memcpy(R.buf + sizeof(struct resolve_hdr), body, len);
  if (resolver_send(tag, len) < 0)
    return;
  fake_conn_lenient = true; /* the worker passes the resolver's Error on */
  if (R.n)
    query_remove(0);
}

/* ------------------------------------------------------------ the loop */

/* What worker.c does after every batch of events. */
static void end_batch(void) {
  closer_flush(conns.closer);
  call_reap();
  conn_bury(&conns);
}

/* A create_connection attempt (connect or timer) waits on the loop: in
 * flight, but not for the resolver. */
static bool attempts_pending(void) {
  return !conn->dead && conn->inflight > R.n + R.n_dropped;
}

/* epoll_wait() through signals (libFuzzer's -timeout alarm). */
static int loop_wait(struct epoll_event *evs, int ms) {
  int n;

  while ((n = epoll_wait(loop.epfd, evs, 16, ms)) < 0 && errno == EINTR)
    ;
  return n;
}

/* One batch of what is ready now. */
static void loop_batch(void) {
  struct epoll_event evs[16];
  int n = loop_wait(evs, 0);

  for (int i = 0; i < n; i++)
    loop_dispatch(&evs[i]);
  end_batch();
}

/* Batches until nothing is ready, waiting a little for attempts. */
static void loop_run(void) {
  struct epoll_event evs[16];
  int waited = 0;

  for (;;) {
    int n = loop_wait(evs, 0);

    if (n == 0 && attempts_pending() && waited < ATTEMPT_WAIT_MS) {
      waited++;
      n = loop_wait(evs, 1);
      if (n == 0)
        continue;
    }
    if (n <= 0)
      break;
    for (int i = 0; i < n; i++)
      loop_dispatch(&evs[i]);
    end_batch();
  }
}

/* -------------------------------------------------------------- oracles */

static void unanswered_add(const uint8_t *pkt, size_t len) {
  Psock__V1__Request *req = psock__v1__request__unpack(NULL, len, pkt);

  if (!req)
    return; /* a framing error: never answered */
  if (unanswered.n == FUZZ_DISPATCH_MAX_RECORDS)
    abort();
  unanswered.ids[unanswered.n++] = req->id;
  psock__v1__request__free_unpacked(req, NULL);
}

static bool unanswered_take(uint64_t id) {
  for (size_t i = 0; i < unanswered.n; i++)
    if (unanswered.ids[i] == id) {
      unanswered.ids[i] = unanswered.ids[--unanswered.n];
      return true;
    }
  return false;
}

static int fd_domain(int fd) {
  int v = -1;
  socklen_t len = sizeof(v);

  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 ? -1 : v;
}

static void check_replaced(const Psock__V1__Address *a) {
  const size_t n = strlen(ABSTRACT_PREFIX);

  if (!a || a->addr_case != PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT ||
      a->unix_abstract.len < n ||
      memcmp(a->unix_abstract.data, ABSTRACT_PREFIX, n) != 0)
    fuzz_fail("a replaced socket at an address the policy does not name");
}

static void check_port_1(const Psock__V1__Address *a) {
  if (a &&
      ((a->addr_case == PSOCK__V1__ADDRESS__ADDR_INET && a->inet->port != 1) ||
       (a->addr_case == PSOCK__V1__ADDRESS__ADDR_INET6 && a->inet6->port != 1)))
    fuzz_fail("connected to a port the policy does not allow");
}

static int sock_opt(int fd, int opt) {
  int v = -1;
  socklen_t len = sizeof(v);

  return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

/* A batch: without --audit-allow, distinct TCP or UDP sockets of one kind. */
static void check_batch(const int *fds, size_t nfds) {
  int family = fd_domain(fds[0]), type = sock_opt(fds[0], SO_TYPE);
  int proto = sock_opt(fds[0], SO_PROTOCOL);
  struct stat st[PSOCK_MAX_REPLY_FDS];

  if (audit_allow)
    fuzz_fail("a batch of %zu sockets with --audit-allow", nfds);
  if ((family != AF_INET && family != AF_INET6) ||
      !((type == SOCK_STREAM && proto == IPPROTO_TCP) ||
        (type == SOCK_DGRAM && proto == IPPROTO_UDP)))
    fuzz_fail("a batch of socket(%d, %d, %d)", family, type, proto);
  for (size_t i = 0; i < nfds; i++) {
    if (fstat(fds[i], &st[i]) < 0 || fd_domain(fds[i]) != family ||
        sock_opt(fds[i], SO_TYPE) != type ||
        sock_opt(fds[i], SO_PROTOCOL) != proto)
      fuzz_fail("a batch of sockets of different kinds");
    for (size_t j = 0; j < i; j++)
      if (st[i].st_ino == st[j].st_ino)
        fuzz_fail("a batch holds the same socket twice");
  }
}

/* The page comes sealed, alone, and only when the reply says so. */
static void check_page(const Psock__V1__HelloReply *h, const int *fds,
                       size_t nfds) {
  const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

  if (!h->page) {
    if (nfds)
      fuzz_fail("a hello reply without the page carries %zu fd(s)", nfds);
    return;
  }
  if (nfds != 1 || (fcntl(fds[0], F_GET_SEALS) & seals) != seals)
    fuzz_fail("a hello reply's page: %zu fd(s), not sealed", nfds);
}

static void on_reply(struct conn *c, const Psock__V1__Response *r,
                     const int *fds, size_t nfds) {
  (void)c;
  if (!unanswered_take(r->id))
    fuzz_fail("reply %llu answers no request waiting for one",
              (unsigned long long)r->id);
  switch (r->result_case) {
  case PSOCK__V1__RESPONSE__RESULT_HELLO:
    check_page(r->hello, fds, nfds);
    break;
  case PSOCK__V1__RESPONSE__RESULT_SOCKET:
    if (nfds > 1)
      check_batch(fds, nfds);
    /* fall through */
  case PSOCK__V1__RESPONSE__RESULT_SOCKETPAIR:
  case PSOCK__V1__RESPONSE__RESULT_CREATE_CONNECTION:
    for (size_t i = 0; i < nfds; i++)
      if (fd_domain(fds[i]) == AF_UNIX)
        fuzz_fail("an AF_UNIX socket made for uid %u", FUZZ_UID);
    if (r->result_case == PSOCK__V1__RESPONSE__RESULT_CREATE_CONNECTION)
      check_port_1(r->create_connection->peer);
    break;
  case PSOCK__V1__RESPONSE__RESULT_BIND:
    if (r->bind->replaced)
      check_replaced(r->bind->bound);
    break;
  case PSOCK__V1__RESPONSE__RESULT_CONNECT:
    if (r->connect->replaced)
      check_replaced(r->connect->peer);
    else
      check_port_1(r->connect->peer);
    break;
  default:
    break;
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

/* For a closer that hangs: where each thread waits, what is open. */
static void dump_threads_and_fds(void) {
  static const char *const what[] = {"comm", "stat", "wchan", "syscall"};
  char path[512], buf[1024];
  struct dirent *e;
  DIR *d = opendir("/proc/self/task");

  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
      FILE *f;
      size_t n;

      snprintf(path, sizeof(path), "/proc/self/task/%s/%s", e->d_name, what[i]);
      f = fopen(path, "re");
      n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
      buf[n] = '\0';
      fprintf(stderr, "task %s %s: %s\n", e->d_name, what[i], buf);
      if (f)
        fclose(f);
    }
  }
  if (d)
    closedir(d);
  d = opendir("/proc/self/fd");
  while (d && (e = readdir(d))) {
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    n = readlink(path, buf, sizeof(buf) - 1);
    buf[n < 0 ? 0 : n] = '\0';
    fprintf(stderr, "fd %s -> %s\n", e->d_name, buf);
  }
  if (d)
    closedir(d);
}

/* poll() for up to ms, through signals (libFuzzer's -timeout alarm
 * interrupts it). */
static int poll_for(struct pollfd *p, int ms) {
  struct timespec t0, t;
  int r, left = ms;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  while ((r = poll(p, 1, left)) < 0 && errno == EINTR) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
                      (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left < 0)
      left = 0;
  }
  return r;
}

/*
 * Wait until the closer thread has closed everything queued so far: it
 * closes in the order fds were queued, so once the write end of a pipe
 * queued last is closed (the read end sees EOF), so are the others.
 */
static void closer_drain(void) {
  struct pollfd p = {.events = POLLIN};
  int sv[2];

  if (pipe2(sv, O_CLOEXEC) < 0)
    abort();
  closer_add(closer, sv[1]);
  closer_flush(closer);
  p.fd = sv[0];
  if (poll_for(&p, 5000) != 1) {
    dump_threads_and_fds();
    fuzz_fail("the closer did not close its fds within 5 s (%s)",
              poll_for(&p, 55000) == 1 ? "it did within 60 s"
                                       : "nor within 60 s");
  }
  close(sv[0]);
}

/* ---------------------------------------------------------------- setup */

/* A worker has no capabilities; neither has this process from here on
 * (as root it would otherwise set privileged options, bind low ports and
 * load congestion-control modules for the fuzzer's sockets). */
static void drop_capabilities(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

  memset(d, 0, sizeof(d));
  if (syscall(SYS_capset, &h, d) < 0)
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  struct policy *p = NULL;
  unsigned nerr = 0;
  int sv[2];

  (void)argc;
  (void)argv;
  drop_capabilities();
  /* Never ask DNS, whatever the machine's nsswitch.conf says. */
  __nss_configure_lookup("hosts", "files");
  __nss_configure_lookup("services", "files");
  __nss_configure_lookup("protocols", "files");
  if (policy_load_string("fuzz policy", fuzz_policy, sizeof(fuzz_policy) - 1,
                         stderr, &nerr, &p) != 0)
    abort();
  authz_install(p);
  /* Small limits, so that inputs reach them. */
  bounds.inflight_per_conn = 3;
  bounds.lookups_per_uid = 2;
  loop.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (loop.epfd < 0 || closer_new(&closer) < 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    abort();
  R.fd = sv[1];
  if (resolveask_init(&loop, sv[0], bounds.lookups_per_uid) < 0 ||
      page_new(&page) < 0)
    abort();
  page_publish(page, 0, 0);
  fake_conn_on_reply = on_reply;
  return 0;
}

/* ---------------------------------------------------------------- input */

static void conn_start(bool hello_done) {
  struct identity peer = {.uid = FUZZ_UID, .gid = FUZZ_UID, .pid = getpid()};

  conns = (struct conn_set){.loop = &loop, .closer = closer, .page = page};
  if (conn_add(&conns, -1, &peer, &conn) < 0)
    abort();
  conn_ref(conn); /* ours, as worker.c holds one while it reads */
  conn->hello_done = hello_done;
  unanswered.n = 0;
  fake_conn_lenient = false;
}

/* One client packet with nfds fds of the kinds in kinds. */
static void one_packet(const uint8_t *pkt, size_t len, uint8_t ctl,
                       unsigned kinds) {
  struct ucred cr = {
      .pid = conn->peer.pid, .uid = conn->peer.uid, .gid = conn->peer.gid};
  unsigned nfds = ctl & FUZZ_CTL_NFDS_MASK;
  int fds[3], peers[3];
  uint8_t *copy = malloc(len ? len : 1);

  if (!copy)
    abort();
  /* An exact-size copy: reading past the packet is an ASan report. */
  memcpy(copy, pkt, len);
  for (unsigned i = 0; i < nfds; i++)
    fds[i] = make_fd(i == 2 ? kinds >> 6 : (kinds >> (3 * i)) & 7, &peers[i]);
  if (ctl & FUZZ_CTL_OTHER_SENDER)
    cr = (struct ucred){.pid = 1, .uid = 0, .gid = 0};
  unanswered_add(copy, len);
  if (dispatch_packet(conn, copy, len, fds, nfds, &cr) < 0) {
    /* A framing error: no reply, and the worker closes the connection. */
    Psock__V1__Request *req = psock__v1__request__unpack(NULL, len, copy);
    if (req && !unanswered_take(req->id))
      fuzz_fail("a packet the worker refused to frame was answered");
    psock__v1__request__free_unpacked(req, NULL);
    conn_close(conn, "protocol error");
  }
  free(copy);
  for (unsigned i = 0; i < nfds; i++)
    if (peers[i] >= 0)
      close(peers[i]);
}

/*
 * After a record: the resolver, then the loop, then the books. A client
 * that hangs up is seen to be gone one batch later: what that batch sends
 * fails (EPIPE), and what is still in flight then is cancelled.
 */
static void settle(uint8_t ctl, bool hangup) {
  resolver_read(ctl);
  if (hangup)
    fake_conn_hang_up(conn);
  if (!(ctl & FUZZ_CTL_DEFER))
    resolver_answer_all();
  if (hangup) {
    loop_batch();
    conn_close(conn, "hang-up");
    return;
  }
  loop_run();
  if (!conn->dead && unanswered.n != conn->inflight)
    fuzz_fail("%zu request(s) unanswered, %u in flight", unanswered.n,
              conn->inflight);
}

/* The client is gone: what was pending is cancelled, late answers find no
 * call, and everything the input made is released. */
static void conn_finish(void) {
  conn_close(conn, "client closed the connection");
  resolver_read(0);
  resolver_answer_all();
  loop_run();
  R.n_dropped = 0;
  if (conn->refs != 1 || conn->inflight != 0 || conn->waiters)
    fuzz_fail("after the input: %u reference(s), %u in flight%s", conn->refs,
              conn->inflight, conn->waiters ? ", a waiter" : "");
  conn_unref(conn);
  conn = NULL;
  call_reap();
  conn_bury(&conns);
  closer_drain();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fds_before = count_fds();

  /* Even: every decision formats its record; odd: batches apply. */
  audit_allow = size % 2 == 0;
  authz_set_audit_allow(audit_allow);
  conn_start(size > 0 && (data[0] & FUZZ_CTL_HANDSHAKE));
  for (unsigned n = 0; n < FUZZ_DISPATCH_MAX_RECORDS &&
                       size >= FUZZ_RECORD_HEADER && !conn->dead;
       n++) {
    uint8_t ctl = data[0], kinds = data[1];
    size_t len = (size_t)data[2] | (size_t)data[3] << 8;

    data += FUZZ_RECORD_HEADER;
    size -= FUZZ_RECORD_HEADER;
    if (len > size)
      len = size;
    if ((ctl & FUZZ_CTL_NFDS_MASK) == 0 && (kinds & FUZZ_KIND_RESOLVER))
      resolver_forge(data, len);
    else
      one_packet(data, len, ctl, kinds);
    end_batch(); /* the batch in which worker.c read the packet */
    data += len;
    size -= len;
    settle(ctl, ctl & FUZZ_CTL_HANGUP);
  }
  conn_finish();
  if (count_fds() != fds_before)
    fuzz_fail("%d fd(s) before the input, %d after", fds_before, count_fds());
  return 0;
}
