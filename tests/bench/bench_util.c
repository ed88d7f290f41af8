/* SPDX-License-Identifier: MIT */
/*
 * Support for psock-bench (see bench_util.h). Runs as root in the
 * benchmark's own processes only.
 */
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- clocks */

uint64_t bench_now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* ------------------------------------------------------------ statistics */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n) {
  qsort(v, n, sizeof(*v), cmp_double);
}

double bench_quantile(const double *sorted, size_t n, double p) {
  size_t i;

  if (n == 0)
    return 0.0;
  /* Nearest rank: the smallest value with at least p of the samples at or
   * below it. */
  i = (size_t)(p * (double)n + 0.999999);
  if (i > 0)
    i--;
  if (i >= n)
    i = n - 1;
  return sorted[i];
}

double bench_median(const double *v, size_t n) {
  double tmp[64];
  double *c = n <= 64 ? tmp : malloc(n * sizeof(*v));
  double m;

  if (n == 0 || !c)
    return 0.0;
  memcpy(c, v, n * sizeof(*v));
  bench_sort(c, n);
  m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
  if (c != tmp)
    free(c);
  return m;
}

/* ------------------------------------------------------------ placement */

int bench_pin_self(int cpu) {
  cpu_set_t set;

  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int bench_ncpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);

  return n > 0 ? (int)n : 1;
}

int bench_pin_process(pid_t pid, int cpu) {
  char path[64];
  struct dirent *de;
  cpu_set_t set;
  DIR *d;
  int r = 0, n = 0;

  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else {
    for (int i = 0; i < bench_ncpus() && i < CPU_SETSIZE; i++)
      CPU_SET(i, &set);
  }
  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  d = opendir(path);
  if (!d)
    return -errno;
  while ((de = readdir(d))) {
    pid_t tid = (pid_t)atoi(de->d_name);

    if (tid <= 0)
      continue;
    if (sched_setaffinity(tid, sizeof(set), &set) < 0 && errno != ESRCH)
      r = -errno;
    n++;
  }
  closedir(d);
  return r < 0 ? r : (n ? 0 : -ESRCH);
}

/* ---------------------------------------------------------- processes */

void *bench_shared(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);

  if (p == MAP_FAILED) {
    perror("psock-bench: mmap");
    exit(2);
  }
  return p;
}

void bench_unshare(void *p, size_t size) {
  if (p)
    munmap(p, size);
}

pid_t bench_spawn(int (*fn)(void *), void *arg) {
  pid_t pid;

  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    _exit(fn(arg) & 0xff);
  }
  if (pid < 0)
    perror("psock-bench: fork");
  return pid;
}

int bench_wait(pid_t pid, int timeout_ms) {
  uint64_t end = bench_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
  int status, pause = 1;

  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);

    if (r == pid)
      return WIFEXITED(status)
                 ? WEXITSTATUS(status)
                 : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (r < 0)
      return -1;
    if (bench_now_ns() >= end) {
      fprintf(stderr, "psock-bench: process %d still running: killed\n",
              (int)pid);
      bench_kill(pid);
      return -1;
    }
    bench_sleep_ms(pause);
    if (pause < 20)
      pause *= 2;
  }
}

void bench_kill(pid_t pid) {
  if (pid <= 0)
    return;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

int bench_become_user(void) {
  if (setgroups(0, NULL) < 0 ||
      setresgid(BENCH_GID, BENCH_GID, BENCH_GID) < 0 ||
      setresuid(BENCH_UID, BENCH_UID, BENCH_UID) < 0)
    return -errno;
  /* The uid change cleared it. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  return 0;
}

int bench_loopback_up(void) {
  struct ifreq ifr = {0};
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int r = 0;

  if (fd < 0)
    return -errno;
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    r = -errno;
  ifr.ifr_flags |= IFF_UP;
  if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    r = -errno;
  close(fd);
  return r;
}

/* ---------------------------------------------------------------- psockd */

static pid_t parent_of(pid_t pid) {
  char path[64], buf[512], *p;
  ssize_t n;
  int fd, ppid = -1;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* The command name may hold anything: the fields follow the last ')'. */
  p = strrchr(buf, ')');
  if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
    return -1;
  return (pid_t)ppid;
}

static bool cmdline_has(pid_t pid, const char *word) {
  char path[64], buf[4096];
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
    if (strcmp(buf + i, word) == 0)
      return true;
  return false;
}

/* Children of ppid (all if want is NULL, else those with want in argv). */
static int children_of(pid_t ppid, const char *want, pid_t *out, int max) {
  struct dirent *de;
  DIR *d = opendir("/proc");
  int n = 0;

  if (!d)
    return -errno;
  while ((de = readdir(d)) && n < max) {
    pid_t pid = (pid_t)atoi(de->d_name);

    if (pid <= 0 || parent_of(pid) != ppid)
      continue;
    if (want && !cmdline_has(pid, want))
      continue;
    out[n++] = pid;
  }
  closedir(d);
  return n;
}

/* pid's command line (its title), arguments joined by spaces. */
static bool title_of(pid_t pid, char *buf, size_t len) {
  char path[64];
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  n = read(fd, buf, len - 1);
  close(fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  for (ssize_t i = 0; i + 1 < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  return true;
}

/* Descendants of root (not root itself) whose title starts with title:
 * their count, the first max in out. */
static int descendants_titled(pid_t root, const char *title, pid_t *out,
                              int max) {
  pid_t kids[256];
  int n = children_of(root, NULL, kids, 256), found = 0;

  for (int i = 0; i < n; i++) {
    char t[256];
    pid_t sub[64];
    int k;

    if (title_of(kids[i], t, sizeof(t)) &&
        strncmp(t, title, strlen(title)) == 0) {
      if (found < max)
        out[found] = kids[i];
      found++;
    }
    k = descendants_titled(kids[i], title, sub, 64);
    for (int j = 0; j < k && j < 64; j++, found++)
      if (found < max)
        out[found] = sub[j];
  }
  return found;
}

int bench_psockd_procs(const struct bench_psockd *p, const char *title,
                       pid_t *out, int max) {
  return descendants_titled(p->pid, title, out, max);
}

int bench_psockd_workers(const struct bench_psockd *p, pid_t *out, int max) {
  return bench_psockd_procs(p, "psockd-worker", out, max);
}

int bench_psockd_priv(const struct bench_psockd *p, pid_t *out, int max) {
  return children_of(p->pid, "--role=priv", out, max);
}

int bench_psockd_spawn(const struct bench_psockd *p, pid_t *out, int max) {
  return children_of(p->pid, "--role=spawn", out, max);
}

static void print_log(const struct bench_psockd *p) {
  char buf[4096];
  ssize_t n;
  int fd = open(p->log, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return;
  fprintf(stderr, "----- psockd log (%s)\n", p->log);
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    fwrite(buf, 1, (size_t)n, stderr);
  fprintf(stderr, "-----\n");
  close(fd);
}

struct holder_arg {
  unsigned flags;
  const char *dir;
  int ready; /* pipe write end */
};

static int bind_over(const char *src, const char *dst) {
  return mount(src, dst, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

/*
 * The namespace holder: a network namespace (and for the stalled resolver a
 * mount namespace) that psockd joins. With BENCH_NS_STALLDNS it is also the
 * DNS server on 127.0.0.1:53 that reads each query and never answers.
 */
static int holder_main(void *p) {
  const struct holder_arg *a = p;
  char resolv[128], nss[128];
  int flags = CLONE_NEWNET, fd = -1;
  char ok = 1;

  if (a->flags & BENCH_NS_STALLDNS)
    flags |= CLONE_NEWNS;
  if (unshare(flags) < 0 || bench_loopback_up() < 0)
    return 1;
  if (a->flags & BENCH_NS_STALLDNS) {
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(53),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    snprintf(resolv, sizeof(resolv), "%s/resolv.conf", a->dir);
    snprintf(nss, sizeof(nss), "%s/nsswitch.conf", a->dir);
    /* Our bind mounts stay in this namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        bind_over(resolv, "/etc/resolv.conf") < 0 ||
        bind_over(nss, "/etc/nsswitch.conf") < 0)
      return 2;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
      return 3;
  }
  if (write(a->ready, &ok, 1) != 1)
    return 4;
  close(a->ready);
  for (;;) {
    char buf[512];

    if (fd < 0)
      pause();
    else
      (void)!recv(fd, buf, sizeof(buf), 0); /* read, never answer */
  }
}

static bool socket_accepts(const char *path) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  bool ok;

  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

static int join_ns(pid_t pid, const char *name, int type) {
  char path[64];
  int fd, r = 0;

  snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (setns(fd, type) < 0)
    r = -errno;
  close(fd);
  return r;
}

int bench_psockd_enter_netns(const struct bench_psockd *p) {
  return p->holder > 0 ? join_ns(p->holder, "net", CLONE_NEWNET) : 0;
}

int bench_psockd_start(struct bench_psockd *p, const char *path,
                       const char *dir, const char *policy, unsigned workers,
                       unsigned flags, int dns_timeout_s,
                       const char *const *extra) {
  char nworkers[16], text[256];
  const char *argv[40];
  size_t argc = 0;
  uint64_t end;
  pid_t sp[4];

  memset(p, 0, sizeof(*p));
  snprintf(p->dir, sizeof(p->dir), "%s", dir);
  snprintf(p->sock, sizeof(p->sock), "%s/psockd.sock", dir);
  snprintf(p->log, sizeof(p->log), "%s/psockd.log", dir);
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return -errno;
  chmod(dir, 0755);

  if (flags & (BENCH_NS_NET | BENCH_NS_STALLDNS)) {
    struct holder_arg ha = {.flags = flags, .dir = dir};
    int pfd[2];
    char ok = 0;

    if (flags & BENCH_NS_STALLDNS) {
      char f[128];

      /* Every lookup goes to the silent server and waits it out. */
      snprintf(text, sizeof(text),
               "nameserver 127.0.0.1\noptions timeout:%d attempts:1\n",
               dns_timeout_s);
      snprintf(f, sizeof(f), "%s/resolv.conf", dir);
      if (bench_write_file(f, text) < 0)
        return -EIO;
      snprintf(f, sizeof(f), "%s/nsswitch.conf", dir);
      if (bench_write_file(f, "passwd: files\ngroup: files\nhosts: dns\n"
                              "services: files\nprotocols: files\n") < 0)
        return -EIO;
    }
    if (pipe2(pfd, O_CLOEXEC) < 0)
      return -errno;
    ha.ready = pfd[1];
    p->holder = bench_spawn(holder_main, &ha);
    close(pfd[1]);
    if (p->holder < 0 || read(pfd[0], &ok, 1) != 1 || ok != 1) {
      close(pfd[0]);
      fprintf(stderr, "psock-bench: cannot set up psockd's namespaces\n");
      bench_kill(p->holder);
      p->holder = 0;
      return -EIO;
    }
    close(pfd[0]);
  }

  snprintf(nworkers, sizeof(nworkers), "%u", workers);
  argv[argc++] = path;
  argv[argc++] = "--socket";
  argv[argc++] = p->sock;
  argv[argc++] = "--policy";
  argv[argc++] = policy;
  argv[argc++] = "--workers";
  argv[argc++] = nworkers;
  /* The clients run as BENCH_UID; psockd's own default mode is 0600. */
  argv[argc++] = "--socket-mode=0666";
  /* Workers (per client identity) stay for the whole run once started,
   * so that no figure pays for starting one again. */
  argv[argc++] = "--worker-idle=3600";
  for (size_t i = 0; extra && extra[i] && argc < 39; i++)
    argv[argc++] = extra[i];
  argv[argc] = NULL;

  fflush(NULL);
  p->pid = fork();
  if (p->pid < 0)
    return -errno;
  if (p->pid == 0) {
    int log = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (p->holder > 0 && ((flags & BENCH_NS_STALLDNS &&
                           join_ns(p->holder, "mnt", CLONE_NEWNS) < 0) ||
                          join_ns(p->holder, "net", CLONE_NEWNET) < 0))
      _exit(126);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execv(path, (char *const *)argv);
    _exit(127);
  }

  /* Up: the socket accepts and psockd-spawn runs (workers start with
   * their identity's first connection). */
  end = bench_now_ns() + 10000000000ULL;
  while (bench_now_ns() < end) {
    int st;

    if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
      fprintf(stderr, "psock-bench: psockd exited at start\n");
      print_log(p);
      p->pid = 0;
      bench_kill(p->holder);
      p->holder = 0;
      return -ECHILD;
    }
    if (socket_accepts(p->sock) && bench_psockd_spawn(p, sp, 4) == 1)
      return 0;
    bench_sleep_ms(10);
  }
  fprintf(stderr, "psock-bench: psockd did not come up\n");
  print_log(p);
  bench_psockd_stop(p);
  return -ETIMEDOUT;
}

void bench_psockd_stop(struct bench_psockd *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGTERM);
    if (bench_wait(p->pid, 10000) != 0)
      print_log(p);
    p->pid = 0;
  }
  bench_kill(p->holder);
  p->holder = 0;
}

/* ---------------------------------------------------------------- memory */

/* "key: N kB" of /proc/PID/file, or -1. */
static long kib_field(pid_t pid, const char *file, const char *key) {
  char path[64], line[256];
  size_t klen = strlen(key);
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  f = fopen(path, "re");
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      kib = atol(line + klen + 1);
      break;
    }
  fclose(f);
  return kib;
}

static long tree_kib(pid_t root, const char *file, const char *key) {
  pid_t kids[256];
  long total = kib_field(root, file, key);
  int n;

  if (total < 0)
    return -1;
  n = children_of(root, NULL, kids, 256);
  for (int i = 0; i < n; i++) {
    long k = tree_kib(kids[i], file, key);

    if (k > 0)
      total += k;
  }
  return total;
}

long bench_tree_rss_kib(pid_t root) {
  return tree_kib(root, "status", "VmRSS");
}

long bench_tree_pss_kib(pid_t root) {
  return tree_kib(root, "smaps_rollup", "Pss");
}

/* ------------------------------------------------------------- helpers */

bool bench_find_program(const char *name, char *buf, size_t len) {
  const char *path = getenv("PATH");
  char dirs[1024];

  if (!path || !*path)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  snprintf(dirs, sizeof(dirs), "%s", path);
  for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
       d = strtok_r(NULL, ":", &save)) {
    snprintf(buf, len, "%s/%s", d, name);
    if (access(buf, X_OK) == 0)
      return true;
  }
  return false;
}

int bench_write_file(const char *path, const char *text) {
  size_t len = strlen(text);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int r = 0;

  if (fd < 0)
    return -errno;
  if (write(fd, text, len) != (ssize_t)len)
    r = -EIO;
  close(fd);
  return r;
}

int bench_copy_file(const char *src, const char *dst, unsigned mode) {
  char buf[65536];
  int in, out, r = 0;
  ssize_t n;

  in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -errno;
  out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (out < 0) {
    r = -errno;
    close(in);
    return r;
  }
  while ((n = read(in, buf, sizeof(buf))) > 0)
    if (write(out, buf, (size_t)n) != n) {
      r = -EIO;
      break;
    }
  if (n < 0)
    r = -errno;
  fchmod(out, mode);
  close(in);
  close(out);
  return r;
}
