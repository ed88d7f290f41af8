/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client's address codec (client/address.c): the psock_addr_*
 * helpers and their limits, psock_address <-> wire Address round trips for
 * every family, sockaddr -> psock_address for every family,
 * psock_addr_format; and a call against no daemon at all.
 *
 * The connection to psockd is tested in test_client_conn.c, the calls on
 * sockets in test_client_calls.c, both against tests/unit/fake_psockd.c.
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

#include "../../client/address.h"
#include "../../client/conn.h"
#include "fake_psockd.h"
#include "wire.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_helpers),
      cmocka_unit_test(test_addr_format),
      cmocka_unit_test(test_proto_round_trip),
      cmocka_unit_test(test_sockaddr_round_trip),
      cmocka_unit_test(test_sockaddr_to_address),
      cmocka_unit_test(test_from_proto_rejects),
      cmocka_unit_test(test_unreachable_daemon),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
