/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients: a real psockd, clients as nobody that speak the wire
 * protocol by hand (proto/wire.h and the generated psock.pb-c.h, raw
 * sendmsg() for what wire.c refuses to send) and break it in every way a
 * client can: truncated and oversized packets, missing, surplus and
 * mismatched fds, fds that are not sockets or not of the family the
 * request implies, requests before the handshake, a wrong protocol
 * version, random bytes, unknown calls, huge strings, a NUL in a unix
 * path, a socket option whose value is a pointer, a client that never
 * reads its replies, and every per-client limit exceeded (a second psockd
 * started with small --max-inflight, --max-lookups and --max-conns).
 *
 * Each case gets the documented response (docs/protocol.md: a framing
 * error closes that one connection, a request error gets a typed Error and
 * the connection stays), finds a line in psockd's log saying why, and
 * harms nobody else.
 *
 * psockd runs one worker per client identity, started with the identity's
 * first connection and retired when idle (--worker-idle, 1 s here). A
 * keeper, a client as nobody, holds one connection from the setup to the
 * end, so that every hostile client as nobody meets the same worker (and
 * its resolver) that the keeper uses: at the end that worker is still the
 * same process, the keeper's connection is still served, psockd holds the
 * fds it held after the warm-up, and neither the worker's nor its
 * resolver's resident memory has grown (beyond 1 MiB of noise). Once the
 * keeper has gone too, every worker retires and psockd holds exactly the
 * fds it held right after its start. The per-uid limits are checked
 * against a second user (OTHER_UID) whose clients, at the same moment,
 * get their full share. harness_stop_psockd() fails the test if psockd,
 * built with the sanitizers or run under valgrind ($PSOCKD_WRAPPER),
 * reported anything in its log.
 *
 * Name lookups see a private name service: /etc/hosts knows localhost; any
 * other name goes to a DNS server on 127.77.X.Y (X.Y from the test's pid)
 * that this test binds and never answers, so "slow.test" takes one second
 * (options timeout:1 attempts:1): long enough to hold a lookup in flight on
 * purpose.
 *
 * Client functions (client_*) run in a forked child as nobody: they use
 * CHECK(), never cmocka's assert_*.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"
#include "psock.pb-c.h"
#include "wire.h"

#define SLOW_NAME "slow.test"
/* A reply to a request that needs no lookup takes far less than this. */
#define REPLY_TIMEOUT_MS 3000
/* Slack for the worker's resident memory after the warm-up. */
#define RSS_SLACK_KIB 1024

#define HOSTS "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
#define NSSWITCH                                                               \
  "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"             \
  "networks: files\nprotocols: files\nservices: files\n"

/* Limits of the second psockd (test_limits_*). */
#define LIM_INFLIGHT 3
#define LIM_LOOKUPS 4
#define LIM_CONNS 6

/* A second user for the per-uid limits: no account has it, and it lies
 * below the range psockd takes its own uid from (61184-65519). */
#define OTHER_UID 41234
/* How long one client waits for the other of a pair. */
#define PAIR_WAIT_MS 10000
/* The keeper holds its connection at most this long. */
#define KEEPER_MAX_S 300

#define NOBODY_WORKER "psockd-worker uid=65534 "
#define NOBODY_RESOLVER "psockd-resolver uid=65534"

static struct {
  struct psockd_proc *psockd;
  int dns_fd;           /* the DNS server that never answers */
  int fds_start;        /* psockd's fds right after its start, no worker */
  int fds_idle;         /* its fds after the warm-up: the keeper only */
  long rss_idle;        /* nobody's worker's VmRSS (KiB) after the warm-up */
  long rss_resolver;    /* its resolver's, likewise */
  pid_t worker;         /* nobody's one worker */
  pid_t resolver;       /* and its resolver */
  pid_t keeper;         /* the client holding a connection throughout */
  bool check_rss;       /* not under ASan or a wrapper such as valgrind */
  struct shared *share; /* written by clients, read by the test */
} fx;

/* Figures and signals clients hand to the test process and each other. */
struct shared {
  volatile int hog_ready, hog_release;
  volatile long hog_sent;
  volatile double lat_max_ms, lat_median_ms;
  volatile int keeper_ready, keeper_release;
  /* Two clients of two users at once (run_pair()). */
  volatile int held;               /* nobody's client is at its limit now */
  volatile int other_done;         /* the other user's client has finished */
  volatile double t_other_sent;    /* CLOCK_MONOTONIC ms: its lookups sent */
  volatile double t_nobody_answer; /* nobody's first lookup answered */
};

/* ------------------------------------------------------- talking by hand */

static double now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int raw_open(void) {
  const char *path = getenv("PSOCK_SOCKET");

  return path ? wire_connect_path(path) : -EINVAL;
}

/* Pack req with the given fd_count and send it with fds[0..nfds). */
static int raw_send_count(int fd, Psock__V1__Request *req, uint32_t fd_count,
                          const int *fds, size_t nfds) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  ssize_t n;

  req->fd_count = fd_count;
  n = wire_pack(&req->base, buf, sizeof(buf));
  if (n < 0)
    return (int)n;
  return wire_send_packet(fd, buf, (size_t)n, fds, nfds, 0);
}

static int raw_send(int fd, Psock__V1__Request *req, const int *fds,
                    size_t nfds) {
  return raw_send_count(fd, req, (uint32_t)nfds, fds, nfds);
}

/* Any bytes, any number of fds: what wire_send_packet() will not send. */
static int raw_sendmsg(int fd, const void *buf, size_t len, const int *fds,
                       size_t nfds) {
  union {
    char buf[CMSG_SPACE(8 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

  if (nfds > 8)
    return -EINVAL;
  if (nfds) {
    struct cmsghdr *c;
    memset(&u, 0, sizeof(u));
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/*
 * The next reply within timeout_ms, or NULL with errno: 0 if psockd closed
 * the connection, ETIMEDOUT, or another error. The reply's fds are closed.
 */
static Psock__V1__Response *raw_recv(int fd, int timeout_ms) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  Psock__V1__Response *r;
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 0;
  ssize_t n;

  n = poll(&p, 1, timeout_ms);
  if (n == 0) {
    errno = ETIMEDOUT;
    return NULL;
  }
  n = wire_recv_packet(fd, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds,
                       MSG_DONTWAIT);
  if (n <= 0) {
    errno = n == 0 || n == -ECONNRESET ? 0 : (int)-n;
    return NULL;
  }
  wire_close_fds(fds, nfds);
  r = psock__v1__response__unpack(NULL, (size_t)n, buf);
  if (!r)
    errno = EBADMSG;
  else if (r->fd_count != nfds) {
    psock__v1__response__free_unpacked(r, NULL);
    errno = EPROTO;
    return NULL;
  }
  return r;
}

/* True if psockd closes the connection within 3 s (replies are skipped). */
static bool raw_closed(int fd) {
  for (int i = 0; i < 16; i++) {
    Psock__V1__Response *r = raw_recv(fd, REPLY_TIMEOUT_MS);

    if (!r)
      return errno == 0;
    psock__v1__response__free_unpacked(r, NULL);
  }
  return false;
}

static bool is_error(const Psock__V1__Response *r, int kind, int code) {
  if (!r || r->result_case != PSOCK__V1__RESPONSE__RESULT_ERROR) {
    fprintf(stderr, "expected error kind %d code %d, got %s\n", kind, code,
            r ? "a result" : "no reply");
    return false;
  }
  if ((int)r->error->kind != kind || r->error->code != code) {
    fprintf(stderr, "expected error kind %d code %d, got %d %d (%s)\n", kind,
            code, r->error->kind, r->error->code, r->error->message);
    return false;
  }
  return r->error->message && r->error->message[0];
}

/* Send req and return its reply (id matched); NULL on failure. */
static Psock__V1__Response *call(int fd, Psock__V1__Request *req,
                                 const int *fds, size_t nfds) {
  Psock__V1__Response *r;
  int e = raw_send(fd, req, fds, nfds);

  if (e < 0) {
    errno = -e;
    return NULL;
  }
  r = raw_recv(fd, REPLY_TIMEOUT_MS);
  if (r && r->id != req->id) {
    fprintf(stderr, "reply id %llu, expected %llu\n", (unsigned long long)r->id,
            (unsigned long long)req->id);
    psock__v1__response__free_unpacked(r, NULL);
    return NULL;
  }
  return r;
}

static int hello_version(int fd, uint32_t version, Psock__V1__Response **ret) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;

  h.protocol_version = version;
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  *ret = call(fd, &req, NULL, 0);
  return *ret ? 0 : -1;
}

/* Connect and shake hands. The fd, or -1. */
static int raw_ready(void) {
  Psock__V1__Response *r = NULL;
  int fd = raw_open();
  bool ok;

  if (fd < 0 || hello_version(fd, PSOCK_PROTOCOL_VERSION, &r) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  ok = r->result_case == PSOCK__V1__RESPONSE__RESULT_HELLO &&
       r->hello->protocol_version == PSOCK_PROTOCOL_VERSION;
  psock__v1__response__free_unpacked(r, NULL);
  if (!ok) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A socket(AF_INET, SOCK_STREAM) request: psockd still serves us. */
static bool still_served(int fd, uint64_t id) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest s = PSOCK__V1__SOCKET_REQUEST__INIT;
  Psock__V1__Response *r;
  bool ok;

  s.family = AF_INET;
  s.type = SOCK_STREAM;
  req.id = id;
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  req.socket = &s;
  r = call(fd, &req, NULL, 0);
  ok = r && r->result_case == PSOCK__V1__RESPONSE__RESULT_SOCKET &&
       r->fd_count == 1;
  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return ok;
}

static void inet_address(Psock__V1__Address *a, Psock__V1__InetAddress *in,
                         const char *host, uint32_t port) {
  *a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  *in = (Psock__V1__InetAddress)PSOCK__V1__INET_ADDRESS__INIT;
  in->host = (char *)host;
  in->port = port;
  a->addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  a->inet = in;
}

/* A bind request for 127.0.0.1:0 (the caller adds fds). */
struct bind_req {
  Psock__V1__Request req;
  Psock__V1__BindRequest bind;
  Psock__V1__Address addr;
  Psock__V1__InetAddress in;
};

static void bind_request(struct bind_req *b, uint64_t id, const char *host) {
  b->req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  b->bind = (Psock__V1__BindRequest)PSOCK__V1__BIND_REQUEST__INIT;
  inet_address(&b->addr, &b->in, host, 0);
  b->bind.address = &b->addr;
  b->req.id = id;
  b->req.call_case = PSOCK__V1__REQUEST__CALL_BIND;
  b->req.bind = &b->bind;
}

/* A getaddrinfo request for host. */
struct gai_req {
  Psock__V1__Request req;
  Psock__V1__GetaddrinfoRequest gai;
};

static void gai_request(struct gai_req *g, uint64_t id, const char *host) {
  g->req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  g->gai = (Psock__V1__GetaddrinfoRequest)PSOCK__V1__GETADDRINFO_REQUEST__INIT;
  g->gai.host = (char *)host;
  g->req.id = id;
  g->req.call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
  g->req.getaddrinfo = &g->gai;
}

/* ---------------------------------------------------- the test process */

static void assert_child_passed_by(struct psockd_proc *p, int r,
                                   const char *fn) {
  if (r != 0) {
    harness_print_psockd_log(p);
    fail_msg("%s failed (%d; see stderr)", fn, r);
  }
}

#define assert_child_passed(r, fn) assert_child_passed_by(fx.psockd, (r), (fn))

#define assert_as_nobody(fn)                                                   \
  assert_child_passed(harness_run_as_nobody(0, (fn), NULL), #fn)

/* psockd's log gains a line holding text within 3 s. */
static void assert_logged_by(struct psockd_proc *p, const char *text) {
  for (int i = 0; i < 300; i++) {
    char *log = harness_psockd_log(p);
    bool found = strstr(log, text) != NULL;

    free(log);
    if (found)
      return;
    usleep(10000);
  }
  harness_print_psockd_log(p);
  fail_msg("psockd's log has no line saying \"%s\"", text);
}

#define assert_logged(text) assert_logged_by(fx.psockd, (text))

/* Lines of psockd's log that hold both a and b. */
static int logged_lines(struct psockd_proc *p, const char *a, const char *b) {
  char *log = harness_psockd_log(p), *save = NULL;
  int n = 0;

  for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    n += strstr(l, a) && strstr(l, b);
  free(log);
  return n;
}

/* psockd's log gains a line holding both a and b within 3 s. */
static void assert_logged_line(struct psockd_proc *p, const char *a,
                               const char *b) {
  for (int i = 0; i < 300; i++) {
    if (logged_lines(p, a, b) > 0)
      return;
    usleep(10000);
  }
  harness_print_psockd_log(p);
  fail_msg("psockd's log has no line saying \"%s\" and \"%s\"", a, b);
}

static void assert_not_logged_line(struct psockd_proc *p, const char *a,
                                   const char *b) {
  if (logged_lines(p, a, b) > 0) {
    harness_print_psockd_log(p);
    fail_msg("psockd's log has a line saying \"%s\" and \"%s\"", a, b);
  }
}

/*
 * The one process of psockd titled title (a prefix), waiting up to 5 s for
 * it to appear and for others of that title to go. Fails the test unless
 * there is exactly one.
 */
static pid_t one_proc(struct psockd_proc *p, const char *title) {
  pid_t pids[4] = {0};
  int n = -1;

  for (int i = 0; i < 500 && n != 1; i++) {
    n = harness_psockd_procs(p, title, pids, 4);
    if (n != 1)
      usleep(10000);
  }
  if (n != 1) {
    harness_print_psockd_log(p);
    fail_msg("psockd has %d processes titled \"%s\", expected one", n, title);
  }
  return pids[0];
}

/* VmRSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid) {
  char path[64], line[256];
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (!(f = fopen(path, "re")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

/* psockd's fd total once it stops changing, or as soon as it is want. */
static int settled_fds(struct psockd_proc *p, int want) {
  int n = -1, same = 0;

  for (int i = 0; i < 500 && same < 5; i++) {
    int m = harness_psockd_fd_total(p);

    same = m == n ? same + 1 : 0;
    n = m;
    if (n == want)
      break;
    usleep(10000);
  }
  return n;
}

/* ------------------------------------------------------------ framing */

/* A valid request cut short: undecodable, so the connection closes. */
static int client_truncated(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest s = PSOCK__V1__SOCKET_REQUEST__INIT;
  uint8_t buf[256];
  ssize_t n;
  int fd = raw_ready();

  CHECK(fd >= 0);
  s.family = AF_INET;
  s.type = SOCK_STREAM;
  s.proto = 6;
  req.id = 2;
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  req.socket = &s;
  n = wire_pack(&req.base, buf, sizeof(buf));
  CHECK(n > 4);
  /* The last field's value is missing: the sub-message cannot decode. */
  CHECK(wire_send_packet(fd, buf, (size_t)n - 1, NULL, 0, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  return 0;
}

static void test_truncated_request_closes(void **state) {
  assert_as_nobody(client_truncated);
  assert_logged("undecodable packet");
}

/* Random bytes after the handshake, and random bytes as the first packet. */
static int client_random_bytes(void *arg) {
  uint8_t junk[512];
  unsigned seed = 12345;
  int fd;

  memset(junk, 0xff, sizeof(junk));
  fd = raw_ready();
  CHECK(fd >= 0);
  CHECK(raw_sendmsg(fd, junk, sizeof(junk), NULL, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  for (int i = 0; i < 20; i++) {
    for (size_t j = 0; j < sizeof(junk); j++)
      junk[j] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    fd = raw_open();
    CHECK(fd >= 0);
    CHECK(raw_sendmsg(fd, junk, 1 + (size_t)(seed % sizeof(junk)), NULL, 0) ==
          0);
    CHECK(raw_closed(fd));
    close(fd);
  }
  return 0;
}

static void test_random_bytes_close(void **state) {
  assert_as_nobody(client_random_bytes);
  assert_logged("undecodable packet of 512 bytes");
}

/* More than PSOCK_MAX_PACKET bytes in one packet. */
static int client_oversized(void *arg) {
  size_t len = PSOCK_MAX_PACKET + 4096;
  uint8_t *big = calloc(1, len);
  int fd = raw_ready();

  CHECK(big != NULL);
  CHECK(fd >= 0);
  CHECK(raw_sendmsg(fd, big, len, NULL, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  free(big);
  return 0;
}

static void test_oversized_packet_closes(void **state) {
  assert_as_nobody(client_oversized);
  assert_logged("framing error: Message too long");
}

static int client_before_hello(void *arg) {
  struct bind_req b;
  int fd = raw_open(), sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  CHECK(fd >= 0 && sock >= 0);
  bind_request(&b, 7, "127.0.0.1");
  CHECK(raw_send(fd, &b.req, &sock, 1) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  close(sock);
  return 0;
}

static void test_request_before_handshake_closes(void **state) {
  assert_as_nobody(client_before_hello);
  assert_logged("request 15 before handshake");
}

static int client_wrong_version(void *arg) {
  Psock__V1__Response *r = NULL;
  int fd = raw_open();

  CHECK(fd >= 0);
  CHECK(hello_version(fd, 99, &r) == 0);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTONOSUPPORT));
  CHECK(strstr(r->error->message, "protocol version 99") != NULL);
  psock__v1__response__free_unpacked(r, NULL);
  /* Answered, then closed. */
  CHECK(raw_closed(fd));
  close(fd);
  return 0;
}

static void test_wrong_protocol_version_answered_then_closed(void **state) {
  assert_as_nobody(client_wrong_version);
  assert_logged("speaks protocol 99, we speak 2");
}

/* ---------------------------------------------------------------- fds */

static int client_bind_without_fd(void *arg) {
  struct bind_req b;
  Psock__V1__Response *r;
  int fd = raw_ready();

  CHECK(fd >= 0);
  bind_request(&b, 3, "127.0.0.1");
  r = call(fd, &b.req, NULL, 0);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO));
  psock__v1__response__free_unpacked(r, NULL);
  /* A request error: the connection stays. */
  CHECK(still_served(fd, 4));
  close(fd);
  return 0;
}

static void test_missing_fd_is_protocol_error(void **state) {
  assert_as_nobody(client_bind_without_fd);
  assert_logged("bind takes 1 fd(s), got 0");
}

static int client_three_fds(void *arg) {
  struct bind_req b;
  uint8_t buf[256];
  int socks[3], fd = raw_ready();
  ssize_t n;

  CHECK(fd >= 0);
  for (int i = 0; i < 3; i++)
    CHECK((socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
  bind_request(&b, 5, "127.0.0.1");
  b.req.fd_count = 3;
  n = wire_pack(&b.req.base, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK(raw_sendmsg(fd, buf, (size_t)n, socks, 3) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  for (int i = 0; i < 3; i++)
    close(socks[i]);
  return 0;
}

static void test_too_many_fds_close(void **state) {
  assert_as_nobody(client_three_fds);
  assert_logged("framing error: Protocol error");
}

static int client_fd_count_mismatch(void *arg) {
  struct bind_req b;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int fd = raw_ready();

  CHECK(fd >= 0 && sock >= 0);
  bind_request(&b, 6, "127.0.0.1");
  /* Says one, sends none. */
  CHECK(raw_send_count(fd, &b.req, 1, NULL, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  /* Says none, sends one. */
  fd = raw_ready();
  CHECK(fd >= 0);
  CHECK(raw_send_count(fd, &b.req, 0, &sock, 1) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  /* Says two, sends one. */
  fd = raw_ready();
  CHECK(fd >= 0);
  CHECK(raw_send_count(fd, &b.req, 2, &sock, 1) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  close(sock);
  return 0;
}

static void test_fd_count_mismatch_closes(void **state) {
  assert_as_nobody(client_fd_count_mismatch);
  assert_logged("fd_count 1 but 0 fds arrived");
  assert_logged("fd_count 0 but 1 fds arrived");
  assert_logged("fd_count 2 but 1 fds arrived");
}

static int client_not_a_socket(void *arg) {
  struct bind_req b;
  Psock__V1__Response *r;
  int p[2], file, fd = raw_ready();

  CHECK(fd >= 0);
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  bind_request(&b, 8, "127.0.0.1");
  r = call(fd, &b.req, &p[0], 1);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOTSOCK));
  psock__v1__response__free_unpacked(r, NULL);
  file = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
  CHECK(file >= 0);
  b.req.id = 9;
  r = call(fd, &b.req, &file, 1);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOTSOCK));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(still_served(fd, 10));
  close(p[0]);
  close(p[1]);
  close(file);
  close(fd);
  return 0;
}

static void test_fd_not_a_socket_is_enotsock(void **state) {
  assert_as_nobody(client_not_a_socket);
  assert_logged("bind request 9 answered with error kind 1 code 88");
}

/* Bind sock to 127.0.0.1:0 through psockd; the reply. */
static Psock__V1__Response *bind_call(int fd, uint64_t id, int sock) {
  struct bind_req b;

  bind_request(&b, id, "127.0.0.1");
  return call(fd, &b.req, &sock, 1);
}

/*
 * An IPv4 address on a socket of another family. psockd takes the family
 * from the socket, not from the address: on an IPv6 socket the policy
 * allows the bind and the kernel refuses the address (EINVAL), nothing
 * worse; on an AF_UNIX socket nobody is refused by the policy, which
 * grants no bind on the client's own unix sockets (root's gets the
 * kernel's EINVAL, client_root_wrong_family). An IPv4 socket is bound.
 */
static int client_wrong_family(void *arg) {
  Psock__V1__Response *r;
  int sv[2], fd = raw_ready();
  int in6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int in4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);

  CHECK(fd >= 0 && in6 >= 0 && in4 >= 0);
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
  r = bind_call(fd, 11, in6);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  r = bind_call(fd, 12, sv[0]);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES));
  psock__v1__response__free_unpacked(r, NULL);
  /* The allowed twin. */
  r = bind_call(fd, 13, in4);
  CHECK(r != NULL && r->result_case == PSOCK__V1__RESPONSE__RESULT_BIND);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(getsockname(in4, (struct sockaddr *)&sin, &len) == 0);
  CHECK(sin.sin_family == AF_INET && sin.sin_port != 0 &&
        sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  CHECK(still_served(fd, 14));
  close(sv[0]);
  close(sv[1]);
  close(in6);
  close(in4);
  close(fd);
  return 0;
}

/* Root's policy lets the bind through: the kernel refuses it. */
static int client_root_wrong_family(void *arg) {
  Psock__V1__Response *r;
  int sv[2], fd = raw_ready();

  CHECK(fd >= 0);
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
  r = bind_call(fd, 15, sv[0]);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(still_served(fd, 16));
  close(sv[0]);
  close(sv[1]);
  close(fd);
  return 0;
}

static void test_socket_of_other_family_fails_in_kernel(void **state) {
  assert_as_nobody(client_wrong_family);
  assert_child_passed(harness_run_as_root(0, client_root_wrong_family, NULL),
                      "client_root_wrong_family");
  assert_logged("bind request 11 answered with error kind 1 code 22");
  assert_logged("bind request 12 answered with error kind 5 code 13");
  assert_logged("bind request 15 answered with error kind 1 code 22");
}

/* ------------------------------------------------------------ requests */

/* Request envelopes with a call number the schema does not have. */
static int client_unknown_calls(void *arg) {
  /* id 2, fd_count 0, then field N as an empty message. */
  static const uint32_t fields[] = {9, 25, 29, 41, 99, 536870911};
  int fd = raw_ready();

  CHECK(fd >= 0);
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    uint8_t pkt[16] = {0x08, (uint8_t)(20 + i), 0x10, 0x00};
    size_t n = 4;
    uint64_t tag = (uint64_t)fields[i] << 3 | 2;
    Psock__V1__Response *r;

    do {
      pkt[n++] = (uint8_t)((tag & 0x7f) | (tag > 0x7f ? 0x80 : 0));
      tag >>= 7;
    } while (tag);
    pkt[n++] = 0; /* length 0 */
    CHECK(wire_send_packet(fd, pkt, n, NULL, 0, 0) == 0);
    r = raw_recv(fd, REPLY_TIMEOUT_MS);
    CHECK(r != NULL && r->id == 20 + i);
    CHECK(is_error(r, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, ENOSYS));
    psock__v1__response__free_unpacked(r, NULL);
  }
  /* Values out of every range in a known call: refused as the kernel
   * refuses them, before the policy is asked. */
  {
    Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
    Psock__V1__SocketRequest s = PSOCK__V1__SOCKET_REQUEST__INIT;
    Psock__V1__Response *r;

    s.family = -1;
    s.type = 0x7fffffff;
    s.proto = -42;
    req.id = 30;
    req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
    req.socket = &s;
    r = call(fd, &req, NULL, 0);
    /* The kernel's first answer: type bits it does not know. */
    CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
    psock__v1__response__free_unpacked(r, NULL);
  }
  CHECK(still_served(fd, 31));
  close(fd);
  return 0;
}

static void test_unknown_call_is_enosys(void **state) {
  assert_as_nobody(client_unknown_calls);
  assert_logged("unknown request 21 answered with error kind 6 code 38: "
                "unknown call 25");
  assert_logged("unknown call 536870911");
}

/* A 60 KiB host name in each call that takes a name. */
static int client_huge_strings(void *arg) {
  size_t len = 60 * 1024;
  char *name = malloc(len + 1);
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__HostnameRequest h = PSOCK__V1__HOSTNAME_REQUEST__INIT;
  Psock__V1__GetfqdnRequest fq = PSOCK__V1__GETFQDN_REQUEST__INIT;
  struct gai_req g;
  Psock__V1__Response *r;
  int fd = raw_ready();

  CHECK(name != NULL && fd >= 0);
  memset(name, 'a', len);
  for (size_t i = 63; i < len; i += 64)
    name[i] = '.';
  name[len] = '\0';

  /* gaierror, as for any name that does not exist. */
  gai_request(&g, 40, name);
  r = call(fd, &g.req, NULL, 0);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__GAI_ERROR, EAI_NONAME));
  psock__v1__response__free_unpacked(r, NULL);

  h.name = name;
  req.id = 41;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETHOSTBYNAME_EX;
  req.gethostbyname_ex = &h;
  r = call(fd, &req, NULL, 0);
  /* herror (docs/api.md): psockd grows gethostbyname_r()'s buffer until
   * the name fits, and the lookup itself finds nothing. */
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__HOST_ERROR, HOST_NOT_FOUND));
  psock__v1__response__free_unpacked(r, NULL);

  /* getfqdn answers an unknown name with the name: a 60 KiB reply. */
  fq.name = name;
  req.id = 42;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETFQDN;
  req.getfqdn = &fq;
  r = call(fd, &req, NULL, 0);
  CHECK(r != NULL);
  CHECK(r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR ||
        (r->result_case == PSOCK__V1__RESPONSE__RESULT_GETFQDN &&
         strlen(r->getfqdn->name) == len));
  psock__v1__response__free_unpacked(r, NULL);

  CHECK(still_served(fd, 43));
  close(fd);
  free(name);
  return 0;
}

static void test_huge_host_name_is_an_error(void **state) {
  assert_as_nobody(client_huge_strings);
  assert_logged("getaddrinfo request 40 answered with error");
}

/* getnameinfo of a unix path holding a NUL. */
static int client_unix_path_nul(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetnameinfoRequest q = PSOCK__V1__GETNAMEINFO_REQUEST__INIT;
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__Response *r;
  int fd = raw_ready();

  CHECK(fd >= 0);
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  a.unix_path.data = (uint8_t *)"/tmp/a\0/etc/passwd";
  a.unix_path.len = 18;
  q.address = &a;
  req.id = 50;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETNAMEINFO;
  req.getnameinfo = &q;
  r = call(fd, &req, NULL, 0);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(still_served(fd, 51));
  close(fd);
  return 0;
}

/* As root (psockd binds unix paths for root only): bind with a NUL. */
static int client_root_bind_path_nul(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__BindRequest bind = PSOCK__V1__BIND_REQUEST__INIT;
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__Response *r;
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int fd = raw_ready();

  CHECK(fd >= 0 && sock >= 0);
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  a.unix_path.data = (uint8_t *)"/tmp/psock-hostile\0x";
  a.unix_path.len = 20;
  bind.address = &a;
  req.id = 52;
  req.call_case = PSOCK__V1__REQUEST__CALL_BIND;
  req.bind = &bind;
  r = call(fd, &req, &sock, 1);
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(access("/tmp/psock-hostile", F_OK) < 0);
  close(sock);
  close(fd);
  return 0;
}

static void test_nul_in_unix_path_is_einval(void **state) {
  assert_as_nobody(client_unix_path_nul);
  assert_child_passed(harness_run_as_root(0, client_root_bind_path_nul, NULL),
                      "client_root_bind_path_nul");
  assert_logged("getnameinfo request 50 answered with error kind 1 code 22");
  assert_logged("bind request 52 answered with error kind 1 code 22");
}

/* A setsockopt request on sock; its reply. */
static Psock__V1__Response *setsockopt_call(int fd, uint64_t id, int sock,
                                            int level, int optname,
                                            const void *val, size_t len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SetsockoptRequest so = PSOCK__V1__SETSOCKOPT_REQUEST__INIT;

  so.level = level;
  so.optname = optname;
  so.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_BUF_VALUE;
  so.buf_value.data = (uint8_t *)val;
  so.buf_value.len = len;
  req.id = id;
  req.call_case = PSOCK__V1__REQUEST__CALL_SETSOCKOPT;
  req.setsockopt = &so;
  return call(fd, &req, &sock, 1);
}

/*
 * SO_ATTACH_FILTER's value points to the filter: psockd would have the
 * kernel read it from psockd's own memory (EFAULT here, a filter made of
 * psockd's memory elsewhere). Such an option never reaches the kernel from
 * psockd: it is not in the shared option table (proto/sockopts.h), so the
 * answer is ENOPROTOOPT, logged; an option of the table with a value of
 * the right size is set (the allowed twin), one with a value of another
 * size is EINVAL.
 */
static int client_option_with_pointer(void *arg) {
  struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog prog = {.len = 1, .filter = (struct sock_filter *)4096};
  uint8_t big[64] = {1};
  Psock__V1__Response *r;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int one = 1, v = 0, fd = raw_ready();
  socklen_t len = sizeof(v);

  CHECK(fd >= 0 && sock >= 0);
  r = setsockopt_call(fd, 60, sock, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                      sizeof(prog));
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOPROTOOPT));
  psock__v1__response__free_unpacked(r, NULL);
  /* The client itself may, of course, with its own memory. */
  prog.filter = &ret;
  CHECK(setsockopt(sock, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ==
        0);
  /* An option of the table, by value: set through psockd. */
  r = setsockopt_call(fd, 61, sock, SOL_SOCKET, SO_KEEPALIVE, &one,
                      sizeof(one));
  CHECK(r != NULL && r->result_case == PSOCK__V1__RESPONSE__RESULT_SETSOCKOPT);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(getsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0 && v == 1);
  /* The same option with a value of a size it does not take. */
  r = setsockopt_call(fd, 62, sock, SOL_SOCKET, SO_KEEPALIVE, big, sizeof(big));
  CHECK(is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(still_served(fd, 63));
  close(sock);
  close(fd);
  return 0;
}

static void test_option_holding_a_pointer_refused(void **state) {
  char line[64];

  assert_as_nobody(client_option_with_pointer);
  snprintf(line, sizeof(line), "setsockopt(%d, %d) refused", SOL_SOCKET,
           SO_ATTACH_FILTER);
  assert_logged_line(fx.psockd, line, "not an option psockd passes");
  snprintf(line, sizeof(line), "setsockopt(%d, %d) refused", SOL_SOCKET,
           SO_KEEPALIVE);
  assert_logged_line(fx.psockd, line,
                     "value of a size the option does not take");
}

/* ---------------------------------------------- a client that never reads */

#define HOG_MAX_REQUESTS 2000
#define LATENCY_SAMPLES 200

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Pipeline requests without ever reading, then hold on until released. */
static int hog(struct shared *sh) {
  uint8_t buf[256];
  long sent = 0;
  int fd = raw_ready();

  CHECK(fd >= 0);
  for (long i = 0; i < HOG_MAX_REQUESTS; i++) {
    Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
    Psock__V1__SocketRequest s = PSOCK__V1__SOCKET_REQUEST__INIT;
    Psock__V1__GetaddrinfoRequest g = PSOCK__V1__GETADDRINFO_REQUEST__INIT;
    ssize_t n;
    int r;

    req.id = 100 + (uint64_t)i;
    if (i % 2) {
      g.host = (char *)"localhost";
      req.call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
      req.getaddrinfo = &g;
    } else {
      s.family = AF_INET;
      s.type = SOCK_STREAM;
      req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
      req.socket = &s;
    }
    n = wire_pack(&req.base, buf, sizeof(buf));
    CHECK(n > 0);
    r = wire_send_packet(fd, buf, (size_t)n, NULL, 0, MSG_DONTWAIT);
    if (r == -EAGAIN)
      break; /* psockd has stopped reading us */
    CHECK(r == 0);
    sent++;
  }
  sh->hog_sent = sent;
  /* Let the worker do all it will do for us. */
  usleep(200 * 1000);
  sh->hog_ready = 1;
  for (int t = 0; t < 15000 && !sh->hog_release; t++)
    usleep(1000);
  close(fd);
  return 0;
}

static int client_never_reads(void *arg) {
  struct shared *sh = fx.share;
  double lat[LATENCY_SAMPLES];
  pid_t pid;
  int status;

  sh->hog_ready = sh->hog_release = 0;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    exit(hog(sh));
  for (int t = 0; t < 10000 && !sh->hog_ready; t++)
    usleep(1000);
  CHECK(sh->hog_ready);
  /* Another client of the same worker: served as promptly as ever. */
  for (int i = 0; i < LATENCY_SAMPLES; i++) {
    double t0 = now_ms();
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    CHECK(s != NULL);
    lat[i] = now_ms() - t0;
    psock_close(s);
  }
  sh->hog_release = 1;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  qsort(lat, LATENCY_SAMPLES, sizeof(lat[0]), cmp_double);
  sh->lat_median_ms = lat[LATENCY_SAMPLES / 2];
  sh->lat_max_ms = lat[LATENCY_SAMPLES - 1];
  return 0;
}

static void test_client_that_never_reads_stalls_nobody(void **state) {
  long rss[3], rss_res[3];

  for (int round = 0; round < 3; round++) {
    assert_as_nobody(client_never_reads);
    rss[round] = rss_kib(fx.worker);
    rss_res[round] = rss_kib(fx.resolver);
    print_message("round %d: %ld requests pipelined unread; other client's "
                  "psock_socket: median %.3f ms, max %.3f ms; worker VmRSS "
                  "%ld KiB, resolver %ld KiB\n",
                  round + 1, fx.share->hog_sent, fx.share->lat_median_ms,
                  fx.share->lat_max_ms, rss[round], rss_res[round]);
    assert_true(fx.share->hog_sent >= 100);
    /* Generous bounds for loaded CI machines and sanitizer builds. */
    assert_true(fx.share->lat_median_ms < 50.0);
    assert_true(fx.share->lat_max_ms < 1000.0);
  }
  /* Both clients were nobody's: one worker served them, the same one. */
  assert_int_equal(one_proc(fx.psockd, NOBODY_WORKER), fx.worker);
  if (fx.check_rss && rss[2] - rss[0] > RSS_SLACK_KIB)
    fail_msg("worker VmRSS grew from %ld to %ld KiB over rounds 1..3", rss[0],
             rss[2]);
  if (fx.check_rss && rss_res[2] - rss_res[0] > RSS_SLACK_KIB)
    fail_msg("resolver VmRSS grew from %ld to %ld KiB over rounds 1..3",
             rss_res[0], rss_res[2]);
}

/* --------------------------------------------------------------- limits */

static int client_warm_up_raw(void *arg) {
  struct gai_req g;
  Psock__V1__Response *r;
  int fd = raw_ready();

  CHECK(fd >= 0);
  CHECK(still_served(fd, 2));
  gai_request(&g, 3, "localhost");
  r = call(fd, &g.req, NULL, 0);
  CHECK(r != NULL && r->result_case == PSOCK__V1__RESPONSE__RESULT_GETADDRINFO);
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  return 0;
}

static const char *const limit_args[] = {
    "--workers",     "1",  "--max-inflight=3", "--max-lookups=4",
    "--max-conns=6", NULL,
};

/* Send n slow lookups with ids from id0 without waiting. */
static int send_slow(int fd, uint64_t id0, int n) {
  for (int i = 0; i < n; i++) {
    struct gai_req g;

    gai_request(&g, id0 + (uint64_t)i, SLOW_NAME);
    if (raw_send(fd, &g.req, NULL, 0) < 0)
      return -1;
  }
  return 0;
}

/* Collect n replies; count those refused with EAGAIN whose message holds
 * what, and those that are lookup results (GAI errors or addresses). */
static int collect(int fd, int n, const char *what, int *ret_refused,
                   int *ret_answered) {
  *ret_refused = *ret_answered = 0;
  for (int i = 0; i < n; i++) {
    Psock__V1__Response *r = raw_recv(fd, 5000);

    if (!r)
      return -1;
    if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR &&
        r->error->kind == PSOCK__V1__ERROR__KIND__OS_ERROR &&
        r->error->code == EAGAIN && strstr(r->error->message, what))
      ++*ret_refused;
    else
      ++*ret_answered;
    psock__v1__response__free_unpacked(r, NULL);
  }
  return 0;
}

/* Wait (bounded) until *flag is set. */
static bool wait_flag(volatile int *flag) {
  for (int t = 0; t < PAIR_WAIT_MS && !*flag; t++)
    usleep(1000);
  return *flag != 0;
}

/* 5 slow lookups on one connection: 3 in flight, 2 refused at once. */
static int client_over_inflight(void *arg) {
  int refused, answered, fd = raw_ready();

  CHECK(fd >= 0);
  CHECK(send_slow(fd, 10, LIM_INFLIGHT + 2) == 0);
  CHECK(collect(fd, LIM_INFLIGHT + 2, "requests in flight", &refused,
                &answered) == 0);
  CHECK(refused == 2 && answered == LIM_INFLIGHT);
  CHECK(still_served(fd, 20));
  close(fd);
  return 0;
}

/*
 * Two connections, 3 slow lookups each: the worker of nobody's identity
 * refuses the 5th and 6th. While its 4 are in flight, the other user's
 * client (client_other_lookups) gets its own full 4.
 */
static int client_over_lookups(void *arg) {
  struct shared *sh = fx.share;
  int refused, answered, a = raw_ready(), b = raw_ready();
  struct pollfd pa = {.fd = a, .events = POLLIN};

  CHECK(a >= 0 && b >= 0);
  CHECK(send_slow(a, 10, 3) == 0);
  /* a's are dispatched before b's: wait for psockd to take them. */
  usleep(100 * 1000);
  CHECK(send_slow(b, 20, 3) == 0);
  /* The refusals come at once, the answer after the resolver's 1 s. */
  CHECK(collect(b, 2, "name lookups in flight for this user", &refused,
                &answered) == 0);
  CHECK(refused == 2 && answered == 0);
  sh->held = 1;
  /* Note when nobody's first lookup comes back, while the other runs. */
  while (!sh->other_done && sh->t_nobody_answer == 0) {
    if (poll(&pa, 1, 1) == 1)
      sh->t_nobody_answer = now_ms();
  }
  CHECK(wait_flag(&sh->other_done));
  CHECK(collect(b, 1, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == 1);
  CHECK(collect(a, 3, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == 3);
  close(a);
  close(b);
  return 0;
}

/* The other user's full share of lookups (over two connections: each
 * takes LIM_INFLIGHT at most). */
static int client_other_lookups(void *arg) {
  struct shared *sh = fx.share;
  int half = LIM_LOOKUPS / 2, refused, answered;
  int a = raw_ready(), b = raw_ready();

  /* Connected (its worker started) before nobody's lookups go out. */
  CHECK(a >= 0 && b >= 0);
  CHECK(wait_flag(&sh->held));
  CHECK(send_slow(a, 10, half) == 0);
  CHECK(send_slow(b, 20, LIM_LOOKUPS - half) == 0);
  sh->t_other_sent = now_ms();
  CHECK(collect(a, half, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == half);
  CHECK(collect(b, LIM_LOOKUPS - half, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == LIM_LOOKUPS - half);
  CHECK(still_served(a, 30));
  close(a);
  close(b);
  sh->other_done = 1;
  return 0;
}

/*
 * 6 connections are served; the 7th is closed at once, without a reply;
 * the 6 go on. Meanwhile the other user (client_other_conns) opens its own
 * 6. When one of nobody's goes, a new one is welcome again.
 */
static int client_over_conns(void *arg) {
  struct shared *sh = fx.share;
  int fds[LIM_CONNS], extra;

  for (int i = 0; i < LIM_CONNS; i++)
    CHECK((fds[i] = raw_ready()) >= 0);
  extra = raw_open();
  CHECK(extra >= 0);
  {
    Psock__V1__Response *r = NULL;
    /* Closed (perhaps before the hello could be sent), not timed out. */
    CHECK(hello_version(extra, PSOCK_PROTOCOL_VERSION, &r) < 0);
    CHECK(errno == 0 || errno == EPIPE || errno == ECONNRESET);
  }
  close(extra);
  sh->held = 1;
  CHECK(wait_flag(&sh->other_done));
  for (int i = 0; i < LIM_CONNS; i++)
    CHECK(still_served(fds[i], 30 + (uint64_t)i));
  /*
   * One goes, and a new one is welcome again at once, as a native socket
   * would be: the master, whose count says 6, asks the workers afresh
   * before it refuses. Several rounds, each at once after the close.
   */
  for (int round = 0; round < 5; round++) {
    close(fds[0]);
    fds[0] = raw_ready();
    CHECK(fds[0] >= 0);
  }
  CHECK(still_served(fds[0], 40));
  for (int i = 0; i < LIM_CONNS; i++)
    close(fds[i]);
  return 0;
}

static int client_other_conns(void *arg) {
  struct shared *sh = fx.share;
  int fds[LIM_CONNS];

  CHECK(wait_flag(&sh->held));
  for (int i = 0; i < LIM_CONNS; i++) {
    CHECK((fds[i] = raw_ready()) >= 0);
    CHECK(still_served(fds[i], 30 + (uint64_t)i));
  }
  for (int i = 0; i < LIM_CONNS; i++)
    close(fds[i]);
  sh->other_done = 1;
  return 0;
}

/*
 * Run nobody_fn as nobody and, at the same time, other_fn as OTHER_UID:
 * nobody_fn sets share->held once it is at its limit and waits for
 * share->other_done. Both must pass.
 */
static void run_pair(struct psockd_proc *p, int (*nobody_fn)(void *),
                     const char *nobody_name, int (*other_fn)(void *),
                     const char *other_name) {
  int r_nobody, r_other;
  pid_t pid;

  fx.share->held = fx.share->other_done = 0;
  fx.share->t_other_sent = fx.share->t_nobody_answer = 0;
  pid = harness_start_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0, 0,
                         nobody_fn, NULL);
  assert_true(pid > 0);
  r_other = harness_run_as(OTHER_UID, OTHER_UID, NULL, 0, 0, other_fn, NULL);
  /* Or nobody's client would wait out PAIR_WAIT_MS for nothing. */
  fx.share->other_done = 1;
  r_nobody = harness_wait(pid, HARNESS_CHILD_TIMEOUT_S);
  assert_child_passed_by(p, r_other, other_name);
  assert_child_passed_by(p, r_nobody, nobody_name);
}

/*
 * Every worker of p retires and p holds the fds it held at its start: what
 * the case before took, it gave back.
 */
static void assert_back_to(struct psockd_proc *p, int start,
                           const char *after) {
  int now = harness_psockd_idle_fds(p);

  if (now != start) {
    harness_print_psockd_log(p);
    fail_msg("psockd holds %d fds after %s, %d at its start", now, after,
             start);
  }
}

static void test_limits_give_typed_errors_or_close(void **state) {
  struct psockd_proc *p = harness_start_psockd(limit_args);
  char uid_nobody[32], uid_other[32];
  int start;

  /* Our PSOCK_SOCKET now names this psockd; the main one is unchanged. */
  start = harness_psockd_idle_fds(p);
  assert_true(start > 0);

  assert_child_passed_by(p,
                         harness_run_as_nobody(0, client_over_inflight, NULL),
                         "client_over_inflight");
  assert_logged_by(p, "(uid 65534): 3 requests in flight: getaddrinfo refused");
  assert_back_to(p, start, "--max-inflight");

  run_pair(p, client_over_lookups, "client_over_lookups", client_other_lookups,
           "client_other_lookups");
  print_message("nobody's first lookup answered %.0f ms after the other "
                "user's were sent\n",
                fx.share->t_nobody_answer - fx.share->t_other_sent);
  /* The other user's went out while nobody's 4 were still in flight. */
  assert_true(fx.share->t_nobody_answer > fx.share->t_other_sent);
  assert_logged_line(p, "[uid 65534]: ",
                     "4 name lookups already in flight for this user: "
                     "refused");
  snprintf(uid_other, sizeof(uid_other), "[uid %u]: ", OTHER_UID);
  assert_not_logged_line(p, uid_other, "already in flight");
  assert_back_to(p, start, "--max-lookups");

  run_pair(p, client_over_conns, "client_over_conns", client_other_conns,
           "client_other_conns");
  snprintf(uid_nobody, sizeof(uid_nobody), "uid %u pid ", HARNESS_NOBODY_UID);
  assert_logged_line(p, uid_nobody, ": already 6 connections: refused");
  snprintf(uid_other, sizeof(uid_other), "uid %u pid ", OTHER_UID);
  assert_not_logged_line(p, uid_other, "connections: refused");
  assert_back_to(p, start, "--max-conns");

  harness_stop_psockd(p);
  assert_int_equal(setenv("PSOCK_SOCKET", harness_psockd_socket(fx.psockd), 1),
                   0);
}

/* ------------------------------------------------------ nobody noticed */

/* Lines that would mean a role or a worker died, hung or misbehaved. */
static const char *const bad_news[] = {
    "restarting it",            /* psockd-priv or psockd-spawn died */
    "killed by signal",         /* a worker died (or was killed) */
    "has not answered for",     /* a worker hung */
    "malformed control message" /* a worker spoke nonsense */
};

/* Release the keeper and collect its result (0: still served at the end). */
static int keeper_stop(void) {
  int r;

  if (fx.keeper <= 0)
    return 0;
  fx.share->keeper_release = 1;
  r = harness_wait(fx.keeper, 10);
  fx.keeper = 0;
  return r;
}

static void test_psockd_leaks_nothing(void **state) {
  char *log = harness_psockd_log(fx.psockd);
  const char *bad = NULL;
  long rss, rss_res;
  int fds, idle;

  for (size_t i = 0; i < sizeof(bad_news) / sizeof(bad_news[0]) && !bad; i++)
    if (strstr(log, bad_news[i]))
      bad = bad_news[i];
  free(log);
  /* The root client's worker retires; nobody's stays (the keeper). */
  assert_int_equal(one_proc(fx.psockd, "psockd-worker"), fx.worker);
  assert_int_equal(one_proc(fx.psockd, "psockd-resolver"), fx.resolver);
  fds = settled_fds(fx.psockd, fx.fds_idle);
  rss = rss_kib(fx.worker);
  rss_res = rss_kib(fx.resolver);
  print_message("psockd fds: %d after the warm-up, %d now; worker VmRSS: "
                "%ld KiB after the warm-up, %ld KiB now; resolver: %ld, %ld "
                "KiB%s\n",
                fx.fds_idle, fds, fx.rss_idle, rss, fx.rss_resolver, rss_res,
                fx.check_rss ? "" : " (not checked: sanitizer or wrapper)");
  if (fds != fx.fds_idle || bad)
    harness_print_psockd_log(fx.psockd);
  if (bad)
    fail_msg("psockd's log says \"%s\"", bad);
  assert_int_equal(fds, fx.fds_idle);
  if (fx.check_rss && rss - fx.rss_idle > RSS_SLACK_KIB)
    fail_msg("worker VmRSS grew from %ld to %ld KiB", fx.rss_idle, rss);
  if (fx.check_rss && rss_res - fx.rss_resolver > RSS_SLACK_KIB)
    fail_msg("resolver VmRSS grew from %ld to %ld KiB", fx.rss_resolver,
             rss_res);

  /* The keeper's connection, open throughout, is still served. */
  assert_child_passed(keeper_stop(), "client_keeper");
  /* With no client left, every worker retires: back to the start. */
  idle = harness_psockd_idle_fds(fx.psockd);
  print_message("psockd fds: %d at the start, %d with every client gone\n",
                fx.fds_start, idle);
  if (idle != fx.fds_start)
    harness_print_psockd_log(fx.psockd);
  assert_int_equal(idle, fx.fds_start);
}

/* ---------------------------------------------------------------- setup */

/* Everything a worker and its resolver allocate once: the resolver's
 * lookup threads, big arena blocks. */
static int client_warm_up(void *arg) {
  size_t len = 60 * 1024;
  char *name = malloc(len + 1);
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetfqdnRequest fq = PSOCK__V1__GETFQDN_REQUEST__INIT;
  Psock__V1__Response *r;
  int refused, answered, fd;
  psock_sock *s;

  CHECK(client_warm_up_raw(arg) == 0);
  fd = raw_ready();
  CHECK(fd >= 0 && name != NULL);
  /* Every lookup thread of the resolver runs once. */
  CHECK(send_slow(fd, 10, 8) == 0);
  CHECK(collect(fd, 8, "in flight", &refused, &answered) == 0);
  memset(name, 'w', len);
  name[len] = '\0';
  fq.name = name;
  req.id = 20;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETFQDN;
  req.getfqdn = &fq;
  r = call(fd, &req, NULL, 0);
  CHECK(r != NULL);
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  free(name);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

/*
 * A client of nobody's worker that holds one connection from the setup to
 * the end, then proves it is still served.
 */
static int client_keeper(void *arg) {
  struct shared *sh = fx.share;
  int fd = raw_ready();

  CHECK(fd >= 0);
  CHECK(still_served(fd, 2));
  sh->keeper_ready = 1;
  for (int t = 0; t < KEEPER_MAX_S * 100 && !sh->keeper_release; t++)
    usleep(10000);
  CHECK(sh->keeper_release);
  CHECK(still_served(fd, 3));
  close(fd);
  return 0;
}

static int setup(void **state) {
  struct sockaddr_in dns = {.sin_family = AF_INET, .sin_port = htons(53)};
  char slow_dns[32], resolv[128];
  const char *args[] = {"--workers", "1", NULL};

  fx.check_rss = getenv("PSOCKD_WRAPPER") == NULL;
#if defined(__SANITIZE_ADDRESS__)
  fx.check_rss = false; /* freed memory sits in ASan's quarantine */
#endif
  /*
   * The name server that never answers, on an address of 127.0.0.0/8 of
   * our own (from our pid): other test programs running at the same time
   * bind name servers of theirs in the same network namespace.
   */
  snprintf(slow_dns, sizeof(slow_dns), "127.77.%u.%u",
           (unsigned)(getpid() >> 8) & 0xff, (unsigned)getpid() & 0xff);
  snprintf(resolv, sizeof(resolv),
           "nameserver %s\noptions timeout:1 attempts:1\n", slow_dns);
  harness_private_name_service(HOSTS, resolv, NSSWITCH);
  inet_pton(AF_INET, slow_dns, &dns.sin_addr);
  fx.dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fx.dns_fd >= 0);
  if (bind(fx.dns_fd, (struct sockaddr *)&dns, sizeof(dns)) < 0)
    fail_msg("bind %s:53: %s", slow_dns, strerror(errno));
  fx.share = mmap(NULL, sizeof(*fx.share), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(fx.share != MAP_FAILED);

  /* --workers 1: one worker per identity, so every client as nobody is
   * served by the same process. It starts with the first client (the
   * harness's probe of the socket was root's: that one retires). */
  fx.psockd = harness_start_psockd(args);
  fx.fds_start = harness_psockd_idle_fds(fx.psockd);
  assert_true(fx.fds_start > 0);
  fx.keeper = harness_start_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0,
                               0, client_keeper, NULL);
  assert_true(fx.keeper > 0);
  for (int t = 0; t < 5000 && !fx.share->keeper_ready; t++)
    usleep(1000);
  if (!fx.share->keeper_ready)
    assert_child_passed(keeper_stop(), "client_keeper (start)");
  fx.worker = one_proc(fx.psockd, NOBODY_WORKER);
  fx.resolver = one_proc(fx.psockd, NOBODY_RESOLVER);
  assert_child_passed(harness_run_as_nobody(0, client_warm_up, NULL),
                      "client_warm_up");
  assert_child_passed(harness_run_as_nobody(0, client_never_reads, NULL),
                      "client_never_reads (warm-up)");
  assert_int_equal(one_proc(fx.psockd, NOBODY_WORKER), fx.worker);
  fx.fds_idle = settled_fds(fx.psockd, -1);
  fx.rss_idle = rss_kib(fx.worker);
  fx.rss_resolver = rss_kib(fx.resolver);
  assert_true(fx.fds_idle > 0 && fx.rss_idle > 0 && fx.rss_resolver > 0);
  return 0;
}

static int teardown(void **state) {
  /* After a failure the keeper may still hold on: let it go. */
  keeper_stop();
  harness_stop_psockd(fx.psockd);
  close(fx.dns_fd);
  munmap(fx.share, sizeof(*fx.share));
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_truncated_request_closes),
      cmocka_unit_test(test_random_bytes_close),
      cmocka_unit_test(test_oversized_packet_closes),
      cmocka_unit_test(test_request_before_handshake_closes),
      cmocka_unit_test(test_wrong_protocol_version_answered_then_closed),
      cmocka_unit_test(test_missing_fd_is_protocol_error),
      cmocka_unit_test(test_too_many_fds_close),
      cmocka_unit_test(test_fd_count_mismatch_closes),
      cmocka_unit_test(test_fd_not_a_socket_is_enotsock),
      cmocka_unit_test(test_socket_of_other_family_fails_in_kernel),
      cmocka_unit_test(test_unknown_call_is_enosys),
      cmocka_unit_test(test_huge_host_name_is_an_error),
      cmocka_unit_test(test_nul_in_unix_path_is_einval),
      cmocka_unit_test(test_option_holding_a_pointer_refused),
      cmocka_unit_test(test_client_that_never_reads_stalls_nobody),
      cmocka_unit_test(test_limits_give_typed_errors_or_close),
      /* Last: after every hostile client has come and gone. */
      cmocka_unit_test(test_psockd_leaks_nothing),
  };

  return cmocka_run_group_tests_name("hostile", tests, setup, teardown);
}
