/* SPDX-License-Identifier: MIT */
/*
 * The fake psockd of libpsock-client's unit tests (see fake_psockd.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    if (p[0].revents)
      break;
    if ((p[1].revents & POLLIN) && nconns < FAKE_MAX_CONNS) {
      int c = accept4(fk.lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;

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

void fake_settle(void) {
  for (int i = 0;
       i < 200 && atomic_load(&fk.served) < atomic_load(&fk.requests); i++)
    usleep(5000);
  assert_int_equal(atomic_load(&fk.served), atomic_load(&fk.requests));
}

void fake_quiesce(void) {
  pc_conn_flush();
  for (int i = 0; i < 200 && atomic_load(&fk.open_conns) > 0; i++)
    usleep(10000);
  assert_int_equal(atomic_load(&fk.open_conns), 0);
}

int fake_start(void **state) {
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
  /* Reachable by a child that dropped its privileges. */
  assert_int_equal(chmod(fk.dir, 0755), 0);
  assert_int_equal(chmod(fk.path, 0666), 0);
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

int fake_stop(void **state) {
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
