/* SPDX-License-Identifier: MIT */
/*
 * psock-demo: what libpsock-client does for an unprivileged, sandboxed
 * program. Run it as a user without CAP_NET_RAW, ideally inside an empty
 * network namespace, with PSOCK_SOCKET naming a running psockd:
 *
 *   1. a raw ICMP socket made directly fails (EPERM);
 *   2. the seed's echo server and echo client, with sockets from psockd:
 *      the server binds 127.0.0.1 on a free port, listens and accepts in a
 *      thread; the client connects, sends "Hello, world" and prints what
 *      comes back;
 *   3. an ICMP echo to 127.0.0.1 on an ICMP datagram ("ping") socket from
 *      psockd, with its round-trip time.
 *
 * Exits 0 if steps 2 and 3 worked, 1 otherwise.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <psock/psock.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void report_psock_error(const char *what) {
  printf("  %s failed: %s\n", what, psock_last_error_message());
}

/* -------------------------------------------------- 1. the sandbox alone */

static void direct_raw_socket(void) {
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

  printf("1. socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) made directly:\n");
  if (fd < 0) {
    printf("  fails: %s%s\n", strerror(errno),
           errno == EPERM ? " (no CAP_NET_RAW here)" : "");
    return;
  }
  printf("  works: this process has CAP_NET_RAW and does not need psockd\n");
  close(fd);
}

/* ---------------------------------------------- 2. echo server and client */

/* The seed's echo server: accept one connection, echo until it ends. */
static void *echo_server(void *arg) {
  psock_sock *s = arg;
  psock_address peer;
  char host[128], data[1024];
  psock_sock *conn = psock_accept(s, &peer);
  ssize_t n;

  if (!conn) {
    report_psock_error("server: accept");
    return NULL;
  }
  printf("  server: Connected by %s\n",
         psock_addr_format(&peer, host, sizeof(host)));
  while ((n = psock_recv(conn, data, sizeof(data), 0)) > 0)
    if (psock_sendall(conn, data, (size_t)n, 0) < 0)
      break;
  psock_close(conn);
  return NULL;
}

/* A listening socket from psockd on 127.0.0.1 with a port of its choosing. */
static psock_sock *listen_loopback(psock_address *ret_name) {
  psock_address any;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  if (!s) {
    report_psock_error("server: socket");
    return NULL;
  }
  if (psock_addr_inet(&any, "127.0.0.1", 0) < 0 || psock_bind(s, &any) < 0 ||
      psock_getsockname(s, ret_name) < 0 || psock_listen(s, 1) < 0) {
    report_psock_error("server: bind/listen");
    psock_close(s);
    return NULL;
  }
  return s;
}

/* The seed's echo client. Returns true if the greeting came back. */
static bool echo_client(const psock_address *server) {
  static const char hello[] = "Hello, world";
  char data[1024];
  size_t got = 0;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  if (!s) {
    report_psock_error("client: socket");
    return false;
  }
  if (psock_connect(s, server) < 0 ||
      psock_sendall(s, hello, strlen(hello), 0) < 0) {
    report_psock_error("client: connect/sendall");
    psock_close(s);
    return false;
  }
  /* TCP may split the echo; read until the whole greeting is back. */
  while (got < strlen(hello)) {
    ssize_t n = psock_recv(s, data + got, sizeof(data) - 1 - got, 0);

    if (n <= 0) {
      if (n < 0)
        report_psock_error("client: recv");
      break;
    }
    got += (size_t)n;
  }
  data[got] = '\0';
  psock_close(s);
  printf("  client: Received '%s'\n", data);
  return strcmp(data, hello) == 0;
}

static bool echo_demo(void) {
  psock_address name;
  char text[128];
  pthread_t server;
  psock_sock *s;
  bool ok;

  printf("2. echo server and client, sockets from psockd:\n");
  s = listen_loopback(&name);
  if (!s)
    return false;
  printf("  server: listening on %s\n",
         psock_addr_format(&name, text, sizeof(text)));
  if (pthread_create(&server, NULL, echo_server, s) != 0) {
    printf("  pthread_create failed\n");
    psock_close(s);
    return false;
  }
  ok = echo_client(&name);
  pthread_join(server, NULL);
  psock_close(s);
  return ok;
}

/* ----------------------------------------------------------- 3. ping */

static double seconds_since(const struct timespec *t0) {
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) +
         (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* An ICMP datagram ("ping") socket, which the kernel restricts to echo:
 * what psockd's default policy gives everyone (raw ones are root's). */
static bool ping_demo(void) {
  uint8_t req[sizeof(struct icmphdr) + 16] = {0}, buf[2048];
  struct icmphdr *icmp = (struct icmphdr *)req;
  struct timespec t0;
  psock_address to;
  psock_sock *s;
  ssize_t n;

  printf("3. ICMP echo to 127.0.0.1, ping socket from psockd:\n");
  s = psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (!s) {
    report_psock_error("psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)");
    return false;
  }
  /* The kernel fills in the id (the socket's own) and the checksum. */
  icmp->type = ICMP_ECHO;
  icmp->un.echo.sequence = htons(1);
  memcpy(req + sizeof(*icmp), "psock-demo ping", 16);
  psock_addr_inet(&to, "127.0.0.1", 0);
  psock_settimeout(s, 3.0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (psock_sendto(s, req, sizeof(req), &to) != (ssize_t)sizeof(req)) {
    report_psock_error("sendto");
    psock_close(s);
    return false;
  }
  n = psock_recv(s, buf, sizeof(buf), 0);
  if (n < (ssize_t)sizeof(*icmp) ||
      ((struct icmphdr *)buf)->type != ICMP_ECHOREPLY) {
    report_psock_error("recv");
    psock_close(s);
    return false;
  }
  printf("  reply from 127.0.0.1: icmp_seq=1 time=%.3f ms\n",
         seconds_since(&t0) * 1e3);
  psock_close(s);
  return true;
}

int main(void) {
  bool echo_ok, ping_ok;

  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("psock-demo (libpsock-client %s), uid %d\n", psock_version(),
         (int)getuid());
  direct_raw_socket();
  echo_ok = echo_demo();
  ping_ok = ping_demo();
  printf("echo: %s, ping: %s\n", echo_ok ? "ok" : "FAILED",
         ping_ok ? "ok" : "FAILED");
  return echo_ok && ping_ok ? 0 : 1;
}
