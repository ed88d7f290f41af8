/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the API coverage tests (see api_common.h).
 */
#include "api_common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

void api_private_name_service(const char *nameserver) {
  char nsswitch[256], resolv[256];

  snprintf(nsswitch, sizeof(nsswitch), HARNESS_NSSWITCH_FMT,
           nameserver ? "files dns" : "files");
  /* Without a nameserver line glibc would ask 127.0.0.1 anyway. */
  snprintf(resolv, sizeof(resolv),
           "nameserver %s\noptions timeout:3 attempts:1\n",
           nameserver ? nameserver : "127.0.0.1");
  harness_private_name_service(API_HOSTS, resolv, nsswitch);
}

static struct psockd_proc *watched;

void api_watch_psockd(struct psockd_proc *p) {
  watched = p;
}

void api_assert_child(int r, const char *fn, const char *who, int flags) {
  char what[160];

  snprintf(what, sizeof(what), "%s as %s%s", fn, who,
           (flags & HARNESS_EMPTY_NETNS) ? " in an empty netns" : "");
  harness_assert_child(watched, r, what);
}

bool api_is_error(int kind, int code) {
  return psock_last_error_kind() == kind && psock_last_error_code() == code &&
         psock_last_error_message()[0] != '\0';
}

static bool report(bool ok, const char *want) {
  if (!ok)
    fprintf(stderr,
            "expected %s; got kind %d code %d errno %d message \"%s\"\n", want,
            psock_last_error_kind(), psock_last_error_code(), errno,
            psock_last_error_message());
  return ok;
}

bool api_is_os_error(int code) {
  char want[128];

  snprintf(want, sizeof(want), "socket.error (%d, \"%s\")", code,
           strerror(code));
  return report(psock_last_error_kind() == PSOCK_ERR_OS &&
                    psock_last_error_code() == code && errno == code &&
                    strcmp(psock_last_error_message(), strerror(code)) == 0,
                want);
}

bool api_is_timeout(void) {
  return report(psock_last_error_kind() == PSOCK_ERR_TIMEOUT &&
                    errno == ETIMEDOUT &&
                    strcmp(psock_last_error_message(), "timed out") == 0,
                "socket.timeout(\"timed out\")");
}

bool api_is_value_error(void) {
  return report(api_is_error(PSOCK_ERR_VALUE, EINVAL), "ValueError");
}

double api_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void api_fill_pattern(uint8_t *buf, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)((i >> 8) * 7 + i * 31 + seed);
}

int api_recv_exact(psock_sock *s, void *buf, size_t len) {
  for (size_t got = 0; got < len;) {
    ssize_t n = psock_recv(s, (char *)buf + got, len - got, 0);

    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  return 0;
}

static psock_sock *bound(int family, int type, const char *host,
                         psock_address *ret_name) {
  psock_address a;
  psock_sock *s = psock_socket(family, type, 0);
  int r;

  if (!s)
    return NULL;
  r = family == AF_INET6 ? psock_addr_inet6(&a, host, 0, 0, 0)
                         : psock_addr_inet(&a, host, 0);
  if (r < 0 || psock_bind(s, &a) < 0 || psock_getsockname(s, ret_name) < 0) {
    psock_close(s);
    return NULL;
  }
  return s;
}

psock_sock *api_listen_tcp(int family, const char *host, int backlog,
                           psock_address *ret_name) {
  psock_sock *s = bound(family, SOCK_STREAM, host, ret_name);

  if (s && psock_listen(s, backlog) < 0) {
    psock_close(s);
    return NULL;
  }
  return s;
}

psock_sock *api_bound_udp(int family, const char *host,
                          psock_address *ret_name) {
  return bound(family, SOCK_DGRAM, host, ret_name);
}

psock_sock *api_closed_port(uint16_t *ret_port) {
  psock_address name;
  psock_sock *s = bound(AF_INET, SOCK_STREAM, "127.0.0.1", &name);

  if (s)
    *ret_port = name.u.in.port;
  return s;
}

/* --------------------------------------------------- a resolver we control */

#define DNS_HEADER 12
#define DNS_TYPE_A 1

struct api_dns {
  pid_t pid;
  char address[INET_ADDRSTRLEN];
  atomic_uint *stalled; /* shared with the server process */
};

/* The question's name (uncompressed labels) in lower case, into name.
 * Returns the offset just past it, or -1. */
static ssize_t dns_qname(const uint8_t *pkt, size_t len, char *name,
                         size_t size) {
  size_t off = DNS_HEADER, o = 0;

  for (;;) {
    uint8_t l;

    if (off >= len)
      return -1;
    l = pkt[off++];
    if (l == 0)
      break;
    if (l > 63 || off + l > len || o + l + 2 > size)
      return -1;
    if (o)
      name[o++] = '.';
    for (size_t i = 0; i < l; i++)
      name[o++] = (char)tolower(pkt[off + i]);
    off += l;
  }
  name[o] = '\0';
  return (ssize_t)off;
}

/* The answer to query q (n bytes) into r; its length, or 0 for none. */
static size_t dns_answer(const uint8_t *q, size_t n, uint8_t *r,
                         atomic_uint *stalled) {
  static const uint8_t header[] = {0, 1, 0, 0, 0, 0, 0, 0};
  static const uint8_t rr[] = {0xc0, 0x0c, 0, DNS_TYPE_A, 0,   1, 0, 0,
                               0,    60,   0, 4,          127, 0, 0, 77};
  char name[256];
  ssize_t end = dns_qname(q, n, name, sizeof(name));
  size_t len;

  if (end < 0 || (size_t)end + 4 > n)
    return 0;
  if (strncmp(name, "stall.", 6) == 0) {
    atomic_fetch_add(stalled, 1);
    return 0;
  }
  /* Same id and question; QR, RD as asked, RA; one question, no others. */
  len = (size_t)end + 4;
  memcpy(r, q, len);
  r[2] = (uint8_t)(0x80 | (q[2] & 0x01));
  r[3] = 0x80;
  memcpy(r + 4, header, sizeof(header));
  if (strcmp(name, API_DNS_NAME) != 0) {
    r[3] |= 3; /* NXDOMAIN */
  } else if (q[end] == 0 && q[end + 1] == DNS_TYPE_A) {
    r[7] = 1; /* ANCOUNT */
    memcpy(r + len, rr, sizeof(rr));
    len += sizeof(rr);
  }
  return len;
}

static _Noreturn void dns_serve(int fd, atomic_uint *stalled) {
  uint8_t q[512], r[512 + 16];

  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n =
        recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
    size_t len;

    if (n < DNS_HEADER)
      continue;
    len = dns_answer(q, (size_t)n, r, stalled);
    if (len)
      sendto(fd, r, len, 0, (struct sockaddr *)&from, fromlen);
  }
}

struct api_dns *api_start_dns(void) {
  static const char *const addresses[] = {"127.0.0.1", "127.0.53.1",
                                          "127.0.53.2", "127.0.53.3"};
  struct api_dns *d = calloc(1, sizeof(*d));
  int fd = -1;

  assert_non_null(d);
  /* Port 53 of 127.0.0.1 may be a local resolver's: then another. */
  for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, addresses[i], &sin.sin_addr);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
      snprintf(d->address, sizeof(d->address), "%s", addresses[i]);
      break;
    }
    close(fd);
    fd = -1;
  }
  if (fd < 0)
    fail_msg("no free UDP port 53 on 127.0.0.1 or 127.0.53.1-3");
  d->stalled = mmap(NULL, sizeof(*d->stalled), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(d->stalled != MAP_FAILED);
  atomic_init(d->stalled, 0);
  fflush(NULL);
  d->pid = fork();
  assert_true(d->pid >= 0);
  if (d->pid == 0)
    dns_serve(fd, d->stalled);
  close(fd);
  return d;
}

const char *api_dns_address(const struct api_dns *d) {
  return d->address;
}

unsigned api_dns_stalled(const struct api_dns *d) {
  return atomic_load(d->stalled);
}

void api_stop_dns(struct api_dns *d) {
  int status;

  if (!d)
    return;
  kill(d->pid, SIGKILL);
  waitpid(d->pid, &status, 0);
  munmap(d->stalled, sizeof(*d->stalled));
  free(d);
}

struct psockd_proc *api_start_psockd_with(const char *extra_rules) {
  static char dir[] = "/tmp/psock-api-policy.XXXXXX";
  static char path[sizeof(dir) + 16];
  static char arg[sizeof(path) + 16];
  const char *args[] = {arg, NULL};

  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0755), 0);
  snprintf(path, sizeof(path), "%s/policy.conf", dir);
  snprintf(arg, sizeof(arg), "--policy=%s", path);
  harness_write_policy(path, extra_rules, true);
  return harness_start_psockd(args);
}
