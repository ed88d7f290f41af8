/* SPDX-License-Identifier: MIT */
/*
 * Foundation: a real psockd on a private socket; every client runs as
 * nobody (uid 65534, no capabilities), some inside an empty network
 * namespace. Each refused call (what the sandbox cannot do by itself, or
 * what the kernel refuses) sits next to its allowed twin (what psockd
 * does for it).
 *
 * Client functions (client_*) run in a forked child: they use CHECK(),
 * never cmocka's assert_*.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"

#ifndef AF_TIPC
#define AF_TIPC 30
#endif

/* A family number no kernel knows. */
#define BOGUS_FAMILY 4242

static struct {
  struct psockd_proc *psockd;
  struct harness_echo *echo;
  uint16_t echo_port;
  int fds_idle;  /* psockd's fds (all its processes) with no client */
  bool has_tipc; /* does this kernel create AF_TIPC sockets for root? */
} fx;

static void assert_child_passed(int r, const char *fn, const char *who,
                                int flags) {
  if (r != 0)
    fail_msg("%s as %s%s failed (%d; see stderr)", fn, who,
             (flags & HARNESS_EMPTY_NETNS) ? " in an empty netns" : "", r);
}

/* Run fn in a child as nobody (or root); fail the test unless it passed. */
#define assert_as_nobody(flags, fn)                                            \
  assert_child_passed(harness_run_as_nobody((flags), (fn), NULL), #fn,         \
                      "nobody", (flags))
#define assert_as_root(flags, fn)                                              \
  assert_child_passed(harness_run_as_root((flags), (fn), NULL), #fn, "root",   \
                      (flags))

/* -------------------------------------------------------- client helpers */

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 31 + seed);
}

/* Receive exactly len bytes. 0, or -1 (psock error set, or early EOF). */
static int recv_exact(psock_sock *s, void *buf, size_t len) {
  for (size_t got = 0; got < len;) {
    ssize_t n = psock_recv(s, (char *)buf + got, len - got, 0);

    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  return 0;
}

/* Send len bytes of a pattern on a and read them back on b. */
static int send_and_receive(psock_sock *a, psock_sock *b, size_t len,
                            unsigned seed) {
  uint8_t *out = malloc(len), *in = malloc(len);
  int ret = -1;

  if (!out || !in)
    goto out;
  fill_pattern(out, len, seed);
  if (psock_sendall(a, out, len, 0) < 0 || recv_exact(b, in, len) < 0)
    goto out;
  ret = memcmp(out, in, len) == 0 ? 0 : -1;
out:
  free(out);
  free(in);
  return ret;
}

static bool is_error(int kind, int code) {
  return psock_last_error_kind() == kind && psock_last_error_code() == code &&
         psock_last_error_message()[0] != '\0';
}

/* Connect a socket made by this process itself. Returns 0 or errno. */
static int direct_connect(uint16_t port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = 0;

  if (fd < 0)
    return errno;
  if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
    err = errno;
  close(fd);
  return err;
}

/* A TCP socket from psockd, connected to the echo server, 32 KiB round trip */
static int client_tcp_echo(void *arg) {
  psock_address addr, peer;
  psock_sock *s;
  int type = 0;

  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_fileno(s) >= 0);
  CHECK(psock_family(s) == AF_INET && psock_type(s) == SOCK_STREAM);
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_TYPE, &type) == 0);
  CHECK(type == SOCK_STREAM);
  CHECK(psock_addr_inet(&addr, "127.0.0.1", fx.echo_port) == 0);
  CHECK(psock_connect(s, &addr) == 0);
  CHECK(psock_getpeername(s, &peer) == 0);
  CHECK(peer.family == AF_INET && peer.u.in.port == fx.echo_port);
  CHECK(strcmp(peer.u.in.host, "127.0.0.1") == 0);
  CHECK(send_and_receive(s, s, 32768, 1) == 0);
  CHECK(send_and_receive(s, s, 1, 2) == 0);
  CHECK(psock_close(s) == 0);
  return 0;
}

/* ------------------------------------------------------------ TCP tests */

static void test_tcp_socket_from_psockd_echoes(void **state) {
  unsigned before = harness_echo_connections(fx.echo);

  assert_as_nobody(0, client_tcp_echo);
  /* The bytes really went through the host's echo server. */
  assert_int_equal(harness_echo_connections(fx.echo), before + 1);
}

static int client_direct_connect_unreachable(void *arg) {
  int err = direct_connect(fx.echo_port);

  if (err != ENETUNREACH)
    fprintf(stderr, "direct connect: %s, expected ENETUNREACH\n",
            err ? strerror(err) : "connected");
  CHECK(err == ENETUNREACH);
  return 0;
}

static void test_empty_netns_direct_connect_refused(void **state) {
  unsigned before = harness_echo_connections(fx.echo);

  assert_as_nobody(HARNESS_EMPTY_NETNS, client_direct_connect_unreachable);
  assert_int_equal(harness_echo_connections(fx.echo), before);
}

static int client_empty_netns_tcp_echo(void *arg) {
  /* This very process cannot reach the server by itself ... */
  CHECK(direct_connect(fx.echo_port) == ENETUNREACH);
  /* ... but a socket from psockd lives in psockd's namespace. */
  return client_tcp_echo(arg);
}

static void test_empty_netns_tcp_socket_from_psockd_echoes(void **state) {
  unsigned before = harness_echo_connections(fx.echo);

  assert_as_nobody(HARNESS_EMPTY_NETNS, client_empty_netns_tcp_echo);
  assert_int_equal(harness_echo_connections(fx.echo), before + 1);
}

/* A port with a bound TCP socket that does not listen refuses connects. */
static int client_connect_refused(void *arg) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  psock_address addr;
  psock_sock *s;
  int closed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  CHECK(closed >= 0);
  CHECK(bind(closed, (struct sockaddr *)&sin, sizeof(sin)) == 0);
  CHECK(getsockname(closed, (struct sockaddr *)&sin, &len) == 0);
  CHECK(psock_addr_inet(&addr, "127.0.0.1", ntohs(sin.sin_port)) == 0);

  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_gettimeout(s) == PSOCK_TIMEOUT_NONE); /* blocking mode */
  errno = 0;
  CHECK(psock_connect(s, &addr) == -1);
  CHECK(is_error(PSOCK_ERR_OS, ECONNREFUSED));
  CHECK(errno == ECONNREFUSED);
  psock_close(s);

  /* connect_ex reports the same refusal as a value. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_connect_ex(s, &addr) == ECONNREFUSED);
  psock_close(s);
  close(closed);
  return 0;
}

static void test_connect_to_closed_port_refused(void **state) {
  assert_as_nobody(0, client_connect_refused);
}

/* ----------------------------------------------------------------- ICMP */

/* The payload of client_icmp_dgram_echo()'s request. */
#define PING_PAYLOAD "psock integration test ping"

static int client_icmp_direct_refused(void *arg) {
  int fd;

  errno = 0;
  fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  CHECK(fd == -1 && errno == EPERM);
  /* ping sockets: off for nobody while ping_group_range is "1 0". */
  errno = 0;
  fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (harness_ping_group_allows(getgid())) {
    fprintf(stderr, "note: ping_group_range admits gid %d here\n",
            (int)getgid());
    CHECK(fd >= 0);
    close(fd);
  } else {
    CHECK(fd == -1 && errno == EACCES);
  }
  return 0;
}

/* A raw ICMP socket from psockd, for root only by default (security
 * review: raw sockets for everyone meant forged packets for everyone). */
static int client_icmp_raw_refused(void *arg) {
  errno = 0;
  CHECK(psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EPERM);
  CHECK(psock_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) == NULL);
  CHECK(psock_last_error_code() == EPERM);
  return 0;
}

static int client_icmp_raw_echo(void *arg) {
  uint16_t id = (uint16_t)(getpid() & 0xffff);
  psock_sock *s = psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

  CHECK(s != NULL);
  CHECK(psock_type(s) == SOCK_RAW && psock_proto(s) == IPPROTO_ICMP);
  for (uint16_t seq = 1; seq <= 2; seq++) {
    int r = harness_ping_loopback(s, id, seq);

    CHECK(r == 0);
  }
  CHECK(psock_close(s) == 0);
  return 0;
}

/* One echo on an ICMP datagram socket: the kernel sets the id and gives
 * back the ICMP message without the IP header. */
static int client_icmp_dgram_echo(void *arg) {
  uint8_t req[sizeof(struct icmphdr) + sizeof(PING_PAYLOAD)], buf[2048];
  struct icmphdr *icmp = (struct icmphdr *)req;
  psock_address to;
  psock_sock *s;
  ssize_t n;

  errno = 0;
  CHECK(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) == -1);
  s = psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK(s != NULL);
  memset(req, 0, sizeof(req));
  icmp->type = ICMP_ECHO;
  icmp->un.echo.sequence = htons(1);
  memcpy(req + sizeof(*icmp), PING_PAYLOAD, sizeof(PING_PAYLOAD));
  CHECK(psock_addr_inet(&to, "127.0.0.1", 0) == 0);
  CHECK(psock_sendto(s, req, sizeof(req), &to) == (ssize_t)sizeof(req));
  CHECK(psock_settimeout(s, 5.0) == 0);
  n = psock_recv(s, buf, sizeof(buf), 0);
  CHECK(n == (ssize_t)sizeof(req));
  CHECK(((struct icmphdr *)buf)->type == ICMP_ECHOREPLY);
  CHECK(memcmp(buf + sizeof(*icmp), PING_PAYLOAD, sizeof(PING_PAYLOAD)) == 0);
  CHECK(psock_close(s) == 0);
  return 0;
}

/* Where the host's ping_group_range leaves nobody out, the error says so. */
static int client_icmp_dgram_range_says_why(void *arg) {
  CHECK(psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) == NULL);
  CHECK(harness_last_error(PSOCK_ERR_OS, EACCES, "ping_group_range"));
  return 0;
}

static void test_icmp_direct_socket_refused(void **state) {
  assert_as_nobody(0, client_icmp_direct_refused);
}

static void test_icmp_raw_socket_refused_root_pings(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_icmp_raw_refused);
  assert_child_passed(
      harness_run_as_root(HARNESS_EMPTY_NETNS, client_icmp_raw_echo, NULL),
      "client_icmp_raw_echo", "root", HARNESS_EMPTY_NETNS);
}

static void test_empty_netns_icmp_direct_socket_refused(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_icmp_direct_refused);
}

/*
 * ICMP echo for everyone goes through ping sockets, which the kernel
 * restricts to echo. This host's range is "1 0" (nobody), so a psockd in
 * a network namespace of its own, set up as Debian with systemd has it,
 * serves the allowed twin.
 */
static void test_empty_netns_icmp_dgram_from_psockd_pings(void **state) {
  struct psockd_proc *own =
      harness_start_psockd_flags(HARNESS_PSOCKD_OWN_NETNS, NULL);

  assert_as_nobody(HARNESS_EMPTY_NETNS, client_icmp_dgram_echo);
  harness_stop_own_psockd(own, fx.psockd);
  if (!harness_ping_group_allows(HARNESS_NOBODY_GID))
    assert_as_nobody(HARNESS_EMPTY_NETNS, client_icmp_dgram_range_says_why);
}

/* ----------------------------------------------------------- socketpair */

static int client_socketpair(void *arg) {
  psock_sock *a = NULL, *b = NULL;
  char buf[16];

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(a && b && psock_fileno(a) != psock_fileno(b));
  CHECK(psock_family(a) == AF_UNIX && psock_family(b) == AF_UNIX);
  CHECK(send_and_receive(a, b, 4096, 3) == 0);
  CHECK(send_and_receive(b, a, 4096, 4) == 0);
  CHECK(psock_close(a) == 0);
  /* The peer sees the close as end of stream. */
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 0);
  CHECK(psock_close(b) == 0);

  /* family 0 means AF_UNIX; datagrams keep their boundaries. */
  CHECK(psock_socketpair(0, SOCK_DGRAM, 0, &a, &b) == 0);
  CHECK(psock_family(a) == AF_UNIX);
  CHECK(psock_send(a, "one", 3, 0) == 3 && psock_send(a, "two", 3, 0) == 3);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "one", 3) == 0);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "two", 3) == 0);
  psock_close(a);
  psock_close(b);
  return 0;
}

static int client_socketpair_inet_refused(void *arg) {
  psock_sock *a = NULL, *b = NULL;

  /* The kernel has no connected pairs of TCP sockets. */
  errno = 0;
  CHECK(psock_socketpair(AF_INET, SOCK_STREAM, 0, &a, &b) == -1);
  CHECK(is_error(PSOCK_ERR_OS, EOPNOTSUPP));
  CHECK(errno == EOPNOTSUPP);
  CHECK(a == NULL && b == NULL);
  return 0;
}

static void test_socketpair_unix_both_ways(void **state) {
  assert_as_nobody(0, client_socketpair);
}

static void test_socketpair_inet_refused(void **state) {
  assert_as_nobody(0, client_socketpair_inet_refused);
}

/* ------------------------------------------- bind, listen, accept (local) */

/* A listening socket from psockd on 127.0.0.1, ephemeral port. */
static psock_sock *listen_loopback(psock_address *ret_name) {
  psock_address any;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  if (!s)
    return NULL;
  if (psock_addr_inet(&any, "127.0.0.1", 0) < 0 || psock_bind(s, &any) < 0 ||
      psock_getsockname(s, ret_name) < 0 || psock_listen(s, 4) < 0) {
    psock_close(s);
    return NULL;
  }
  return s;
}

static int client_bind_listen_accept(void *arg) {
  psock_address name, cname, peer;
  psock_sock *srv, *cli, *conn;

  srv = listen_loopback(&name);
  CHECK(srv != NULL);
  CHECK(name.family == AF_INET && strcmp(name.u.in.host, "127.0.0.1") == 0);
  CHECK(name.u.in.port != 0);

  cli = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(cli != NULL);
  CHECK(psock_connect(cli, &name) == 0);
  conn = psock_accept(srv, &peer);
  CHECK(conn != NULL);
  CHECK(psock_getsockname(cli, &cname) == 0);
  CHECK(peer.family == AF_INET && peer.u.in.port == cname.u.in.port);
  CHECK(strcmp(peer.u.in.host, "127.0.0.1") == 0);
  CHECK(send_and_receive(cli, conn, 8192, 5) == 0);
  CHECK(send_and_receive(conn, cli, 8192, 6) == 0);
  CHECK(psock_close(conn) == 0 && psock_close(cli) == 0);
  CHECK(psock_close(srv) == 0);
  return 0;
}

static int client_bind_port_in_use_refused(void *arg) {
  psock_address name;
  psock_sock *srv, *other;

  srv = listen_loopback(&name);
  CHECK(srv != NULL);
  other = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(other != NULL);
  errno = 0;
  CHECK(psock_bind(other, &name) == -1);
  CHECK(is_error(PSOCK_ERR_OS, EADDRINUSE));
  CHECK(errno == EADDRINUSE);
  psock_close(other);
  psock_close(srv);
  return 0;
}

static void test_bind_listen_accept(void **state) {
  assert_as_nobody(0, client_bind_listen_accept);
}

static void test_bind_port_in_use_refused(void **state) {
  assert_as_nobody(0, client_bind_port_in_use_refused);
}

/* ------------------------------------------------------------ UDP, family */

static int client_udp_datagram(void *arg) {
  psock_address any, name, from;
  psock_sock *rx, *tx;
  char buf[64];

  rx = psock_socket(AF_INET, SOCK_DGRAM, 0);
  tx = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(rx != NULL && tx != NULL);
  CHECK(psock_addr_inet(&any, "127.0.0.1", 0) == 0);
  CHECK(psock_bind(rx, &any) == 0);
  CHECK(psock_getsockname(rx, &name) == 0 && name.u.in.port != 0);
  CHECK(psock_sendto(tx, "datagram", 8, &name) == 8);
  CHECK(psock_settimeout(rx, 5.0) == 0);
  CHECK(psock_recvfrom(rx, buf, sizeof(buf), 0, &from) == 8);
  CHECK(memcmp(buf, "datagram", 8) == 0);
  CHECK(from.family == AF_INET && strcmp(from.u.in.host, "127.0.0.1") == 0);
  psock_close(rx);
  psock_close(tx);
  return 0;
}

/*
 * Whether a family exists is the kernel's answer: psockd asks it for a client
 * its policy lets through (root, under the built-in policy) and passes the
 * error on as it is.
 */
static int client_unsupported_family_fails_like_the_kernel(void *arg) {
  errno = 0;
  CHECK(psock_socket(BOGUS_FAMILY, SOCK_STREAM, 0) == NULL);
  CHECK(is_error(PSOCK_ERR_OS, EAFNOSUPPORT));
  CHECK(errno == EAFNOSUPPORT);

  /* What the kernel says to root directly, psockd says to us. */
  if (!fx.has_tipc) {
    psock_clear_error();
    errno = 0;
    CHECK(psock_socket(AF_TIPC, SOCK_RDM, 0) == NULL);
    CHECK(is_error(PSOCK_ERR_OS, EAFNOSUPPORT));
    CHECK(errno == EAFNOSUPPORT);
  }
  return 0;
}

/*
 * The built-in policy lists the families nobody may have; psockd refuses
 * any other before its kernel is asked (so nobody cannot make psockd load a
 * protocol module: the test reads the refusal in psockd's audit log), and
 * the library answers as this process's own kernel would: EAFNOSUPPORT
 * where it lacks the family, the policy's refusal where it has it.
 */
static int client_unlisted_family_refused_by_policy(void *arg) {
  int fd = socket(AF_TIPC, SOCK_RDM | SOCK_CLOEXEC, 0), native = errno;

  if (fd >= 0)
    close(fd);
  psock_clear_error();
  errno = 0;
  CHECK(psock_socket(AF_TIPC, SOCK_RDM, 0) == NULL);
  if (fd >= 0) {
    CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
    CHECK(psock_last_error_code() == EACCES);
  } else {
    CHECK(is_error(PSOCK_ERR_OS, native));
  }
  CHECK(errno == psock_last_error_code());
  CHECK(psock_last_error_message()[0] != '\0');
  /* A family number no kernel has: the kernel's first check, which psockd
   * makes itself before the policy. */
  psock_clear_error();
  CHECK(psock_socket(BOGUS_FAMILY, SOCK_RDM, 0) == NULL);
  CHECK(is_error(PSOCK_ERR_OS, EAFNOSUPPORT));
  return 0;
}

/*
 * socket(AF_INET, SOCK_PACKET): the kernel makes the obsolete type a
 * packet socket, which needs CAP_NET_RAW. Root gets one from psockd (made
 * by psockd-priv, as the kernel would make it for root: SO_DOMAIN says
 * AF_PACKET); nobody is refused with the kernel's EPERM.
 */
static int client_inet_sock_packet(void *arg) {
  bool root = geteuid() == 0;
  psock_sock *s;
  int v = 0;

  psock_clear_error();
  s = psock_socket(AF_INET, SOCK_PACKET, htons(0x0003 /* ETH_P_ALL */));
  if (!root) {
    CHECK(s == NULL);
    CHECK(psock_last_error_code() == EPERM && errno == EPERM);
    return 0;
  }
  CHECK(s != NULL);
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v) == 0);
  CHECK(v == AF_PACKET);
  psock_close(s);
  return 0;
}

static void test_inet_sock_packet_is_a_packet_socket(void **state) {
  assert_as_root(0, client_inet_sock_packet);
  assert_as_nobody(0, client_inet_sock_packet);
}

static void test_udp_socket_from_psockd(void **state) {
  assert_as_nobody(0, client_udp_datagram);
}

static void test_unsupported_family_fails_like_the_kernel(void **state) {
  assert_as_root(0, client_unsupported_family_fails_like_the_kernel);
}

static void test_unlisted_family_refused_by_policy(void **state) {
  char *log;

  assert_as_nobody(0, client_unlisted_family_refused_by_policy);
  log = harness_psockd_log(fx.psockd);
  if (!strstr(log, "decision=deny uid=65534") ||
      !strstr(log, "call=socket family=30 type=4 proto=0 level=0 optname=0 "
                   "rule=\"no rule matched\"")) {
    harness_print_psockd_log(fx.psockd);
    fail_msg("no audit line for nobody's AF_TIPC socket");
  }
  free(log);
}

/* --------------------------------------------------------- name service */

static int client_getaddrinfo_localhost(void *arg) {
  psock_addrinfo *ai = NULL;
  bool found = false;
  int r = psock_getaddrinfo("localhost", "80", AF_INET, SOCK_STREAM, 0, 0, &ai);

  CHECK(r == 0);
  CHECK(ai != NULL);
  for (psock_addrinfo *i = ai; i; i = i->next) {
    CHECK(i->family == AF_INET && i->address.family == AF_INET);
    CHECK(i->socktype == SOCK_STREAM);
    CHECK(i->address.u.in.port == 80);
    found |= strcmp(i->address.u.in.host, "127.0.0.1") == 0;
  }
  psock_freeaddrinfo(ai);
  CHECK(found);
  return 0;
}

static int client_getaddrinfo_numerichost_refused(void *arg) {
  psock_addrinfo *ai = NULL;

  CHECK(psock_getaddrinfo("not-a-number", "80", AF_INET, SOCK_STREAM, 0,
                          AI_NUMERICHOST, &ai) == -1);
  CHECK(is_error(PSOCK_ERR_GAI, EAI_NONAME));
  CHECK(ai == NULL);
  return 0;
}

static void test_getaddrinfo_localhost(void **state) {
  assert_as_nobody(0, client_getaddrinfo_localhost);
}

static void test_getaddrinfo_numerichost_refused(void **state) {
  assert_as_nobody(0, client_getaddrinfo_numerichost_refused);
}

/* ------------------------------------------------------------ the daemon */

/* A "<N>psockd: ...ready..." line with a syslog priority, naming the socket. */
static bool log_says_ready(const char *log, const char *socket) {
  for (const char *line = log; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);

    if (len > 11 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' &&
        strncmp(line + 2, ">psockd: ", 9) == 0 && memmem(line, len, "ready", 5))
      return strstr(log, socket) != NULL;
    line = end ? end + 1 : NULL;
  }
  return false;
}

static void test_psockd_logs_ready(void **state) {
  const char *socket = harness_psockd_socket(fx.psockd);
  char *log = NULL;
  bool ready = false;

  /* The line may trail the first accepted connection by a moment. */
  for (int i = 0; i < 100 && !ready; i++) {
    free(log);
    log = harness_psockd_log(fx.psockd);
    ready = log_says_ready(log, socket);
    if (!ready)
      usleep(10000);
  }
  free(log);
  if (!ready) {
    harness_print_psockd_log(fx.psockd);
    fail_msg("psockd's log has no \"<N>psockd: ... ready\" line naming %s",
             socket);
  }
}

/* psockd's fds once it has closed every client connection. */
/* With every client gone and every worker retired, psockd holds what it
 * held before its first client. */
static void test_psockd_leaks_no_fds(void **state) {
  int now = harness_psockd_idle_fds(fx.psockd);

  if (now != fx.fds_idle)
    harness_print_psockd_log(fx.psockd);
  assert_int_equal(now, fx.fds_idle);
}

static int client_warm_up(void *arg) {
  psock_addrinfo *ai = NULL;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  psock_close(s);
  CHECK(psock_getaddrinfo("localhost", NULL, AF_INET, 0, 0, 0, &ai) == 0);
  psock_freeaddrinfo(ai);
  return 0;
}

static int setup(void **state) {
  int fd = socket(AF_TIPC, SOCK_RDM | SOCK_CLOEXEC, 0);

  fx.has_tipc = fd >= 0;
  if (fd >= 0)
    close(fd);
  fx.echo = harness_start_echo(&fx.echo_port);
  fx.psockd = harness_start_psockd(NULL);
  /* Let psockd open whatever it opens on first use, then count once its
   * worker has retired. */
  assert_as_nobody(0, client_warm_up);
  fx.fds_idle = harness_psockd_idle_fds(fx.psockd);
  assert_true(fx.fds_idle > 0);
  return 0;
}

static int teardown(void **state) {
  harness_stop_echo(fx.echo);
  harness_stop_psockd(fx.psockd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psockd_logs_ready),
      cmocka_unit_test(test_tcp_socket_from_psockd_echoes),
      cmocka_unit_test(test_empty_netns_direct_connect_refused),
      cmocka_unit_test(test_empty_netns_tcp_socket_from_psockd_echoes),
      cmocka_unit_test(test_connect_to_closed_port_refused),
      cmocka_unit_test(test_icmp_direct_socket_refused),
      cmocka_unit_test(test_icmp_raw_socket_refused_root_pings),
      cmocka_unit_test(test_empty_netns_icmp_direct_socket_refused),
      cmocka_unit_test(test_empty_netns_icmp_dgram_from_psockd_pings),
      cmocka_unit_test(test_socketpair_unix_both_ways),
      cmocka_unit_test(test_socketpair_inet_refused),
      cmocka_unit_test(test_bind_listen_accept),
      cmocka_unit_test(test_bind_port_in_use_refused),
      cmocka_unit_test(test_udp_socket_from_psockd),
      cmocka_unit_test(test_unsupported_family_fails_like_the_kernel),
      cmocka_unit_test(test_unlisted_family_refused_by_policy),
      cmocka_unit_test(test_inet_sock_packet_is_a_packet_socket),
      cmocka_unit_test(test_getaddrinfo_localhost),
      cmocka_unit_test(test_getaddrinfo_numerichost_refused),
      /* Last: after every other client has come and gone. */
      cmocka_unit_test(test_psockd_leaks_no_fds),
  };

  return cmocka_run_group_tests_name("foundation", tests, setup, teardown);
}
