/* SPDX-License-Identifier: MIT */
/*
 * prog_run: running programs and small servers for the psock-run tests
 * (see prog_run.h).
 */
#include "prog_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

char run_files[96];

long long now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

void write_text(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

const char *system_program(const char *name) {
  static char buf[4][PATH_MAX];
  static int slot;
  const char *dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"};
  char *out = buf[slot++ % 4];

  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    snprintf(out, PATH_MAX, "%s/%s", dirs[i], name);
    if (access(out, X_OK) == 0)
      return out;
  }
  fail_msg("%s is not installed (./install-deps.sh installs it)", name);
  return NULL;
}

/* ------------------------------------------------------- running things */

/* In the child, before exec: our fds are gone, stdio are files. */
static void child_exec(const struct run *r, const char *inpath,
                       char *const *argv) {
  int in = open(inpath, O_RDONLY);
  int out = open(r->outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open(r->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
      dup2(err, 2) < 0 || chdir(r->cwd ? r->cwd : run_files) < 0)
    _exit(124);
  close_range(3, ~0U, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (size_t i = 0; r->extra_env && r->extra_env[i]; i++)
    putenv((char *)r->extra_env[i]);
  execv(argv[0], argv);
  _exit(124);
}

void start(struct run *r) {
  char inpath[PATH_MAX] = "/dev/null";
  const char *argv[64];
  size_t n = 0;

  snprintf(r->outpath, sizeof(r->outpath), "%s/%s.out", run_files, r->tag);
  snprintf(r->errpath, sizeof(r->errpath), "%s/%s.err", run_files, r->tag);
  if (r->stdin_text) {
    snprintf(inpath, sizeof(inpath), "%s/%s.in", run_files, r->tag);
    write_text(inpath, r->stdin_text, 0644);
  }
  if (r->nobody) {
    argv[n++] = "/usr/bin/setpriv";
    argv[n++] = "--reuid=65534";
    argv[n++] = "--regid=65534";
    argv[n++] = "--clear-groups";
  }
  for (size_t i = 0; r->argv[i]; i++) {
    assert_true(n < sizeof(argv) / sizeof(argv[0]) - 1);
    argv[n++] = r->argv[i];
  }
  argv[n] = NULL;
  fflush(NULL);
  r->pid = fork();
  assert_true(r->pid >= 0);
  if (r->pid == 0)
    child_exec(r, inpath, (char *const *)argv);
}

bool finish(struct run *r, int timeout_ms) {
  long long deadline = now_ms() + timeout_ms;
  bool done = false;

  while (!done) {
    if (waitpid(r->pid, &r->status, WNOHANG) == r->pid) {
      done = true;
    } else if (now_ms() >= deadline) {
      kill(r->pid, SIGKILL);
      waitpid(r->pid, &r->status, 0);
      break;
    } else {
      sleep_ms(5);
    }
  }
  free(r->out);
  free(r->err);
  r->out = harness_read_text(r->outpath);
  r->err = harness_read_text(r->errpath);
  return done;
}

void show(const struct run *r) {
  fprintf(stderr, "----- %s (pid %d, wait status 0x%x) stdout -----\n%s",
          r->tag, (int)r->pid, r->status, r->out ? r->out : "");
  fprintf(stderr, "----- %s stderr -----\n%s-----\n", r->tag,
          r->err ? r->err : "");
}

void run_free(struct run *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

int exit_code(const struct run *r) {
  return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

void assert_has(const struct run *r, const char *text, const char *want) {
  if (!strstr(text, want)) {
    show(r);
    fail_msg("%s: output lacks \"%s\"", r->tag, want);
  }
}

void assert_lacks(const struct run *r, const char *text, const char *unwanted) {
  if (strstr(text, unwanted)) {
    show(r);
    fail_msg("%s: output has \"%s\"", r->tag, unwanted);
  }
}

void assert_exit(const struct run *r, int want) {
  if (exit_code(r) != want) {
    show(r);
    fail_msg("%s: exit status %d, want %d", r->tag, exit_code(r), want);
  }
}

/* Run to completion as nobody. */
void run_nobody(struct run *r) {
  r->nobody = true;
  start(r);
  if (!finish(r, RUN_TIMEOUT_MS)) {
    show(r);
    fail_msg("%s: still running after %d ms", r->tag, RUN_TIMEOUT_MS);
  }
}

/* A line of psockd's audit trail with every one of words, or fail. */
void assert_audit(const struct psockd_proc *p, const struct run *r,
                  const char *const *words) {
  char *log = harness_psockd_log(p);
  bool found = false;

  for (char *l = strtok(log, "\n"); l && !found; l = strtok(NULL, "\n")) {
    found = strstr(l, "audit: ") != NULL;
    for (size_t i = 0; found && words[i]; i++)
      found = strstr(l, words[i]) != NULL;
  }
  free(log);
  if (!found) {
    show(r);
    harness_print_psockd_log(p);
    fail_msg("%s: psockd's audit trail lacks a record with %s ...", r->tag,
             words[0]);
  }
}

/* ------------------------------------------------------------ servers */

/* Read an HTTP request's head (up to its blank line) from c into buf. */
static void read_head(int c, char *buf, size_t cap) {
  size_t got = 0;

  buf[0] = '\0';
  while (got < cap - 1 && !strstr(buf, "\r\n\r\n")) {
    ssize_t r = read(c, buf + got, cap - 1 - got);

    if (r <= 0)
      break;
    got += (size_t)r;
    buf[got] = '\0';
  }
}

/* A forked HTTP server on host:PORT (an ephemeral port, or port). */
pid_t start_http(const char *host, uint16_t *port, const char *body) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(*port)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  pid_t pid;

  assert_true(fd >= 0);
  inet_pton(AF_INET, host, &sin.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 64), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *port = ntohs(sin.sin_port);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char head[4096], out[512];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(120);
    for (;;) {
      int c = accept(fd, NULL, NULL), n;

      if (c < 0)
        continue;
      /* The whole head first: answering and closing with a request still
       * unread would reset the connection under the client. */
      read_head(c, head, sizeof(head));
      n = snprintf(out, sizeof(out),
                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
      (void)!write(c, out, (size_t)n);
      close(c);
    }
  }
  close(fd);
  return pid;
}

/* A forked UDP echo server on 127.0.0.1; its port in *port. */
pid_t start_udp_echo(uint16_t *port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  pid_t pid;

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *port = ntohs(sin.sin_port);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char buf[2048];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(120);
    for (;;) {
      struct sockaddr_storage from;
      socklen_t fl = sizeof(from);
      ssize_t n =
          recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

      if (n > 0)
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
  }
  close(fd);
  return pid;
}

/* Did anything reach the trap? */
bool trap_reached(int fd, int type) {
  char buf[16];
  int c;

  if (type == SOCK_DGRAM)
    return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0;
  c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c >= 0)
    close(c);
  return c >= 0;
}

void stop_pid(pid_t pid) {
  int status;

  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
}

/* GET / from 127.0.0.1:80 of the network namespace of process pid (a
 * psockd of its own: port 80 there is nobody else's). */
bool fetch_port80(pid_t pid, char *buf, size_t len) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons(80),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  static const char req[] = "GET / HTTP/1.0\r\n\r\n";
  char path[64];
  int p[2], status;
  pid_t child;
  ssize_t n;
  size_t got = 0;

  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  fflush(NULL);
  child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    int ns = open(path, O_RDONLY | O_CLOEXEC), fd;

    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
      _exit(1);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        write(fd, req, sizeof(req) - 1) != sizeof(req) - 1)
      _exit(1);
    while ((n = read(fd, buf, len)) > 0)
      if (write(p[1], buf, (size_t)n) != n)
        _exit(1);
    _exit(0);
  }
  close(p[1]);
  while (got < len - 1 && (n = read(p[0], buf + got, len - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = '\0';
  close(p[0]);
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A listener whose queue is full: a connect() to it cannot complete. */
int full_listener(uint16_t *port, int *filler) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(l, 0), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
  *port = ntohs(sin.sin_port);
  /* Backlog 0 queues one connection; that one fills it. */
  *filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(*filler, (struct sockaddr *)&sin, sizeof(sin)), 0);
  sleep_ms(50);
  return l;
}

void copy_in(const char *work, const char *var, const char *name, char *dst) {
  const char *src = getenv(var);

  if (!src || !*src)
    fail_msg("%s is not set: run this test through `meson test`", var);
  snprintf(dst, PATH_MAX, "%s/%s", work, name);
  if (harness_copy_file(src, dst, 0755) < 0)
    fail_msg("copying %s: %s", src, strerror(errno));
}

/* Build tests/integration/go/NAME offline (TESTING.md), into dst. */
void go_build(const char *work, const char *name, bool cgo, char *dst) {
  const char *root = getenv("PSOCK_SOURCE_ROOT");
  char dir[PATH_MAX], cmd[8 * PATH_MAX];

  if (!root || !*root)
    fail_msg("PSOCK_SOURCE_ROOT is not set: run this test through `meson "
             "test`");
  snprintf(dir, sizeof(dir), "%s/go-%s", work, name);
  snprintf(dst, PATH_MAX, "%s/%s-%s", work, name, cgo ? "cgo" : "static");
  snprintf(cmd, sizeof(cmd),
           "set -e; mkdir -p '%s'; cp '%s/tests/integration/go/%s/main.go' "
           "'%s/'; printf 'module t\\ngo 1.19\\n' > '%s/go.mod'; cd '%s'; "
           "HOME='%s' GOPATH='%s/gopath' GOCACHE='%s/gocache' GOFLAGS=-mod=mod "
           "GOPROXY=off CGO_ENABLED=%d go build -o '%s' . ; chmod 755 '%s'",
           dir, root, name, dir, dir, dir, work, work, work, cgo ? 1 : 0, dst,
           dst);
  if (system(cmd) != 0)
    fail_msg("go build of %s failed (./install-deps.sh installs golang-go)",
             name);
}
