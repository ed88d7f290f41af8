/* SPDX-License-Identifier: MIT */
/*
 * psock_run_helper: an "unmodified program" for test_psock_run, linked
 * against nothing but libc. It does what real programs do to their fds and
 * processes while it uses sockets: threads, fork, exec, closing every fd,
 * dup2() onto arbitrary numbers. Each mode prints lines the test checks and
 * exits 0 only if every step worked.
 *
 *   whoami                 ids, and the interfaces of the program's own
 *                          network namespace (SIOCGIFCONF on an AF_UNIX
 *                          socket, which is always the program's own)
 *   bad-type [filter]      socket(AF_INET, 15, 0), which the default policy
 *                          refuses and the kernel finds invalid first;
 *                          with "filter", under a seccomp filter that
 *                          answers AF_INET6 sockets EAFNOSUPPORT (as
 *                          systemd's RestrictAddressFamilies= does)
 *   interfaces             getifaddrs(), if_nameindex(), if_nametoindex()
 *                          and if_indextoname(): the interfaces libc's
 *                          functions (or the shim's) describe
 *   stress PORT            sockets under threads, fork, exec, close-all,
 *                          dup2; an exchange with the echo server on PORT
 *   unreachable            psockd is not there: fail fast with EACCES
 *   abstract NAME          listen on the abstract AF_UNIX name NAME, print
 *                          "replaced" if the bind put another socket at the
 *                          fd's number (psockd's, in its namespace), then
 *                          "ready", wait (3 s) for one connection
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                              \
  do {                                                                         \
    printf("FAILED line %d: ", __LINE__);                                      \
    printf(__VA_ARGS__);                                                       \
    printf(" (errno %s)\n", strerror(errno));                                  \
    return 1;                                                                  \
  } while (0)

static const char *self;

/* ------------------------------------------------------------- whoami */

static int do_whoami(void) {
  struct ifreq ifr, list[32];
  struct ifconf ifc = {.ifc_len = sizeof(list), .ifc_req = list};
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  printf("uid=%u euid=%u gid=%u\n", (unsigned)getuid(), (unsigned)geteuid(),
         (unsigned)getgid());
  /* An AF_UNIX socket is local: its device ioctls see our namespace. */
  printf("interfaces:");
  if (fd >= 0 && ioctl(fd, SIOCGIFCONF, &ifc) == 0)
    for (size_t i = 0; i < ifc.ifc_len / sizeof(struct ifreq); i++)
      printf(" %s", list[i].ifr_name);
  printf("\n");
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
    printf("lo: %s\n", ifr.ifr_flags & IFF_UP ? "up" : "down");
  if (fd >= 0)
    close(fd);
  return 0;
}

/* ----------------------------------------------------------- bad type */

/* A filter as RestrictAddressFamilies=~AF_INET6 makes one: socket() of
 * that family is EAFNOSUPPORT, everything else allowed. */
static int filter_inet6(void) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
               offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]),
                            .filter = code};

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int do_bad_type(bool filtered) {
  int fd;

  if (filtered && filter_inet6() < 0)
    FAIL("seccomp filter");
  errno = 0;
  fd = socket(AF_INET, 15, 0);
  printf("socket(AF_INET, 15, 0) = %d %s\n", fd, strerror(errno));
  /* A socket from psockd is not the filter's to refuse. */
  fd = socket(AF_INET6, SOCK_STREAM, 0);
  printf("socket(AF_INET6, SOCK_STREAM, 0) %s\n", fd >= 0 ? "ok" : "failed");
  return 0;
}

/* --------------------------------------------------------- interfaces */

static const char *sa_text(const struct sockaddr *sa, char *buf, size_t len) {
  if (!sa)
    return "-";
  switch (sa->sa_family) {
  case AF_INET:
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
                     (socklen_t)len);
  case AF_INET6: {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    char host[INET6_ADDRSTRLEN] = "";

    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
    snprintf(buf, len, "%s%%%u", host, s6->sin6_scope_id);
    return buf;
  }
  case AF_PACKET: {
    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;

    snprintf(buf, len, "packet:%d:%u:%u", ll->sll_ifindex, ll->sll_hatype,
             ll->sll_halen);
    return buf;
  }
  default:
    snprintf(buf, len, "family%d", sa->sa_family);
    return buf;
  }
}

static int do_interfaces(void) {
  struct ifaddrs *list = NULL, *again = NULL;
  struct if_nameindex *idx;
  char name[IF_NAMESIZE];
  unsigned back;

  if (getifaddrs(&list) < 0)
    FAIL("getifaddrs");
  for (struct ifaddrs *i = list; i; i = i->ifa_next) {
    char a[96], m[96], b[96];

    printf("ifaddr %s flags=%#x addr=%s netmask=%s broad=%s stats=%s\n",
           i->ifa_name ? i->ifa_name : "(null)", i->ifa_flags,
           sa_text(i->ifa_addr, a, sizeof(a)),
           sa_text(i->ifa_netmask, m, sizeof(m)),
           sa_text(i->ifa_broadaddr, b, sizeof(b)), i->ifa_data ? "yes" : "no");
  }
  /* Two lists alive at once, freed out of order. */
  if (getifaddrs(&again) < 0)
    FAIL("getifaddrs again");
  freeifaddrs(list);
  freeifaddrs(again);
  idx = if_nameindex();
  if (!idx)
    FAIL("if_nameindex");
  for (struct if_nameindex *i = idx; i->if_index; i++) {
    const char *fwd = if_indextoname(i->if_index, name);

    back = if_nametoindex(i->if_name);
    printf("nameindex %u %s nametoindex=%u indextoname=%s\n", i->if_index,
           i->if_name, back, fwd ? fwd : "NULL");
  }
  if_freenameindex(idx);
  errno = 0;
  back = if_nametoindex("no-such-if0");
  printf("if_nametoindex(no-such-if0) = %u %s\n", back, strerror(errno));
  return 0;
}

/* ------------------------------------------------------------- stress */

static int tcp_echo(int port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
  char buf[8];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
      send(fd, "psock", 5, 0) != 5 || recv(fd, buf, 5, MSG_WAITALL) != 5 ||
      memcmp(buf, "psock", 5) != 0) {
    int e = errno;

    close(fd);
    errno = e;
    return -1;
  }
  close(fd);
  return 0;
}

#define THREADS 8
#define PER_THREAD 25

struct thread_arg {
  int port;
  int failures;
};

static void *thread_main(void *p) {
  struct thread_arg *a = p;

  for (int i = 0; i < PER_THREAD; i++) {
    int fd = socket(i % 2 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;

    if (fd < 0)
      a->failures++;
    else
      close(fd);
    if (i % 5 == 0) {
      if (getaddrinfo("localhost", "80", &hints, &res) != 0)
        a->failures++;
      else
        freeaddrinfo(res);
      if (tcp_echo(a->port) < 0)
        a->failures++;
    }
  }
  return NULL;
}

/* Is fd open on the same file as ref? */
static bool same_file(int fd, int ref) {
  struct stat a, b;

  return fstat(fd, &a) == 0 && fstat(ref, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

static int do_stress(int port) {
  pthread_t t[THREADS];
  struct thread_arg args[THREADS];
  int fd, status, failures = 0, null;
  pid_t pid;
  char portarg[16];

  /* Plain use. */
  if (tcp_echo(port) < 0)
    FAIL("first exchange");
  printf("exchange ok\n");

  /* Many threads at once, each with sockets and lookups. */
  for (int i = 0; i < THREADS; i++) {
    args[i].port = port;
    args[i].failures = 0;
    if (pthread_create(&t[i], NULL, thread_main, &args[i]) != 0)
      FAIL("pthread_create");
  }
  /* fork() while the threads run: the child has its own connection. */
  pid = fork();
  if (pid == 0)
    _exit(tcp_echo(port) == 0 ? 0 : 3);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    failures += args[i].failures;
  }
  if (failures)
    FAIL("%d failures in %d threads", failures, THREADS);
  printf("threads ok\n");
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    FAIL("child after fork");
  printf("fork ok\n");
  if (tcp_echo(port) < 0)
    FAIL("parent after fork");

  /* A daemon-style program closes every fd above 2. */
  close_range(3, ~0U, 0);
  if (tcp_echo(port) < 0)
    FAIL("after closing every fd");
  printf("close-all ok\n");

  /* dup2() onto every number up to 299, the library's among them: its
   * number is no longer its own, and our fds must stay ours. */
  null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0)
    FAIL("open /dev/null");
  for (int n = 3; n < 300; n++)
    if (n != null && dup2(null, n) < 0)
      FAIL("dup2 %d", n);
  if (tcp_echo(port) < 0)
    FAIL("after dup2 over every number");
  for (int n = 3; n < 300; n++)
    if (n != null && !same_file(n, null))
      FAIL("fd %d is not ours any more", n);
  printf("dup2 ok\n");
  close_range(3, ~0U, 0);

  /* The lowest number, after all that. */
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd != 3)
    FAIL("socket() gave %d, not the lowest free number 3", fd);
  close(fd);
  printf("lowest ok\n");

  /* exec: the preload comes along (LD_PRELOAD), the library starts anew. */
  fflush(stdout);
  snprintf(portarg, sizeof(portarg), "%d", port);
  execl(self, self, "after-exec", portarg, (char *)NULL);
  FAIL("exec %s", self);
}

static int do_after_exec(int port) {
  if (tcp_echo(port) < 0)
    FAIL("after exec");
  printf("exec ok\n");
  printf("stress ok\n");
  return 0;
}

/* -------------------------------------------------------- unreachable */

static double now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_unreachable(void) {
  struct addrinfo *res = NULL;
  double t0 = now();
  int fd, rc;

  for (int i = 0; i < 3; i++) {
    errno = 0;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 || errno != EACCES)
      FAIL("socket() = %d with psockd unreachable", fd);
  }
  printf("socket: %s\n", strerror(errno));
  errno = 0;
  rc = getaddrinfo("localhost", "80", NULL, &res);
  if (rc != EAI_SYSTEM || errno != EACCES)
    FAIL("getaddrinfo = %d", rc);
  printf("getaddrinfo: %s: %s\n", gai_strerror(rc), strerror(errno));
  /* AF_UNIX stays local, whatever psockd does. */
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    FAIL("AF_UNIX socket");
  close(fd);
  if (now() - t0 > 2.0)
    FAIL("took %.1f s", now() - t0);
  printf("unreachable ok\n");
  return 0;
}

/* ----------------------------------------------------------- abstract */

static int do_abstract(const char *name) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  struct stat before, after;
  struct pollfd p;
  size_t n = strlen(name);
  int fd, c;

  if (n + 1 >= sizeof(sun.sun_path))
    FAIL("name too long");
  memcpy(sun.sun_path + 1, name, n);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || fstat(fd, &before) < 0 ||
      bind(fd, (struct sockaddr *)&sun,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
      fstat(fd, &after) < 0 || listen(fd, 1) < 0)
    FAIL("abstract listener");
  if (before.st_ino != after.st_ino)
    printf("replaced\n");
  printf("ready\n");
  fflush(stdout);
  p.fd = fd;
  p.events = POLLIN;
  if (poll(&p, 1, 3000) != 1) {
    printf("no connection\n");
    return 0;
  }
  c = accept(fd, NULL, NULL);
  printf(c >= 0 ? "accepted\n" : "accept failed\n");
  return 0;
}

int main(int argc, char **argv) {
  self = argv[0];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "whoami") == 0)
    return do_whoami();
  if (argc >= 2 && strcmp(argv[1], "interfaces") == 0)
    return do_interfaces();
  if (argc >= 2 && strcmp(argv[1], "bad-type") == 0)
    return do_bad_type(argc >= 3 && strcmp(argv[2], "filter") == 0);
  if (argc >= 3 && strcmp(argv[1], "stress") == 0)
    return do_stress(atoi(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "after-exec") == 0)
    return do_after_exec(atoi(argv[2]));
  if (argc >= 2 && strcmp(argv[1], "unreachable") == 0)
    return do_unreachable();
  if (argc >= 3 && strcmp(argv[1], "abstract") == 0)
    return do_abstract(argv[2]);
  fprintf(stderr, "usage: psock_run_helper whoami|interfaces|bad-type [filter]|"
                  "stress PORT|"
                  "unreachable|abstract NAME\n");
  return 2;
}
