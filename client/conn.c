/* SPDX-License-Identifier: MIT */
/*
 * conn: the control connections to psockd.
 *
 * A small pool of connections, each used by one thread at a time for one
 * request/response exchange, so threads never share a request stream and a
 * slow name lookup in one thread holds back no other. Only the pool list is
 * under a mutex; the exchange itself runs unlocked.
 *
 * The connection fds are the library's, living among the program's fds: they
 * are opened with raw system calls (a preload shim interposes socket() and
 * connect()), moved high and close-on-exec, and checked before every use
 * (a program may close all its fds or dup2() over ours: such a number is no
 * longer ours and is forgotten, never closed). After fork() the child drops
 * the inherited connections without sending on them and opens its own.
 *
 * Identity (issue 13, finding 9): psockd judges each request as the
 * process that sends it at that moment, from the SCM_CREDENTIALS the
 * kernel checks; every request carries {pid, euid, egid} explicitly (the
 * kernel's default would be the real ids, which SO_PEERCRED does not
 * report). A connection remembers the effective uid, gid and supplementary
 * groups it was opened under and is never used under others: a pooled one
 * opened before a setuid(), setgid() or setgroups() is closed and a new one
 * opened, so the identity psockd took at connect time (SO_PEERCRED, the
 * worker of that uid) is always the sender's.
 *
 * The policy page (issue 16): a HelloReply may carry the identity's page
 * (page.h). Each connection maps its own and unmaps it when it goes; the
 * fast paths (fast.c) read the page of one connection of the caller's
 * identity that psockd still holds open (pc_conn_page()), and a batch of
 * sockets is asked for on that same connection where it is idle.
 *
 * Trust boundary: everything received here comes from psockd; the id,
 * result case and fd count of each response are checked before any caller
 * sees it, and a response that breaks framing ends that connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "conn.h"
#include "deadline.h"
#include "error.h"
#include "ident.h"
#include "page.h"
#include "wire.h"
#include "wire_hot.h"

/* Idle connections kept for reuse; more busy threads open more. */
#define POOL_IDLE_MAX 4
/* Library fds live at or above this number, out of the program's way. */
#define CONN_FD_MIN 100
#define DAEMON_TIMEOUT_MS_DEFAULT 30000

struct conn {
  int fd;
  dev_t dev;
  ino_t ino;
  pid_t pid;  /* process that opened it */
  uid_t euid; /* identity it was opened under */
  gid_t egid;
  int ngroups;
  gid_t *groups;   /* ngroups entries, NULL if none */
  int rcvtimeo_ms; /* SO_RCVTIMEO now set on fd (0: none) */
  uint64_t next_id;
  bool sendto_restricted; /* HelloReply's; true when it did not say */
  uint8_t *buf;           /* PSOCK_MAX_PACKET bytes, for both directions */
  const struct psock_page *page; /* HelloReply.page's mapping, or NULL */
  uint64_t page_id;
  bool unsettled; /* its last reply carried fds (pc_conn_fds_settled()) */
  struct conn *next_idle;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *pool_idle;
static unsigned pool_nidle;
static pid_t pool_pid;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static atomic_bool unreachable_logged;
/* How many of this process's connections are unsettled (struct conn). */
static atomic_uint unsettled_conns;
/*
 * The connection whose policy page the fast paths read (issue 16): one of
 * this process's that brought a page, busy or idle, until it goes. Under
 * page_lock (taken after pool_lock, never before), which conn_free() also
 * takes before it unmaps a page: a page is never read after its unmap.
 */
static pthread_mutex_t page_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *page_conn;

/* Keep the mutexes consistent across fork(): a child of a multi-threaded
 * program must not inherit them locked. */
static void pool_prefork(void) {
  pthread_mutex_lock(&pool_lock);
  pthread_mutex_lock(&page_lock);
}

static void pool_postfork(void) {
  pthread_mutex_unlock(&page_lock);
  pthread_mutex_unlock(&pool_lock);
}

static void pool_init(void) {
  pthread_atfork(pool_prefork, pool_postfork, pool_postfork);
}

/* Our pid, with the pool's fork handlers in place. */
static pid_t self_pid(void) {
  pthread_once(&pool_once, pool_init);
  return pc_self_pid();
}

static int daemon_timeout_ms(void) {
  const char *e = getenv("PSOCK_DAEMON_TIMEOUT_MS");
  char *end;
  long v;

  if (!e || !*e)
    return DAEMON_TIMEOUT_MS_DEFAULT;
  errno = 0;
  v = strtol(e, &end, 10);
  if (errno || *end || v <= 0 || v > 24L * 3600 * 1000)
    return DAEMON_TIMEOUT_MS_DEFAULT;
  return (int)v;
}

static const char *socket_path(void) {
  const char *p = getenv("PSOCK_SOCKET");

  return p && *p ? p : PSOCK_DEFAULT_SOCKET;
}

/* Is c->fd still the socket we opened (in whichever process)? */
static bool conn_fd_matches(const struct conn *c) {
  struct stat st;

  return fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         st.st_dev == c->dev && st.st_ino == c->ino;
}

/* Ours to use: opened by this process and still the same socket. */
static bool conn_is_ours(const struct conn *c) {
  return c->pid == self_pid() && conn_fd_matches(c);
}

/* c's last reply carried fds, or did not. */
static void set_unsettled(struct conn *c, bool unsettled) {
  if (c->unsettled != unsettled)
    atomic_fetch_add(&unsettled_conns, unsettled ? 1 : -1u);
  c->unsettled = unsettled;
}

bool pc_conn_fds_settled(void) {
  return atomic_load_explicit(&unsettled_conns, memory_order_relaxed) == 0;
}

static void conn_free(struct conn *c) {
  /* Gone with its worker's attention: nothing more will settle it. */
  set_unsettled(c, false);
  if (c->page) {
    pthread_mutex_lock(&page_lock);
    if (page_conn == c)
      __atomic_store_n(&page_conn, NULL, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&page_lock);
    pc_page_unmap(c->page);
  }
  free(c->groups);
  free(c->buf);
  free(c);
}

DEFINE_CLEANUP(struct conn *, conn_free)

/* Was c opened under the caller's identity? */
static bool conn_same_ident(const struct conn *c, const struct pc_ident *id) {
  return c->euid == id->euid && c->egid == id->egid &&
         pc_ident_same_groups(id, c->groups, c->ngroups);
}

/* Close c if its number is still ours, then free it. */
static void conn_drop(struct conn *c) {
  if (!c)
    return;
  if (conn_is_ours(c))
    close(c->fd);
  conn_free(c);
}

/* Called with pool_lock held, in a process that forked: the idle list holds
 * the parent's connections. Closing drops only this process's reference. */
static void pool_forget_parent(void) {
  struct conn *c;

  while ((c = pool_idle)) {
    pool_idle = c->next_idle;
    if (conn_fd_matches(c))
      close(c->fd);
    conn_free(c);
  }
  pool_nidle = 0;
}

/* Called with pool_lock held: take the idle connection whose page the
 * fast paths read if it is idle (a batch of sockets comes by that page,
 * fast.c), else the one used last. */
static struct conn *pool_unlink(void) {
  struct conn **pp = &pool_idle, *c;

  pthread_mutex_lock(&page_lock);
  while (*pp && *pp != page_conn)
    pp = &(*pp)->next_idle;
  pthread_mutex_unlock(&page_lock);
  if (!*pp)
    pp = &pool_idle;
  c = *pp;
  if (c) {
    *pp = c->next_idle;
    pool_nidle--;
  }
  return c;
}

/* An idle connection this process opened under identity id, or NULL. */
static struct conn *pool_take(const struct pc_ident *id) {
  struct conn *c;
  pid_t pid = self_pid();

  for (;;) {
    pthread_mutex_lock(&pool_lock);
    if (pool_pid != pid) {
      pool_forget_parent();
      pool_pid = pid;
    }
    c = pool_unlink();
    pthread_mutex_unlock(&pool_lock);
    if (!c)
      return NULL;
    /* Every idle connection was opened by pool_pid (the parent's were
     * forgotten above): the fd and the identity need checking. */
    if (!conn_fd_matches(c))
      conn_free(c); /* the program closed or reused our number */
    else if (!conn_same_ident(c, id))
      conn_drop(c); /* ours, but opened as someone else: never reused */
    else
      return c;
  }
}

/* Two connections opened under the same identity? */
static bool conn_same_owner(const struct conn *a, const struct conn *b) {
  return a->pid == b->pid && a->euid == b->euid && a->egid == b->egid &&
         a->ngroups == b->ngroups &&
         (a->ngroups == 0 || memcmp(a->groups, b->groups,
                                    (size_t)a->ngroups * sizeof(gid_t)) == 0);
}

/* Called with pool_lock held: c, kept and with a page, is the one the
 * fast paths read if none is, or only one of another identity or process
 * (the page is per identity: a program that changed its ids reads the
 * page of its new identity once a call of that identity went to psockd). */
static void page_offer(struct conn *c) {
  pthread_mutex_lock(&page_lock);
  if (!page_conn || !conn_same_owner(page_conn, c))
    __atomic_store_n(&page_conn, c, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&page_lock);
}

static void pool_put(struct conn *c) {
  bool keep;

  pthread_mutex_lock(&pool_lock);
  keep = c->pid == pool_pid && pool_nidle < POOL_IDLE_MAX;
  if (keep) {
    c->next_idle = pool_idle;
    pool_idle = c;
    pool_nidle++;
    if (c->page)
      page_offer(c);
  }
  pthread_mutex_unlock(&pool_lock);
  if (!keep)
    conn_drop(c);
}

/* stderr of a program started inetd-style is its network peer: our log
 * line must not go there (an AF_UNIX socket, e.g. journald, is fine). */
static bool stderr_is_network(void) {
  socklen_t len = sizeof(int);
  int domain;

  if (getsockopt(STDERR_FILENO, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
    return false;
  return domain != AF_UNIX;
}

static int unreachable(const char *path, int err) {
  char buf[128];
  const char *msg = strerror_r(err, buf, sizeof(buf));

  /* The library's only log line: a missing daemon is the one failure a
   * user of an unmodified program (psock-run) could not see otherwise. */
  if (!atomic_exchange(&unreachable_logged, true) && !stderr_is_network())
    fprintf(stderr, "libpsock-client: psockd unreachable at %s: %s\n", path,
            msg);
  return pc_error(PSOCK_ERR_PROTOCOL, err, "psockd unreachable at %s: %s", path,
                  msg);
}

enum xchg {
  XCHG_OK,
  XCHG_LOST,      /* connection gone before an answer: safe to retry */
  XCHG_FAIL_DROP, /* error recorded, the connection cannot be trusted */
  XCHG_FAIL_KEEP, /* error recorded, the connection is fine */
};

static enum xchg xchg_send(struct conn *c, Psock__V1__Request *req,
                           const int *fds, size_t nfds,
                           const struct pc_ident *id) {
  struct ucred creds = {.pid = self_pid(), .uid = id->euid, .gid = id->egid};
  ssize_t n;
  int r;

  req->id = ++c->next_id;
  req->fd_count = (uint32_t)nfds;
  /* The most frequent request by hand (wire_hot.h); the same bytes. */
  n = wire_hot_pack_socket(req, c->buf, PSOCK_MAX_PACKET);
  if (n == -EINVAL)
    n = wire_pack(&req->base, c->buf, PSOCK_MAX_PACKET);
  if (n < 0) {
    pc_error(PSOCK_ERR_OS, EMSGSIZE,
             "request too large for psockd (at most %u bytes)",
             PSOCK_MAX_PACKET);
    return XCHG_FAIL_KEEP;
  }
  /* psockd judges the credentials the kernel attests on each request.
   * Where the kernel's own (our real ids) are ours, it attaches them
   * itself: no SCM_CREDENTIALS for it to check on every request. */
  if (id->kernel_creds)
    r = wire_send_packet(c->fd, c->buf, (size_t)n, fds, nfds, 0);
  else
    r = wire_send_packet_creds(c->fd, c->buf, (size_t)n, fds, nfds, 0, &creds);
  /* EPERM: the kernel no longer accepts these ids from us (another thread
   * changed them since they were read); EINVAL for cached ids: a new user
   * namespace renumbered them. Again, with the ids read anew. */
  if ((r == -EPERM || r == -EINVAL) && id->frozen)
    pc_ident_forget();
  if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -EPERM ||
      (r == -EINVAL && id->frozen))
    return XCHG_LOST;
  /* EINVAL for ids just read: they have no number in our user namespace
   * (one without a uid_map); only the kernel can name them, and it does,
   * with the real ids, when we send none. */
  if (r == -EINVAL)
    r = wire_send_packet(c->fd, c->buf, (size_t)n, fds, nfds, 0);
  if (r == -EBADF && nfds > 0) {
    /* Our fd was checked before use: the caller's socket fd is bad. */
    pc_error_os(EBADF);
    return XCHG_FAIL_KEEP;
  }
  if (r < 0) {
    pc_error(PSOCK_ERR_PROTOCOL, -r, "sending to psockd: %s", strerror(-r));
    return XCHG_FAIL_DROP;
  }
  return XCHG_OK;
}

/* Bound blocking receives on c to ms (a no-op while it already is). */
static int set_rcvtimeo(struct conn *c, int ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

  if (c->rcvtimeo_ms == ms)
    return 0;
  if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
    return -errno;
  c->rcvtimeo_ms = ms;
  return 0;
}

/* Wait (bounded) for one packet; n > 0 bytes in c->buf, fds in fds
 * (close-on-exec if cloexec). */
static enum xchg xchg_recv(struct conn *c, int *fds, size_t *nfds,
                           ssize_t *ret_n, bool cloexec) {
  struct pc_deadline d;
  int tmo = daemon_timeout_ms();
  ssize_t n = -EAGAIN;
  int r;

  pc_deadline_init(&d, tmo / 1000.0);
  /*
   * The common case in one system call, as a plain blocking client would
   * make it: a blocking receive that SO_RCVTIMEO bounds (set once per
   * connection). A receive that ends without a packet (the timeout, a
   * signal, an fd the program made non-blocking) goes on in the poll()
   * loop below with the time that is left.
   */
  if (set_rcvtimeo(c, tmo) == 0)
    n = wire_recv_packet_once(c->fd, c->buf, PSOCK_MAX_PACKET, fds,
                              PSOCK_MAX_REPLY_FDS, nfds, 0, cloexec);
  while (n == -EAGAIN || n == -EINTR) {
    r = pc_wait_fd(c->fd, POLLIN, &d);
    if (r == -PC_ETIMEOUT) {
      pc_error(PSOCK_ERR_PROTOCOL, ETIMEDOUT,
               "psockd did not answer within %d ms", tmo);
      return XCHG_FAIL_DROP;
    }
    if (r < 0) {
      pc_error(PSOCK_ERR_PROTOCOL, -r, "waiting for psockd: %s", strerror(-r));
      return XCHG_FAIL_DROP;
    }
    n = wire_recv_packet_once(c->fd, c->buf, PSOCK_MAX_PACKET, fds,
                              PSOCK_MAX_REPLY_FDS, nfds, MSG_DONTWAIT, cloexec);
  }
  if (n == 0 || n == -ECONNRESET)
    return XCHG_LOST;
  if (n < 0) {
    pc_error(PSOCK_ERR_PROTOCOL, (int)-n, "bad packet from psockd: %s",
             strerror((int)-n));
    return XCHG_FAIL_DROP;
  }
  *ret_n = n;
  return XCHG_OK;
}

/* A response of unpack(): protobuf-c's, or the caller's hot one. */
static void response_free(Psock__V1__Response *resp,
                          const struct wire_hot_reply *hot) {
  if (resp && (!hot || resp != &hot->resp))
    psock__v1__response__free_unpacked(resp, NULL);
}

/* The response in c->buf (n bytes): with hot, a plain socket reply is
 * decoded into it by hand (wire_hot.h), anything else by protobuf-c. */
static Psock__V1__Response *unpack(const struct conn *c, size_t n,
                                   struct wire_hot_reply *hot) {
  if (hot && wire_hot_unpack_socket(c->buf, n, hot))
    return &hot->resp;
  return psock__v1__response__unpack(NULL, n, c->buf);
}

/* One request/response on c. On XCHG_OK the response's id and fd count
 * are verified; ret_fds holds exactly resp->fd_count fds; the response is
 * in *hot where hot is given and it could be (free it with
 * response_free()). */
static enum xchg xchg(struct conn *c, const struct pc_ident *id,
                      Psock__V1__Request *req, const int *fds, size_t nfds,
                      Psock__V1__Response **ret_resp, int *ret_fds,
                      size_t *ret_nfds, bool cloexec,
                      struct wire_hot_reply *hot) {
  Psock__V1__Response *resp;
  enum xchg x;
  ssize_t n = 0;

  x = xchg_send(c, req, fds, nfds, id);
  if (x != XCHG_OK)
    return x;
  x = xchg_recv(c, ret_fds, ret_nfds, &n, cloexec);
  if (x != XCHG_OK)
    return x;
  resp = unpack(c, (size_t)n, hot);
  if (!resp) {
    pc_error(PSOCK_ERR_PROTOCOL, EBADMSG, "undecodable response from psockd");
  } else if (resp->id != req->id) {
    pc_error(PSOCK_ERR_PROTOCOL, EPROTO,
             "psockd answered request %llu, expected %llu",
             (unsigned long long)resp->id, (unsigned long long)req->id);
  } else if (resp->fd_count != *ret_nfds) {
    pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd announced %u fds but sent %zu",
             resp->fd_count, *ret_nfds);
  } else {
    set_unsettled(c, *ret_nfds > 0);
    *ret_resp = resp;
    return XCHG_OK;
  }
  response_free(resp, hot);
  wire_close_fds(ret_fds, *ret_nfds);
  *ret_nfds = 0;
  return XCHG_FAIL_DROP;
}

/* Map an Error response onto the thread's last error. */
static int record_error_reply(const Psock__V1__Error *e) {
  int kind = (int)e->kind;

  /* Error.Kind 1..6 is numbered as psock_error_kind; anything else from a
   * newer daemon is still an error, of a kind we cannot name. */
  if (kind < PSOCK_ERR_OS || kind > PSOCK_ERR_PROTOCOL)
    kind = PSOCK_ERR_PROTOCOL;
  return pc_error(kind, e->code, "%s", e->message ? e->message : "");
}

static int hello(struct conn *c, const struct pc_ident *id) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;
  Psock__V1__Response *resp = NULL;
  int fds[PSOCK_MAX_REPLY_FDS];
  size_t nfds = 0;
  enum xchg x;
  bool page;
  int r = 0;

  h.protocol_version = PSOCK_PROTOCOL_VERSION;
  h.client_version = (char *)PSOCK_VERSION;
  /* The policy page of our identity, for the fast paths (fast.h). */
  h.has_page = true;
  h.page = true;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  x = xchg(c, id, &req, NULL, 0, &resp, fds, &nfds, true, NULL);
  /* Not recorded: conn_open() tries again (see there). */
  if (x == XCHG_LOST)
    return -ECONNRESET;
  if (x != XCHG_OK)
    return -PC_ERECORDED;
  /* The policy page comes as the reply's one fd (issue 16). */
  page = resp->hello && resp->hello->has_page && resp->hello->page;
  if (resp->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR && resp->error)
    r = pc_error(PSOCK_ERR_PROTOCOL, resp->error->code,
                 "psockd refused the handshake: %s",
                 resp->error->message ? resp->error->message : "");
  else if (resp->result_case != PSOCK__V1__RESPONSE__RESULT_HELLO ||
           !resp->hello || nfds > (page ? 1u : 0u))
    r = pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent no handshake reply");
  else if (resp->hello->protocol_version != PSOCK_PROTOCOL_VERSION)
    r = pc_error(PSOCK_ERR_PROTOCOL, EPROTONOSUPPORT,
                 "psockd speaks protocol version %u, this library %u",
                 resp->hello->protocol_version, PSOCK_PROTOCOL_VERSION);
  else
    c->sendto_restricted =
        !resp->hello->has_sendto_restricted || resp->hello->sendto_restricted;
  /* A page that is not one is no page: every call asks, as without. */
  if (r == 0 && nfds == 1) {
    c->page = pc_page_map(fds[0], &c->page_id);
    nfds = 0;
  }
  wire_close_fds(fds, nfds);
  psock__v1__response__free_unpacked(resp, NULL);
  return r;
}

/* Open, move high and handshake a new connection under identity id;
 * records errors. */
/* Open and handshake one connection; NULL with the error recorded, or with
 * *ret_lost set if psockd closed it before it answered the handshake. */
static struct conn *conn_open_once(const struct pc_ident *id, bool *ret_lost) {
  const char *path = socket_path();
  _cleanup_close_ int fd = -1;
  _cleanup_(conn_freep) struct conn *c = NULL;
  struct stat st;
  int hi, r;

  fd = wire_connect_path(path);
  if (fd < 0) {
    unreachable(path, -fd);
    return NULL;
  }
  /* Out of the range programs use and close-on-exec; if the limit is
   * too low for that, the low number still works. */
  hi = fcntl(fd, F_DUPFD_CLOEXEC, CONN_FD_MIN);
  if (hi >= 0) {
    close(fd);
    fd = hi;
  }
  c = calloc(1, sizeof(*c));
  if (!c || fstat(fd, &st) < 0) {
    pc_error_os(c ? errno : ENOMEM);
    return NULL;
  }
  c->buf = malloc(PSOCK_MAX_PACKET);
  r = c->buf ? pc_ident_groups(id, &c->groups, &c->ngroups) : -ENOMEM;
  if (r < 0) {
    pc_error_os(-r);
    return NULL;
  }
  c->fd = TAKE_FD(fd);
  c->dev = st.st_dev;
  c->ino = st.st_ino;
  c->pid = self_pid();
  c->euid = id->euid;
  c->egid = id->egid;
  r = hello(c, id);
  if (r < 0) {
    *ret_lost = r == -ECONNRESET;
    conn_drop(TAKE_PTR(c));
    return NULL;
  }
  return TAKE_PTR(c);
}

/*
 * A new connection. psockd hands each connection to a worker of the
 * caller's identity; one handed to a worker that died a moment later is
 * closed before the handshake is answered, and a second one goes to a
 * worker that lives: try a few times before giving up.
 */
static struct conn *conn_open(const struct pc_ident *id) {
  for (int attempt = 0; attempt < 3; attempt++) {
    bool lost = false;
    struct conn *c = conn_open_once(id, &lost);

    if (c || !lost)
      return c;
  }
  pc_error(PSOCK_ERR_PROTOCOL, ECONNRESET,
           "psockd closed the connection during the handshake");
  return NULL;
}

/* Check a verified response against the call: error replies are recorded,
 * a wrong result or fd count is a protocol error (-PC_ERECORDED; the
 * caller closes the fds and frees resp). */
static int check_result(const Psock__V1__Request *req,
                        const Psock__V1__Response *resp, size_t nfds,
                        size_t min_fds, size_t max_fds) {
  int r = 0;

  if (resp->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR && resp->error &&
      nfds == 0)
    r = record_error_reply(resp->error);
  else if ((int)resp->result_case != (int)req->call_case)
    r = pc_error(PSOCK_ERR_PROTOCOL, EPROTO,
                 "psockd answered call %d with result %d", (int)req->call_case,
                 (int)resp->result_case);
  else if (nfds < min_fds || nfds > max_fds)
    r = pc_error(PSOCK_ERR_PROTOCOL, EPROTO,
                 "psockd sent %zu fds for a call that returns %zu", nfds,
                 max_fds);
  return r;
}

void pc_conn_flush(void) {
  struct conn *c;

  pthread_mutex_lock(&pool_lock);
  c = pool_idle;
  pool_idle = NULL;
  pool_nidle = 0;
  pthread_mutex_unlock(&pool_lock);
  while (c) {
    struct conn *next = c->next_idle;

    conn_drop(c);
    c = next;
  }
}

int pc_conn_sendto_restricted(void) {
  struct pc_ident id;
  struct conn *c;
  bool restricted;

  pc_ident_now(&id);
  c = pool_take(&id);
  if (!c)
    c = conn_open(&id);
  if (!c)
    return -PC_ERECORDED;
  restricted = c->sendto_restricted;
  pool_put(c);
  return restricted;
}

/* ------------------------------------------------------ the policy page */

/*
 * Is the connection of fd (still the socket dev/ino) open at psockd's
 * end? A worker that died, or a psockd that stopped, writes its page no
 * more: its hang-up shows in the socket's state before any call of ours
 * notices it, and its page must not be believed from then on.
 */
static bool conn_alive(int fd, dev_t dev, ino_t ino) {
  struct conn probe = {.fd = fd, .dev = dev, .ino = ino};
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

  if (poll(&p, 1, 0) < 0 ||
      (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)))
    return false;
  return conn_fd_matches(&probe);
}

int pc_conn_page(struct pc_page_view *ret) {
  struct pc_page_view v;
  struct pc_ident id;
  struct conn *c;
  bool read = false;
  dev_t dev = 0;
  ino_t ino = 0;
  int fd = -1;

  /* No connection brought a page (none yet, or an older psockd): no
   * lock, no system call. */
  if (!__atomic_load_n(&page_conn, __ATOMIC_RELAXED))
    return 0;
  pc_ident_now(&id);
  pthread_mutex_lock(&page_lock);
  c = page_conn;
  if (c && c->pid == self_pid() && conn_same_ident(c, &id) &&
      pc_page_read(c->page, c->page_id, &v)) {
    read = true;
    fd = c->fd;
    dev = c->dev;
    ino = c->ino;
  }
  pthread_mutex_unlock(&page_lock);
  if (!read)
    return 0;
  if (!conn_alive(fd, dev, ino)) {
    /* Its next call finds it lost and opens another, with a page. */
    pthread_mutex_lock(&page_lock);
    if (page_conn == c)
      __atomic_store_n(&page_conn, NULL, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&page_lock);
    return 0;
  }
  *ret = v;
  return 1;
}

/* What c's page says now (c is the caller's: no lock); zero without. */
static void conn_page_view(const struct conn *c, struct pc_page_view *ret) {
  if (!c->page || !pc_page_read(c->page, c->page_id, ret))
    memset(ret, 0, sizeof(*ret));
}

/* ------------------------------------------------------------ calls */

/* pc_call_paged()'s hook and where the view goes. */
struct paged {
  pc_page_hook hook;
  void *arg;
  struct pc_page_view *view;
};

/* The exchange behind pc_call*(): between min_fds and max_fds fds back;
 * with pg, the request as its hook makes it by the page of the connection
 * used. A caller that wants no more than the fds and that the call
 * succeeded passes no ret_resp: the response is freed here, and a plain
 * socket reply is never given to protobuf-c (wire_hot.h). */
static int call(Psock__V1__Request *req, const int *fds, size_t nfds,
                size_t min_fds, size_t max_fds, Psock__V1__Response **ret_resp,
                int *ret_fds, size_t *ret_nfds, bool cloexec,
                const struct paged *pg) {
  struct wire_hot_reply hot, *hotp = ret_resp ? NULL : &hot;
  Psock__V1__Response *resp = NULL;
  int rfds[PSOCK_MAX_REPLY_FDS];
  size_t nrfds = 0;
  enum xchg x = XCHG_LOST;
  struct pc_ident id;
  struct conn *c;
  int r;

  /* A lost connection (daemon restarted, worker crashed) is reopened once
   * and the request sent again: every call is safe to repeat, since it
   * acts on fds the client holds or creates new ones. */
  for (int attempt = 0; attempt < 2 && x == XCHG_LOST; attempt++) {
    pc_ident_now(&id);
    c = pool_take(&id);
    if (!c && !id.frozen) {
      /* A new identity, maybe one that can no longer change. */
      pc_ident_recheck();
      pc_ident_now(&id);
    }
    if (!c)
      c = conn_open(&id);
    if (!c)
      return -PC_ERECORDED;
    if (pg) {
      conn_page_view(c, pg->view);
      max_fds = pg->hook(req, pg->view, pg->arg);
    }
    x = xchg(c, &id, req, fds, nfds, &resp, rfds, &nrfds, cloexec, hotp);
    if (x == XCHG_OK || x == XCHG_FAIL_KEEP)
      pool_put(c);
    else
      conn_drop(c);
  }
  if (x == XCHG_LOST)
    return pc_error(PSOCK_ERR_PROTOCOL, ECONNRESET,
                    "psockd closed the connection");
  if (x != XCHG_OK)
    return -PC_ERECORDED;
  r = check_result(req, resp, nrfds, min_fds, max_fds);
  if (r < 0) {
    wire_close_fds(rfds, nrfds);
    response_free(resp, hotp);
    return r;
  }
  if (nrfds)
    memcpy(ret_fds, rfds, nrfds * sizeof(int));
  if (ret_nfds)
    *ret_nfds = nrfds;
  if (ret_resp)
    *ret_resp = resp;
  else
    response_free(resp, hotp);
  return 0;
}

int pc_call(Psock__V1__Request *req, const int *fds, size_t nfds,
            size_t want_fds, Psock__V1__Response **ret_resp, int *ret_fds) {
  return call(req, fds, nfds, want_fds, want_fds, ret_resp, ret_fds, NULL, true,
              NULL);
}

int pc_call_fds(Psock__V1__Request *req, const int *fds, size_t nfds,
                size_t want_fds, Psock__V1__Response **ret_resp, int *ret_fds,
                bool cloexec) {
  return call(req, fds, nfds, want_fds, want_fds, ret_resp, ret_fds, NULL,
              cloexec, NULL);
}

int pc_call_upto(Psock__V1__Request *req, const int *fds, size_t nfds,
                 size_t max_fds, Psock__V1__Response **ret_resp, int *ret_fds,
                 size_t *ret_nfds) {
  return call(req, fds, nfds, 0, max_fds, ret_resp, ret_fds, ret_nfds, true,
              NULL);
}

int pc_call_paged(Psock__V1__Request *req, pc_page_hook hook, void *arg,
                  Psock__V1__Response **ret_resp, int *ret_fds,
                  size_t *ret_nfds, struct pc_page_view *ret_view) {
  struct paged pg = {.hook = hook, .arg = arg, .view = ret_view};

  return call(req, NULL, 0, 1, 1, ret_resp, ret_fds, ret_nfds, true, &pg);
}

int pc_conn_identity_fixed(void) {
  return pc_ident_fix();
}
