/* SPDX-License-Identifier: MIT */
/*
 * API coverage, addresses: every address form of the seed (AF_UNIX path and
 * abstract name, AF_INET with "" and "<broadcast>", AF_INET6 with and
 * without flowinfo and scope_id, AF_NETLINK (pid, groups), AF_TIPC) and host
 * names resolved by psockd, through a real psockd, the client running as
 * nobody. Each allowed case has its refused twin next to it.
 *
 * Client functions (client_*) run in a forked child: CHECK(), never
 * cmocka's assert_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/tipc.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api_common.h"

/* <linux/in6.h>: send the flow label given in connect()'s sin6_flowinfo. */
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33
#endif

#define HOST_LINKS_MAX 64

static struct {
  struct psockd_proc *psockd;
  bool has_tipc;
  char abstract[64];      /* an abstract name unique to this run */
  char abstract_host[80]; /* one the test binds in the host's namespace */
  char links[HOST_LINKS_MAX][IF_NAMESIZE]; /* the host's interfaces, as root */
  size_t nlinks;
} fx;

/* ------------------------------------------------------- AF_UNIX paths */

static int client_unix_path(void *arg) {
  char dir[] = "/tmp/psock-api-unix.XXXXXX", path[64], buf[8];
  psock_address a, name, peer;
  psock_sock *srv, *cli, *conn;
  struct stat st;

  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/s.sock", dir);
  CHECK(psock_addr_unix(&a, path) == 0);
  srv = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  cli = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(srv && cli);
  CHECK(psock_bind(srv, &a) == 0);
  /* The library bound it itself: the file is the client's, not psockd's. */
  CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
  CHECK(st.st_uid == getuid());
  CHECK(psock_getsockname(srv, &name) == 0 && name.family == AF_UNIX);
  CHECK(!name.u.un.abstract && name.u.un.len == strlen(path));
  CHECK(memcmp(name.u.un.path, path, strlen(path)) == 0);
  CHECK(psock_listen(srv, 1) == 0);
  CHECK(psock_connect(cli, &a) == 0);
  conn = psock_accept(srv, &peer);
  CHECK(conn != NULL);
  /* The connecting socket is unnamed: an empty path. */
  CHECK(peer.family == AF_UNIX && peer.u.un.len == 0);
  CHECK(psock_getpeername(cli, &peer) == 0 && peer.u.un.len == strlen(path));
  CHECK(psock_send(cli, "ping", 4, 0) == 4);
  CHECK(psock_recv(conn, buf, sizeof(buf), 0) == 4);
  CHECK(memcmp(buf, "ping", 4) == 0);
  psock_close(conn);
  psock_close(cli);
  psock_close(srv);
  CHECK(unlink(path) == 0 && rmdir(dir) == 0);
  return 0;
}

static int client_unix_path_refused(void *arg) {
  char path[128];
  psock_address a;
  psock_sock *s = psock_socket(AF_UNIX, SOCK_STREAM, 0);

  CHECK(s != NULL);
  /* psockd's directory is root's, mode 0755: the kernel says no to us. */
  snprintf(path, sizeof(path), "%s/not-ours.sock",
           harness_psockd_dir(fx.psockd));
  CHECK(psock_addr_unix(&a, path) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_os_error(EACCES));
  CHECK(access(path, F_OK) == -1);
  snprintf(path, sizeof(path), "%s/missing.sock",
           harness_psockd_dir(fx.psockd));
  CHECK(psock_addr_unix(&a, path) == 0);
  CHECK(psock_connect(s, &a) == -1);
  CHECK(api_is_os_error(ENOENT));
  psock_close(s);
  return 0;
}

static void test_unix_path_bind_listen_connect_accept(void **state) {
  assert_as_nobody(0, client_unix_path, NULL);
}

static void test_unix_path_in_foreign_directory_refused(void **state) {
  assert_as_nobody(0, client_unix_path_refused, NULL);
}

/* ------------------------------------------------ AF_UNIX abstract names */

/* This run sends every call that has a daemon message to psockd. */
static bool api_route_daemon(void) {
  const char *r = getenv("PSOCK_ROUTE");

  return r && strcmp(r, "daemon") == 0;
}

/* connect() with our own socket (not psock's) to abstract name: 0/errno. */
static int own_connect_abstract(int type, const char *name) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  size_t len = strlen(name);
  int own, r;

  own = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (own < 0)
    return errno;
  memcpy(sun.sun_path + 1, name, len);
  r = connect(own, (struct sockaddr *)&sun,
              (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
  r = r < 0 ? errno : 0;
  close(own);
  return r;
}

static ino_t ino_of(const psock_sock *s) {
  struct stat st;

  return fstat(psock_fileno(s), &st) == 0 ? st.st_ino : 0;
}

/*
 * An abstract name lives in the network namespace of its socket, and a
 * sandboxed program's AF_UNIX sockets are its own (issue 13, finding 1):
 * by default the name it binds is its empty namespace's, where its own
 * sockets reach it, and the host's names are out of its reach. Under
 * PSOCK_ROUTE=daemon psockd does the bind: a psockd that answers with a
 * replaced socket (BindReply.replaced) binds in its own namespace, the
 * psockd of old binds the program's own socket, in the program's
 * namespace; where the name lives follows which of the two it did.
 */
static int client_unix_abstract(void *arg) {
  size_t len = strlen(fx.abstract);
  bool route_daemon = api_route_daemon();
  psock_address a, name, host;
  psock_sock *srv, *cli, *conn;
  bool replaced;
  ino_t before;
  char buf[8];

  CHECK(psock_addr_unix_abstract(&a, fx.abstract, len) == 0);
  srv = psock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
  cli = psock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK(srv && cli);
  before = ino_of(srv);
  CHECK(psock_bind(srv, &a) == 0);
  replaced = ino_of(srv) != before;
  CHECK(!replaced || route_daemon);
  CHECK(psock_getsockname(srv, &name) == 0);
  CHECK(name.family == AF_UNIX && name.u.un.abstract);
  CHECK(name.u.un.len == len && memcmp(name.u.un.path, fx.abstract, len) == 0);
  CHECK(psock_listen(srv, 1) == 0);

  /* Our own socket sees the name exactly where it was bound ... */
  errno = own_connect_abstract(SOCK_SEQPACKET, fx.abstract);
  CHECK(errno == (replaced ? ECONNREFUSED : 0));
  if (!replaced) {
    conn = psock_accept(srv, NULL);
    CHECK(conn != NULL);
    psock_close(conn);
  }
  /* ... and so does the socket psock connects there. */
  CHECK(psock_connect(cli, &a) == 0);
  conn = psock_accept(srv, NULL);
  CHECK(conn != NULL);
  CHECK(psock_send(cli, "abs", 3, 0) == 3);
  CHECK(psock_recv(conn, buf, sizeof(buf), 0) == 3);
  psock_close(conn);
  psock_close(cli);
  psock_close(srv);

  /* The refused twin: the host's name (bound by the test, as root, in the
   * host's namespace) is out of reach, whatever the route. */
  CHECK(psock_addr_unix_abstract(&host, fx.abstract_host,
                                 strlen(fx.abstract_host)) == 0);
  cli = psock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK(cli != NULL);
  CHECK(psock_connect(cli, &host) == -1);
  CHECK(api_is_os_error(ECONNREFUSED) ||
        (route_daemon && psock_last_error_kind() == PSOCK_ERR_POLICY));
  psock_close(cli);
  return 0;
}

static int client_unix_abstract_refused(void *arg) {
  char other[80];
  psock_address a;
  psock_sock *first, *second;

  CHECK(psock_addr_unix_abstract(&a, fx.abstract, strlen(fx.abstract)) == 0);
  first = psock_socket(AF_UNIX, SOCK_DGRAM, 0);
  second = psock_socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(first && second);
  CHECK(psock_bind(first, &a) == 0);
  CHECK(psock_bind(second, &a) == -1);
  CHECK(api_is_os_error(EADDRINUSE));
  snprintf(other, sizeof(other), "%s-unbound", fx.abstract);
  CHECK(psock_addr_unix_abstract(&a, other, strlen(other)) == 0);
  CHECK(psock_connect(second, &a) == -1);
  CHECK(api_is_os_error(ECONNREFUSED));
  psock_close(first);
  psock_close(second);
  return 0;
}

static void test_unix_abstract_name_from_empty_netns(void **state) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  size_t len = strlen(fx.abstract_host);
  int host = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  /* A name of the host's namespace that the sandbox must not reach. */
  assert_true(host >= 0);
  memcpy(sun.sun_path + 1, fx.abstract_host, len);
  assert_int_equal(
      bind(host, (struct sockaddr *)&sun,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)),
      0);
  assert_int_equal(listen(host, 4), 0);
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_unix_abstract, NULL);
  /* Nobody reached it. */
  assert_int_equal(accept(host, NULL, NULL), -1);
  assert_int_equal(errno, EAGAIN);
  close(host);
}

static void test_unix_abstract_name_in_use_refused(void **state) {
  assert_as_nobody(0, client_unix_abstract_refused, NULL);
}

/* ------------------------------------------------------------- AF_INET */

static int client_inet_any(void *arg) {
  psock_address a, name, to;
  psock_sock *srv, *cli, *s6;

  srv = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(srv != NULL);
  CHECK(psock_addr_inet(&a, "", 0) == 0);
  CHECK(psock_bind(srv, &a) == 0);
  CHECK(psock_getsockname(srv, &name) == 0);
  CHECK(strcmp(name.u.in.host, "0.0.0.0") == 0 && name.u.in.port != 0);
  CHECK(psock_listen(srv, 1) == 0);
  /* Bound to every address: loopback reaches it. */
  cli = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(cli && psock_addr_inet(&to, "127.0.0.1", name.u.in.port) == 0);
  CHECK(psock_connect(cli, &to) == 0);
  psock_close(cli);
  psock_close(srv);

  /* In AF_INET6, "" is in6addr_any. */
  s6 = psock_socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(s6 && psock_addr_inet6(&a, "", 0, 0, 0) == 0);
  CHECK(psock_bind(s6, &a) == 0 && psock_getsockname(s6, &name) == 0);
  CHECK(name.family == AF_INET6 && strcmp(name.u.in.host, "::") == 0);
  psock_close(s6);
  return 0;
}

static int client_inet6_broadcast_refused(void *arg) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET6, SOCK_DGRAM, 0);

  /* The seed: "<broadcast>" is an IPv4 form only. */
  CHECK(s && psock_addr_inet6(&a, "<broadcast>", 9, 0, 0) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_os_error(EINVAL));
  psock_close(s);
  return 0;
}

static void test_inet_empty_host_is_inaddr_any(void **state) {
  assert_as_nobody(0, client_inet_any, NULL);
}

static void test_inet6_broadcast_host_refused(void **state) {
  assert_as_nobody(0, client_inet6_broadcast_refused, NULL);
}

/*
 * A receiver on INADDR_ANY and a sender bound to 127.0.0.1: the kernel sends
 * a limited broadcast out of the interface that owns the source address, so
 * the datagram never leaves lo.
 */
static int broadcast_pair(psock_sock **ret_rx, psock_sock **ret_tx,
                          psock_address *ret_to) {
  psock_address name;

  *ret_rx = api_bound_udp(AF_INET, "", &name);
  *ret_tx = api_bound_udp(AF_INET, "127.0.0.1", ret_to);
  CHECK(*ret_rx && *ret_tx);
  CHECK(psock_addr_inet(ret_to, "<broadcast>", name.u.in.port) == 0);
  return 0;
}

static int client_broadcast_with_so_broadcast(void *arg) {
  psock_address to, from;
  psock_sock *rx, *tx;
  char buf[16];
  int on = 0;

  CHECK(broadcast_pair(&rx, &tx, &to) == 0);
  CHECK(psock_setsockopt(tx, SOL_SOCKET, SO_BROADCAST, 1) == 0);
  CHECK(psock_getsockopt(tx, SOL_SOCKET, SO_BROADCAST, &on) == 0 && on);
  CHECK(psock_sendto(tx, "hello", 5, &to) == 5);
  CHECK(psock_settimeout(rx, 5.0) == 0);
  CHECK(psock_recvfrom(rx, buf, sizeof(buf), 0, &from) == 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK(strcmp(from.u.in.host, "127.0.0.1") == 0);
  psock_close(rx);
  psock_close(tx);
  return 0;
}

static int client_broadcast_without_so_broadcast(void *arg) {
  psock_address to;
  psock_sock *rx, *tx;

  CHECK(broadcast_pair(&rx, &tx, &to) == 0);
  CHECK(psock_sendto(tx, "hello", 5, &to) == -1);
  CHECK(api_is_os_error(EACCES));
  psock_close(rx);
  psock_close(tx);
  return 0;
}

static void test_inet_broadcast_sendto_with_so_broadcast(void **state) {
  assert_as_nobody(0, client_broadcast_with_so_broadcast, NULL);
}

static void
test_inet_broadcast_sendto_without_so_broadcast_refused(void **state) {
  assert_as_nobody(0, client_broadcast_without_so_broadcast, NULL);
}

/* ------------------------------------------------------------ AF_INET6 */

static int client_inet6_plain(void *arg) {
  psock_address a, name, peer;
  psock_sock *srv, *cli, *conn;

  srv = psock_socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(srv && psock_addr_inet6(&a, "::1", 0, 0, 0) == 0);
  CHECK(psock_bind(srv, &a) == 0 && psock_listen(srv, 1) == 0);
  CHECK(psock_getsockname(srv, &name) == 0);
  CHECK(name.family == AF_INET6 && strcmp(name.u.in.host, "::1") == 0);
  CHECK(name.u.in.port != 0);
  CHECK(name.u.in.flowinfo == 0 && name.u.in.scope_id == 0);
  cli = psock_socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(cli && psock_connect(cli, &name) == 0);
  conn = psock_accept(srv, &peer);
  CHECK(conn && peer.family == AF_INET6);
  CHECK(strcmp(peer.u.in.host, "::1") == 0);
  psock_close(conn);
  psock_close(cli);
  psock_close(srv);
  return 0;
}

static int client_inet6_flowinfo_scope_id(void *arg) {
  unsigned lo = if_nametoindex("lo");
  psock_address name, to, peer;
  psock_sock *srv, *cli;

  srv = api_listen_tcp(AF_INET6, "::1", 1, &name);
  cli = psock_socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(srv && cli && lo > 0);
  /* The kernel keeps the flow label of the connect when told to send it. */
  CHECK(psock_setsockopt(cli, IPPROTO_IPV6, IPV6_FLOWINFO_SEND, 1) == 0);
  CHECK(psock_addr_inet6(&to, "::1", name.u.in.port, 0x12345, lo) == 0);
  CHECK(psock_connect(cli, &to) == 0);
  CHECK(psock_getpeername(cli, &peer) == 0);
  CHECK(peer.family == AF_INET6 && peer.u.in.port == name.u.in.port);
  if (peer.u.in.flowinfo != 0x12345)
    fprintf(stderr, "flowinfo 0x%x\n", peer.u.in.flowinfo);
  CHECK(peer.u.in.flowinfo == 0x12345);
  psock_close(cli);
  psock_close(srv);
  return 0;
}

static int client_inet6_scope_refused(void *arg) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET6, SOCK_DGRAM, 0);

  CHECK(s != NULL);
  /* A link-local address means nothing without its interface ... */
  CHECK(psock_addr_inet6(&a, "fe80::1", 0, 0, 0) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_os_error(EINVAL));
  /* ... and the scope_id names one, which must exist. */
  CHECK(psock_addr_inet6(&a, "fe80::1", 0, 0, 99999) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_os_error(ENODEV));
  /* flowinfo is a 20-bit flow label. */
  CHECK(psock_addr_inet6(&a, "::1", 0, 0x100000, 0) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_os_error(EINVAL));
  psock_close(s);
  return 0;
}

static void test_inet6_without_flowinfo_and_scope_id(void **state) {
  assert_as_nobody(0, client_inet6_plain, NULL);
}

static void test_inet6_with_flowinfo_and_scope_id(void **state) {
  assert_as_nobody(0, client_inet6_flowinfo_scope_id, NULL);
}

static void test_inet6_bad_scope_id_or_flowinfo_refused(void **state) {
  assert_as_nobody(0, client_inet6_scope_refused, NULL);
}

/* ----------------------------------------------------------- AF_NETLINK */

static int client_netlink_bind(void *arg) {
  psock_address a, n1, n2;
  psock_sock *s1, *s2;

  s1 = psock_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  s2 = psock_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  CHECK(s1 && s2);
  /* pid 0: the kernel picks a port id; groups: link notifications. */
  CHECK(psock_addr_netlink(&a, 0, RTMGRP_LINK) == 0);
  CHECK(psock_bind(s1, &a) == 0);
  CHECK(psock_getsockname(s1, &n1) == 0 && n1.family == AF_NETLINK);
  CHECK(n1.u.nl.pid != 0 && n1.u.nl.groups == RTMGRP_LINK);
  CHECK(psock_addr_netlink(&a, 0, 0) == 0);
  CHECK(psock_bind(s2, &a) == 0 && psock_getsockname(s2, &n2) == 0);
  CHECK(n2.u.nl.pid != 0 && n2.u.nl.pid != n1.u.nl.pid);
  CHECK(n2.u.nl.groups == 0);
  psock_close(s1);
  psock_close(s2);
  return 0;
}

static int client_netlink_pid_in_use(void *arg) {
  psock_address a, n1;
  psock_sock *s1, *s2;

  s1 = psock_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  s2 = psock_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  CHECK(s1 && s2 && psock_addr_netlink(&a, 0, 0) == 0);
  CHECK(psock_bind(s1, &a) == 0 && psock_getsockname(s1, &n1) == 0);
  CHECK(psock_addr_netlink(&a, n1.u.nl.pid, 0) == 0);
  CHECK(psock_bind(s2, &a) == -1);
  CHECK(api_is_os_error(EADDRINUSE));
  psock_close(s1);
  psock_close(s2);
  return 0;
}

static void test_netlink_bind_pid_groups(void **state) {
  assert_as_nobody(0, client_netlink_bind, NULL);
}

static void test_netlink_bind_pid_in_use_refused(void **state) {
  assert_as_nobody(0, client_netlink_pid_in_use, NULL);
}

/* An RTM_GETLINK dump on a psock socket or on an fd of our own. */
struct nl_sock {
  psock_sock *s;
  int fd;
};

static ssize_t nl_recv(struct nl_sock *n, void *buf, size_t len) {
  return n->s ? psock_recv(n->s, buf, len, 0) : recv(n->fd, buf, len, 0);
}

/* Names of the links in *ret (at most HOST_LINKS_MAX). 0 or a CHECK line. */
static int dump_links(struct nl_sock *n, char (*ret)[IF_NAMESIZE],
                      size_t *ret_n) {
  struct {
    struct nlmsghdr nh;
    struct ifinfomsg ifi;
  } req = {.nh = {.nlmsg_len = sizeof(req),
                  .nlmsg_type = RTM_GETLINK,
                  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                  .nlmsg_seq = 1},
           .ifi = {.ifi_family = AF_UNSPEC}};
  psock_address kernel;
  static char buf[32768];

  *ret_n = 0;
  CHECK(psock_addr_netlink(&kernel, 0, 0) == 0);
  if (n->s)
    CHECK(psock_sendto(n->s, &req, sizeof(req), &kernel) ==
          (ssize_t)sizeof(req));
  else
    CHECK(send(n->fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req));
  for (;;) {
    ssize_t len = nl_recv(n, buf, sizeof(buf));

    CHECK(len > 0);
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      struct ifinfomsg *ifi = NLMSG_DATA(h);
      int alen = (int)IFLA_PAYLOAD(h);

      if (h->nlmsg_type == NLMSG_DONE)
        return 0;
      CHECK(h->nlmsg_type == RTM_NEWLINK && *ret_n < HOST_LINKS_MAX);
      for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, alen);
           rta = RTA_NEXT(rta, alen))
        if (rta->rta_type == IFLA_IFNAME)
          snprintf(ret[(*ret_n)++], IF_NAMESIZE, "%s",
                   (const char *)RTA_DATA(rta));
    }
  }
}

static bool has_link(char (*links)[IF_NAMESIZE], size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(links[i], name) == 0)
      return true;
  return false;
}

static int client_netlink_dump_from_psockd(void *arg) {
  char links[HOST_LINKS_MAX][IF_NAMESIZE];
  struct nl_sock n = {.fd = -1};
  size_t count;
  int r;

  n.s = psock_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  CHECK(n.s != NULL);
  r = dump_links(&n, links, &count);
  CHECK(r == 0);
  psock_close(n.s);
  /* The host's interfaces, exactly the ones root sees there. */
  if (count != fx.nlinks)
    for (size_t i = 0; i < count; i++)
      fprintf(stderr, "psockd's netns has %s\n", links[i]);
  CHECK(count == fx.nlinks);
  for (size_t i = 0; i < fx.nlinks; i++)
    CHECK(has_link(links, count, fx.links[i]));
  return 0;
}

static int client_netlink_dump_direct(void *arg) {
  char links[HOST_LINKS_MAX][IF_NAMESIZE];
  struct nl_sock n;
  size_t count;
  int r;

  n.s = NULL;
  n.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  CHECK(n.fd >= 0);
  r = dump_links(&n, links, &count);
  CHECK(r == 0);
  close(n.fd);
  /* Our own empty namespace: lo and nothing else. */
  CHECK(count == 1 && strcmp(links[0], "lo") == 0);
  return 0;
}

/* The host's interfaces as root sees them, into fx.links. */
static void read_host_links(void) {
  struct if_nameindex *all = if_nameindex();

  assert_non_null(all);
  fx.nlinks = 0;
  for (struct if_nameindex *i = all; i->if_index; i++) {
    assert_true(fx.nlinks < HOST_LINKS_MAX);
    snprintf(fx.links[fx.nlinks++], IF_NAMESIZE, "%s", i->if_name);
  }
  if_freenameindex(all);
  /* The comparison means something only with more than lo. */
  assert_true(fx.nlinks > 1);
}

static void test_netlink_route_dump_sees_host_links(void **state) {
  read_host_links();
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_netlink_dump_from_psockd, NULL);
}

static void test_netlink_route_dump_direct_sees_only_lo(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_netlink_dump_direct, NULL);
}

/* -------------------------------------------------------------- AF_TIPC */

/* Root (the default policy gives TIPC to root only) binds a name sequence. */
static int client_tipc_bind(void *arg) {
  psock_address a, name;
  psock_sock *s = psock_socket(AF_TIPC, SOCK_RDM, 0);

  CHECK(s != NULL);
  CHECK(psock_addr_tipc(&a, TIPC_ADDR_NAMESEQ, 18888, 1, 10,
                        TIPC_CLUSTER_SCOPE) == 0);
  CHECK(psock_bind(s, &a) == 0);
  CHECK(psock_getsockname(s, &name) == 0 && name.family == AF_TIPC);
  psock_close(s);
  return 0;
}

static void test_tipc_address(void **state) {
  if (!fx.has_tipc) {
    /* The codec has unit tests (test_addr, test_client_address). */
    printf("skipped: kernel has no AF_TIPC (socket(AF_TIPC) gives "
           "EAFNOSUPPORT)\n");
    skip();
  }
  assert_as_root(0, client_tipc_bind, NULL);
}

/* ---------------------------------------------- host names, via psockd */

static int client_host_names(void *arg) {
  psock_address a, n4, n6, peer, from;
  psock_sock *l4, *l6, *c4, *c6, *rx, *tx;
  char buf[8];

  l4 = api_listen_tcp(AF_INET, "localhost", 1, &n4);
  l6 = api_listen_tcp(AF_INET6, "localhost", 1, &n6);
  CHECK(l4 && l6);
  /* bind: the name resolved in the socket's family. */
  CHECK(strcmp(n4.u.in.host, "127.0.0.1") == 0);
  CHECK(strcmp(n6.u.in.host, "::1") == 0);
  /* connect */
  c4 = psock_socket(AF_INET, SOCK_STREAM, 0);
  c6 = psock_socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(c4 && c6);
  CHECK(psock_addr_inet(&a, "localhost", n4.u.in.port) == 0);
  CHECK(psock_connect(c4, &a) == 0 && psock_getpeername(c4, &peer) == 0);
  CHECK(strcmp(peer.u.in.host, "127.0.0.1") == 0);
  CHECK(psock_addr_inet6(&a, "localhost", n6.u.in.port, 0, 0) == 0);
  CHECK(psock_connect(c6, &a) == 0 && psock_getpeername(c6, &peer) == 0);
  CHECK(strcmp(peer.u.in.host, "::1") == 0);
  psock_close(c4);
  psock_close(c6);
  /* create_connection */
  CHECK(psock_addr_inet(&a, "localhost", n4.u.in.port) == 0);
  c4 = psock_create_connection(&a, PSOCK_TIMEOUT_NONE, NULL);
  CHECK(c4 != NULL);
  psock_close(c4);
  psock_close(l4);
  psock_close(l6);
  /* sendto */
  rx = api_bound_udp(AF_INET, "127.0.0.1", &n4);
  tx = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(rx && tx && psock_addr_inet(&a, "localhost", n4.u.in.port) == 0);
  CHECK(psock_sendto(tx, "name", 4, &a) == 4);
  CHECK(psock_settimeout(rx, 5.0) == 0);
  CHECK(psock_recvfrom(rx, buf, sizeof(buf), 0, &from) == 4);
  psock_close(rx);
  psock_close(tx);
  return 0;
}

static int client_host_name_unknown(void *arg) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);

  CHECK(s && psock_addr_inet(&a, "no-such-host.invalid", 9) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_error(PSOCK_ERR_GAI, EAI_NONAME));
  CHECK(strcmp(psock_last_error_message(), gai_strerror(EAI_NONAME)) == 0);
  psock_clear_error();
  CHECK(psock_connect(s, &a) == -1);
  CHECK(api_is_error(PSOCK_ERR_GAI, EAI_NONAME));
  psock_clear_error();
  CHECK(psock_sendto(s, "x", 1, &a) == -1);
  CHECK(api_is_error(PSOCK_ERR_GAI, EAI_NONAME));
  psock_clear_error();
  CHECK(psock_create_connection(&a, 1.0, NULL) == NULL);
  CHECK(api_is_error(PSOCK_ERR_GAI, EAI_NONAME));
  psock_close(s);
  return 0;
}

static void test_host_names_resolved_by_psockd(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_host_names, NULL);
}

static void test_unknown_host_name_refused(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_host_name_unknown, NULL);
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state) {
  int fd = socket(AF_TIPC, SOCK_RDM | SOCK_CLOEXEC, 0);

  fx.has_tipc = fd >= 0;
  if (fd >= 0)
    close(fd);
  snprintf(fx.abstract, sizeof(fx.abstract), "psock-api-test-%d",
           (int)getpid());
  snprintf(fx.abstract_host, sizeof(fx.abstract_host), "%s-host", fx.abstract);
  api_private_name_service(NULL);
  if (api_route_daemon()) {
    /* The abstract names this test binds through psockd, and no other
     * (the host's name stays out of reach: issue 13, finding 1). */
    char rule[256];
    snprintf(rule, sizeof(rule),
             "allow uid=%d bind,connect family=unix addr=@%s,@%s-unbound\n",
             HARNESS_NOBODY_UID, fx.abstract, fx.abstract);
    fx.psockd = api_start_psockd_with(rule);
  } else {
    fx.psockd = harness_start_psockd(NULL);
  }
  api_watch_psockd(fx.psockd);
  return 0;
}

static int teardown(void **state) {
  api_watch_psockd(NULL);
  harness_stop_psockd(fx.psockd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unix_path_bind_listen_connect_accept),
      cmocka_unit_test(test_unix_path_in_foreign_directory_refused),
      cmocka_unit_test(test_unix_abstract_name_from_empty_netns),
      cmocka_unit_test(test_unix_abstract_name_in_use_refused),
      cmocka_unit_test(test_inet_empty_host_is_inaddr_any),
      cmocka_unit_test(test_inet6_broadcast_host_refused),
      cmocka_unit_test(test_inet_broadcast_sendto_with_so_broadcast),
      cmocka_unit_test(test_inet_broadcast_sendto_without_so_broadcast_refused),
      cmocka_unit_test(test_inet6_without_flowinfo_and_scope_id),
      cmocka_unit_test(test_inet6_with_flowinfo_and_scope_id),
      cmocka_unit_test(test_inet6_bad_scope_id_or_flowinfo_refused),
      cmocka_unit_test(test_netlink_bind_pid_groups),
      cmocka_unit_test(test_netlink_bind_pid_in_use_refused),
      cmocka_unit_test(test_netlink_route_dump_sees_host_links),
      cmocka_unit_test(test_netlink_route_dump_direct_sees_only_lo),
      cmocka_unit_test(test_tipc_address),
      cmocka_unit_test(test_host_names_resolved_by_psockd),
      cmocka_unit_test(test_unknown_host_name_refused),
  };

  return cmocka_run_group_tests_name("api-addresses", tests, setup, teardown);
}
