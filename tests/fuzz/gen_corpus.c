/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpora of the fuzz targets: valid requests built with
 * the protoc-c structs (one seed per call, each after a handshake, plus a
 * few that break one rule), Addresses and sockaddrs of every family, and
 * psockd-priv requests of every operation. The seeds are checked in under
 * tests/fuzz/corpus/; run this again after a schema change:
 *
 *   build-fuzz/tests/fuzz/gen_corpus tests/fuzz/corpus
 *
 * Formats: tests/fuzz/fuzz.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/tipc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fuzz.h"
#include "privproto.h"
#include "psock.pb-c.h"
#include "wire.h"

static const char *out_dir;
static unsigned written;

static void write_file(const char *sub, const char *name, const void *data,
                       size_t len) {
  char path[4096];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", out_dir, sub);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
  f = fopen(path, "wbe");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
  written++;
}

/* ------------------------------------------------------------ dispatch */

struct seq {
  uint8_t buf[8192];
  size_t len;
};

static void add_record(struct seq *s, uint8_t ctl, uint8_t kinds,
                       const void *pkt, size_t len) {
  if (s->len + FUZZ_RECORD_HEADER + len > sizeof(s->buf))
    abort();
  s->buf[s->len++] = ctl;
  s->buf[s->len++] = kinds;
  s->buf[s->len++] = (uint8_t)(len & 0xff);
  s->buf[s->len++] = (uint8_t)(len >> 8);
  memcpy(s->buf + s->len, pkt, len);
  s->len += len;
}

static void add_request(struct seq *s, uint8_t ctl, uint8_t kinds,
                        Psock__V1__Request *req) {
  uint8_t pkt[4096];
  size_t n;

  req->fd_count = (uint32_t)(ctl & FUZZ_CTL_NFDS_MASK);
  if (psock__v1__request__get_packed_size(req) > sizeof(pkt))
    abort();
  n = psock__v1__request__pack(req, pkt);
  add_record(s, ctl, kinds, pkt, n);
}

static void add_hello(struct seq *s, uint32_t version) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;

  h.protocol_version = version;
  h.client_version = (char *)"fuzz";
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  add_request(s, 0, 0, &req);
}

/* Hello, then req with nfds fds of kind, as one seed. */
static void dispatch_seed(const char *name, Psock__V1__Request *req,
                          unsigned nfds, unsigned kind) {
  struct seq s = {.len = 0};

  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  req->id = 2;
  add_request(&s, (uint8_t)nfds, (uint8_t)(kind | kind << 3), req);
  write_file("dispatch", name, s.buf, s.len);
}

static Psock__V1__Address *mk_abstract(const char *name) {
  static Psock__V1__Address a;

  a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
  a.unix_abstract.data = (uint8_t *)name;
  a.unix_abstract.len = strlen(name);
  return &a;
}

static Psock__V1__Address *mk_inet(const char *host, uint32_t port) {
  static Psock__V1__InetAddress in;
  static Psock__V1__Address a;

  in = (Psock__V1__InetAddress)PSOCK__V1__INET_ADDRESS__INIT;
  a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  in.host = (char *)host;
  in.port = port;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  a.inet = &in;
  return &a;
}

#define REQ(field, CASE, T, INIT)                                              \
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;                           \
  T field = INIT;                                                              \
  req.call_case = PSOCK__V1__REQUEST__CALL_##CASE;                             \
  req.field = &field

static void seed_socket(void) {
  REQ(socket, SOCKET, Psock__V1__SocketRequest,
      PSOCK__V1__SOCKET_REQUEST__INIT);
  socket.family = AF_INET;
  socket.type = SOCK_STREAM;
  dispatch_seed("socket_tcp", &req, 0, 0);
  socket.family = AF_INET6;
  socket.type = SOCK_DGRAM | SOCK_NONBLOCK;
  dispatch_seed("socket_udp6", &req, 0, 0);
  socket.family = AF_INET;
  socket.type = SOCK_RAW;
  socket.proto = IPPROTO_ICMP;
  dispatch_seed("socket_raw_denied", &req, 0, 0);
}

/* Seeds of odd length: fuzz_dispatch runs them without --audit-allow, so
 * that a batch kind gives a batch (one byte more than a record holds is
 * ignored). */
static void write_odd(const char *name, struct seq *s) {
  if (s->len % 2 == 0)
    s->buf[s->len++] = 0;
  write_file("dispatch", name, s->buf, s->len);
}

/* Issue 16: a hello that asks for the page, then socket batches of a batch
 * kind (8 sockets), of one that is not (one), and one capped at 8. */
static void seed_page_batch(void) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;
  Psock__V1__SocketRequest sock = PSOCK__V1__SOCKET_REQUEST__INIT;
  struct seq s = {.len = 0};

  h.protocol_version = PSOCK_PROTOCOL_VERSION;
  h.has_page = h.page = true;
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  add_request(&s, 0, 0, &req);
  req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  req.socket = &sock;
  sock.family = AF_INET;
  sock.type = SOCK_STREAM;
  sock.has_batch = true;
  sock.batch = 7;
  req.id = 2;
  add_request(&s, 0, 0, &req);
  sock.family = AF_INET6;
  sock.type = SOCK_DGRAM | SOCK_NONBLOCK;
  sock.proto = IPPROTO_UDP;
  sock.batch = 1000;
  req.id = 3;
  add_request(&s, 0, 0, &req);
  sock.family = AF_INET;
  sock.type = SOCK_RAW;
  sock.proto = IPPROTO_ICMP;
  req.id = 4;
  add_request(&s, 0, 0, &req);
  write_odd("hello_page_socket_batch", &s);
  /* Its twin with --audit-allow: one byte longer, nothing free, no batch. */
  if (s.len % 2)
    s.buf[s.len++] = 0;
  write_file("dispatch", "hello_page_socket_batch_audited", s.buf, s.len);
}

static void seed_socketpair_fromfd(void) {
  {
    REQ(socketpair, SOCKETPAIR, Psock__V1__SocketpairRequest,
        PSOCK__V1__SOCKETPAIR_REQUEST__INIT);
    socketpair.family = AF_UNIX;
    socketpair.type = SOCK_STREAM;
    dispatch_seed("socketpair", &req, 0, 0);
  }
  {
    REQ(fromfd, FROMFD, Psock__V1__FromfdRequest,
        PSOCK__V1__FROMFD_REQUEST__INIT);
    fromfd.family = AF_INET;
    fromfd.type = SOCK_DGRAM;
    dispatch_seed("fromfd", &req, 1, FUZZ_FD_UDP);
    dispatch_seed("fromfd_pipe", &req, 1, FUZZ_FD_PIPE);
  }
}

static void seed_create_connection(void) {
  REQ(create_connection, CREATE_CONNECTION, Psock__V1__CreateConnectionRequest,
      PSOCK__V1__CREATE_CONNECTION_REQUEST__INIT);
  create_connection.host = (char *)"localhost";
  create_connection.port = 1;
  create_connection.has_timeout_ms = true;
  create_connection.timeout_ms = 100;
  dispatch_seed("create_connection", &req, 0, 0);
  create_connection.source_host = (char *)"127.0.0.1";
  create_connection.has_source_port = true;
  dispatch_seed("create_connection_source", &req, 0, 0);
  create_connection.source_host = NULL;
  create_connection.has_source_port = false;
  create_connection.timeout_ms = 0;
  create_connection.host = (char *)"127.0.0.1";
  dispatch_seed("create_connection_timeout_0", &req, 0, 0);
  {
    /* The client leaves while the connect is in progress. */
    struct seq s = {.len = 0};
    add_hello(&s, PSOCK_PROTOCOL_VERSION);
    create_connection.has_timeout_ms = false;
    req.id = 2;
    add_request(&s, FUZZ_CTL_HANGUP, 0, &req);
    write_file("dispatch", "create_connection_hangup", s.buf, s.len);
  }
}

static void seed_bind_connect(void) {
  {
    REQ(bind, BIND, Psock__V1__BindRequest, PSOCK__V1__BIND_REQUEST__INIT);
    Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
    bind.address = mk_inet("127.0.0.1", 0);
    dispatch_seed("bind_inet", &req, 1, FUZZ_FD_UDP);
    bind.address = mk_inet("localhost", 0);
    dispatch_seed("bind_name", &req, 1, FUZZ_FD_TCP);
    bind.address = mk_inet("127.0.0.1", 0);
    dispatch_seed("bind_wrong_family", &req, 1, FUZZ_FD_UNIX_DGRAM);
    a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
    a.unix_abstract.data = (uint8_t *)"psock-fuzz-a";
    a.unix_abstract.len = 12;
    bind.address = &a;
    dispatch_seed("bind_abstract", &req, 1, FUZZ_FD_UNIX_DGRAM);
    a.unix_abstract.data = (uint8_t *)"/tmp/.X11-unix/X0";
    a.unix_abstract.len = 17;
    dispatch_seed("bind_abstract_denied", &req, 1, FUZZ_FD_UNIX_STREAM);
    a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
    a.unix_path.data = (uint8_t *)"/tmp/x\0y";
    a.unix_path.len = 8;
    dispatch_seed("bind_path_nul", &req, 1, FUZZ_FD_UNIX_DGRAM);
  }
  {
    REQ(connect, CONNECT, Psock__V1__ConnectRequest,
        PSOCK__V1__CONNECT_REQUEST__INIT);
    connect.address = mk_inet("127.0.0.1", 1);
    dispatch_seed("connect_udp", &req, 1, FUZZ_FD_UDP);
    dispatch_seed("connect_tcp", &req, 1, FUZZ_FD_TCP);
    connect.address = mk_inet("10.1.2.3", 80);
    dispatch_seed("connect_denied", &req, 1, FUZZ_FD_TCP);
    connect.address = mk_inet("localhost", 1);
    dispatch_seed("connect_name", &req, 1, FUZZ_FD_UDP);
    connect.address = mk_abstract("psock-fuzz-a");
    dispatch_seed("connect_abstract", &req, 1, FUZZ_FD_UNIX_DGRAM);
  }
  {
    REQ(sendto, SENDTO, Psock__V1__SendtoRequest,
        PSOCK__V1__SENDTO_REQUEST__INIT);
    sendto.data.data = (uint8_t *)"ping";
    sendto.data.len = 4;
    sendto.address = mk_inet("127.0.0.1", 1);
    dispatch_seed("sendto", &req, 1, FUZZ_FD_UDP);
    sendto.address = mk_abstract("psock-fuzz-b");
    dispatch_seed("sendto_abstract", &req, 1, FUZZ_FD_UNIX_DGRAM);
  }
}

static void seed_socket_calls(void) {
  {
    REQ(listen, LISTEN, Psock__V1__ListenRequest,
        PSOCK__V1__LISTEN_REQUEST__INIT);
    listen.backlog = 5;
    dispatch_seed("listen", &req, 1, FUZZ_FD_TCP);
  }
  {
    REQ(accept, ACCEPT, Psock__V1__AcceptRequest,
        PSOCK__V1__ACCEPT_REQUEST__INIT);
    dispatch_seed("accept", &req, 1, FUZZ_FD_TCP);
  }
  {
    REQ(setsockopt, SETSOCKOPT, Psock__V1__SetsockoptRequest,
        PSOCK__V1__SETSOCKOPT_REQUEST__INIT);
    setsockopt.level = SOL_SOCKET;
    setsockopt.optname = SO_REUSEADDR;
    setsockopt.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_INT_VALUE;
    setsockopt.int_value = 1;
    dispatch_seed("setsockopt_int", &req, 1, FUZZ_FD_TCP);
    setsockopt.optname = SO_MARK;
    dispatch_seed("setsockopt_mark_denied", &req, 1, FUZZ_FD_TCP);
    setsockopt.optname = SO_BINDTODEVICE;
    setsockopt.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_BUF_VALUE;
    setsockopt.buf_value.data = (uint8_t *)"lo";
    setsockopt.buf_value.len = 3;
    dispatch_seed("setsockopt_buf", &req, 1, FUZZ_FD_UDP);
    setsockopt.level = IPPROTO_TCP;
    setsockopt.optname = TCP_CONGESTION;
    setsockopt.buf_value.data = (uint8_t *)"cubic";
    setsockopt.buf_value.len = 5;
    dispatch_seed("setsockopt_congestion", &req, 1, FUZZ_FD_TCP);
    /* protobuf-c gives an empty bytes field a NULL pointer. */
    setsockopt.level = SOL_SOCKET;
    setsockopt.optname = SO_BINDTODEVICE;
    setsockopt.buf_value.data = NULL;
    setsockopt.buf_value.len = 0;
    dispatch_seed("setsockopt_empty_value", &req, 1, FUZZ_FD_UDP);
  }
  {
    REQ(getsockopt, GETSOCKOPT, Psock__V1__GetsockoptRequest,
        PSOCK__V1__GETSOCKOPT_REQUEST__INIT);
    getsockopt.level = SOL_SOCKET;
    getsockopt.optname = SO_TYPE;
    dispatch_seed("getsockopt", &req, 1, FUZZ_FD_UNIX_STREAM);
    getsockopt.optname = SO_PEERCRED;
    getsockopt.has_buflen = true;
    getsockopt.buflen = 12;
    dispatch_seed("getsockopt_buf", &req, 1, FUZZ_FD_UNIX_STREAM);
  }
  {
    REQ(getsockname, GETSOCKNAME, Psock__V1__GetsocknameRequest,
        PSOCK__V1__GETSOCKNAME_REQUEST__INIT);
    dispatch_seed("getsockname", &req, 1, FUZZ_FD_UDP6);
  }
  {
    REQ(getpeername, GETPEERNAME, Psock__V1__GetpeernameRequest,
        PSOCK__V1__GETPEERNAME_REQUEST__INIT);
    dispatch_seed("getpeername", &req, 1, FUZZ_FD_UNIX_STREAM);
  }
  {
    REQ(shutdown, SHUTDOWN, Psock__V1__ShutdownRequest,
        PSOCK__V1__SHUTDOWN_REQUEST__INIT);
    shutdown.how = SHUT_RDWR;
    dispatch_seed("shutdown", &req, 1, FUZZ_FD_UNIX_STREAM);
  }
}

static void seed_names(void) {
  {
    REQ(getaddrinfo, GETADDRINFO, Psock__V1__GetaddrinfoRequest,
        PSOCK__V1__GETADDRINFO_REQUEST__INIT);
    getaddrinfo.host = (char *)"localhost";
    getaddrinfo.service = (char *)"http";
    getaddrinfo.has_socktype = true;
    getaddrinfo.socktype = SOCK_STREAM;
    dispatch_seed("getaddrinfo", &req, 0, 0);
  }
  {
    REQ(getnameinfo, GETNAMEINFO, Psock__V1__GetnameinfoRequest,
        PSOCK__V1__GETNAMEINFO_REQUEST__INIT);
    getnameinfo.address = mk_inet("127.0.0.1", 22);
    dispatch_seed("getnameinfo", &req, 0, 0);
  }
  {
    Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
    Psock__V1__HostnameRequest h = PSOCK__V1__HOSTNAME_REQUEST__INIT;
    h.name = (char *)"localhost";
    req.call_case = PSOCK__V1__REQUEST__CALL_GETHOSTBYNAME;
    req.gethostbyname = &h;
    dispatch_seed("gethostbyname", &req, 0, 0);
    req.call_case = PSOCK__V1__REQUEST__CALL_GETHOSTBYNAME_EX;
    req.gethostbyname_ex = &h;
    dispatch_seed("gethostbyname_ex", &req, 0, 0);
    h.name = (char *)"127.0.0.1";
    req.call_case = PSOCK__V1__REQUEST__CALL_GETHOSTBYADDR;
    req.gethostbyaddr = &h;
    dispatch_seed("gethostbyaddr", &req, 0, 0);
  }
  {
    REQ(gethostname, GETHOSTNAME, Psock__V1__GethostnameRequest,
        PSOCK__V1__GETHOSTNAME_REQUEST__INIT);
    dispatch_seed("gethostname", &req, 0, 0);
  }
  {
    REQ(getfqdn, GETFQDN, Psock__V1__GetfqdnRequest,
        PSOCK__V1__GETFQDN_REQUEST__INIT);
    getfqdn.name = (char *)"localhost";
    dispatch_seed("getfqdn", &req, 0, 0);
  }
  {
    REQ(getprotobyname, GETPROTOBYNAME, Psock__V1__GetprotobynameRequest,
        PSOCK__V1__GETPROTOBYNAME_REQUEST__INIT);
    getprotobyname.name = (char *)"tcp";
    dispatch_seed("getprotobyname", &req, 0, 0);
  }
  {
    REQ(getservbyname, GETSERVBYNAME, Psock__V1__GetservbynameRequest,
        PSOCK__V1__GETSERVBYNAME_REQUEST__INIT);
    getservbyname.name = (char *)"ssh";
    getservbyname.proto = (char *)"tcp";
    dispatch_seed("getservbyname", &req, 0, 0);
  }
  {
    REQ(getservbyport, GETSERVBYPORT, Psock__V1__GetservbyportRequest,
        PSOCK__V1__GETSERVBYPORT_REQUEST__INIT);
    getservbyport.port = 80;
    dispatch_seed("getservbyport", &req, 0, 0);
  }
  {
    REQ(has_ipv6, HAS_IPV6, Psock__V1__HasIpv6Request,
        PSOCK__V1__HAS_IPV6_REQUEST__INIT);
    dispatch_seed("has_ipv6", &req, 0, 0);
  }
}

/* Seeds that break one rule each, and a pipelined sequence. */
static void seed_hostile(void) {
  struct seq s = {.len = 0};
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetaddrinfoRequest gai = PSOCK__V1__GETADDRINFO_REQUEST__INIT;
  Psock__V1__BindRequest bind = PSOCK__V1__BIND_REQUEST__INIT;
  /* Request with an unknown oneof member (field 50, an empty message). */
  static const uint8_t unknown[] = {0x08, 0x02, 0x10, 0x00, 0x92, 0x03, 0x00};

  add_hello(&s, PSOCK_PROTOCOL_VERSION + 1);
  write_file("dispatch", "hello_wrong_version", s.buf, s.len);
  s.len = 0;
  add_hello(&s, 1);
  write_file("dispatch", "hello_version_1", s.buf, s.len);

  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  add_record(&s, 0, 0, unknown, sizeof(unknown));
  write_file("dispatch", "unknown_call", s.buf, s.len);

  /* Three lookups left pending, one dropped, then the client leaves. */
  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  gai.host = (char *)"localhost";
  req.call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
  req.getaddrinfo = &gai;
  for (int i = 0; i < 3; i++) {
    req.id = 10 + (uint64_t)i;
    add_request(&s, FUZZ_CTL_DEFER, 0, &req);
  }
  req.id = 20;
  add_request(&s, FUZZ_CTL_DROP, 0, &req);
  req.id = 21;
  add_request(&s, FUZZ_CTL_DEFER | FUZZ_CTL_HANGUP, 0, &req);
  write_file("dispatch", "pipelined_lookups", s.buf, s.len);

  /* A lookup still running when its client leaves: the answer is late. */
  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  req.id = 30;
  add_request(&s, FUZZ_CTL_DEFER | FUZZ_CTL_RUNNING, 0, &req);
  write_file("dispatch", "late_answer", s.buf, s.len);

  /* The client goes away while its lookup is answered. */
  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  req.id = 31;
  add_request(&s, FUZZ_CTL_HANGUP, 0, &req);
  write_file("dispatch", "hangup_on_answer", s.buf, s.len);

  /* A request with another process's credentials. */
  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  req.id = 32;
  add_request(&s, FUZZ_CTL_OTHER_SENDER, 0, &req);
  write_file("dispatch", "other_sender", s.buf, s.len);

  /* bind carrying no fd; then three fds (one a pipe). */
  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  bind.address = mk_inet("127.0.0.1", 0);
  req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  req.id = 3;
  req.call_case = PSOCK__V1__REQUEST__CALL_BIND;
  req.bind = &bind;
  add_request(&s, 0, 0, &req);
  add_request(&s, 3, FUZZ_FD_UDP | FUZZ_FD_PIPE << 3 | 1 << 6, &req);
  write_file("dispatch", "bind_fd_counts", s.buf, s.len);

  /* Before the handshake. */
  s.len = 0;
  req.id = 4;
  add_request(&s, 1, FUZZ_FD_UDP, &req);
  write_file("dispatch", "before_hello", s.buf, s.len);
}

/* A resolver record: resp packed as the answer to the oldest query. */
static void add_answer(struct seq *s, const Psock__V1__Response *resp) {
  uint8_t pkt[4096];
  size_t n = psock__v1__response__get_packed_size(resp);

  if (n > sizeof(pkt))
    abort();
  n = psock__v1__response__pack(resp, pkt);
  add_record(s, 0, FUZZ_KIND_RESOLVER, pkt, n);
}

/* Seeds with forged resolver answers, after a query left pending. */
static void seed_resolver(void) {
  struct seq s = {.len = 0};
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetaddrinfoRequest gai = PSOCK__V1__GETADDRINFO_REQUEST__INIT;
  Psock__V1__CreateConnectionRequest cc =
      PSOCK__V1__CREATE_CONNECTION_REQUEST__INIT;
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__GetaddrinfoReply g = PSOCK__V1__GETADDRINFO_REPLY__INIT;
  Psock__V1__AddrInfo ai[2] = {PSOCK__V1__ADDR_INFO__INIT,
                               PSOCK__V1__ADDR_INFO__INIT};
  Psock__V1__AddrInfo *results[2] = {&ai[0], &ai[1]};
  Psock__V1__Error err = PSOCK__V1__ERROR__INIT;
  Psock__V1__InetAddress in[2] = {PSOCK__V1__INET_ADDRESS__INIT,
                                  PSOCK__V1__INET_ADDRESS__INIT};
  Psock__V1__Address addr[2] = {PSOCK__V1__ADDRESS__INIT,
                                PSOCK__V1__ADDRESS__INIT};
  static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01};

  for (int i = 0; i < 2; i++) {
    in[i].host = (char *)(i == 0 ? "10.0.0.1" : "127.0.0.1");
    in[i].port = i == 0 ? 80 : 1;
    addr[i].addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
    addr[i].inet = &in[i];
    ai[i].family = AF_INET;
    ai[i].socktype = SOCK_STREAM;
    ai[i].canonname = (char *)"";
    ai[i].address = &addr[i];
  }
  g.n_results = 2;
  g.results = results;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_GETADDRINFO;
  resp.getaddrinfo = &g;

  /* create_connection: a denied candidate, then loopback port 1. */
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  cc.host = (char *)"psock-fuzz.invalid";
  cc.port = 1;
  req.id = 40;
  req.call_case = PSOCK__V1__REQUEST__CALL_CREATE_CONNECTION;
  req.create_connection = &cc;
  add_request(&s, FUZZ_CTL_DEFER, 0, &req);
  add_answer(&s, &resp);
  write_file("dispatch", "resolver_forged_addresses", s.buf, s.len);

  /* getaddrinfo answered with an error, a wrong call, and garbage. */
  s.len = 0;
  add_hello(&s, PSOCK_PROTOCOL_VERSION);
  gai.host = (char *)"localhost";
  req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
  req.getaddrinfo = &gai;
  req.id = 41;
  add_request(&s, FUZZ_CTL_DEFER, 0, &req);
  err.kind = PSOCK__V1__ERROR__KIND__GAI_ERROR;
  err.code = -2;
  err.message = (char *)"Name or service not known";
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_ERROR;
  resp.error = &err;
  add_answer(&s, &resp);
  req.id = 42;
  add_request(&s, FUZZ_CTL_DEFER, 0, &req);
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_GETNAMEINFO;
  resp.getnameinfo = NULL;
  {
    Psock__V1__GetnameinfoReply ni = PSOCK__V1__GETNAMEINFO_REPLY__INIT;
    ni.host = (char *)"localhost";
    ni.service = (char *)"1";
    resp.getnameinfo = &ni;
    add_answer(&s, &resp);
  }
  req.id = 43;
  add_request(&s, FUZZ_CTL_DEFER, 0, &req);
  add_record(&s, 0, FUZZ_KIND_RESOLVER, garbage, sizeof(garbage));
  write_file("dispatch", "resolver_forged_errors", s.buf, s.len);
}

/* ---------------------------------------------------------------- addr */

static void addr_seed(const char *name, const Psock__V1__Address *a,
                      uint8_t outlen) {
  uint8_t buf[512];
  size_t n = psock__v1__address__get_packed_size(a);

  if (n + 2 > sizeof(buf))
    abort();
  buf[0] = 0;
  buf[1] = outlen;
  n = psock__v1__address__pack(a, buf + 2);
  write_file("addr", name, buf, n + 2);
}

static void sockaddr_seed(const char *name, const void *sa, size_t len) {
  uint8_t buf[2 + sizeof(struct sockaddr_storage)];

  buf[0] = 1;
  buf[1] = (uint8_t)len;
  memcpy(buf + 2, sa, len);
  write_file("addr", name, buf, len + 2);
}

static void seed_addr(void) {
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__Inet6Address in6 = PSOCK__V1__INET6_ADDRESS__INIT;
  Psock__V1__NetlinkAddress nl = PSOCK__V1__NETLINK_ADDRESS__INIT;
  Psock__V1__TipcAddress tipc = PSOCK__V1__TIPC_ADDRESS__INIT;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  struct sockaddr_in6 sin6 = {
      .sin6_family = AF_INET6, .sin6_port = htons(443), .sin6_scope_id = 1};
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  struct sockaddr_nl snl = {.nl_family = AF_NETLINK, .nl_pid = 7};
  struct sockaddr_tipc st = {
      .family = AF_TIPC, .addrtype = TIPC_ADDR_NAME, .scope = TIPC_NODE_SCOPE};

  addr_seed("inet", mk_inet("192.0.2.1", 80), 64);
  addr_seed("inet_any", mk_inet("", 0), 8);
  addr_seed("inet_broadcast", mk_inet("<broadcast>", 9), 64);
  addr_seed("inet_name", mk_inet("example.org", 65536), 64);
  in6.host = (char *)"fe80::1";
  in6.port = 22;
  in6.has_scope_id = true;
  in6.scope_id = 2;
  in6.has_flowinfo = true;
  in6.flowinfo = 0xfffff;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_INET6;
  a.inet6 = &in6;
  addr_seed("inet6", &a, 80);
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  a.unix_path.data = (uint8_t *)"/run/psockd/psockd.sock";
  a.unix_path.len = strlen("/run/psockd/psockd.sock");
  addr_seed("unix_path", &a, 32);
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
  a.unix_abstract.data = (uint8_t *)"a\0b\\\x7f";
  a.unix_abstract.len = 5;
  addr_seed("unix_abstract", &a, 200);
  nl.pid = 1;
  nl.groups = 0x10;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_NETLINK;
  a.netlink = &nl;
  addr_seed("netlink", &a, 64);
  tipc.addr_type = TIPC_ADDR_NAMESEQ;
  tipc.v1 = 1000;
  tipc.v2 = 1;
  tipc.v3 = 10;
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_TIPC;
  a.tipc = &tipc;
  addr_seed("tipc", &a, 64);
  tipc.has_scope = true;
  tipc.scope = 7;
  addr_seed("tipc_bad_scope", &a, 64);

  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  sockaddr_seed("sa_inet", &sin, sizeof(sin));
  inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr);
  sockaddr_seed("sa_inet6", &sin6, sizeof(sin6));
  memcpy(sun.sun_path, "/tmp/sock", 10);
  sockaddr_seed("sa_unix", &sun, offsetof(struct sockaddr_un, sun_path) + 10);
  memcpy(sun.sun_path, "\0abstract", 9);
  sockaddr_seed("sa_abstract", &sun,
                offsetof(struct sockaddr_un, sun_path) + 9);
  sockaddr_seed("sa_unnamed", &sun, sizeof(sa_family_t));
  sockaddr_seed("sa_netlink", &snl, sizeof(snl));
  sockaddr_seed("sa_tipc", &st, sizeof(st));
  sockaddr_seed("sa_short", &sin, 6);
}

/* ---------------------------------------------------------------- priv */

static void priv_seed(const char *name, const struct priv_request *r,
                      unsigned kind) {
  uint8_t buf[sizeof(*r) + 1];

  memcpy(buf, r, sizeof(*r));
  buf[sizeof(*r)] = (uint8_t)kind;
  write_file("priv", name, buf, sizeof(buf));
}

static void seed_priv(void) {
  struct priv_request r = {.op = PRIV_OP_SOCKET,
                           .family = AF_INET,
                           .type = SOCK_RAW,
                           .proto = IPPROTO_ICMP};
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(22)};
  int one = 1;

  priv_seed("socket_raw", &r, FUZZ_FD_NONE);
  r.family = AF_PACKET;
  r.proto = 0x0300;
  priv_seed("socket_packet", &r, FUZZ_FD_NONE);
  r.family = AF_UNIX;
  priv_seed("socket_unix", &r, FUZZ_FD_NONE);

  memset(&r, 0, sizeof(r));
  r.op = PRIV_OP_BIND;
  r.len = sizeof(sin);
  memcpy(r.data, &sin, sizeof(sin));
  priv_seed("bind_inet", &r, FUZZ_FD_TCP);
  priv_seed("bind_unix_fd", &r, FUZZ_FD_UNIX_STREAM);
  r.len = sizeof(sin6);
  memcpy(r.data, &sin6, sizeof(sin6));
  priv_seed("bind_inet6", &r, FUZZ_FD_UDP6);

  memset(&r, 0, sizeof(r));
  r.op = PRIV_OP_SETSOCKOPT;
  r.level = SOL_SOCKET;
  r.optname = SO_MARK;
  r.len = sizeof(one);
  memcpy(r.data, &one, sizeof(one));
  priv_seed("setsockopt_mark", &r, FUZZ_FD_UDP);
  r.optname = SO_BINDTODEVICE;
  r.len = 3;
  memcpy(r.data, "lo", 3);
  priv_seed("setsockopt_bindtodevice", &r, FUZZ_FD_TCP);
  priv_seed("setsockopt_pipe", &r, FUZZ_FD_PIPE);
  r.level = IPPROTO_TCP;
  r.optname = TCP_CONGESTION;
  r.len = 4;
  memcpy(r.data, "bbr", 4);
  priv_seed("setsockopt_congestion_module", &r, FUZZ_FD_TCP);
  r.level = SOL_SOCKET;
  r.optname = SO_PRIORITY;
  r.len = sizeof(one);
  memcpy(r.data, &one, sizeof(one));
  priv_seed("setsockopt_priority_free", &r, FUZZ_FD_UDP);
  one = 7;
  memcpy(r.data, &one, sizeof(one));
  priv_seed("setsockopt_priority_7", &r, FUZZ_FD_UDP);

  memset(&r, 0, sizeof(r));
  r.op = PRIV_OP_SOCKET;
  r.family = AF_INET6;
  r.type = SOCK_RAW | SOCK_CLOEXEC;
  r.proto = IPPROTO_ICMPV6;
  priv_seed("socket_raw_cloexec", &r, FUZZ_FD_NONE);
  r.type = SOCK_RAW | SOCK_NONBLOCK;
  priv_seed("socket_raw6_nonblock", &r, FUZZ_FD_NONE);
  /* A family number as is (AF_PACKET), with no real fd. */
  memset(&r, 0, sizeof(r));
  r.op = PRIV_OP_BIND;
  r.len = sizeof(sin6);
  memcpy(r.data, &sin6, sizeof(sin6));
  priv_seed("bind_family_number", &r, FUZZ_FD_NONE + 2 + AF_INET6);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  seed_socket();
  seed_page_batch();
  seed_socketpair_fromfd();
  seed_create_connection();
  seed_bind_connect();
  seed_socket_calls();
  seed_names();
  seed_hostile();
  seed_resolver();
  seed_addr();
  seed_priv();
  printf("%u seed files written under %s\n", written, out_dir);
  return 0;
}
