/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client's addresses and its control connection.
 *
 * Addresses: the psock_addr_* helpers and their limits, psock_address <->
 * wire Address round trips for every family, sockaddr -> psock_address for
 * every family, psock_addr_format.
 *
 * Connection: against no daemon at all, and against a small fake psockd
 * (a thread of this test on a SOCK_SEQPACKET socket) that can misbehave on
 * purpose: wrong protocol version, policy refusal, lying fd counts,
 * dropping the connection, never answering. It serves socket, bind,
 * listen, connect and getaddrinfo for real, so the client's handling of the
 * replies (fd flags, modes, connect completion) is checked end to end.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/tipc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#include "../../client/internal.h"

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;

  assert_non_null(d);
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

/* ------------------------------------------------------------ helpers */

static void test_addr_helpers(void **state) {
  char host[PSOCK_HOST_MAX + 1];
  char path[PSOCK_PATH_MAX + 2];
  psock_address a;

  assert_int_equal(psock_addr_inet(&a, "192.0.2.1", 80), 0);
  assert_int_equal(a.family, AF_INET);
  assert_string_equal(a.u.in.host, "192.0.2.1");
  assert_int_equal(a.u.in.port, 80);

  assert_int_equal(psock_addr_inet6(&a, "fe80::1", 443, 7, 2), 0);
  assert_int_equal(a.family, AF_INET6);
  assert_int_equal(a.u.in.flowinfo, 7);
  assert_int_equal(a.u.in.scope_id, 2);

  /* A host of PSOCK_HOST_MAX - 1 fits; one more byte does not. */
  memset(host, 'h', sizeof(host));
  host[PSOCK_HOST_MAX - 1] = '\0';
  assert_int_equal(psock_addr_inet(&a, host, 1), 0);
  host[PSOCK_HOST_MAX - 1] = 'h';
  host[PSOCK_HOST_MAX] = '\0';
  assert_int_equal(psock_addr_inet(&a, host, 1), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
  assert_int_equal(psock_last_error_code(), EINVAL);
  assert_int_equal(psock_addr_inet6(&a, host, 1, 0, 0), -1);
  assert_int_equal(psock_addr_inet(&a, NULL, 1), -1);
  assert_int_equal(psock_addr_inet(NULL, "x", 1), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);

  /* sun_path holds 108 bytes; an abstract name one fewer (leading NUL). */
  memset(path, 'p', sizeof(path));
  path[PSOCK_PATH_MAX] = '\0';
  assert_int_equal(psock_addr_unix(&a, path), 0);
  assert_int_equal(a.u.un.len, PSOCK_PATH_MAX);
  assert_false(a.u.un.abstract);
  path[PSOCK_PATH_MAX] = 'p';
  path[PSOCK_PATH_MAX + 1] = '\0';
  assert_int_equal(psock_addr_unix(&a, path), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
  assert_int_equal(psock_addr_unix_abstract(&a, path, PSOCK_PATH_MAX - 1), 0);
  assert_true(a.u.un.abstract);
  assert_int_equal(psock_addr_unix_abstract(&a, path, PSOCK_PATH_MAX), -1);
  assert_int_equal(psock_addr_unix(&a, NULL), -1);

  assert_int_equal(psock_addr_netlink(&a, 42, 1), 0);
  assert_int_equal(a.family, AF_NETLINK);
  assert_int_equal(
      psock_addr_tipc(&a, TIPC_ADDR_NAME, 1000, 1, 0, TIPC_NODE_SCOPE), 0);
  assert_int_equal(a.family, AF_TIPC);
  assert_int_equal(a.u.tipc.scope, TIPC_NODE_SCOPE);
}

static void test_addr_format(void **state) {
  static const char abs_name[] = {'a', 'b', '\0', 'c'};
  psock_address a;
  char buf[300];

  psock_addr_inet(&a, "127.0.0.1", 80);
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)), "127.0.0.1:80");
  psock_addr_inet6(&a, "::1", 80, 0, 0);
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)), "[::1]:80");
  psock_addr_inet6(&a, "fe80::1", 22, 0, 3);
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)),
                      "[fe80::1%3]:22");
  psock_addr_unix(&a, "/run/x.sock");
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)), "/run/x.sock");
  psock_addr_unix_abstract(&a, abs_name, sizeof(abs_name));
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)), "@ab@c");
  psock_addr_netlink(&a, 12, 5);
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)), "netlink:12:5");
  psock_addr_tipc(&a, TIPC_ADDR_NAMESEQ, 1000, 1, 9, 0);
  assert_string_equal(psock_addr_format(&a, buf, sizeof(buf)),
                      "tipc:1:1000:1:9");
  /* A full path is not NUL-terminated in the struct; output still is. */
  memset(&a, 0, sizeof(a));
  a.family = AF_UNIX;
  a.u.un.len = PSOCK_PATH_MAX;
  memset(a.u.un.path, 'z', PSOCK_PATH_MAX);
  assert_int_equal(strlen(psock_addr_format(&a, buf, sizeof(buf))),
                   PSOCK_PATH_MAX);
  /* Truncates to the buffer. */
  psock_addr_inet(&a, "127.0.0.1", 80);
  assert_string_equal(psock_addr_format(&a, buf, 5), "127.");
}

/* ----------------------------------------------------- wire round trip */

static void assert_address_equal(const psock_address *x,
                                 const psock_address *y) {
  assert_int_equal(x->family, y->family);
  switch (x->family) {
  case AF_UNIX:
    assert_int_equal(x->u.un.abstract, y->u.un.abstract);
    assert_int_equal(x->u.un.len, y->u.un.len);
    assert_memory_equal(x->u.un.path, y->u.un.path, x->u.un.len);
    break;
  case AF_INET:
  case AF_INET6:
    assert_string_equal(x->u.in.host, y->u.in.host);
    assert_int_equal(x->u.in.port, y->u.in.port);
    assert_int_equal(x->u.in.flowinfo, y->u.in.flowinfo);
    assert_int_equal(x->u.in.scope_id, y->u.in.scope_id);
    break;
  case AF_NETLINK:
    assert_int_equal(x->u.nl.pid, y->u.nl.pid);
    assert_int_equal(x->u.nl.groups, y->u.nl.groups);
    break;
  case AF_TIPC:
    assert_int_equal(x->u.tipc.addr_type, y->u.tipc.addr_type);
    assert_int_equal(x->u.tipc.v1, y->u.tipc.v1);
    assert_int_equal(x->u.tipc.v2, y->u.tipc.v2);
    assert_int_equal(x->u.tipc.v3, y->u.tipc.v3);
    assert_int_equal(x->u.tipc.scope, y->u.tipc.scope);
    break;
  default:
    fail_msg("unexpected family %d", x->family);
  }
}

/* One of each family, numeric hosts, including the edge forms. */
static int sample_addresses(psock_address *out) {
  static const char abs_name[] = {'n', '\0', 'm'};
  int n = 0;

  psock_addr_inet(&out[n++], "10.1.2.3", 8080);
  psock_addr_inet(&out[n++], "", 0);
  psock_addr_inet6(&out[n++], "fe80::1", 65535, 0x12345, 4);
  psock_addr_unix(&out[n++], "/tmp/s");
  psock_addr_unix(&out[n++], ""); /* unnamed */
  psock_addr_unix_abstract(&out[n++], abs_name, sizeof(abs_name));
  psock_addr_netlink(&out[n++], 1234, 0x10);
  psock_addr_tipc(&out[n++], TIPC_ADDR_NAMESEQ, 1000, 1, 10, TIPC_NODE_SCOPE);
  psock_addr_tipc(&out[n++], TIPC_ADDR_NAME, 1000, 5, 0, 0);
  psock_addr_tipc(&out[n++], TIPC_ADDR_ID, 0x1001001, 77, 0, TIPC_ZONE_SCOPE);
  return n;
}

static void test_proto_round_trip(void **state) {
  psock_address in[16], back;
  uint8_t packed[1024];
  int n = sample_addresses(in);

  for (int i = 0; i < n; i++) {
    Psock__V1__Address *pa, *un;
    struct addr_buf buf;
    ssize_t len;

    assert_int_equal(pc_address_to_proto(&in[i], &buf, &pa), 0);
    /* Through the bytes, as psockd would see it. */
    len = wire_pack(&pa->base, packed, sizeof(packed));
    assert_true(len > 0);
    un = psock__v1__address__unpack(NULL, (size_t)len, packed);
    assert_non_null(un);
    assert_int_equal(pc_address_from_proto(un, &back), 0);
    assert_address_equal(&in[i], &back);
    psock__v1__address__free_unpacked(un, NULL);
  }
}

/* psock_address -> wire -> the shared codec's sockaddr -> psock_address:
 * what a getsockname() after a bind reports is what was asked for. */
static void test_sockaddr_round_trip(void **state) {
  psock_address in[16], back;
  int n = sample_addresses(in);

  for (int i = 0; i < n; i++) {
    struct sockaddr_storage ss;
    Psock__V1__Address *pa;
    struct addr_buf buf;
    socklen_t len;

    if (in[i].family == AF_INET && !in[i].u.in.host[0])
      continue; /* "" becomes 0.0.0.0: not the same text */
    assert_int_equal(pc_address_to_proto(&in[i], &buf, &pa), 0);
    assert_int_equal(addr_to_sockaddr(pa, &ss, &len), 0);
    assert_int_equal(pc_sockaddr_to_address((struct sockaddr *)&ss, len, &back),
                     0);
    if (in[i].family == AF_TIPC && in[i].u.tipc.scope == 0)
      in[i].u.tipc.scope = TIPC_CLUSTER_SCOPE; /* 0 means cluster */
    assert_address_equal(&in[i], &back);
  }
}

static void test_sockaddr_to_address(void **state) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons(53),
                              .sin6_flowinfo = htonl(0xabcde),
                              .sin6_scope_id = 3};
  struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/p/q"};
  struct sockaddr_nl snl = {.nl_family = AF_NETLINK, .nl_pid = 9};
  struct sockaddr_tipc st = {.family = AF_TIPC, .addrtype = TIPC_ADDR_ID};
  size_t off = offsetof(struct sockaddr_un, sun_path);
  psock_address a;

  inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
  assert_int_equal(pc_sockaddr_to_address((void *)&sin, sizeof(sin), &a), 0);
  assert_int_equal(a.family, AF_INET);
  assert_string_equal(a.u.in.host, "192.0.2.7");
  assert_int_equal(a.u.in.port, 8080);

  inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
  assert_int_equal(pc_sockaddr_to_address((void *)&sin6, sizeof(sin6), &a), 0);
  assert_string_equal(a.u.in.host, "2001:db8::7");
  assert_int_equal(a.u.in.port, 53);
  assert_int_equal(a.u.in.flowinfo, 0xabcde);
  assert_int_equal(a.u.in.scope_id, 3);

  /* Linux may count the path's NUL in the length: it is not part of it. */
  assert_int_equal(
      pc_sockaddr_to_address((void *)&sun, (socklen_t)(off + 5), &a), 0);
  assert_int_equal(a.u.un.len, 4);
  assert_memory_equal(a.u.un.path, "/p/q", 4);
  assert_false(a.u.un.abstract);
  /* An unnamed socket: just the family. */
  assert_int_equal(pc_sockaddr_to_address((void *)&sun, (socklen_t)off, &a), 0);
  assert_int_equal(a.family, AF_UNIX);
  assert_int_equal(a.u.un.len, 0);
  /* Abstract: leading NUL, then bytes that may include NULs. */
  memcpy(sun.sun_path, "\0x\0y", 4);
  assert_int_equal(
      pc_sockaddr_to_address((void *)&sun, (socklen_t)(off + 4), &a), 0);
  assert_true(a.u.un.abstract);
  assert_int_equal(a.u.un.len, 3);
  assert_memory_equal(a.u.un.path, "x\0y", 3);

  assert_int_equal(pc_sockaddr_to_address((void *)&snl, sizeof(snl), &a), 0);
  assert_int_equal(a.family, AF_NETLINK);
  assert_int_equal(a.u.nl.pid, 9);

  st.addr.id.node = 0x1001002;
  st.addr.id.ref = 5;
  st.scope = TIPC_NODE_SCOPE;
  assert_int_equal(pc_sockaddr_to_address((void *)&st, sizeof(st), &a), 0);
  assert_int_equal(a.u.tipc.addr_type, TIPC_ADDR_ID);
  assert_int_equal(a.u.tipc.v1, 0x1001002);
  assert_int_equal(a.u.tipc.v2, 5);
  assert_int_equal(a.u.tipc.scope, TIPC_NODE_SCOPE);

  /* Refused: too short for the family, a family the protocol lacks. */
  assert_int_equal(pc_sockaddr_to_address((void *)&sin, 4, &a), -EINVAL);
  sin.sin_family = AF_PACKET;
  assert_int_equal(pc_sockaddr_to_address((void *)&sin, sizeof(sin), &a),
                   -EAFNOSUPPORT);
}

static void test_from_proto_rejects(void **state) {
  Psock__V1__Address pa = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__InetAddress in = PSOCK__V1__INET_ADDRESS__INIT;
  char longhost[PSOCK_HOST_MAX + 10];
  uint8_t longpath[PSOCK_PATH_MAX + 1] = {0};
  psock_address a;

  /* What psockd sends is checked before it lands in fixed fields. */
  assert_int_equal(pc_address_from_proto(&pa, &a), -EAFNOSUPPORT);
  pa.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  pa.inet = &in;
  in.host = "1.2.3.4";
  in.port = 70000;
  assert_int_equal(pc_address_from_proto(&pa, &a), -EINVAL);
  memset(longhost, 'a', sizeof(longhost) - 1);
  longhost[sizeof(longhost) - 1] = '\0';
  in.host = longhost;
  in.port = 1;
  assert_int_equal(pc_address_from_proto(&pa, &a), -EINVAL);
  pa.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  pa.unix_path.data = longpath;
  pa.unix_path.len = sizeof(longpath);
  assert_int_equal(pc_address_from_proto(&pa, &a), -EINVAL);
  pa.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
  pa.unix_abstract.len = PSOCK_PATH_MAX;
  assert_int_equal(pc_address_from_proto(&pa, &a), -EINVAL);
}

/* ------------------------------------------------------------ no daemon */

static void test_unreachable_daemon(void **state) {
  double t0;

  setenv("PSOCK_SOCKET", "/nonexistent/psockd.sock", 1);
  pc_conn_flush();
  t0 = now_s();
  errno = 0;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_true(now_s() - t0 < 0.5);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), ENOENT);
  assert_non_null(strstr(psock_last_error_message(),
                         "psockd unreachable at /nonexistent/psockd.sock"));
  /* Name lookups go to psockd too and fail the same way. */
  assert_int_equal(psock_gethostname((char[64]){0}, 64), -1);
  assert_int_equal(psock_last_error_code(), ENOENT);
  assert_int_equal(psock_has_ipv6(), -1);
}

/* ----------------------------------------------------------- fake psockd */

enum fake_mode {
  FAKE_NORMAL,
  FAKE_POLICY,     /* socket, bind, listen, connect: POLICY_DENIED */
  FAKE_FD_LIE,     /* socket: fd_count 1, no fd attached */
  FAKE_EXTRA_FD,   /* socket: two fds for a call that returns one */
  FAKE_DROP_FIRST, /* socket: hang up on the first one, then serve */
  FAKE_SILENT,     /* socket: never answer */
};

#define FAKE_MAX_CONNS 32

static struct fake {
  char dir[32];
  char path[64];
  int lfd;
  int stop[2];
  pthread_t thread;
  /* Set by the test, read by the fake's thread. */
  _Atomic uint32_t hello_version;
  _Atomic int mode; /* enum fake_mode */
  bool dropped;
  atomic_int connections;
  atomic_int open_conns;
  atomic_int socket_calls;
  atomic_int socket_peer_pid; /* SO_PEERCRED pid of the last socket call */
  atomic_int accept_calls;
  atomic_int setsockopt_calls;
  atomic_int setsockopt_last; /* optname of the last setsockopt call */
  uint8_t buf[PSOCK_MAX_PACKET];
} fk;

static void fake_send(int fd, Psock__V1__Response *resp, const int *fds,
                      size_t nfds) {
  uint8_t out[4096];
  ssize_t n = wire_pack(&resp->base, out, sizeof(out));

  if (n > 0)
    wire_send_packet(fd, out, (size_t)n, fds, nfds, 0);
}

static void fake_error(int fd, uint64_t id, Psock__V1__Error__Kind kind,
                       int code, const char *msg) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__Error e = PSOCK__V1__ERROR__INIT;

  e.kind = kind;
  e.code = code;
  e.message = (char *)msg;
  resp.id = id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_ERROR;
  resp.error = &e;
  fake_send(fd, &resp, NULL, 0);
}

static void fake_hello(int fd, uint64_t id) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__HelloReply h = PSOCK__V1__HELLO_REPLY__INIT;

  h.protocol_version = fk.hello_version;
  h.daemon_version = "fake";
  h.max_packet = PSOCK_MAX_PACKET;
  resp.id = id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_HELLO;
  resp.hello = &h;
  fake_send(fd, &resp, NULL, 0);
}

/* Returns false when the connection should be closed. */
static bool fake_socket(int fd, const Psock__V1__Request *req) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__SocketReply sr = PSOCK__V1__SOCKET_REPLY__INIT;
  Psock__V1__SocketInfo info = PSOCK__V1__SOCKET_INFO__INIT;
  int s[2];

  if (fk.mode == FAKE_DROP_FIRST && !fk.dropped) {
    fk.dropped = true;
    return false;
  }
  if (fk.mode == FAKE_SILENT)
    return true;
  if (fk.mode == FAKE_POLICY) {
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES,
               "rule 3 (deny all) refuses socket");
    return true;
  }
  /* As psockd: created close-on-exec, the caller's flags otherwise kept. */
  s[0] = socket(req->socket->family, req->socket->type | SOCK_CLOEXEC,
                req->socket->proto);
  if (s[0] < 0) {
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__OS_ERROR, errno,
               strerror(errno));
    return true;
  }
  /* This fake shares the test's fd table: keep its own copies high, out
   * of the way of the number the client is given. */
  s[1] = fcntl(s[0], F_DUPFD_CLOEXEC, 200);
  close(s[0]);
  s[0] = fcntl(s[1], F_DUPFD_CLOEXEC, 200);
  info.family = req->socket->family;
  info.type = req->socket->type;
  sr.info = &info;
  resp.id = req->id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_SOCKET;
  resp.socket = &sr;
  resp.fd_count = fk.mode == FAKE_EXTRA_FD ? 2 : 1;
  fake_send(fd, &resp, s,
            fk.mode == FAKE_FD_LIE     ? 0
            : fk.mode == FAKE_EXTRA_FD ? 2
                                       : 1);
  close(s[0]);
  close(s[1]);
  return true;
}

/* bind, listen and connect on the fd that came with the request. */
static void fake_on_fd(int fd, const Psock__V1__Request *req, int sfd) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__Empty empty = PSOCK__V1__EMPTY__INIT;
  Psock__V1__BindReply br = PSOCK__V1__BIND_REPLY__INIT;
  Psock__V1__ConnectReply cr = PSOCK__V1__CONNECT_REPLY__INIT;
  struct sockaddr_storage ss;
  struct addr_buf ab;
  socklen_t len;
  int r = 0, fl;

  resp.id = req->id;
  resp.result_case = (Psock__V1__Response__ResultCase)req->call_case;
  if (fk.mode == FAKE_POLICY) {
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EPERM,
               "rule 7 refuses");
    return;
  }
  switch (req->call_case) {
  case PSOCK__V1__REQUEST__CALL_BIND:
    r = addr_to_sockaddr(req->bind->address, &ss, &len);
    if (r == 0 && bind(sfd, (struct sockaddr *)&ss, len) < 0)
      r = -errno;
    len = sizeof(ss);
    getsockname(sfd, (struct sockaddr *)&ss, &len);
    addr_from_sockaddr((struct sockaddr *)&ss, len, &ab, &br.bound);
    resp.bind = &br;
    break;
  case PSOCK__V1__REQUEST__CALL_LISTEN:
    if (listen(sfd, req->listen->backlog) < 0)
      r = -errno;
    resp.listen = &empty;
    break;
  default: /* connect, never waiting, as psockd */
    r = addr_to_sockaddr(req->connect->address, &ss, &len);
    fl = fcntl(sfd, F_GETFL);
    fcntl(sfd, F_SETFL, fl | O_NONBLOCK);
    if (r == 0 && connect(sfd, (struct sockaddr *)&ss, len) < 0)
      r = -errno;
    fcntl(sfd, F_SETFL, fl);
    if (r == -EINPROGRESS) {
      r = 0;
      cr.status = EINPROGRESS;
    }
    cr.peer = req->connect->address;
    resp.connect = &cr;
    break;
  }
  if (r < 0)
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__OS_ERROR, -r, strerror(-r));
  else
    fake_send(fd, &resp, NULL, 0);
}

/* getaddrinfo: every name is 127.0.0.1, the port as asked. */
static void fake_getaddrinfo(int fd, const Psock__V1__Request *req) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__GetaddrinfoReply g = PSOCK__V1__GETADDRINFO_REPLY__INIT;
  Psock__V1__AddrInfo ai = PSOCK__V1__ADDR_INFO__INIT, *list[1] = {&ai};
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__InetAddress in = PSOCK__V1__INET_ADDRESS__INIT;
  const char *svc = req->getaddrinfo->service;

  in.host = "127.0.0.1";
  in.port = svc ? (uint32_t)atoi(svc) : 0;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  a.inet = &in;
  ai.family = AF_INET;
  ai.socktype = SOCK_STREAM;
  ai.proto = IPPROTO_TCP;
  ai.canonname = "";
  ai.address = &a;
  g.n_results = 1;
  g.results = list;
  resp.id = req->id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_GETADDRINFO;
  resp.getaddrinfo = &g;
  fake_send(fd, &resp, NULL, 0);
}

/* accept as psockd does it: one non-blocking attempt, EAGAIN reported. */
static void fake_accept(int fd, const Psock__V1__Request *req, int sfd) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__AcceptReply ar = PSOCK__V1__ACCEPT_REPLY__INIT;
  Psock__V1__SocketInfo info = PSOCK__V1__SOCKET_INFO__INIT;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  struct addr_buf ab;
  int c, hi, fl;

  atomic_fetch_add(&fk.accept_calls, 1);
  /* The listener may be in blocking mode: never wait here. */
  fl = fcntl(sfd, F_GETFL);
  fcntl(sfd, F_SETFL, fl | O_NONBLOCK);
  c = accept4(sfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
  fcntl(sfd, F_SETFL, fl);
  if (c < 0) {
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__OS_ERROR, errno,
               strerror(errno));
    return;
  }
  hi = fcntl(c, F_DUPFD_CLOEXEC, 200);
  close(c);
  addr_from_sockaddr((struct sockaddr *)&ss, len, &ab, &ar.peer);
  info.family = ss.ss_family;
  info.type = SOCK_STREAM;
  ar.info = &info;
  resp.id = req->id;
  resp.fd_count = 1;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_ACCEPT;
  resp.accept = &ar;
  fake_send(fd, &resp, &hi, 1);
  close(hi);
}

/* setsockopt: recorded and answered "done" without touching the fd. */
static void fake_setsockopt(int fd, const Psock__V1__Request *req) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__Empty empty = PSOCK__V1__EMPTY__INIT;

  atomic_store(&fk.setsockopt_last, req->setsockopt->optname);
  atomic_fetch_add(&fk.setsockopt_calls, 1);
  resp.id = req->id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_SETSOCKOPT;
  resp.setsockopt = &empty;
  fake_send(fd, &resp, NULL, 0);
}

/* One packet from a client; false when the connection is to be closed. */
static bool fake_serve(int fd) {
  Psock__V1__Request *req;
  struct ucred cred;
  socklen_t clen = sizeof(cred);
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 0;
  bool keep = true;
  ssize_t n;

  n = wire_recv_packet(fd, fk.buf, sizeof(fk.buf), fds, PSOCK_MAX_FDS, &nfds,
                       0);
  if (n <= 0)
    return false;
  req = psock__v1__request__unpack(NULL, (size_t)n, fk.buf);
  if (!req) {
    wire_close_fds(fds, nfds);
    return false;
  }
  switch (req->call_case) {
  case PSOCK__V1__REQUEST__CALL_HELLO:
    fake_hello(fd, req->id);
    break;
  case PSOCK__V1__REQUEST__CALL_SOCKET:
    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
    atomic_store(&fk.socket_peer_pid, (int)cred.pid);
    atomic_fetch_add(&fk.socket_calls, 1);
    keep = fake_socket(fd, req);
    break;
  case PSOCK__V1__REQUEST__CALL_BIND:
  case PSOCK__V1__REQUEST__CALL_LISTEN:
  case PSOCK__V1__REQUEST__CALL_CONNECT:
    fake_on_fd(fd, req, nfds == 1 ? fds[0] : -1);
    break;
  case PSOCK__V1__REQUEST__CALL_ACCEPT:
    fake_accept(fd, req, nfds == 1 ? fds[0] : -1);
    break;
  case PSOCK__V1__REQUEST__CALL_SETSOCKOPT:
    fake_setsockopt(fd, req);
    break;
  case PSOCK__V1__REQUEST__CALL_GETADDRINFO:
    fake_getaddrinfo(fd, req);
    break;
  default:
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, ENOSYS,
               "not in the fake");
    break;
  }
  wire_close_fds(fds, nfds);
  psock__v1__request__free_unpacked(req, NULL);
  return keep;
}

static void *fake_main(void *arg) {
  struct pollfd p[2 + FAKE_MAX_CONNS];
  int conns[FAKE_MAX_CONNS], nconns = 0;

  for (;;) {
    p[0] = (struct pollfd){.fd = fk.stop[0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = fk.lfd, .events = POLLIN};
    for (int i = 0; i < nconns; i++)
      p[2 + i] = (struct pollfd){.fd = conns[i], .events = POLLIN};
    if (poll(p, (nfds_t)(2 + nconns), -1) < 0)
      continue;
    if (p[0].revents)
      break;
    if ((p[1].revents & POLLIN) && nconns < FAKE_MAX_CONNS) {
      int c = accept4(fk.lfd, NULL, NULL, SOCK_CLOEXEC);

      if (c >= 0) {
        conns[nconns++] = c;
        atomic_fetch_add(&fk.connections, 1);
        atomic_store(&fk.open_conns, nconns);
      }
    }
    for (int i = 0; i < nconns; i++) {
      if (p[2 + i].fd != conns[i] || !p[2 + i].revents)
        continue;
      if (!fake_serve(conns[i])) {
        close(conns[i]);
        conns[i] = conns[--nconns];
        p[2 + i] = p[2 + nconns];
        i--;
        atomic_store(&fk.open_conns, nconns);
      }
    }
  }
  for (int i = 0; i < nconns; i++)
    close(conns[i]);
  return NULL;
}

/* Close the client's idle connections and wait until the fake has closed
 * its ends too, so that fd counts are taken at rest. */
static void fake_quiesce(void) {
  pc_conn_flush();
  for (int i = 0; i < 200 && atomic_load(&fk.open_conns) > 0; i++)
    usleep(10000);
  assert_int_equal(atomic_load(&fk.open_conns), 0);
}

static int fake_start(void **state) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};

  memset(&fk, 0, sizeof(fk));
  fk.hello_version = PSOCK_PROTOCOL_VERSION;
  snprintf(fk.dir, sizeof(fk.dir), "/tmp/psock-unit.XXXXXX");
  assert_non_null(mkdtemp(fk.dir));
  snprintf(fk.path, sizeof(fk.path), "%s/psockd.sock", fk.dir);
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fk.path);
  fk.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  assert_true(fk.lfd >= 0);
  assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  assert_int_equal(listen(fk.lfd, 8), 0);
  assert_int_equal(pipe2(fk.stop, O_CLOEXEC), 0);
  assert_int_equal(pthread_create(&fk.thread, NULL, fake_main, NULL), 0);
  setenv("PSOCK_SOCKET", fk.path, 1);
  unsetenv("PSOCK_DAEMON_TIMEOUT_MS");
  unsetenv("PSOCK_ROUTE");
  /* Connections to an earlier test's server must not count here. */
  pc_conn_flush();
  psock_clear_error();
  return 0;
}

static int fake_stop(void **state) {
  pc_conn_flush();
  assert_int_equal(write(fk.stop[1], "x", 1), 1);
  pthread_join(fk.thread, NULL);
  close(fk.stop[0]);
  close(fk.stop[1]);
  close(fk.lfd);
  unlink(fk.path);
  rmdir(fk.dir);
  psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE);
  return 0;
}

/* ---------------------------------------------------- connection tests */

static void test_wrong_protocol_version(void **state) {
  fk.hello_version = PSOCK_PROTOCOL_VERSION + 1;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), EPROTONOSUPPORT);
  assert_non_null(strstr(psock_last_error_message(), "version 3"));
  /* The handshake failed: no socket request was ever sent. */
  assert_int_equal(atomic_load(&fk.socket_calls), 0);
}

static void test_socket_from_daemon(void **state) {
  psock_sock *a, *b;
  int fd;

  a = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(a);
  fd = psock_fileno(a);
  /* fds arrive close-on-exec; without SOCK_CLOEXEC the kernel's socket()
   * would not set it, so neither does psock_socket(). */
  assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
  assert_true(psock_gettimeout(a) == PSOCK_TIMEOUT_NONE);
  assert_int_equal(psock_family(a), AF_INET);
  assert_int_equal(psock_type(a), SOCK_STREAM);

  b = psock_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_non_null(b);
  assert_int_equal(fcntl(psock_fileno(b), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  assert_true(fcntl(psock_fileno(b), F_GETFL) & O_NONBLOCK);
  assert_true(psock_gettimeout(b) == 0.0);
  assert_int_equal(psock_type(b), SOCK_DGRAM);

  /* The kernel's "lowest free number": the library's own fd is high. */
  psock_close(a);
  a = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_fileno(a), fd);
  psock_close(a);
  psock_close(b);
  /* One connection served all three calls. */
  assert_int_equal(atomic_load(&fk.connections), 1);
}

static void test_daemon_os_error(void **state) {
  errno = 0;
  assert_null(psock_socket(4242, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), EAFNOSUPPORT);
  assert_int_equal(errno, EAFNOSUPPORT);
}

static void test_policy_refusal(void **state) {
  fk.mode = FAKE_POLICY;
  errno = 0;
  assert_null(psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(psock_last_error_code(), EACCES);
  assert_int_equal(errno, EACCES);
  assert_string_equal(psock_last_error_message(),
                      "rule 3 (deny all) refuses socket");
}

static void test_fd_count_mismatch(void **state) {
  int before;

  /* Warm up so that the connection itself is not counted. */
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  fake_quiesce();
  before = count_fds();

  fk.mode = FAKE_FD_LIE;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  fake_quiesce();
  assert_int_equal(count_fds(), before);

  fk.mode = FAKE_EXTRA_FD;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), EPROTO);
  fake_quiesce();
  /* Both fds that came with the bad answer were closed. */
  assert_int_equal(count_fds(), before);
}

static void test_reconnects_after_drop(void **state) {
  psock_sock *s;

  fk.mode = FAKE_DROP_FIRST;
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  /* The daemon hung up mid-request: reopened once, sent again. */
  assert_non_null(s);
  assert_int_equal(atomic_load(&fk.connections), 2);
  assert_int_equal(atomic_load(&fk.socket_calls), 2);
  psock_close(s);
}

static void test_daemon_timeout(void **state) {
  double t0;

  fk.mode = FAKE_SILENT;
  setenv("PSOCK_DAEMON_TIMEOUT_MS", "200", 1);
  t0 = now_s();
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_true(now_s() - t0 < 2.0);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), ETIMEDOUT);
  unsetenv("PSOCK_DAEMON_TIMEOUT_MS");
}

static void test_child_after_fork_opens_its_own(void **state) {
  int status;
  pid_t pid;

  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(atomic_load(&fk.socket_peer_pid), (int)getpid());
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    _exit(s ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* The child's request came on a connection the child opened. */
  assert_int_equal(atomic_load(&fk.socket_peer_pid), (int)pid);
  assert_int_equal(atomic_load(&fk.connections), 2);

  /* And the parent's connection still works, unshared. */
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(atomic_load(&fk.socket_peer_pid), (int)getpid());
  assert_int_equal(atomic_load(&fk.connections), 2);
}

/* The one socket fd in 100..199: the library's connection (the fake's
 * own copies live at 200 and above). */
static int find_conn_fd(void) {
  struct stat st;
  int found = -1;

  for (int fd = 100; fd < 200; fd++)
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
      assert_int_equal(found, -1);
      found = fd;
    }
  assert_true(found >= 100);
  return found;
}

static void test_program_reuses_our_fd_number(void **state) {
  psock_sock *s;
  int cfd, p[2];
  char c;

  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  cfd = find_conn_fd();
  /* The program dup2()s a pipe over the library's number. */
  assert_int_equal(pipe(p), 0);
  assert_int_equal(dup2(p[1], cfd), cfd);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(atomic_load(&fk.connections), 2);
  /* The number is the program's now: not closed, not written to. */
  assert_int_equal(write(cfd, "k", 1), 1);
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(c, 'k');
  close(cfd);
  close(p[0]);
  close(p[1]);

  /* A program that closed our fd gets a fresh connection too. */
  pc_conn_flush();
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  close(find_conn_fd());
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(s);
  psock_close(s);
  assert_int_equal(atomic_load(&fk.connections), 4);
}

/* A listening TCP socket on 127.0.0.1, made through the fake daemon. */
static psock_sock *tcp_listener(uint16_t *port) {
  psock_address a;
  psock_sock *l = psock_socket(AF_INET, SOCK_STREAM, 0);

  assert_non_null(l);
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 4), 0);
  assert_int_equal(psock_getsockname(l, &a), 0);
  *port = a.u.in.port;
  return l;
}

static void test_connect_and_accept(void **state) {
  psock_address a, peer, name;
  psock_sock *l, *c, *srv;
  uint16_t port;
  char buf[8];

  l = tcp_listener(&port);
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_addr_inet(&a, "127.0.0.1", port);
  /* Blocking mode: in progress at psockd, completed here. */
  assert_int_equal(psock_connect(c, &a), 0);
  srv = psock_accept(l, &peer);
  assert_non_null(srv);
  assert_string_equal(peer.u.in.host, "127.0.0.1");
  assert_int_equal(psock_getsockname(c, &name), 0);
  assert_int_equal(name.u.in.port, peer.u.in.port);
  assert_int_equal(psock_getpeername(c, &name), 0);
  assert_int_equal(name.u.in.port, port);
  assert_int_equal(psock_sendall(c, "ping", 4, 0), 0);
  assert_int_equal(psock_recv(srv, buf, sizeof(buf), 0), 4);
  psock_close(srv);
  psock_close(c);
  psock_close(l);
}

static void test_connect_refused(void **state) {
  psock_address a;
  psock_sock *l, *c;
  uint16_t port;

  /* A port that was just free: nothing listens there any more. */
  l = tcp_listener(&port);
  psock_close(l);
  psock_addr_inet(&a, "127.0.0.1", port);

  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_connect(c, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);
  psock_close(c);

  /* connect_ex: the errno as the value, the last error untouched. */
  psock_clear_error();
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_settimeout(c, 2.0), 0);
  assert_int_equal(psock_connect_ex(c, &a), ECONNREFUSED);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_NONE);

  /* A policy refusal is not an errno of connect(): -1 and the error. */
  fk.mode = FAKE_POLICY;
  errno = 0;
  assert_int_equal(psock_connect_ex(c, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(psock_last_error_code(), EPERM);
  assert_int_equal(errno, EPERM);
  psock_close(c);
}

static void test_create_connection(void **state) {
  psock_address a, peer;
  psock_sock *l, *c, *srv;
  uint16_t port;

  l = tcp_listener(&port);
  psock_addr_inet(&a, "localhost", port);
  assert_int_equal(psock_setdefaulttimeout(4.0), 0);
  c = psock_create_connection(&a, PSOCK_TIMEOUT_NONE, NULL);
  assert_non_null(c);
  /* None means the default timeout, which the socket now has. */
  assert_true(psock_gettimeout(c) == 4.0);
  psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE);
  srv = psock_accept(l, &peer);
  assert_non_null(srv);
  psock_close(srv);
  psock_close(c);

  /* Refused: the error of the last attempt. */
  psock_close(l);
  c = psock_create_connection(&a, 1.0, NULL);
  assert_null(c);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);

  /* Only inet addresses. */
  psock_addr_unix(&a, "/x");
  assert_null(psock_create_connection(&a, 1.0, NULL));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
}

static void test_privileged_options_go_to_daemon(void **state) {
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  const char ifname[] = "lo";
  int v = 0;

  assert_non_null(s);
  /* Unprivileged: set on the fd, psockd never hears of it. */
  assert_int_equal(psock_setsockopt(s, SOL_SOCKET, SO_BROADCAST, 1), 0);
  assert_int_equal(psock_getsockopt(s, SOL_SOCKET, SO_BROADCAST, &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(psock_setsockopt(s, SOL_SOCKET, SO_PRIORITY, 6), 0);
  assert_int_equal(atomic_load(&fk.setsockopt_calls), 0);

  /* Privileged: psockd sets them (this fake just says yes). */
  assert_int_equal(psock_setsockopt(s, SOL_SOCKET, SO_PRIORITY, 7), 0);
  assert_int_equal(atomic_load(&fk.setsockopt_last), SO_PRIORITY);
  assert_int_equal(psock_setsockopt(s, SOL_SOCKET, SO_MARK, 5), 0);
  assert_int_equal(atomic_load(&fk.setsockopt_last), SO_MARK);
  assert_int_equal(psock_setsockopt_buf(s, SOL_SOCKET, SO_BINDTODEVICE, ifname,
                                        sizeof(ifname)),
                   0);
  assert_int_equal(atomic_load(&fk.setsockopt_last), SO_BINDTODEVICE);
  assert_int_equal(psock_setsockopt(s, SOL_IP, IP_TRANSPARENT, 1), 0);
  assert_int_equal(atomic_load(&fk.setsockopt_calls), 4);

  /* PSOCK_ROUTE=daemon: every option goes there. */
  setenv("PSOCK_ROUTE", "daemon", 1);
  assert_int_equal(psock_setsockopt(s, SOL_SOCKET, SO_BROADCAST, 0), 0);
  unsetenv("PSOCK_ROUTE");
  assert_int_equal(atomic_load(&fk.setsockopt_calls), 5);
  assert_int_equal(atomic_load(&fk.setsockopt_last), SO_BROADCAST);
  psock_close(s);
}

struct delayed_connect {
  uint16_t port;
};

static void *connect_later(void *p) {
  struct delayed_connect *dc = p;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(dc->port)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  usleep(150000);
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  connect(fd, (struct sockaddr *)&sin, sizeof(sin));
  usleep(200000);
  close(fd);
  return NULL;
}

static void test_route_daemon_accept_waits(void **state) {
  struct delayed_connect dc;
  psock_address peer;
  psock_sock *l, *c;
  pthread_t t;

  l = tcp_listener(&dc.port);
  setenv("PSOCK_ROUTE", "daemon", 1);
  /* Timeout mode: psockd says "not ready" until the time is up. */
  assert_int_equal(psock_settimeout(l, 0.1), 0);
  assert_null(psock_accept(l, &peer));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_TIMEOUT);
  assert_true(atomic_load(&fk.accept_calls) >= 1);

  /* Blocking mode: psockd's non-blocking attempt fails at first, the
   * client waits for the connection and asks again. */
  assert_int_equal(psock_setblocking(l, 1), 0);
  psock_clear_error();
  assert_int_equal(pthread_create(&t, NULL, connect_later, &dc), 0);
  c = psock_accept(l, &peer);
  unsetenv("PSOCK_ROUTE");
  assert_non_null(c);
  assert_int_equal(peer.family, AF_INET);
  assert_string_equal(peer.u.in.host, "127.0.0.1");
  assert_true(atomic_load(&fk.accept_calls) >= 3);
  /* The "not ready" answers on the way were not the caller's errors. */
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_NONE);
  pthread_join(t, NULL);
  psock_close(c);
  psock_close(l);
}

static void test_unix_paths_bound_by_client(void **state) {
  psock_sock *l = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  psock_sock *c = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  psock_address a, peer;
  char path[96];
  struct stat st;
  psock_sock *srv;

  assert_non_null(l);
  assert_non_null(c);
  /* From here psockd refuses every bind and connect... */
  fk.mode = FAKE_POLICY;
  snprintf(path, sizeof(path), "%s/app.sock", fk.dir);
  psock_addr_unix(&a, path);
  /* ...but a path is the client's own business: its mount namespace,
   * its credentials. */
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(psock_listen(l, 1), -1); /* listen is psockd's */
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(listen(psock_fileno(l), 1), 0);
  assert_int_equal(psock_settimeout(c, 1.0), 0);
  assert_int_equal(psock_connect(c, &a), 0);
  srv = psock_accept(l, &peer);
  assert_non_null(srv);

  /* An abstract name is not a file: psockd decides, and here refuses. */
  psock_addr_unix_abstract(&a, "psock-unit", 10);
  assert_int_equal(psock_connect(c, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  psock_close(srv);
  psock_close(c);
  psock_close(l);
  unlink(path);
}

#define STRESS_THREADS 6
#define STRESS_CALLS 100

static void *stress_thread(void *p) {
  int *failures = p;

  for (int i = 0; i < STRESS_CALLS; i++) {
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    if (!s)
      (*failures)++;
    psock_close(s);
  }
  return NULL;
}

static void test_threads_share_the_pool(void **state) {
  int failures[STRESS_THREADS] = {0};
  pthread_t t[STRESS_THREADS];

  for (int i = 0; i < STRESS_THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, stress_thread, &failures[i]),
                     0);
  for (int i = 0; i < STRESS_THREADS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(failures[i], 0);
  }
  assert_int_equal(atomic_load(&fk.socket_calls),
                   STRESS_THREADS * STRESS_CALLS);
  /* Connections are reused, not opened per call. */
  assert_true(atomic_load(&fk.connections) < STRESS_THREADS * STRESS_CALLS / 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_helpers),
      cmocka_unit_test(test_addr_format),
      cmocka_unit_test(test_proto_round_trip),
      cmocka_unit_test(test_sockaddr_round_trip),
      cmocka_unit_test(test_sockaddr_to_address),
      cmocka_unit_test(test_from_proto_rejects),
      cmocka_unit_test(test_unreachable_daemon),
      cmocka_unit_test_setup_teardown(test_wrong_protocol_version, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_socket_from_daemon, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_daemon_os_error, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_policy_refusal, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_fd_count_mismatch, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_reconnects_after_drop, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_daemon_timeout, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_child_after_fork_opens_its_own,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_program_reuses_our_fd_number,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_connect_and_accept, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_connect_refused, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_create_connection, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_privileged_options_go_to_daemon,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_route_daemon_accept_waits,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_unix_paths_bound_by_client,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_threads_share_the_pool, fake_start,
                                      fake_stop),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
