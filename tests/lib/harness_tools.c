/* SPDX-License-Identifier: MIT */
/*
 * Small tools of the integration tests that more than one test program
 * needs (see harness.h, "tools several test programs share"): waiting on
 * flags in shared memory, psockd's log and processes, a child's verdict,
 * policy files, a name server that never answers, ICMP echo by hand. Kept
 * apart from harness.c, which starts psockd and the clients.
 *
 * Trust: this runs as root in test programs only, or in their clients.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

double harness_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void harness_stop_own_psockd(struct psockd_proc *p,
                             const struct psockd_proc *back_to) {
  harness_stop_psockd(p);
  assert_int_equal(setenv("PSOCK_SOCKET", harness_psockd_socket(back_to), 1),
                   0);
}

void *harness_shared_memory(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);

  if (p == MAP_FAILED)
    fail_msg("mmap: %s", strerror(errno));
  return p;
}

bool harness_wait_flag(volatile int *flag, int want, int timeout_ms) {
  double end = harness_now_ms() + timeout_ms;

  while (*flag < want) {
    if (harness_now_ms() > end)
      return false;
    usleep(1000);
  }
  return true;
}

void harness_assert_child(const struct psockd_proc *p, int r,
                          const char *what) {
  if (r == 0)
    return;
  if (p)
    harness_print_psockd_log(p);
  fail_msg("%s failed (%d; see stderr)", what, r);
}

/* ------------------------------------------------------ psockd's log */

unsigned harness_psockd_log_count(const struct psockd_proc *p,
                                  const char *text) {
  char *log = harness_psockd_log(p);
  unsigned n = 0;

  for (const char *s = log; (s = strstr(s, text)); s += strlen(text))
    n++;
  free(log);
  return n;
}

bool harness_psockd_logged(const struct psockd_proc *p, const char *text,
                           unsigned n, int timeout_ms) {
  double deadline = harness_now_ms() + timeout_ms;

  for (;;) {
    if (harness_psockd_log_count(p, text) >= n)
      return true;
    if (harness_now_ms() >= deadline)
      return false;
    usleep(10000);
  }
}

void harness_assert_logged(const struct psockd_proc *p, const char *text,
                           unsigned n, int timeout_ms) {
  if (harness_psockd_logged(p, text, n, timeout_ms))
    return;
  harness_print_psockd_log(p);
  fail_msg("psockd's log does not say \"%s\" %u time(s)", text, n);
}

pid_t harness_psockd_one_proc(const struct psockd_proc *p, const char *title,
                              int timeout_ms) {
  double deadline = harness_now_ms() + timeout_ms;
  pid_t pid = 0;
  int n;

  while ((n = harness_psockd_procs(p, title, &pid, 1)) != 1) {
    if (harness_now_ms() >= deadline) {
      fprintf(stderr, "psockd has %d processes titled \"%s\", not one\n", n,
              title);
      return 0;
    }
    usleep(10000);
  }
  return pid;
}

bool harness_last_error(int kind, int code, const char *text) {
  const char *msg = psock_last_error_message();

  if (psock_last_error_kind() == kind && psock_last_error_code() == code &&
      (!text || strstr(msg, text)))
    return true;
  fprintf(stderr,
          "expected psock error kind %d code %d%s%s%s; got kind %d code %d "
          "\"%s\"\n",
          kind, code, text ? " saying \"" : "", text ? text : "",
          text ? "\"" : "", psock_last_error_kind(), psock_last_error_code(),
          msg);
  return false;
}

/* ------------------------------------------------------ policy files */

void harness_write_policy(const char *path, const char *rules,
                          bool with_default) {
  char tmp[PATH_MAX], cmd[PATH_MAX + 32];
  FILE *out, *in;
  int c;

  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  out = fopen(tmp, "we");
  if (!out)
    fail_msg("%s: %s", tmp, strerror(errno));
  assert_true(fputs(rules, out) >= 0);
  if (with_default) {
    snprintf(cmd, sizeof(cmd), "'%s' --dump-policy", getenv("PSOCKD"));
    in = popen(cmd, "re");
    assert_non_null(in);
    while ((c = fgetc(in)) != EOF)
      fputc(c, out);
    assert_int_equal(pclose(in), 0);
  }
  assert_int_equal(fclose(out), 0);
  assert_int_equal(rename(tmp, path), 0);
}

/* -------------------------------------- a name server that never answers */

int harness_silent_name_service(unsigned net, int timeout_s, const char *hosts,
                                char *ret_resolv, size_t size) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
  unsigned pid = (unsigned)getpid();
  char addr[32], nsswitch[256];
  int fd;

  snprintf(addr, sizeof(addr), "127.%u.%u.%u", net, (pid >> 8) & 0xff,
           pid & 0xff);
  snprintf(ret_resolv, size, "nameserver %s\noptions timeout:%d attempts:1\n",
           addr, timeout_s);
  snprintf(nsswitch, sizeof(nsswitch), HARNESS_NSSWITCH_FMT, hosts);
  harness_private_name_service(HARNESS_HOSTS_LOCALHOST, ret_resolv, nsswitch);
  inet_pton(AF_INET, addr, &sin.sin_addr);
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
    fail_msg("bind %s:53: %s", addr, strerror(errno));
  return fd;
}

/* ---------------------------------------------------------- ICMP echo */

#define PING_PAYLOAD "psock test ping"

bool harness_ping_group_allows(gid_t gid) {
  FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "re");
  long lo = 1, hi = 0;

  if (f) {
    if (fscanf(f, "%ld %ld", &lo, &hi) != 2)
      lo = 1, hi = 0;
    fclose(f);
  }
  return (long)gid >= lo && (long)gid <= hi;
}

uint16_t harness_inet_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t sum = 0;

  for (; len > 1; p += 2, len -= 2)
    sum += (uint32_t)(p[0] << 8 | p[1]);
  if (len)
    sum += (uint32_t)p[0] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

/* Is a reply to (id, seq) in this IPv4 packet from a raw socket? */
static bool is_raw_echo_reply(const uint8_t *pkt, size_t len, uint16_t id,
                              uint16_t seq) {
  const struct icmphdr *icmp;
  size_t ihl;

  if (len < sizeof(struct ip) || (pkt[0] >> 4) != 4)
    return false;
  ihl = (size_t)(pkt[0] & 0x0f) * 4;
  if (len < ihl + sizeof(*icmp) + sizeof(PING_PAYLOAD))
    return false;
  icmp = (const struct icmphdr *)(pkt + ihl);
  return icmp->type == ICMP_ECHOREPLY && ntohs(icmp->un.echo.id) == id &&
         ntohs(icmp->un.echo.sequence) == seq &&
         harness_inet_checksum(pkt + ihl, len - ihl) == 0 &&
         memcmp(pkt + ihl + sizeof(*icmp), PING_PAYLOAD,
                sizeof(PING_PAYLOAD)) == 0;
}

/* Is this message from a ping socket (no IP header) an echo reply? */
static bool is_dgram_echo_reply(const uint8_t *msg, size_t len) {
  const struct icmphdr *icmp = (const struct icmphdr *)msg;

  return len == sizeof(*icmp) + sizeof(PING_PAYLOAD) &&
         icmp->type == ICMP_ECHOREPLY &&
         memcmp(msg + sizeof(*icmp), PING_PAYLOAD, sizeof(PING_PAYLOAD)) == 0;
}

int harness_ping_loopback(psock_sock *s, uint16_t id, uint16_t seq) {
  uint8_t req[sizeof(struct icmphdr) + sizeof(PING_PAYLOAD)], buf[2048];
  struct icmphdr *icmp = (struct icmphdr *)req;
  bool raw = psock_type(s) == SOCK_RAW;
  time_t deadline = time(NULL) + 5;
  psock_address to, from;

  memset(req, 0, sizeof(req));
  icmp->type = ICMP_ECHO;
  icmp->un.echo.id = htons(id);
  icmp->un.echo.sequence = htons(seq);
  memcpy(req + sizeof(*icmp), PING_PAYLOAD, sizeof(PING_PAYLOAD));
  icmp->checksum = harness_inet_checksum(req, sizeof(req));
  CHECK(psock_addr_inet(&to, "127.0.0.1", 0) == 0);
  CHECK(psock_sendto(s, req, sizeof(req), &to) == (ssize_t)sizeof(req));
  CHECK(psock_settimeout(s, 0.5) == 0);
  while (time(NULL) < deadline) {
    ssize_t n = psock_recvfrom(s, buf, sizeof(buf), 0, &from);

    if (n < 0 && psock_last_error_kind() == PSOCK_ERR_TIMEOUT)
      continue;
    CHECK(n > 0);
    /* On loopback a raw socket sees our own request too; so may others'
     * traffic. */
    if (raw ? is_raw_echo_reply(buf, (size_t)n, id, seq)
            : is_dgram_echo_reply(buf, (size_t)n)) {
      CHECK(from.family == AF_INET);
      CHECK(strcmp(from.u.in.host, "127.0.0.1") == 0);
      return 0;
    }
  }
  fprintf(stderr, "no ICMP echo reply for id %u seq %u within 5 s\n", id, seq);
  return __LINE__;
}

int harness_sanitizer_runtimes(char *out, size_t len, char *why,
                               size_t why_len) {
  const char *sanitize = getenv("PSOCK_SANITIZE");
  const char *runtimes = getenv("PSOCK_SANITIZER_RUNTIMES");

  out[0] = '\0';
  if (!sanitize || !*sanitize || strcmp(sanitize, "none") == 0)
    return 0;
  if (!runtimes || !*runtimes) {
    snprintf(why, why_len,
             "the preload is built with -fsanitize=%s and the runtimes it "
             "needs in front of it are unknown",
             sanitize);
    return -1;
  }
  /* Each runtime as the loader should load it (a resolved file name). */
  for (const char *p = runtimes; *p;) {
    size_t n = strcspn(p, ":");
    char name[PATH_MAX], real[PATH_MAX];

    snprintf(name, sizeof(name), "%.*s", (int)n, p);
    if (!realpath(name, real) || access(real, R_OK) < 0) {
      snprintf(why, why_len, "sanitizer runtime %s not found", name);
      return -1;
    }
    if (strlen(out) + strlen(real) + 2 > len) {
      snprintf(why, why_len, "sanitizer runtimes: list too long");
      return -1;
    }
    strcat(out, real);
    strcat(out, ":");
    p += n + (p[n] == ':');
  }
  return 0;
}

char *harness_read_text(const char *path) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(path, "re");

  if (!f)
    return strdup("");
  if (getdelim(&text, &len, '\0', f) < 0) {
    free(text);
    text = strdup("");
  }
  fclose(f);
  if (!text)
    abort();
  return text;
}

int harness_loopback_socket(int type, uint16_t *ret_port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  if (type == SOCK_STREAM)
    assert_int_equal(listen(fd, 4096), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *ret_port = ntohs(sin.sin_port);
  return fd;
}
