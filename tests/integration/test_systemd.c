/* SPDX-License-Identifier: MIT */
/*
 * systemd integration without systemd as PID 1: psockd started the way the
 * service manager starts it, by systemd-socket-activate (a listening socket
 * as fd 3 with LISTEN_FDS, activation on the first connection) with
 * NOTIFY_SOCKET pointing at a datagram socket this test reads.
 *
 * - Activation by a client running as nobody, which gets a UDP socket from
 *   psockd and uses it; READY=1, then STATUS= lines that count workers,
 *   clients and requests (the request just served among them).
 * - SIGHUP: RELOADING=1 (with MONOTONIC_USEC=), then READY=1.
 * - SIGTERM: STOPPING=1, exit status 0.
 * - The refused twins: a listening socket that is SOCK_STREAM, or two
 *   sockets, make psockd exit with status 1 and a message that says what
 *   it got and what it needs, without READY=1.
 *
 * Client functions run in a forked child: CHECK(), never cmocka asserts.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"

#define DIR_TEMPLATE "/tmp/psock-sd.XXXXXX"
#define NOTIFY_TIMEOUT_MS 10000
#define EXIT_TIMEOUT_MS 10000

struct activated {
  pid_t pid; /* systemd-socket-activate, which becomes psockd */
  char dir[sizeof(DIR_TEMPLATE)];
  char sock[sizeof(DIR_TEMPLATE) + 16];
  char sock2[sizeof(DIR_TEMPLATE) + 16];
  char notify[sizeof(DIR_TEMPLATE) + 16];
  char log[sizeof(DIR_TEMPLATE) + 16];
  int notify_fd;
  char seen[16384]; /* every notification so far, for failure messages */
  size_t seen_len;
};

/* The psockd under test (file scope, so that teardown can clean up after a
 * failed assertion) and a pointer to it while it runs. */
static struct activated fx;
static struct activated *cur;

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static char *read_log(const struct activated *a) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(a->log, "re");

  if (!f || getdelim(&text, &len, '\0', f) < 0) {
    free(text);
    text = strdup("");
  }
  if (f)
    fclose(f);
  assert_non_null(text);
  return text;
}

static void report(const struct activated *a) {
  char *text = read_log(a);

  fprintf(stderr,
          "----- psockd log (%s) -----\n%s\n----- notifications -----\n%.*s"
          "----- end\n",
          a->log, text, (int)a->seen_len, a->seen);
  free(text);
}

#define fail_report(...)                                                       \
  do {                                                                         \
    if (cur)                                                                   \
      report(cur);                                                             \
    fail_msg(__VA_ARGS__);                                                     \
  } while (0)

/* A datagram socket at path for sd_notify() to send to. */
static int notify_socket(const char *path) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  assert_true(fd >= 0);
  assert_true(strlen(path) < sizeof(sun.sun_path));
  strcpy(sun.sun_path, path);
  assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  return fd;
}

/*
 * Read notifications until one datagram has a line that starts with want
 * (READY=1, STATUS=, ...) and, if also is not NULL, contains also; copy
 * that datagram into out. False after timeout_ms without one.
 */
static bool wait_notify(struct activated *a, const char *want, const char *also,
                        int timeout_ms, char *out, size_t outlen) {
  int64_t deadline = now_ms() + timeout_ms;

  for (;;) {
    struct pollfd p = {.fd = a->notify_fd, .events = POLLIN};
    char buf[4096];
    ssize_t n;
    int left = (int)(deadline - now_ms());

    if (left <= 0 || poll(&p, 1, left) <= 0)
      return false;
    n = recv(a->notify_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
      continue;
    buf[n] = '\0';
    if (a->seen_len + (size_t)n + 2 < sizeof(a->seen)) {
      memcpy(a->seen + a->seen_len, buf, (size_t)n);
      a->seen_len += (size_t)n;
      a->seen[a->seen_len++] = '\n';
    }
    for (char *line = buf; line && *line;) {
      char *nl = strchr(line, '\n');

      if (strncmp(line, want, strlen(want)) == 0 &&
          (!also || strstr(line, also))) {
        snprintf(out, outlen, "%s", buf);
        return true;
      }
      line = nl ? nl + 1 : NULL;
    }
  }
}

/* The number just before " requests" in a STATUS= line, or -1. */
static long requests_in(const char *status) {
  const char *p = strstr(status, " requests");

  if (!p)
    return -1;
  while (p > status && p[-1] >= '0' && p[-1] <= '9')
    p--;
  return strtol(p, NULL, 10);
}

static void exec_activate(const struct activated *a, bool seqpacket,
                          bool two_sockets) {
  const char *bin = getenv("PSOCKD");
  char notify_env[sizeof(a->notify) + 16];
  const char *argv[32];
  int n = 0, fd;

  snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", a->notify);
  argv[n++] = "systemd-socket-activate";
  if (seqpacket)
    argv[n++] = "--seqpacket";
  argv[n++] = "-l";
  argv[n++] = a->sock;
  if (two_sockets) {
    argv[n++] = "-l";
    argv[n++] = a->sock2;
  }
  argv[n++] = "-E";
  argv[n++] = notify_env;
  /* Only what -E names reaches psockd; keep the sanitizers' settings. */
  if (getenv("ASAN_OPTIONS")) {
    argv[n++] = "-E";
    argv[n++] = "ASAN_OPTIONS";
  }
  if (getenv("UBSAN_OPTIONS")) {
    argv[n++] = "-E";
    argv[n++] = "UBSAN_OPTIONS";
  }
  argv[n++] = bin;
  argv[n++] = "--workers";
  argv[n++] = "2";
  argv[n++] = "--verbose";
  argv[n] = NULL;

  fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
    _exit(126);
  /* What systemd-socket-activate sets itself must not come from us. */
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDNAMES");
  unsetenv("NOTIFY_SOCKET");
  unsetenv("JOURNAL_STREAM");
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  execvp(argv[0], (char *const *)argv);
  _exit(127);
}

/* Is there a listening socket bound to path? (/proc/net/unix, without
 * connecting: a connection would start psockd.) */
static bool listening(const char *path) {
  FILE *f = fopen("/proc/net/unix", "re");
  char line[512];
  bool found = false;

  if (!f)
    return false;
  while (!found && fgets(line, sizeof(line), f)) {
    unsigned long flags;
    char name[256] = "";

    /* Num RefCount Protocol Flags Type St Inode Path */
    if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %255s", &flags, name) == 2 &&
        strcmp(name, path) == 0 && (flags & 0x10000 /* __SO_ACCEPTCON */))
      found = true;
  }
  fclose(f);
  return found;
}

/* Start systemd-socket-activate; wait until its socket(s) listen. */
static void start(struct activated *a, bool seqpacket, bool two_sockets) {
  const char *bin = getenv("PSOCKD");
  int64_t deadline;

  if (!bin || access(bin, X_OK) < 0)
    fail_msg("PSOCKD is not set or not executable: run through meson test");
  if (system("command -v systemd-socket-activate >/dev/null") != 0)
    fail_msg("systemd-socket-activate is missing (package systemd; "
             "./install-deps.sh installs it)");
  memset(a, 0, sizeof(*a));
  memcpy(a->dir, DIR_TEMPLATE, sizeof(a->dir));
  assert_non_null(mkdtemp(a->dir));
  /* nobody must reach the socket inside. */
  assert_int_equal(chmod(a->dir, 0755), 0);
  snprintf(a->sock, sizeof(a->sock), "%s/psockd.sock", a->dir);
  snprintf(a->sock2, sizeof(a->sock2), "%s/second.sock", a->dir);
  snprintf(a->notify, sizeof(a->notify), "%s/notify", a->dir);
  snprintf(a->log, sizeof(a->log), "%s/psockd.log", a->dir);
  a->notify_fd = notify_socket(a->notify);
  cur = a;

  fflush(NULL);
  a->pid = fork();
  assert_true(a->pid >= 0);
  if (a->pid == 0)
    exec_activate(a, seqpacket, two_sockets);

  deadline = now_ms() + 5000;
  for (;;) {
    struct stat st;

    if (stat(a->sock, &st) == 0 && S_ISSOCK(st.st_mode) && listening(a->sock) &&
        (!two_sockets || listening(a->sock2)))
      break;
    if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
      a->pid = 0;
      fail_report("systemd-socket-activate exited before listening");
    }
    if (now_ms() > deadline)
      fail_report("systemd-socket-activate did not listen within 5 s");
    sleep_ms(10);
  }
  /* What SocketMode= does: systemd-socket-activate leaves it to the umask. */
  assert_int_equal(chmod(a->sock, 0666), 0);
  assert_int_equal(setenv("PSOCK_SOCKET", a->sock, 1), 0);
}

/* Wait (bounded) for the process to end; its wait status, or -1. */
static int wait_exit(struct activated *a) {
  int64_t deadline = now_ms() + EXIT_TIMEOUT_MS;
  int status;

  while (now_ms() < deadline) {
    if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
      a->pid = 0;
      return status;
    }
    sleep_ms(10);
  }
  return -1;
}

static void finish(struct activated *a) {
  if (a->pid > 0) {
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
  }
  close(a->notify_fd);
  unlink(a->sock);
  unlink(a->sock2);
  unlink(a->notify);
  unlink(a->log);
  rmdir(a->dir);
  unsetenv("PSOCK_SOCKET");
  cur = NULL;
}

/*
 * Connect a socket of the given type to path (to trigger activation),
 * retrying for a while: the path exists from bind(), before listen().
 */
static int connect_to(const char *path, int type) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int64_t deadline = now_ms() + 5000;

  strcpy(sun.sun_path, path);
  for (;;) {
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
      return fd;
    close(fd);
    if (now_ms() > deadline)
      return -1;
    sleep_ms(10);
  }
}

/* ------------------------------------------------------------ clients */

/* As nobody: a UDP socket from psockd, bound to loopback, one datagram to
 * itself and back. */
static int client_udp_roundtrip(void *arg) {
  static const char msg[] = "activated";
  psock_address addr, from;
  char buf[64];
  psock_sock *s;

  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);
  CHECK(psock_addr_inet(&addr, "127.0.0.1", 0) == 0);
  CHECK(psock_bind(s, &addr) == 0);
  CHECK(psock_getsockname(s, &addr) == 0);
  CHECK(addr.u.in.port != 0);
  CHECK(psock_settimeout(s, 5.0) == 0);
  CHECK(psock_sendto(s, msg, sizeof(msg), &addr) == (ssize_t)sizeof(msg));
  CHECK(psock_recvfrom(s, buf, sizeof(buf), 0, &from) == (ssize_t)sizeof(msg));
  CHECK(memcmp(buf, msg, sizeof(msg)) == 0);
  CHECK(psock_close(s) == 0);
  return 0;
}

/* -------------------------------------------------------------- tests */

static void test_activation_ready_status_reload_stop(void **state) {
  struct activated *a = &fx;
  char got[4096];
  long requests = -1;
  int64_t deadline;
  int status;

  start(a, true, false);
  /* Nothing runs psockd until a client connects. */
  if (wait_notify(a, "READY=1", NULL, 300, got, sizeof(got)))
    fail_report("READY=1 before any client connected");

  if (harness_run_as_nobody(0, client_udp_roundtrip, NULL) != 0)
    fail_report("nobody's UDP round trip through the activated psockd");
  if (!wait_notify(a, "READY=1", NULL, NOTIFY_TIMEOUT_MS, got, sizeof(got)))
    fail_report("no READY=1 from the activated psockd");
  {
    char *log = read_log(a);
    bool said = strstr(log, "activated on the socket passed by systemd");

    free(log);
    if (!said)
      fail_report("psockd did not log that it was socket-activated");
  }

  /* STATUS= every second; the request just served shows up in it. */
  deadline = now_ms() + NOTIFY_TIMEOUT_MS;
  while (requests < 1 && now_ms() < deadline) {
    if (!wait_notify(a, "STATUS=", NULL, NOTIFY_TIMEOUT_MS, got, sizeof(got)))
      fail_report("no STATUS= after READY=1");
    if (!strstr(got, "workers") || !strstr(got, "clients") ||
        !strstr(got, "requests"))
      fail_report("STATUS= without workers/clients/requests: %s", got);
    requests = requests_in(got);
  }
  if (requests < 1)
    fail_report("no STATUS= counted the request served: %s", got);

  /* SIGHUP: RELOADING=1 with its timestamp, then READY=1 again. */
  assert_int_equal(kill(a->pid, SIGHUP), 0);
  if (!wait_notify(a, "RELOADING=1", NULL, NOTIFY_TIMEOUT_MS, got, sizeof(got)))
    fail_report("no RELOADING=1 after SIGHUP");
  if (!strstr(got, "MONOTONIC_USEC="))
    fail_report("RELOADING=1 without MONOTONIC_USEC=: %s", got);
  if (!wait_notify(a, "READY=1", NULL, NOTIFY_TIMEOUT_MS, got, sizeof(got)))
    fail_report("no READY=1 after RELOADING=1");
  /* Still serving. */
  if (harness_run_as_nobody(0, client_udp_roundtrip, NULL) != 0)
    fail_report("nobody's UDP round trip after the reload");

  /* SIGTERM: STOPPING=1 and a clean exit. */
  assert_int_equal(kill(a->pid, SIGTERM), 0);
  if (!wait_notify(a, "STOPPING=1", NULL, NOTIFY_TIMEOUT_MS, got, sizeof(got)))
    fail_report("no STOPPING=1 after SIGTERM");
  status = wait_exit(a);
  if (status == -1)
    fail_report("psockd did not exit within %d ms of SIGTERM", EXIT_TIMEOUT_MS);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_report("psockd ended with wait status 0x%x after SIGTERM", status);
  finish(a);
}

/* The refused twin: the wrong kind of socket, or too many. */
static void expect_refused(bool seqpacket, bool two, int type,
                           const char *message) {
  struct activated *a = &fx;
  char got[4096], *log;
  int status, fd;

  start(a, seqpacket, two);
  fd = connect_to(a->sock, type);
  if (fd < 0)
    fail_report("cannot connect to %s to trigger activation", a->sock);
  status = wait_exit(a);
  close(fd);
  if (status == -1)
    fail_report("psockd kept running with a socket it cannot use");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
    fail_report("psockd ended with wait status 0x%x, not exit status 1",
                status);
  log = read_log(a);
  if (!strstr(log, message)) {
    free(log);
    fail_report("psockd's error does not say \"%s\"", message);
  }
  free(log);
  if (wait_notify(a, "READY=1", NULL, 0, got, sizeof(got)))
    fail_report("READY=1 from a psockd that cannot serve");
  finish(a);
}

static void test_stream_socket_refused(void **state) {
  expect_refused(false, false, SOCK_STREAM,
                 "socket activation: the socket passed is AF_UNIX "
                 "SOCK_STREAM, listening, not a listening AF_UNIX "
                 "SOCK_SEQPACKET socket");
}

static void test_two_sockets_refused(void **state) {
  expect_refused(true, true, SOCK_SEQPACKET,
                 "socket activation: got 2 sockets, psockd takes exactly one");
}

/* After a failed assertion: stop what is still running, remove files. */
static int teardown(void **state) {
  if (cur)
    finish(cur);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_activation_ready_status_reload_stop,
                                teardown),
      cmocka_unit_test_teardown(test_stream_socket_refused, teardown),
      cmocka_unit_test_teardown(test_two_sockets_refused, teardown),
  };

  /* Replies from psockd and the client's children must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
