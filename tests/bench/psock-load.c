/* SPDX-License-Identifier: MIT */
/*
 * psock-load: load and soak for psockd (issue #8). Not a timed benchmark
 * (that is psock-bench): it checks that psockd holds up and gives back
 * what it takes.
 *
 * It starts its own psockd (as root) on a private socket, then:
 *
 *  1. opens --connections idle client connections (default 10,000), each
 *     with a completed handshake, held open to the end, spread over users
 *     61000, 61001, ... at most 1,000 each, so psockd's default per-user
 *     limits stay in force;
 *  2. starts a client that pipelines requests and never reads a reply
 *     (user nobody), and holds its connection;
 *  3. runs --requests requests (default 1,000,000: socket, socketpair,
 *     getaddrinfo, gethostname, has_ipv6, getprotobyname) from --clients
 *     processes (users 62000, ...), each keeping --window requests in
 *     flight, while a probe process times one request at a time on 8
 *     connections per worker (so some of them share the worker of the
 *     client that never reads);
 *  4. closes everything.
 *
 * It prints psockd's open fds and resident memory per process (master,
 * psockd-priv, each worker) and in total at each step, the request rate,
 * the probe's latency, and a verdict: the fds after the requests equal the
 * fds before them, every process's memory grew by less than 1 MiB + 2 %
 * across the requests, and once the clients are gone psockd holds the fds
 * it held at the start. Exit status 0 if so.
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

#define MAX_PROCS 64
#define PER_USER 1000
#define HOLDER_UID 61000
#define CLIENT_UID 62000
#define PROBE_UID 63000
#define NOBODY 65534
#define MAX_CLIENTS 32
#define PROBES_PER_WORKER 8
#define LAT_SLOTS 4096 /* probe latency samples kept (a ring) */

static struct {
  long connections, requests;
  int clients, window, workers;
  long psockd_nofile;
  const char *psockd;
  bool smoke;
} opt = {10000, 1000000, 4, 16, 0, 1024, NULL, false};

/* Shared with the client processes. */
struct shared {
  volatile long connected; /* idle connections open so far */
  volatile int release;    /* holders and the never-reader: close now */
  volatile int hog_ready;  /* the never-reader has stalled itself */
  volatile long hog_sent;  /* requests it got in before psockd stopped
                              reading it */
  volatile int probe_stop; /* probe: stop measuring */
  volatile long probe_n;   /* probe samples taken */
  volatile double lat[LAT_SLOTS];
  volatile double lat_max;
  struct {
    volatile long done, errors, refused, failed;
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

struct proc_stat {
  pid_t pid;
  char role[16];
  int fds;
  long rss_kib;
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

static long rss_of(pid_t pid) {
  char path[64], line[256];
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (!(f = fopen(path, "re")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

static void role_of(pid_t pid, char *out, size_t len) {
  char path[64], buf[1024];
  size_t n;
  FILE *f;
  const char *r;

  snprintf(out, len, "master");
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  if (!(f = fopen(path, "re")))
    return;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  for (size_t i = 0; i < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  buf[n] = '\0';
  r = strstr(buf, "--role=");
  if (r) {
    const char *id = strstr(buf, "--worker-id=");
    if (strncmp(r + 7, "worker", 6) == 0 && id)
      snprintf(out, len, "worker%d", atoi(id + 12));
    else
      snprintf(out, len, "%.*s", (int)strcspn(r + 7, " "), r + 7);
  }
}

static int by_role(const void *a, const void *b) {
  return strcmp(((const struct proc_stat *)a)->role,
                ((const struct proc_stat *)b)->role);
}

/* psockd and its children, sorted by role. */
static size_t snapshot(struct proc_stat *out) {
  size_t n = 0;
  struct dirent *e;
  DIR *d = opendir("/proc");

  if (!d)
    die("/proc");
  out[n++] = (struct proc_stat){.pid = psockd_pid};
  while ((e = readdir(d)) && n < MAX_PROCS) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid > 0 && parent_of(pid) == psockd_pid)
      out[n++] = (struct proc_stat){.pid = pid};
  }
  closedir(d);
  for (size_t i = 0; i < n; i++) {
    role_of(out[i].pid, out[i].role, sizeof(out[i].role));
    out[i].fds = count_fds(out[i].pid);
    out[i].rss_kib = rss_of(out[i].pid);
  }
  qsort(out, n, sizeof(*out), by_role);
  return n;
}

static int total_fds(const struct proc_stat *s, size_t n) {
  int t = 0;
  for (size_t i = 0; i < n; i++)
    t += s[i].fds;
  return t;
}

static long total_rss(const struct proc_stat *s, size_t n) {
  long t = 0;
  for (size_t i = 0; i < n; i++)
    t += s[i].rss_kib;
  return t;
}

/* Wait until psockd's fd total stops changing (or equals want). */
static size_t settle(struct proc_stat *out, int want) {
  int last = -1, same = 0;
  size_t n = 0;

  for (int i = 0; i < 1000 && same < 10; i++) {
    n = snapshot(out);
    int t = total_fds(out, n);
    same = t == last ? same + 1 : 0;
    last = t;
    if (t == want)
      break;
    usleep(20000);
  }
  return n;
}

static void print_table(const char *const *names, struct proc_stat **snaps,
                        const size_t *ns, int k) {
  printf("\n%-10s", "process");
  for (int j = 0; j < k; j++)
    printf(" | %-16s", names[j]);
  printf("\n%-10s", "");
  for (int j = 0; j < k; j++)
    printf(" | %6s %9s", "fds", "RSS KiB");
  printf("\n");
  for (size_t i = 0; i < ns[0]; i++) {
    printf("%-10s", snaps[0][i].role);
    for (int j = 0; j < k; j++) {
      const struct proc_stat *p = NULL;
      for (size_t m = 0; m < ns[j]; m++)
        if (strcmp(snaps[j][m].role, snaps[0][i].role) == 0)
          p = &snaps[j][m];
      if (p)
        printf(" | %6d %9ld", p->fds, p->rss_kib);
      else
        printf(" | %6s %9s", "-", "-");
    }
    printf("\n");
  }
  printf("%-10s", "total");
  for (int j = 0; j < k; j++)
    printf(" | %6d %9ld", total_fds(snaps[j], ns[j]),
           total_rss(snaps[j], ns[j]));
  printf("\n\n");
}

/* ------------------------------------------------------------- clients */

static void become(uid_t uid) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
      setresuid(uid, uid, uid) < 0)
    die("setresuid");
}

static int send_req(int fd, Psock__V1__Request *req, int flags) {
  uint8_t buf[512];
  ssize_t n = wire_pack(&req->base, buf, sizeof(buf));

  if (n < 0)
    return (int)n;
  return wire_send_packet(fd, buf, (size_t)n, NULL, 0, flags);
}

/* Receive one reply, close its fds; returns it (caller frees) or NULL. */
static Psock__V1__Response *recv_reply(int fd, int timeout_ms) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 0;
  ssize_t n;

  if (poll(&p, 1, timeout_ms) != 1)
    return NULL;
  n = wire_recv_packet(fd, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0);
  if (n <= 0)
    return NULL;
  wire_close_fds(fds, nfds);
  return psock__v1__response__unpack(NULL, (size_t)n, buf);
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
  while (!sh->release)
    usleep(10000);
  for (long i = 0; i < n; i++)
    close(fds[i]);
  _exit(0);
}

/* One request of the mix, by number. */
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
  switch (i % 10) {
  case 0:
  case 1:
  case 2:
  case 3:
    u->socket = (Psock__V1__SocketRequest)PSOCK__V1__SOCKET_REQUEST__INIT;
    u->socket.family = i % 2 ? AF_INET6 : AF_INET;
    u->socket.type = i % 4 < 2 ? SOCK_STREAM : SOCK_DGRAM;
    req->call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
    req->socket = &u->socket;
    break;
  case 4:
    u->socketpair =
        (Psock__V1__SocketpairRequest)PSOCK__V1__SOCKETPAIR_REQUEST__INIT;
    u->socketpair.family = AF_UNIX;
    u->socketpair.type = SOCK_STREAM;
    req->call_case = PSOCK__V1__REQUEST__CALL_SOCKETPAIR;
    req->socketpair = &u->socketpair;
    break;
  case 5:
  case 6:
    u->gai =
        (Psock__V1__GetaddrinfoRequest)PSOCK__V1__GETADDRINFO_REQUEST__INIT;
    u->gai.host = (char *)"localhost";
    u->gai.service = (char *)"80";
    req->call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
    req->getaddrinfo = &u->gai;
    break;
  case 7:
    u->gethostname =
        (Psock__V1__GethostnameRequest)PSOCK__V1__GETHOSTNAME_REQUEST__INIT;
    req->call_case = PSOCK__V1__REQUEST__CALL_GETHOSTNAME;
    req->gethostname = &u->gethostname;
    break;
  case 8:
    u->has_ipv6 = (Psock__V1__HasIpv6Request)PSOCK__V1__HAS_IPV6_REQUEST__INIT;
    req->call_case = PSOCK__V1__REQUEST__CALL_HAS_IPV6;
    req->has_ipv6 = &u->has_ipv6;
    break;
  default:
    u->proto = (Psock__V1__GetprotobynameRequest)
        PSOCK__V1__GETPROTOBYNAME_REQUEST__INIT;
    u->proto.name = (char *)"tcp";
    req->call_case = PSOCK__V1__REQUEST__CALL_GETPROTOBYNAME;
    req->getprotobyname = &u->proto;
    break;
  }
}

/* Send n requests keeping opt.window in flight; count what comes back. */
static _Noreturn void requester(int index, long n) {
  long sent = 0, got = 0;
  int fd;

  become(CLIENT_UID + (uid_t)index);
  fd = connect_ready();
  if (fd < 0) {
    sh->client[index].failed++;
    _exit(1);
  }
  while (got < n) {
    while (sent < n && sent - got < opt.window) {
      Psock__V1__Request req;
      uint64_t storage[16];

      make_request(sent, &req, storage);
      if (send_req(fd, &req, 0) < 0) {
        sh->client[index].failed++;
        _exit(1);
      }
      sent++;
    }
    Psock__V1__Response *r = recv_reply(fd, 30000);
    if (!r) {
      fprintf(stderr, "psock-load: client %d: no reply after %ld\n", index,
              got);
      sh->client[index].failed++;
      _exit(1);
    }
    if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
      if (r->error->code == EAGAIN)
        sh->client[index].refused++;
      else
        sh->client[index].errors++;
    }
    psock__v1__response__free_unpacked(r, NULL);
    got++;
    sh->client[index].done = got;
  }
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
  while (!sh->release)
    usleep(10000);
  close(fd);
  _exit(0);
}

/* One request at a time on each of nconn connections, timed. */
static _Noreturn void probe(int nconn) {
  int fds[256];
  long k = 0;

  become(PROBE_UID);
  for (int i = 0; i < nconn; i++)
    if ((fds[i] = connect_ready()) < 0)
      die("probe: connect");
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

static void start_psockd(void) {
  char workers[16];
  const char *argv[12];
  int n = 0;

  if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
    die("mkdtemp");
  snprintf(sock_path, sizeof(sock_path), "%s/psockd.sock", dir);
  snprintf(log_path, sizeof(log_path), "%s/psockd.log", dir);
  argv[n++] = opt.psockd;
  argv[n++] = "--socket";
  argv[n++] = sock_path;
  if (opt.workers > 0) {
    snprintf(workers, sizeof(workers), "%d", opt.workers);
    argv[n++] = "--workers";
    argv[n++] = workers;
  }
  argv[n] = NULL;
  fflush(NULL);
  psockd_pid = fork();
  if (psockd_pid < 0)
    die("fork");
  if (psockd_pid == 0) {
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

/* Stop psockd; true if it exited 0 and its log has no sanitizer report. */
static bool stop_psockd(void) {
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
  unlink(log_path);
  rmdir(dir);
  return clean;
}

/* -------------------------------------------------------------- main */

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
          "  --requests N        requests to send (1000000)\n"
          "  --clients N         processes sending them (4, at most %d)\n"
          "  --window N          requests in flight per process (16)\n"
          "  --workers N         psockd --workers (default: psockd's)\n"
          "  --psockd-nofile N   start psockd with this soft RLIMIT_NOFILE\n"
          "                      (1024, as systemd does; 0: inherit ours)\n"
          "  --smoke             500 connections, 20000 requests\n"
          "  -h, --help          this help\n",
          MAX_CLIENTS);
}

static void parse(int argc, char **argv) {
  static const struct option longopts[] = {
      {"psockd", required_argument, NULL, 'p'},
      {"connections", required_argument, NULL, 'c'},
      {"requests", required_argument, NULL, 'r'},
      {"clients", required_argument, NULL, 'n'},
      {"window", required_argument, NULL, 'W'},
      {"workers", required_argument, NULL, 'w'},
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
    case 'f':
      opt.psockd_nofile = atol(optarg);
      break;
    case 's':
      opt.smoke = true;
      opt.connections = 500;
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
  if (!opt.psockd || opt.connections < 0 || opt.requests < 1 ||
      opt.clients < 1 || opt.clients > MAX_CLIENTS || opt.window < 1 ||
      opt.window > 64) {
    usage(stderr);
    exit(2);
  }
}

int main(int argc, char **argv) {
  struct proc_stat s0[MAX_PROCS], s1[MAX_PROCS], sm[MAX_PROCS], s2[MAX_PROCS],
      s3[MAX_PROCS];
  size_t n0, n1, nm = 0, n2, n3, nworkers = 0;
  pid_t holders[64], clients[MAX_CLIENTS], hog, prober;
  long nholders;
  double t0, t1, lat[LAT_SLOTS];
  long errors = 0, refused = 0, failed = 0, nlat;
  bool ok = true;
  int status;

  parse(argc, argv);
  nholders = (opt.connections + PER_USER - 1) / PER_USER;
  if (nholders > 64) {
    fprintf(stderr, "psock-load: at most %d connections\n", 64 * PER_USER);
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

  /* Warm-up: every code path once, every lookup thread once. */
  {
    long save = opt.requests;
    pid_t w = fork();
    if (w == 0)
      requester(0, 2000);
    waitpid(w, &status, 0);
    opt.requests = save;
    memset((void *)sh->client, 0, sizeof(sh->client));
  }
  n0 = settle(s0, -1);
  for (size_t i = 0; i < n0; i++)
    nworkers += strncmp(s0[i].role, "worker", 6) == 0;
  printf("psock-load: psockd %d with %zu worker(s); %ld idle connections, "
         "%ld requests from %d clients (window %d)\n",
         (int)psockd_pid, nworkers, opt.connections, opt.requests, opt.clients,
         opt.window);

  /* 1. Idle connections. */
  t0 = now_s();
  for (long i = 0; i < nholders; i++) {
    long share = opt.connections - i * PER_USER;
    if (share > PER_USER)
      share = PER_USER;
    if ((holders[i] = fork()) == 0)
      holder(HOLDER_UID + (uid_t)i, share);
  }
  while (sh->connected < opt.connections) {
    for (long i = 0; i < nholders; i++)
      if (waitpid(holders[i], &status, WNOHANG) == holders[i]) {
        errno = EPROTO;
        die("a holder of idle connections failed");
      }
    usleep(10000);
  }
  t1 = now_s();
  printf("opened %ld connections (handshake each) in %.2f s: %.0f/s\n",
         opt.connections, t1 - t0, opt.connections / (t1 - t0));

  /* 2. A client that never reads. */
  if ((hog = fork()) == 0)
    never_reader();
  while (!sh->hog_ready)
    usleep(10000);
  usleep(200000);
  printf("never-reading client: %ld requests pipelined before psockd stopped "
         "reading it\n",
         sh->hog_sent);
  n1 = settle(s1, -1);

  /* 3. Requests, timed by a probe meanwhile. */
  if ((prober = fork()) == 0)
    probe((int)(PROBES_PER_WORKER * (nworkers ? nworkers : 1)));
  t0 = now_s();
  for (int i = 0; i < opt.clients; i++) {
    long share =
        opt.requests / opt.clients + (i < opt.requests % opt.clients ? 1 : 0);
    if ((clients[i] = fork()) == 0)
      requester(i, share);
  }
  /* Memory a tenth of the way in: the rest should add nothing. */
  for (long sum = 0, bad = 0, t = 0;
       sum < opt.requests / 10 && !bad && t < 60000; t += 2) {
    usleep(2000);
    sum = bad = 0;
    for (int i = 0; i < opt.clients; i++) {
      sum += sh->client[i].done;
      bad += sh->client[i].failed;
    }
  }
  nm = snapshot(sm);
  for (int i = 0; i < opt.clients; i++) {
    if (waitpid(clients[i], &status, 0) != clients[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      failed++;
    errors += sh->client[i].errors;
    refused += sh->client[i].refused;
    failed += sh->client[i].failed;
  }
  t1 = now_s();
  sh->probe_stop = 1;
  waitpid(prober, &status, 0);
  printf("%ld requests in %.2f s: %.0f requests/s; %ld refused (EAGAIN, "
         "limits), %ld other errors, %ld clients failed\n",
         opt.requests, t1 - t0, opt.requests / (t1 - t0), refused, errors,
         failed);
  nlat = sh->probe_n < LAT_SLOTS ? sh->probe_n : LAT_SLOTS;
  for (long i = 0; i < nlat; i++)
    lat[i] = sh->lat[i];
  qsort(lat, (size_t)nlat, sizeof(lat[0]), cmp_double);
  if (nlat > 0)
    printf("probe (one request at a time, %zu connections, %ld samples): "
           "median %.3f ms, p99 %.3f ms, max %.3f ms\n",
           PROBES_PER_WORKER * (nworkers ? nworkers : 1), sh->probe_n,
           lat[nlat / 2], lat[nlat * 99 / 100], sh->lat_max);
  n2 = settle(s2, total_fds(s1, n1));

  /* 4. Everyone leaves. */
  sh->release = 1;
  for (long i = 0; i < nholders; i++)
    waitpid(holders[i], &status, 0);
  waitpid(hog, &status, 0);
  n3 = settle(s3, total_fds(s0, n0));

  {
    const char *names[] = {"start", "conns open", "10% of requests",
                           "all requests", "end"};
    struct proc_stat *snaps[] = {s0, s1, sm, s2, s3};
    size_t ns[] = {n0, n1, nm, n2, n3};
    print_table(names, snaps, ns, 5);
  }

  /* The verdict. */
  if (failed) {
    printf("FAIL: %ld client(s) failed\n", failed);
    ok = false;
  }
  if (total_fds(s2, n2) != total_fds(s1, n1)) {
    printf("FAIL: psockd's fds went from %d to %d across the requests\n",
           total_fds(s1, n1), total_fds(s2, n2));
    ok = false;
  }
  if (total_fds(s3, n3) != total_fds(s0, n0)) {
    printf("FAIL: psockd holds %d fds at the end, %d at the start\n",
           total_fds(s3, n3), total_fds(s0, n0));
    ok = false;
  }
#if defined(__SANITIZE_ADDRESS__)
  /* psockd built as we are: freed memory waits in ASan's quarantine. */
  printf("memory not checked: an AddressSanitizer build keeps what it "
         "frees\n");
  n1 = 0;
#endif
  for (size_t i = 0; i < n1; i++)
    for (size_t j = 0; j < n2; j++)
      if (s1[i].pid == s2[j].pid &&
          s2[j].rss_kib - s1[i].rss_kib > 1024 + s1[i].rss_kib / 50) {
        printf("FAIL: %s grew from %ld to %ld KiB across the requests\n",
               s1[i].role, s1[i].rss_kib, s2[j].rss_kib);
        ok = false;
      }
  if (n3 != n0) {
    printf("FAIL: psockd had %zu processes at the start, %zu at the end\n", n0,
           n3);
    ok = false;
  }
  if (!stop_psockd())
    ok = false;
  printf("%s\n", !ok  ? "FAILED"
                 : n1 ? "OK: fds and memory flat"
                      : "OK: fds flat");
  return ok ? 0 : 1;
}
