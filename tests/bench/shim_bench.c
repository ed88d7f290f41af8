/* SPDX-License-Identifier: MIT */
/*
 * shim_bench: what the preload shim costs, for the benchmark (issue #7).
 * Not a test: it prints figures.
 *
 *   shim_bench --psockd PATH --preload PATH [-n N] [--mb M]
 *
 * It re-executes itself with LD_PRELOAD=libpsock-preload.so (unless the
 * shim is loaded already), starts a psockd of its own on a private socket
 * (unless PSOCK_SOCKET names a running one), and measures in the same run:
 *
 *   - socket(AF_INET, SOCK_STREAM, 0) through the shim, and
 *     psock_socket() of libpsock-client, alternately, N times each
 *     (p50/p99 in microseconds, and the ratio shim / library); the
 *     kernel's own socket(2) as a reference;
 *   - bulk TCP over 127.0.0.1 (M MiB, 3 rounds, best): a socket from the
 *     shim (socket + connect through psockd) against a native one, to the
 *     same native sink (MB/s and the ratio).
 *
 * Run as root from the build tree (docs/unmodified-programs.md):
 *
 *   build/tests/integration/shim_bench --psockd build/daemon/psockd \
 *       --preload build/client/preload/libpsock-preload.so
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <psock/psock.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

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

static void die(const char *what) {
  fprintf(stderr, "shim_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* The kernel's own calls, whatever the shim interposes. */
static int sys_socket(int d, int t, int p) {
  return (int)syscall(SYS_socket, d, t, p);
}

static int sys_connect(int fd, const void *sa, socklen_t len) {
  return (int)syscall(SYS_connect, fd, sa, len);
}

/* ------------------------------------------------------------ psockd */

static pid_t psockd_pid;
static char psockd_dir[] = "/tmp/psock-shim-bench.XXXXXX";
static char psockd_sock[sizeof(psockd_dir) + 16];

static void start_psockd(const char *bin) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};

  if (!mkdtemp(psockd_dir))
    die("mkdtemp");
  snprintf(psockd_sock, sizeof(psockd_sock), "%s/psockd.sock", psockd_dir);
  psockd_pid = fork();
  if (psockd_pid < 0)
    die("fork");
  if (psockd_pid == 0) {
    int null = open("/dev/null", O_RDWR);

    /* psockd itself runs without the shim. */
    unsetenv("LD_PRELOAD");
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execl(bin, bin, "--socket", psockd_sock, (char *)NULL);
    _exit(127);
  }
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", psockd_sock);
  for (int i = 0; i < 500; i++) {
    int fd = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int r = sys_connect(fd, &sun, sizeof(sun));

    close(fd);
    if (r == 0) {
      setenv("PSOCK_SOCKET", psockd_sock, 1);
      return;
    }
    usleep(10000);
  }
  fprintf(stderr, "shim_bench: psockd did not start\n");
  exit(1);
}

static void stop_psockd(void) {
  int status;

  if (psockd_pid <= 0)
    return;
  kill(psockd_pid, SIGTERM);
  waitpid(psockd_pid, &status, 0);
  rmdir(psockd_dir);
}

/* ------------------------------------------------------- socket() cost */

static void bench_socket(int n) {
  double *shim = calloc((size_t)n, sizeof(double));
  double *lib = calloc((size_t)n, sizeof(double));
  double *native = calloc((size_t)n, sizeof(double));
  double s50, s99, l50, l99;

  if (!shim || !lib || !native)
    die("calloc");
  /* Warm up both connections to psockd. */
  for (int i = 0; i < 50; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || !s)
      die("socket during warm-up");
    close(fd);
    psock_close(s);
  }
  for (int i = 0; i < n; i++) {
    double t0 = now_us(), t1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    psock_sock *s;

    t1 = now_us();
    if (fd < 0)
      die("socket through the shim");
    close(fd);
    shim[i] = t1 - t0;

    t0 = now_us();
    s = psock_socket(AF_INET, SOCK_STREAM, 0);
    t1 = now_us();
    if (!s)
      die("psock_socket");
    psock_close(s);
    lib[i] = t1 - t0;

    t0 = now_us();
    fd = sys_socket(AF_INET, SOCK_STREAM, 0);
    t1 = now_us();
    if (fd < 0)
      die("socket(2)");
    close(fd);
    native[i] = t1 - t0;
  }
  s50 = pct(shim, (size_t)n, 0.50);
  s99 = pct(shim, (size_t)n, 0.99);
  l50 = pct(lib, (size_t)n, 0.50);
  l99 = pct(lib, (size_t)n, 0.99);
  printf("shim socket():          p50 %8.1f us   p99 %8.1f us   (n=%d)\n", s50,
         s99, n);
  printf("psock_socket():         p50 %8.1f us   p99 %8.1f us   (n=%d)\n", l50,
         l99, n);
  printf("ratio shim/psock_socket: p50 %.2f          p99 %.2f\n", s50 / l50,
         s99 / l99);
  printf("kernel socket(2):       p50 %8.1f us   p99 %8.1f us   (reference)\n",
         pct(native, (size_t)n, 0.50), pct(native, (size_t)n, 0.99));
  free(shim);
  free(lib);
  free(native);
}

/* ------------------------------------------------------------- bulk */

/* A native sink on 127.0.0.1: reads each connection to its end, then
 * answers one byte. Returns its port. */
static pid_t sink_pid;

static int start_sink(void) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = sys_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || syscall(SYS_bind, fd, &sin, sizeof(sin)) < 0 ||
      syscall(SYS_listen, fd, 8) < 0 ||
      getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
    die("sink");
  sink_pid = fork();
  if (sink_pid < 0)
    die("fork");
  if (sink_pid == 0) {
    static char buf[1 << 20];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
      int c = accept(fd, NULL, NULL);
      ssize_t r;

      if (c < 0)
        continue;
      while ((r = read(c, buf, sizeof(buf))) > 0)
        ;
      (void)!write(c, "k", 1);
      close(c);
    }
  }
  close(fd);
  return ntohs(sin.sin_port);
}

/* Send mib MiB on fd (connected), wait for the sink's byte: MB/s. */
static double pump(int fd, int mib) {
  static char buf[CHUNK];
  long long total = (long long)mib << 20, sent = 0;
  double t0 = now_us(), t1;
  char ack;

  while (sent < total) {
    ssize_t w = write(fd, buf, sizeof(buf));

    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      die("write");
    sent += w;
  }
  shutdown(fd, SHUT_WR);
  if (read(fd, &ack, 1) != 1)
    die("the sink's answer");
  t1 = now_us();
  close(fd);
  return (double)total / (t1 - t0); /* bytes per microsecond = MB/s */
}

static void bench_bulk(int mib) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  double best_shim = 0, best_native = 0;

  sin.sin_port = htons((uint16_t)start_sink());
  for (int round = 0; round < 3; round++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* the shim: psockd */
    double v;

    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
      die("shim socket/connect");
    v = pump(fd, mib);
    if (v > best_shim)
      best_shim = v;
    fd = sys_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || sys_connect(fd, &sin, sizeof(sin)) < 0)
      die("native socket/connect");
    v = pump(fd, mib);
    if (v > best_native)
      best_native = v;
  }
  printf("bulk TCP 127.0.0.1, %d MiB x3 (best): shim %.0f MB/s, native %.0f "
         "MB/s, ratio %.2f\n",
         mib, best_shim, best_native, best_shim / best_native);
  kill(sink_pid, SIGKILL);
  waitpid(sink_pid, NULL, 0);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"psockd", required_argument, NULL, 'p'},
      {"preload", required_argument, NULL, 'l'},
      {"mb", required_argument, NULL, 'm'},
      {NULL, 0, NULL, 0},
  };
  const char *psockd = NULL, *preload = NULL;
  int n = 2000, mib = 256, c;

  while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      psockd = optarg;
      break;
    case 'l':
      preload = optarg;
      break;
    case 'n':
      n = atoi(optarg);
      break;
    case 'm':
      mib = atoi(optarg);
      break;
    default:
      fprintf(stderr, "usage: shim_bench --psockd PATH --preload PATH "
                      "[-n N] [--mb MIB]\n");
      return 2;
    }
  }
  if (n < 10 || mib < 1) {
    fprintf(stderr, "shim_bench: -n at least 10, --mb at least 1\n");
    return 2;
  }
  /* socket() must be the shim's: re-exec with it preloaded. */
  if (!dlsym(RTLD_DEFAULT, "psock_preload_version")) {
    if (!preload) {
      fprintf(stderr, "shim_bench: --preload PATH (libpsock-preload.so) "
                      "is needed\n");
      return 2;
    }
    setenv("LD_PRELOAD", preload, 1);
    execv("/proc/self/exe", argv);
    die("re-exec with the preload");
  }
  if (psockd)
    start_psockd(psockd);
  else if (!getenv("PSOCK_SOCKET"))
    fprintf(stderr, "shim_bench: no --psockd: using the default socket\n");
  bench_socket(n);
  bench_bulk(mib);
  stop_psockd();
  return 0;
}
