/* SPDX-License-Identifier: MIT */
/*
 * seccomp_bench: what psock-run's seccomp mode costs, for the benchmark
 * (issue #17). Not a test: it prints figures (docs/performance.md).
 *
 *   seccomp_bench --psockd PATH --psock-run PATH --preload PATH
 *                 [-n N] [--mb M] [--dgrams K] [--rounds R] [--cpu C]
 *
 * As root it starts two psockd of its own (one whose policy leaves sendto
 * destinations free, one that restricts them), a TCP server and a UDP
 * sink, and runs itself as nobody, once natively and once under each of
 * psock-run --mode=preload, --mode=seccomp, and --mode=seccomp with the
 * restricting policy. Each run measures:
 *
 *   socket    socket(AF_INET, SOCK_STREAM, 0), N times (p50/p99, us)
 *   connect   connect() to the server, one byte out and its answer back,
 *             N/4 times (p50/p99, us)
 *   bulk      M MiB over a connected TCP socket (MB/s, best of 3)
 *   sendto    K datagrams of 64 bytes with sendto() to a destination on
 *             an unconnected UDP socket (us per call)
 *
 * With --cpu C every process of the run (psockd, the servers, psock-run,
 * its supervisor and the program) is pinned to CPU C, as psock-bench
 * places its figures: then a wake-up is a switch on one CPU, not an
 * interrupt to another, and the figures measure work rather than the
 * scheduler's placement.
 *
 * R rounds of all of it; the median of each figure is printed, with the
 * ratios the issue sets targets for: seccomp/preload for socket and
 * connect (<= 1.3), seccomp/native for bulk (>= 0.97), and sendto with
 * destination enforcement on/off.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define NOBODY 65534
#define MAX_ROUNDS 15

enum { F_SOCK50, F_SOCK99, F_CONN50, F_CONN99, F_BULK, F_SENDTO, F_N };

static const char *const mode_names[] = {"native", "preload", "seccomp",
                                         "seccomp+sendto"};
#define N_MODES 4

static double now_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);

  qsort(v, n, sizeof(*v), cmp_double);
  return v[i < n ? i : n - 1];
}

__attribute__((noreturn)) static void die(const char *what) {
  fprintf(stderr, "seccomp_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static struct sockaddr_in loopback(uint16_t port) {
  return (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* ------------------------------------------------------------ the child */

static void child_socket(int n, double *ret) {
  double *v = calloc((size_t)n, sizeof(*v));

  if (!v)
    die("calloc");
  for (int i = 0; i < n; i++) {
    double t0 = now_us();
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    v[i] = now_us() - t0;
    if (fd < 0)
      die("socket");
    close(fd);
  }
  ret[F_SOCK99] = pct(v, (size_t)n, 0.99);
  ret[F_SOCK50] = pct(v, (size_t)n, 0.50);
  free(v);
}

static void child_connect(int n, uint16_t port, double *ret) {
  struct sockaddr_in sin = loopback(port);
  double *v = calloc((size_t)n, sizeof(*v));
  char b = 'x';

  if (!v)
    die("calloc");
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    double t0 = now_us();

    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
      die("connect and first byte");
    v[i] = now_us() - t0;
    close(fd);
  }
  ret[F_CONN99] = pct(v, (size_t)n, 0.99);
  ret[F_CONN50] = pct(v, (size_t)n, 0.50);
  free(v);
}

static void child_bulk(int mib, uint16_t port, double *ret) {
  struct sockaddr_in sin = loopback(port);
  static char buf[CHUNK];
  double best = 0;

  for (int round = 0; round < 3; round++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    long long left = (long long)mib << 20;
    char b = 'b';
    double t0;

    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
      die("bulk connect");
    t0 = now_us();
    while (left > 0) {
      ssize_t n = write(fd, buf, left < CHUNK ? (size_t)left : CHUNK);

      if (n <= 0)
        die("bulk write");
      left -= n;
    }
    shutdown(fd, SHUT_WR);
    if (read(fd, &b, 1) != 1) /* the sink has everything */
      die("bulk end");
    if ((double)mib * 1048576.0 / (now_us() - t0) > best)
      best = (double)mib * 1048576.0 / (now_us() - t0);
    close(fd);
  }
  ret[F_BULK] = best; /* bytes per us = MB/s */
}

static void child_sendto(int k, uint16_t port, double *ret) {
  struct sockaddr_in sin = loopback(port);
  char dgram[64] = {0};
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  double t0;

  if (fd < 0)
    die("udp socket");
  t0 = now_us();
  for (int i = 0; i < k; i++)
    if (sendto(fd, dgram, sizeof(dgram), 0, (struct sockaddr *)&sin,
               sizeof(sin)) != sizeof(dgram) &&
        errno != ENOBUFS && errno != EAGAIN)
      die("sendto");
  ret[F_SENDTO] = (now_us() - t0) / k;
  close(fd);
}

static int child_main(int n, int mib, int k, uint16_t tcp, uint16_t udp) {
  double r[F_N];

  child_socket(n, r);
  child_connect(n / 4 > 0 ? n / 4 : 1, tcp, r);
  child_bulk(mib, tcp, r);
  child_sendto(k, udp, r);
  printf("RESULT");
  for (int f = 0; f < F_N; f++)
    printf(" %.3f", r[f]);
  printf("\n");
  return 0;
}

/* ----------------------------------------------------------- the servers */

static pid_t start_psockd(const char *bin, const char *dir, const char *name,
                          const char *policy, char *sock, size_t len) {
  char conf[PATH_MAX], log[PATH_MAX];
  FILE *f;
  pid_t pid;

  snprintf(conf, sizeof(conf), "%s/%s.conf", dir, name);
  snprintf(log, sizeof(log), "%s/%s.log", dir, name);
  snprintf(sock, len, "%s/%s.sock", dir, name);
  f = fopen(conf, "we");
  if (!f || fputs(policy, f) < 0 || fclose(f) != 0)
    die("policy");
  fflush(NULL);
  pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execl(bin, bin, "--socket", sock, "--socket-mode", "0666", "--policy", conf,
          (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500 && access(sock, F_OK) < 0; i++)
    usleep(10000);
  if (access(sock, F_OK) < 0)
    die("psockd did not start");
  return pid;
}

/* TCP, one process with epoll: a connection's first byte is answered with
 * one, and its end (the bulk run's) with one more. */
static void serve_tcp(int l) {
  static char buf[CHUNK];
  static bool answered[65536];
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[64];
  int ep = epoll_create1(EPOLL_CLOEXEC);

  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0)
    _exit(1);
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);

    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      ssize_t got;

      if (fd == l) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);

        if (c >= 0 && c < 65536) {
          answered[c] = false;
          ev = (struct epoll_event){.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        } else if (c >= 0) {
          close(c);
        }
        continue;
      }
      got = read(fd, buf, sizeof(buf));
      if (got > 0 && !answered[fd]) {
        answered[fd] = true;
        (void)!write(fd, buf, 1);
      } else if (got <= 0) {
        (void)!write(fd, "e", 1);
        close(fd);
      }
    }
  }
}

static pid_t start_tcp_server(uint16_t *port) {
  struct sockaddr_in sin = loopback(0);
  socklen_t len = sizeof(sin);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  pid_t pid;

  if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
      listen(l, 1024) < 0 || getsockname(l, (struct sockaddr *)&sin, &len) < 0)
    die("tcp server");
  *port = ntohs(sin.sin_port);
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    serve_tcp(l);
  }
  close(l);
  return pid;
}

static pid_t start_udp_sink(uint16_t *port) {
  struct sockaddr_in sin = loopback(0);
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 8 << 20;
  pid_t pid;

  if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
      getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
    die("udp sink");
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
  *port = ntohs(sin.sin_port);
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    char buf[2048];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;)
      (void)!recv(fd, buf, sizeof(buf), 0);
  }
  close(fd);
  return pid;
}

/* ----------------------------------------------------------- the runs */

struct setup {
  char dir[64], self[PATH_MAX], psock_run[PATH_MAX], preload[PATH_MAX];
  char free_sock[PATH_MAX], restricted_sock[PATH_MAX];
  int n, mib, k;
  uint16_t tcp, udp;
};

static void copy(const char *src, const char *dst) {
  char cmd[3 * PATH_MAX];

  snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 755 '%s'", src, dst, dst);
  if (system(cmd) != 0)
    die(src);
}

/* One run of this program as nobody in mode m: its figures into r. */
static void run_mode(const struct setup *s, int m, double *r) {
  char n[16], mib[16], k[16], tcp[16], udp[16], line[512], env[PATH_MAX + 32];
  int p[2], status;
  FILE *f;
  pid_t pid;

  snprintf(n, sizeof(n), "%d", s->n);
  snprintf(mib, sizeof(mib), "%d", s->mib);
  snprintf(k, sizeof(k), "%d", s->k);
  snprintf(tcp, sizeof(tcp), "%u", s->tcp);
  snprintf(udp, sizeof(udp), "%u", s->udp);
  if (pipe2(p, O_CLOEXEC) < 0)
    die("pipe");
  fflush(NULL);
  pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    const char *sock = m == 3 ? s->restricted_sock : s->free_sock;

    dup2(p[1], 1);
    snprintf(env, sizeof(env), "PSOCK_PRELOAD=%s", s->preload);
    putenv(env);
    if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
        setresuid(NOBODY, NOBODY, NOBODY) < 0)
      _exit(125);
    if (m == 0)
      execl(s->self, s->self, "--child", n, mib, k, tcp, udp, (char *)NULL);
    else
      execl(s->psock_run, s->psock_run,
            m == 1 ? "--mode=preload" : "--mode=seccomp", "--socket", sock,
            "--", s->self, "--child", n, mib, k, tcp, udp, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  f = fdopen(p[0], "r");
  memset(r, 0, sizeof(double) * F_N);
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "RESULT ", 7) == 0)
      sscanf(line + 7, "%lf %lf %lf %lf %lf %lf", &r[0], &r[1], &r[2], &r[3],
             &r[4], &r[5]);
  if (f)
    fclose(f);
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "seccomp_bench: the %s run failed (status 0x%x)\n",
            mode_names[m], status);
    exit(1);
  }
}

static double median(double *v, int n) {
  return pct(v, (size_t)n, 0.5);
}

static void report(double fig[N_MODES][F_N][MAX_ROUNDS], int rounds) {
  double m[N_MODES][F_N];

  for (int i = 0; i < N_MODES; i++)
    for (int f = 0; f < F_N; f++)
      m[i][f] = median(fig[i][f], rounds);
  printf("%-16s %10s %10s %10s %10s %10s %12s\n", "mode", "socket p50", "p99",
         "conn p50", "p99", "bulk MB/s", "sendto us");
  for (int i = 0; i < N_MODES; i++)
    printf("%-16s %10.1f %10.1f %10.1f %10.1f %10.0f %12.2f\n", mode_names[i],
           m[i][F_SOCK50], m[i][F_SOCK99], m[i][F_CONN50], m[i][F_CONN99],
           m[i][F_BULK], m[i][F_SENDTO]);
  printf("\n");
  printf("socket() seccomp/preload p50     %.2f  (target <= 1.3)\n",
         m[2][F_SOCK50] / m[1][F_SOCK50]);
  printf("connect+byte seccomp/preload p50 %.2f  (target <= 1.3)\n",
         m[2][F_CONN50] / m[1][F_CONN50]);
  printf("bulk TCP seccomp/native          %.2f  (target >= 0.97)\n",
         m[2][F_BULK] / m[0][F_BULK]);
  printf("sendto 64 B enforced/free        %.2f  (seccomp, destinations "
         "restricted / not)\n",
         m[3][F_SENDTO] / m[2][F_SENDTO]);
  printf("sendto 64 B free/native          %.2f\n",
         m[2][F_SENDTO] / m[0][F_SENDTO]);
}

#define POLICY_COMMON                                                          \
  "allow uid=65534 socket family=inet type=stream,dgram proto=0,tcp,udp\n"     \
  "allow uid=65534 bind family=inet addr=any port=0,1024-65535\n"

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"psockd", required_argument, NULL, 'd'},
      {"psock-run", required_argument, NULL, 'r'},
      {"preload", required_argument, NULL, 'p'},
      {"mb", required_argument, NULL, 'm'},
      {"dgrams", required_argument, NULL, 'k'},
      {"rounds", required_argument, NULL, 'R'},
      {"cpu", required_argument, NULL, 'c'},
      {NULL, 0, NULL, 0},
  };
  static double fig[N_MODES][F_N][MAX_ROUNDS];
  struct setup s = {.n = 2000, .mib = 256, .k = 50000};
  const char *psockd = NULL, *psock_run = NULL, *preload = NULL;
  pid_t pids[4];
  int rounds = 3, cpu = -1, c;
  char path[PATH_MAX];

  if (argc == 7 && strcmp(argv[1], "--child") == 0)
    return child_main(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
                      (uint16_t)atoi(argv[5]), (uint16_t)atoi(argv[6]));
  while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      psockd = optarg;
      break;
    case 'r':
      psock_run = optarg;
      break;
    case 'p':
      preload = optarg;
      break;
    case 'n':
      s.n = atoi(optarg);
      break;
    case 'm':
      s.mib = atoi(optarg);
      break;
    case 'k':
      s.k = atoi(optarg);
      break;
    case 'R':
      rounds = atoi(optarg);
      break;
    case 'c':
      cpu = atoi(optarg);
      break;
    default:
      return 2;
    }
  }
  if (!psockd || !psock_run || !preload || rounds < 1 || rounds > MAX_ROUNDS ||
      s.n < 4 || s.mib < 1 || s.k < 1) {
    fprintf(stderr,
            "usage: %s --psockd PATH --psock-run PATH --preload PATH "
            "[-n N] [--mb M] [--dgrams K] [--rounds R]\n",
            argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "seccomp_bench: run it as root\n");
    return 2;
  }
  if (cpu >= 0) {
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
      die("sched_setaffinity");
  }
  snprintf(s.dir, sizeof(s.dir), "/tmp/psock-seccomp-bench.XXXXXX");
  if (!mkdtemp(s.dir) || chmod(s.dir, 0755) < 0)
    die("mkdtemp");
  if (!realpath("/proc/self/exe", path))
    die("/proc/self/exe");
  snprintf(s.self, sizeof(s.self), "%s/seccomp_bench", s.dir);
  snprintf(s.psock_run, sizeof(s.psock_run), "%s/psock-run", s.dir);
  snprintf(s.preload, sizeof(s.preload), "%s/libpsock-preload.so", s.dir);
  copy(path, s.self);
  copy(psock_run, s.psock_run);
  copy(preload, s.preload);

  pids[0] = start_psockd(psockd, s.dir, "free",
                         POLICY_COMMON "allow uid=65534 connect,sendto "
                                       "family=inet addr=any port=any\n",
                         s.free_sock, sizeof(s.free_sock));
  pids[1] = start_psockd(psockd, s.dir, "restricted",
                         POLICY_COMMON "allow uid=65534 connect,sendto "
                                       "family=inet addr=127.0.0.0/8 "
                                       "port=any\n",
                         s.restricted_sock, sizeof(s.restricted_sock));
  pids[2] = start_tcp_server(&s.tcp);
  pids[3] = start_udp_sink(&s.udp);

  /* Rounds interleave the modes, so that a slow moment of the machine
   * falls on all of them alike. */
  for (int round = 0; round < rounds; round++)
    for (int m = 0; m < N_MODES; m++) {
      double r[F_N];

      run_mode(&s, m, r);
      for (int f = 0; f < F_N; f++)
        fig[m][f][round] = r[f];
    }
  printf("seccomp_bench: N=%d, %d MiB, %d datagrams, %d rounds (medians), "
         "%s\n\n",
         s.n, s.mib, s.k, rounds, cpu >= 0 ? "all on one CPU" : "unpinned");
  report(fig, rounds);
  for (int i = 0; i < 4; i++) {
    int status;

    kill(pids[i], i < 2 ? SIGTERM : SIGKILL);
    waitpid(pids[i], &status, 0);
  }
  snprintf(path, sizeof(path), "rm -rf -- '%s'", s.dir);
  (void)!system(path);
  return 0;
}
