/* SPDX-License-Identifier: MIT */
/*
 * psock-tipc-client: the client of the TIPC system test (tests/system/
 * run-tipc.sh). It runs in a small VM whose kernel has AF_TIPC, next to a
 * psockd, and gets every TIPC socket from psockd through libpsock-client.
 *
 *   psock-tipc-client [--uid N --gid N [--groups G,...]] MODE
 *
 * With --uid it first becomes that user (it is started as root). Modes:
 *
 *   deny   psock_socket(AF_TIPC, SOCK_RDM) must be refused by the policy
 *   all    SOCK_RDM: bind a TIPC_ADDR_NAMESEQ, sendto a TIPC_ADDR_NAME from
 *          another socket, recvfrom gets it; then for SOCK_SEQPACKET and
 *          SOCK_STREAM: bind + listen, connect to the name (through
 *          psockd, non-blocking), accept, a message each way
 *
 * Each check prints one "PSOCK-TIPC: <check> ok" line or a
 * "PSOCK-TIPC: FAIL ..." line; the exit status is 0 only if all passed.
 */
#include <errno.h>
#include <grp.h>
#include <linux/tipc.h>
#include <poll.h>
#include <psock/psock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVICE_TYPE 18888u

static int failed(const char *check, const char *what) {
  printf("PSOCK-TIPC: FAIL %s: %s: kind %d code %d: %s\n", check, what,
         psock_last_error_kind(), psock_last_error_code(),
         psock_last_error_message());
  return 1;
}

/* Become uid/gid with exactly the given groups ("1000,1001" or NULL). */
static int become(uid_t uid, gid_t gid, const char *groups) {
  gid_t list[16];
  size_t n = 0;

  for (const char *p = groups; p && *p && n < 16; p = strchr(p, ',')) {
    if (*p == ',')
      p++;
    list[n++] = (gid_t)strtoul(p, NULL, 10);
  }
  if (setgroups(n, list) < 0 || setresgid(gid, gid, gid) < 0 ||
      setresuid(uid, uid, uid) < 0) {
    printf("PSOCK-TIPC: FAIL cannot become uid %u: %s\n", (unsigned)uid,
           strerror(errno));
    return -1;
  }
  return 0;
}

static int check_deny(void) {
  psock_sock *s = psock_socket(AF_TIPC, SOCK_RDM, 0);

  if (s) {
    printf("PSOCK-TIPC: FAIL deny: uid %u got an AF_TIPC socket\n",
           (unsigned)getuid());
    psock_close(s);
    return 1;
  }
  if (psock_last_error_kind() != PSOCK_ERR_POLICY)
    return failed("deny", "refused, but not by the policy");
  printf("PSOCK-TIPC: deny ok (uid %u: %s)\n", (unsigned)getuid(),
         psock_last_error_message());
  return 0;
}

/* SOCK_RDM: a datagram to a service name reaches the socket bound to it. */
static int check_rdm(void) {
  static const char msg[] = "hello over TIPC";
  psock_address bound, to, from;
  psock_sock *srv, *cli;
  char buf[64], fmt[128];
  ssize_t n;

  srv = psock_socket(AF_TIPC, SOCK_RDM, 0);
  if (!srv)
    return failed("rdm", "socket");
  psock_addr_tipc(&bound, TIPC_ADDR_NAMESEQ, SERVICE_TYPE, 17, 17, 0);
  if (psock_bind(srv, &bound) < 0)
    return failed("rdm", "bind NAMESEQ");
  cli = psock_socket(AF_TIPC, SOCK_RDM, 0);
  if (!cli)
    return failed("rdm", "second socket");
  psock_addr_tipc(&to, TIPC_ADDR_NAME, SERVICE_TYPE, 17, 0, 0);
  if (psock_sendto(cli, msg, sizeof(msg), &to) != (ssize_t)sizeof(msg))
    return failed("rdm", "sendto NAME");
  if (psock_settimeout(srv, 5.0) < 0)
    return failed("rdm", "settimeout");
  n = psock_recvfrom(srv, buf, sizeof(buf), 0, &from);
  if (n < 0)
    return failed("rdm", "recvfrom");
  if (n != (ssize_t)sizeof(msg) || memcmp(buf, msg, sizeof(msg)) != 0) {
    printf("PSOCK-TIPC: FAIL rdm: received %zd bytes, not the message\n", n);
    return 1;
  }
  printf("PSOCK-TIPC: rdm ok (uid %u, from %s)\n", (unsigned)getuid(),
         psock_addr_format(&from, fmt, sizeof(fmt)));
  psock_close(cli);
  psock_close(srv);
  return 0;
}

static int exchange(const char *check, psock_sock *from, psock_sock *to,
                    const char *text) {
  char buf[64];
  size_t len = strlen(text);
  ssize_t n;

  if (psock_sendall(from, text, len, 0) < 0)
    return failed(check, "send");
  n = psock_recv(to, buf, sizeof(buf), 0);
  if (n < 0)
    return failed(check, "recv");
  if ((size_t)n != len || memcmp(buf, text, len) != 0) {
    printf("PSOCK-TIPC: FAIL %s: received %zd bytes, not '%s'\n", check, n,
           text);
    return 1;
  }
  return 0;
}

/* A connection to a service name: listen, connect, accept, both ways. */
static int check_connection(const char *check, int type, uint32_t instance) {
  struct pollfd pfd = {.events = POLLOUT};
  psock_address name, peer;
  psock_sock *lsn, *cli, *srv;
  char fmt[128];
  int r, err = 0;

  lsn = psock_socket(AF_TIPC, type, 0);
  if (!lsn)
    return failed(check, "socket");
  psock_addr_tipc(&name, TIPC_ADDR_NAMESEQ, SERVICE_TYPE, instance, instance,
                  0);
  if (psock_bind(lsn, &name) < 0)
    return failed(check, "bind NAMESEQ");
  if (psock_listen(lsn, 4) < 0)
    return failed(check, "listen");
  cli = psock_socket(AF_TIPC, type, 0);
  if (!cli)
    return failed(check, "client socket");
  /* A TIPC connection is set up when the server accepts it (unlike TCP,
   * where the kernel completes it before accept): connect without
   * waiting, accept, then wait for the client side. */
  if (psock_setblocking(cli, 0) < 0 || psock_settimeout(lsn, 5.0) < 0)
    return failed(check, "setblocking/settimeout");
  psock_addr_tipc(&name, TIPC_ADDR_NAME, SERVICE_TYPE, instance, 0, 0);
  r = psock_connect_ex(cli, &name);
  if (r != 0 && r != EINPROGRESS)
    return failed(check, "connect NAME");
  srv = psock_accept(lsn, &peer);
  if (!srv)
    return failed(check, "accept");
  pfd.fd = psock_fileno(cli);
  if (poll(&pfd, 1, 5000) != 1 ||
      psock_getsockopt(cli, SOL_SOCKET, SO_ERROR, &err) < 0 || err != 0) {
    printf("PSOCK-TIPC: FAIL %s: connect did not complete (%s)\n", check,
           strerror(err));
    return 1;
  }
  if (psock_settimeout(cli, 5.0) < 0 || psock_settimeout(srv, 5.0) < 0)
    return failed(check, "settimeout");
  if (exchange(check, cli, srv, "ping") || exchange(check, srv, cli, "pong"))
    return 1;
  printf("PSOCK-TIPC: %s ok (uid %u, accepted %s)\n", check, (unsigned)getuid(),
         psock_addr_format(&peer, fmt, sizeof(fmt)));
  psock_close(srv);
  psock_close(cli);
  psock_close(lsn);
  return 0;
}

int main(int argc, char **argv) {
  const char *groups = NULL;
  long uid = -1, gid = -1;
  int i, r;

  setvbuf(stdout, NULL, _IOLBF, 0);
  for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--uid") == 0)
      uid = strtol(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--gid") == 0)
      gid = strtol(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--groups") == 0)
      groups = argv[i + 1];
    else
      break;
  }
  if (i != argc - 1) {
    fprintf(stderr, "usage: psock-tipc-client [--uid N --gid N "
                    "[--groups G,...]] deny|all\n");
    return 2;
  }
  if (uid >= 0 && become((uid_t)uid, (gid_t)(gid >= 0 ? gid : uid), groups))
    return 1;
  if (strcmp(argv[i], "deny") == 0)
    return check_deny();
  if (strcmp(argv[i], "all") != 0)
    return 2;
  r = check_rdm();
  r |= check_connection("seqpacket", SOCK_SEQPACKET, 5);
  r |= check_connection("stream", SOCK_STREAM, 6);
  return r;
}
