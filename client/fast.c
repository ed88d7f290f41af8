/* SPDX-License-Identifier: MIT */
/*
 * fast: the fast paths of issue 16 (see fast.h).
 *
 * The socket cache. Sockets of a batch live at fd >= 100, close-on-exec,
 * out of the program's way, each remembered with its st_dev/st_ino and the
 * page and policy generation it came under. A program may close or
 * replace any fd: an entry whose number is no longer its socket is
 * forgotten, never closed. One is handed out only under the same page and
 * generation, moved to the lowest free number (F_DUPFD, or F_DUPFD_CLOEXEC
 * as SOCK_CLOEXEC asks) and its high number closed, so that the program
 * sees a socket as socket(2) would give it. Another generation drops the
 * whole cache; a fork drops it in the child (pthread_atfork(), and for a
 * fork that runs no handler, the pid the entries belong to). The cache is
 * refilled when a kind runs out: the call that finds it empty asks psockd
 * for a batch and answers with its first socket.
 *
 * Threads: the cache is under one mutex that guards its lists only (as
 * conn.c's pool): the system calls on an entry happen after it is taken
 * out, so no two threads ever hand out the same socket.
 *
 * Trust boundary: the sockets come from psockd, with the page's word for
 * which kinds it batches; the program's fd table is the program's.
 */
#include "fast.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "error.h"
#include "ident.h"
#include "page.h"
#include "route.h"
#include "wire.h"

_Static_assert(1 + PC_FAST_BATCH <= PSOCK_MAX_REPLY_FDS,
               "a batch and its first socket fit in one reply");

/* Library fds live at or above this number, as conn.c's. */
#define CACHE_FD_MIN 100
/* The kinds of enum psock_batch_kind, one list each. */
#define CACHE_KINDS 4

struct cached {
  int fd;
  dev_t dev;
  ino_t ino;
  uint64_t page, generation; /* the page view it came under */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static struct cached cache[CACHE_KINDS][PC_FAST_BATCH];
static unsigned cache_n[CACHE_KINDS];
static pid_t cache_pid; /* the process the entries' fds belong to */
/* The page and generation of the last batch, read without the lock: a
 * decision that sees another generation of that page drops the cache. */
static uint64_t cache_page, cache_generation;

/* ------------------------------------------------------------ the cache */

/* Is e->fd still the socket it was? */
static bool entry_matches(const struct cached *e) {
  struct stat st;

  return fstat(e->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         st.st_dev == e->dev && st.st_ino == e->ino;
}

/* Called with cache_lock held: close every entry that is still ours. */
static void cache_clear(void) {
  for (unsigned k = 0; k < CACHE_KINDS; k++) {
    for (unsigned i = 0; i < cache_n[k]; i++)
      if (entry_matches(&cache[k][i]))
        close(cache[k][i].fd);
    cache_n[k] = 0;
  }
}

/* Called with cache_lock held: entries of another process (a fork that
 * ran no handler) are this process's copies, closed; then ours. */
static void cache_own(void) {
  pid_t pid = pc_self_pid();

  if (cache_pid != pid) {
    cache_clear();
    cache_pid = pid;
  }
}

static void cache_prefork(void) {
  pthread_mutex_lock(&cache_lock);
}

static void cache_parent(void) {
  pthread_mutex_unlock(&cache_lock);
}

/* The child's copies of the parent's sockets are not the child's to hand
 * out (the parent may hand out the same ones): closed in the child. */
static void cache_child(void) {
  cache_clear();
  cache_pid = pc_self_pid();
  pthread_mutex_unlock(&cache_lock);
}

static void cache_init(void) {
  pthread_atfork(cache_prefork, cache_parent, cache_child);
}

static void cache_enter(void) {
  pthread_once(&cache_once, cache_init);
  pthread_mutex_lock(&cache_lock);
  cache_own();
}

void pc_fast_flush(void) {
  cache_enter();
  cache_clear();
  pthread_mutex_unlock(&cache_lock);
}

/* Called with cache_lock held: batches now come under v. Another
 * generation of the same page is another policy: nothing made under the
 * old one is handed out. */
static void cache_note(const struct pc_page_view *v) {
  if (v->page == cache_page && v->generation != cache_generation)
    cache_clear();
  __atomic_store_n(&cache_page, v->page, __ATOMIC_RELAXED);
  __atomic_store_n(&cache_generation, v->generation, __ATOMIC_RELAXED);
}

/* A decision read v: drop the cache if it shows a new generation. */
static void cache_check(const struct pc_page_view *v) {
  if (v->page != __atomic_load_n(&cache_page, __ATOMIC_RELAXED) ||
      v->generation == __atomic_load_n(&cache_generation, __ATOMIC_RELAXED))
    return;
  cache_enter();
  cache_note(v);
  pthread_mutex_unlock(&cache_lock);
}

/* Keep fd (a socket of kind k that came under v; taken) in the cache. */
static void cache_add(unsigned k, int fd, const struct pc_page_view *v) {
  struct stat st;
  int hi = fcntl(fd, F_DUPFD_CLOEXEC, CACHE_FD_MIN);

  close(fd);
  if (hi < 0)
    return; /* a limit below 100 fds: no cache */
  if (fstat(hi, &st) < 0) {
    close(hi);
    return;
  }
  cache_enter();
  cache_note(v);
  if (cache_n[k] < PC_FAST_BATCH) {
    cache[k][cache_n[k]++] = (struct cached){.fd = hi,
                                             .dev = st.st_dev,
                                             .ino = st.st_ino,
                                             .page = v->page,
                                             .generation = v->generation};
    hi = -1;
  }
  pthread_mutex_unlock(&cache_lock);
  if (hi >= 0)
    close(hi);
}

/* Take an entry of kind k out of the cache; false if there is none. */
static bool cache_pop(unsigned k, struct cached *ret) {
  bool got;

  cache_enter();
  got = cache_n[k] > 0;
  if (got)
    *ret = cache[k][--cache_n[k]];
  pthread_mutex_unlock(&cache_lock);
  return got;
}

/*
 * A cached socket of kind k for the caller, under page view v, at the
 * lowest free number: >= 0; -1 when there is none to give; -EMFILE when
 * the program is out of fds (the cache is dropped then: its own fds may
 * be what the program lacks).
 */
static int cache_take(unsigned k, const struct pc_page_view *v, bool cloexec) {
  struct cached e;
  int fd, err;

  while (cache_pop(k, &e)) {
    /* Closed or replaced by the program: no longer ours to close. */
    if (!entry_matches(&e))
      continue;
    if (e.page != v->page || e.generation != v->generation) {
      /* Made under a policy that may not be the one in force. */
      close(e.fd);
      continue;
    }
    fd = fcntl(e.fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
    err = errno;
    close(e.fd);
    if (fd >= 0)
      return fd;
    if (err == EMFILE) {
      pc_fast_flush();
      return -EMFILE;
    }
  }
  return -1;
}

/* ------------------------------------------------------------ decisions */

/* The batch kind of a socket (enum psock_batch_kind's bit number), or -1. */
static int kind_of(int family, int type, int proto) {
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  int k;

  if (base == SOCK_STREAM && (proto == 0 || proto == IPPROTO_TCP))
    k = 0;
  else if (base == SOCK_DGRAM && (proto == 0 || proto == IPPROTO_UDP))
    k = 1;
  else
    return -1;
  if (family == AF_INET6)
    return k + 2;
  return family == AF_INET ? k : -1;
}

/* The page's bit for call on a socket of family (inet or inet6). */
static uint32_t free_bit(enum pc_fast_call call, int family) {
  bool six = family == AF_INET6;

  switch (call) {
  case PC_FAST_CONNECT:
    return six ? PSOCK_FREE_CONNECT_INET6 : PSOCK_FREE_CONNECT_INET;
  case PC_FAST_SENDTO:
    return six ? PSOCK_FREE_SENDTO_INET6 : PSOCK_FREE_SENDTO_INET;
  case PC_FAST_BIND:
    return six ? PSOCK_FREE_BIND_INET6 : PSOCK_FREE_BIND_INET;
  case PC_FAST_LISTEN:
    return six ? PSOCK_FREE_LISTEN_INET6 : PSOCK_FREE_LISTEN_INET;
  }
  return 0;
}

/* A bind or listen makes state that outlives the program's close() as
 * long as psockd holds the socket too: while it may (conn.h), the call
 * goes to psockd, whose answer comes after it closed its copies. */
static bool leaves_state(enum pc_fast_call call) {
  return call == PC_FAST_BIND || call == PC_FAST_LISTEN;
}

bool pc_fast_free(enum pc_fast_call call, int sock_family, int addr_family) {
  struct pc_page_view v;

  if ((sock_family != AF_INET && sock_family != AF_INET6) ||
      addr_family != sock_family || !pc_fast_enabled() || !pc_conn_page(&v))
    return false;
  cache_check(&v);
  if (leaves_state(call) && !pc_conn_fds_settled())
    return false;
  return (v.free & free_bit(call, sock_family)) != 0;
}

bool pc_fast_bind(int sock_family, const psock_address *a) {
  /* The page's bit leaves the ports below 1024 to psockd's rules. */
  if ((a->family == AF_INET || a->family == AF_INET6) && a->u.in.port > 0 &&
      a->u.in.port < 1024)
    return false;
  return pc_fast_free(PC_FAST_BIND, sock_family, a->family);
}

/* pc_call_paged()'s hook: a batch where the connection's page lists the
 * kind (arg: its bit), else one socket, as without a page. */
static size_t batch_by_page(Psock__V1__Request *req,
                            const struct pc_page_view *v, void *arg) {
  uint32_t bit = *(const uint32_t *)arg;
  bool batch = v->page && (v->batch & bit);

  req->socket->has_batch = batch;
  req->socket->batch = batch ? PC_FAST_BATCH : 0;
  return batch ? 1 + PC_FAST_BATCH : 1;
}

/* Ask psockd for a socket of kind k, with a batch where the page of the
 * connection lists the kind: the first for the caller (close-on-exec as
 * asked), the rest for the cache. 1, -errno or -PC_ERECORDED as
 * pc_fast_socket(); 0 when a batch did not fit the program's fds. */
static int batch_ask(int family, int type, int proto, unsigned k, int *ret_fd) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest sr = PSOCK__V1__SOCKET_REQUEST__INIT;
  struct pc_page_view v;
  uint32_t bit = 1u << k;
  int fds[1 + PC_FAST_BATCH];
  size_t nfds = 0;

  /* Blocking, all of them: the caller sets O_NONBLOCK on the one it
   * hands out, as on those of the cache. */
  sr.family = family;
  sr.type = type & ~SOCK_NONBLOCK;
  sr.proto = proto;
  PC_REQUEST(req, SOCKET, socket, &sr);
  if (pc_call_paged(&req, batch_by_page, &bit, NULL, fds, &nfds, &v) < 0) {
    /* A batch may not fit the fds the program has left: the kernel then
     * truncates the reply (MSG_CTRUNC) and the exchange fails as a bad
     * packet. One socket asked alone (the caller's path when this returns
     * 0) is what socket(2) would still give; our cached ones go first. */
    if (sr.has_batch && psock_last_error_kind() == PSOCK_ERR_PROTOCOL &&
        psock_last_error_code() == EPROTO) {
      pc_fast_flush();
      return 0;
    }
    return -PC_ERECORDED;
  }
  for (size_t i = 1; i < nfds; i++)
    cache_add(k, fds[i], &v);
  if (!(type & SOCK_CLOEXEC) && fcntl(fds[0], F_SETFD, 0) < 0) {
    int err = errno;

    close(fds[0]);
    return -err;
  }
  *ret_fd = fds[0];
  return 1;
}

int pc_fast_socket(int family, int type, int proto, int *ret_fd) {
  struct pc_page_view v;
  int k = kind_of(family, type, proto), fd;

  if (k < 0 || !pc_fast_enabled())
    return 0;
  if (pc_conn_page(&v)) {
    if (!(v.batch & (1u << k)))
      return 0;
    cache_check(&v);
    fd = cache_take((unsigned)k, &v, (type & SOCK_CLOEXEC) != 0);
    if (fd >= 0) {
      *ret_fd = fd;
      return 1;
    }
    /* Out of fds: one socket asked for alone gets the kernel's answer
     * for the program's own fds, as natively. */
    if (fd == -EMFILE)
      return 0;
  }
  /* None cached, or no page to read yet (the first socket of a process:
   * the connection it opens may bring one, and batch_ask() asks by it). */
  return batch_ask(family, type, proto, (unsigned)k, ret_fd);
}
