/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proto/addr.c: every family's Address -> sockaddr ->
 * Address round trip, the exact sockaddr bytes built, and each refusal the
 * codec owes the daemon for client-supplied fields (next to its accepted
 * twin).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/tipc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define SUN_OFF offsetof(struct sockaddr_un, sun_path)

static Psock__V1__Address unix_path(const void *p, size_t len) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;

  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  a.unix_path.data = (uint8_t *)p;
  a.unix_path.len = len;
  return a;
}

static Psock__V1__Address unix_abstract(const void *p, size_t len) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;

  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
  a.unix_abstract.data = (uint8_t *)p;
  a.unix_abstract.len = len;
  return a;
}

static Psock__V1__Address inet(Psock__V1__InetAddress *in, const char *host,
                               uint32_t port) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;

  psock__v1__inet_address__init(in);
  in->host = (char *)host;
  in->port = port;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  a.inet = in;
  return a;
}

static Psock__V1__Address inet6(Psock__V1__Inet6Address *in, const char *host,
                                uint32_t port) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;

  psock__v1__inet6_address__init(in);
  in->host = (char *)host;
  in->port = port;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_INET6;
  a.inet6 = in;
  return a;
}

static Psock__V1__Address tipc(Psock__V1__TipcAddress *t, uint32_t type,
                               uint32_t v1, uint32_t v2, uint32_t v3) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;

  psock__v1__tipc_address__init(t);
  t->addr_type = type;
  t->v1 = v1;
  t->v2 = v2;
  t->v3 = v3;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_TIPC;
  a.tipc = t;
  return a;
}

/* Equal when both pack to the same bytes: every field and has_ flag. */
static void assert_addr_equal(const Psock__V1__Address *a,
                              const Psock__V1__Address *b) {
  uint8_t pa[512], pb[512];
  size_t la, lb;

  assert_int_equal(a->addr_case, b->addr_case);
  la = psock__v1__address__get_packed_size(a);
  lb = psock__v1__address__get_packed_size(b);
  assert_true(la <= sizeof(pa) && lb <= sizeof(pb));
  assert_int_equal(psock__v1__address__pack(a, pa), la);
  assert_int_equal(psock__v1__address__pack(b, pb), lb);
  assert_int_equal(la, lb);
  assert_memory_equal(pa, pb, la);
}

/* Address -> sockaddr -> Address must give back the same Address. */
static void roundtrip(const Psock__V1__Address *a, socklen_t want_len,
                      int want_family) {
  struct sockaddr_storage ss;
  struct addr_buf buf;
  Psock__V1__Address *back = NULL;
  socklen_t len = 0;

  assert_int_equal(addr_family(a), want_family);
  assert_int_equal(addr_to_sockaddr(a, &ss, &len), 0);
  assert_int_equal(len, want_len);
  assert_int_equal(ss.ss_family, want_family);
  assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len, &buf, &back),
                   0);
  assert_ptr_equal(back, &buf.addr);
  assert_addr_equal(a, back);
}

/* A refused Address leaves both outputs exactly as they were. */
static void assert_refused(const Psock__V1__Address *a, int err) {
  struct sockaddr_storage ss, orig;
  socklen_t len = 4242;

  memset(&ss, 0xa5, sizeof(ss));
  orig = ss;
  assert_int_equal(addr_to_sockaddr(a, &ss, &len), err);
  assert_int_equal(len, 4242);
  assert_memory_equal(&ss, &orig, sizeof(ss));
}

static void test_unix_path(void **state) {
  const char path[] = "/run/psockd/psockd.sock";
  Psock__V1__Address a = unix_path(path, strlen(path));
  struct sockaddr_storage ss;
  struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
  socklen_t len;

  (void)state;
  roundtrip(&a, (socklen_t)(SUN_OFF + strlen(path) + 1), AF_UNIX);
  memset(&ss, 0xff, sizeof(ss));
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_string_equal(sun->sun_path, path);
  /* The storage was zeroed first: nothing stale past the path. */
  for (size_t i = SUN_OFF + strlen(path); i < sizeof(ss); i++)
    assert_int_equal(((unsigned char *)&ss)[i], 0);
}

static void test_unix_path_full_length(void **state) {
  char path[SUN_PATH_MAX];
  Psock__V1__Address a;
  struct sockaddr_storage ss;
  socklen_t len;

  (void)state;
  memset(path, 'x', sizeof(path));
  path[0] = '/';
  a = unix_path(path, sizeof(path));
  /* Fills sun_path with no terminator, as the kernel accepts. */
  roundtrip(&a, (socklen_t)(SUN_OFF + SUN_PATH_MAX), AF_UNIX);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_memory_equal(((struct sockaddr_un *)&ss)->sun_path, path,
                      sizeof(path));
}

static void test_unix_unnamed(void **state) {
  Psock__V1__Address a = unix_path(NULL, 0);

  (void)state;
  roundtrip(&a, (socklen_t)SUN_OFF, AF_UNIX);
}

static void test_unix_abstract(void **state) {
  /* Abstract names are arbitrary bytes, NULs included. */
  const char name[] = "psock\0test";
  Psock__V1__Address a = unix_abstract(name, sizeof(name) - 1);
  struct sockaddr_storage ss;
  struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
  socklen_t len;
  char full[SUN_PATH_MAX - 1];

  (void)state;
  roundtrip(&a, (socklen_t)(SUN_OFF + 1 + sizeof(name) - 1), AF_UNIX);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(sun->sun_path[0], '\0');
  assert_memory_equal(sun->sun_path + 1, name, sizeof(name) - 1);

  memset(full, 'n', sizeof(full));
  a = unix_abstract(full, sizeof(full));
  roundtrip(&a, (socklen_t)(SUN_OFF + SUN_PATH_MAX), AF_UNIX);
}

static void test_unix_rejects(void **state) {
  char longpath[SUN_PATH_MAX + 1];
  Psock__V1__Address a;

  (void)state;
  a = unix_path("/tmp/a\0b", 8);
  assert_refused(&a, -EINVAL);
  memset(longpath, 'x', sizeof(longpath));
  a = unix_path(longpath, sizeof(longpath));
  assert_refused(&a, -ENAMETOOLONG);
  /* An abstract name has one byte less: the leading NUL. */
  a = unix_abstract(longpath, SUN_PATH_MAX);
  assert_refused(&a, -ENAMETOOLONG);
}

static void test_inet(void **state) {
  Psock__V1__InetAddress in;
  Psock__V1__Address a = inet(&in, "127.0.0.1", 8080);
  struct sockaddr_storage ss;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  socklen_t len;

  (void)state;
  roundtrip(&a, sizeof(struct sockaddr_in), AF_INET);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(sin->sin_port, htons(8080));
  assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

  a = inet(&in, "0.0.0.0", 65535);
  roundtrip(&a, sizeof(struct sockaddr_in), AF_INET);
}

static void test_inet_special_hosts(void **state) {
  Psock__V1__InetAddress in;
  Psock__V1__Address a;
  struct sockaddr_storage ss;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  socklen_t len;

  (void)state;
  a = inet(&in, "", 80);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
  assert_int_equal(sin->sin_port, htons(80));

  a = inet(&in, ADDR_BROADCAST_HOST, 9);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_BROADCAST));
  assert_int_equal(len, sizeof(struct sockaddr_in));
}

static void test_inet_rejects(void **state) {
  Psock__V1__InetAddress in;
  Psock__V1__Address a;

  (void)state;
  a = inet(&in, "127.0.0.1", 65536);
  assert_refused(&a, -EINVAL);
  /* inet_aton() would accept these; they are names to resolve here. */
  a = inet(&in, "1.2.3", 80);
  assert_refused(&a, -ENOENT);
  a = inet(&in, "0x7f.1", 80);
  assert_refused(&a, -ENOENT);
  a = inet(&in, "localhost", 80);
  assert_refused(&a, -ENOENT);
  a = inet(&in, NULL, 80);
  assert_refused(&a, -EINVAL);
}

static void test_inet6(void **state) {
  Psock__V1__Inet6Address in6;
  Psock__V1__Address a = inet6(&in6, "fe80::1", 443);
  struct sockaddr_storage ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  struct in6_addr want;
  socklen_t len;

  (void)state;
  in6.has_flowinfo = true;
  in6.flowinfo = 0xfffff;
  in6.has_scope_id = true;
  in6.scope_id = 3;
  roundtrip(&a, sizeof(struct sockaddr_in6), AF_INET6);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(inet_pton(AF_INET6, "fe80::1", &want), 1);
  assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
  assert_int_equal(sin6->sin6_port, htons(443));
  assert_int_equal(sin6->sin6_flowinfo, htonl(0xfffff));
  assert_int_equal(sin6->sin6_scope_id, 3);

  /* Absent optional fields are 0, and come back present as 0. */
  a = inet6(&in6, "::1", 80);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(sin6->sin6_flowinfo, 0);
  assert_int_equal(sin6->sin6_scope_id, 0);
  in6.has_flowinfo = in6.has_scope_id = true;
  roundtrip(&a, sizeof(struct sockaddr_in6), AF_INET6);
}

static void test_inet6_special_hosts(void **state) {
  Psock__V1__Inet6Address in6;
  Psock__V1__Address a = inet6(&in6, "", 80);
  struct sockaddr_storage ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  socklen_t len;

  (void)state;
  memset(&ss, 0xff, sizeof(ss));
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_memory_equal(&sin6->sin6_addr, &in6addr_any, sizeof(in6addr_any));
  /* No broadcast in IPv6. */
  a = inet6(&in6, ADDR_BROADCAST_HOST, 80);
  assert_refused(&a, -EINVAL);
}

static void test_inet6_rejects(void **state) {
  Psock__V1__Inet6Address in6;
  Psock__V1__Address a;

  (void)state;
  a = inet6(&in6, "::1", 65536);
  assert_refused(&a, -EINVAL);
  a = inet6(&in6, "::1", 80);
  in6.has_flowinfo = true;
  in6.flowinfo = 0x100000;
  assert_refused(&a, -EINVAL);
  /* Numeric only: a %scope suffix is a name, the scope is scope_id. */
  a = inet6(&in6, "fe80::1%lo", 80);
  assert_refused(&a, -ENOENT);
  a = inet6(&in6, "127.0.0.1", 80);
  assert_refused(&a, -ENOENT);
  a = inet6(&in6, "ip6-localhost", 80);
  assert_refused(&a, -ENOENT);
}

static void test_netlink(void **state) {
  Psock__V1__NetlinkAddress nl = PSOCK__V1__NETLINK_ADDRESS__INIT;
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  struct sockaddr_storage ss;
  struct sockaddr_nl *snl = (struct sockaddr_nl *)&ss;
  socklen_t len;

  (void)state;
  nl.pid = 1234;
  nl.groups = 0x11;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_NETLINK;
  a.netlink = &nl;
  roundtrip(&a, sizeof(struct sockaddr_nl), AF_NETLINK);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(snl->nl_pid, 1234);
  assert_int_equal(snl->nl_groups, 0x11);
}

static void test_tipc(void **state) {
  Psock__V1__TipcAddress t;
  Psock__V1__Address a;
  struct sockaddr_storage ss;
  struct sockaddr_tipc *st = (struct sockaddr_tipc *)&ss;
  socklen_t len;

  (void)state;
  a = tipc(&t, TIPC_ADDR_NAMESEQ, 1000, 1, 9);
  t.has_scope = true;
  t.scope = TIPC_NODE_SCOPE;
  roundtrip(&a, sizeof(struct sockaddr_tipc), AF_TIPC);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(st->addrtype, TIPC_ADDR_NAMESEQ);
  assert_int_equal(st->scope, TIPC_NODE_SCOPE);
  assert_int_equal(st->addr.nameseq.type, 1000);
  assert_int_equal(st->addr.nameseq.lower, 1);
  assert_int_equal(st->addr.nameseq.upper, 9);

  a = tipc(&t, TIPC_ADDR_NAME, 1000, 7, 5);
  t.has_scope = true;
  t.scope = TIPC_ZONE_SCOPE;
  roundtrip(&a, sizeof(struct sockaddr_tipc), AF_TIPC);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(st->addr.name.name.type, 1000);
  assert_int_equal(st->addr.name.name.instance, 7);
  assert_int_equal(st->addr.name.domain, 5);

  /* TIPC_ADDR_ID has no third value. */
  a = tipc(&t, TIPC_ADDR_ID, 0x1001002, 77, 0);
  t.has_scope = true;
  t.scope = TIPC_CLUSTER_SCOPE;
  roundtrip(&a, sizeof(struct sockaddr_tipc), AF_TIPC);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(st->addr.id.node, 0x1001002);
  assert_int_equal(st->addr.id.ref, 77);

  /* Scope defaults to cluster. */
  a = tipc(&t, TIPC_ADDR_NAME, 1, 2, 0);
  assert_int_equal(addr_to_sockaddr(&a, &ss, &len), 0);
  assert_int_equal(st->scope, TIPC_CLUSTER_SCOPE);
}

static void test_tipc_rejects(void **state) {
  Psock__V1__TipcAddress t;
  Psock__V1__Address a;

  (void)state;
  a = tipc(&t, 0, 1, 2, 3);
  assert_refused(&a, -EINVAL);
  a = tipc(&t, 4, 1, 2, 3);
  assert_refused(&a, -EINVAL);
  a = tipc(&t, TIPC_ADDR_NAME, 1, 2, 3);
  t.has_scope = true;
  t.scope = 0;
  assert_refused(&a, -EINVAL);
  t.scope = 4;
  assert_refused(&a, -EINVAL);
  /* A negative scope would ask bind() to withdraw a binding. */
  t.scope = (uint32_t)-2;
  assert_refused(&a, -EINVAL);
  t.scope = 256 + TIPC_NODE_SCOPE;
  assert_refused(&a, -EINVAL);
}

static void test_empty_address(void **state) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;

  (void)state;
  assert_int_equal(addr_family(&a), AF_UNSPEC);
  assert_int_equal(addr_family(NULL), AF_UNSPEC);
  assert_refused(&a, -EAFNOSUPPORT);
}

static void test_from_sockaddr_short(void **state) {
  struct sockaddr_storage ss;
  struct addr_buf buf;
  Psock__V1__Address *ret = (Psock__V1__Address *)&ret;
  const struct {
    int family;
    socklen_t min;
  } fams[] = {
      {AF_UNIX, SUN_OFF},
      {AF_INET, sizeof(struct sockaddr_in)},
      {AF_INET6, sizeof(struct sockaddr_in6)},
      {AF_NETLINK, sizeof(struct sockaddr_nl)},
      {AF_TIPC, sizeof(struct sockaddr_tipc)},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)fams[i].family;
    if (fams[i].family == AF_TIPC)
      ((struct sockaddr_tipc *)&ss)->addrtype = TIPC_ADDR_ID;
    assert_int_equal(
        addr_from_sockaddr((struct sockaddr *)&ss, fams[i].min - 1, &buf, &ret),
        -EINVAL);
    assert_ptr_equal(ret, (Psock__V1__Address *)&ret);
    assert_int_equal(
        addr_from_sockaddr((struct sockaddr *)&ss, fams[i].min, &buf, &ret), 0);
    assert_int_equal(addr_family(ret), fams[i].family);
    ret = (Psock__V1__Address *)&ret;
  }
  assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, 1, &buf, &ret),
                   -EINVAL);
}

static void test_from_sockaddr_unknown(void **state) {
  struct sockaddr_storage ss;
  struct addr_buf buf;
  Psock__V1__Address *ret = NULL;

  (void)state;
  memset(&ss, 0, sizeof(ss));
  ss.ss_family = AF_PACKET;
  assert_int_equal(
      addr_from_sockaddr((struct sockaddr *)&ss, sizeof(ss), &buf, &ret),
      -EAFNOSUPPORT);
  ss.ss_family = AF_UNSPEC;
  assert_int_equal(
      addr_from_sockaddr((struct sockaddr *)&ss, sizeof(ss), &buf, &ret),
      -EAFNOSUPPORT);
  /* TIPC with an address type the kernel does not define. */
  ss.ss_family = AF_TIPC;
  ((struct sockaddr_tipc *)&ss)->addrtype = 9;
  assert_int_equal(
      addr_from_sockaddr((struct sockaddr *)&ss, sizeof(ss), &buf, &ret),
      -EINVAL);
  assert_null(ret);
}

/* What the kernel hands back: lengths that count the NUL, autobind names. */
static void test_from_sockaddr_unix(void **state) {
  struct sockaddr_un sun;
  struct addr_buf buf;
  Psock__V1__Address *ret = NULL;

  (void)state;
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  strcpy(sun.sun_path, "/tmp/x.sock");
  /* A len past the NUL (getsockname may return sizeof) stops at the NUL. */
  assert_int_equal(
      addr_from_sockaddr((struct sockaddr *)&sun, sizeof(sun), &buf, &ret), 0);
  assert_int_equal(ret->addr_case, PSOCK__V1__ADDRESS__ADDR_UNIX_PATH);
  assert_int_equal(ret->unix_path.len, strlen("/tmp/x.sock"));
  assert_memory_equal(ret->unix_path.data, "/tmp/x.sock", ret->unix_path.len);
  /* No allocation: the bytes live in buf. */
  assert_ptr_equal(ret->unix_path.data, buf.path);

  /* Unnamed. */
  assert_int_equal(
      addr_from_sockaddr((struct sockaddr *)&sun, SUN_OFF, &buf, &ret), 0);
  assert_int_equal(ret->addr_case, PSOCK__V1__ADDRESS__ADDR_UNIX_PATH);
  assert_int_equal(ret->unix_path.len, 0);

  /* Autobind abstract name: NUL + 5 hex digits. */
  memset(&sun.sun_path, 0, sizeof(sun.sun_path));
  memcpy(sun.sun_path + 1, "0a1b2", 5);
  assert_int_equal(addr_from_sockaddr((struct sockaddr *)&sun,
                                      (socklen_t)(SUN_OFF + 6), &buf, &ret),
                   0);
  assert_int_equal(ret->addr_case, PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT);
  assert_int_equal(ret->unix_abstract.len, 5);
  assert_memory_equal(ret->unix_abstract.data, "0a1b2", 5);
}

static void test_from_sockaddr_no_alloc(void **state) {
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
  struct addr_buf buf;
  Psock__V1__Address *ret = NULL;

  (void)state;
  sin6.sin6_addr = in6addr_loopback;
  sin6.sin6_port = htons(53);
  assert_int_equal(
      addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &buf, &ret),
      0);
  assert_ptr_equal(ret, &buf.addr);
  assert_ptr_equal(ret->inet6, &buf.u.inet6);
  assert_ptr_equal(ret->inet6->host, buf.host);
  assert_string_equal(ret->inet6->host, "::1");
  assert_int_equal(ret->inet6->port, 53);
  assert_true(ret->inet6->has_flowinfo && ret->inet6->has_scope_id);
}

static void test_needs_lookup(void **state) {
  Psock__V1__InetAddress in;
  Psock__V1__Inet6Address in6;
  Psock__V1__Address a;

  (void)state;
  a = inet(&in, "localhost", 80);
  assert_true(addr_needs_lookup(&a));
  a = inet(&in, "1.2.3", 80);
  assert_true(addr_needs_lookup(&a));
  a = inet(&in, "10.0.0.1", 80);
  assert_false(addr_needs_lookup(&a));
  a = inet(&in, "", 80);
  assert_false(addr_needs_lookup(&a));
  a = inet(&in, ADDR_BROADCAST_HOST, 80);
  assert_false(addr_needs_lookup(&a));

  a = inet6(&in6, "example.org", 80);
  assert_true(addr_needs_lookup(&a));
  a = inet6(&in6, "2001:db8::1", 80);
  assert_false(addr_needs_lookup(&a));
  a = inet6(&in6, "", 80);
  assert_false(addr_needs_lookup(&a));

  /* Only inet families have names to resolve. */
  a = unix_path("localhost", 9);
  assert_false(addr_needs_lookup(&a));
  a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  assert_false(addr_needs_lookup(&a));
}

static void assert_format(const Psock__V1__Address *a, const char *want) {
  char out[128];

  memset(out, 'Z', sizeof(out));
  addr_format(a, out, sizeof(out));
  assert_string_equal(out, want);
}

static void test_format(void **state) {
  Psock__V1__InetAddress in;
  Psock__V1__Inet6Address in6;
  Psock__V1__NetlinkAddress nl = PSOCK__V1__NETLINK_ADDRESS__INIT;
  Psock__V1__TipcAddress t;
  Psock__V1__Address a;
  char small[8];

  (void)state;
  a = inet(&in, "127.0.0.1", 80);
  assert_format(&a, "inet:127.0.0.1:80");
  a = unix_path("/path", 5);
  assert_format(&a, "unix:/path");
  a = unix_abstract("name", 4);
  assert_format(&a, "unix-abstract:name");
  a = inet6(&in6, "::1", 80);
  assert_format(&a, "inet6:[::1]:80%0");
  in6.has_scope_id = true;
  in6.scope_id = 2;
  assert_format(&a, "inet6:[::1]:80%2");
  a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_NETLINK;
  a.netlink = &nl;
  assert_format(&a, "netlink:0:0");
  a = tipc(&t, 2, 1000, 1, 1);
  assert_format(&a, "tipc:2:1000:1:1");
  a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  assert_format(&a, "none");

  /* Client bytes cannot forge log lines. */
  a = unix_abstract("a\nb\\\0", 5);
  assert_format(&a, "unix-abstract:a\\x0ab\\x5c\\x00");

  /* Truncated, always terminated. */
  a = inet(&in, "127.0.0.1", 80);
  addr_format(&a, small, sizeof(small));
  assert_string_equal(small, "inet:12");
  small[0] = 'Q';
  addr_format(&a, small, 0);
  assert_int_equal(small[0], 'Q');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unix_path),
      cmocka_unit_test(test_unix_path_full_length),
      cmocka_unit_test(test_unix_unnamed),
      cmocka_unit_test(test_unix_abstract),
      cmocka_unit_test(test_unix_rejects),
      cmocka_unit_test(test_inet),
      cmocka_unit_test(test_inet_special_hosts),
      cmocka_unit_test(test_inet_rejects),
      cmocka_unit_test(test_inet6),
      cmocka_unit_test(test_inet6_special_hosts),
      cmocka_unit_test(test_inet6_rejects),
      cmocka_unit_test(test_netlink),
      cmocka_unit_test(test_tipc),
      cmocka_unit_test(test_tipc_rejects),
      cmocka_unit_test(test_empty_address),
      cmocka_unit_test(test_from_sockaddr_short),
      cmocka_unit_test(test_from_sockaddr_unknown),
      cmocka_unit_test(test_from_sockaddr_unix),
      cmocka_unit_test(test_from_sockaddr_no_alloc),
      cmocka_unit_test(test_needs_lookup),
      cmocka_unit_test(test_format),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
