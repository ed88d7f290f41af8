/* SPDX-License-Identifier: MIT */
/*
 * Policy, end to end: a real psockd judges requests from clients running
 * as nobody (and, for contrast, as nobody with a supplementary group and as
 * root) against a policy file this test writes. Every rule kind has an
 * allowed case next to its refused twin. A refusal must reach the client
 * as PSOCK_ERR_POLICY with EACCES (or the rule's errno=EPERM) and the
 * message "denied by policy (FILE:LINE)" naming the deciding rule, and
 * psockd's log must hold the audit line for it (uid, the client's pid, the
 * call, its arguments, the rule). psockd runs with --audit-allow, so each
 * allowed case is found in the log with its deciding rule too.
 *
 * The second group runs psockd with the built-in default policy: what an
 * unprivileged user of the host may open (TCP, UDP, UDP-Lite, SCTP, MPTCP,
 * ICMP datagram sockets, NETLINK_ROUTE and NETLINK_SOCK_DIAG) is allowed;
 * raw and packet sockets are refused with the kernel's EPERM, unix sockets
 * and abstract unix names with EACCES; root may do all of it.
 *
 * Client functions (client_*) run in a forked child: CHECK(), never
 * cmocka's assert_*.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "config.h"
#include "harness.h"
#include "identity.h"
#include "policy_util.h"

/* The rules of rules.conf, in file order; fx.line[] has their lines. */
enum rule {
  /* socket: family, type, proto */
  R_SOCK_TCP,
  R_SOCK_UDP,
  R_SOCK_TCP6,
  R_SOCK_RAW_TCP_DENY,
  R_SOCK_RAW_ICMP,
  R_SOCK_PACKET_DENY,
  R_SOCK_NETLINK_DGRAM_DENY,
  /* who: each rule admits UDP connects to 127.0.0.1 on a port of its own */
  R_WHO_ANYONE,
  R_WHO_ANYONE_DENY,
  R_WHO_UID,
  R_WHO_UID_OTHER,
  R_WHO_USER,
  R_WHO_USER_OTHER,
  R_WHO_GID,
  R_WHO_GID_OTHER,
  R_WHO_GROUP,
  R_WHO_GROUP_OTHER,
  R_WHO_SUPP_GID,
  R_WHO_SUPP_GROUP,
  R_WHO_UNIT_OTHER,
  R_WHO_UNIT_MINE, /* a comment when this test runs in no unit */
  R_WHO_USER_DENY,
  R_WHO_ROOT,
  R_WHO_END, /* refuses the rest of the who ports */
  /* bind, sendto, connect, listen */
  R_BIND,
  R_BIND_PRIV_DENY,
  R_SENDTO,
  R_SENDTO_DENY,
  R_CONNECT_ECHO,
  R_CONNECT_RANGE,
  R_CONNECT_LOOPBACK_DENY,
  R_CONNECT_ANY,
  R_LISTEN,
  R_LISTEN6_DENY,
  /* names */
  R_LOOKUP_SUPP_DENY,
  R_LOOKUP,
  R_REVERSE_NOBODY_DENY,
  R_REVERSE,
  /* options */
  R_OPTION_MARK,
  R_CATCH_ALL,
  R_N
};

/* Ports of the who rules and of the connect range: below the ephemeral
 * range, so that the echo server's port is never one of them. */
#define WHO_PORT_BASE 20000
#define RANGE_LO 21000
#define RANGE_HI 21099
#define OTHER_ID 4242 /* a uid and gid that nobody and root do not have */
#define STR_(x) #x
#define STR(x) STR_(x)

static struct {
  char dir[POL_PATH_MAX];
  char path[POL_FILE_MAX]; /* DIR/rules.conf */
  unsigned line[R_N];
  struct psockd_proc *psockd;
  struct harness_echo *echo;
  uint16_t echo_port;
  uint16_t priv_port, priv_other;               /* below 1024 */
  uint16_t bind_lo, bind_hi, bind_ok, bind_out; /* the bind port range */
  gid_t supp_gid;
  char supp_name[64];
  char unit[IDENTITY_UNIT_MAX]; /* this process's unit, "" if none */
  bool has_ipv6;
  bool default_skipped; /* /etc/psockd/policy.conf exists */
} fx;

static const char *rule(enum rule r) {
  return pol_rule(fx.path, fx.line[r]);
}

static uint16_t who_port(enum rule r) {
  return (uint16_t)(WHO_PORT_BASE + r);
}

static void assert_child_passed(int r, const char *fn, const char *who) {
  if (r != 0)
    fail_msg("%s as %s failed (%d; see stderr)", fn, who, r);
}

#define as_nobody(fn, arg)                                                     \
  assert_child_passed(harness_run_as_nobody(0, (fn), (arg)), #fn, "nobody")
#define as_root(fn, arg)                                                       \
  assert_child_passed(harness_run_as_root(0, (fn), (arg)), #fn, "root")
#define as_nobody_with_group(fn, arg)                                          \
  assert_child_passed(harness_run_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID,   \
                                     &fx.supp_gid, 1, 0, (fn), (arg)),         \
                      #fn, "nobody with a supplementary group")

/* ------------------------------------------------------ client helpers */

/*
 * Outcome of the last call, r (its return value, errno still its own):
 * err 0 = allowed by rule by, else refused with err by rule by. Records
 * the decision for pol_assert_audited().
 */
static int expect(int r, int err, enum rule by, const char *call,
                  const char *args) {
  if (err == 0) {
    if (r < 0) {
      fprintf(stderr, "%s %s: failed, expected it allowed by %s: %s\n", call,
              args, rule(by), psock_last_error_message());
      return -1;
    }
    return pol_allowed(rule(by), call, args);
  }
  if (r >= 0) {
    fprintf(stderr, "%s %s: allowed, expected a refusal by %s\n", call, args,
            rule(by));
    return -1;
  }
  return pol_denied(err, rule(by), call, args);
}

static int expect_default(int r, int err, const char *call, const char *args) {
  if (r >= 0) {
    fprintf(stderr, "%s %s: allowed by the default policy\n", call, args);
    return -1;
  }
  return pol_denied(err, "no rule matched", call, args);
}

/* psock_socket(); 0 (closed again) or -1 with the error. */
static int try_socket(int family, int type, int proto) {
  psock_sock *s = psock_socket(family, type, proto);
  int saved = errno;

  if (!s)
    return -1;
  psock_close(s);
  errno = saved;
  return 0;
}

static const char *socket_args(int family, int type, int proto) {
  static char buf[64];

  snprintf(buf, sizeof(buf), "family=%d type=%d proto=%d", family,
           type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), proto);
  return buf;
}

static const char *inet_args(const char *host, uint16_t port) {
  static char buf[64];

  snprintf(buf, sizeof(buf), "addr=inet:%s:%u", host, port);
  return buf;
}

/* A UDP socket from psockd connected to host:port: 0 or -1. */
static int udp_connect(const char *host, uint16_t port) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  int r, saved;

  if (!s) {
    harness_check_failed(__FILE__, __LINE__, "UDP socket from psockd");
    return -2;
  }
  r = psock_addr_inet(&a, host, port) == 0 ? psock_connect(s, &a) : -2;
  saved = errno;
  psock_close(s);
  errno = saved;
  return r;
}

/* A TCP socket from psockd bound to host:port: 0 (bound there) or -1. */
static int tcp_bind(const char *host, uint16_t port) {
  psock_address a, name;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  int r, saved;

  if (!s)
    return -2;
  r = psock_addr_inet(&a, host, port) == 0 ? psock_bind(s, &a) : -2;
  saved = errno;
  if (r == 0 && (psock_getsockname(s, &name) < 0 || name.u.in.port != port))
    r = -2;
  psock_close(s);
  errno = saved;
  return r;
}

/* A TCP connection to host:port that echoes a few bytes: 0 or -1. */
static int tcp_echo(const char *host, uint16_t port) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  char buf[8] = "";
  int r, saved;

  if (!s)
    return -2;
  r = psock_addr_inet(&a, host, port) == 0 ? psock_connect(s, &a) : -2;
  saved = errno;
  if (r == 0 && (psock_sendall(s, "policy", 6, 0) < 0 ||
                 psock_recv(s, buf, 6, MSG_WAITALL) != 6 ||
                 memcmp(buf, "policy", 6) != 0))
    r = -2;
  psock_close(s);
  errno = saved;
  return r;
}

/* ----------------------------------------------------------- sockets */

/*
 * A socket the policy refuses whose arguments the kernel would refuse
 * first (inet seqpacket without SCTP): the library answers with this
 * process's own kernel's errno, as natively; where the kernel would make
 * it, the policy's refusal (the last rule) stands.
 */
static int refused_as_natively(int family, int type, int proto) {
  int fd = socket(family, type | SOCK_CLOEXEC, proto), native = errno;

  if (fd >= 0) {
    close(fd);
    return expect(try_socket(family, type, proto), EACCES, R_CATCH_ALL,
                  "socket", socket_args(family, type, proto));
  }
  CHECK(try_socket(family, type, proto) < 0);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(psock_last_error_code() == native && errno == native);
  return 0;
}

static int client_socket_kinds(void *arg) {
  static const struct {
    int family, type, proto, err;
    enum rule by;
  } cases[] = {
      /* family: inet allowed, packet refused */
      {AF_INET, SOCK_STREAM, 0, 0, R_SOCK_TCP},
      /* (a deny rule without errno= answers the kernel's EPERM) */
      {AF_PACKET, SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */, EPERM,
       R_SOCK_PACKET_DENY},
      /* type: inet dgram allowed, netlink dgram refused (errno=EPERM);
       * the kernel would make it, so the policy's answer stands */
      {AF_INET, SOCK_DGRAM, 0, 0, R_SOCK_UDP},
      {AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE, EPERM, R_SOCK_NETLINK_DGRAM_DENY},
      /* proto: raw icmp allowed, raw tcp refused (errno=EPERM) */
      {AF_INET, SOCK_RAW, IPPROTO_ICMP, 0, R_SOCK_RAW_ICMP},
      {AF_INET, SOCK_RAW, IPPROTO_TCP, EPERM, R_SOCK_RAW_TCP_DENY},
      /* proto by number and by name are the same */
      {AF_INET, SOCK_STREAM, IPPROTO_TCP, 0, R_SOCK_TCP},
      /* the flags are not part of the type */
      {AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0, R_SOCK_TCP},
      {AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0x0300, EPERM, R_SOCK_PACKET_DENY},
      /* no rule allows inet6 datagrams: the last rule refuses them */
      {AF_INET6, SOCK_DGRAM, 0, EACCES, R_CATCH_ALL},
  };

  CHECK(htons(ETH_P_ALL) == 0x0300);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int r = try_socket(cases[i].family, cases[i].type, cases[i].proto);

    CHECK(expect(r, cases[i].err, cases[i].by, "socket",
                 socket_args(cases[i].family, cases[i].type, cases[i].proto)) ==
          0);
  }
  if (fx.has_ipv6)
    CHECK(expect(try_socket(AF_INET6, SOCK_STREAM, 0), 0, R_SOCK_TCP6, "socket",
                 socket_args(AF_INET6, SOCK_STREAM, 0)) == 0);
  CHECK(refused_as_natively(AF_INET, SOCK_SEQPACKET, 0) == 0);
  return 0;
}

static void test_socket_family_type_proto(void **state) {
  as_nobody(client_socket_kinds, NULL);
  pol_assert_audited(fx.psockd);
}

/* --------------------------------------------------------------- who */

/* One UDP connect to who_port(port): allowed (err 0) or refused, by by. */
struct who_case {
  enum rule port;
  int err;
  enum rule by;
};

struct who_cases {
  size_t n;
  struct who_case c[4];
};

static int client_who(void *arg) {
  const struct who_cases *w = arg;

  for (size_t i = 0; i < w->n; i++) {
    uint16_t port = who_port(w->c[i].port);
    int r = udp_connect("127.0.0.1", port);

    CHECK(r != -2);
    CHECK(expect(r, w->c[i].err, w->c[i].by, "connect",
                 inet_args("127.0.0.1", port)) == 0);
  }
  return 0;
}

static void test_who_anyone(void **state) {
  struct who_cases w = {2,
                        {{R_WHO_ANYONE, 0, R_WHO_ANYONE},
                         {R_WHO_ANYONE_DENY, EPERM, R_WHO_ANYONE_DENY}}};

  as_nobody(client_who, &w);
  as_root(client_who, &w);
  pol_assert_audited(fx.psockd);
}

static void test_who_uid(void **state) {
  struct who_cases nobody = {
      2, {{R_WHO_UID, 0, R_WHO_UID}, {R_WHO_UID_OTHER, EACCES, R_WHO_END}}};
  struct who_cases root = {1, {{R_WHO_UID, EACCES, R_WHO_END}}};

  as_nobody(client_who, &nobody);
  as_root(client_who, &root);
  pol_assert_audited(fx.psockd);
}

static void test_who_user(void **state) {
  struct who_cases nobody = {3,
                             {{R_WHO_USER, 0, R_WHO_USER},
                              {R_WHO_USER_OTHER, EACCES, R_WHO_END},
                              {R_WHO_USER_DENY, EPERM, R_WHO_USER_DENY}}};
  /* The deny rule names nobody only: root goes on to the next rule. */
  struct who_cases root = {2,
                           {{R_WHO_USER_OTHER, 0, R_WHO_USER_OTHER},
                            {R_WHO_USER_DENY, 0, R_WHO_ROOT}}};

  as_nobody(client_who, &nobody);
  as_root(client_who, &root);
  pol_assert_audited(fx.psockd);
}

static void test_who_gid(void **state) {
  struct who_cases w = {
      2, {{R_WHO_GID, 0, R_WHO_GID}, {R_WHO_GID_OTHER, EACCES, R_WHO_END}}};

  as_nobody(client_who, &w);
  pol_assert_audited(fx.psockd);
}

static void test_who_group(void **state) {
  struct who_cases w = {
      2,
      {{R_WHO_GROUP, 0, R_WHO_GROUP}, {R_WHO_GROUP_OTHER, EACCES, R_WHO_END}}};

  as_nobody(client_who, &w);
  pol_assert_audited(fx.psockd);
}

/* gid= and group= also match a supplementary group (SO_PEERGROUPS). */
static void test_who_supplementary_group(void **state) {
  struct who_cases with = {3,
                           {{R_WHO_SUPP_GID, 0, R_WHO_SUPP_GID},
                            {R_WHO_SUPP_GROUP, 0, R_WHO_SUPP_GROUP},
                            {R_WHO_GID, 0, R_WHO_GID}}};
  struct who_cases without = {2,
                              {{R_WHO_SUPP_GID, EACCES, R_WHO_END},
                               {R_WHO_SUPP_GROUP, EACCES, R_WHO_END}}};

  as_nobody_with_group(client_who, &with);
  as_nobody(client_who, &without);
  pol_assert_audited(fx.psockd);
}

/*
 * unit=: a client can only be put into a unit of its own by systemd (as PID
 * 1), which this test cannot count on. What it can check: a client in a
 * cgroup that is no unit (or in another unit) never matches an allow rule
 * with unit=, and falls through to the next rule. When this test does run
 * inside a unit (a CI job under systemd), a rule naming that unit lets the
 * client through. How cgroup paths become units is unit-tested
 * (tests/unit/test_identity.c).
 */
static void test_who_unit(void **state) {
  struct who_cases w = {1, {{R_WHO_UNIT_OTHER, EACCES, R_WHO_END}}};

  if (fx.unit[0])
    w.c[w.n++] = (struct who_case){R_WHO_UNIT_MINE, 0, R_WHO_UNIT_MINE};
  else
    fprintf(stderr, "note: this test runs in no systemd unit; only the "
                    "refusal of unit= rules is checked\n");
  as_nobody(client_who, &w);
  pol_assert_audited(fx.psockd);
}

/* -------------------------------------------------------------- bind */

/* The kernel's own answer for an unprivileged bind of a low port. */
static bool unprivileged_may_bind(uint16_t port) {
  FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
  int start = 1024;

  if (f) {
    if (fscanf(f, "%d", &start) != 1)
      start = 1024;
    fclose(f);
  }
  return port >= start;
}

static int client_bind(void *arg) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons(fx.priv_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  /* By itself nobody cannot bind the privileged port ... */
  CHECK(fd >= 0);
  if (!unprivileged_may_bind(fx.priv_port)) {
    errno = 0;
    CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1);
    CHECK(errno == EACCES);
  }
  close(fd);
  /* ... a rule lets psockd do it for nobody; the rest of 1-1023 not. */
  CHECK(expect(tcp_bind("127.0.0.1", fx.priv_port), 0, R_BIND, "bind",
               inet_args("127.0.0.1", fx.priv_port)) == 0);
  CHECK(expect(tcp_bind("127.0.0.1", fx.priv_other), EPERM, R_BIND_PRIV_DENY,
               "bind", inet_args("127.0.0.1", fx.priv_other)) == 0);
  /* A port range: inside allowed, just outside refused. */
  CHECK(expect(tcp_bind("127.0.0.1", fx.bind_ok), 0, R_BIND, "bind",
               inet_args("127.0.0.1", fx.bind_ok)) == 0);
  CHECK(expect(tcp_bind("127.0.0.1", fx.bind_out), EACCES, R_CATCH_ALL, "bind",
               inet_args("127.0.0.1", fx.bind_out)) == 0);
  /* The address: 127.0.0.2 is not 127.0.0.1. */
  CHECK(expect(tcp_bind("127.0.0.2", fx.bind_ok), EACCES, R_CATCH_ALL, "bind",
               inet_args("127.0.0.2", fx.bind_ok)) == 0);
  return 0;
}

static void test_bind_addr_and_port_ranges(void **state) {
  as_nobody(client_bind, NULL);
  pol_assert_audited(fx.psockd);
}

/* ----------------------------------------------------------- connect */

static int client_connect(void *arg) {
  uint16_t echo = fx.echo_port;

  /* 127.0.0.1/32 port=ECHO: the bytes really go through. */
  CHECK(expect(tcp_echo("127.0.0.1", echo), 0, R_CONNECT_ECHO, "connect",
               inet_args("127.0.0.1", echo)) == 0);
  /* Another port, or another address: the 127.0.0.0/8 deny rule. */
  CHECK(expect(tcp_echo("127.0.0.1", echo + 1), EPERM, R_CONNECT_LOOPBACK_DENY,
               "connect", inet_args("127.0.0.1", echo + 1)) == 0);
  CHECK(expect(tcp_echo("127.0.0.2", echo), EPERM, R_CONNECT_LOOPBACK_DENY,
               "connect", inet_args("127.0.0.2", echo)) == 0);
  /* A port range. */
  CHECK(expect(udp_connect("127.0.0.1", RANGE_LO + 50), 0, R_CONNECT_RANGE,
               "connect", inet_args("127.0.0.1", RANGE_LO + 50)) == 0);
  CHECK(expect(udp_connect("127.0.0.1", RANGE_HI), 0, R_CONNECT_RANGE,
               "connect", inet_args("127.0.0.1", RANGE_HI)) == 0);
  CHECK(expect(udp_connect("127.0.0.1", RANGE_HI + 1), EPERM,
               R_CONNECT_LOOPBACK_DENY, "connect",
               inet_args("127.0.0.1", RANGE_HI + 1)) == 0);
  return 0;
}

static void test_connect_cidr_and_ports(void **state) {
  unsigned before = harness_echo_connections(fx.echo);

  as_nobody(client_connect, NULL);
  /* Only the allowed connect reached the server. */
  assert_int_equal(harness_echo_connections(fx.echo), before + 1);
  pol_assert_audited(fx.psockd);
}

/*
 * A host name is judged by the address psockd resolves it to: "localhost"
 * is 127.0.0.1, so the 127.0.0.0/8 deny rule refuses it even though the
 * rule after it allows any address.
 */
static int client_connect_by_name(void *arg) {
  uint16_t echo = fx.echo_port;

  CHECK(expect(tcp_echo("localhost", echo), 0, R_CONNECT_ECHO, "connect",
               inet_args("127.0.0.1", echo)) == 0);
  CHECK(expect(tcp_echo("localhost", echo + 1), EPERM, R_CONNECT_LOOPBACK_DENY,
               "connect", inet_args("127.0.0.1", echo + 1)) == 0);
  return 0;
}

static void test_connect_host_name_judged_after_lookup(void **state) {
  as_nobody(client_connect_by_name, NULL);
  pol_assert_audited(fx.psockd);
}

/* ------------------------------------------------------------ sendto */

/* Through psockd (PSOCK_ROUTE=daemon), to a UDP socket of our own. */
static int client_sendto(void *arg) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  struct pollfd p = {.events = POLLIN};
  psock_address to;
  psock_sock *s;
  char buf[16];
  uint16_t port;
  ssize_t n;

  CHECK(setenv("PSOCK_ROUTE", "daemon", 1) == 0);
  p.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(p.fd >= 0);
  CHECK(bind(p.fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
  CHECK(getsockname(p.fd, (struct sockaddr *)&sin, &len) == 0);
  port = ntohs(sin.sin_port);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);

  CHECK(psock_addr_inet(&to, "127.0.0.1", port) == 0);
  n = psock_sendto(s, "datagram", 8, &to);
  CHECK(expect(n == 8 ? 0 : -1, 0, R_SENDTO, "sendto",
               inet_args("127.0.0.1", port)) == 0);
  CHECK(poll(&p, 1, 5000) == 1);
  CHECK(recv(p.fd, buf, sizeof(buf), 0) == 8 &&
        memcmp(buf, "datagram", 8) == 0);

  CHECK(psock_addr_inet(&to, "127.0.0.2", port) == 0);
  n = psock_sendto(s, "datagram", 8, &to);
  CHECK(expect((int)n, EPERM, R_SENDTO_DENY, "sendto",
               inet_args("127.0.0.2", port)) == 0);
  /* Port 9 is below the allowed range. */
  CHECK(psock_addr_inet(&to, "127.0.0.1", 9) == 0);
  n = psock_sendto(s, "datagram", 8, &to);
  CHECK(expect((int)n, EACCES, R_CATCH_ALL, "sendto",
               inet_args("127.0.0.1", 9)) == 0);
  /* Nothing else arrived. */
  CHECK(poll(&p, 1, 50) == 0);
  psock_close(s);
  close(p.fd);
  return 0;
}

static void test_sendto_destination(void **state) {
  as_nobody(client_sendto, NULL);
  pol_assert_audited(fx.psockd);
}

/* ------------------------------------------------------------ listen */

static int client_listen(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  int r;

  CHECK(s != NULL);
  CHECK(expect(psock_listen(s, 4), 0, R_LISTEN, "listen", "family=2 ") == 0);
  psock_close(s);
  if (!fx.has_ipv6)
    return 0;
  s = psock_socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(s != NULL);
  r = psock_listen(s, 4);
  CHECK(expect(r, EPERM, R_LISTEN6_DENY, "listen", "family=10 ") == 0);
  psock_close(s);
  return 0;
}

static void test_listen_by_family(void **state) {
  as_nobody(client_listen, NULL);
  pol_assert_audited(fx.psockd);
}

/* ------------------------------------------------------------- names */

static int getaddrinfo_localhost(void) {
  psock_addrinfo *ai = NULL;
  int r = psock_getaddrinfo("localhost", "80", AF_INET, SOCK_STREAM, 0, 0, &ai);
  int saved = errno;

  if (r == 0 && (!ai || strcmp(ai->address.u.in.host, "127.0.0.1") != 0))
    r = -2;
  psock_freeaddrinfo(ai);
  errno = saved;
  return r;
}

static int getnameinfo_loopback(void) {
  psock_address a;
  char host[256], serv[32];
  int r;

  if (psock_addr_inet(&a, "127.0.0.1", 80) < 0)
    return -2;
  r = psock_getnameinfo(&a, NI_NUMERICSERV, host, sizeof(host), serv,
                        sizeof(serv));
  if (r == 0 && strcmp(serv, "80") != 0)
    return -2;
  return r;
}

static int gethostbyaddr_loopback(void) {
  psock_hostent *h = NULL;
  int r = psock_gethostbyaddr("127.0.0.1", &h);
  int saved = errno;

  if (r == 0 && (!h || !h->name || !*h->name))
    r = -2;
  psock_hostent_free(h);
  errno = saved;
  return r;
}

/* nobody: lookups yes, reverse lookups refused by a user= deny rule. */
static int client_names_nobody(void *arg) {
  CHECK(expect(getaddrinfo_localhost(), 0, R_LOOKUP, "lookup", "") == 0);
  CHECK(expect(getnameinfo_loopback(), EPERM, R_REVERSE_NOBODY_DENY, "reverse",
               "") == 0);
  CHECK(expect(gethostbyaddr_loopback(), EPERM, R_REVERSE_NOBODY_DENY,
               "reverse", "") == 0);
  return 0;
}

/* nobody with the supplementary group: a gid= deny rule refuses lookups. */
static int client_names_group(void *arg) {
  char buf[64];

  CHECK(expect(getaddrinfo_localhost(), EACCES, R_LOOKUP_SUPP_DENY, "lookup",
               "") == 0);
  CHECK(expect(psock_gethostbyname("localhost", buf, sizeof(buf)), EACCES,
               R_LOOKUP_SUPP_DENY, "lookup", "") == 0);
  return 0;
}

/* root: reverse lookups pass the user=nobody deny rule. */
static int client_names_root(void *arg) {
  CHECK(expect(getnameinfo_loopback(), 0, R_REVERSE, "reverse", "") == 0);
  CHECK(expect(gethostbyaddr_loopback(), 0, R_REVERSE, "reverse", "") == 0);
  return 0;
}

static void test_lookup_and_reverse(void **state) {
  as_nobody(client_names_nobody, NULL);
  as_nobody_with_group(client_names_group, NULL);
  as_root(client_names_root, NULL);
  pol_assert_audited(fx.psockd);
}

/* ----------------------------------------------------------- options */

static int client_options(void *arg) {
  char args[64];
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  int v = 0;

  CHECK(s != NULL);
  snprintf(args, sizeof(args), "level=%d optname=%d", SOL_SOCKET, SO_MARK);
  CHECK(expect(psock_setsockopt(s, SOL_SOCKET, SO_MARK, 42), 0, R_OPTION_MARK,
               "setsockopt", args) == 0);
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_MARK, &v) == 0 && v == 42);
  /* SO_PRIORITY above 6 needs CAP_NET_ADMIN: no rule allows it, and the
   * catch-all deny rule answers what the kernel would, EPERM. */
  snprintf(args, sizeof(args), "level=%d optname=%d", SOL_SOCKET, SO_PRIORITY);
  CHECK(expect(psock_setsockopt(s, SOL_SOCKET, SO_PRIORITY, 7), EPERM,
               R_CATCH_ALL, "setsockopt", args) == 0);
  /* Up to 6 it needs nothing, and no decision either. */
  CHECK(psock_setsockopt(s, SOL_SOCKET, SO_PRIORITY, 3) == 0);
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_PRIORITY, &v) == 0 && v == 3);
  psock_close(s);
  return 0;
}

static void test_privileged_option(void **state) {
  as_nobody(client_options, NULL);
  pol_assert_audited(fx.psockd);
}

/* ----------------------------------------------------- the rules file */

/* A free TCP port on 127.0.0.1, as the kernel picks one; 0 if none. */
static uint16_t free_port(uint16_t want) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons(want),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  uint16_t port = 0;

  assert_true(fd >= 0);
  if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
    port = ntohs(sin.sin_port);
  close(fd);
  return port;
}

static void choose_ports(void) {
  /* Port 80 if nothing holds it, else the first free privileged port. */
  for (uint16_t p = 80; p < 1024 && !fx.priv_port; p++)
    fx.priv_port = free_port(p);
  assert_true(fx.priv_port != 0);
  fx.priv_other = fx.priv_port == 81 ? 82 : 81;
  fx.bind_ok = free_port(0);
  assert_true(fx.bind_ok > 1100);
  fx.bind_lo = (uint16_t)(fx.bind_ok - 50);
  fx.bind_hi = fx.bind_ok > 65485 ? 65535 : (uint16_t)(fx.bind_ok + 50);
  fx.bind_out = fx.bind_hi < 65535 ? (uint16_t)(fx.bind_hi + 1)
                                   : (uint16_t)(fx.bind_lo - 1);
  if ((fx.echo_port >= WHO_PORT_BASE && fx.echo_port <= RANGE_HI + 1) ||
      (fx.echo_port + 1 >= WHO_PORT_BASE && fx.echo_port + 1 <= RANGE_HI + 1))
    fail_msg("the echo server's port %u is in this test's fixed ranges",
             fx.echo_port);
}

/* The systemd unit this process (and so its children) runs in, if a
 * policy file can name it as it is. */
static void find_unit(void) {
  char *text = pol_read_file("/proc/self/cgroup");

  if (!text || identity_unit_from_cgroup(text, fx.unit, sizeof(fx.unit)) < 0)
    fx.unit[0] = '\0';
  free(text);
  if (strspn(fx.unit, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789:-_.@/") != strlen(fx.unit))
    fx.unit[0] = '\0';
}

#define L(r, ...) fx.line[r] = pol_add(&t, __VA_ARGS__)
#define WHO_RULE(r, action, who, tail)                                         \
  L(r, "%s %s connect family=inet addr=127.0.0.1 port=%u%s", action, who,      \
    who_port(r), tail)

static void write_rules(void) {
  static struct pol_text t;
  const char *user = pol_nobody_user(), *group = pol_nobody_group();

  pol_add(&t, "# test_policy.c: one rule per case, tried in file order");
  pol_add(&t, "%s", "");
  pol_add(&t, "# socket: family, type, proto");
  L(R_SOCK_TCP, "allow anyone socket family=inet type=stream proto=0,tcp");
  L(R_SOCK_UDP, "allow anyone socket family=inet type=dgram proto=0,udp");
  L(R_SOCK_TCP6, "allow anyone socket family=inet6 type=stream proto=0,tcp");
  L(R_SOCK_RAW_TCP_DENY,
    "deny anyone socket family=inet type=raw proto=tcp errno=EPERM");
  L(R_SOCK_RAW_ICMP, "allow anyone socket family=inet type=raw proto=icmp");
  L(R_SOCK_PACKET_DENY, "deny anyone socket family=packet");
  L(R_SOCK_NETLINK_DGRAM_DENY,
    "deny anyone socket family=netlink type=dgram errno=EPERM");
  pol_add(&t, "%s", "");
  pol_add(&t, "# who: UDP connects to 127.0.0.1, one port per rule");
  WHO_RULE(R_WHO_ANYONE, "allow", "anyone", "");
  WHO_RULE(R_WHO_ANYONE_DENY, "deny", "anyone", " errno=EPERM");
  WHO_RULE(R_WHO_UID, "allow", "uid=65534", "");
  WHO_RULE(R_WHO_UID_OTHER, "allow", "uid=" STR(OTHER_ID), "");
  L(R_WHO_USER, "allow user=%s connect family=inet addr=127.0.0.1 port=%u",
    user, who_port(R_WHO_USER));
  WHO_RULE(R_WHO_USER_OTHER, "allow", "user=root", "");
  WHO_RULE(R_WHO_GID, "allow", "gid=65534", "");
  WHO_RULE(R_WHO_GID_OTHER, "allow", "gid=" STR(OTHER_ID), "");
  L(R_WHO_GROUP, "allow group=%s connect family=inet addr=127.0.0.1 port=%u",
    group, who_port(R_WHO_GROUP));
  WHO_RULE(R_WHO_GROUP_OTHER, "allow", "group=root", "");
  L(R_WHO_SUPP_GID, "allow gid=%u connect family=inet addr=127.0.0.1 port=%u",
    (unsigned)fx.supp_gid, who_port(R_WHO_SUPP_GID));
  L(R_WHO_SUPP_GROUP,
    "allow group=%s connect family=inet addr=127.0.0.1 port=%u", fx.supp_name,
    who_port(R_WHO_SUPP_GROUP));
  WHO_RULE(R_WHO_UNIT_OTHER, "allow", "unit=psock-test-no-such-unit.service",
           "");
  if (fx.unit[0])
    L(R_WHO_UNIT_MINE,
      "allow unit=%s connect family=inet addr=127.0.0.1 port=%u", fx.unit,
      who_port(R_WHO_UNIT_MINE));
  else
    L(R_WHO_UNIT_MINE, "# (this test runs in no systemd unit)");
  L(R_WHO_USER_DENY,
    "deny user=%s connect family=inet addr=127.0.0.1 port=%u errno=EPERM", user,
    who_port(R_WHO_USER_DENY));
  L(R_WHO_ROOT, "allow uid=0 connect family=inet addr=127.0.0.1 port=%u",
    who_port(R_WHO_USER_DENY));
  L(R_WHO_END, "deny anyone connect family=inet addr=127.0.0.1 port=%u-%u",
    WHO_PORT_BASE, WHO_PORT_BASE + 99);
  pol_add(&t, "%s", "");
  pol_add(&t, "# bind: a privileged port for nobody, and a range");
  L(R_BIND, "allow user=%s bind family=inet addr=127.0.0.1 port=%u,%u-%u", user,
    fx.priv_port, fx.bind_lo, fx.bind_hi);
  L(R_BIND_PRIV_DENY,
    "deny anyone bind family=inet addr=127.0.0.0/8 port=1-1023 errno=EPERM");
  pol_add(&t, "# sendto");
  L(R_SENDTO,
    "allow anyone sendto family=inet addr=127.0.0.1/32 port=1024-65535");
  L(R_SENDTO_DENY, "deny anyone sendto family=inet addr=127.0.0.2 "
                   "errno=EPERM");
  pol_add(&t, "# connect: the echo server, a port range, no other loopback");
  L(R_CONNECT_ECHO,
    "allow anyone connect family=inet addr=127.0.0.1/32 port=%u", fx.echo_port);
  L(R_CONNECT_RANGE,
    "allow anyone connect family=inet addr=127.0.0.1/32 port=%u-%u", RANGE_LO,
    RANGE_HI);
  L(R_CONNECT_LOOPBACK_DENY,
    "deny anyone connect family=inet addr=127.0.0.0/8 errno=EPERM");
  L(R_CONNECT_ANY, "allow anyone connect family=inet,inet6 addr=any port=any");
  pol_add(&t, "# listen");
  L(R_LISTEN, "allow anyone listen family=inet");
  L(R_LISTEN6_DENY, "deny anyone listen family=inet6 errno=EPERM");
  pol_add(&t, "# names");
  L(R_LOOKUP_SUPP_DENY, "deny gid=%u lookup", (unsigned)fx.supp_gid);
  L(R_LOOKUP, "allow anyone lookup");
  L(R_REVERSE_NOBODY_DENY, "deny user=%s reverse errno=EPERM", user);
  L(R_REVERSE, "allow anyone reverse");
  pol_add(&t, "# privileged options");
  L(R_OPTION_MARK, "allow anyone setsockopt family=inet option=SO_MARK");
  pol_add(&t, "%s", "");
  L(R_CATCH_ALL, "deny anyone all");
  pol_write_file(fx.path, t.buf);
}

#undef WHO_RULE
#undef L

static int setup_rules(void **state) {
  const char *args[] = {"--policy", fx.path, "--audit-allow", NULL};
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

  fx.has_ipv6 = fd >= 0;
  if (fd >= 0)
    close(fd);
  pol_audit_init();
  pol_make_dir(fx.dir);
  snprintf(fx.path, sizeof(fx.path), "%s/rules.conf", fx.dir);
  pol_other_group(&fx.supp_gid, fx.supp_name, sizeof(fx.supp_name));
  find_unit();
  fx.echo = harness_start_echo(&fx.echo_port);
  choose_ports();
  write_rules();
  fx.psockd = harness_start_psockd(args);
  return 0;
}

static int teardown_rules(void **state) {
  harness_stop_psockd(fx.psockd);
  harness_stop_echo(fx.echo);
  pol_remove_dir(fx.dir);
  fx.psockd = NULL;
  fx.echo = NULL;
  return 0;
}

/* ---------------------------------------------------- default policy */

/*
 * The policy allowed the last call: it succeeded, or the kernel refused it
 * (an OS error such as EPROTONOSUPPORT for a protocol this kernel lacks,
 * or EACCES for an ICMP datagram socket outside net.ipv4.ping_group_range,
 * which is "1 0", nobody, on many hosts), never psockd's policy.
 */
static int policy_allowed(int r, const char *what) {
  if (r == 0 || psock_last_error_kind() != PSOCK_ERR_POLICY)
    return 0;
  fprintf(stderr, "%s: refused by policy: %s\n", what,
          psock_last_error_message());
  return -1;
}

/* A unix socket of our own, bound to (or connected to) an abstract name
 * through psockd: 0 or -1. */
static int abstract_call(bool bind_it, const char *name) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  psock_address a;
  psock_sock *s;
  int r, saved;

  if (fd < 0)
    return -2;
  s = psock_fromfd(fd, AF_UNIX, SOCK_STREAM, 0);
  close(fd);
  if (!s || psock_addr_unix_abstract(&a, name, strlen(name)) < 0)
    return -2;
  r = bind_it ? psock_bind(s, &a) : psock_connect(s, &a);
  saved = errno;
  psock_close(s);
  errno = saved;
  return r;
}

static char abstract_name[64];

static int client_default_nobody_allowed(void *arg) {
  psock_address any;
  psock_sock *s;

  CHECK(try_socket(AF_INET, SOCK_STREAM, 0) == 0);
  CHECK(try_socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP) == 0 || !fx.has_ipv6);
  CHECK(try_socket(AF_INET, SOCK_DGRAM, 0) == 0);
  CHECK(try_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) == 0);
  CHECK(try_socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG) == 0);
  /* What the kernel lets an unprivileged user open, where it has it. */
  CHECK(policy_allowed(try_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE),
                       "UDP-Lite") == 0);
  CHECK(policy_allowed(try_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP),
                       "SCTP stream") == 0);
  CHECK(policy_allowed(try_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP),
                       "SCTP seqpacket") == 0);
  CHECK(policy_allowed(try_socket(AF_INET, SOCK_STREAM, 262 /* MPTCP */),
                       "MPTCP") == 0);
  /* ICMP echo through ping sockets (the kernel may still say EACCES). */
  CHECK(policy_allowed(try_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP),
                       "ICMP datagram") == 0);
  CHECK(!fx.has_ipv6 ||
        policy_allowed(try_socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6),
                       "ICMPv6 datagram") == 0);
  /* bind to port 0 (the kernel's choice), listen, connect */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_addr_inet(&any, "127.0.0.1", 0) == 0);
  CHECK(psock_bind(s, &any) == 0);
  CHECK(psock_listen(s, 1) == 0);
  psock_close(s);
  CHECK(tcp_echo("127.0.0.1", fx.echo_port) == 0);
  CHECK(getaddrinfo_localhost() == 0);
  return 0;
}

static int client_default_nobody_refused(void *arg) {
  char args[64];
  psock_sock *s;

  /* Raw and packet sockets: EPERM, as the kernel says to nobody. */
  CHECK(expect_default(
            try_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), EPERM, "socket",
            socket_args(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))) == 0);
  CHECK(expect_default(try_socket(AF_INET, SOCK_RAW, IPPROTO_TCP), EPERM,
                       "socket",
                       socket_args(AF_INET, SOCK_RAW, IPPROTO_TCP)) == 0);
  /* No raw ICMP (forged packets): ping sockets only. */
  CHECK(expect_default(try_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM,
                       "socket",
                       socket_args(AF_INET, SOCK_RAW, IPPROTO_ICMP)) == 0);
  if (fx.has_ipv6)
    CHECK(expect_default(try_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM,
                         "socket",
                         socket_args(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)) == 0);
  /* No netlink but route and sock_diag. */
  CHECK(expect_default(try_socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EACCES,
                       "socket",
                       socket_args(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)) == 0);
  /* No unix sockets from psockd: the library makes them itself (psockd's
   * own refusal of a raw request is in test_attacks). */
  CHECK(try_socket(AF_UNIX, SOCK_STREAM, 0) == 0);
  /* No abstract unix name in psockd's network namespace, when the client
   * asks psockd for one (PSOCK_ROUTE=daemon). */
  setenv("PSOCK_ROUTE", "daemon", 1);
  CHECK(expect_default(abstract_call(true, abstract_name), EACCES, "bind",
                       "") == 0);
  CHECK(expect_default(abstract_call(false, abstract_name), EACCES, "connect",
                       "") == 0);
  unsetenv("PSOCK_ROUTE");
  CHECK(expect_default(tcp_bind("127.0.0.1", fx.priv_port), EACCES, "bind",
                       inet_args("127.0.0.1", fx.priv_port)) == 0);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);
  snprintf(args, sizeof(args), "level=%d optname=%d", SOL_SOCKET, SO_MARK);
  CHECK(expect_default(psock_setsockopt(s, SOL_SOCKET, SO_MARK, 1), EPERM,
                       "setsockopt", args) == 0);
  psock_close(s);
  return 0;
}

static int client_default_root(void *arg) {
  CHECK(try_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) == 0);
  CHECK(try_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == 0);
  CHECK(tcp_bind("127.0.0.1", fx.priv_port) == 0);
  /* The abstract name nobody was refused: root's rule names @*. */
  setenv("PSOCK_ROUTE", "daemon", 1);
  CHECK(abstract_call(true, abstract_name) == 0);
  unsetenv("PSOCK_ROUTE");
  return 0;
}

static void test_default_policy_nobody_allowed(void **state) {
  if (fx.default_skipped)
    skip();
  as_nobody(client_default_nobody_allowed, NULL);
}

static void test_default_policy_nobody_refused(void **state) {
  if (fx.default_skipped)
    skip();
  as_nobody(client_default_nobody_refused, NULL);
  pol_assert_audited(fx.psockd);
}

static void test_default_policy_root_allowed(void **state) {
  if (fx.default_skipped)
    skip();
  as_root(client_default_root, NULL);
}

static int setup_default(void **state) {
  if (access(PSOCK_DEFAULT_POLICY_PATH, F_OK) == 0) {
    /* psockd would use that file instead of the built-in policy. */
    fprintf(stderr, "skipping the default policy tests: %s exists\n",
            PSOCK_DEFAULT_POLICY_PATH);
    fx.default_skipped = true;
    return 0;
  }
  pol_audit_init();
  snprintf(abstract_name, sizeof(abstract_name), "psock-test-policy-%d",
           (int)getpid());
  fx.echo = harness_start_echo(&fx.echo_port);
  fx.psockd = harness_start_psockd(NULL);
  if (pol_wait_log_count(fx.psockd, "policy: default policy", 1, 5000) < 1) {
    harness_print_psockd_log(fx.psockd);
    fail_msg("psockd did not say it uses the default policy");
  }
  return 0;
}

static int teardown_default(void **state) {
  harness_stop_psockd(fx.psockd);
  harness_stop_echo(fx.echo);
  fx.psockd = NULL;
  fx.echo = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest rules[] = {
      cmocka_unit_test(test_socket_family_type_proto),
      cmocka_unit_test(test_who_anyone),
      cmocka_unit_test(test_who_uid),
      cmocka_unit_test(test_who_user),
      cmocka_unit_test(test_who_gid),
      cmocka_unit_test(test_who_group),
      cmocka_unit_test(test_who_supplementary_group),
      cmocka_unit_test(test_who_unit),
      cmocka_unit_test(test_bind_addr_and_port_ranges),
      cmocka_unit_test(test_connect_cidr_and_ports),
      cmocka_unit_test(test_connect_host_name_judged_after_lookup),
      cmocka_unit_test(test_sendto_destination),
      cmocka_unit_test(test_listen_by_family),
      cmocka_unit_test(test_lookup_and_reverse),
      cmocka_unit_test(test_privileged_option),
  };
  const struct CMUnitTest defaults[] = {
      cmocka_unit_test(test_default_policy_nobody_allowed),
      cmocka_unit_test(test_default_policy_nobody_refused),
      cmocka_unit_test(test_default_policy_root_allowed),
  };
  int failed;

  failed = cmocka_run_group_tests_name("policy rules", rules, setup_rules,
                                       teardown_rules);
  failed += cmocka_run_group_tests_name("default policy", defaults,
                                        setup_default, teardown_default);
  return failed;
}
