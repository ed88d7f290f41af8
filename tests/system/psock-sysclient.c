/* SPDX-License-Identifier: MIT */
/*
 * psock-sysclient: the client of the system test (tests/system/
 * run-container.sh), built against the libpsock-client installed in the
 * container and run there as an unprivileged user.
 *
 *   psock-sysclient udp              a UDP socket from psockd, bound through
 *                                    psockd to 127.0.0.1, sends a datagram
 *                                    to itself and reads it back
 *   psock-sysclient deny FAM TYPE    psock_socket(FAM, TYPE, 0) must be
 *                                    refused by psockd's policy
 *   psock-sysclient noaccess         psockd's socket must refuse us
 *                                    (EACCES: not in group psock)
 *
 * Prints one line saying what happened; exits 0 if it was what the mode
 * expects, 1 if not.
 */
#include <errno.h>
#include <psock/psock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int failed(const char *what) {
  printf("FAIL %s: kind %d code %d: %s\n", what, psock_last_error_kind(),
         psock_last_error_code(), psock_last_error_message());
  return 1;
}

static int udp_roundtrip(void) {
  static const char msg[] = "hello from psock-sysclient";
  psock_address addr, from;
  char buf[128];
  psock_sock *s;
  ssize_t n;

  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  if (!s)
    return failed("socket(AF_INET, SOCK_DGRAM)");
  if (psock_addr_inet(&addr, "127.0.0.1", 0) < 0 || psock_bind(s, &addr) < 0)
    return failed("bind 127.0.0.1:0");
  if (psock_getsockname(s, &addr) < 0)
    return failed("getsockname");
  if (psock_settimeout(s, 5.0) < 0 ||
      psock_sendto(s, msg, sizeof(msg), &addr) != (ssize_t)sizeof(msg))
    return failed("sendto");
  n = psock_recvfrom(s, buf, sizeof(buf), 0, &from);
  if (n < 0)
    return failed("recvfrom");
  if (n != (ssize_t)sizeof(msg) || memcmp(buf, msg, sizeof(msg)) != 0) {
    printf("FAIL udp: got %zd bytes back, not the %zu sent\n", n, sizeof(msg));
    return 1;
  }
  printf("udp ok: uid %u, fd %d bound to 127.0.0.1:%u, datagram echoed\n",
         (unsigned)getuid(), psock_fileno(s), (unsigned)addr.u.in.port);
  psock_close(s);
  return 0;
}

static int expect_denied(int family, int type) {
  psock_sock *s = psock_socket(family, type, 0);

  if (s) {
    printf("FAIL deny: socket(%d, %d) was allowed\n", family, type);
    psock_close(s);
    return 1;
  }
  if (psock_last_error_kind() != PSOCK_ERR_POLICY)
    return failed("deny: refused, but not by the policy");
  printf("denied ok: uid %u, socket(%d, %d): %s\n", (unsigned)getuid(), family,
         type, psock_last_error_message());
  return 0;
}

static int expect_noaccess(void) {
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);

  if (s) {
    printf("FAIL noaccess: uid %u got a socket\n", (unsigned)getuid());
    psock_close(s);
    return 1;
  }
  /* The library reports an unreachable psockd as a protocol error whose
   * code is connect()'s errno. */
  if ((psock_last_error_kind() != PSOCK_ERR_OS &&
       psock_last_error_kind() != PSOCK_ERR_PROTOCOL) ||
      (psock_last_error_code() != EACCES && psock_last_error_code() != EPERM))
    return failed("noaccess: refused, but not by the socket's permissions");
  printf("noaccess ok: uid %u: %s\n", (unsigned)getuid(),
         psock_last_error_message());
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && strcmp(argv[1], "udp") == 0)
    return udp_roundtrip();
  if (argc == 4 && strcmp(argv[1], "deny") == 0)
    return expect_denied(atoi(argv[2]), atoi(argv[3]));
  if (argc == 2 && strcmp(argv[1], "noaccess") == 0)
    return expect_noaccess();
  fprintf(stderr, "usage: psock-sysclient udp | deny FAMILY TYPE | noaccess\n");
  return 2;
}
