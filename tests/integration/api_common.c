/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the API coverage tests (see api_common.h).
 */
#include "api_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

/* passwd and group too: psockd looks its service user up. */
#define NSSWITCH_FMT                                                           \
  "passwd: files\n"                                                            \
  "group: files\n"                                                             \
  "shadow: files\n"                                                            \
  "hosts: %s\n"                                                                \
  "networks: files\n"                                                          \
  "protocols: files\n"                                                         \
  "services: files\n"

void api_private_name_service(const char *nameserver) {
  char nsswitch[256], resolv[256];

  snprintf(nsswitch, sizeof(nsswitch), NSSWITCH_FMT,
           nameserver ? "files dns" : "files");
  /* Without a nameserver line glibc would ask 127.0.0.1 anyway. */
  snprintf(resolv, sizeof(resolv),
           "nameserver %s\noptions timeout:3 attempts:1\n",
           nameserver ? nameserver : "127.0.0.1");
  harness_private_name_service(API_HOSTS, resolv, nsswitch);
}

void api_assert_child(int r, const char *fn, const char *who, int flags) {
  if (r != 0)
    fail_msg("%s as %s%s failed (%d; see stderr)", fn, who,
             (flags & HARNESS_EMPTY_NETNS) ? " in an empty netns" : "", r);
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
