/* SPDX-License-Identifier: MIT */
/*
 * psock-load: load and soak for psockd (issue #8). Not a timed benchmark
 * (that is psock-bench): it checks that psockd holds up and gives back
 * what it takes.
 *
 * psockd serves each client identity with workers of its own (started by
 * psockd-spawn with the identity's first connection, up to --workers per
 * identity, each with a resolver process; retired when idle). psock-load
 * starts its own psockd (as root, --socket-mode=0666, --worker-idle 1) on
 * a private socket, then:
 *
 *  1. opens --connections idle client connections (default 10,000), each
 *     with a completed handshake, held open to the end, spread over users
 *     50000, 50001, ... --per-user each (default 1,000, so psockd's default
 *     per-user limits stay in force): each of those users gets workers of
 *     its own, and the memory per idle connection counts them;
 *  2. starts a client (user nobody) that pipelines requests and never
 *     reads a reply, and holds its connection; a probe (nobody too) opens
 *     8 connections, some of which psockd gives to the never-reader's
 *     worker; the --clients request senders (users 60000, ...) connect and
 *     warm their workers up;
 *  3. runs --requests requests (default 1,000,000: socket, socketpair,
 *     getaddrinfo, gethostname, has_ipv6, getprotobyname), each sender
 *     keeping --window requests in flight, while the probe times one
 *     request at a time; every reply must be the one its request calls
 *     for (socketpair(AF_UNIX) is refused by policy: a client makes its
 *     own), or EAGAIN from a limit;
 *  4. closes everything and waits until every worker has retired.
 *
 * It prints psockd's processes, open fds and resident memory (RSS, and
 * PSS, which shares the pages forked workers have in common) at each
 * step, per role and per user, the memory per idle connection, the
 * request rate and the probe's latency, and a verdict: every reply as
 * expected, the fds after the requests equal the fds before them, every
 * process's memory grew by less than 1 MiB + 2 % across the requests, and
 * once the clients are gone psockd is back to its three processes and the
 * fds it held at the start. Exit status 0 if so.
 *
 *   psock-load --psockd build/daemon/psockd           # full run
 *   psock-load --smoke                                # 500 conns, 20,000 reqs
 *
 * Needs root (it starts psockd and runs clients as other users). It raises
 * its own RLIMIT_NOFILE as needed; psockd raises its soft limit to its
 * hard limit at start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "psock.pb-c.h"
#include "wire.h"

#define MAX_PROCS 512
#define MAX_HOLDERS 64
/* Client users: none has an account, and all lie below the range psockd
 * takes its own uid from when it has no user of its own (61184-65519). */
#define HOLDER_UID 50000
#define CLIENT_UID 60000
#define NOBODY 65534
#define MAX_CLIENTS 32
#define PROBE_CONNS 8
#define LAT_SLOTS 4096 /* probe latency samples kept (a ring) */
#define WARMUP_REQUESTS 500
/* How long psockd gets to retire its workers at the end. */
#define BARE_TIMEOUT_MS 30000

static struct {
  long connections, requests, per_user;
  int clients, window, workers, worker_idle;
  long psockd_nofile;
  const char *psockd;
  bool smoke;
} opt = {10000, 1000000, 1000, 4, 16, 0, 1, 1024, NULL, false};

/* Shared with the client processes. */
struct shared {
  volatile long connected; /* idle connections open so far */
  volatile int release;    /* everyone: close now */
  volatile int hog_ready;  /* the never-reader has stalled itself */
  volatile long hog_sent;  /* requests it got in before psockd stopped
                              reading it */
  volatile int probe_ready, probe_go, probe_stop;
  volatile long probe_n; /* probe samples taken */
  volatile double lat[LAT_SLOTS];
  volatile double lat_max;
  volatile int go; /* senders: start */
  struct {
    volatile int ready; /* connected and warmed up */
    volatile long done, refused, denied, unexpected, failed;
  } client[MAX_CLIENTS];
};

static struct shared *sh;
static char dir[] = "/tmp/psock-load.XXXXXX";
static char sock_path[64], log_path[64];
static pid_t psockd_pid;

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *what) {
  fprintf(stderr, "psock-load: %s: %s\n", what, strerror(errno));
  if (psockd_pid > 0)
    kill(psockd_pid, SIGKILL);
  exit(2);
}

/* ---------------------------------------------------------- psockd stats */

enum kind { K_MASTER, K_PRIV, K_SPAWN, K_WORKER, K_RESOLVER, K_OTHER };

static const char *const kind_name[] = {"master", "priv",     "spawn",
                                        "worker", "resolver", "starting"};

struct proc_stat {
  pid_t pid;
  enum kind kind;
  unsigned uid; /* of a worker or resolver: the client's */
  int fds;
  long rss_kib, pss_kib;
};

struct snap {
  struct proc_stat p[MAX_PROCS];
  size_t n;
};

static pid_t parent_of(pid_t pid) {
  char path[64], buf[512], *rp;
  int ppid = -1;
  size_t n;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  if (!(f = fopen(path, "re")))
    return -1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  rp = strrchr(buf, ')');
  if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
    return -1;
  return ppid;
}

static int count_fds(pid_t pid) {
  char path[64];
  struct dirent *e;
  int n = 0;
  DIR *d;

  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  if (!(d = opendir(path)))
    return -1;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* "Key:  N kB" of a /proc file, or -1. */
static long kib_field(pid_t pid, const char *file, const char *key) {
  char path[64], line[256];
  size_t klen = strlen(key);
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  if (!(f = fopen(path, "re")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      kib = atol(line + klen + 1);
      break;
    }
  fclose(f);
  return kib;
}

/* What psockd process pid is, from its title. */
static void kind_of(struct proc_stat *s) {
  char path[64], buf[256];
  size_t n;
  FILE *f;

  s->kind = s->pid == psockd_pid ? K_MASTER : K_OTHER;
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)s->pid);
  if (s->kind == K_MASTER || !(f = fopen(path, "re")))
    return;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  for (size_t i = 0; i + 1 < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  buf[n] = '\0';
  if (strncmp(buf, "psockd --role=priv", 18) == 0)
    s->kind = K_PRIV;
  else if (strncmp(buf, "psockd --role=spawn", 19) == 0)
    s->kind = K_SPAWN;
  else if (sscanf(buf, "psockd-worker uid=%u", &s->uid) == 1)
    s->kind = K_WORKER;
  else if (sscanf(buf, "psockd-resolver uid=%u", &s->uid) == 1)
    s->kind = K_RESOLVER;
}

/* psockd and every process descended from it. */
static void snapshot(struct snap *s) {
  static pid_t pids[65536], ppids[65536];
  size_t np = 0;
  bool grew = true;
  struct dirent *e;
  DIR *d = opendir("/proc");

  if (!d)
    die("/proc");
  while ((e = readdir(d)) && np < 65536) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid > 0) {
      pids[np] = pid;
      ppids[np++] = parent_of(pid);
    }
  }
  closedir(d);
  s->n = 0;
  s->p[s->n++] = (struct proc_stat){.pid = psockd_pid};
  while (grew) {
    grew = false;
    for (size_t i = 0; i < np && s->n < MAX_PROCS; i++) {
      bool parent = false, known = false;
      for (size_t j = 0; j < s->n; j++) {
        parent |= s->p[j].pid == ppids[i];
        known |= s->p[j].pid == pids[i];
      }
      if (parent && !known) {
        s->p[s->n++] = (struct proc_stat){.pid = pids[i]};
        grew = true;
      }
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    kind_of(&s->p[i]);
    s->p[i].fds = count_fds(s->p[i].pid);
    s->p[i].rss_kib = kib_field(s->p[i].pid, "status", "VmRSS");
    s->p[i].pss_kib = kib_field(s->p[i].pid, "smaps_rollup", "Pss");
  }
}

static int total_fds(const struct snap *s) {
  int t = 0;
  for (size_t i = 0; i < s->n; i++)
    t += s->p[i].fds > 0 ? s->p[i].fds : 0;
  return t;
}

static long total_rss(const struct snap *s) {
  long t = 0;
  for (size_t i = 0; i < s->n; i++)
    t += s->p[i].rss_kib > 0 ? s->p[i].rss_kib : 0;
  return t;
}

static long total_pss(const struct snap *s) {
  long t = 0;
  for (size_t i = 0; i < s->n; i++)
    t += s->p[i].pss_kib > 0 ? s->p[i].pss_kib : 0;
  return t;
}

static size_t count_kind(const struct snap *s, enum kind k) {
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++)
    n += s->p[i].kind == k;
  return n;
}

/* Users served by at least one worker. */
static size_t count_users(const struct snap *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++) {
    bool seen = false;
    if (s->p[i].kind != K_WORKER)
      continue;
    for (size_t j = 0; j < i && !seen; j++)
      seen = s->p[j].kind == K_WORKER && s->p[j].uid == s->p[i].uid;
    n += !seen;
  }
  return n;
}

/*
 * Wait until psockd's processes and fd total hold still for stable_ms (or
 * the total equals want), at most timeout_ms. With bare, also until psockd
 * is its three roles and nothing else. False on timeout.
 */
static bool settle(struct snap *s, int want, bool bare, int stable_ms,
                   int timeout_ms) {
  int last = -1, same = 0;
  size_t last_n = 0;

  for (int t = 0; t < timeout_ms; t += 20) {
    snapshot(s);
    int fds = total_fds(s);
    bool ok = !bare || (s->n == 3 && count_kind(s, K_PRIV) == 1 &&
                        count_kind(s, K_SPAWN) == 1);
    same = ok && fds == last && s->n == last_n ? same + 20 : 0;
    last = fds;
    last_n = s->n;
    if (ok && (fds == want || same >= stable_ms))
      return true;
    usleep(20000);
  }
  return false;
}

/* ----------------------------------------------------------------- table */

/* A row of the table: a role, or a role and a user (workers, resolvers). */
struct row_key {
  enum kind kind;
  unsigned uid;
};

static bool same_key(const struct proc_stat *p, const struct row_key *k) {
  return p->kind == k->kind &&
         (k->kind != K_WORKER && k->kind != K_RESOLVER ? true
                                                       : p->uid == k->uid);
}

static int cmp_key(const void *a, const void *b) {
  const struct row_key *x = a, *y = b;

  if (x->kind != y->kind)
    return x->kind < y->kind ? -1 : 1;
  return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void print_cell(const struct snap *s, const struct row_key *k) {
  int n = 0, fds = 0;
  long rss = 0;

  for (size_t i = 0; i < s->n; i++)
    if (same_key(&s->p[i], k)) {
      n++;
      fds += s->p[i].fds;
      rss += s->p[i].rss_kib;
    }
  if (n)
    printf(" | %3d %6d %8ld", n, fds, rss);
  else
    printf(" | %3s %6s %8s", "-", "-", "-");
}

static void print_table(const char *const *names, struct snap *const *snaps,
                        int k) {
  struct row_key keys[MAX_PROCS];
  size_t nkeys = 0;

  /* Every role and user that appears in any snapshot, in order. */
  for (int j = 0; j < k; j++)
    for (size_t i = 0; i < snaps[j]->n && nkeys < MAX_PROCS; i++) {
      struct row_key key = {snaps[j]->p[i].kind, snaps[j]->p[i].uid};
      bool seen = false;
      if (key.kind != K_WORKER && key.kind != K_RESOLVER)
        key.uid = 0;
      for (size_t m = 0; m < nkeys && !seen; m++)
        seen = keys[m].kind == key.kind && keys[m].uid == key.uid;
      if (!seen)
        keys[nkeys++] = key;
    }
  /* Roles in their order, users in theirs. */
  qsort(keys, nkeys, sizeof(keys[0]), cmp_key);
  printf("\n%-16s", "process");
  for (int j = 0; j < k; j++)
    printf(" | %-19s", names[j]);
  printf("\n%-16s", "");
  for (int j = 0; j < k; j++)
    printf(" | %3s %6s %8s", "n", "fds", "RSS KiB");
  printf("\n");
  for (size_t m = 0; m < nkeys; m++) {
    enum kind kind = keys[m].kind;
    char label[32];

    if (kind == K_WORKER || kind == K_RESOLVER)
      snprintf(label, sizeof(label), "%s %u", kind_name[kind], keys[m].uid);
    else
      snprintf(label, sizeof(label), "%s", kind_name[kind]);
    printf("%-16s", label);
    for (int j = 0; j < k; j++)
      print_cell(snaps[j], &keys[m]);
    printf("\n");
  }
  printf("%-16s", "total");
  for (int j = 0; j < k; j++)
    printf(" | %3zu %6d %8ld", snaps[j]->n, total_fds(snaps[j]),
           total_rss(snaps[j]));
  printf("\n%-16s", "total PSS");
  for (int j = 0; j < k; j++)
    printf(" | %3s %6s %8ld", "", "", total_pss(snaps[j]));
  printf("\n\n");
}

/* ------------------------------------------------------------- clients */

static void become(uid_t uid) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
      setresuid(uid, uid, uid) < 0)
    die("setresuid");
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the uid change cleared it */
}

static int send_req(int fd, Psock__V1__Request *req, int flags) {
  uint8_t buf[512];
  ssize_t n = wire_pack(&req->base, buf, sizeof(buf));

  if (n < 0)
    return (int)n;
  return wire_send_packet(fd, buf, (size_t)n, NULL, 0, flags);
}

/* Receive one reply, close its fds; returns it (caller frees) or NULL. Its
 * fd count must be the one it says. */
static Psock__V1__Response *recv_reply(int fd, int timeout_ms) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  Psock__V1__Response *r;
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 0;
  ssize_t n;

  if (poll(&p, 1, timeout_ms) != 1)
    return NULL;
  n = wire_recv_packet(fd, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0);
  if (n <= 0)
    return NULL;
  wire_close_fds(fds, nfds);
  r = psock__v1__response__unpack(NULL, (size_t)n, buf);
  if (r && r->fd_count != nfds) {
    psock__v1__response__free_unpacked(r, NULL);
    return NULL;
  }
  return r;
}

static int connect_ready(void) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;
  Psock__V1__Response *r;
  int fd = wire_connect_path(sock_path);
  bool ok;

  if (fd < 0)
    return fd;
  h.protocol_version = PSOCK_PROTOCOL_VERSION;
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  if (send_req(fd, &req, 0) < 0 || !(r = recv_reply(fd, 30000))) {
    close(fd);
    return -EPROTO;
  }
  ok = r->result_case == PSOCK__V1__RESPONSE__RESULT_HELLO;
  psock__v1__response__free_unpacked(r, NULL);
  if (!ok) {
    close(fd);
    return -EPROTO;
  }
  return fd;
}

static void wait_release(void) {
  while (!sh->release)
    usleep(10000);
}

/* Hold n idle connections until released. */
static _Noreturn void holder(uid_t uid, long n) {
  int *fds = calloc((size_t)n, sizeof(int));

  become(uid);
  if (!fds)
    die("calloc");
  for (long i = 0; i < n; i++) {
    fds[i] = connect_ready();
    if (fds[i] < 0) {
      fprintf(stderr, "psock-load: uid %u: connection %ld: %s\n", uid, i,
              strerror(-fds[i]));
      _exit(1);
    }
    __atomic_fetch_add(&sh->connected, 1, __ATOMIC_SEQ_CST);
  }
  wait_release();
  for (long i = 0; i < n; i++)
    close(fds[i]);
  _exit(0);
}

/* The requests of the mix, by number (request id = number + 2). */
enum req_kind { R_SOCKET, R_SOCKETPAIR, R_GAI, R_HOSTNAME, R_IPV6, R_PROTO };

static enum req_kind kind_of_request(long i) {
  static const enum req_kind mix[10] = {
      R_SOCKET, R_SOCKET, R_SOCKET,   R_SOCKET, R_SOCKETPAIR,
      R_GAI,    R_GAI,    R_HOSTNAME, R_IPV6,   R_PROTO};
  return mix[i % 10];
}

static void make_request(long i, Psock__V1__Request *req, void *storage) {
  union {
    Psock__V1__SocketRequest socket;
    Psock__V1__SocketpairRequest socketpair;
    Psock__V1__GetaddrinfoRequest gai;
    Psock__V1__GethostnameRequest gethostname;
    Psock__V1__HasIpv6Request has_ipv6;
    Psock__V1__GetprotobynameRequest proto;
  } *u = storage;

  *req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  req->id = (uint64_t)i + 2;
  switch (kind_of_request(i)) {
  case R_SOCKET:
    u->socket = (Psock__V1__SocketRequest)PSOCK__V1__SOCKET_REQUEST__INIT;
    u->socket.family = i % 2 ? AF_INET6 : AF_INET;
    u->socket.type = i % 4 < 2 ? SOCK_STREAM : SOCK_DGRAM;
    req->call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
    req->socket = &u->socket;
    break;
  case R_SOCKETPAIR:
    u->socketpair =
        (Psock__V1__SocketpairRequest)PSOCK__V1__SOCKETPAIR_REQUEST__INIT;
    u->socketpair.family = AF_UNIX;
    u->socketpair.type = SOCK_STREAM;
    req->call_case = PSOCK__V1__REQUEST__CALL_SOCKETPAIR;
    req->socketpair = &u->socketpair;
    break;
  case R_GAI:
    u->gai =
        (Psock__V1__GetaddrinfoRequest)PSOCK__V1__GETADDRINFO_REQUEST__INIT;
    u->gai.host = (char *)"localhost";
    u->gai.service = (char *)"80";
    req->call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
    req->getaddrinfo = &u->gai;
    break;
  case R_HOSTNAME:
    u->gethostname =
        (Psock__V1__GethostnameRequest)PSOCK__V1__GETHOSTNAME_REQUEST__INIT;
    req->call_case = PSOCK__V1__REQUEST__CALL_GETHOSTNAME;
    req->gethostname = &u->gethostname;
    break;
  case R_IPV6:
    u->has_ipv6 = (Psock__V1__HasIpv6Request)PSOCK__V1__HAS_IPV6_REQUEST__INIT;
    req->call_case = PSOCK__V1__REQUEST__CALL_HAS_IPV6;
    req->has_ipv6 = &u->has_ipv6;
    break;
  case R_PROTO:
    u->proto = (Psock__V1__GetprotobynameRequest)
        PSOCK__V1__GETPROTOBYNAME_REQUEST__INIT;
    u->proto.name = (char *)"tcp";
    req->call_case = PSOCK__V1__REQUEST__CALL_GETPROTOBYNAME;
    req->getprotobyname = &u->proto;
    break;
  }
}

enum verdict { V_OK, V_REFUSED, V_DENIED, V_UNEXPECTED };

/*
 * Is r the reply its request calls for? A socket comes with its one fd; a
 * socketpair(AF_UNIX) is refused by policy (a client makes its own); any
 * request may meet a limit (EAGAIN).
 */
static enum verdict judge(const Psock__V1__Response *r) {
  enum req_kind k = kind_of_request((long)r->id - 2);
  static const Psock__V1__Response__ResultCase want[] = {
      [R_SOCKET] = PSOCK__V1__RESPONSE__RESULT_SOCKET,
      [R_GAI] = PSOCK__V1__RESPONSE__RESULT_GETADDRINFO,
      [R_HOSTNAME] = PSOCK__V1__RESPONSE__RESULT_GETHOSTNAME,
      [R_IPV6] = PSOCK__V1__RESPONSE__RESULT_HAS_IPV6,
      [R_PROTO] = PSOCK__V1__RESPONSE__RESULT_GETPROTOBYNAME,
  };

  if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    const Psock__V1__Error *e = r->error;
    if (e->kind == PSOCK__V1__ERROR__KIND__OS_ERROR && e->code == EAGAIN)
      return V_REFUSED;
    if (k == R_SOCKETPAIR && e->kind == PSOCK__V1__ERROR__KIND__POLICY_DENIED &&
        e->code == EPERM)
      return V_DENIED;
    return V_UNEXPECTED;
  }
  if (k == R_SOCKETPAIR || r->result_case != want[k])
    return V_UNEXPECTED;
  return k == R_SOCKET && r->fd_count != 1 ? V_UNEXPECTED : V_OK;
}

/* Send n requests from number *next on, keeping opt.window in flight;
 * judge every reply. 0, or -1 when psockd stopped answering. */
static int run_requests(int index, int fd, long *next, long n) {
  long sent = 0, got = 0;

  while (got < n) {
    while (sent < n && sent - got < opt.window) {
      Psock__V1__Request req;
      uint64_t storage[16];

      make_request(*next + sent, &req, storage);
      if (send_req(fd, &req, 0) < 0)
        return -1;
      sent++;
    }
    Psock__V1__Response *r = recv_reply(fd, 30000);
    if (!r) {
      fprintf(stderr, "psock-load: client %d: no reply after %ld\n", index,
              got);
      return -1;
    }
    switch (judge(r)) {
    case V_OK:
      break;
    case V_REFUSED:
      sh->client[index].refused++;
      break;
    case V_DENIED:
      sh->client[index].denied++;
      break;
    case V_UNEXPECTED:
      if (sh->client[index].unexpected++ < 3)
        fprintf(stderr,
                "psock-load: client %d: unexpected reply %d to request "
                "%llu%s%s\n",
                index, (int)r->result_case, (unsigned long long)r->id,
                r->error ? ": " : "", r->error ? r->error->message : "");
      break;
    }
    psock__v1__response__free_unpacked(r, NULL);
    got++;
  }
  *next += n;
  return 0;
}

/* Connect, warm up, wait for go, send n requests, hold on until released
 * (so that the worker stays, and its memory can be compared). */
static _Noreturn void requester(int index, long n) {
  long next = 0;
  int fd;

  become(CLIENT_UID + (uid_t)index);
  fd = connect_ready();
  if (fd < 0 || run_requests(index, fd, &next, WARMUP_REQUESTS) < 0) {
    sh->client[index].failed++;
    _exit(1);
  }
  sh->client[index].refused = sh->client[index].denied = 0;
  sh->client[index].ready = 1;
  while (!sh->go)
    usleep(1000);
  if (run_requests(index, fd, &next, n) < 0) {
    sh->client[index].failed++;
    _exit(1);
  }
  sh->client[index].done = n;
  wait_release();
  close(fd);
  _exit(0);
}

/* Pipeline until psockd stops reading, then hold on, never reading. */
static _Noreturn void never_reader(void) {
  long sent = 0;
  int fd;

  become(NOBODY);
  fd = connect_ready();
  if (fd < 0)
    die("never-reader: connect");
  for (long i = 0; i < 100000; i++) {
    Psock__V1__Request req;
    uint64_t storage[16];
    int r;

    make_request(i, &req, storage);
    r = send_req(fd, &req, MSG_DONTWAIT);
    if (r == -EAGAIN)
      break;
    if (r < 0)
      die("never-reader: send");
    sent++;
  }
  sh->hog_sent = sent;
  sh->hog_ready = 1;
  wait_release();
  close(fd);
  _exit(0);
}

/* One request at a time on each of nconn connections, timed. The
 * never-reader's identity: psockd puts some of these on its worker. */
static _Noreturn void probe(int nconn) {
  int fds[PROBE_CONNS];
  long k = 0;

  become(NOBODY);
  for (int i = 0; i < nconn; i++)
    if ((fds[i] = connect_ready()) < 0)
      die("probe: connect");
  sh->probe_ready = 1;
  while (!sh->probe_go)
    usleep(1000);
  while (!sh->probe_stop) {
    Psock__V1__Request req;
    uint64_t storage[16];
    Psock__V1__Response *r;
    double t0 = now_s(), ms;

    make_request(0, &req, storage); /* socket(AF_INET, SOCK_STREAM) */
    if (send_req(fds[k % nconn], &req, 0) < 0 ||
        !(r = recv_reply(fds[k % nconn], 30000)))
      die("probe: request");
    psock__v1__response__free_unpacked(r, NULL);
    ms = (now_s() - t0) * 1e3;
    sh->lat[k % LAT_SLOTS] = ms;
    if (ms > sh->lat_max)
      sh->lat_max = ms;
    sh->probe_n = ++k;
    usleep(1000);
  }
  wait_release();
  for (int i = 0; i < nconn; i++)
    close(fds[i]);
  _exit(0);
}

/* ------------------------------------------------------------- psockd */

static void raise_nofile(rlim_t want) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
    die("getrlimit");
  if (rl.rlim_max < want) {
    rl.rlim_max = want; /* root may raise it, up to fs.nr_open */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
      die("getrlimit");
  }
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
    die("setrlimit(RLIMIT_NOFILE)");
}

static void exec_psockd(const char *const *argv) {
  int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
    _exit(126);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (opt.psockd_nofile > 0) {
    /* As a service manager starts it (systemd: 1024 soft). */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)opt.psockd_nofile;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  execv(argv[0], (char *const *)argv);
  _exit(127);
}

static void start_psockd(void) {
  char workers[32], idle[32];
  const char *argv[16];
  int n = 0;

  if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
    die("mkdtemp");
  snprintf(sock_path, sizeof(sock_path), "%s/psockd.sock", dir);
  snprintf(log_path, sizeof(log_path), "%s/psockd.log", dir);
  snprintf(idle, sizeof(idle), "--worker-idle=%d", opt.worker_idle);
  argv[n++] = opt.psockd;
  argv[n++] = "--socket";
  argv[n++] = sock_path;
  /* Clients run as other users; psockd's own default mode is 0600. */
  argv[n++] = "--socket-mode=0666";
  /* Idle workers go soon: at the end psockd must be back at its start. */
  argv[n++] = idle;
  if (opt.workers > 0) {
    snprintf(workers, sizeof(workers), "--workers=%d", opt.workers);
    argv[n++] = workers;
  }
  argv[n] = NULL;
  fflush(NULL);
  psockd_pid = fork();
  if (psockd_pid < 0)
    die("fork");
  if (psockd_pid == 0)
    exec_psockd(argv);
  for (int i = 0; i < 500; i++) {
    int fd = wire_connect_path(sock_path);
    if (fd >= 0) {
      close(fd);
      return;
    }
    usleep(10000);
  }
  errno = ETIMEDOUT;
  die("psockd did not come up");
}

static void print_log_tail(void) {
  char line[1024];
  long lines = 0, skip;
  FILE *f = fopen(log_path, "re");

  if (!f)
    return;
  while (fgets(line, sizeof(line), f))
    lines++;
  rewind(f);
  skip = lines > 40 ? lines - 40 : 0;
  printf("----- psockd log (last %ld of %ld lines)\n", lines - skip, lines);
  for (long i = 0; fgets(line, sizeof(line), f); i++)
    if (i >= skip)
      fputs(line, stdout);
  printf("-----\n");
  fclose(f);
}

/* Stop psockd; true if it exited 0 and its log has no sanitizer report. */
static bool stop_psockd(bool show_log) {
  static const char *const marks[] = {"ERROR: AddressSanitizer",
                                      "ERROR: LeakSanitizer", "runtime error:"};
  char line[1024];
  bool clean = true;
  int status = 0;
  FILE *f;

  kill(psockd_pid, SIGTERM);
  if (waitpid(psockd_pid, &status, 0) != psockd_pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    printf("psockd did not exit cleanly (status 0x%x)\n", status);
    clean = false;
  }
  if ((f = fopen(log_path, "re"))) {
    while (fgets(line, sizeof(line), f))
      for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (strstr(line, marks[i])) {
          printf("psockd log: %s", line);
          clean = false;
        }
    fclose(f);
  }
  if (show_log || !clean)
    print_log_tail();
  unlink(log_path);
  rmdir(dir);
  return clean;
}

/* -------------------------------------------------------------- options */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: psock-load [OPTIONS]\n"
          "Load and soak test for psockd (run as root).\n\n"
          "  --psockd PATH       psockd binary (default $PSOCKD)\n"
          "  --connections N     idle connections held open (10000)\n"
          "  --per-user N        idle connections per user (1000)\n"
          "  --requests N        requests to send (1000000)\n"
          "  --clients N         processes sending them, one user each (4, "
          "at most %d)\n"
          "  --window N          requests in flight per process (16)\n"
          "  --workers N         psockd --workers: per identity (default: "
          "psockd's)\n"
          "  --worker-idle S     psockd --worker-idle (1)\n"
          "  --psockd-nofile N   start psockd with this soft RLIMIT_NOFILE\n"
          "                      (1024, as systemd does; 0: inherit ours)\n"
          "  --smoke             500 connections, 100 per user, 20000 "
          "requests\n"
          "  -h, --help          this help\n",
          MAX_CLIENTS);
}

static void parse(int argc, char **argv) {
  static const struct option longopts[] = {
      {"psockd", required_argument, NULL, 'p'},
      {"connections", required_argument, NULL, 'c'},
      {"per-user", required_argument, NULL, 'u'},
      {"requests", required_argument, NULL, 'r'},
      {"clients", required_argument, NULL, 'n'},
      {"window", required_argument, NULL, 'W'},
      {"workers", required_argument, NULL, 'w'},
      {"worker-idle", required_argument, NULL, 'i'},
      {"psockd-nofile", required_argument, NULL, 'f'},
      {"smoke", no_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {0},
  };
  int c;

  opt.psockd = getenv("PSOCKD");
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'p':
      opt.psockd = optarg;
      break;
    case 'c':
      opt.connections = atol(optarg);
      break;
    case 'u':
      opt.per_user = atol(optarg);
      break;
    case 'r':
      opt.requests = atol(optarg);
      break;
    case 'n':
      opt.clients = atoi(optarg);
      break;
    case 'W':
      opt.window = atoi(optarg);
      break;
    case 'w':
      opt.workers = atoi(optarg);
      break;
    case 'i':
      opt.worker_idle = atoi(optarg);
      break;
    case 'f':
      opt.psockd_nofile = atol(optarg);
      break;
    case 's':
      opt.smoke = true;
      opt.connections = 500;
      opt.per_user = 100;
      opt.requests = 20000;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      exit(2);
    }
  }
  if (!opt.psockd || opt.connections < 0 || opt.per_user < 1 ||
      opt.requests < 1 || opt.clients < 1 || opt.clients > MAX_CLIENTS ||
      opt.window < 1 || opt.window > 64 || opt.worker_idle < 1) {
    usage(stderr);
    exit(2);
  }
}

/* ----------------------------------------------------------------- steps */

/* 1. Idle connections, --per-user per user. The holders' pids. */
static long open_idle(pid_t *holders) {
  long nholders = (opt.connections + opt.per_user - 1) / opt.per_user;
  double t0 = now_s(), t1;
  int status;

  for (long i = 0; i < nholders; i++) {
    long share = opt.connections - i * opt.per_user;
    if (share > opt.per_user)
      share = opt.per_user;
    if ((holders[i] = fork()) == 0)
      holder(HOLDER_UID + (uid_t)i, share);
  }
  while (sh->connected < opt.connections) {
    for (long i = 0; i < nholders; i++)
      if (waitpid(holders[i], &status, WNOHANG) == holders[i]) {
        errno = EPROTO;
        print_log_tail();
        die("a holder of idle connections failed");
      }
    usleep(10000);
  }
  t1 = now_s();
  printf("opened %ld connections (handshake each) from %ld users in %.2f s: "
         "%.0f/s\n",
         opt.connections, nholders, t1 - t0, opt.connections / (t1 - t0));
  return nholders;
}

/* What the idle connections cost: every process they brought (each
 * user's workers and resolvers) counts. */
static void print_idle_cost(const struct snap *s0, const struct snap *sc) {
  double rss = (double)(total_rss(sc) - total_rss(s0)) * 1024.0;
  double pss = (double)(total_pss(sc) - total_pss(s0)) * 1024.0;
  long n = opt.connections ? opt.connections : 1;

  printf("idle connections: %zu workers and %zu resolvers for %zu users; "
         "psockd's memory per idle connection: RSS %.0f B, PSS %.0f B "
         "(target <= 8 KiB at 10,000 connections%s)\n",
         count_kind(sc, K_WORKER), count_kind(sc, K_RESOLVER), count_users(sc),
         rss / n, pss / n,
         opt.connections >= 10000
             ? (rss / n <= 8192 ? ": met by RSS" : ": missed by RSS")
             : ": not measured at this count");
}

/* 2. The never-reader, the probe, the request senders: connected and warm
 * before the requests start. */
static void start_clients(pid_t *hog, pid_t *prober, pid_t *clients) {
  if ((*hog = fork()) == 0)
    never_reader();
  while (!sh->hog_ready)
    usleep(10000);
  usleep(200000);
  printf("never-reading client: %ld requests pipelined before psockd stopped "
         "reading it\n",
         sh->hog_sent);
  if ((*prober = fork()) == 0)
    probe(PROBE_CONNS);
  for (int i = 0; i < opt.clients; i++) {
    long share =
        opt.requests / opt.clients + (i < opt.requests % opt.clients ? 1 : 0);
    if ((clients[i] = fork()) == 0)
      requester(i, share);
  }
  for (int i = 0; i < opt.clients; i++)
    while (!sh->client[i].ready) {
      int status;
      if (waitpid(clients[i], &status, WNOHANG) == clients[i]) {
        errno = EPROTO;
        print_log_tail();
        die("a request sender failed to warm up");
      }
      usleep(1000);
    }
  while (!sh->probe_ready)
    usleep(1000);
}

struct tally {
  long refused, denied, unexpected, failed;
};

/* 3. The requests, timed by the probe. */
static struct tally run_load(const pid_t *clients) {
  struct tally t = {0};
  double t0 = now_s(), t1;

  sh->probe_go = 1;
  sh->go = 1;
  for (int i = 0; i < opt.clients; i++) {
    while (!sh->client[i].done && !sh->client[i].failed) {
      if (waitpid(clients[i], NULL, WNOHANG) == clients[i]) {
        sh->client[i].failed++; /* gone without a word */
        break;
      }
      usleep(1000);
    }
    t.refused += sh->client[i].refused;
    t.denied += sh->client[i].denied;
    t.unexpected += sh->client[i].unexpected;
    t.failed += sh->client[i].failed;
  }
  t1 = now_s();
  sh->probe_stop = 1;
  printf("%ld requests in %.2f s: %.0f requests/s; %ld refused (EAGAIN, "
         "limits), %ld socketpair(AF_UNIX) denied by policy as expected, %ld "
         "unexpected replies, %ld clients failed\n",
         opt.requests, t1 - t0, opt.requests / (t1 - t0), t.refused, t.denied,
         t.unexpected, t.failed);
  return t;
}

static void print_probe(void) {
  static double lat[LAT_SLOTS];
  long nlat;

  nlat = sh->probe_n < LAT_SLOTS ? sh->probe_n : LAT_SLOTS;
  for (long i = 0; i < nlat; i++)
    lat[i] = sh->lat[i];
  qsort(lat, (size_t)nlat, sizeof(lat[0]), cmp_double);
  if (nlat > 0)
    printf("probe (nobody, like the never-reader; one request at a time, %d "
           "connections, %ld samples): median %.3f ms, p99 %.3f ms, max "
           "%.3f ms\n",
           PROBE_CONNS, sh->probe_n, lat[nlat / 2], lat[nlat * 99 / 100],
           sh->lat_max);
}

/* ---------------------------------------------------------------- main */

#if !defined(__SANITIZE_ADDRESS__)
/* The verdict on memory: no process grew by more than 1 MiB + 2 %. */
static bool memory_flat(const struct snap *s1, const struct snap *s2) {
  bool ok = true;

  for (size_t i = 0; i < s1->n; i++)
    for (size_t j = 0; j < s2->n; j++)
      if (s1->p[i].pid == s2->p[j].pid &&
          s2->p[j].rss_kib - s1->p[i].rss_kib > 1024 + s1->p[i].rss_kib / 50) {
        printf("FAIL: %s %u (pid %d) grew from %ld to %ld KiB across the "
               "requests\n",
               kind_name[s1->p[i].kind], s1->p[i].uid, (int)s1->p[i].pid,
               s1->p[i].rss_kib, s2->p[j].rss_kib);
        ok = false;
      }
  return ok;
}
#endif

static bool verdict(const struct tally *t, const struct snap *s0,
                    const struct snap *s1, const struct snap *s2,
                    const struct snap *s3, bool bare) {
  bool ok = true;

  if (t->failed || t->unexpected) {
    printf("FAIL: %ld client(s) failed, %ld unexpected replies\n", t->failed,
           t->unexpected);
    ok = false;
  }
  if (total_fds(s2) != total_fds(s1) || s2->n != s1->n) {
    printf("FAIL: psockd went from %zu processes and %d fds to %zu and %d "
           "across the requests\n",
           s1->n, total_fds(s1), s2->n, total_fds(s2));
    ok = false;
  }
  if (!bare || total_fds(s3) != total_fds(s0)) {
    printf("FAIL: psockd has %zu processes and %d fds at the end, %zu and %d "
           "at the start\n",
           s3->n, total_fds(s3), s0->n, total_fds(s0));
    ok = false;
  }
#if defined(__SANITIZE_ADDRESS__)
  /* psockd built as we are: freed memory waits in ASan's quarantine. */
  printf("memory not checked: an AddressSanitizer build keeps what it "
         "frees\n");
#else
  if (!memory_flat(s1, s2))
    ok = false;
#endif
  return ok;
}

int main(int argc, char **argv) {
  static struct snap s0, sc, s1, s2, s3;
  pid_t holders[MAX_HOLDERS], clients[MAX_CLIENTS], hog, prober;
  long nholders;
  struct tally t;
  bool ok, bare;

  parse(argc, argv);
  if ((opt.connections + opt.per_user - 1) / opt.per_user > MAX_HOLDERS) {
    fprintf(stderr, "psock-load: at most %d users of idle connections\n",
            MAX_HOLDERS);
    return 2;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "psock-load: run as root\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  raise_nofile((rlim_t)opt.connections * 2 + 4096);
  sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED)
    die("mmap");
  start_psockd();
  /* Our probe of the socket started a worker for root: it retires. */
  if (!settle(&s0, -1, true, 200, BARE_TIMEOUT_MS))
    die("psockd's start-up worker did not retire");
  printf("psock-load: psockd %d (%zu processes, %d fds); %ld idle "
         "connections, %ld per user; %ld requests from %d clients (window "
         "%d), one user each\n",
         (int)psockd_pid, s0.n, total_fds(&s0), opt.connections, opt.per_user,
         opt.requests, opt.clients, opt.window);

  nholders = open_idle(holders);
  settle(&sc, -1, false, 300, 10000);
  print_idle_cost(&s0, &sc);
  start_clients(&hog, &prober, clients);
  settle(&s1, -1, false, 300, 10000);
  t = run_load(clients);
  print_probe();
  settle(&s2, total_fds(&s1), false, 1000, 20000);

  /* 4. Everyone leaves; every worker retires. */
  sh->release = 1;
  for (long i = 0; i < nholders; i++)
    waitpid(holders[i], NULL, 0);
  for (int i = 0; i < opt.clients; i++)
    waitpid(clients[i], NULL, 0);
  waitpid(hog, NULL, 0);
  waitpid(prober, NULL, 0);
  bare = settle(&s3, total_fds(&s0), true, 200, BARE_TIMEOUT_MS);
  {
    const char *names[] = {"start", "idle conns open", "before requests",
                           "after requests", "end"};
    struct snap *snaps[] = {&s0, &sc, &s1, &s2, &s3};
    print_table(names, snaps, 5);
  }
  ok = verdict(&t, &s0, &s1, &s2, &s3, bare);
  if (!stop_psockd(!ok))
    ok = false;
  printf("%s\n", !ok ? "FAILED"
                     : "OK: every reply as expected, fds and "
                       "memory flat, back to the start");
  return ok ? 0 : 1;
}
