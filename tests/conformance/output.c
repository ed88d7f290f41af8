/* SPDX-License-Identifier: MIT */
/*
 * The conformance battery's output (battery.h): one line per call, errno
 * and EAI_* and h_errno names, new fds and addresses in normalised words
 * (a new fd is "fd=lowest" when it is the number the kernel would give, a
 * port the kernel chose is "port>0", a netlink port id "pid>0"), and the
 * small calls every section uses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "battery.h"

/* ------------------------------------------------------------ output */

const char *errname(int e) {
  static char buf[32];

  switch (e) {
#define E(x)                                                                   \
  case x:                                                                      \
    return #x
    E(EPERM);
    E(ENOENT);
    E(ENXIO);
    E(ENODEV);
    E(ENOSYS);
    E(ENOBUFS);
    E(EINTR);
    E(EBADF);
    E(EAGAIN);
    E(ENOMEM);
    E(EACCES);
    E(EFAULT);
    E(EEXIST);
    E(EINVAL);
    E(ENFILE);
    E(EMFILE);
    E(ERANGE);
    E(ENOTSOCK);
    E(EDESTADDRREQ);
    E(EMSGSIZE);
    E(EPROTOTYPE);
    E(ENOPROTOOPT);
    E(EPROTONOSUPPORT);
    E(ESOCKTNOSUPPORT);
    E(EOPNOTSUPP);
    E(EPFNOSUPPORT);
    E(EAFNOSUPPORT);
    E(EADDRINUSE);
    E(EADDRNOTAVAIL);
    E(ENETDOWN);
    E(ENETUNREACH);
    E(ECONNRESET);
    E(EISCONN);
    E(ENOTCONN);
    E(ETIMEDOUT);
    E(ECONNREFUSED);
    E(EHOSTUNREACH);
    E(EALREADY);
    E(EINPROGRESS);
#undef E
  default:
    snprintf(buf, sizeof(buf), "errno%d", e);
    return buf;
  }
}

const char *gainame(int e) {
  static char buf[32];

  switch (e) {
#define G(x)                                                                   \
  case x:                                                                      \
    return #x
    G(EAI_BADFLAGS);
    G(EAI_NONAME);
    G(EAI_AGAIN);
    G(EAI_FAIL);
    G(EAI_FAMILY);
    G(EAI_SOCKTYPE);
    G(EAI_SERVICE);
    G(EAI_MEMORY);
    G(EAI_SYSTEM);
    G(EAI_OVERFLOW);
    G(EAI_NODATA);
    G(EAI_ADDRFAMILY);
#undef G
  default:
    snprintf(buf, sizeof(buf), "gai%d", e);
    return buf;
  }
}

const char *herrname(int e) {
  static char buf[32];

  switch (e) {
  case HOST_NOT_FOUND:
    return "HOST_NOT_FOUND";
  case TRY_AGAIN:
    return "TRY_AGAIN";
  case NO_RECOVERY:
    return "NO_RECOVERY";
  case NO_DATA:
    return "NO_DATA";
  case NETDB_INTERNAL:
    return "NETDB_INTERNAL";
  default:
    snprintf(buf, sizeof(buf), "h_errno%d", e);
    return buf;
  }
}

/* One line: "call(args) = result [ERRNO]". */
void line(const char *call, const char *args, const char *result, int rc,
          int err) {
  printf("%s(%s) = %s%s%s\n", call, args, result, rc < 0 ? " " : "",
         rc < 0 ? errname(err) : "");
}

/* The number the kernel would give the next fd. */
int lowest_free(void) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  if (fd >= 0)
    close(fd);
  return fd;
}

/* A new fd, normalised, with its flags. */
const char *fd_word(int fd, int lowest, char *buf, size_t len) {
  int fl, fdfl;

  if (fd < 0)
    return "-1";
  fl = fcntl(fd, F_GETFL);
  fdfl = fcntl(fd, F_GETFD);
  snprintf(buf, len, "%s nonblock=%d cloexec=%d",
           fd == lowest ? "fd=lowest" : "fd=NOT-LOWEST",
           fl >= 0 && (fl & O_NONBLOCK) ? 1 : 0,
           fdfl >= 0 && (fdfl & FD_CLOEXEC) ? 1 : 0);
  return buf;
}

const char *rc_word(int rc) {
  return rc < 0 ? "-1" : rc == 0 ? "0" : "POSITIVE";
}

/* A socket address in words; ports the kernel chose are "port>0". */
void addr_words(const struct sockaddr *sa, socklen_t len, bool any_port,
                char *buf, size_t size) {
  char host[INET6_ADDRSTRLEN];

  switch (sa->sa_family) {
  case AF_INET: {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
    if (any_port)
      snprintf(buf, size, "inet %s %s len=%u", host,
               sin->sin_port ? "port>0" : "port=0", (unsigned)len);
    else
      snprintf(buf, size, "inet %s port=%u len=%u", host, ntohs(sin->sin_port),
               (unsigned)len);
    break;
  }
  case AF_INET6: {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
    if (any_port)
      snprintf(buf, size, "inet6 %s %s scope=%u len=%u", host,
               sin6->sin6_port ? "port>0" : "port=0", sin6->sin6_scope_id,
               (unsigned)len);
    else
      snprintf(buf, size, "inet6 %s port=%u scope=%u len=%u", host,
               ntohs(sin6->sin6_port), sin6->sin6_scope_id, (unsigned)len);
    break;
  }
  case AF_NETLINK: {
    const struct sockaddr_nl *nl = (const struct sockaddr_nl *)sa;

    snprintf(buf, size, "netlink %s groups=%u", nl->nl_pid ? "pid>0" : "pid=0",
             nl->nl_groups);
    break;
  }
  case AF_UNIX:
    snprintf(buf, size, "unix len=%u%s", (unsigned)len,
             len > offsetof(struct sockaddr_un, sun_path) &&
                     ((const struct sockaddr_un *)sa)->sun_path[0] == '\0'
                 ? " abstract"
                 : "");
    break;
  default:
    snprintf(buf, size, "family=%d len=%u", sa->sa_family, (unsigned)len);
  }
}

void print_name(const char *what, int fd, bool peer, bool any_port) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  char words[160];
  int rc;

  memset(&ss, 0, sizeof(ss));
  rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
            : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (rc == 0)
    addr_words((struct sockaddr *)&ss, len, any_port, words, sizeof(words));
  line(peer ? "getpeername" : "getsockname", what, rc == 0 ? words : "-1", rc,
       errno);
}

/* --------------------------------------------------------- addresses */

struct sockaddr_in in4(const char *host, int port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};

  inet_pton(AF_INET, host, &sin.sin_addr);
  return sin;
}

struct sockaddr_in6 in6(const char *host, int port) {
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons((uint16_t)port)};

  inet_pton(AF_INET6, host, &sin6.sin6_addr);
  return sin6;
}

int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);

  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
    return -1;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* socket() and its normalised result; returns the fd. */
int do_socket(const char *args, int domain, int type, int proto) {
  int lowest = lowest_free();
  char buf[96];
  int fd;

  errno = 0;
  fd = socket(domain, type, proto);
  line("socket", args, fd_word(fd, lowest, buf, sizeof(buf)), fd, errno);
  return fd;
}

void do_setsockopt(const char *args, int fd, int level, int optname,
                   const void *val, socklen_t len) {
  int rc;

  errno = 0;
  rc = setsockopt(fd, level, optname, val, len);
  line("setsockopt", args, rc_word(rc), rc, errno);
}

void print_int_opt(const char *args, int fd, int level, int optname) {
  int v = -1, rc;
  socklen_t len = sizeof(v);
  char buf[32];

  errno = 0;
  rc = getsockopt(fd, level, optname, &v, &len);
  snprintf(buf, sizeof(buf), "%d", v);
  line("getsockopt", args, rc < 0 ? "-1" : buf, rc, errno);
}
