/* SPDX-License-Identifier: MIT */
/*
 * API coverage, the name service and the pure functions: getaddrinfo,
 * getnameinfo, gethostbyname, gethostbyname_ex, gethostbyaddr, gethostname,
 * getfqdn, getprotobyname, getservbyname, getservbyport, has_ipv6 (all
 * answered from psockd's view and compared with the same libc calls made
 * here as root), herror and gaierror, byte order and inet_* conversions.
 * Last, psockd never blocks on one client's behalf: a lookup that stalls
 * for seconds does not delay another client's socket().
 *
 * The whole program runs in a private name service (api_common.h) with a
 * resolver we control (api_start_dns) and a UTS namespace whose host name
 * is API_HOSTNAME, so every lookup stays on loopback and every answer is
 * known. Client functions (client_*) run in a forked child: CHECK(), never
 * cmocka's assert_*.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api_common.h"

/* The longest psockd may take to answer a socket() while a lookup stalls
 * (it takes about a millisecond; a loop held by the lookup, 3 s). */
#define PROMPT 0.75

/* What root's own libc says here (same namespaces as psockd). */
struct root_view {
  char www[INET_ADDRSTRLEN]; /* getaddrinfo(API_DNS_NAME) */
  int localhost_families[2]; /* getaddrinfo("localhost"): order */
  char ni_host[NI_MAXHOST];  /* getnameinfo(127.0.0.1:80, 0) */
  char ni_serv[NI_MAXSERV];
  char hostname[256];     /* gethostname() */
  char by_addr_name[256]; /* gethostbyaddr(127.0.0.1)->h_name */
  char ex_name[256];      /* gethostbyname_ex(API_HOSTNAME) */
  char ex_alias[256];
  char ex_addr[INET_ADDRSTRLEN];
  int icmp, tcp;          /* getprotobyname */
  int http, domain;       /* getservbyname */
  bool port3_has_service; /* getservbyport(3, "tcp") */
  int has_ipv6;
};

static struct {
  struct psockd_proc *psockd;
  struct api_dns *dns;
  struct root_view root;
} fx;

/* ------------------------------------------------------ root's own view */

static void read_root_view(struct root_view *v) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  struct in_addr lo = {htonl(INADDR_LOOPBACK)};
  struct hostent *h;
  int fd;

  assert_int_equal(getaddrinfo(API_DNS_NAME, NULL, &hints, &res), 0);
  inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, v->www,
            sizeof(v->www));
  freeaddrinfo(res);
  assert_int_equal(getaddrinfo("localhost", NULL, &hints, &res), 0);
  assert_non_null(res->ai_next);
  v->localhost_families[0] = res->ai_family;
  v->localhost_families[1] = res->ai_next->ai_family;
  freeaddrinfo(res);
  sin.sin_addr = lo;
  assert_int_equal(getnameinfo((struct sockaddr *)&sin, sizeof(sin), v->ni_host,
                               sizeof(v->ni_host), v->ni_serv,
                               sizeof(v->ni_serv), 0),
                   0);
  assert_int_equal(gethostname(v->hostname, sizeof(v->hostname)), 0);
  assert_non_null(h = gethostbyaddr(&lo, sizeof(lo), AF_INET));
  snprintf(v->by_addr_name, sizeof(v->by_addr_name), "%s", h->h_name);
  assert_non_null(h = gethostbyname(API_HOSTNAME));
  assert_non_null(h->h_aliases[0]);
  snprintf(v->ex_name, sizeof(v->ex_name), "%s", h->h_name);
  snprintf(v->ex_alias, sizeof(v->ex_alias), "%s", h->h_aliases[0]);
  inet_ntop(AF_INET, h->h_addr_list[0], v->ex_addr, sizeof(v->ex_addr));
  v->icmp = getprotobyname("icmp")->p_proto;
  v->tcp = getprotobyname("tcp")->p_proto;
  v->http = ntohs((uint16_t)getservbyname("http", "tcp")->s_port);
  v->domain = ntohs((uint16_t)getservbyname("domain", NULL)->s_port);
  v->port3_has_service = getservbyport(htons(3), "tcp") != NULL;
  fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  v->has_ipv6 = fd >= 0;
  if (fd >= 0)
    close(fd);
}

/* --------------------------------------------------------- getaddrinfo */

static int client_getaddrinfo(void *arg) {
  struct addrinfo hints = {.ai_family = AF_INET}, *own = NULL;
  psock_addrinfo *ai = NULL;
  int own_rc;

  /* This client (empty netns) cannot reach any resolver itself ... */
  own_rc = getaddrinfo(API_DNS_NAME, NULL, &hints, &own);
  if (own_rc == 0)
    freeaddrinfo(own);
  CHECK(own_rc != 0);
  /* ... psockd answers from its view, as root's libc does there. */
  CHECK(psock_getaddrinfo(API_DNS_NAME, "http", AF_INET, SOCK_STREAM, 0,
                          AI_CANONNAME, &ai) == 0);
  CHECK(ai && !ai->next);
  CHECK(ai->family == AF_INET && ai->socktype == SOCK_STREAM);
  CHECK(ai->proto == IPPROTO_TCP && strcmp(ai->canonname, API_DNS_NAME) == 0);
  CHECK(strcmp(ai->address.u.in.host, fx.root.www) == 0);
  CHECK(ai->address.u.in.port == 80);
  psock_freeaddrinfo(ai);
  /* Both families of localhost, in root's order; no canonname unasked. */
  CHECK(psock_getaddrinfo("localhost", NULL, AF_UNSPEC, SOCK_STREAM, 0, 0,
                          &ai) == 0);
  CHECK(ai && ai->next && !ai->next->next);
  CHECK(ai->family == fx.root.localhost_families[0]);
  CHECK(ai->next->family == fx.root.localhost_families[1]);
  CHECK(ai->canonname[0] == '\0');
  psock_freeaddrinfo(ai);
  /* host None, AI_PASSIVE: the wildcard address. */
  CHECK(psock_getaddrinfo(NULL, "8080", AF_INET6, SOCK_DGRAM, 0, AI_PASSIVE,
                          &ai) == 0);
  CHECK(ai && strcmp(ai->address.u.in.host, "::") == 0);
  CHECK(ai->address.u.in.port == 8080 && ai->proto == IPPROTO_UDP);
  psock_freeaddrinfo(ai);
  return 0;
}

static bool is_gai(int code) {
  return api_is_error(PSOCK_ERR_GAI, code) &&
         strcmp(psock_last_error_message(), gai_strerror(code)) == 0;
}

static int client_getaddrinfo_refused(void *arg) {
  psock_addrinfo *ai = NULL;

  CHECK(psock_getaddrinfo("nothing.invalid", "80", 0, 0, 0, 0, &ai) == -1);
  CHECK(is_gai(EAI_NONAME) && ai == NULL);
  CHECK(psock_getaddrinfo("localhost", "no-such-service", 0, SOCK_STREAM, 0, 0,
                          &ai) == -1);
  CHECK(is_gai(EAI_SERVICE));
  CHECK(psock_getaddrinfo("localhost", NULL, 0, 0, 0, AI_NUMERICHOST, &ai) ==
        -1);
  CHECK(is_gai(EAI_NONAME));
  CHECK(psock_getaddrinfo("localhost", NULL, API_BOGUS_FAMILY, 0, 0, 0, &ai) ==
        -1);
  CHECK(is_gai(EAI_FAMILY));
  return 0;
}

static void test_getaddrinfo_answers_from_psockd(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_getaddrinfo, NULL);
}

static void test_getaddrinfo_failure_is_gaierror(void **state) {
  assert_as_nobody(0, client_getaddrinfo_refused, NULL);
}

/* --------------------------------------------------------- getnameinfo */

static int client_getnameinfo(void *arg) {
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  psock_address a;

  CHECK(psock_addr_inet(&a, "127.0.0.1", 80) == 0);
  CHECK(psock_getnameinfo(&a, NI_NUMERICHOST | NI_NUMERICSERV, host,
                          sizeof(host), serv, sizeof(serv)) == 0);
  CHECK(strcmp(host, "127.0.0.1") == 0 && strcmp(serv, "80") == 0);
  CHECK(psock_getnameinfo(&a, 0, host, sizeof(host), serv, sizeof(serv)) == 0);
  CHECK(strcmp(host, fx.root.ni_host) == 0 && strcmp(host, "localhost") == 0);
  CHECK(strcmp(serv, fx.root.ni_serv) == 0 && strcmp(serv, "http") == 0);
  CHECK(psock_addr_inet6(&a, "::1", 53, 0, 0) == 0);
  CHECK(psock_getnameinfo(&a, NI_NUMERICSERV, host, sizeof(host), serv,
                          sizeof(serv)) == 0);
  CHECK(strcmp(host, "localhost") == 0 && strcmp(serv, "53") == 0);
  return 0;
}

static int client_getnameinfo_refused(void *arg) {
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  psock_address a;

  /* No name for this address, and one was required. */
  CHECK(psock_addr_inet(&a, "127.0.0.99", 80) == 0);
  CHECK(psock_getnameinfo(&a, NI_NAMEREQD, host, sizeof(host), serv,
                          sizeof(serv)) == -1);
  CHECK(is_gai(EAI_NONAME));
  /* The address must be numeric, as in CPython. */
  CHECK(psock_addr_inet(&a, "localhost", 80) == 0);
  CHECK(psock_getnameinfo(&a, 0, host, sizeof(host), serv, sizeof(serv)) == -1);
  CHECK(is_gai(EAI_NONAME));
  return 0;
}

static void test_getnameinfo_numeric_and_names(void **state) {
  assert_as_nobody(0, client_getnameinfo, NULL);
}

static void test_getnameinfo_failure_is_gaierror(void **state) {
  assert_as_nobody(0, client_getnameinfo_refused, NULL);
}

/* --------------------------------------------- gethostbyname family */

static int client_gethostbyname(void *arg) {
  char buf[INET_ADDRSTRLEN];
  psock_hostent *h;

  CHECK(psock_gethostbyname("localhost", buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, "127.0.0.1") == 0);
  CHECK(psock_gethostbyname(API_DNS_NAME, buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, fx.root.www) == 0);
  /* An IPv4 address comes back as it is. */
  CHECK(psock_gethostbyname("127.0.0.5", buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, "127.0.0.5") == 0);
  /* (hostname, aliaslist, ipaddrlist) */
  CHECK(psock_gethostbyname_ex(API_HOSTNAME, &h) == 0);
  CHECK(strcmp(h->name, fx.root.ex_name) == 0 &&
        strcmp(h->name, API_FQDN) == 0);
  CHECK(h->aliases[0] && strcmp(h->aliases[0], fx.root.ex_alias) == 0);
  CHECK(!h->aliases[1]);
  CHECK(h->addresses[0] && strcmp(h->addresses[0], fx.root.ex_addr) == 0);
  CHECK(!h->addresses[1]);
  psock_hostent_free(h);
  return 0;
}

static int client_gethostbyname_refused(void *arg) {
  char buf[INET_ADDRSTRLEN];
  psock_hostent *h = NULL;

  /* gethostbyname() resolves with getaddrinfo: a gaierror ... */
  CHECK(psock_gethostbyname("nothing.invalid", buf, sizeof(buf)) == -1);
  CHECK(is_gai(EAI_NONAME));
  /* ... gethostbyname_ex() uses h_errno: an herror. */
  CHECK(psock_gethostbyname_ex("nothing.invalid", &h) == -1 && !h);
  CHECK(api_is_error(PSOCK_ERR_HOST, HOST_NOT_FOUND));
  CHECK(strcmp(psock_last_error_message(), hstrerror(HOST_NOT_FOUND)) == 0);
  return 0;
}

static int client_gethostbyaddr(void *arg) {
  psock_hostent *h;

  CHECK(psock_gethostbyaddr("127.0.0.1", &h) == 0);
  CHECK(strcmp(h->name, fx.root.by_addr_name) == 0);
  CHECK(h->addresses[0] && strcmp(h->addresses[0], "127.0.0.1") == 0);
  psock_hostent_free(h);
  /* IPv6 too, with the aliases of the hosts line. */
  CHECK(psock_gethostbyaddr("::1", &h) == 0);
  CHECK(strcmp(h->name, "localhost") == 0);
  CHECK(h->aliases[0] && strcmp(h->aliases[0], "ip6-localhost") == 0);
  CHECK(h->addresses[0] && strcmp(h->addresses[0], "::1") == 0);
  psock_hostent_free(h);
  return 0;
}

static int client_gethostbyaddr_refused(void *arg) {
  psock_hostent *h = NULL;

  CHECK(psock_gethostbyaddr("127.0.0.99", &h) == -1 && !h);
  CHECK(api_is_error(PSOCK_ERR_HOST, HOST_NOT_FOUND));
  CHECK(strcmp(psock_last_error_message(), hstrerror(HOST_NOT_FOUND)) == 0);
  return 0;
}

static void test_gethostbyname_and_ex(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_gethostbyname, NULL);
}

static void test_gethostbyname_failures_are_gaierror_and_herror(void **state) {
  assert_as_nobody(0, client_gethostbyname_refused, NULL);
}

static void test_gethostbyaddr(void **state) {
  assert_as_nobody(0, client_gethostbyaddr, NULL);
}

static void test_gethostbyaddr_failure_is_herror(void **state) {
  assert_as_nobody(0, client_gethostbyaddr_refused, NULL);
}

/* ------------------------------------------------ gethostname, getfqdn */

static int client_gethostname(void *arg) {
  char buf[256], own[256];

  /* Given a host name of its own (where user namespaces are allowed), the
   * client still hears psockd's. */
  if (unshare(CLONE_NEWUSER | CLONE_NEWUTS) == 0) {
    CHECK(sethostname("client-view", 11) == 0);
    CHECK(gethostname(own, sizeof(own)) == 0);
    CHECK(strcmp(own, "client-view") == 0);
  } else {
    fprintf(stderr,
            "note: no user namespace (%s): client keeps the host "
            "name\n",
            strerror(errno));
  }
  CHECK(psock_gethostname(buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, fx.root.hostname) == 0 && strcmp(buf, API_HOSTNAME) == 0);
  /* The seed's getfqdn(): the first name with a dot, from psockd's view. */
  CHECK(psock_getfqdn(NULL, buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, API_FQDN) == 0);
  CHECK(psock_getfqdn("", buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, API_FQDN) == 0);
  CHECK(psock_getfqdn(API_HOSTNAME, buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, API_FQDN) == 0);
  /* No dotted name: the primary name of the entry. */
  CHECK(psock_getfqdn("127.0.0.1", buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, "localhost") == 0);
  return 0;
}

static int client_gethostname_refused(void *arg) {
  char buf[256];

  /* A name that cannot be looked up is not an error: it comes back. */
  CHECK(psock_getfqdn("nothing.invalid", buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, "nothing.invalid") == 0);
  /* A buffer too small for the answer is. */
  CHECK(psock_gethostname(buf, 4) == -1);
  CHECK(api_is_os_error(ERANGE));
  CHECK(psock_getfqdn(NULL, buf, 4) == -1);
  CHECK(api_is_os_error(ERANGE));
  return 0;
}

static void test_gethostname_and_getfqdn_from_psockd(void **state) {
  assert_as_nobody(0, client_gethostname, NULL);
}

static void test_getfqdn_unknown_name_and_small_buffer(void **state) {
  assert_as_nobody(0, client_gethostname_refused, NULL);
}

/* ------------------------------------------- protocols, services, ipv6 */

static int client_numbers(void *arg) {
  char buf[32];

  CHECK(psock_getprotobyname("icmp") == 1 && fx.root.icmp == 1);
  CHECK(psock_getprotobyname("tcp") == fx.root.tcp);
  CHECK(psock_getservbyname("http", "tcp") == 80 && fx.root.http == 80);
  CHECK(psock_getservbyname("domain", NULL) == fx.root.domain);
  CHECK(psock_getservbyport(80, "tcp", buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, "http") == 0);
  CHECK(psock_getservbyport(53, NULL, buf, sizeof(buf)) == 0);
  CHECK(strcmp(buf, "domain") == 0);
  CHECK(psock_has_ipv6() == fx.root.has_ipv6 && fx.root.has_ipv6 == 1);
  return 0;
}

static int client_numbers_refused(void *arg) {
  char buf[32];

  CHECK(psock_getprotobyname("no-such-protocol") == -1);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(strcmp(psock_last_error_message(), "protocol not found") == 0);
  CHECK(psock_getservbyname("no-such-service", "tcp") == -1);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(strcmp(psock_last_error_message(), "service/proto not found") == 0);
  CHECK(!fx.root.port3_has_service);
  CHECK(psock_getservbyport(3, "tcp", buf, sizeof(buf)) == -1);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(strcmp(psock_last_error_message(), "port/proto not found") == 0);
  CHECK(psock_getservbyport(70000, "tcp", buf, sizeof(buf)) == -1);
  CHECK(api_is_value_error());
  return 0;
}

static void test_protocols_services_has_ipv6(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_numbers, NULL);
}

static void test_unknown_protocol_service_port_refused(void **state) {
  assert_as_nobody(0, client_numbers_refused, NULL);
}

/* ------------------------------------------------------------ pure */

static int client_pure(void *arg) {
  uint8_t packed[16], four[4] = {123, 45, 67, 89};
  char text[64];

  /* No daemon needed: these work with psockd unreachable. */
  CHECK(setenv("PSOCK_SOCKET", "/nonexistent/psockd.sock", 1) == 0);
  CHECK(psock_htonl(0x01020304) == htonl(0x01020304));
  CHECK(psock_htons(0x0102) == htons(0x0102));
  CHECK(psock_ntohl(htonl(0xdeadbeef)) == 0xdeadbeef);
  CHECK(psock_ntohs(htons(0xbeef)) == 0xbeef);
  CHECK(psock_inet_aton("127.1", packed) == 0);
  CHECK(memcmp(packed, "\x7f\x00\x00\x01", 4) == 0);
  CHECK(psock_inet_ntoa(four, 4, text, sizeof(text)) == 0);
  CHECK(strcmp(text, "123.45.67.89") == 0);
  CHECK(psock_inet_pton(AF_INET6, "5aef:2b::8", packed, sizeof(packed)) == 16);
  CHECK(psock_inet_ntop(AF_INET6, packed, 16, text, sizeof(text)) == 0);
  CHECK(strcmp(text, "5aef:2b::8") == 0);
  CHECK(psock_inet_pton(AF_INET, "7.10.0.5", packed, sizeof(packed)) == 4);
  CHECK(psock_inet_ntop(AF_INET, packed, 4, text, sizeof(text)) == 0);
  CHECK(strcmp(text, "7.10.0.5") == 0);
  return 0;
}

static int client_pure_refused(void *arg) {
  uint8_t packed[16] = {0};
  char text[64];

  /* inet_ntoa: not 4 bytes is socket.error (the seed). */
  CHECK(psock_inet_ntoa(packed, 3, text, sizeof(text)) == -1);
  CHECK(api_is_error(PSOCK_ERR_OS, EINVAL));
  /* inet_ntop: a wrong length or family is ValueError. */
  CHECK(psock_inet_ntop(AF_INET, packed, 16, text, sizeof(text)) == -1);
  CHECK(api_is_value_error());
  CHECK(psock_inet_ntop(AF_INET6, packed, 4, text, sizeof(text)) == -1);
  CHECK(api_is_value_error());
  CHECK(psock_inet_ntop(API_BOGUS_FAMILY, packed, 4, text, sizeof(text)) == -1);
  CHECK(api_is_value_error());
  /* inet_pton / inet_aton: bad text or family is socket.error. */
  CHECK(psock_inet_pton(API_BOGUS_FAMILY, "1.2.3.4", packed, 16) == -1);
  CHECK(api_is_os_error(EAFNOSUPPORT));
  CHECK(psock_inet_pton(AF_INET, "1.2.3", packed, 16) == -1);
  CHECK(api_is_error(PSOCK_ERR_OS, EINVAL));
  CHECK(psock_inet_aton("not.an.address", packed) == -1);
  CHECK(api_is_error(PSOCK_ERR_OS, EINVAL));
  return 0;
}

static void test_byte_order_and_inet_conversions(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_pure, NULL);
}

static void test_inet_conversions_bad_arguments_refused(void **state) {
  assert_as_nobody(0, client_pure_refused, NULL);
}

/* ------------------------------------------- a lookup that stalls */

/* In a second client process: the stalled lookup, which ends in a gaierror
 * after the resolver's timeout. Exit status 0 if it did. */
static _Noreturn void stalled_lookup(void) {
  psock_addrinfo *ai = NULL;
  double t = api_now();
  int r =
      psock_getaddrinfo(API_DNS_STALL, "80", AF_UNSPEC, SOCK_STREAM, 0, 0, &ai);

  t = api_now() - t;
  if (r == 0 || !is_gai(EAI_AGAIN) || t < 2.0) {
    fprintf(stderr, "stalled lookup: rc %d after %.2f s: kind %d code %d %s\n",
            r, t, psock_last_error_kind(), psock_last_error_code(),
            psock_last_error_message());
    psock_freeaddrinfo(ai);
    exit(1);
  }
  exit(0);
}

static int client_stall(void *arg) {
  unsigned before = api_dns_stalled(fx.dns);
  psock_addrinfo *ai = NULL;
  psock_sock *s;
  double t, socket_s, lookup_s;
  int status;
  pid_t pid;

  fflush(NULL);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    stalled_lookup();
  /* Wait until psockd's query has reached the resolver, unanswered. */
  t = api_now();
  while (api_dns_stalled(fx.dns) == before && api_now() - t < 2.0)
    usleep(5000);
  CHECK(api_dns_stalled(fx.dns) > before);
  /* Meanwhile this client is served at once: a socket, and a lookup. */
  t = api_now();
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  socket_s = api_now() - t;
  CHECK(psock_getaddrinfo("localhost", NULL, AF_INET, 0, 0, 0, &ai) == 0);
  lookup_s = api_now() - t - socket_s;
  psock_freeaddrinfo(ai);
  fprintf(stderr,
          "socket() took %.4f s, getaddrinfo(localhost) %.4f s while "
          "a lookup stalled\n",
          socket_s, lookup_s);
  CHECK(s != NULL && socket_s < PROMPT && lookup_s < PROMPT);
  /* ... while the other one is still waiting. */
  CHECK(waitpid(pid, &status, WNOHANG) == 0);
  psock_close(s);
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return 0;
}

static void test_stalled_lookup_does_not_delay_socket(void **state) {
  assert_as_nobody(0, client_stall, NULL);
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state) {
  static const char *const one_worker[] = {"--workers", "1", NULL};

  fx.dns = api_start_dns();
  api_private_name_service(api_dns_address(fx.dns));
  /* A host name of our own: API_HOSTS knows its FQDN. */
  if (unshare(CLONE_NEWUTS) < 0 ||
      sethostname(API_HOSTNAME, strlen(API_HOSTNAME)) < 0)
    fail_msg("private host name: %s", strerror(errno));
  read_root_view(&fx.root);
  /* One worker: a lookup that held its event loop would hold every call. */
  fx.psockd = harness_start_psockd(one_worker);
  api_watch_psockd(fx.psockd);
  return 0;
}

static int teardown(void **state) {
  api_watch_psockd(NULL);
  harness_stop_psockd(fx.psockd);
  api_stop_dns(fx.dns);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_getaddrinfo_answers_from_psockd),
      cmocka_unit_test(test_getaddrinfo_failure_is_gaierror),
      cmocka_unit_test(test_getnameinfo_numeric_and_names),
      cmocka_unit_test(test_getnameinfo_failure_is_gaierror),
      cmocka_unit_test(test_gethostbyname_and_ex),
      cmocka_unit_test(test_gethostbyname_failures_are_gaierror_and_herror),
      cmocka_unit_test(test_gethostbyaddr),
      cmocka_unit_test(test_gethostbyaddr_failure_is_herror),
      cmocka_unit_test(test_gethostname_and_getfqdn_from_psockd),
      cmocka_unit_test(test_getfqdn_unknown_name_and_small_buffer),
      cmocka_unit_test(test_protocols_services_has_ipv6),
      cmocka_unit_test(test_unknown_protocol_service_port_refused),
      cmocka_unit_test(test_byte_order_and_inet_conversions),
      cmocka_unit_test(test_inet_conversions_bad_arguments_refused),
      cmocka_unit_test(test_stalled_lookup_does_not_delay_socket),
  };

  return cmocka_run_group_tests_name("api-names", tests, setup, teardown);
}
