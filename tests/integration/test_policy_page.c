/* SPDX-License-Identifier: MIT */
/*
 * The policy page and socket batches (issue 16), against a real psockd,
 * clients as nobody speaking the wire protocol by hand (raw_client.h):
 *
 * - the page: a HelloReply to a Hello that asks carries one fd, a sealed
 *   memfd; mapped read-only it shows the magic, the layout and, for the
 *   built-in default policy, every call free and every batch kind for
 *   nobody (and root); mapping it writable, mprotect, write, ftruncate,
 *   fallocate, more seals and a writable reopen all fail, and the page is
 *   unchanged. A Hello that does not ask gets no fd (a library built
 *   before the page would refuse one);
 * - a policy that restricts connect for nobody: no connect bit on
 *   nobody's page, every bit on another user's;
 * - reload: SIGHUP with a file that restricts connect; once nobody's
 *   worker says the new policy is in force, the page a client mapped
 *   before has a new generation and no connect bits. Then reloads back and
 *   forth while the client reads the page all along: every read the
 *   seqlock calls valid shows the bits of its generation's policy;
 * - batches: SocketRequest.batch = 7 gives 8 sockets of a TCP or UDP kind,
 *   each its own socket owned by nobody, O_NONBLOCK as asked; a raw socket
 *   (nobody has a raw rule) comes alone; with --audit-allow the page says
 *   nothing is free and a batch is one socket, with one audit record;
 * - a client that pipelines batches and never reads gets at most the
 *   unread-fd bound (finding 7) in flight.
 *
 * Client functions run in forked children: CHECK(), never cmocka asserts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"
#include "policy_page.h"
#include "raw_client.h"
#include "wire.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define NOBODY HARNESS_NOBODY_UID
#define OTHER_UID 1000
#define PAGE_SEALS                                                             \
  (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
#define ALL_FREE 0xffu
#define ALL_BATCH                                                              \
  (PSOCK_BATCH_TCP4 | PSOCK_BATCH_UDP4 | PSOCK_BATCH_TCP6 | PSOCK_BATCH_UDP6)
#define CONNECT_BITS (PSOCK_FREE_CONNECT_INET | PSOCK_FREE_CONNECT_INET6)
/* daemon/conn.h: the unread fds of one connection. */
#define UNREAD_FDS_BOUND 64
#define RELOADS 10
#define WAIT_MS 10000

/* Nobody may connect to 127.0.0.1 port 80 only (the rest of the default
 * policy stays). */
#define RESTRICT_CONNECT                                                       \
  "allow uid=65534 connect family=inet,inet6 addr=127.0.0.1 port=80\n"         \
  "deny uid=65534 connect\n"

/* Shared between the test and a client that runs alongside it. */
struct shared {
  int phase, go, stop;
  uint64_t generation;
  long valid, rewriting, mismatched, sent, flight;
};

static struct {
  char dir[64], path[96];
  struct shared *sh;
} fx;

/* ------------------------------------------------------- the protocol */

/* The next reply within 3 s, with up to PSOCK_MAX_REPLY_FDS fds (raw_recv
 * takes a request's two). NULL on failure, explained. */
static Psock__V1__Response *recv_reply(int conn, int *fds, size_t *ret_nfds,
                                       int flags) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  struct pollfd p = {.fd = conn, .events = POLLIN};
  Psock__V1__Response *r;
  ssize_t n;

  *ret_nfds = 0;
  if (!(flags & MSG_DONTWAIT) && poll(&p, 1, RAW_REPLY_TIMEOUT_MS) != 1) {
    fprintf(stderr, "no reply within %d ms\n", RAW_REPLY_TIMEOUT_MS);
    return NULL;
  }
  n = wire_recv_packet(conn, buf, sizeof(buf), fds, PSOCK_MAX_REPLY_FDS,
                       ret_nfds, flags);
  if (n <= 0) {
    if (n != -EAGAIN)
      fprintf(stderr, "receive: %s\n", n ? strerror((int)-n) : "EOF");
    return NULL;
  }
  r = psock__v1__response__unpack(NULL, (size_t)n, buf);
  if (!r || r->fd_count != *ret_nfds) {
    fprintf(stderr, "a reply that %s\n",
            r ? "says another fd count" : "does not decode");
    wire_close_fds(fds, *ret_nfds);
    *ret_nfds = 0;
    if (r)
      psock__v1__response__free_unpacked(r, NULL);
    return NULL;
  }
  return r;
}

/* Connect and shake hands, asking for the page or not: the connection,
 * the page's fd in *ret_page (-1 when none came), or -1. */
static int hello(bool want_page, int *ret_page) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;
  Psock__V1__Response *r;
  int conn = raw_open(), fds[PSOCK_MAX_REPLY_FDS];
  size_t nfds = 0;
  bool ok;

  *ret_page = -1;
  if (conn < 0)
    return -1;
  h.protocol_version = PSOCK_PROTOCOL_VERSION;
  h.has_page = want_page;
  h.page = want_page;
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  r = raw_send(conn, &req, NULL, 0) == 0 ? recv_reply(conn, fds, &nfds, 0)
                                         : NULL;
  ok = r && r->result_case == PSOCK__V1__RESPONSE__RESULT_HELLO &&
       r->hello->has_page == want_page && r->hello->page == want_page &&
       nfds == (want_page ? 1u : 0u);
  if (!ok)
    fprintf(stderr, "hello (page %d): %zu fd(s), page %d/%d\n", want_page, nfds,
            r && r->hello ? r->hello->has_page : -1,
            r && r->hello ? r->hello->page : -1);
  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  if (!ok) {
    wire_close_fds(fds, nfds);
    close(conn);
    return -1;
  }
  if (nfds)
    *ret_page = fds[0];
  return conn;
}

/* socket(family, type, proto) with batch more: the fds in fds[], their
 * number returned, or -1 (an error reply or none). */
static int socket_batch(int conn, int family, int type, int proto,
                        uint32_t batch, int *fds) {
  static uint64_t id = 100;
  struct raw_socket_req q;
  Psock__V1__Response *r;
  size_t nfds = 0;
  bool ok;

  raw_socket_request(&q, ++id, family, type, proto);
  q.s.has_batch = true;
  q.s.batch = batch;
  if (raw_send(conn, &q.req, NULL, 0) < 0)
    return -1;
  r = recv_reply(conn, fds, &nfds, 0);
  ok = r && r->id == id && r->result_case == PSOCK__V1__RESPONSE__RESULT_SOCKET;
  if (!ok)
    fprintf(stderr, "socket(%d, %d, %d) batch %u: %s\n", family, type, proto,
            batch, r ? raw_error_message(r) : "no reply");
  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  if (!ok) {
    wire_close_fds(fds, nfds);
    return -1;
  }
  return (int)nfds;
}

/* ------------------------------------------------------------ the page */

struct page_view {
  uint32_t magic, layout, free, batch;
  uint64_t seq, generation;
};

/* One read by the header's seqlock: false while psockd rewrites it. */
static bool page_read_once(const struct psock_page *p, struct page_view *v) {
  uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);

  if (seq & 1)
    return false;
  v->magic = __atomic_load_n(&p->magic, __ATOMIC_RELAXED);
  v->layout = __atomic_load_n(&p->layout, __ATOMIC_RELAXED);
  v->generation = __atomic_load_n(&p->generation, __ATOMIC_RELAXED);
  v->free = __atomic_load_n(&p->free, __ATOMIC_RELAXED);
  v->batch = __atomic_load_n(&p->batch, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  v->seq = seq;
  return __atomic_load_n(&p->seq, __ATOMIC_RELAXED) == seq;
}

static bool page_read(const struct psock_page *p, struct page_view *v) {
  for (int i = 0; i < 1000; i++)
    if (page_read_once(p, v))
      return true;
  fprintf(stderr, "the page never read valid\n");
  return false;
}

/* Map the page read-only, shared, as a client does; NULL on failure. */
static const struct psock_page *page_map(int fd) {
  void *m = mmap(NULL, PSOCK_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);

  return m == MAP_FAILED ? NULL : m;
}

/* Nobody's page (or root's) says what the client expects. */
static int check_bits(const struct psock_page *p, uint32_t free_calls,
                      uint32_t batch) {
  struct page_view v;

  CHECK(page_read(p, &v));
  if (v.free != free_calls || v.batch != batch)
    fprintf(stderr, "page: free 0x%x batch 0x%x, expected 0x%x 0x%x\n", v.free,
            v.batch, free_calls, batch);
  CHECK(v.magic == PSOCK_PAGE_MAGIC && v.layout == PSOCK_PAGE_LAYOUT);
  CHECK(v.generation >= 1 && (v.seq & 1) == 0);
  CHECK(v.free == free_calls && v.batch == batch);
  return 0;
}

/* Connect asking for the page and check its bits. */
static int client_page_bits(uint32_t free_calls, uint32_t batch) {
  const struct psock_page *p;
  int page, conn = hello(true, &page);

  CHECK(conn >= 0 && page >= 0);
  CHECK((p = page_map(page)) != NULL);
  CHECK(check_bits(p, free_calls, batch) == 0);
  munmap((void *)p, PSOCK_PAGE_SIZE);
  close(page);
  close(conn);
  return 0;
}

static int client_default_page(void *arg) {
  return client_page_bits(ALL_FREE, ALL_BATCH);
}

/* Every way to write the page fails, and it is unchanged afterwards. */
static int page_is_sealed(int page, const struct psock_page *p) {
  struct page_view before, after;
  char self[64];
  void *m;
  int fd;

  CHECK(page_read(p, &before));
  CHECK((fcntl(page, F_GET_SEALS) & PAGE_SEALS) == PAGE_SEALS);
  errno = 0;
  CHECK(mmap(NULL, PSOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, page,
             0) == MAP_FAILED &&
        errno == EPERM);
  /* The read-only mapping cannot be made writable. */
  CHECK(mprotect((void *)p, PSOCK_PAGE_SIZE, PROT_READ | PROT_WRITE) < 0 &&
        errno == EACCES);
  CHECK(write(page, "x", 1) < 0 && errno == EPERM);
  CHECK(pwrite(page, "x", 1, 16) < 0 && errno == EPERM);
  CHECK(ftruncate(page, 0) < 0 && errno == EPERM);
  CHECK(ftruncate(page, 2 * PSOCK_PAGE_SIZE) < 0 && errno == EPERM);
  CHECK(fallocate(page, 0, 0, 2 * PSOCK_PAGE_SIZE) < 0 && errno == EPERM);
  CHECK(fallocate(page, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                  PSOCK_PAGE_SIZE) < 0 &&
        errno == EPERM);
  CHECK(fcntl(page, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM);
  /* A file description of its own, opened for writing, is held by the
   * same seals. */
  snprintf(self, sizeof(self), "/proc/self/fd/%d", page);
  CHECK((fd = open(self, O_RDWR | O_CLOEXEC)) >= 0);
  CHECK(write(fd, "x", 1) < 0 && errno == EPERM);
  CHECK(mmap(NULL, PSOCK_PAGE_SIZE, PROT_WRITE, MAP_SHARED, fd, 0) ==
            MAP_FAILED &&
        errno == EPERM);
  close(fd);
  /* A private mapping may be written: the client's own copy. */
  m = mmap(NULL, PSOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, page, 0);
  CHECK(m != MAP_FAILED);
  memset(m, 0xff, PSOCK_PAGE_SIZE);
  munmap(m, PSOCK_PAGE_SIZE);
  CHECK(page_read(p, &after));
  CHECK(memcmp(&before, &after, sizeof(before)) == 0);
  return 0;
}

static int client_page_sealed(void *arg) {
  const struct psock_page *p;
  int page, conn = hello(true, &page), plain, none;
  struct stat st;

  CHECK(conn >= 0 && page >= 0);
  CHECK(fstat(page, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size == PSOCK_PAGE_SIZE);
  CHECK((p = page_map(page)) != NULL);
  CHECK(check_bits(p, ALL_FREE, ALL_BATCH) == 0);
  CHECK(page_is_sealed(page, p) == 0);
  /* Still served on the connection the page came with. */
  CHECK(raw_served(conn, 7));
  munmap((void *)p, PSOCK_PAGE_SIZE);
  close(page);
  close(conn);
  /* Its twin: a Hello that does not ask gets no fd. */
  CHECK((plain = hello(false, &none)) >= 0 && none < 0);
  CHECK(raw_served(plain, 8));
  close(plain);
  return 0;
}

/* (a) The built-in default policy: the page as nobody and root see it. */
static void test_page_default_policy(void **state) {
  struct psockd_proc *p = harness_start_psockd_default_policy(NULL);

  harness_assert_child(p, harness_run_as_nobody(0, client_page_sealed, NULL),
                       "the page, sealed, as nobody");
  harness_assert_child(p, harness_run_as_root(0, client_default_page, NULL),
                       "the page as root");
  harness_stop_psockd(p);
}

/* ----------------------------------------------------- restricted connect */

static struct psockd_proc *start_with(const char *rules, bool with_default,
                                      const char *extra) {
  const char *args[] = {"--policy", fx.path, extra, NULL};

  harness_write_policy(fx.path, rules, with_default);
  return harness_start_psockd(args);
}

static int client_no_connect_bits(void *arg) {
  return client_page_bits(ALL_FREE & ~CONNECT_BITS, ALL_BATCH);
}

/* (b) A policy that lets nobody connect to one port only: no connect bit
 * on nobody's page; another user, whom no rule restricts, has them. */
static void test_page_restricted_connect(void **state) {
  struct psockd_proc *p = start_with(RESTRICT_CONNECT, true, NULL);

  harness_assert_child(p,
                       harness_run_as_nobody(0, client_no_connect_bits, NULL),
                       "nobody's page without connect");
  harness_assert_child(p,
                       harness_run_as(OTHER_UID, OTHER_UID, NULL, 0, 0,
                                      client_default_page, NULL),
                       "another user's page with connect");
  harness_stop_psockd(p);
}

/* ------------------------------------------------------------- reload */

/* Held across reloads: the page read as each phase of the test allows. */
static int client_reload(void *arg) {
  struct shared *sh = fx.sh;
  const struct psock_page *p;
  struct page_view v;
  uint64_t g0, last = 0;
  int page, conn = hello(true, &page);

  CHECK(conn >= 0 && page >= 0 && (p = page_map(page)) != NULL);
  CHECK(check_bits(p, ALL_FREE, ALL_BATCH) == 0);
  CHECK(page_read(p, &v));
  g0 = v.generation;
  sh->generation = g0;
  sh->phase = 1;
  /* The test reloads a policy that restricts connect. */
  CHECK(harness_wait_flag(&sh->go, 1, WAIT_MS + 5000));
  CHECK(page_read(p, &v));
  CHECK(v.generation == g0 + 1);
  CHECK(check_bits(p, ALL_FREE & ~CONNECT_BITS, ALL_BATCH) == 0);
  sh->generation = v.generation;
  sh->phase = 2;
  /* Reloads back and forth: the default policy on every other
   * generation from here, the restricted one between. */
  while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
    bool restricted;

    if (!page_read_once(p, &v)) {
      sh->rewriting++;
      continue;
    }
    sh->valid++;
    restricted = (v.generation - (g0 + 1)) % 2 == 0;
    if (v.generation < last ||
        v.free != (restricted ? ALL_FREE & ~CONNECT_BITS : ALL_FREE) ||
        v.batch != ALL_BATCH || v.magic != PSOCK_PAGE_MAGIC)
      sh->mismatched++;
    last = v.generation;
  }
  /* The last reload was in force before the test said stop. */
  CHECK(page_read(p, &v) && v.generation >= last);
  sh->generation = v.generation;
  munmap((void *)p, PSOCK_PAGE_SIZE);
  close(page);
  close(conn);
  return 0;
}

/* Write rules (then the default policy), SIGHUP psockd, and wait until
 * nobody's worker says the policy is in force. */
static void reload(struct psockd_proc *p, const char *rules) {
  const char *installed = "[uid 65534]: policy in force";
  unsigned n = harness_psockd_log_count(p, installed);

  harness_write_policy(fx.path, rules, true);
  assert_int_equal(kill(harness_psockd_pid(p), SIGHUP), 0);
  harness_assert_logged(p, installed, n + 1, WAIT_MS);
}

/* (c) SIGHUP with a file that restricts connect: the page a client holds
 * changes generation and loses its connect bits; reloads back and forth
 * never show a generation with the other policy's bits. */
static void test_page_reload(void **state) {
  struct psockd_proc *p = start_with("", true, NULL);
  struct shared *sh = fx.sh;
  uint64_t g;
  pid_t c;

  memset(sh, 0, sizeof(*sh));
  c = harness_start_as(NOBODY, NOBODY, NULL, 0, 0, client_reload, NULL);
  assert_true(c > 0);
  assert_true(harness_wait_flag(&sh->phase, 1, WAIT_MS));
  reload(p, RESTRICT_CONNECT);
  sh->go = 1;
  assert_true(harness_wait_flag(&sh->phase, 2, WAIT_MS));
  g = sh->generation;
  for (int i = 0; i < RELOADS; i++)
    reload(p, i % 2 ? RESTRICT_CONNECT : "");
  __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
  harness_assert_child(p, harness_wait(c, 10), "the client across reloads");
  print_message("%d reloads: %ld valid reads of the page, %ld while psockd "
                "rewrote it, %ld with another policy's bits; generation "
                "%" PRIu64 " -> %" PRIu64 "\n",
                RELOADS, sh->valid, sh->rewriting, sh->mismatched, g,
                sh->generation);
  assert_int_equal(sh->mismatched, 0);
  assert_true(sh->valid > 0);
  assert_int_equal(sh->generation, g + RELOADS);
  /* A new client sees the policy in force. */
  harness_assert_child(p,
                       harness_run_as_nobody(0, client_no_connect_bits, NULL),
                       "a new client after the reloads");
  harness_stop_psockd(p);
}

/* ------------------------------------------------------------ batches */

static int sock_opt(int fd, int opt) {
  int v = -1;
  socklen_t len = sizeof(v);

  return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

/* fds[0..n) are n distinct sockets of the kind, nobody's, O_NONBLOCK as
 * asked; closed here. */
static int check_sockets(int *fds, int n, int family, int type, int proto) {
  struct stat st[PSOCK_MAX_REPLY_FDS];

  for (int i = 0; i < n; i++) {
    CHECK(fstat(fds[i], &st[i]) == 0 && S_ISSOCK(st[i].st_mode));
    CHECK(st[i].st_uid == NOBODY);
    for (int j = 0; j < i; j++)
      CHECK(st[i].st_ino != st[j].st_ino);
    CHECK(sock_opt(fds[i], SO_DOMAIN) == family);
    CHECK(sock_opt(fds[i], SO_TYPE) == (type & ~SOCK_NONBLOCK));
    CHECK(proto == 0 || sock_opt(fds[i], SO_PROTOCOL) == proto);
    CHECK(!!(fcntl(fds[i], F_GETFL) & O_NONBLOCK) == !!(type & SOCK_NONBLOCK));
  }
  wire_close_fds(fds, (size_t)n);
  return 0;
}

/* A batch of the kind: want sockets, checked. */
static int batch_of(int conn, int family, int type, int proto, uint32_t batch,
                    int want) {
  int fds[PSOCK_MAX_REPLY_FDS];
  int n = socket_batch(conn, family, type, proto, batch, fds);

  if (n != want)
    fprintf(stderr, "socket(%d, %d, %d) batch %u: %d socket(s), not %d\n",
            family, type, proto, batch, n, want);
  CHECK(n == want);
  return check_sockets(fds, n, family, type, proto);
}

static int client_batches(void *arg) {
  int page, conn = hello(false, &page);

  CHECK(conn >= 0);
  /* Batch kinds: the one asked for and up to 7 more. */
  CHECK(batch_of(conn, AF_INET, SOCK_STREAM, 0, 7, 8) == 0);
  CHECK(batch_of(conn, AF_INET, SOCK_STREAM, IPPROTO_TCP, 100, 8) == 0);
  CHECK(batch_of(conn, AF_INET6, SOCK_DGRAM, 0, 3, 4) == 0);
  CHECK(batch_of(conn, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0, 7, 8) == 0);
  CHECK(batch_of(conn, AF_INET, SOCK_STREAM, 0, 0, 1) == 0);
  /* A raw socket, allowed by a rule for nobody and made by psockd-priv:
   * no batch, one socket, nobody's all the same. */
  CHECK(batch_of(conn, AF_INET, SOCK_RAW, IPPROTO_ICMP, 7, 1) == 0);
  close(conn);
  return 0;
}

/* Pipeline batches and never read, until psockd stops reading us; then
 * stop the worker and count what is in flight; then read everything. */
static int client_never_reads(void *arg) {
  const struct psockd_proc *p = arg;
  struct shared *sh = fx.sh;
  int fds[PSOCK_MAX_REPLY_FDS], page, conn = hello(false, &page);
  long flight = 0, replies = 0, sent = 0;
  Psock__V1__Response *r;
  pid_t worker;
  size_t nfds;

  CHECK(conn >= 0);
  for (; sent < 200; sent++) {
    struct raw_socket_req q;
    int e;

    raw_socket_request(&q, 1000 + (uint64_t)sent, AF_INET, SOCK_STREAM, 0);
    q.s.has_batch = true;
    q.s.batch = 7;
    e = raw_send_nowait(conn, &q.req);
    if (e == -EAGAIN)
      break;
    CHECK(e == 0);
  }
  usleep(300 * 1000); /* let the worker do all it will */
  /* The worker runs as nobody: this client may stop it. */
  worker = harness_psockd_one_proc(p, "psockd-worker uid=65534 ", 2000);
  CHECK(worker > 0 && kill(worker, SIGSTOP) == 0);
  while ((r = recv_reply(conn, fds, &nfds, MSG_DONTWAIT))) {
    flight += (long)nfds;
    replies++;
    wire_close_fds(fds, nfds);
    psock__v1__response__free_unpacked(r, NULL);
  }
  CHECK(kill(worker, SIGCONT) == 0);
  sh->sent = sent;
  sh->flight = flight;
  for (; replies < sent; replies++) {
    CHECK((r = recv_reply(conn, fds, &nfds, 0)) != NULL);
    CHECK(nfds == PSOCK_MAX_REPLY_FDS);
    wire_close_fds(fds, nfds);
    psock__v1__response__free_unpacked(r, NULL);
  }
  close(conn);
  return 0;
}

/* (d) Batches of allowed kinds next to a kind that comes alone, and the
 * unread-fd bound with batches. psockd's fds are back where they were. */
static void test_batches(void **state) {
  struct psockd_proc *p = start_with(
      "allow uid=65534 socket family=inet type=raw proto=icmp\n", true, NULL);
  int idle = harness_psockd_idle_fds(p);

  harness_assert_child(p, harness_run_as_nobody(0, client_batches, NULL),
                       "batches as nobody");
  memset(fx.sh, 0, sizeof(*fx.sh));
  harness_assert_child(p, harness_run_as_nobody(0, client_never_reads, p),
                       "batches never read");
  print_message("%ld batch requests pipelined unread: %ld fds in flight "
                "(bound %d)\n",
                fx.sh->sent, fx.sh->flight, UNREAD_FDS_BOUND);
  assert_true(fx.sh->sent > UNREAD_FDS_BOUND / PSOCK_MAX_REPLY_FDS);
  assert_true(fx.sh->flight <= UNREAD_FDS_BOUND &&
              fx.sh->flight > UNREAD_FDS_BOUND - PSOCK_MAX_REPLY_FDS);
  assert_int_equal(harness_psockd_idle_fds(p), idle);
  harness_stop_psockd(p);
}

/* ------------------------------------------------------- audit-allow */

static int client_audited(void *arg) {
  const struct psock_page *pg;
  int page, conn = hello(true, &page);

  CHECK(conn >= 0 && page >= 0 && (pg = page_map(page)) != NULL);
  CHECK(check_bits(pg, 0, 0) == 0);
  CHECK(batch_of(conn, AF_INET, SOCK_STREAM, 0, 7, 1) == 0);
  munmap((void *)pg, PSOCK_PAGE_SIZE);
  close(page);
  close(conn);
  return 0;
}

/* --audit-allow: every allowed call must reach psockd to be recorded, so
 * nothing is free and a batch is one socket with its one record. */
static void test_audit_allow(void **state) {
  const char *record = "decision=allow uid=65534";
  struct psockd_proc *p = start_with("", true, "--audit-allow");
  unsigned before = harness_psockd_log_count(p, record);

  harness_assert_child(p, harness_run_as_nobody(0, client_audited, NULL),
                       "--audit-allow as nobody");
  harness_assert_logged(p, record, before + 1, 2000);
  assert_int_equal(harness_psockd_log_count(p, record), before + 1);
  harness_stop_psockd(p);
}

/* --------------------------------------------------------------- setup */

static int setup(void **state) {
  snprintf(fx.dir, sizeof(fx.dir), "/tmp/psock-page.XXXXXX");
  assert_non_null(mkdtemp(fx.dir));
  assert_int_equal(chmod(fx.dir, 0755), 0);
  snprintf(fx.path, sizeof(fx.path), "%s/policy.conf", fx.dir);
  fx.sh = harness_shared_memory(sizeof(*fx.sh));
  /* harness_start_psockd_default_policy() mounts over /etc/psockd. */
  harness_private_name_service(NULL, NULL, NULL);
  return 0;
}

static int teardown(void **state) {
  char tmp[128];

  unlink(fx.path);
  snprintf(tmp, sizeof(tmp), "%s.tmp", fx.path);
  unlink(tmp);
  rmdir(fx.dir);
  munmap(fx.sh, sizeof(*fx.sh));
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_page_default_policy),
      cmocka_unit_test(test_page_restricted_connect),
      cmocka_unit_test(test_page_reload),
      cmocka_unit_test(test_batches),
      cmocka_unit_test(test_audit_allow),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
