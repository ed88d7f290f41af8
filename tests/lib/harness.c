/* SPDX-License-Identifier: MIT */
/*
 * Test support for the integration tests (see harness.h): a real psockd on
 * a private socket, client code run as nobody in a forked child, and a TCP
 * echo server in another forked child.
 *
 * Trust: this runs as root in test programs only. The child side of
 * harness_run_as_nobody() gives up root before it runs any test code.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stddef.h>

#include <cmocka.h>

#define PSOCKD_START_TIMEOUT_MS 5000
#define PSOCKD_STOP_TIMEOUT_MS 10000

/* Words of $PSOCKD_WRAPPER put before psockd's command line, at most. */
#define PSOCKD_WRAPPER_MAX_WORDS 24

/* Fixed-size names: the directory comes from one fixed mkdtemp template. */
#define PSOCKD_DIR_TEMPLATE "/tmp/psock-test.XXXXXX"

struct psockd_proc {
  pid_t pid;
  char dir[sizeof(PSOCKD_DIR_TEMPLATE)];
  char socket[sizeof(PSOCKD_DIR_TEMPLATE) + sizeof("/psockd.sock")];
  char log[sizeof(PSOCKD_DIR_TEMPLATE) + sizeof("/psockd.log")];
};

/* ------------------------------------------------------------ helpers */

/*
 * $PSOCKD_WRAPPER (e.g. "valgrind --leak-check=full ..."): psockd is run
 * under it, and everything psockd does may take ten times longer.
 */
static const char *psockd_wrapper(void) {
  const char *w = getenv("PSOCKD_WRAPPER");
  return w && *w ? w : NULL;
}

static int slowdown(void) {
  return psockd_wrapper() ? 10 : 1;
}

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

/*
 * waitpid() for at most timeout_ms. Returns the pid, 0 on timeout, -1 on
 * error.
 */
static pid_t wait_bounded(pid_t pid, int *status, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  int pause = 1;

  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);

    if (r != 0 || now_ms() >= deadline)
      return r;
    sleep_ms(pause);
    if (pause < 20)
      pause *= 2;
  }
}

static void describe_status(int status, char *buf, size_t len) {
  if (WIFEXITED(status))
    snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else
    snprintf(buf, len, "wait status 0x%x", status);
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw) {
  if (remove(path) < 0)
    fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
  return 0;
}

static void remove_tree(const char *dir) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int harness_copy_file(const char *src, const char *dst, mode_t mode) {
  char buf[65536];
  int in, out, saved, ret = -1;
  ssize_t n;

  in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -1;
  out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (out < 0)
    goto out;
  while ((n = read(in, buf, sizeof(buf))) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      goto out;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));

      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        goto out;
      off += w;
    }
  }
  /* open()'s mode is filtered by the umask; the caller asked for this one. */
  ret = fchmod(out, mode);
out:
  saved = errno;
  close(in);
  if (out >= 0 && close(out) < 0 && ret == 0)
    ret = -1;
  else
    errno = saved;
  return ret;
}

/* ------------------------------------------------------------- psockd */

pid_t harness_psockd_pid(const struct psockd_proc *p) {
  return p->pid;
}

const char *harness_psockd_socket(const struct psockd_proc *p) {
  return p->socket;
}

const char *harness_psockd_dir(const struct psockd_proc *p) {
  return p->dir;
}

char *harness_psockd_log(const struct psockd_proc *p) {
  return harness_read_text(p->log);
}

void harness_print_psockd_log(const struct psockd_proc *p) {
  char *text = harness_psockd_log(p);

  fprintf(stderr, "----- psockd log (%s) -----\n%s%s----- end of psockd log\n",
          p->log, text, *text && text[strlen(text) - 1] != '\n' ? "\n" : "");
  free(text);
}

/* A probe connection: does psockd accept on its socket yet? */
static bool socket_accepts(const char *path) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd, r;

  if (strlen(path) >= sizeof(sun.sun_path))
    return false;
  memcpy(sun.sun_path, path, strlen(path) + 1);
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
  close(fd);
  return r == 0;
}

/* In the forked child, before exec: async-signal-safe calls only. */
/* A network namespace of psockd's own, as a host with systemd has it:
 * lo up, and ICMP datagram sockets for every group. */
static int enter_own_netns(void) {
  struct ifreq ifr = {0};
  int fd, r;

  if (unshare(CLONE_NEWNET) < 0)
    return -1;
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  r = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -1 : 0;
  ifr.ifr_flags |= IFF_UP;
  if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    r = -1;
  if (fd >= 0)
    close(fd);
  fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
  if (r == 0 && (fd < 0 || write(fd, "0 2147483647", 12) != 12))
    r = -1;
  if (fd >= 0)
    close(fd);
  return r;
}

/* psockd in its own pid namespace: the process it runs as pid 1 of. */
static volatile sig_atomic_t pidns_child;

static void forward_signal(int sig) {
  if (pidns_child > 0)
    kill((pid_t)pidns_child, sig);
}

/*
 * HARNESS_PSOCKD_OWN_PIDNS: unshare the pid namespace (for the children of
 * this process), fork psockd's process as its pid 1, forward SIGTERM to it
 * and _exit() with its status. Returns only in that child.
 */
static void enter_own_pidns(void) {
  struct sigaction sa = {.sa_handler = forward_signal};
  sigset_t term, old;
  int status;
  pid_t pid;

  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &old);
  if (unshare(CLONE_NEWPID) < 0) {
    fprintf(stderr, "harness: psockd's pid namespace: %m\n");
    _exit(125);
  }
  pid = fork();
  if (pid < 0)
    _exit(125);
  if (pid == 0) {
    /* Gone with the middle process, whatever it died of. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return;
  }
  pidns_child = pid;
  sigaction(SIGTERM, &sa, NULL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  sigprocmask(SIG_SETMASK, &old, NULL);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      _exit(125);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void exec_psockd(const char *log, char *const *argv, int flags) {
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

  if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 ||
      dup2(fd, 2) < 0)
    _exit(126);
  if ((flags & HARNESS_PSOCKD_OWN_NETNS) && enter_own_netns() < 0) {
    fprintf(stderr, "harness: psockd's network namespace: %m\n");
    _exit(125);
  }
  if (flags & HARNESS_PSOCKD_OWN_PIDNS)
    enter_own_pidns();
  else
    /* Do not outlive a test program that dies without stopping us. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
  execv(argv[0], argv);
  _exit(127);
}

/*
 * psockd processes started and not stopped yet. A test that fails half-way
 * (cmocka unwinds past its harness_stop_psockd()) leaves neither a daemon
 * nor a directory behind: the test program cleans them up as it exits.
 */
static struct psockd_proc *live[8];
static pid_t live_owner;

/* SIGTERM p, wait (bounded), SIGKILL if need be. The wait status or -1. */
static int terminate(struct psockd_proc *p, pid_t *ret_waited) {
  int status = -1;

  kill(p->pid, SIGTERM);
  *ret_waited =
      wait_bounded(p->pid, &status, PSOCKD_STOP_TIMEOUT_MS * slowdown());
  if (*ret_waited == 0) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
  }
  return status;
}

static void cleanup_at_exit(void) {
  pid_t waited;

  /* A forked client's exit() runs this too: it owns none of them. */
  if (getpid() != live_owner)
    return;
  for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
    if (!live[i])
      continue;
    terminate(live[i], &waited);
    remove_tree(live[i]->dir);
    free(live[i]);
    live[i] = NULL;
  }
}

static void live_set(struct psockd_proc *old, struct psockd_proc *new) {
  if (!live_owner) {
    live_owner = getpid();
    atexit(cleanup_at_exit);
  }
  for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
    if (live[i] == old) {
      live[i] = new;
      return;
    }
  }
  assert_null(new); /* more psockds at once than live[] holds */
}

/*
 * Split $PSOCKD_WRAPPER into words (copied into buf) at the start of argv;
 * the first is looked up in $PATH unless it holds a '/'. Returns the count.
 */
static size_t split_wrapper(char *buf, size_t size, const char **argv) {
  static char path[PATH_MAX];
  size_t n = 0;
  char *save = NULL;

  if ((size_t)snprintf(buf, size, "%s", psockd_wrapper()) >= size)
    fail_msg("PSOCKD_WRAPPER is too long");
  for (char *w = strtok_r(buf, " \t", &save); w;
       w = strtok_r(NULL, " \t", &save)) {
    if (n == PSOCKD_WRAPPER_MAX_WORDS)
      fail_msg("PSOCKD_WRAPPER has too many words");
    argv[n++] = w;
  }
  if (n == 0 || strchr(argv[0], '/'))
    return n;
  for (const char *dir = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
       *dir;) {
    size_t len = strcspn(dir, ":");

    snprintf(path, sizeof(path), "%.*s/%s", (int)len, dir, argv[0]);
    if (access(path, X_OK) == 0) {
      argv[0] = path;
      return n;
    }
    dir += len + (dir[len] == ':');
  }
  fail_msg("PSOCKD_WRAPPER: %s not found in $PATH", argv[0]);
  return 0;
}

/*
 * After psockd has exited: a report from AddressSanitizer, LeakSanitizer
 * (its roles check for leaks as they exit), UndefinedBehaviorSanitizer or
 * valgrind in its log is a failure, though psockd itself exited 0.
 */
static void sanitizer_report(const struct psockd_proc *p, char *why,
                             size_t len) {
  static const char *const marks[] = {
      /* AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer */
      "ERROR: AddressSanitizer",
      "ERROR: LeakSanitizer",
      "LeakSanitizer has encountered",
      "runtime error:",
      /* valgrind's memcheck (its error records; with -q it prints no
       * summary) */
      "definitely lost in loss record",
      "Invalid read of size",
      "Invalid write of size",
      "Invalid free",
      "Mismatched free",
      "uninitialised value",
      "uninitialised byte",
      "Source and destination overlap",
      "ERROR SUMMARY: 1",
      "ERROR SUMMARY: 2",
      "ERROR SUMMARY: 3",
      "ERROR SUMMARY: 4",
      "ERROR SUMMARY: 5",
      "ERROR SUMMARY: 6",
      "ERROR SUMMARY: 7",
      "ERROR SUMMARY: 8",
      "ERROR SUMMARY: 9",
  };
  char *log = harness_psockd_log(p);

  for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
    if (strstr(log, marks[i])) {
      snprintf(why, len, "psockd's log has a report (\"%s\")", marks[i]);
      break;
    }
  }
  free(log);
}

static void fail_start(struct psockd_proc *p, const char *why) {
  char text[256];

  snprintf(text, sizeof(text), "%s", why);
  harness_print_psockd_log(p);
  if (p->pid > 0) {
    int status;

    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
  }
  remove_tree(p->dir);
  free(p);
  fail_msg("psockd did not start: %s", text);
}

static bool harness_has_arg(const char *const *args, const char *prefix) {
  for (size_t i = 0; args && args[i]; i++)
    if (strncmp(args[i], prefix, strlen(prefix)) == 0)
      return true;
  return false;
}

struct psockd_proc *harness_start_psockd(const char *const *extra_args) {
  return harness_start_psockd_flags(0, extra_args);
}

struct psockd_proc *harness_start_psockd_flags(int flags,
                                               const char *const *extra_args) {
  const char *bin = getenv("PSOCKD");
  const char *argv[64 + PSOCKD_WRAPPER_MAX_WORDS];
  char wrapper[1024];
  size_t argc = 0;
  struct psockd_proc *p;
  int64_t deadline;

  if (!bin || !*bin)
    fail_msg("PSOCKD is not set: run this test through `meson test`");
  if (access(bin, X_OK) < 0)
    fail_msg("PSOCKD=%s: %s", bin, strerror(errno));

  p = calloc(1, sizeof(*p));
  assert_non_null(p);
  memcpy(p->dir, PSOCKD_DIR_TEMPLATE, sizeof(p->dir));
  if (!mkdtemp(p->dir))
    fail_msg("mkdtemp: %s", strerror(errno));
  /* nobody must be able to reach the socket inside. */
  assert_int_equal(chmod(p->dir, 0755), 0);
  snprintf(p->socket, sizeof(p->socket), "%s/psockd.sock", p->dir);
  snprintf(p->log, sizeof(p->log), "%s/psockd.log", p->dir);

  if (psockd_wrapper())
    argc = split_wrapper(wrapper, sizeof(wrapper), argv);
  argv[argc++] = bin;
  argv[argc++] = "--socket";
  argv[argc++] = p->socket;
  argv[argc++] = "--verbose";
  /* Clients run as nobody; psockd's own default (0600, or 0660 for the
   * group psock) would keep them out. test_attacks checks the default. */
  if (!harness_has_arg(extra_args, "--socket-mode"))
    argv[argc++] = "--socket-mode=0666";
  /* Idle workers go after a second: fd counts return to the start's. */
  if (!harness_has_arg(extra_args, "--worker-idle"))
    argv[argc++] = "--worker-idle=1";
  /* valgrind cannot run a process that installs a seccomp filter. */
  if (psockd_wrapper())
    argv[argc++] = "--no-seccomp";
  for (size_t i = 0; extra_args && extra_args[i]; i++) {
    assert_true(argc < sizeof(argv) / sizeof(argv[0]) - 1);
    argv[argc++] = extra_args[i];
  }
  argv[argc] = NULL;

  fflush(NULL);
  p->pid = fork();
  if (p->pid < 0) {
    fail_start(p, strerror(errno));
    return NULL; /* fail_start() does not return: cmocka jumps out */
  }
  if (p->pid == 0)
    exec_psockd(p->log, (char *const *)argv, flags);

  deadline = now_ms() + PSOCKD_START_TIMEOUT_MS * slowdown();
  for (;;) {
    int status;
    char why[128];

    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
      describe_status(status, why, sizeof(why));
      p->pid = 0;
      fail_start(p, why);
    }
    if (socket_accepts(p->socket))
      break;
    if (now_ms() >= deadline)
      fail_start(p, "its socket accepted no connection in time");
    sleep_ms(10);
  }
  assert_int_equal(setenv("PSOCK_SOCKET", p->socket, 1), 0);
  live_set(NULL, p);
  return p;
}

struct psockd_proc *
harness_start_psockd_default_policy(const char *const *extra_args) {
  struct psockd_proc *p;
  int64_t deadline;
  bool said = false;

  if (harness_has_arg(extra_args, "--policy"))
    fail_msg("harness_start_psockd_default_policy() takes no --policy");
  /* A tmpfs of our own over the directory, in our private mount
   * namespace: the host's /etc/psockd is left as it is. */
  if (access("/etc/psockd", F_OK) == 0 &&
      mount("psock-test", "/etc/psockd", "tmpfs", MS_RDONLY, "mode=0755") < 0)
    fail_msg("hiding /etc/psockd: %s", strerror(errno));
  p = harness_start_psockd(extra_args);
  deadline = now_ms() + PSOCKD_START_TIMEOUT_MS * slowdown();
  while (!said && now_ms() < deadline) {
    char *log = harness_psockd_log(p);

    said = log && strstr(log, "policy: default policy") != NULL;
    free(log);
    if (!said)
      sleep_ms(20);
  }
  if (!said) {
    harness_print_psockd_log(p);
    fail_msg("psockd did not say it uses the default policy");
  }
  return p;
}

void harness_stop_psockd(struct psockd_proc *p) {
  char why[256] = "";
  int status;
  pid_t r;

  if (!p)
    return;
  live_set(p, NULL);
  status = terminate(p, &r);
  if (r == 0) {
    snprintf(why, sizeof(why), "psockd did not exit within %d ms of SIGTERM",
             PSOCKD_STOP_TIMEOUT_MS * slowdown());
  } else if (r < 0) {
    snprintf(why, sizeof(why), "waitpid(psockd): %s", strerror(errno));
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char st[128];

    describe_status(status, st, sizeof(st));
    snprintf(why, sizeof(why), "psockd ended with %s after SIGTERM", st);
  } else if (access(p->socket, F_OK) == 0) {
    snprintf(why, sizeof(why), "psockd exited but left its socket %s",
             p->socket);
  } else {
    sanitizer_report(p, why, sizeof(why));
  }
  if (*why)
    harness_print_psockd_log(p);
  remove_tree(p->dir);
  unsetenv("PSOCK_SOCKET");
  free(p);
  if (*why)
    fail_msg("%s", why);
}

int harness_count_fds(pid_t pid) {
  char path[64];
  struct dirent *e;
  DIR *d;
  int n = 0;

  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  d = opendir(path);
  if (!d)
    return -1;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* Parent of pid from /proc/PID/stat, or -1. */
static pid_t parent_of(pid_t pid) {
  char path[64], buf[512], *paren;
  int ppid;
  FILE *f;
  size_t n;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "re");
  if (!f)
    return -1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: skip to the last ')'. */
  paren = strrchr(buf, ')');
  if (!paren || sscanf(paren + 1, " %*c %d", &ppid) != 1)
    return -1;
  return ppid;
}

/* psockd and every process descended from it, into tree (at most max).
 * Returns the count, or -1. */
static int psockd_tree(const struct psockd_proc *p, pid_t *tree, size_t max) {
  size_t ntree = 0;
  bool grew = true;

  tree[ntree++] = p->pid;
  /* Add children of known members until nothing new turns up. */
  while (grew) {
    struct dirent *e;
    DIR *d = opendir("/proc");

    if (!d)
      return -1;
    grew = false;
    while ((e = readdir(d)) && ntree < max) {
      pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
      pid_t ppid;
      bool known = false;

      if (pid <= 0)
        continue;
      for (size_t i = 0; i < ntree && !known; i++)
        known = tree[i] == pid;
      if (known)
        continue;
      ppid = parent_of(pid);
      for (size_t i = 0; i < ntree; i++) {
        if (tree[i] == ppid) {
          tree[ntree++] = pid;
          grew = true;
          break;
        }
      }
    }
    closedir(d);
  }
  return (int)ntree;
}

int harness_psockd_fd_total(const struct psockd_proc *p) {
  pid_t tree[512];
  int n = psockd_tree(p, tree, 512), total = 0;

  for (int i = 0; i < n; i++) {
    int k = harness_count_fds(tree[i]);

    /* A process that ended in between holds nothing. */
    if (k > 0)
      total += k;
  }
  return n < 0 ? -1 : total;
}

bool harness_proc_title(pid_t pid, char *buf, size_t len) {
  char path[64];
  size_t n;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  f = fopen(path, "re");
  if (!f)
    return false;
  n = fread(buf, 1, len - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* Arguments are NUL-separated: make it one line. */
  for (size_t i = 0; n && i < n - 1; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  return n > 0;
}

/*
 * A process psockd forked a moment ago (a worker by psockd-spawn, a
 * resolver by its worker) bears its parent's title until it sets its own:
 * pid, titled t, is such a fork if its parent bears t too. No psockd
 * process has a parent of its own title once both are running.
 */
static bool fork_not_retitled(pid_t pid, const char *t) {
  pid_t parent = parent_of(pid);
  char pt[256];

  return parent > 0 && harness_proc_title(parent, pt, sizeof(pt)) &&
         strcmp(pt, t) == 0;
}

int harness_psockd_procs(const struct psockd_proc *p, const char *title,
                         pid_t *ret, size_t max) {
  pid_t tree[512];
  int n = psockd_tree(p, tree, 512);
  size_t k = 0;

  for (int i = 0; i < n; i++) {
    char t[256];

    if (harness_proc_title(tree[i], t, sizeof(t)) &&
        strncmp(t, title, strlen(title)) == 0 &&
        !fork_not_retitled(tree[i], t)) {
      if (ret && k < max)
        ret[k] = tree[i];
      k++;
    }
  }
  return n < 0 ? -1 : (int)k;
}

/*
 * No worker and no resolver: psockd's tree is the master, psockd-priv and
 * psockd-spawn. Titles alone do not do: a worker psockd-spawn has just
 * forked (and a resolver its worker has just forked) still bears its
 * parent's title for a moment.
 */
static bool psockd_bare(const struct psockd_proc *p) {
  pid_t tree[512];

  return psockd_tree(p, tree, 512) == 3 &&
         harness_psockd_procs(p, "psockd-worker", NULL, 0) == 0 &&
         harness_psockd_procs(p, "psockd-resolver", NULL, 0) == 0;
}

int harness_psockd_idle_fds(const struct psockd_proc *p) {
  int limit = 1500 * (psockd_wrapper() ? 10 : 1);
  int last = -1, same = 0;

  /*
   * Workers retire after --worker-idle (1 s in tests): wait for that, and
   * for the fd total to hold still for 200 ms (a connection the master has
   * accepted but not handed on yet would start a worker a moment later).
   */
  for (int i = 0; i < limit; i++) {
    int n = psockd_bare(p) ? harness_psockd_fd_total(p) : -1;

    same = n >= 0 && n == last ? same + 1 : 0;
    last = n;
    if (same >= 20)
      return n;
    usleep(10000);
  }
  return -1;
}

/* --------------------------------------------------- clients as nobody */

void harness_check_failed(const char *file, int line, const char *expr) {
  int saved = errno;

  fprintf(stderr,
          "%s:%d: CHECK(%s) failed\n"
          "    errno %d (%s); psock error kind %d code %d: \"%s\"\n",
          file, line, expr, saved, strerror(saved), psock_last_error_kind(),
          psock_last_error_code(), psock_last_error_message());
  errno = saved;
}

static int child_fail(const char *what) {
  fprintf(stderr, "harness: child (pid %d): %s: %s\n", (int)getpid(), what,
          strerror(errno));
  return -1;
}

/* Is want[0..n) the set of supplementary groups the kernel has for us? */
static bool same_groups(const gid_t *want, size_t n) {
  gid_t have[64];
  int m = getgroups(64, have);

  if (m < 0 || (size_t)m != n)
    return false;
  for (size_t i = 0; i < n; i++) {
    bool found = false;

    for (int j = 0; j < m && !found; j++)
      found = have[j] == want[i];
    if (!found)
      return false;
  }
  return true;
}

/*
 * In the child (still root): become uid/gid with exactly groups[0..n), and
 * prove it: the ids, the groups, and no capability left unless uid is 0
 * (CAP_NET_RAW above all). 0 or -1 (explained on stderr).
 */
static int become(uid_t uid, gid_t gid, const gid_t *groups, size_t n) {
  struct __user_cap_header_struct hdr = {0};
  struct __user_cap_data_struct caps[2];
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;

  if (setgroups(n, groups) < 0)
    return child_fail("setgroups");
  if (setresgid(gid, gid, gid) < 0)
    return child_fail("setresgid");
  if (setresuid(uid, uid, uid) < 0)
    return child_fail("setresuid");
  /* The uid change cleared both; LeakSanitizer needs a dumpable process. */
  if (prctl(PR_SET_DUMPABLE, 1) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    return child_fail("prctl");

  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  if (getresuid(&ruid, &euid, &suid) < 0 ||
      getresgid(&rgid, &egid, &sgid) < 0 || syscall(SYS_capget, &hdr, caps) < 0)
    return child_fail("getresuid/getresgid/capget");
  if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
      sgid != gid || !same_groups(groups, n)) {
    errno = EPERM;
    return child_fail("ids or groups not as asked");
  }
  if (uid != 0 && (caps[0].effective || caps[1].effective ||
                   caps[0].permitted || caps[1].permitted)) {
    errno = EPERM;
    return child_fail("capabilities (CAP_NET_RAW...) survived the uid change");
  }
  return 0;
}

static void run_child(int flags, bool nobody, int (*fn)(void *), void *arg,
                      int *result) {
  int setup = 0;

  /* A sandboxed client starts with none of the test program's fds. */
  close_range(3, ~0U, 0);
  /* While still root: an unprivileged process cannot unshare. */
  if ((flags & HARNESS_EMPTY_NETNS) && unshare(CLONE_NEWNET) < 0)
    setup = child_fail("unshare(CLONE_NEWNET)");
  else if (nobody)
    setup = become(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0);
  if (setup < 0) {
    *result = HARNESS_CHILD_SETUP_FAILED;
    exit(1);
  }
  *result = fn(arg);
  /* exit(), not _exit(): the sanitizers check the child on the way out. */
  exit(*result == 0 ? 0 : 1);
}

/* A client started and not waited for yet: its pid and where its
 * function's result lands. */
struct started {
  pid_t pid;
  int *result;
};

static struct started started[8];

/* Fork a child that runs fn(arg) (see run_child). Its pid, or -1. */
static pid_t start_child(int flags, bool nobody, int (*fn)(void *), void *arg,
                         int **ret_result) {
  int *result;
  pid_t pid;

  result = mmap(NULL, sizeof(*result), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (result == MAP_FAILED) {
    fprintf(stderr, "harness: mmap: %s\n", strerror(errno));
    return -1;
  }
  *result = 0;
  /* Or the child's exit() prints our buffered output a second time. */
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "harness: fork: %s\n", strerror(errno));
    munmap(result, sizeof(*result));
    return -1;
  }
  if (pid == 0)
    run_child(flags, nobody, fn, arg, result);
  *ret_result = result;
  return pid;
}

/* Wait (at most timeout_s) for a child of start_child(); its result as
 * harness_run_as_nobody() documents it. Unmaps result. */
static int wait_child(pid_t pid, int *result, int timeout_s) {
  int status, ret;
  pid_t r;

  r = wait_bounded(pid, &status, timeout_s * 1000);
  if (r == 0) {
    fprintf(stderr, "harness: child %d still running after %d s: killed\n",
            (int)pid, timeout_s);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ret = HARNESS_CHILD_TIMEOUT;
  } else if (r < 0) {
    fprintf(stderr, "harness: waitpid: %s\n", strerror(errno));
    ret = HARNESS_CHILD_FORK_FAILED;
  } else if (WIFSIGNALED(status)) {
    fprintf(stderr, "harness: child %d killed by signal %d (%s)\n", (int)pid,
            WTERMSIG(status), strsignal(WTERMSIG(status)));
    ret = -WTERMSIG(status);
  } else if (*result != 0) {
    ret = *result;
  } else {
    ret = WEXITSTATUS(status);
    if (ret != 0)
      fprintf(stderr, "harness: child %d exited with status %d\n", (int)pid,
              ret);
  }
  munmap(result, sizeof(*result));
  return ret;
}

static int run_as(int flags, bool nobody, int (*fn)(void *), void *arg) {
  int *result;
  pid_t pid = start_child(flags, nobody, fn, arg, &result);

  if (pid < 0)
    return HARNESS_CHILD_FORK_FAILED;
  return wait_child(pid, result, HARNESS_CHILD_TIMEOUT_S);
}

int harness_run_as_nobody(int flags, int (*fn)(void *), void *arg) {
  return run_as(flags, true, fn, arg);
}

int harness_run_as_root(int flags, int (*fn)(void *), void *arg) {
  return run_as(flags, false, fn, arg);
}

/* ------------------------------------- clients as any user and groups */

struct run_ids {
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t n_groups;
  int (*fn)(void *);
  void *arg;
};

static int run_ids_child(void *p) {
  const struct run_ids *ids = p;

  if (become(ids->uid, ids->gid, ids->groups, ids->n_groups) < 0)
    return HARNESS_CHILD_SETUP_FAILED;
  return ids->fn(ids->arg);
}

int harness_run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                   int flags, int (*fn)(void *), void *arg) {
  struct run_ids ids = {uid, gid, groups, n_groups, fn, arg};

  /* The root path enters the network namespace first, as for nobody. */
  return run_as(flags, false, run_ids_child, &ids);
}

pid_t harness_start_as(uid_t uid, gid_t gid, const gid_t *groups,
                       size_t n_groups, int flags, int (*fn)(void *),
                       void *arg) {
  /* The child gets its own copy of ids with its memory at fork. */
  struct run_ids ids = {uid, gid, groups, n_groups, fn, arg};
  struct started *slot = NULL;

  for (size_t i = 0; i < sizeof(started) / sizeof(started[0]) && !slot; i++)
    if (started[i].pid == 0)
      slot = &started[i];
  if (!slot) {
    fprintf(stderr, "harness: too many clients started and not waited for\n");
    return -1;
  }
  slot->pid = start_child(flags, false, run_ids_child, &ids, &slot->result);
  if (slot->pid < 0) {
    slot->pid = 0;
    return -1;
  }
  return slot->pid;
}

int harness_wait(pid_t pid, int timeout_s) {
  for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++) {
    if (started[i].pid == pid && pid > 0) {
      int r = wait_child(pid, started[i].result, timeout_s);

      started[i].pid = 0;
      return r;
    }
  }
  fprintf(stderr, "harness: %d is no client of harness_start_as()\n", (int)pid);
  return HARNESS_CHILD_FORK_FAILED;
}

/* ------------------------------------------------ a private name service */

/* Write text to dir/name and bind-mount it over target. 0 or -1 (errno). */
static int mount_text(const char *dir, const char *name, const char *text,
                      const char *target) {
  char path[PATH_MAX];
  size_t len = strlen(text);
  int fd, r = 0;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0)
    r = -1;
  if (close(fd) < 0)
    r = -1;
  if (r == 0 && mount(path, target, NULL, MS_BIND, NULL) < 0)
    r = -1;
  /* The mount holds the file; its name is not needed any more. */
  if (r == 0)
    r = unlink(path);
  return r;
}

void harness_private_name_service(const char *hosts, const char *resolv_conf,
                                  const char *nsswitch_conf) {
  const struct {
    const char *name, *text, *target;
  } files[] = {
      {"hosts", hosts, "/etc/hosts"},
      {"resolv.conf", resolv_conf, "/etc/resolv.conf"},
      {"nsswitch.conf", nsswitch_conf, "/etc/nsswitch.conf"},
  };
  char dir[] = "/tmp/psock-etc.XXXXXX";

  if (unshare(CLONE_NEWNS) < 0)
    fail_msg("unshare(CLONE_NEWNS): %s", strerror(errno));
  /* Or the bind mounts would propagate back to the host's namespace. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    fail_msg("mount --make-rprivate /: %s", strerror(errno));
  if (!mkdtemp(dir))
    fail_msg("mkdtemp: %s", strerror(errno));
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    if (files[i].text &&
        mount_text(dir, files[i].name, files[i].text, files[i].target) < 0) {
      int e = errno;

      remove_tree(dir);
      fail_msg("private %s: %s", files[i].target, strerror(e));
    }
  }
  rmdir(dir);
}

/* -------------------------------------------------- a local echo server */

#define ECHO_MAX_CONN 16

struct harness_echo {
  pid_t pid;
  atomic_uint *accepted; /* shared with the server process */
};

unsigned harness_echo_connections(const struct harness_echo *e) {
  return atomic_load(e->accepted);
}

/* Echo what is readable on fd. Returns false when the connection is done. */
static bool echo_once(int fd) {
  char buf[16384];
  ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

  if (n < 0)
    return errno == EAGAIN || errno == EINTR;
  if (n == 0)
    return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return false;
    off += w;
  }
  return true;
}

/* The server process: runs until killed. */
static _Noreturn void echo_serve(int listen_fd, atomic_uint *accepted) {
  struct pollfd pfd[1 + ECHO_MAX_CONN];
  size_t nconn = 0;

  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pfd[0] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
  for (;;) {
    if (poll(pfd, 1 + nconn, -1) < 0)
      continue;
    for (size_t i = 0; i < nconn;) {
      if (pfd[1 + i].revents && !echo_once(pfd[1 + i].fd)) {
        close(pfd[1 + i].fd);
        pfd[1 + i] = pfd[1 + --nconn];
      } else {
        i++;
      }
    }
    if (pfd[0].revents & POLLIN) {
      int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
      /* A stalled client must not stall the server for long. */
      struct timeval tv = {.tv_sec = 5};

      if (fd < 0)
        continue;
      atomic_fetch_add(accepted, 1);
      if (nconn == ECHO_MAX_CONN) {
        close(fd);
        continue;
      }
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      pfd[1 + nconn++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
  }
}

struct harness_echo *harness_start_echo(uint16_t *ret_port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  struct harness_echo *e = calloc(1, sizeof(*e));
  int fd;

  assert_non_null(e);
  e->accepted = mmap(NULL, sizeof(*e->accepted), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(e->accepted != MAP_FAILED);
  atomic_init(e->accepted, 0);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 16), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  fflush(NULL);
  e->pid = fork();
  assert_true(e->pid >= 0);
  if (e->pid == 0)
    echo_serve(fd, e->accepted);
  close(fd);
  *ret_port = ntohs(sin.sin_port);
  return e;
}

void harness_stop_echo(struct harness_echo *e) {
  int status;

  if (!e)
    return;
  /* It holds nothing worth a clean exit (and must not run our atexit). */
  kill(e->pid, SIGKILL);
  waitpid(e->pid, &status, 0);
  munmap(e->accepted, sizeof(*e->accepted));
  free(e);
}
