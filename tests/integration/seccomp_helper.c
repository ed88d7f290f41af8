/* SPDX-License-Identifier: MIT */
/*
 * seccomp_helper: an "unmodified program" for test_psock_run_seccomp,
 * linked against nothing but libc (built twice: dynamically, and
 * statically as a program the preload cannot reach). Each mode prints
 * lines the test checks and exits 0 when every step went as it says.
 *
 *   status                 "seccomp=N nnp=N" from /proc/self/status
 *   tcp HOST PORT          an exchange with the echo server
 *   udp HOST PORT          a datagram to an echo server and its answer,
 *                          with sendto() on an unconnected socket
 *   toctou HOST GOOD BAD N N connects to HOST:GOOD while a second thread
 *                          rewrites the address's port between GOOD and
 *                          BAD; prints how many connected and where to
 *   sendmsg-race HOST GOOD BAD N   the same with sendmsg() datagrams
 *   selfconnect HOST PORT  socket() from libc, then the connect() system
 *                          call made directly (no libc function a preload
 *                          could stand in for): "connected" or the errno
 *   sendto HOST PORT       one datagram with sendto(): "sent" or the errno
 *   reach                  what the program can do to the supervisor (its
 *                          parent): each attempt and its errno; then
 *                          "supervisor pid PID" and 3 s for the test
 *   blockconnect HOST PORT a blocking connect() that cannot complete
 *                          (the listener's queue is full): bounded by
 *                          SO_SNDTIMEO, interrupted by a signal, while
 *                          another thread's calls are served meanwhile
 *   io_uring               io_uring_setup()'s answer
 *   unix-threads           AF_UNIX with a second thread alive (so the
 *                          supervisor performs the calls itself): a
 *                          listener at a relative path under umask 077,
 *                          a connect to it, an abstract name, a datagram
 *                          with sendto() to a path; what each gives,
 *                          as natively
 *   ifnames NAME INDEX     if_nametoindex() of lo and NAME,
 *                          if_indextoname(INDEX) (glibc asks with ioctl
 *                          on an AF_UNIX socket of its own), then the
 *                          same ioctls made directly: on an AF_UNIX
 *                          socket (an alias NAME:7, which the kernel
 *                          hands back as it was; a bad pointer), on an
 *                          inet socket, a pipe and no fd
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                              \
  do {                                                                         \
    printf("FAILED line %d: ", __LINE__);                                      \
    printf(__VA_ARGS__);                                                       \
    printf(" (errno %s)\n", strerror(errno));                                  \
    return 1;                                                                  \
  } while (0)

static struct sockaddr_in inet(const char *host, int port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};

  inet_pton(AF_INET, host, &sin.sin_addr);
  return sin;
}

static double now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- status */

static int do_status(void) {
  char buf[4096], *p;
  FILE *f = fopen("/proc/self/status", "re");
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

  if (f)
    fclose(f);
  buf[n] = '\0';
  p = strstr(buf, "\nSeccomp:");
  printf("seccomp=%d", p ? atoi(p + 9) : -1);
  p = strstr(buf, "\nNoNewPrivs:");
  printf(" nnp=%d\n", p ? atoi(p + 12) : -1);
  return 0;
}

/* ------------------------------------------------------- tcp and udp */

static int do_tcp(const char *host, int port) {
  struct sockaddr_in sin = inet(host, port);
  char buf[8];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    FAIL("socket");
  if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
    FAIL("connect %s:%d", host, port);
  if (write(fd, "hello\n", 6) != 6 || read(fd, buf, 6) != 6 ||
      memcmp(buf, "hello\n", 6) != 0)
    FAIL("exchange");
  close(fd);
  printf("tcp ok\n");
  return 0;
}

static int do_udp(const char *host, int port) {
  struct sockaddr_in sin = inet(host, port);
  struct pollfd p;
  char buf[16];
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    FAIL("socket");
  if (sendto(fd, "ping", 4, 0, (struct sockaddr *)&sin, sizeof(sin)) != 4)
    FAIL("sendto %s:%d", host, port);
  p = (struct pollfd){.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 5000) != 1 || recv(fd, buf, sizeof(buf), 0) != 4 ||
      memcmp(buf, "ping", 4) != 0)
    FAIL("no answer");
  close(fd);
  printf("udp ok\n");
  return 0;
}

static int do_sendto(const char *host, int port) {
  struct sockaddr_in sin = inet(host, port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    FAIL("socket");
  if (sendto(fd, "ping", 4, 0, (struct sockaddr *)&sin, sizeof(sin)) == 4)
    printf("sent\n");
  else
    printf("sendto: %s\n", strerror(errno));
  return 0;
}

/* ----------------------------------------------------------- the races */

struct flipper {
  struct sockaddr_in *target;
  uint16_t good, bad;
  atomic_bool stop;
};

/* Rewrite the port in a loop, as fast as it goes. */
static void *flip(void *p) {
  struct flipper *f = p;
  volatile uint16_t *port = &f->target->sin_port;

  while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
    *port = f->bad;
    *port = f->good;
  }
  return NULL;
}

static int do_toctou(const char *host, int good, int bad, int n) {
  static struct sockaddr_in shared; /* what both threads see */
  struct flipper f = {.target = &shared,
                      .good = htons((uint16_t)good),
                      .bad = htons((uint16_t)bad)};
  int reached_good = 0, reached_bad = 0, refused = 0;
  pthread_t t;

  shared = inet(host, good);
  if (pthread_create(&t, NULL, flip, &f) != 0)
    FAIL("pthread_create");
  for (int i = 0; i < n; i++) {
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
      FAIL("socket");
    if (connect(fd, (struct sockaddr *)&shared, sizeof(shared)) < 0) {
      refused++;
    } else if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0) {
      if (peer.sin_port == f.good)
        reached_good++;
      else
        reached_bad++;
    }
    close(fd);
  }
  atomic_store(&f.stop, true);
  pthread_join(t, NULL);
  printf("good=%d bad=%d refused=%d\n", reached_good, reached_bad, refused);
  return 0;
}

static int do_sendmsg_race(const char *host, int good, int bad, int n) {
  static struct sockaddr_in shared;
  struct flipper f = {.target = &shared,
                      .good = htons((uint16_t)good),
                      .bad = htons((uint16_t)bad)};
  int sent = 0, refused = 0;
  pthread_t t;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    FAIL("socket");
  shared = inet(host, good);
  if (pthread_create(&t, NULL, flip, &f) != 0)
    FAIL("pthread_create");
  for (int i = 0; i < n; i++) {
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    struct msghdr mh = {.msg_name = &shared,
                        .msg_namelen = sizeof(shared),
                        .msg_iov = &iov,
                        .msg_iovlen = 1};

    if (sendmsg(fd, &mh, 0) == 1)
      sent++;
    else
      refused++;
  }
  atomic_store(&f.stop, true);
  pthread_join(t, NULL);
  printf("sent=%d refused=%d\n", sent, refused);
  return 0;
}

/* -------------------------------------------------------- self-connect */

static int do_selfconnect(const char *host, int port) {
  struct sockaddr_in sin = inet(host, port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    FAIL("socket");
  if (syscall(SYS_connect, fd, &sin, sizeof(sin)) == 0)
    printf("connected\n");
  else
    printf("connect: %s\n", strerror(errno));
  return 0;
}

/* ------------------------------------------------------------- reach */

static void attempt(const char *what, long rc) {
  printf("%s: %s\n", what, rc < 0 ? strerror(errno) : "done");
}

static int do_reach(void) {
  pid_t s = getppid();
  char path[64], buf[16];
  struct iovec local = {.iov_base = buf, .iov_len = sizeof(buf)};
  struct iovec remote = {.iov_base = (void *)&local, .iov_len = sizeof(buf)};
  struct rlimit rl = {0, 0};
  int fd;

  printf("supervisor is my parent: %s\n", s > 1 ? "yes" : "no");
  attempt("kill", kill(s, SIGKILL));
  attempt("kill group", kill(-s, SIGKILL));
  attempt("kill -1", kill(-1, SIGKILL));
  attempt("tgkill", syscall(SYS_tgkill, s, s, SIGKILL));
  attempt("sigqueue", sigqueue(s, SIGKILL, (union sigval){0}));
  attempt("pidfd_open", syscall(SYS_pidfd_open, s, 0));
  snprintf(path, sizeof(path), "/proc/%d", (int)s);
  fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  attempt("pidfd_send_signal",
          fd < 0 ? -1 : syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0));
  attempt("ptrace", ptrace(PTRACE_ATTACH, s, NULL, NULL));
  attempt("process_vm_readv", process_vm_readv(s, &local, 1, &remote, 1, 0));
  snprintf(path, sizeof(path), "/proc/%d/mem", (int)s);
  attempt("open mem", open(path, O_RDONLY | O_CLOEXEC));
  attempt("prlimit", prlimit(s, RLIMIT_NOFILE, &rl, NULL));
  attempt("setpgid", setpgid(0, s));
  /* Still served afterwards? */
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  printf("socket after: %s\n", fd >= 0 ? "ok" : strerror(errno));
  printf("supervisor pid %d\n", (int)s);
  sleep(3);
  return 0;
}

/* ------------------------------------------------------ blockconnect */

static atomic_bool served;

static void on_alarm(int sig) {
  (void)sig;
}

/* While the main thread's connect waits: are other calls served? */
static void *meanwhile(void *p) {
  int fd;

  (void)p;
  usleep(100000);
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    atomic_store(&served, true);
    close(fd);
  }
  return NULL;
}

static int do_blockconnect(const char *host, int port) {
  struct sockaddr_in sin = inet(host, port);
  struct timeval tv = {.tv_usec = 300000};
  struct sigaction sa = {.sa_handler = on_alarm};
  pthread_t t;
  double t0;
  int fd, rc;

  /* Bounded by SO_SNDTIMEO: EINPROGRESS when it runs out. */
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
    FAIL("socket");
  if (pthread_create(&t, NULL, meanwhile, NULL) != 0)
    FAIL("pthread_create");
  t0 = now();
  rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
  printf("timeout: %s after %.1f s\n", rc < 0 ? strerror(errno) : "connected",
         now() - t0);
  pthread_join(t, NULL);
  printf("meanwhile: %s\n", atomic_load(&served) ? "served" : "not served");
  close(fd);

  /* A signal whose handler has no SA_RESTART: EINTR. */
  sigaction(SIGALRM, &sa, NULL);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    FAIL("socket");
  alarm(1);
  t0 = now();
  rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
  printf("signal: %s after %.1f s\n", rc < 0 ? strerror(errno) : "connected",
         now() - t0);
  close(fd);
  return 0;
}

/* ----------------------------------------------------------- io_uring */

static int do_io_uring(void) {
  struct io_uring_params p;

  memset(&p, 0, sizeof(p));
  if (syscall(SYS_io_uring_setup, 4, &p) >= 0)
    printf("io_uring_setup: a ring\n");
  else
    printf("io_uring_setup: %s\n", strerror(errno));
  return 0;
}

/* ------------------------------------------------------ unix-threads */

static void *idle(void *p) {
  (void)p;
  pause();
  return NULL;
}

static void show_name(const char *what, int fd) {
  struct sockaddr_un un;
  socklen_t len = sizeof(un);

  memset(&un, 0, sizeof(un));
  if (getsockname(fd, (struct sockaddr *)&un, &len) < 0)
    printf("%s: getsockname: %s\n", what, strerror(errno));
  else if (len > sizeof(sa_family_t) && un.sun_path[0] == '\0')
    printf("%s: @%.*s\n", what, (int)(len - sizeof(sa_family_t) - 1),
           un.sun_path + 1);
  else
    printf("%s: %s\n", what, un.sun_path);
}

static int do_unix_threads(void) {
  struct sockaddr_un rel = {.sun_family = AF_UNIX, .sun_path = "rel.sock"};
  struct sockaddr_un dg = {.sun_family = AF_UNIX, .sun_path = "dgram.sock"};
  struct sockaddr_un abs = {.sun_family = AF_UNIX};
  socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 12;
  struct stat st;
  pthread_t t;
  char buf[8];
  int l, c, a, d, s;

  if (pthread_create(&t, NULL, idle, NULL) != 0)
    FAIL("pthread_create");
  memcpy(abs.sun_path, "\0psock-test", 11);
  umask(077);
  unlink("rel.sock");
  unlink("dgram.sock");
  l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  printf("bind relative: %s\n",
         bind(l, (struct sockaddr *)&rel, sizeof(rel)) < 0 ? strerror(errno)
                                                           : "ok");
  printf("mode: %o\n",
         stat("rel.sock", &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0);
  show_name("name", l);
  printf("listen: %s\n", listen(l, 4) < 0 ? strerror(errno) : "ok");
  c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  printf("connect relative: %s\n",
         connect(c, (struct sockaddr *)&rel, sizeof(rel)) < 0 ? strerror(errno)
                                                              : "ok");
  a = accept(l, NULL, NULL);
  printf("exchange: %s\n",
         a >= 0 && write(c, "hi", 2) == 2 && read(a, buf, 2) == 2 ? "ok"
                                                                  : "failed");
  printf("connect missing: %s\n",
         connect(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                 (struct sockaddr *)&dg, sizeof(dg)) < 0
             ? strerror(errno)
             : "ok");
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  printf("bind abstract: %s\n",
         bind(s, (struct sockaddr *)&abs, alen) < 0 ? strerror(errno) : "ok");
  show_name("name", s);
  d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  printf("bind dgram: %s\n", bind(d, (struct sockaddr *)&dg, sizeof(dg)) < 0
                                 ? strerror(errno)
                                 : "ok");
  printf("sendto path: %s\n",
         sendto(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), "x", 1, 0,
                (struct sockaddr *)&dg, sizeof(dg)) == 1
             ? "ok"
             : strerror(errno));
  printf("received: %s\n", recv(d, buf, 1, MSG_DONTWAIT) == 1 ? "ok" : "no");
  unlink("rel.sock");
  unlink("dgram.sock");
  return 0;
}

/* ---------------------------------------------------- interface names */

/* "NAME: index N name S" or "NAME: ERROR" for ioctl(cmd) on fd. */
static void show_ifreq(const char *what, int fd, unsigned long cmd,
                       struct ifreq *ifr) {
  if (ioctl(fd, cmd, ifr) < 0)
    printf("%s: %s\n", what, strerror(errno));
  else
    printf("%s: index %d name %.*s\n", what, ifr->ifr_ifindex, IFNAMSIZ,
           ifr->ifr_name);
}

static void show_nametoindex(const char *name) {
  unsigned i;

  errno = 0;
  i = if_nametoindex(name);
  printf("if_nametoindex(%s) = %u%s%s\n", name, i, i ? "" : " ",
         i ? "" : strerror(errno));
}

static int do_ifnames(const char *name, unsigned index) {
  char buf[IF_NAMESIZE];
  struct ifreq ifr;
  const char *n;
  int u, in, p[2];

  show_nametoindex("lo");
  show_nametoindex(name);
  errno = 0;
  n = if_indextoname(index, buf);
  printf("if_indextoname(%u) = %s%s%s\n", index, n ? n : "NULL", n ? "" : " ",
         n ? "" : strerror(errno));

  u = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  in = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (u < 0 || in < 0 || pipe2(p, O_CLOEXEC) < 0)
    FAIL("sockets");
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.9s:7", name);
  show_ifreq("SIOCGIFINDEX alias on unix", u, SIOCGIFINDEX, &ifr);
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = (int)index;
  show_ifreq("SIOCGIFNAME on unix", u, SIOCGIFNAME, &ifr);
  printf("SIOCGIFINDEX bad pointer: %s\n",
         ioctl(u, SIOCGIFINDEX, (void *)16) < 0 ? strerror(errno) : "ok");
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = (int)index;
  show_ifreq("SIOCGIFNAME on inet", in, SIOCGIFNAME, &ifr);
  show_ifreq("SIOCGIFNAME on a pipe", p[0], SIOCGIFNAME, &ifr);
  show_ifreq("SIOCGIFNAME on no fd", 999, SIOCGIFNAME, &ifr);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "status") == 0)
    return do_status();
  if (argc >= 4 && strcmp(argv[1], "tcp") == 0)
    return do_tcp(argv[2], atoi(argv[3]));
  if (argc >= 4 && strcmp(argv[1], "udp") == 0)
    return do_udp(argv[2], atoi(argv[3]));
  if (argc >= 4 && strcmp(argv[1], "sendto") == 0)
    return do_sendto(argv[2], atoi(argv[3]));
  if (argc >= 6 && strcmp(argv[1], "toctou") == 0)
    return do_toctou(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  if (argc >= 6 && strcmp(argv[1], "sendmsg-race") == 0)
    return do_sendmsg_race(argv[2], atoi(argv[3]), atoi(argv[4]),
                           atoi(argv[5]));
  if (argc >= 4 && strcmp(argv[1], "selfconnect") == 0)
    return do_selfconnect(argv[2], atoi(argv[3]));
  if (argc >= 2 && strcmp(argv[1], "reach") == 0)
    return do_reach();
  if (argc >= 4 && strcmp(argv[1], "blockconnect") == 0)
    return do_blockconnect(argv[2], atoi(argv[3]));
  if (argc >= 2 && strcmp(argv[1], "io_uring") == 0)
    return do_io_uring();
  if (argc >= 2 && strcmp(argv[1], "unix-threads") == 0)
    return do_unix_threads();
  if (argc >= 4 && strcmp(argv[1], "ifnames") == 0)
    return do_ifnames(argv[2], (unsigned)atoi(argv[3]));
  fprintf(stderr, "usage: %s MODE ARGS...\n", argv[0]);
  return 2;
}
