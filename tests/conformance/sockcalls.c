/* SPDX-License-Identifier: MIT */
/*
 * sockcalls: a battery of socket calls and their edge cases, one line per
 * call: the call, its arguments, the result (normalised) and the errno
 * name. Linked against nothing but libc, so that the same binary runs
 * natively and under libpsock-preload.so (psock-run); the differential test
 * (tests/integration/test_psock_run.c) asserts that the two outputs are
 * identical.
 *
 * Normalised: a new fd prints as "fd=lowest" when it is the lowest free
 * number (as the kernel gives it), a kernel-chosen port as "port>0", a
 * netlink port id as "pid>0"; nothing else that differs between runs is
 * printed.
 *
 *   sockcalls DIR     DIR: a directory the caller may create files in
 *                     (for AF_UNIX paths)
 *
 * Every address used is on the loopback interface, or is bound only (no
 * traffic) to show EADDRNOTAVAIL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "battery.h"

/* A privileged port to bind: rarely in use, and if it is, it is for both
 * runs. */
#define PRIV_PORT 977
/* Bound only, never sent to: TEST-NET-3, not an address of this host. */
#define FOREIGN_ADDR "203.0.113.7"

static const char *dir;
static char abstract_name[64];

static socklen_t unix_addr(struct sockaddr_un *sun, const char *name,
                           bool abstract) {
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  if (abstract) {
    size_t n = strlen(name);

    memcpy(sun->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
  }
  snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir, name);
  return (socklen_t)sizeof(*sun);
}

/* ------------------------------------------------------------ sockets */

static void sockopt_identity(const char *what, int fd) {
  int v[3] = {-1, -1, -1};
  const int opts[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};
  char buf[96];

  for (int i = 0; i < 3; i++) {
    socklen_t len = sizeof(int);

    getsockopt(fd, SOL_SOCKET, opts[i], &v[i], &len);
  }
  snprintf(buf, sizeof(buf), "domain=%d type=%d protocol=%d", v[0], v[1], v[2]);
  line("getsockopt", what, buf, 0, 0);
}

static void test_socket(void) {
  int fd, a, b, c;

  fd = do_socket("AF_INET, SOCK_STREAM, 0", AF_INET, SOCK_STREAM, 0);
  sockopt_identity("inet stream", fd);
  close(fd);
  fd = do_socket("AF_INET, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0", AF_INET,
                 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  close(fd);
  fd = do_socket("AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_UDP", AF_INET,
                 SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  sockopt_identity("inet dgram", fd);
  close(fd);
  fd = do_socket("AF_INET6, SOCK_DGRAM|SOCK_NONBLOCK, 0", AF_INET6,
                 SOCK_DGRAM | SOCK_NONBLOCK, 0);
  close(fd);
  fd = do_socket("AF_INET6, SOCK_STREAM, IPPROTO_TCP", AF_INET6, SOCK_STREAM,
                 IPPROTO_TCP);
  sockopt_identity("inet6 stream", fd);
  close(fd);
  fd = do_socket("AF_UNIX, SOCK_STREAM, 0", AF_UNIX, SOCK_STREAM, 0);
  close(fd);
  fd = do_socket("AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0", AF_UNIX,
                 SOCK_DGRAM | SOCK_CLOEXEC, 0);
  close(fd);
  fd = do_socket("AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE", AF_NETLINK,
                 SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockopt_identity("netlink", fd);
  close(fd);
  fd = do_socket("AF_INET, SOCK_RAW, IPPROTO_ICMP", AF_INET, SOCK_RAW,
                 IPPROTO_ICMP);
  sockopt_identity("raw icmp", fd);
  close(fd);
  fd = do_socket("AF_INET6, SOCK_RAW, IPPROTO_ICMPV6", AF_INET6, SOCK_RAW,
                 IPPROTO_ICMPV6);
  close(fd);
  fd = do_socket("AF_PACKET, SOCK_RAW, ETH_P_ALL", AF_PACKET, SOCK_RAW,
                 htons(ETH_P_ALL));
  close(fd);
  do_socket("12345, SOCK_STREAM, 0", 12345, SOCK_STREAM, 0);
  do_socket("AF_INET, SOCK_STREAM|0x100, 0", AF_INET, SOCK_STREAM | 0x100, 0);
  do_socket("AF_INET, 15, 0", AF_INET, 15, 0);
  do_socket("AF_INET, SOCK_STREAM, IPPROTO_UDP", AF_INET, SOCK_STREAM,
            IPPROTO_UDP);
  do_socket("AF_INET6, SOCK_DGRAM, IPPROTO_TCP", AF_INET6, SOCK_DGRAM,
            IPPROTO_TCP);
  do_socket("AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE", AF_NETLINK, SOCK_STREAM,
            NETLINK_ROUTE);

  /* A hole below the others: the next socket takes it. */
  a = open("/dev/null", O_RDONLY);
  b = open("/dev/null", O_RDONLY);
  c = open("/dev/null", O_RDONLY);
  close(b);
  fd = do_socket("AF_INET, SOCK_STREAM, 0 (into a hole)", AF_INET, SOCK_STREAM,
                 0);
  close(fd);
  close(a);
  close(c);
}

static void test_socketpair(void) {
  int sv[2] = {-1, -1}, lowest = lowest_free(), rc;
  char buf[160], w0[96], w1[96];

  errno = 0;
  rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  snprintf(buf, sizeof(buf), "%s [%s, %s]", rc_word(rc),
           fd_word(sv[0], lowest, w0, sizeof(w0)),
           fd_word(sv[1], lowest + 1, w1, sizeof(w1)));
  line("socketpair", "AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0", buf, rc, errno);
  if (rc == 0) {
    close(sv[0]);
    close(sv[1]);
  }
  errno = 0;
  rc = socketpair(AF_UNIX, SOCK_DGRAM, 0, NULL);
  line("socketpair", "AF_UNIX, SOCK_DGRAM, 0, NULL", rc_word(rc), rc, errno);
  errno = 0;
  rc = socketpair(AF_INET, SOCK_STREAM, 0, sv);
  line("socketpair", "AF_INET, SOCK_STREAM, 0", rc_word(rc), rc, errno);
  errno = 0;
  rc = socketpair(AF_INET6, SOCK_DGRAM, 0, sv);
  line("socketpair", "AF_INET6, SOCK_DGRAM, 0", rc_word(rc), rc, errno);
}

/* -------------------------------------------------------------- bind */

static int do_bind(const char *args, int fd, const void *sa, socklen_t len) {
  int rc;

  errno = 0;
  rc = bind(fd, sa, len);
  line("bind", args, rc_word(rc), rc, errno);
  return rc;
}

static void test_bind(void) {
  struct sockaddr_in lo = in4("127.0.0.1", 0), any = in4("0.0.0.0", 0);
  struct sockaddr_in6 lo6 = in6("::1", 0);
  struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
  struct sockaddr_un sun;
  int t1, t2, t3, u6, n, x1, x2, p[2];
  socklen_t len;

  t1 = socket(AF_INET, SOCK_STREAM, 0);
  do_bind("tcp, 127.0.0.1:0, 16", t1, &lo, sizeof(lo));
  print_name("tcp bound to 127.0.0.1:0", t1, false, true);
  do_bind("tcp again, 127.0.0.1:0", t1, &lo, sizeof(lo));
  t2 = socket(AF_INET, SOCK_STREAM, 0);
  lo.sin_port = htons((uint16_t)port_of(t1));
  do_bind("tcp2, 127.0.0.1:<port of tcp>", t2, &lo, sizeof(lo));
  lo.sin_port = 0;
  t3 = socket(AF_INET, SOCK_STREAM, 0);
  do_bind("tcp3, NULL, 16", t3, NULL, 16);
  do_bind("tcp3, NULL, 0", t3, NULL, 0);
  do_bind("tcp3, addr, 3", t3, &lo, 3);
  do_bind("tcp3, addr, 15", t3, &lo, 15);
  do_bind("tcp3, addr, 200", t3, &lo, 200);
  do_bind("tcp3, addr, -1", t3, &lo, (socklen_t)-1);
  do_bind("tcp3, bad pointer, 16", t3, BAD_PTR, 16);
  do_bind("tcp3, sockaddr_in6 ::1, 28", t3, &lo6, sizeof(lo6));
  do_bind("tcp3, sockaddr_in6 ::1 as 16", t3, &lo6, 16);
  any.sin_family = AF_UNSPEC;
  do_bind("tcp3, AF_UNSPEC 0.0.0.0:0", t3, &any, sizeof(any));
  print_name("tcp3 after AF_UNSPEC any", t3, false, true);
  close(t1);
  close(t2);
  close(t3);

  t1 = socket(AF_INET, SOCK_STREAM, 0);
  lo.sin_port = htons(PRIV_PORT);
  do_bind("tcp, 127.0.0.1:977 (privileged)", t1, &lo, sizeof(lo));
  print_name("tcp bound to 977", t1, false, false);
  lo.sin_port = 0;
  close(t1);
  t1 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in foreign = in4(FOREIGN_ADDR, 0);
  do_bind("udp, " FOREIGN_ADDR ":0 (not ours)", t1, &foreign, sizeof(foreign));
  struct sockaddr_in bcast = in4("255.255.255.255", 0);
  do_bind("udp, 255.255.255.255:0", t1, &bcast, sizeof(bcast));
  close(t1);

  u6 = socket(AF_INET6, SOCK_DGRAM, 0);
  do_bind("udp6, sockaddr_in 127.0.0.1, 16", u6, &lo, sizeof(lo));
  do_bind("udp6, [::1]:0, 24", u6, &lo6, 24);
  print_name("udp6 bound to [::1]:0", u6, false, true);
  close(u6);
  u6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 any6 = in6("::", 0);
  do_bind("tcp6, [::]:0, 28", u6, &any6, sizeof(any6));
  print_name("tcp6 bound to [::]:0", u6, false, true);
  close(u6);

  n = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  do_bind("netlink, len 4", n, &nl, 4);
  nl.nl_family = AF_INET;
  do_bind("netlink, family AF_INET", n, &nl, sizeof(nl));
  nl.nl_family = AF_NETLINK;
  do_bind("netlink, pid 0", n, &nl, sizeof(nl));
  print_name("netlink bound", n, false, true);
  close(n);

  x1 = socket(AF_UNIX, SOCK_STREAM, 0);
  x2 = socket(AF_UNIX, SOCK_STREAM, 0);
  len = unix_addr(&sun, "bind.sock", false);
  do_bind("unix, DIR/bind.sock", x1, &sun, len);
  do_bind("unix2, DIR/bind.sock", x2, &sun, len);
  len = unix_addr(&sun, "no/such/dir.sock", false);
  do_bind("unix2, DIR/no/such/dir.sock", x2, &sun, len);
  len = unix_addr(&sun, abstract_name, true);
  do_bind("unix2, @abstract", x2, &sun, len);
  print_name("unix2 abstract", x2, false, false);
  close(x1);
  close(x2);

  do_bind("999 (not open), 127.0.0.1:0", 999, &lo, sizeof(lo));
  if (pipe(p) == 0) {
    do_bind("pipe, 127.0.0.1:0", p[0], &lo, sizeof(lo));
    close(p[0]);
    close(p[1]);
  }
}

/* ------------------------------------------------------------ listen */

static void test_listen(void) {
  struct sockaddr_in lo = in4("127.0.0.1", 0);
  int t, u, rc, p[2];

  t = socket(AF_INET, SOCK_STREAM, 0);
  bind(t, (struct sockaddr *)&lo, sizeof(lo));
  errno = 0;
  rc = listen(t, 16);
  line("listen", "tcp bound, 16", rc_word(rc), rc, errno);
  errno = 0;
  rc = listen(t, 32);
  line("listen", "tcp listening, 32", rc_word(rc), rc, errno);
  close(t);
  t = socket(AF_INET6, SOCK_STREAM, 0);
  errno = 0;
  rc = listen(t, -1);
  line("listen", "tcp6 unbound, -1", rc_word(rc), rc, errno);
  print_name("tcp6 listening unbound", t, false, true);
  close(t);
  u = socket(AF_INET, SOCK_DGRAM, 0);
  errno = 0;
  rc = listen(u, 1);
  line("listen", "udp, 1", rc_word(rc), rc, errno);
  close(u);
  errno = 0;
  rc = listen(999, 1);
  line("listen", "999 (not open), 1", rc_word(rc), rc, errno);
  if (pipe(p) == 0) {
    errno = 0;
    rc = listen(p[0], 1);
    line("listen", "pipe, 1", rc_word(rc), rc, errno);
    close(p[0]);
    close(p[1]);
  }
}

/* ----------------------------------------------------------- connect */

static int do_connect(const char *args, int fd, const void *sa, socklen_t len) {
  int rc;

  errno = 0;
  rc = connect(fd, sa, len);
  line("connect", args, rc_word(rc), rc, errno);
  return rc;
}

static void wait_and_so_error(const char *what, int fd) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int n, err = -1;
  socklen_t len = sizeof(err);
  char buf[64];

  n = poll(&p, 1, 5000);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  snprintf(buf, sizeof(buf), "poll=%d SO_ERROR=%s", n,
           err ? errname(err) : "0");
  line("wait", what, buf, 0, 0);
}

static int listener4(int *port) {
  struct sockaddr_in lo = in4("127.0.0.1", 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  bind(fd, (struct sockaddr *)&lo, sizeof(lo));
  listen(fd, 16);
  *port = port_of(fd);
  return fd;
}

static void test_connect(void) {
  struct sockaddr_in6 lo6 = in6("::1", 0);
  struct sockaddr_in dst, un = {.sin_family = AF_UNSPEC};
  struct sockaddr_un sun;
  int l, lport, closed_fd, closed_port, l6, t, u, p[2];
  socklen_t len;

  l = listener4(&lport);
  /* A port nobody listens on: bound, not listening. */
  closed_fd = socket(AF_INET, SOCK_STREAM, 0);
  dst = in4("127.0.0.1", 0);
  bind(closed_fd, (struct sockaddr *)&dst, sizeof(dst));
  closed_port = port_of(closed_fd);

  t = socket(AF_INET, SOCK_STREAM, 0);
  dst = in4("127.0.0.1", lport);
  do_connect("tcp blocking, listener", t, &dst, sizeof(dst));
  print_name("tcp connected", t, true, true);
  print_name("tcp connected", t, false, true);
  do_connect("tcp again, listener", t, &dst, sizeof(dst));
  close(t);

  t = socket(AF_INET, SOCK_STREAM, 0);
  dst = in4("127.0.0.1", closed_port);
  do_connect("tcp blocking, closed port", t, &dst, sizeof(dst));
  close(t);

  t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  dst = in4("127.0.0.1", lport);
  do_connect("tcp non-blocking, listener", t, &dst, sizeof(dst));
  wait_and_so_error("tcp non-blocking, listener", t);
  do_connect("tcp non-blocking again, listener", t, &dst, sizeof(dst));
  print_name("tcp non-blocking connected", t, true, true);
  close(t);

  t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  dst = in4("127.0.0.1", closed_port);
  do_connect("tcp non-blocking, closed port", t, &dst, sizeof(dst));
  wait_and_so_error("tcp non-blocking, closed port", t);
  close(t);

  t = socket(AF_INET, SOCK_STREAM, 0);
  do_connect("tcp, NULL, 16", t, NULL, 16);
  do_connect("tcp, addr, 0", t, &dst, 0);
  do_connect("tcp, addr, 1", t, &dst, 1);
  do_connect("tcp, addr, 8", t, &dst, 8);
  do_connect("tcp, addr, 129", t, &dst, 129);
  do_connect("tcp, bad pointer, 16", t, BAD_PTR, 16);
  do_connect("tcp, sockaddr_in6 ::1, 28", t, &lo6, sizeof(lo6));
  do_connect("tcp, sockaddr_in6 ::1 as 16", t, &lo6, 16);
  do_connect("tcp, AF_UNSPEC", t, &un, sizeof(un));
  close(t);

  l6 = socket(AF_INET6, SOCK_STREAM, 0);
  bind(l6, (struct sockaddr *)&lo6, sizeof(lo6));
  listen(l6, 4);
  t = socket(AF_INET6, SOCK_STREAM, 0);
  lo6.sin6_port = htons((uint16_t)port_of(l6));
  do_connect("tcp6, [::1]:listener, 24", t, &lo6, 24);
  print_name("tcp6 connected", t, true, true);
  close(t);
  t = socket(AF_INET6, SOCK_STREAM, 0);
  do_connect("tcp6, sockaddr_in 127.0.0.1", t, &dst, sizeof(dst));
  close(t);
  close(l6);

  /* UDP: connect, an exchange, then dissolve the association. */
  {
    struct sockaddr_in a = in4("127.0.0.1", 0), from;
    socklen_t flen = sizeof(from);
    char buf[16] = "";
    int srv = socket(AF_INET, SOCK_DGRAM, 0);
    ssize_t n;

    bind(srv, (struct sockaddr *)&a, sizeof(a));
    a.sin_port = htons((uint16_t)port_of(srv));
    u = socket(AF_INET, SOCK_DGRAM, 0);
    do_connect("udp, 127.0.0.1:server", u, &a, sizeof(a));
    print_name("udp connected", u, true, true);
    send(u, "ping", 4, 0);
    n = recvfrom(srv, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
    if (n > 0)
      sendto(srv, "pong", 4, 0, (struct sockaddr *)&from, flen);
    memset(buf, 0, sizeof(buf));
    n = recv(u, buf, sizeof(buf) - 1, 0);
    line("udp exchange", "ping", n == 4 ? buf : "FAILED", 0, 0);
    do_connect("udp, AF_UNSPEC", u, &un, sizeof(un));
    print_name("udp after AF_UNSPEC", u, true, false);
    close(u);
    u = socket(AF_INET6, SOCK_DGRAM, 0);
    do_connect("udp6, sockaddr_in 127.0.0.1:server", u, &a, sizeof(a));
    print_name("udp6 connected to 127.0.0.1", u, true, true);
    do_connect("udp6, sockaddr_in as 8", u, &a, 8);
    close(u);
    close(srv);
  }

  {
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
    int n = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);

    do_connect("netlink, kernel", n, &nl, sizeof(nl));
    do_connect("netlink, len 4", n, &nl, 4);
    nl.nl_family = AF_INET;
    do_connect("netlink, family AF_INET", n, &nl, sizeof(nl));
    close(n);
  }

  /* Raw ICMP: an echo to 127.0.0.1 and its reply. */
  {
    struct icmphdr req = {.type = ICMP_ECHO, .un.echo.id = htons(0x7073)};
    unsigned char reply[256];
    struct pollfd pfd;
    uint32_t sum = 0;
    bool got = false;
    int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

    dst = in4("127.0.0.1", 0);
    do_connect("raw icmp, 127.0.0.1", r, &dst, sizeof(dst));
    req.un.echo.sequence = htons(1);
    for (size_t i = 0; i < sizeof(req) / 2; i++)
      sum += ((uint16_t *)&req)[i];
    while (sum >> 16)
      sum = (sum & 0xffff) + (sum >> 16);
    req.checksum = (uint16_t)~sum;
    send(r, &req, sizeof(req), 0);
    pfd.fd = r;
    pfd.events = POLLIN;
    for (int i = 0; i < 10 && !got && poll(&pfd, 1, 1000) > 0; i++) {
      ssize_t n = recv(r, reply, sizeof(reply), 0);
      /* After the IP header: our echo request comes back too. */
      if (n >= 28 && reply[20] == ICMP_ECHOREPLY)
        got = true;
    }
    line("icmp echo", "127.0.0.1", got ? "reply" : "NO REPLY", 0, 0);
    close(r);
  }

  /* AF_UNIX paths: the caller's files. */
  {
    int ls = socket(AF_UNIX, SOCK_STREAM, 0),
        c = socket(AF_UNIX, SOCK_STREAM, 0);

    len = unix_addr(&sun, "listen.sock", false);
    bind(ls, (struct sockaddr *)&sun, len);
    listen(ls, 4);
    do_connect("unix, DIR/listen.sock", c, &sun, len);
    close(c);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    len = unix_addr(&sun, "nothing-here.sock", false);
    do_connect("unix, DIR/nothing-here.sock", c, &sun, len);
    close(c);
    close(ls);
  }

  dst = in4("127.0.0.1", lport);
  do_connect("999 (not open), listener", 999, &dst, sizeof(dst));
  if (pipe(p) == 0) {
    do_connect("pipe, listener", p[0], &dst, sizeof(dst));
    close(p[0]);
    close(p[1]);
  }
  close(closed_fd);
  close(l);
}

/*
 * A blocking connect that cannot complete (the listener's accept queue is
 * full, so its SYNs are dropped): bounded by SO_SNDTIMEO it is
 * EINPROGRESS; interrupted by a signal it is EINTR (with a send timeout
 * even under SA_RESTART: the kernel restarts only an unbounded connect).
 */
static void on_alarm(int sig) {
  (void)sig;
}

static void interrupted_connect(const char *args, const struct sockaddr_in *dst,
                                int restart, int timeout_ms, int alarm_ms) {
  struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart};
  /* Repeating: a signal that came too early (before the call waits)
   * is followed by another. */
  struct itimerval it = {.it_value = {.tv_usec = alarm_ms * 1000},
                         .it_interval = {.tv_usec = 100 * 1000}};
  struct timeval tv = {.tv_usec = timeout_ms * 1000};
  int t = socket(AF_INET, SOCK_STREAM, 0);

  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  if (timeout_ms)
    setsockopt(t, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (alarm_ms)
    setitimer(ITIMER_REAL, &it, NULL);
  do_connect(args, t, dst, sizeof(*dst));
  memset(&it, 0, sizeof(it));
  setitimer(ITIMER_REAL, &it, NULL);
  signal(SIGALRM, SIG_DFL);
  close(t);
}

static void test_connect_waits(void) {
  struct sockaddr_in lo = in4("127.0.0.1", 0);
  int l = socket(AF_INET, SOCK_STREAM, 0), c1 = socket(AF_INET, SOCK_STREAM, 0);

  bind(l, (struct sockaddr *)&lo, sizeof(lo));
  listen(l, 0);
  lo.sin_port = htons((uint16_t)port_of(l));
  /* One connection fills the queue of a listener with backlog 0. */
  do_connect("tcp, listener with backlog 0", c1, &lo, sizeof(lo));
  interrupted_connect("tcp, full queue, SO_SNDTIMEO 300 ms", &lo, 0, 300, 0);
  interrupted_connect("tcp, full queue, SIGALRM after 200 ms", &lo, 0, 0, 200);
  interrupted_connect("tcp, full queue, SO_SNDTIMEO 900 ms, SA_RESTART "
                      "SIGALRM after 200 ms",
                      &lo, SA_RESTART, 900, 200);
  close(c1);
  close(l);
}

/* -------------------------------------------------------- setsockopt */

static void test_setsockopt(void) {
  int t = socket(AF_INET, SOCK_STREAM, 0), u6 = socket(AF_INET6, SOCK_DGRAM, 0);
  int one = 1, mark = 42, prio7 = 7, prio3 = 3, big = 65536, zero = 0;
  char dev[16] = "";
  socklen_t len = sizeof(dev);
  int rc;

  do_setsockopt("SO_REUSEADDR 1", t, SOL_SOCKET, SO_REUSEADDR, &one,
                sizeof(one));
  print_int_opt("SO_REUSEADDR", t, SOL_SOCKET, SO_REUSEADDR);
  do_setsockopt("SO_MARK 42", t, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  print_int_opt("SO_MARK", t, SOL_SOCKET, SO_MARK);
  do_setsockopt("SO_MARK NULL, 4", t, SOL_SOCKET, SO_MARK, NULL, 4);
  do_setsockopt("SO_MARK bad pointer, 4", t, SOL_SOCKET, SO_MARK, BAD_PTR, 4);
  do_setsockopt("SO_MARK 42, 2", t, SOL_SOCKET, SO_MARK, &mark, 2);
  do_setsockopt("SO_PRIORITY 7", t, SOL_SOCKET, SO_PRIORITY, &prio7,
                sizeof(prio7));
  print_int_opt("SO_PRIORITY", t, SOL_SOCKET, SO_PRIORITY);
  do_setsockopt("SO_PRIORITY 3", t, SOL_SOCKET, SO_PRIORITY, &prio3,
                sizeof(prio3));
  print_int_opt("SO_PRIORITY", t, SOL_SOCKET, SO_PRIORITY);
  do_setsockopt("SO_RCVBUFFORCE 65536", t, SOL_SOCKET, SO_RCVBUFFORCE, &big,
                sizeof(big));
  do_setsockopt("SO_DEBUG 1", t, SOL_SOCKET, SO_DEBUG, &one, sizeof(one));
  do_setsockopt("SO_DEBUG 0", t, SOL_SOCKET, SO_DEBUG, &zero, sizeof(zero));
  do_setsockopt("SO_BINDTODEVICE lo", t, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3);
  rc = getsockopt(t, SOL_SOCKET, SO_BINDTODEVICE, dev, &len);
  line("getsockopt", "SO_BINDTODEVICE", rc == 0 ? dev : "-1", rc, errno);
  do_setsockopt("SO_BINDTODEVICE no-such-if0", t, SOL_SOCKET, SO_BINDTODEVICE,
                "no-such-if0", 12);
  do_setsockopt("IP_TRANSPARENT 1", t, SOL_IP, IP_TRANSPARENT, &one,
                sizeof(one));
  do_setsockopt("IPV6_TRANSPARENT 1 on udp6", u6, SOL_IPV6, IPV6_TRANSPARENT,
                &one, sizeof(one));
  do_setsockopt("TCP_NODELAY 1", t, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one,
                sizeof(one));
  do_setsockopt("level 9999", t, 9999, 1, &one, sizeof(one));
  do_setsockopt("SO_MARK on 999 (not open)", 999, SOL_SOCKET, SO_MARK, &mark,
                sizeof(mark));
  do_setsockopt("SO_REUSEADDR on 999 (not open)", 999, SOL_SOCKET, SO_REUSEADDR,
                &one, sizeof(one));
  close(t);
  close(u6);
}

/* -------------------------------------------------------------- names */

static const char *fam(int f) {
  static char buf[16];

  switch (f) {
  case AF_INET:
    return "inet";
  case AF_INET6:
    return "inet6";
  case AF_UNSPEC:
    return "unspec";
  default:
    snprintf(buf, sizeof(buf), "%d", f);
    return buf;
  }
}

static void do_getaddrinfo(const char *args, const char *node,
                           const char *service, const struct addrinfo *hints) {
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(node, service, hints, &res);

  if (rc != 0) {
    printf("getaddrinfo(%s) = %s%s%s\n", args, gainame(rc),
           rc == EAI_SYSTEM ? " " : "", rc == EAI_SYSTEM ? errname(errno) : "");
    return;
  }
  printf("getaddrinfo(%s) = 0\n", args);
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    char words[160];

    addr_words(ai->ai_addr, ai->ai_addrlen, false, words, sizeof(words));
    printf("  family=%s socktype=%d protocol=%d flags=%#x canon=%s addr=%s\n",
           fam(ai->ai_family), ai->ai_socktype, ai->ai_protocol, ai->ai_flags,
           ai->ai_canonname ? ai->ai_canonname : "(null)", words);
  }
  freeaddrinfo(res);
}

static void test_getaddrinfo(void) {
  struct addrinfo h;

#define HINTS(f, t, fl)                                                        \
  (memset(&h, 0, sizeof(h)), h.ai_family = (f), h.ai_socktype = (t),           \
   h.ai_flags = (fl), &h)
  do_getaddrinfo("localhost, 80, inet stream", "localhost", "80",
                 HINTS(AF_INET, SOCK_STREAM, 0));
  do_getaddrinfo("localhost, NULL, unspec", "localhost", NULL,
                 HINTS(AF_UNSPEC, 0, 0));
  do_getaddrinfo("localhost, http, inet6 stream", "localhost", "http",
                 HINTS(AF_INET6, SOCK_STREAM, 0));
  do_getaddrinfo("localhost, NULL, NULL hints", "localhost", NULL, NULL);
  do_getaddrinfo("localhost, 80, AI_CANONNAME", "localhost", "80",
                 HINTS(AF_UNSPEC, SOCK_STREAM, AI_CANONNAME));
  do_getaddrinfo("psock-conformance.test, 443, unspec stream",
                 "psock-conformance.test", "443",
                 HINTS(AF_UNSPEC, SOCK_STREAM, 0));
  do_getaddrinfo("no-such-host.invalid, NULL", "no-such-host.invalid", NULL,
                 HINTS(AF_UNSPEC, 0, 0));
  do_getaddrinfo("NULL, 80, AI_PASSIVE stream", NULL, "80",
                 HINTS(AF_UNSPEC, SOCK_STREAM, AI_PASSIVE));
  do_getaddrinfo("NULL, 80, stream (loopback)", NULL, "80",
                 HINTS(AF_UNSPEC, SOCK_STREAM, 0));
  do_getaddrinfo("NULL, NULL", NULL, NULL, HINTS(AF_UNSPEC, 0, 0));
  do_getaddrinfo("127.0.0.1, 80, AI_NUMERICHOST", "127.0.0.1", "80",
                 HINTS(AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST));
  do_getaddrinfo("::1, 22, NULL hints", "::1", "22", NULL);
  do_getaddrinfo("127.0.0.1, NULL, inet6 AI_V4MAPPED", "127.0.0.1", NULL,
                 HINTS(AF_INET6, SOCK_DGRAM, AI_V4MAPPED));
  do_getaddrinfo("127.0.0.1, NULL, inet6", "127.0.0.1", NULL,
                 HINTS(AF_INET6, SOCK_DGRAM, 0));
  do_getaddrinfo("localhost, NULL, AI_NUMERICHOST", "localhost", NULL,
                 HINTS(AF_UNSPEC, 0, AI_NUMERICHOST));
  do_getaddrinfo("localhost, NULL, family 12345", "localhost", NULL,
                 HINTS(12345, 0, 0));
  do_getaddrinfo("localhost, no-such-service, stream", "localhost",
                 "no-such-service", HINTS(AF_UNSPEC, SOCK_STREAM, 0));
  do_getaddrinfo("localhost, 80, socktype 99", "localhost", "80",
                 HINTS(AF_UNSPEC, 99, 0));
  do_getaddrinfo("localhost, NULL, flags 0x10000", "localhost", NULL,
                 HINTS(AF_UNSPEC, 0, 0x10000));
  do_getaddrinfo("NULL, NULL, AI_CANONNAME", NULL, "80",
                 HINTS(AF_UNSPEC, 0, AI_CANONNAME));
#undef HINTS
}

static void do_getnameinfo(const char *args, const void *sa, socklen_t salen,
                           socklen_t hostlen, socklen_t servlen, int flags) {
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  int rc = getnameinfo(sa, salen, hostlen ? host : NULL, hostlen,
                       servlen ? serv : NULL, servlen, flags);

  if (rc != 0)
    printf("getnameinfo(%s) = %s%s%s\n", args, gainame(rc),
           rc == EAI_SYSTEM ? " " : "", rc == EAI_SYSTEM ? errname(errno) : "");
  else
    printf("getnameinfo(%s) = 0 host=%s serv=%s\n", args, host, serv);
}

static void test_getnameinfo(void) {
  struct sockaddr_in a = in4("127.0.0.1", 80), f = in4(FOREIGN_ADDR, 1);
  struct sockaddr_in6 a6 = in6("::1", 443);

  do_getnameinfo("127.0.0.1:80, 0", &a, sizeof(a), NI_MAXHOST, NI_MAXSERV, 0);
  do_getnameinfo("127.0.0.1:80, NUMERICHOST|NUMERICSERV", &a, sizeof(a),
                 NI_MAXHOST, NI_MAXSERV, NI_NUMERICHOST | NI_NUMERICSERV);
  do_getnameinfo("127.0.0.1:80, NI_DGRAM", &a, sizeof(a), NI_MAXHOST,
                 NI_MAXSERV, NI_DGRAM);
  do_getnameinfo("127.0.0.1:80, host only", &a, sizeof(a), NI_MAXHOST, 0, 0);
  do_getnameinfo("[::1]:443, 0", &a6, sizeof(a6), NI_MAXHOST, NI_MAXSERV, 0);
  do_getnameinfo(FOREIGN_ADDR ":1, 0", &f, sizeof(f), NI_MAXHOST, NI_MAXSERV,
                 0);
  do_getnameinfo(FOREIGN_ADDR ":1, NI_NAMEREQD", &f, sizeof(f), NI_MAXHOST,
                 NI_MAXSERV, NI_NAMEREQD);
  do_getnameinfo("127.0.0.1:80, salen 4", &a, 4, NI_MAXHOST, NI_MAXSERV, 0);
  do_getnameinfo("127.0.0.1:80, hostlen 3", &a, sizeof(a), 3, NI_MAXSERV, 0);
  do_getnameinfo("127.0.0.1:80, servlen 2", &a, sizeof(a), NI_MAXHOST, 2, 0);
}

static void print_hostent(const char *call, const char *args,
                          const struct hostent *h, int rc, int herr) {
  if (!h) {
    printf("%s(%s) = NULL rc=%d h_errno=%s\n", call, args, rc, herrname(herr));
    return;
  }
  printf("%s(%s) = name=%s type=%s length=%d rc=%d\n", call, args, h->h_name,
         fam(h->h_addrtype), h->h_length, rc);
  for (char **p = h->h_aliases; p && *p; p++)
    printf("  alias %s\n", *p);
  for (char **p = h->h_addr_list; p && *p; p++) {
    char text[INET6_ADDRSTRLEN];

    inet_ntop(h->h_addrtype, *p, text, sizeof(text));
    printf("  addr %s\n", text);
  }
}

static void test_gethostby(void) {
  struct in_addr lo4, foreign;
  struct in6_addr lo6;
  struct hostent ent, *res;
  char buf[2048];
  int herr, rc;

  inet_pton(AF_INET, "127.0.0.1", &lo4);
  inet_pton(AF_INET, FOREIGN_ADDR, &foreign);
  inet_pton(AF_INET6, "::1", &lo6);

#define STATIC(call, args, expr)                                               \
  do {                                                                         \
    struct hostent *h_ = (expr);                                               \
    print_hostent(call, args, h_, 0, h_errno);                                 \
  } while (0)
  STATIC("gethostbyname", "localhost", gethostbyname("localhost"));
  STATIC("gethostbyname", "psock-conformance.test",
         gethostbyname("psock-conformance.test"));
  STATIC("gethostbyname", "no-such-host.invalid",
         gethostbyname("no-such-host.invalid"));
  STATIC("gethostbyname", "127.0.0.1", gethostbyname("127.0.0.1"));
  STATIC("gethostbyname2", "localhost, AF_INET6",
         gethostbyname2("localhost", AF_INET6));
  STATIC("gethostbyname2", "no-such-host.invalid, AF_INET6",
         gethostbyname2("no-such-host.invalid", AF_INET6));
  rc = gethostbyname_r("localhost", &ent, buf, sizeof(buf), &res, &herr);
  print_hostent("gethostbyname_r", "localhost", res, rc, herr);
  rc = gethostbyname_r("localhost", &ent, buf, 8, &res, &herr);
  print_hostent("gethostbyname_r", "localhost, buflen 8", res, rc, herr);
  rc = gethostbyname_r("no-such-host.invalid", &ent, buf, sizeof(buf), &res,
                       &herr);
  print_hostent("gethostbyname_r", "no-such-host.invalid", res, rc, herr);
  rc = gethostbyname2_r("psock-conformance.test", AF_INET, &ent, buf,
                        sizeof(buf), &res, &herr);
  print_hostent("gethostbyname2_r", "psock-conformance.test, AF_INET", res, rc,
                herr);
  STATIC("gethostbyaddr", "127.0.0.1",
         gethostbyaddr(&lo4, sizeof(lo4), AF_INET));
  STATIC("gethostbyaddr", "::1", gethostbyaddr(&lo6, sizeof(lo6), AF_INET6));
  STATIC("gethostbyaddr", FOREIGN_ADDR,
         gethostbyaddr(&foreign, sizeof(foreign), AF_INET));
  STATIC("gethostbyaddr", "127.0.0.1, len 3", gethostbyaddr(&lo4, 3, AF_INET));
  STATIC("gethostbyaddr", "127.0.0.1, family 12345",
         gethostbyaddr(&lo4, sizeof(lo4), 12345));
#undef STATIC
  rc = gethostbyaddr_r(&lo4, sizeof(lo4), AF_INET, &ent, buf, sizeof(buf), &res,
                       &herr);
  print_hostent("gethostbyaddr_r", "127.0.0.1", res, rc, herr);
  rc = gethostbyaddr_r(&foreign, sizeof(foreign), AF_INET, &ent, buf,
                       sizeof(buf), &res, &herr);
  print_hostent("gethostbyaddr_r", FOREIGN_ADDR, res, rc, herr);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: sockcalls DIR\n");
    return 2;
  }
  dir = argv[1];
  snprintf(abstract_name, sizeof(abstract_name), "psock-sockcalls-%d",
           (int)getpid());
  setvbuf(stdout, NULL, _IOLBF, 0);
  test_socket();
  test_socketpair();
  test_bind();
  test_listen();
  test_connect();
  test_connect_waits();
  test_setsockopt();
  test_privilege();
  test_netlink();
  test_interfaces();
  test_getaddrinfo();
  test_getnameinfo();
  test_gethostby();
  printf("done\n");
  return 0;
}
