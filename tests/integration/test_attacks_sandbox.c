/* SPDX-License-Identifier: MIT */
/*
 * The security review's attacks from a sandbox (issue 13, findings 1, 2,
 * 4, 5, 11, 12 and the client whose pid psockd cannot see), each performed
 * for real against a real psockd by a local user (nobody, mostly in an
 * empty network namespace), each asserting that the attack fails the way
 * the fix promises (a typed error, a log line), next to its allowed twin
 * that proves the legitimate path still works. Findings 3, 6, 7, 8, 9 and
 * 10 are in test_attacks_users.c.
 *
 * Client functions (client_*) run in a forked child: they use CHECK(),
 * never cmocka's assert_*.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#include "raw_client.h"

#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif

#define KIND_OS PSOCK__V1__ERROR__KIND__OS_ERROR
#define KIND_POLICY PSOCK__V1__ERROR__KIND__POLICY_DENIED

/* A group no account has: members only by harness_run_as(). */
#define NETRAW_GID 4343
#define USER_UID 1000

static struct {
  struct psockd_proc *psockd;  /* the default policy, on the host */
  struct psockd_proc *watched; /* whose log a failing child prints */
  char name_host[64];          /* abstract names, per test program */
  char name_ok[64];
  char name_squat[64];
  char name_fdpass[64];
  char pattern_ok[64];
} fx;

static void assert_child(int r, const char *fn, const char *who) {
  if (r != 0 && fx.watched)
    harness_print_psockd_log(fx.watched);
  if (r != 0)
    fail_msg("%s as %s failed (%d; see stderr)", fn, who, r);
}

#define AS_NOBODY(flags, fn, arg)                                              \
  assert_child(harness_run_as_nobody((flags), (fn), (arg)), #fn, "nobody")
#define AS_ROOT(flags, fn, arg)                                                \
  assert_child(harness_run_as_root((flags), (fn), (arg)), #fn, "root")
#define AS_USER(uid, gid, groups, n, flags, fn, arg)                           \
  assert_child(                                                                \
      harness_run_as((uid), (gid), (groups), (n), (flags), (fn), (arg)), #fn,  \
      #uid)

static bool log_has(const struct psockd_proc *p, const char *text) {
  char *log = harness_psockd_log(p);
  bool found = strstr(log, text) != NULL;

  if (!found) {
    fprintf(stderr, "psockd's log lacks \"%s\"\n", text);
    harness_print_psockd_log(p);
  }
  free(log);
  return found;
}

/* ------------------------------------------------ psockd with a policy */

/*
 * Start psockd (flags of harness_start_psockd_flags()) with rules, followed
 * by the default policy if with_default. psockd reads the file once, at
 * start: it is removed right after.
 */
static struct psockd_proc *start_with_policy(int flags, const char *rules,
                                             bool with_default) {
  char dir[] = "/tmp/psock-attack-policy.XXXXXX", path[64], arg[80], cmd[512];
  const char *args[] = {arg, NULL};
  struct psockd_proc *p;
  FILE *out, *in;
  int c;

  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0755), 0);
  snprintf(path, sizeof(path), "%s/policy.conf", dir);
  snprintf(arg, sizeof(arg), "--policy=%s", path);
  out = fopen(path, "we");
  assert_non_null(out);
  fputs(rules, out);
  if (with_default) {
    snprintf(cmd, sizeof(cmd), "'%s' --dump-policy", getenv("PSOCKD"));
    in = popen(cmd, "re");
    assert_non_null(in);
    while ((c = fgetc(in)) != EOF)
      fputc(c, out);
    assert_int_equal(pclose(in), 0);
  }
  assert_int_equal(fclose(out), 0);
  p = harness_start_psockd_flags(flags, args);
  unlink(path);
  rmdir(dir);
  fx.watched = p;
  return p;
}

/* Stop a test's own psockd; the default one serves the next clients. */
static void stop_own(struct psockd_proc *p) {
  fx.watched = fx.psockd;
  harness_stop_psockd(p);
  assert_int_equal(setenv("PSOCK_SOCKET", harness_psockd_socket(fx.psockd), 1),
                   0);
}

/* --------------------------------------------------- raw requests by hand */

/* Is r the error (kind, code)? Frees r. */
static bool refused(Psock__V1__Response *r, int kind, int code) {
  bool ok = raw_is_error(r, kind, code);

  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return ok;
}

static bool has_result(Psock__V1__Response *r, int result_case) {
  bool ok = raw_is_result(r, result_case);

  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return ok;
}

/* ----------------------------------------------------- small socket tools */

static socklen_t abstract_sockaddr(struct sockaddr_un *sun, const char *name) {
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path + 1, name, strlen(name));
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

/* A listening abstract AF_UNIX socket in this process's netns, or -1. */
static int abstract_listen(const char *name, int type, int flags) {
  struct sockaddr_un sun;
  socklen_t len = abstract_sockaddr(&sun, name);
  int fd = socket(AF_UNIX, type | flags | SOCK_CLOEXEC, 0);

  if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) < 0 ||
      listen(fd, 8) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static int abstract_connect(int fd, const char *name) {
  struct sockaddr_un sun;
  socklen_t len = abstract_sockaddr(&sun, name);

  return connect(fd, (struct sockaddr *)&sun, len);
}

static struct sockaddr_in loopback(uint16_t port) {
  return (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* A socket of type bound to 127.0.0.1 on a free port (and listening for
 * TCP), non-blocking; its port in *ret_port. */
static int loopback_socket(int type, uint16_t *ret_port) {
  struct sockaddr_in sin = loopback(0);
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  if (type == SOCK_STREAM)
    assert_int_equal(listen(fd, 8), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *ret_port = ntohs(sin.sin_port);
  return fd;
}

/* Connections waiting on a non-blocking listener (each accepted, closed). */
static int pending_connections(int listen_fd) {
  int n = 0, c;

  while ((c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
    close(c);
    n++;
  }
  assert_int_equal(errno, EAGAIN);
  return n;
}

static uid_t owner_of(int fd) {
  struct stat st;

  return fstat(fd, &st) < 0 ? (uid_t)-1 : st.st_uid;
}

/* --------------------------------------------- finding 1: AF_UNIX names */

/* psockd makes no AF_UNIX socket or socketpair for nobody. */
static int client_unix_socket_refused(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketpairRequest sp = PSOCK__V1__SOCKETPAIR_REQUEST__INIT;
  Psock__V1__Response *r;
  int conn = raw_connect(), kind, code, got = -1;
  size_t nfds = 0;

  CHECK(conn >= 0);
  CHECK(raw_socket(conn, AF_UNIX, SOCK_STREAM, 0, &kind, &code) < 0);
  CHECK(kind == KIND_POLICY && code == EPERM);
  CHECK(raw_socket(conn, AF_UNIX, SOCK_DGRAM, 0, &kind, &code) < 0);
  CHECK(kind == KIND_POLICY && code == EPERM);
  sp.family = AF_UNIX;
  sp.type = SOCK_STREAM;
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKETPAIR;
  req.socketpair = &sp;
  r = raw_call_fd(conn, &req, -1, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(strstr(raw_error_message(r), "AF_UNIX is the client's own") != NULL);
  CHECK(refused(r, KIND_POLICY, EPERM));
  close(conn);
  return 0;
}

/* Twin: root still gets one; nobody makes its own. */
static int client_unix_socket_root(void *arg) {
  int conn = raw_connect(), kind, code, fd, domain = 0;
  socklen_t len = sizeof(domain);

  CHECK(conn >= 0);
  fd = raw_socket(conn, AF_UNIX, SOCK_STREAM, 0, &kind, &code);
  CHECK(fd >= 0);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0);
  CHECK(domain == AF_UNIX);
  close(fd);
  close(conn);
  return 0;
}

static int client_unix_socket_own(void *arg) {
  psock_sock *a = NULL, *b = NULL;
  char buf[4];

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_send(a, "own", 3, 0) == 3);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "own", 3) == 0);
  psock_close(a);
  psock_close(b);
  return 0;
}

static void test_f1_unix_sockets_only_for_root(void **state) {
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unix_socket_refused, NULL);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unix_socket_own, NULL);
  AS_ROOT(HARNESS_EMPTY_NETNS, client_unix_socket_root, NULL);
}

/*
 * The attack: from an empty netns, reach (connect) and squat (bind) the
 * host's abstract names through psockd, with a socket of nobody's own, by
 * hand and through the library (PSOCK_ROUTE=daemon sends abstract names to
 * psockd). The default policy names no abstract address.
 */
static int client_host_abstract_refused(void *arg) {
  int conn = raw_connect(), own, got = -1;
  psock_address a;
  psock_sock *s;
  size_t nfds = 0;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  own = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(own >= 0);
  /* By itself the sandbox cannot: its netns has no such name. */
  CHECK(abstract_connect(own, fx.name_host) < 0 && errno == ECONNREFUSED);
  r = raw_abstract_call(conn, own, false, fx.name_host, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(strstr(raw_error_message(r), "no rule matched") != NULL);
  CHECK(refused(r, KIND_POLICY, EACCES));
  r = raw_abstract_call(conn, own, true, fx.name_squat, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(refused(r, KIND_POLICY, EACCES));
  close(own);
  close(conn);

  CHECK(setenv("PSOCK_ROUTE", "daemon", 1) == 0);
  s = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_addr_unix_abstract(&a, fx.name_host, strlen(fx.name_host)) == 0);
  CHECK(psock_connect(s, &a) == -1);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EACCES);
  psock_close(s);
  return 0;
}

static void test_f1_host_abstract_names_refused(void **state) {
  int listener = abstract_listen(fx.name_host, SOCK_STREAM, SOCK_NONBLOCK);
  int squat;

  assert_true(listener >= 0);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_host_abstract_refused, NULL);
  /* The host's server never saw a connection... */
  assert_int_equal(pending_connections(listener), 0);
  close(listener);
  /* ...and its name was not squatted: the host can still take it. */
  squat = abstract_listen(fx.name_squat, SOCK_STREAM, 0);
  assert_true(squat >= 0);
  close(squat);
  assert_true(log_has(fx.psockd, "no rule matched"));
}

/* A server on the host: answers "hello" with the peer's SO_PEERCRED. */
struct peer_seen {
  int count;
  struct ucred cred[4];
};

static _Noreturn void peer_serve(int listen_fd, struct peer_seen *seen) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    struct timeval tv = {.tv_sec = 5};
    struct ucred cr;
    socklen_t len = sizeof(cr);
    char buf[64], out[64];

    if (c < 0)
      continue;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
        seen->count < 4)
      seen->cred[seen->count++] = cr;
    if (recv(c, buf, sizeof(buf), 0) == 5 && memcmp(buf, "hello", 5) == 0) {
      int n = snprintf(out, sizeof(out), "uid=%u gid=%u", (unsigned)cr.uid,
                       (unsigned)cr.gid);
      send(c, out, (size_t)n, MSG_NOSIGNAL);
    }
    close(c);
  }
}

/* Say hello on fd; the server must answer that it sees nobody. */
static int hello_seen_as_nobody(int fd) {
  static const char want[] = "uid=65534 gid=65534";
  char buf[64] = {0};
  struct timeval tv = {.tv_sec = 5};

  CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
  CHECK(send(fd, "hello", 5, MSG_NOSIGNAL) == 5);
  CHECK(recv(fd, buf, sizeof(buf) - 1, 0) == (ssize_t)strlen(want));
  CHECK(strcmp(buf, want) == 0);
  return 0;
}

/* Twin: where a rule names the address, psockd connects it, on a new
 * socket it sends back in place of the client's, made as nobody. */
static int client_named_abstract_allowed(void *arg) {
  int conn = raw_connect(), own, got = -1, r2;
  psock_address a;
  psock_sock *s;
  size_t nfds = 0;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  own = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(own >= 0);
  r = raw_abstract_call(conn, own, false, fx.name_ok, &got, &nfds);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_CONNECT));
  CHECK(r->connect->has_replaced && r->connect->replaced);
  CHECK(r->connect->status == 0);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(nfds == 1 && got >= 0);
  CHECK(owner_of(got) == HARNESS_NOBODY_UID);
  r2 = hello_seen_as_nobody(got);
  CHECK(r2 == 0);
  close(got);
  /* The rule's glob names -ok*, not the host's other names. */
  r = raw_abstract_call(conn, own, false, fx.name_host, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(refused(r, KIND_POLICY, EACCES));
  close(own);
  close(conn);

  /* The library puts the new socket on the program's fd number. */
  CHECK(setenv("PSOCK_ROUTE", "daemon", 1) == 0);
  s = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(s != NULL);
  own = psock_fileno(s);
  CHECK(psock_addr_unix_abstract(&a, fx.name_ok, strlen(fx.name_ok)) == 0);
  CHECK(psock_connect(s, &a) == 0);
  CHECK(psock_fileno(s) == own);
  r2 = hello_seen_as_nobody(own);
  CHECK(r2 == 0);
  psock_close(s);
  return 0;
}

static void test_f1_f5_named_abstract_name_allowed(void **state) {
  struct peer_seen *seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char rule[160];
  struct psockd_proc *p;
  int listener, status;
  pid_t server;

  assert_true(seen != MAP_FAILED);
  memset(seen, 0, sizeof(*seen));
  listener = abstract_listen(fx.name_ok, SOCK_STREAM, 0);
  assert_true(listener >= 0);
  fflush(NULL);
  server = fork();
  assert_true(server >= 0);
  if (server == 0)
    peer_serve(listener, seen);
  close(listener);
  snprintf(rule, sizeof(rule), "allow uid=65534 connect family=unix addr=@%s\n",
           fx.pattern_ok);
  p = start_with_policy(0, rule, true);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_named_abstract_allowed, NULL);
  stop_own(p);
  kill(server, SIGKILL);
  waitpid(server, &status, 0);
  /* Finding 5: the server reached through psockd sees nobody, not psockd
   * and not root. */
  assert_int_equal(seen->count, 2);
  for (int i = 0; i < seen->count; i++) {
    assert_int_equal(seen->cred[i].uid, HARNESS_NOBODY_UID);
    assert_int_equal(seen->cred[i].gid, HARNESS_NOBODY_GID);
  }
  munmap(seen, sizeof(*seen));
}

/* ------------------------------------------------- finding 2: zerocopy */

struct udp_target {
  uint16_t port;
};

/* The attack: SO_ZEROCOPY on its own UDP socket, then a sendto through
 * psockd with MSG_ZEROCOPY (the kernel would send the worker's buffer
 * later, after another client's request reused it). */
static int client_zerocopy_refused(void *arg) {
  const struct udp_target *t = arg;
  int conn = raw_connect(), kind, code, fd, one = 1;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  fd = raw_socket(conn, AF_INET, SOCK_DGRAM, 0, &kind, &code);
  CHECK(fd >= 0);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) == 0);
  r = raw_sendto(conn, fd, "zerocopy-secret-1", MSG_ZEROCOPY, "127.0.0.1",
                 t->port);
  CHECK(strstr(raw_error_message(r), "not passed by psockd") != NULL);
  CHECK(refused(r, KIND_OS, EINVAL));
  r = raw_sendto(conn, fd, "zerocopy-secret-2", MSG_ZEROCOPY | MSG_MORE,
                 "127.0.0.1", t->port);
  CHECK(refused(r, KIND_OS, EINVAL));
  /* Twin: flags of the allow-list go through, and arrive. */
  r = raw_sendto(conn, fd, "dontroute-ok", MSG_DONTROUTE, "127.0.0.1", t->port);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_SENDTO));
  CHECK(r->sendto->sent == strlen("dontroute-ok"));
  psock__v1__response__free_unpacked(r, NULL);
  r = raw_sendto(conn, fd, "plain-ok", 0, "127.0.0.1", t->port);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_SENDTO));
  CHECK(r->sendto->sent == strlen("plain-ok"));
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  close(conn);
  return 0;
}

/* Options whose value the kernel would read from or write into psockd's
 * memory (a pointer in the value) are never passed. */
static int client_pointer_options_refused(void *arg) {
  struct sock_filter accept_all = BPF_STMT(BPF_RET | BPF_K, 0xffff);
  struct sock_fprog prog = {.len = 1, .filter = &accept_all};
  int conn = raw_connect(), kind, code, fd;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  fd = raw_socket(conn, AF_INET, SOCK_STREAM, 0, &kind, &code);
  CHECK(fd >= 0);
  r = raw_getsockopt(conn, fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE,
                     sizeof(struct tcp_zerocopy_receive));
  CHECK(refused(r, KIND_OS, ENOPROTOOPT));
  r = raw_setsockopt(conn, fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                     sizeof(prog), 0);
  CHECK(refused(r, KIND_OS, ENOPROTOOPT));
  /* Twins: options of the table go through. */
  r = raw_getsockopt(conn, fd, IPPROTO_TCP, TCP_NODELAY, 0);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_GETSOCKOPT));
  CHECK(r->getsockopt->value_case ==
            PSOCK__V1__GETSOCKOPT_REPLY__VALUE_INT_VALUE &&
        r->getsockopt->int_value == 0);
  psock__v1__response__free_unpacked(r, NULL);
  r = raw_setsockopt(conn, fd, SOL_SOCKET, SO_KEEPALIVE, NULL, 0, 1);
  CHECK(has_result(r, PSOCK__V1__RESPONSE__RESULT_SETSOCKOPT));
  close(fd);
  close(conn);
  return 0;
}

static void test_f2_zerocopy_and_pointer_options_refused(void **state) {
  struct udp_target t;
  int rx = loopback_socket(SOCK_DGRAM, &t.port);
  bool dontroute = false, plain = false;
  char buf[64];
  ssize_t n;

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_zerocopy_refused, &t);
  /* Exactly the allowed datagrams arrived; no refused one, ever. */
  while ((n = recv(rx, buf, sizeof(buf) - 1, 0)) >= 0) {
    buf[n] = '\0';
    if (strcmp(buf, "dontroute-ok") == 0 && !dontroute)
      dontroute = true;
    else if (strcmp(buf, "plain-ok") == 0 && !plain)
      plain = true;
    else
      fail_msg("the receiver got \"%s\"", buf);
  }
  assert_int_equal(errno, EAGAIN);
  assert_true(dontroute && plain);
  close(rx);
  assert_true(log_has(fx.psockd, "sendto flags 0x4000000 refused"));

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_pointer_options_refused, NULL);
  assert_true(log_has(fx.psockd, "getsockopt(6, 35) refused"));
  assert_true(log_has(fx.psockd, "setsockopt(1, 26) refused"));
}

/* --------------------------------------------- finding 4: raw ICMP */

static uint16_t inet_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t sum = 0;

  for (; len > 1; p += 2, len -= 2)
    sum += (uint32_t)(p[0] << 8 | p[1]);
  if (len)
    sum += (uint32_t)p[0] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

#define PING_PAYLOAD "psock attack test ping"

/* Is this IPv4 packet (from a raw socket) the echo reply to id? */
static bool is_echo_reply(const uint8_t *pkt, size_t len, uint16_t id) {
  size_t ihl;
  const struct icmphdr *icmp;

  if (len < sizeof(struct ip) || (pkt[0] >> 4) != 4)
    return false;
  ihl = (size_t)(pkt[0] & 0x0f) * 4;
  if (len < ihl + sizeof(*icmp) + sizeof(PING_PAYLOAD))
    return false;
  icmp = (const struct icmphdr *)(pkt + ihl);
  return icmp->type == ICMP_ECHOREPLY && ntohs(icmp->un.echo.id) == id &&
         memcmp(pkt + ihl + sizeof(*icmp), PING_PAYLOAD,
                sizeof(PING_PAYLOAD)) == 0;
}

/* One ICMP echo to 127.0.0.1 on s (raw or datagram); 0 when answered. */
static int ping_loopback(psock_sock *s, bool raw) {
  uint8_t req[sizeof(struct icmphdr) + sizeof(PING_PAYLOAD)], buf[2048];
  struct icmphdr *icmp = (struct icmphdr *)req;
  uint16_t id = (uint16_t)getpid();
  time_t deadline = time(NULL) + 5;
  psock_address to;

  memset(req, 0, sizeof(req));
  icmp->type = ICMP_ECHO;
  icmp->un.echo.id = htons(id);
  icmp->un.echo.sequence = htons(1);
  memcpy(req + sizeof(*icmp), PING_PAYLOAD, sizeof(PING_PAYLOAD));
  icmp->checksum = inet_checksum(req, sizeof(req));
  CHECK(psock_addr_inet(&to, "127.0.0.1", 0) == 0);
  CHECK(psock_sendto(s, req, sizeof(req), &to) == (ssize_t)sizeof(req));
  CHECK(psock_settimeout(s, 0.5) == 0);
  while (time(NULL) < deadline) {
    ssize_t n = psock_recv(s, buf, sizeof(buf), 0);

    if (n < 0 && psock_last_error_kind() == PSOCK_ERR_TIMEOUT)
      continue;
    CHECK(n > 0);
    /* A ping socket's kernel sets the id itself and strips the IP header;
     * a raw socket sees our own request on loopback too. */
    if (!raw && n == (ssize_t)sizeof(req) &&
        ((struct icmphdr *)buf)->type == ICMP_ECHOREPLY &&
        memcmp(buf + sizeof(*icmp), PING_PAYLOAD, sizeof(PING_PAYLOAD)) == 0)
      return 0;
    if (raw && is_echo_reply(buf, (size_t)n, id))
      return 0;
  }
  fprintf(stderr, "no ICMP echo reply within 5 s\n");
  return __LINE__;
}

/* The attack: a raw ICMP/ICMPv6 (or IPPROTO_RAW) socket under the default
 * policy, to forge packets and read the host's ICMP traffic. */
static int client_raw_icmp_refused(void *arg) {
  static const int asks[][3] = {{AF_INET, SOCK_RAW, IPPROTO_ICMP},
                                {AF_INET6, SOCK_RAW, IPPROTO_ICMPV6},
                                {AF_INET, SOCK_RAW, IPPROTO_RAW}};

  errno = 0;
  CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 && errno == EPERM);
  for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
    CHECK(psock_socket(asks[i][0], asks[i][1], asks[i][2]) == NULL);
    CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
    CHECK(psock_last_error_code() == EPERM);
    CHECK(strstr(psock_last_error_message(), "denied by policy") != NULL);
  }
  return 0;
}

/* Twin A: an ICMP datagram ("ping") socket, restricted to echo. */
static int client_ping_socket_echo(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  int r;

  CHECK(s != NULL);
  CHECK(owner_of(psock_fileno(s)) == HARNESS_NOBODY_UID);
  r = ping_loopback(s, false);
  CHECK(r == 0);
  psock_close(s);
  return 0;
}

/* Where the host's ping_group_range leaves nobody out: say so. */
static int client_ping_range_says_why(void *arg) {
  CHECK(psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(psock_last_error_code() == EACCES);
  CHECK(strstr(psock_last_error_message(), "ping_group_range") != NULL);
  return 0;
}

/* Twin B: an explicit rule for a group; psockd-priv makes the socket and
 * hands it over owned by the member (finding 5). */
static int client_raw_icmp_member(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  int r;

  CHECK(s != NULL);
  CHECK(psock_type(s) == SOCK_RAW);
  CHECK(owner_of(psock_fileno(s)) == HARNESS_NOBODY_UID);
  r = ping_loopback(s, true);
  CHECK(r == 0);
  psock_close(s);
  /* The rule names inet ICMP only. */
  CHECK(psock_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) == NULL);
  CHECK(psock_last_error_code() == EPERM);
  return 0;
}

/* Does this netns's net.ipv4.ping_group_range admit gid? */
static bool ping_group_allows(gid_t gid) {
  FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "re");
  long lo = 1, hi = 0;

  if (f) {
    if (fscanf(f, "%ld %ld", &lo, &hi) != 2)
      lo = 1, hi = 0;
    fclose(f);
  }
  return (long)gid >= lo && (long)gid <= hi;
}

static void test_f4_raw_icmp_refused_ping_sockets_work(void **state) {
  static const gid_t netraw = NETRAW_GID;
  char rule[128];
  struct psockd_proc *p;

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_raw_icmp_refused, NULL);
  assert_true(log_has(fx.psockd, "default policy"));

  if (ping_group_allows(HARNESS_NOBODY_GID)) {
    printf("note: this host's ping_group_range admits nobody: the "
           "ping_group_range error cannot be seen here\n");
    AS_NOBODY(HARNESS_EMPTY_NETNS, client_ping_socket_echo, NULL);
  } else {
    AS_NOBODY(HARNESS_EMPTY_NETNS, client_ping_range_says_why, NULL);
    assert_true(log_has(fx.psockd, "ping_group_range does not admit it"));
  }

  p = harness_start_psockd_flags(HARNESS_PSOCKD_OWN_NETNS, NULL);
  fx.watched = p;
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_ping_socket_echo, NULL);
  stop_own(p);

  snprintf(rule, sizeof(rule),
           "allow gid=%d socket family=inet type=raw proto=icmp\n", NETRAW_GID);
  p = start_with_policy(0, rule, true);
  AS_USER(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, &netraw, 1,
          HARNESS_EMPTY_NETNS, client_raw_icmp_member, NULL);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_raw_icmp_refused, NULL);
  stop_own(p);
}

/* ------------------------------------------- finding 5: socket owners */

static int client_tcp_owned_by_me(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  CHECK(owner_of(psock_fileno(s)) == getuid());
  psock_close(s);
  return 0;
}

static void test_f5_sockets_owned_by_their_user(void **state) {
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_tcp_owned_by_me, NULL);
  AS_ROOT(HARNESS_EMPTY_NETNS, client_tcp_owned_by_me, NULL);
  AS_USER(USER_UID, USER_UID, NULL, 0, HARNESS_EMPTY_NETNS,
          client_tcp_owned_by_me, NULL);
}

/* Send fd over a new SOCK_SEQPACKET connection to the abstract name. */
static int send_fd(const char *name, int fd) {
  char cbuf[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec iov = {.iov_base = "fd", .iov_len = 2};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = cbuf,
                     .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

  CHECK(s >= 0 && abstract_connect(s, name) == 0);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  CHECK(sendmsg(s, &m, 0) == 2);
  close(s);
  return 0;
}

static int recv_fd(int listener) {
  char cbuf[CMSG_SPACE(sizeof(int))], data[2];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = cbuf,
                     .msg_controllen = sizeof(cbuf)};
  int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC), fd = -1;
  struct cmsghdr *h;

  if (c < 0)
    return -1;
  if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) == 2 && (h = CMSG_FIRSTHDR(&m)) &&
      h->cmsg_type == SCM_RIGHTS)
    memcpy(&fd, CMSG_DATA(h), sizeof(int));
  close(c);
  return fd;
}

struct reuseport {
  uint16_t port;  /* 0: let the kernel choose */
  bool hand_over; /* send the listener to the test (send_fd) */
};

/* A TCP socket from psockd with SO_REUSEPORT, bound to 127.0.0.1:port
 * through psockd; 0, or the psock error code of the bind. */
static int reuseport_bind(const struct reuseport *r, psock_sock **ret) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_address a;
  int one = 1;

  *ret = s;
  if (!s ||
      setsockopt(psock_fileno(s), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) <
          0 ||
      psock_addr_inet(&a, "127.0.0.1", r->port) < 0)
    return -1;
  return psock_bind(s, &a) == 0 ? 0 : psock_last_error_code();
}

/* uid 1000: a listener in a SO_REUSEPORT group, handed to the test; the
 * twin joins the group (bind), but does not listen: psockd's worker may
 * hold its copy of the socket a moment after the client closed it, and a
 * connection of the test must not land there. */
static int client_reuseport_owner(void *arg) {
  const struct reuseport *r = arg;
  psock_sock *s;
  int e = reuseport_bind(r, &s);

  CHECK(e == 0);
  if (r->hand_over) {
    CHECK(psock_listen(s, 16) == 0);
    e = send_fd(fx.name_fdpass, psock_fileno(s));
    CHECK(e == 0);
  }
  psock_close(s);
  return 0;
}

/* The attack: nobody joins uid 1000's group to take its connections. */
static int client_reuseport_hijack(void *arg) {
  const struct reuseport *r = arg;
  struct sockaddr_in sin = loopback(r->port);
  psock_sock *s;
  int e = reuseport_bind(r, &s);

  CHECK(e == EADDRINUSE);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(owner_of(psock_fileno(s)) == HARNESS_NOBODY_UID);
  /* Nor on the fd it holds, by itself. */
  errno = 0;
  CHECK(bind(psock_fileno(s), (struct sockaddr *)&sin, sizeof(sin)) == -1);
  CHECK(errno == EADDRINUSE);
  psock_close(s);
  return 0;
}

static void test_f5_reuseport_hijack_refused(void **state) {
  struct reuseport r = {.port = 0, .hand_over = true};
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int pass = abstract_listen(fx.name_fdpass, SOCK_SEQPACKET, SOCK_NONBLOCK);
  int held, c, got;

  assert_true(pass >= 0);
  AS_USER(USER_UID, USER_UID, NULL, 0, 0, client_reuseport_owner, &r);
  held = recv_fd(pass);
  close(pass);
  assert_true(held >= 0);
  assert_int_equal(owner_of(held), USER_UID);
  assert_int_equal(getsockname(held, (struct sockaddr *)&sin, &len), 0);
  r.port = ntohs(sin.sin_port);
  r.hand_over = false;

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_reuseport_hijack, &r);
  /* Twin: a second socket of uid 1000 joins its own group. */
  AS_USER(USER_UID, USER_UID, NULL, 0, HARNESS_EMPTY_NETNS,
          client_reuseport_owner, &r);

  /* Every connection still reaches uid 1000's listener. */
  sin = loopback(r.port);
  c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(fcntl(held, F_SETFL, O_NONBLOCK), 0);
  got = accept4(held, NULL, NULL, SOCK_CLOEXEC);
  assert_true(got >= 0);
  close(got);
  close(c);
  close(held);
}

/* -------------------------------------- finding 11: rules the holder skips */

/* Run `psockctl ARGS` (stdout and stderr) into out; its exit status. */
static int psockctl(char *out, size_t size, const char *args) {
  char cmd[512];
  size_t n = 0;
  FILE *f;
  int st;

  snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", getenv("PSOCKCTL"), args);
  f = popen(cmd, "re");
  assert_non_null(f);
  while (n + 1 < size && fgets(out + n, (int)(size - n), f))
    n += strlen(out + n);
  out[n] = '\0';
  st = pclose(f);
  assert_true(WIFEXITED(st));
  return WEXITSTATUS(st);
}

struct f11 {
  uint16_t allowed; /* the port the connect rule names (an echo) */
  uint16_t denied;  /* a listener of the test the rule does not name */
  bool socket_rule; /* the policy gives unconnected sockets */
};

static int echo_once_through(psock_sock *s) {
  char buf[8] = {0};

  CHECK(psock_sendall(s, "f11", 3, 0) == 0);
  CHECK(psock_recv(s, buf, sizeof(buf), 0) == 3 && memcmp(buf, "f11", 3) == 0);
  return 0;
}

/* Under socket + restricted connect: psockd refuses the connect, but the
 * holder of the socket connects it itself (what the warning says). */
static int client_connect_bypass(void *arg) {
  const struct f11 *t = arg;
  struct sockaddr_in sin = loopback(t->denied);
  psock_address denied, allowed;
  psock_sock *s;
  int r;

  CHECK(psock_addr_inet(&denied, "127.0.0.1", t->denied) == 0);
  CHECK(psock_addr_inet(&allowed, "127.0.0.1", t->allowed) == 0);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_connect(s, &denied) == -1);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EACCES);
  CHECK(connect(psock_fileno(s), (struct sockaddr *)&sin, sizeof(sin)) == 0);
  psock_close(s);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL && psock_connect(s, &allowed) == 0);
  r = echo_once_through(s);
  CHECK(r == 0);
  psock_close(s);
  return 0;
}

/* Twin: connect without socket: connected sockets only, and the rule
 * holds. */
static int client_connect_only(void *arg) {
  const struct f11 *t = arg;
  psock_address denied, allowed;
  psock_sock *s;
  int r;

  CHECK(psock_addr_inet(&denied, "127.0.0.1", t->denied) == 0);
  CHECK(psock_addr_inet(&allowed, "127.0.0.1", t->allowed) == 0);
  CHECK(psock_socket(AF_INET, SOCK_STREAM, 0) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_create_connection(&denied, 5.0, NULL) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EACCES);
  s = psock_create_connection(&allowed, 5.0, NULL);
  CHECK(s != NULL);
  r = echo_once_through(s);
  CHECK(r == 0);
  psock_close(s);
  return 0;
}

/* Write the policy of t into dir/policy.conf (path into ret_path). */
static void write_f11_policy(const struct f11 *t, const char *dir,
                             char *ret_path, size_t size) {
  FILE *f;

  snprintf(ret_path, size, "%s/policy.conf", dir);
  f = fopen(ret_path, "we");
  assert_non_null(f);
  if (t->socket_rule)
    fputs("allow anyone socket family=inet type=stream proto=0,tcp\n", f);
  fprintf(f,
          "allow anyone connect family=inet addr=127.0.0.1 port=%u\n"
          "allow anyone lookup\n",
          t->allowed);
  assert_int_equal(fclose(f), 0);
}

/* psockctl check and explain on t's policy; then a psockd serving it. */
static struct psockd_proc *f11_check_and_start(const struct f11 *t) {
  char dir[] = "/tmp/psock-attack-f11.XXXXXX", path[64], args[160], want[96];
  char out[4096];
  const char *argv[] = {"--policy", path, NULL};
  struct psockd_proc *p;

  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0755), 0);
  write_f11_policy(t, dir, path, sizeof(path));
  snprintf(args, sizeof(args), "check --policy %s", path);
  assert_int_equal(psockctl(out, sizeof(out), args), 0);
  snprintf(args, sizeof(args), "check --strict --policy %s", path);
  assert_int_equal(psockctl(out, sizeof(out), args), t->socket_rule ? 1 : 0);
  if (t->socket_rule) {
    /* The warning names the connect rule (line 2) and the socket rule. */
    snprintf(want, sizeof(want), "%s:2: warning:", path);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "rule %s:1 may give", path);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "psock-run --mode=seccomp"));
  } else {
    assert_null(strstr(out, "warning"));
  }
  snprintf(args, sizeof(args),
           "explain --policy %s --user nobody connect addr=127.0.0.1 port=%u",
           path, t->denied);
  assert_int_equal(psockctl(out, sizeof(out), args), 1);
  assert_non_null(strstr(out, "deny EACCES"));
  if (t->socket_rule) {
    snprintf(want, sizeof(want), "but rule %s:1 gives this client", path);
    assert_non_null(strstr(out, want));
  } else {
    assert_null(strstr(out, "warning"));
  }
  p = harness_start_psockd(argv);
  fx.watched = p;
  unlink(path);
  rmdir(dir);
  return p;
}

static void test_f11_unenforceable_rule_warned(void **state) {
  struct f11 t = {.socket_rule = true};
  struct harness_echo *echo = harness_start_echo(&t.allowed);
  int listener = loopback_socket(SOCK_STREAM, &t.denied);
  struct psockd_proc *p = f11_check_and_start(&t);

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_connect_bypass, &t);
  stop_own(p);
  /* The holder's own connect arrived: the rule did not bind it. */
  assert_int_equal(pending_connections(listener), 1);

  t.socket_rule = false;
  p = f11_check_and_start(&t);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_connect_only, &t);
  stop_own(p);
  assert_int_equal(pending_connections(listener), 0);
  close(listener);
  harness_stop_echo(echo);
}

/* ------------------------------------ finding 12: psockd's socket mode */

struct hand {
  pid_t pid;
  char dir[sizeof("/tmp/psock-attack-f12.XXXXXX")];
  char sock[64], log[64];
};

/* psockd started by hand, as an admin would: no --socket-mode unless
 * given in extra. Returns true if it listens, false if it exited. */
static bool hand_start(struct hand *h, const char *const *extra) {
  const char *argv[16] = {getenv("PSOCKD"), "--socket", h->sock, "--verbose"};
  size_t argc = 4;
  struct stat st;

  for (size_t i = 0; extra && extra[i]; i++)
    argv[argc++] = extra[i];
  fflush(NULL);
  h->pid = fork();
  assert_true(h->pid >= 0);
  if (h->pid == 0) {
    int fd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
      _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    int status;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    bool up;

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", h->sock);
    up = lstat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
         connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    if (up)
      return true;
    if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
      h->pid = 0;
      assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      return false;
    }
    usleep(10000);
  }
  fail_msg("psockd started by hand neither listened nor exited in 5 s");
  return false;
}

static void hand_dir(struct hand *h) {
  memcpy(h->dir, "/tmp/psock-attack-f12.XXXXXX", sizeof(h->dir));
  assert_non_null(mkdtemp(h->dir));
  assert_int_equal(chmod(h->dir, 0755), 0);
  snprintf(h->sock, sizeof(h->sock), "%s/s.sock", h->dir);
  snprintf(h->log, sizeof(h->log), "%s/psockd.log", h->dir);
}

static char *hand_log(const struct hand *h) {
  static char text[8192];
  FILE *f = fopen(h->log, "re");
  size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

  if (f)
    fclose(f);
  text[n] = '\0';
  return text;
}

static void hand_stop(struct hand *h) {
  int status = 0;

  if (h->pid > 0) {
    kill(h->pid, SIGTERM);
    for (int i = 0; i < 1000 && waitpid(h->pid, &status, WNOHANG) == 0; i++)
      usleep(10000);
    if (kill(h->pid, 0) == 0) {
      kill(h->pid, SIGKILL);
      waitpid(h->pid, &status, 0);
      fail_msg("psockd started by hand ignored SIGTERM");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fprintf(stderr, "psockd log:\n%s\n", hand_log(h));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  unlink(h->log);
  rmdir(h->dir);
}

struct f12 {
  const char *path;
  int want; /* 0, or the errno connect() must fail with */
};

/* connect() to psockd's socket; with success, the handshake too. */
static int client_socket_access(void *arg) {
  const struct f12 *t = arg;
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r, conn;

  CHECK(fd >= 0);
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t->path);
  errno = 0;
  r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
  close(fd);
  if (t->want) {
    CHECK(r == -1 && errno == t->want);
    return 0;
  }
  CHECK(r == 0);
  CHECK(setenv("PSOCK_SOCKET", t->path, 1) == 0);
  conn = raw_connect();
  CHECK(conn >= 0);
  close(conn);
  return 0;
}

static void assert_node(const char *path, mode_t mode, gid_t gid) {
  struct stat st;

  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 07777, mode);
  assert_int_equal(st.st_uid, 0);
  assert_int_equal(st.st_gid, gid);
}

/* The attack: any local user uses a psockd an admin started by hand. */
static void test_f12_default_socket_mode(void **state) {
  struct group *psock = getgrnam("psock");
  struct hand h;
  struct f12 t;

  hand_dir(&h);
  t.path = h.sock;
  assert_true(hand_start(&h, NULL));
  if (psock) {
    printf("note: group psock exists (gid %u): expecting 0660 root:psock\n",
           (unsigned)psock->gr_gid);
    assert_node(h.sock, 0660, psock->gr_gid);
  } else {
    assert_node(h.sock, 0600, 0);
  }
  assert_non_null(strstr(hand_log(&h), psock ? "mode 0660" : "mode 0600"));
  t.want = EACCES;
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_socket_access, &t);
  /* Twin: root uses it. */
  t.want = 0;
  AS_ROOT(HARNESS_EMPTY_NETNS, client_socket_access, &t);
  hand_stop(&h);
}

/* Twin: --socket-group/--socket-mode open it to one group. */
static void test_f12_socket_group_and_mode(void **state) {
  static const char *const extra[] = {"--socket-group", "nogroup",
                                      "--socket-mode", "0660", NULL};
  struct group *nogroup = getgrnam("nogroup");
  struct hand h;
  struct f12 t;

  if (!nogroup || nogroup->gr_gid != HARNESS_NOBODY_GID) {
    printf("skipped: no group nogroup with gid %d on this machine\n",
           HARNESS_NOBODY_GID);
    skip();
  }
  hand_dir(&h);
  t.path = h.sock;
  assert_true(hand_start(&h, extra));
  assert_node(h.sock, 0660, HARNESS_NOBODY_GID);
  t.want = 0;
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_socket_access, &t);
  t.want = EACCES;
  AS_USER(USER_UID, USER_UID, NULL, 0, HARNESS_EMPTY_NETNS,
          client_socket_access, &t);
  hand_stop(&h);
}

/* A symlink planted at the socket path: psockd must not follow it (no
 * unlink, chmod or chown of its target), and refuses to start. */
static void test_f12_symlink_at_socket_path(void **state) {
  static const char precious[] = "precious\n";
  char target[96], link_to[96] = {0}, want[128], buf[32] = {0};
  struct hand h;
  struct stat st;
  int fd;

  hand_dir(&h);
  snprintf(target, sizeof(target), "%s/target", h.dir);
  fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, precious, strlen(precious)), strlen(precious));
  assert_int_equal(fchmod(fd, 0644), 0);
  close(fd);
  assert_int_equal(symlink(target, h.sock), 0);

  assert_false(hand_start(&h, NULL));
  snprintf(want, sizeof(want), "cannot listen on %s", h.sock);
  if (!strstr(hand_log(&h), want))
    fail_msg("psockd's log lacks \"%s\":\n%s", want, hand_log(&h));
  /* The link and its target are as they were. */
  assert_int_equal(lstat(h.sock, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_true(readlink(h.sock, link_to, sizeof(link_to) - 1) > 0);
  assert_string_equal(link_to, target);
  assert_int_equal(lstat(target, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0644);
  assert_int_equal(st.st_uid, 0);
  assert_int_equal(st.st_gid, 0);
  fd = open(target, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(read(fd, buf, sizeof(buf)), strlen(precious));
  assert_string_equal(buf, precious);
  close(fd);
  unlink(h.sock);
  unlink(target);
  hand_stop(&h);
}

/* ------------------------- a client whose pid psockd cannot see (unit) */

#define UNIT_POLICY                                                            \
  "deny unit=*.service socket family=inet type=stream\n"                       \
  "allow anyone socket family=inet type=stream,dgram proto=0,tcp,udp\n"

static int client_unit_unknown_refused(void *arg) {
  psock_sock *s;

  CHECK(psock_socket(AF_INET, SOCK_STREAM, 0) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EACCES);
  CHECK(strstr(psock_last_error_message(), "policy.conf:1)") != NULL);
  /* The same psockd serves what no unit= rule refuses. */
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

static int client_unit_known_allowed(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

/* Is psockd (the child of the harness's middle process) pid 1 of a pid
 * namespace nested in ours? */
static bool psockd_in_own_pidns(const struct psockd_proc *p) {
  char path[64], line[256];
  int child = 0;
  bool nested = false;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
           (int)harness_psockd_pid(p), (int)harness_psockd_pid(p));
  f = fopen(path, "re");
  if (!f || fscanf(f, "%d", &child) != 1)
    child = 0;
  if (f)
    fclose(f);
  snprintf(path, sizeof(path), "/proc/%d/status", child);
  f = child > 0 ? fopen(path, "re") : NULL;
  while (f && fgets(line, sizeof(line), f)) {
    int a, b;

    if (sscanf(line, "NSpid: %d %d", &a, &b) == 2)
      nested = a == child && b == 1;
  }
  if (f)
    fclose(f);
  return nested;
}

static void test_unit_of_invisible_pid_never_widens(void **state) {
  char cgroup[4096] = {0};
  FILE *f = fopen("/proc/self/cgroup", "re");
  struct psockd_proc *p;

  assert_non_null(f);
  assert_true(fread(cgroup, 1, sizeof(cgroup) - 1, f) > 0);
  fclose(f);
  if (strstr(cgroup, ".service")) {
    printf("skipped: this test runs in a .service unit, which the deny "
           "rule would match anyway\n");
    skip();
  }
  p = start_with_policy(HARNESS_PSOCKD_OWN_PIDNS, UNIT_POLICY, false);
  assert_true(psockd_in_own_pidns(p));
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unit_unknown_refused, NULL);
  assert_true(log_has(p, "unit=(unknown)"));
  stop_own(p);

  /* Twin: psockd sees the client's pid, reads its unit (none). */
  p = start_with_policy(0, UNIT_POLICY, false);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unit_known_allowed, NULL);
  stop_own(p);
}

/* ------------------------------------------------------------------ main */

static int setup(void **state) {
  int pid = (int)getpid();

  snprintf(fx.name_host, sizeof(fx.name_host), "psock-attack-%d-host", pid);
  snprintf(fx.name_ok, sizeof(fx.name_ok), "psock-attack-%d-ok", pid);
  snprintf(fx.pattern_ok, sizeof(fx.pattern_ok), "psock-attack-%d-ok*", pid);
  snprintf(fx.name_squat, sizeof(fx.name_squat), "psock-attack-%d-squat", pid);
  snprintf(fx.name_fdpass, sizeof(fx.name_fdpass), "psock-attack-%d-fdpass",
           pid);
  fx.psockd = harness_start_psockd(NULL);
  fx.watched = fx.psockd;
  return 0;
}

/* Each test starts with the default psockd: a test that failed half-way
 * may have left its own running (the harness stops it at exit). */
static int use_default_psockd(void **state) {
  fx.watched = fx.psockd;
  assert_int_equal(setenv("PSOCK_SOCKET", harness_psockd_socket(fx.psockd), 1),
                   0);
  return 0;
}

static int teardown(void **state) {
  harness_stop_psockd(fx.psockd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_f1_unix_sockets_only_for_root,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f1_host_abstract_names_refused,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f1_f5_named_abstract_name_allowed,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f2_zerocopy_and_pointer_options_refused,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f4_raw_icmp_refused_ping_sockets_work,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f5_sockets_owned_by_their_user,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f5_reuseport_hijack_refused,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f11_unenforceable_rule_warned,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f12_default_socket_mode, use_default_psockd),
      cmocka_unit_test_setup(test_f12_socket_group_and_mode,
                             use_default_psockd),
      cmocka_unit_test_setup(test_f12_symlink_at_socket_path,
                             use_default_psockd),
      cmocka_unit_test_setup(test_unit_of_invisible_pid_never_widens,
                             use_default_psockd),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
