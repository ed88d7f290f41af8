/* SPDX-License-Identifier: MIT */
/*
 * The fake psockd of libpsock-client's unit tests (see fake_psockd.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../client/conn.h"
#include "../../client/fast.h"
#include "addr.h"
#include "fake_psockd.h"
#include "psock/psock.h"

struct fake fk;

double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;

  assert_non_null(d);
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

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
  int kind = atomic_load(&fk.page_kind);

  h.protocol_version = fk.hello_version;
  h.daemon_version = "fake";
  h.max_packet = PSOCK_MAX_PACKET;
  /* As a worker of issue 16: the page with every reply. */
  h.has_page = kind != FAKE_PAGE_NONE;
  h.page = h.has_page;
  resp.fd_count = h.page && fk.page_fd >= 0 ? 1 : 0;
  resp.id = id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_HELLO;
  resp.hello = &h;
  fake_send(fd, &resp, &fk.page_fd, resp.fd_count);
}

/* ---------------------------------------------------------- the page */

void fake_page_start(int kind, uint32_t free, uint32_t batch) {
  size_t size = kind == FAKE_PAGE_SHORT ? PSOCK_PAGE_SIZE / 2 : PSOCK_PAGE_SIZE;
  int fd, hi;
  void *m;

  if (kind == FAKE_PAGE_NO_FD) {
    atomic_store(&fk.page_kind, kind);
    return;
  }
  fd = memfd_create("fake-policy-page", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  assert_true(fd >= 0);
  /* This fake shares the test's fd table: high, out of the way. */
  hi = fcntl(fd, F_DUPFD_CLOEXEC, 200);
  close(fd);
  assert_true(hi >= 0);
  assert_int_equal(ftruncate(hi, (off_t)size), 0);
  m = mmap(NULL, PSOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, hi, 0);
  assert_true(m != MAP_FAILED);
  fk.page = m;
  fk.page->magic = kind == FAKE_PAGE_MAGIC ? 0x12345678u : PSOCK_PAGE_MAGIC;
  fk.page->layout = PSOCK_PAGE_LAYOUT;
  fk.page->generation = 1;
  fk.page->free = free;
  fk.page->batch = batch;
  /* As psockd seals it: its own writable mapping stays, no other comes. */
  if (kind != FAKE_PAGE_UNSEALED)
    assert_int_equal(
        fcntl(hi, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
        0);
  fk.page_fd = hi;
  atomic_store(&fk.page_kind, kind);
}

void fake_page_set(uint32_t free, uint32_t batch) {
  __atomic_fetch_add(&fk.page->seq, 1, __ATOMIC_RELEASE);
  __atomic_store_n(&fk.page->free, free, __ATOMIC_RELAXED);
  __atomic_store_n(&fk.page->batch, batch, __ATOMIC_RELAXED);
  __atomic_fetch_add(&fk.page->generation, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&fk.page->seq, 1, __ATOMIC_RELEASE);
}

void fake_page_hold(bool odd) {
  uint64_t seq = __atomic_load_n(&fk.page->seq, __ATOMIC_RELAXED);

  if ((seq & 1) != odd)
    __atomic_fetch_add(&fk.page->seq, 1, __ATOMIC_RELEASE);
}

/* The batch bit of a socket request's kind, or 0. */
static uint32_t fake_batch_bit(const Psock__V1__SocketRequest *q) {
  int type = q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  bool tcp = type == SOCK_STREAM && (q->proto == 0 || q->proto == IPPROTO_TCP);
  bool udp = type == SOCK_DGRAM && (q->proto == 0 || q->proto == IPPROTO_UDP);

  if (q->family == AF_INET)
    return tcp ? PSOCK_BATCH_TCP4 : udp ? PSOCK_BATCH_UDP4 : 0;
  if (q->family == AF_INET6)
    return tcp ? PSOCK_BATCH_TCP6 : udp ? PSOCK_BATCH_UDP6 : 0;
  return 0;
}

/* How many sockets a batch adds, as the contract says: what was asked,
 * at most PSOCK_MAX_FDS - 1, only for a kind the page lists. */
static size_t fake_batch_size(const Psock__V1__SocketRequest *q) {
  uint32_t bit = fake_batch_bit(q);

  if (!q->has_batch || !fk.page || !bit ||
      !(__atomic_load_n(&fk.page->batch, __ATOMIC_RELAXED) & bit))
    return 0;
  return q->batch < PSOCK_MAX_REPLY_FDS - 1 ? q->batch
                                            : PSOCK_MAX_REPLY_FDS - 1;
}

/* Returns false when the connection should be closed. */
static bool fake_socket(int fd, const Psock__V1__Request *req) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__SocketReply sr = PSOCK__V1__SOCKET_REPLY__INIT;
  Psock__V1__SocketInfo info = PSOCK__V1__SOCKET_INFO__INIT;
  int s[PSOCK_MAX_REPLY_FDS + 1];
  size_t extra = fake_batch_size(req->socket), n;

  atomic_store(&fk.last_batch,
               req->socket->has_batch ? (int)req->socket->batch : 0);
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
  if (fk.mode == FAKE_EXTRA_FD)
    extra = 0;
  /* A batch: more of the same kind, made as the first. */
  for (size_t i = 0; i < extra; i++) {
    int e = socket(req->socket->family, req->socket->type | SOCK_CLOEXEC,
                   req->socket->proto);

    assert_true(e >= 0);
    s[2 + i] = fcntl(e, F_DUPFD_CLOEXEC, 200);
    close(e);
  }
  if (extra) {
    /* s[1] is the spare copy of s[0]: the batch follows s[0]. */
    close(s[1]);
    for (size_t i = 0; i < extra; i++)
      s[1 + i] = s[2 + i];
    s[1 + extra] = -1;
    atomic_fetch_add(&fk.batch_extras, (int)extra);
  }
  n = fk.mode == FAKE_FD_LIE ? 0 : fk.mode == FAKE_EXTRA_FD ? 2 : 1 + extra;
  info.family = req->socket->family;
  info.type = req->socket->type;
  sr.info = &info;
  resp.id = req->id;
  resp.result_case = PSOCK__V1__RESPONSE__RESULT_SOCKET;
  resp.socket = &sr;
  resp.fd_count = fk.mode == FAKE_EXTRA_FD ? 2 : (uint32_t)(1 + extra);
  fake_send(fd, &resp, s, n);
  for (size_t i = 0; i < 1 + (extra ? extra : 1); i++)
    close(s[i]);
  return true;
}

/* The call of req (bind or connect) on sfd: 0 or -errno. connect never
 * waits, as psockd; status is EINPROGRESS then. */
static int fake_perform(const Psock__V1__Request *req, int sfd, int *status) {
  const Psock__V1__Address *a = req->call_case == PSOCK__V1__REQUEST__CALL_BIND
                                    ? req->bind->address
                                    : req->connect->address;
  struct sockaddr_storage ss;
  socklen_t len;
  int r, fl;

  r = addr_to_sockaddr(a, &ss, &len);
  if (r < 0)
    return r;
  if (req->call_case == PSOCK__V1__REQUEST__CALL_BIND)
    return bind(sfd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
  fl = fcntl(sfd, F_GETFL);
  fcntl(sfd, F_SETFL, fl | O_NONBLOCK);
  r = connect(sfd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
  fcntl(sfd, F_SETFL, fl);
  if (r == -EINPROGRESS) {
    r = 0;
    *status = EINPROGRESS;
  }
  return r;
}

/* A new socket of sfd's family and type, high in the fd table (this fake
 * shares the test's), for the replacing modes. */
static int fake_new_like(int sfd) {
  socklen_t l = sizeof(int);
  int domain, type, s, hi;

  if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ||
      getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
    return -errno;
  s = socket(domain, type | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -errno;
  hi = fcntl(s, F_DUPFD_CLOEXEC, 200);
  close(s);
  return hi;
}

/* bind, listen and connect on the fd that came with the request. */
static void fake_on_fd(int fd, const Psock__V1__Request *req, int sfd) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__Empty empty = PSOCK__V1__EMPTY__INIT;
  Psock__V1__BindReply br = PSOCK__V1__BIND_REPLY__INIT;
  Psock__V1__ConnectReply cr = PSOCK__V1__CONNECT_REPLY__INIT;
  int mode = fk.mode, nfd = -1, status = 0, r = 0;
  bool is_listen = req->call_case == PSOCK__V1__REQUEST__CALL_LISTEN;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  struct addr_buf ab;

  resp.id = req->id;
  resp.result_case = (Psock__V1__Response__ResultCase)req->call_case;
  if (mode == FAKE_POLICY) {
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EPERM,
               "rule 7 refuses");
    return;
  }
  if (is_listen) {
    atomic_fetch_add(&fk.listen_calls, 1);
    if (listen(sfd, req->listen->backlog) < 0)
      r = -errno;
    resp.listen = &empty;
  } else if (mode == FAKE_REPLACE || mode == FAKE_FD_NOT_REPLACE) {
    nfd = fake_new_like(sfd);
    r = nfd < 0 ? nfd : fake_perform(req, nfd, &status);
    resp.fd_count = 1;
  } else if (mode != FAKE_REPLACE_NO_FD) {
    r = fake_perform(req, sfd, &status);
  }
  if (req->call_case == PSOCK__V1__REQUEST__CALL_BIND) {
    atomic_fetch_add(&fk.bind_calls, 1);
    getsockname(nfd >= 0 ? nfd : sfd, (struct sockaddr *)&ss, &len);
    addr_from_sockaddr((struct sockaddr *)&ss, len, &ab, &br.bound);
    br.has_replaced = mode != FAKE_FD_NOT_REPLACE && mode >= FAKE_REPLACE;
    br.replaced = br.has_replaced;
    resp.bind = &br;
  } else if (!is_listen) {
    atomic_fetch_add(&fk.connect_calls, 1);
    cr.status = status;
    cr.peer = req->connect->address;
    cr.has_replaced = cr.replaced = mode == FAKE_REPLACE;
    resp.connect = &cr;
  }
  if (r < 0)
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__OS_ERROR, -r, strerror(-r));
  else
    fake_send(fd, &resp, &nfd, nfd >= 0 ? 1 : 0);
  if (nfd >= 0)
    close(nfd);
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

/* setsockopt: recorded and answered "done" without touching the fd, or
 * refused in FAKE_POLICY mode (EPERM, as the new policy says). */
static void fake_setsockopt(int fd, const Psock__V1__Request *req) {
  Psock__V1__Response resp = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__Empty empty = PSOCK__V1__EMPTY__INIT;

  atomic_store(&fk.setsockopt_last, req->setsockopt->optname);
  atomic_fetch_add(&fk.setsockopt_calls, 1);
  if (fk.mode == FAKE_POLICY) {
    fake_error(fd, req->id, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EPERM,
               "rule 9 refuses option");
    return;
  }
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

  struct ucred sent;

  /* As the new psockd: each request with the sender's credentials. */
  n = wire_recv_packet_creds(fd, fk.buf, sizeof(fk.buf), fds, PSOCK_MAX_FDS,
                             &nfds, 0, &sent);
  if (n <= 0)
    return false;
  getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
  atomic_store(&fk.last_peer_uid, (int)cred.uid);
  atomic_store(&fk.last_peer_gid, (int)cred.gid);
  atomic_store(&fk.last_cred_uid, (int)sent.uid);
  atomic_store(&fk.last_cred_gid, (int)sent.gid);
  atomic_store(&fk.last_cred_pid, (int)sent.pid);
  atomic_fetch_add(&fk.requests, 1);
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
  atomic_fetch_add(&fk.served, 1);
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
    if (p[0].revents) {
      char cmd = 'x';

      if (read(fk.stop[0], &cmd, 1) != 1 || cmd != 'h')
        break;
      /* fake_hangup(): every connection closed, as a worker that dies. */
      for (int i = 0; i < nconns; i++)
        close(conns[i]);
      nconns = 0;
      atomic_store(&fk.open_conns, 0);
      atomic_store(&fk.hangup, 0);
      continue;
    }
    if ((p[1].revents & POLLIN) && nconns < FAKE_MAX_CONNS) {
      int c = accept4(fk.lfd, NULL, NULL, SOCK_CLOEXEC), one = 1, hi;

      /* High, as the fake's other fds: the numbers the client is given
       * are the lowest free ones, which tests predict. */
      if (c >= 0 && (hi = fcntl(c, F_DUPFD_CLOEXEC, 200)) >= 0) {
        close(c);
        c = hi;
      }
      if (c >= 0) {
        struct ucred pc = {0};
        socklen_t pl = sizeof(pc);
        int k = atomic_load(&fk.connections);

        setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        getsockopt(c, SOL_SOCKET, SO_PEERCRED, &pc, &pl);
        if (k < FAKE_MAX_CONNS) {
          atomic_store(&fk.accepted_uid[k], (int)pc.uid);
          atomic_store(&fk.accepted_gid[k], (int)pc.gid);
        }
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

void fake_hangup(void) {
  atomic_store(&fk.hangup, 1);
  assert_int_equal(write(fk.stop[1], "h", 1), 1);
  for (int i = 0; i < 200 && atomic_load(&fk.hangup); i++)
    usleep(5000);
  assert_int_equal(atomic_load(&fk.hangup), 0);
}

void fake_settle(void) {
  for (int i = 0;
       i < 200 && atomic_load(&fk.served) < atomic_load(&fk.requests); i++)
    usleep(5000);
  assert_int_equal(atomic_load(&fk.served), atomic_load(&fk.requests));
}

void fake_quiesce(void) {
  pc_fast_flush();
  pc_conn_flush();
  for (int i = 0; i < 200 && atomic_load(&fk.open_conns) > 0; i++)
    usleep(10000);
  assert_int_equal(atomic_load(&fk.open_conns), 0);
}

int fake_start(void **state) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};

  memset(&fk, 0, sizeof(fk));
  fk.page_fd = -1;
  fk.hello_version = PSOCK_PROTOCOL_VERSION;
  snprintf(fk.dir, sizeof(fk.dir), "/tmp/psock-unit.XXXXXX");
  assert_non_null(mkdtemp(fk.dir));
  snprintf(fk.path, sizeof(fk.path), "%s/psockd.sock", fk.dir);
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fk.path);
  fk.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  assert_true(fk.lfd >= 0);
  assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  assert_int_equal(listen(fk.lfd, 8), 0);
  /* Reachable by a child that dropped its privileges. */
  assert_int_equal(chmod(fk.dir, 0755), 0);
  assert_int_equal(chmod(fk.path, 0666), 0);
  assert_int_equal(pipe2(fk.stop, O_CLOEXEC), 0);
  assert_int_equal(pthread_create(&fk.thread, NULL, fake_main, NULL), 0);
  setenv("PSOCK_SOCKET", fk.path, 1);
  unsetenv("PSOCK_DAEMON_TIMEOUT_MS");
  unsetenv("PSOCK_ROUTE");
  unsetenv("PSOCK_FAST");
  /* Connections and sockets of an earlier test's server must not count
   * here. */
  pc_fast_flush();
  pc_conn_flush();
  psock_clear_error();
  return 0;
}

int fake_stop(void **state) {
  pc_fast_flush();
  pc_conn_flush();
  assert_int_equal(write(fk.stop[1], "x", 1), 1);
  pthread_join(fk.thread, NULL);
  close(fk.stop[0]);
  close(fk.stop[1]);
  close(fk.lfd);
  unlink(fk.path);
  rmdir(fk.dir);
  if (fk.page)
    munmap(fk.page, PSOCK_PAGE_SIZE);
  if (fk.page_fd >= 0)
    close(fk.page_fd);
  psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE);
  return 0;
}
