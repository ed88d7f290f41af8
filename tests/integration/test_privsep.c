/* SPDX-License-Identifier: MIT */
/*
 * Privilege separation, observed from outside: the roles psockd runs as
 * (read from /proc/PID/status: the master, psockd-priv, psockd-spawn, a
 * worker and its resolver as the client's user), a worker killed by its
 * seccomp filter or by kill -9 and its clients served again, kill -9 of a
 * worker while clients (as nobody) are busy, psockd-priv and psockd-spawn
 * killed and replaced.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include <psock/psock.h>

#define MAX_PROCS 16

/* The value of "Key:" in /proc/PID/status, as text, without the leading
 * blanks and the newline. */
static void status_field(pid_t pid, const char *key, char *out, size_t len) {
  char path[64], line[256];
  size_t klen = strlen(key);
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  f = fopen(path, "re");
  assert_non_null(f);
  out[0] = '\0';
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, key, klen) != 0 || line[klen] != ':')
      continue;
    const char *v = line + klen + 1;
    v += strspn(v, " \t");
    snprintf(out, len, "%.*s", (int)strcspn(v, "\n"), v);
    break;
  }
  fclose(f);
}

static void assert_status(pid_t pid, const char *key, const char *want) {
  char got[256];

  status_field(pid, key, got, sizeof(got));
  if (strcmp(got, want) != 0)
    fail_msg("pid %d: %s is '%s', want '%s'", pid, key, got, want);
}

/* The one process of psockd titled title, waiting up to 15 s for it (and
 * for its filter: the last step of a role's sandbox). 0 if none. */
static pid_t wait_proc(struct psockd_proc *p, const char *title) {
  pid_t pid = 0;
  char v[16] = "";

  for (int t = 0; t < 1500 && !pid; t++) {
    if (harness_psockd_procs(p, title, &pid, 1) != 1)
      pid = 0;
    if (!pid)
      usleep(10000);
  }
  for (int t = 0; pid && t < 1000 && strcmp(v, "2") != 0; t++) {
    status_field(pid, "Seccomp", v, sizeof(v));
    if (strcmp(v, "2") != 0)
      usleep(5000);
  }
  return pid;
}

/* A uid no client has and that is not root's. */
static void assert_service_user(pid_t pid) {
  char uid[64];

  status_field(pid, "Uid", uid, sizeof(uid));
  assert_true(strncmp(uid, "0\t", 2) != 0);
  assert_true(strncmp(uid, "65534\t", 6) != 0);
}

static void assert_caps(pid_t pid, const char *eff, const char *bnd) {
  assert_status(pid, "CapEff", eff);
  assert_status(pid, "CapPrm", eff);
  assert_status(pid, "CapInh", "0000000000000000");
  assert_status(pid, "CapAmb", "0000000000000000");
  if (bnd)
    assert_status(pid, "CapBnd", bnd);
  assert_status(pid, "NoNewPrivs", "1");
  assert_status(pid, "Seccomp", "2");
}

static int client_socket_and_lookup(void *arg) {
  psock_addrinfo *ai = NULL;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  CHECK(psock_getaddrinfo("localhost", NULL, AF_INET, 0, 0, 0, &ai) == 0);
  psock_freeaddrinfo(ai);
  /* Hold the connection while the test looks at the worker. */
  sleep(1);
  psock_close(s);
  return 0;
}

/* Run the client in a process of its own while the test looks at psockd
 * (forked from this single-threaded process, not from a thread: a child
 * must not inherit another thread's half-made state). */
static pid_t start_bg_client(void) {
  pid_t pid;

  fflush(NULL);
  pid = fork();
  if (pid == 0)
    _exit(harness_run_as_nobody(0, client_socket_and_lookup, NULL) == 0 ? 0
                                                                        : 1);
  return pid;
}

/* ---------------------------------------------------------------- roles */

static void test_roles_have_exactly_their_privileges(void **state) {
  struct psockd_proc *p = harness_start_psockd(NULL);
  pid_t master = harness_psockd_pid(p), priv, spawn, worker, resolver, bg;
  int status;

  assert_status(master, "Uid", "0\t0\t0\t0");
  priv = wait_proc(p, "psockd --role=priv");
  spawn = wait_proc(p, "psockd --role=spawn");
  assert_true(priv > 0 && spawn > 0);
  /* psockd-priv: CAP_CHOWN (0), CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN
   * (12), CAP_NET_RAW (13); psockd-spawn: CAP_KILL (5), CAP_SETGID (6),
   * CAP_SETUID (7). Both as a uid no client has. */
  assert_service_user(priv);
  assert_caps(priv, "0000000000003401", "0000000000003401");
  assert_service_user(spawn);
  assert_caps(spawn, "00000000000000e0", "00000000000000e0");
  /* A worker (and its resolver) exists while a client of its user does,
   * and runs as that user, with nothing more. */
  bg = start_bg_client();
  assert_true(bg > 0);
  worker = wait_proc(p, "psockd-worker uid=65534");
  resolver = wait_proc(p, "psockd-resolver uid=65534");
  assert_true(worker > 0 && resolver > 0);
  assert_status(worker, "Uid", "65534\t65534\t65534\t65534");
  assert_status(worker, "Gid", "65534\t65534\t65534\t65534");
  assert_status(worker, "Groups", "");
  assert_caps(worker, "0000000000000000", NULL);
  assert_status(resolver, "Uid", "65534\t65534\t65534\t65534");
  assert_caps(resolver, "0000000000000000", NULL);
  assert_int_equal(waitpid(bg, &status, 0), bg);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  harness_stop_psockd(p);
}

/* ------------------------------------------------- the service user */

/* The uid of pid, as a number. */
static uid_t uid_of(pid_t pid) {
  char v[64];

  status_field(pid, "Uid", v, sizeof(v));
  return (uid_t)strtoul(v, NULL, 10);
}

/* The lock directory psockd's log names ("... claimed in DIR (..."). */
static void claimed_dir(struct psockd_proc *p, char *dir, size_t len) {
  char *log = harness_psockd_log(p),
       *at = log ? strstr(log, "claimed in ") : NULL;

  assert_non_null(at);
  at += strlen("claimed in ");
  snprintf(dir, len, "%.*s", (int)strcspn(at, " "), at);
  free(log);
}

/* 1 if someone holds the lock on dir/uid, 0 if not, -1 if no such file. */
static int uid_locked(const char *dir, uid_t uid) {
  char path[512];
  int fd, r;

  snprintf(path, sizeof(path), "%s/%u", dir, (unsigned)uid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  r = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  close(fd);
  return r;
}

/*
 * Without a psockd account, each psockd claims a uid no account has with
 * a lock file as systemd's DynamicUser= allocator takes them: two psockd
 * never share one (nor would a systemd service get it), the same one comes
 * back on the next start, and the lock file goes with psockd.
 */
static void test_dynamic_service_uid_claimed_and_released(void **state) {
  struct psockd_proc *a, *b, *c;
  uid_t ua, ub, uc;
  char dir[256];

  if (getpwnam("psockd")) {
    printf("skipped: a psockd account exists, so psockd claims no uid\n");
    skip();
  }
  a = harness_start_psockd(NULL);
  b = harness_start_psockd(NULL);
  ua = uid_of(wait_proc(a, "psockd --role=priv"));
  ub = uid_of(wait_proc(b, "psockd --role=priv"));
  assert_int_equal(uid_of(wait_proc(a, "psockd --role=spawn")), ua);
  assert_true(ua >= 61184 && ua <= 65519 && ub >= 61184 && ub <= 65519);
  assert_true(ua != ub);
  assert_null(getpwuid(ua));
  claimed_dir(a, dir, sizeof(dir));
  assert_int_equal(uid_locked(dir, ua), 1);
  assert_int_equal(uid_locked(dir, ub), 1);
  harness_stop_psockd(a);
  assert_int_equal(uid_locked(dir, ua), -1);
  assert_int_equal(uid_locked(dir, ub), 1);
  /* Free again: the next psockd takes it (the same uid on every start). */
  c = harness_start_psockd(NULL);
  uc = uid_of(wait_proc(c, "psockd --role=priv"));
  assert_int_equal(uc, ua);
  harness_stop_psockd(c);
  harness_stop_psockd(b);
  assert_int_equal(uid_locked(dir, ub), -1);
}

/* psockd --user=USER as the master: its exit status and its log. */
static int run_psockd_user(const char *user, char *log, size_t len) {
  char dir[] = "/tmp/psock-user.XXXXXX", sock[64], arg[96];
  int pipefd[2], status;
  ssize_t n, got = 0;
  pid_t pid;

  assert_non_null(mkdtemp(dir));
  snprintf(sock, sizeof(sock), "%s/s", dir);
  snprintf(arg, sizeof(arg), "--user=%s", user);
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    execl(getenv("PSOCKD"), "psockd", "--socket", sock, arg, (char *)NULL);
    _exit(127);
  }
  close(pipefd[1]);
  while (got + 1 < (ssize_t)len &&
         (n = read(pipefd[0], log + got, len - 1 - (size_t)got)) > 0)
    got += n;
  log[got] = '\0';
  close(pipefd[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  rmdir(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --user names neither a client's uid nor a user that does not exist;
 * beside them, a uid as digits is taken (test above: the roles run so). */
static void test_service_user_refused(void **state) {
  static const struct {
    const char *user, *why;
  } bad[] = {
      {"root", "cannot run psockd's roles: clients can have that uid"},
      {"0", "cannot run psockd's roles: clients can have that uid"},
      {"nobody", "cannot run psockd's roles: clients can have that uid"},
      {"no-such-user-here", "no user to run as"},
  };
  char log[8192];

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(run_psockd_user(bad[i].user, log, sizeof(log)), 1);
    if (!strstr(log, bad[i].why))
      fail_msg("--user=%s: log lacks '%s':\n%s", bad[i].user, bad[i].why, log);
  }
}

static void test_service_user_as_digits(void **state) {
  const char *args[] = {"--user=61000", NULL};
  struct psockd_proc *p = harness_start_psockd(args);

  assert_int_equal(uid_of(wait_proc(p, "psockd --role=priv")), 61000);
  assert_int_equal(uid_of(wait_proc(p, "psockd --role=spawn")), 61000);
  harness_stop_psockd(p);
}

/* ----------------------------------------- clients that do not stay */

struct arrival {
  volatile int leave, connected, closed, release;
};

/* Connect to psockd (whose master is stopped), leave the connection at
 * once or hold it, then stay until released: a client process that is
 * still there, so psockd can identify it (a pidfd needs the process). */
static int client_arrive(void *arg) {
  struct arrival *a = arg;
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

  CHECK(fd >= 0);
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", getenv("PSOCK_SOCKET"));
  CHECK(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
  a->connected = 1;
  if (a->leave) {
    close(fd);
    fd = -1;
    a->closed = 1;
  }
  for (int t = 0; t < 10000 && a->release == 0; t++)
    usleep(1000);
  if (fd >= 0)
    close(fd);
  return 0;
}

/* Stop pid and wait until it is stopped (kill() does not wait). */
static void stop_proc(pid_t pid) {
  char state[64] = "";

  assert_int_equal(kill(pid, SIGSTOP), 0);
  for (int t = 0; t < 5000 && state[0] != 'T' && state[0] != 't'; t++) {
    status_field(pid, "State", state, sizeof(state));
    if (state[0] != 'T' && state[0] != 't')
      usleep(1000);
  }
  assert_true(state[0] == 'T' || state[0] == 't');
}

static bool log_has(struct psockd_proc *p, const char *what) {
  char *log = harness_psockd_log(p);
  bool has = strstr(log, what) != NULL;

  free(log);
  return has;
}

/*
 * A client that connected and left before the master got to it gets no
 * worker started for it (one is started for each new identity); its twin,
 * which stays, does get one. The master is stopped while the client
 * connects, so that the order is certain.
 */
static void test_client_gone_before_routing_starts_no_worker(void **state) {
  struct psockd_proc *p = harness_start_psockd(NULL);
  struct arrival *a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t master = harness_psockd_pid(p), c;
  bool gone = false;

  assert_true(a != MAP_FAILED);
  for (int stays = 0; stays < 2; stays++) {
    *a = (struct arrival){.leave = !stays};
    stop_proc(master);
    c = harness_start_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0, 0,
                         client_arrive, a);
    assert_true(c > 0);
    for (int t = 0; t < 5000 && !(stays ? a->connected : a->closed); t++)
      usleep(1000);
    assert_true(stays ? a->connected : a->closed);
    assert_int_equal(kill(master, SIGCONT), 0);
    if (stays) {
      assert_true(wait_proc(p, "psockd-worker uid=65534") > 0);
      a->release = 1;
      assert_int_equal(harness_wait(c, 5), 0);
      break;
    }
    for (int t = 0; t < 500 && !gone; t++) {
      gone = log_has(p, "pid ") && log_has(p, ": left before it was served");
      if (!gone)
        usleep(10000);
    }
    if (!gone)
      harness_print_psockd_log(p);
    assert_true(gone);
    assert_int_equal(
        harness_psockd_procs(p, "psockd-worker uid=65534", NULL, 0), 0);
    a->release = 1;
    assert_int_equal(harness_wait(c, 5), 0);
  }
  munmap(a, sizeof(*a));
  harness_stop_psockd(p);
}

/* ------------------------------------------------ crash and recovery */

/* Shared with the client process (the harness closes inherited fds). */
struct sync {
  volatile int client_ready, worker_replaced;
};

static int wait_flag(volatile int *flag) {
  for (int t = 0; t < 10000 && !*flag; t++)
    usleep(1000);
  return *flag;
}

static int client_across_crash(void *arg) {
  struct sync *s = arg;
  psock_sock *a, *b;

  a = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(a != NULL);
  s->client_ready = 1;
  CHECK(wait_flag(&s->worker_replaced));
  /* Our worker is gone: the library reconnects and retries by itself. */
  b = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(b != NULL);
  CHECK(psock_type(b) == SOCK_DGRAM);
  /* The socket from before the crash is ours and still works. */
  CHECK(psock_listen(a, 1) == 0);
  psock_close(a);
  psock_close(b);
  return 0;
}

struct killer {
  struct sync *s;
  struct psockd_proc *p;
  int sig;
  pid_t victim;
  int died;
};

/* Once the client has its socket, signal its worker and wait for the
 * worker to be gone (its clients are served by a new one on demand). */
static void *kill_worker_thread(void *arg) {
  struct killer *k = arg;

  if (!wait_flag(&k->s->client_ready))
    return NULL;
  k->victim = wait_proc(k->p, "psockd-worker uid=65534");
  kill(k->victim, k->sig);
  for (int t = 0; t < 1000 && !k->died; t++) {
    k->died =
        harness_psockd_procs(k->p, "psockd-worker uid=65534", NULL, 0) == 0;
    usleep(5000);
  }
  k->s->worker_replaced = 1;
  return NULL;
}

static void crash_and_recover(int sig, const char *log_expect) {
  const char *args[] = {"--workers", "1", "--worker-idle=60", NULL};
  struct psockd_proc *p = harness_start_psockd(args);
  struct sync *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct killer k = {.s = s, .p = p, .sig = sig};
  pthread_t t;
  char *log;

  assert_true(s != MAP_FAILED);
  assert_int_equal(pthread_create(&t, NULL, kill_worker_thread, &k), 0);
  assert_int_equal(harness_run_as_nobody(0, client_across_crash, s), 0);
  pthread_join(t, NULL);
  assert_true(k.victim > 0);
  assert_true(k.died);
  log = harness_psockd_log(p);
  if (!strstr(log, log_expect))
    fail_msg("psockd log lacks '%s':\n%s", log_expect, log);
  free(log);
  munmap(s, sizeof(*s));
  harness_stop_psockd(p);
}

static void
test_forbidden_syscall_kills_worker_and_client_recovers(void **state) {
#ifdef PSOCK_TEST_HOOKS
  crash_and_recover(SIGUSR2, "killed by signal 31 (forbidden system call)");
#else
  print_message("skipped: built without -Dtest_hooks=true, the worker has "
                "no way to make a forbidden system call on purpose\n");
  skip();
#endif
}

static void test_killed_worker_replaced_and_client_recovers(void **state) {
  crash_and_recover(SIGKILL, "killed by signal 9");
}

/* ------------------------------------------------------ kill -9 under load */

#define LOAD_CLIENTS 8
#define LOAD_SECONDS 2

struct load_slot {
  volatile int started;
  volatile long ok, failed, ok_after_kill;
};

struct load {
  struct load_slot *slots; /* shared with the client processes */
  volatile int *killed;
  int index;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load_client(void *arg) {
  const struct load *l = arg;
  struct load_slot *slot = &l->slots[l->index];
  double end = now_s() + LOAD_SECONDS;

  slot->started = 1;
  while (now_s() < end) {
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
    if (!s) {
      fprintf(stderr, "client %d: %s\n", l->index, psock_last_error_message());
      slot->failed++;
      continue;
    }
    psock_close(s);
    slot->ok++;
    if (*l->killed)
      slot->ok_after_kill++;
  }
  return 0;
}

/* Unix sockets a process holds: its client connections, roughly. */
static int count_sockets(pid_t pid) {
  char path[64], target[64];
  int n = 0;
  DIR *d;
  struct dirent *e;
  /* d_name is at most 255 bytes */

  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  d = opendir(path);
  if (!d)
    return -1;
  while ((e = readdir(d))) {
    char link[64 + 256];
    ssize_t len;
    snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
    len = readlink(link, target, sizeof(target) - 1);
    if (len > 0) {
      target[len] = '\0';
      n += strncmp(target, "socket:", 7) == 0;
    }
  }
  closedir(d);
  return n;
}

/* As nobody: LOAD_CLIENTS processes, forked from this main thread. */
static int load_clients(void *arg) {
  struct load *loads = arg;
  pid_t pids[LOAD_CLIENTS];
  int rc = 0, status;

  for (int i = 1; i < LOAD_CLIENTS; i++) {
    pids[i] = fork();
    if (pids[i] == 0)
      exit(load_client(&loads[i]));
    CHECK(pids[i] > 0);
  }
  rc = load_client(&loads[0]);
  for (int i = 1; i < LOAD_CLIENTS; i++) {
    CHECK(waitpid(pids[i], &status, 0) == pids[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      rc = 1;
  }
  return rc;
}

struct load_killer {
  struct psockd_proc *p;
  struct load_slot *slots;
  volatile int *killed;
  pid_t victim;
  int victim_busy;
};

/* Once every client runs, kill -9 the worker serving the most of them. */
static void *load_killer_thread(void *arg) {
  struct load_killer *k = arg;
  pid_t workers[MAX_PROCS];
  int n;

  for (int i = 0; i < LOAD_CLIENTS; i++)
    while (!k->slots[i].started)
      usleep(1000);
  usleep(500 * 1000);
  n = harness_psockd_procs(k->p, "psockd-worker uid=65534", workers, MAX_PROCS);
  for (int i = 0; i < n && i < MAX_PROCS; i++) {
    int busy = count_sockets(workers[i]);
    if (busy > k->victim_busy) {
      k->victim = workers[i];
      k->victim_busy = busy;
    }
  }
  if (k->victim > 0)
    kill(k->victim, SIGKILL);
  *k->killed = 1;
  return NULL;
}

static void test_kill9_worker_under_load(void **state) {
  const char *args[] = {"--workers", "2", NULL};
  struct psockd_proc *p = harness_start_psockd(args);
  struct load loads[LOAD_CLIENTS];
  struct load_killer k = {.p = p};
  pthread_t killer;
  int fds_before, fds_after;
  long failed = 0;

  assert_true(wait_proc(p, "psockd --role=spawn") > 0);
  fds_before = harness_psockd_idle_fds(p);
  k.slots = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  assert_true(k.slots != MAP_FAILED);
  k.killed = (volatile int *)&k.slots[LOAD_CLIENTS];
  for (int i = 0; i < LOAD_CLIENTS; i++)
    loads[i] = (struct load){k.slots, k.killed, i};
  assert_int_equal(pthread_create(&killer, NULL, load_killer_thread, &k), 0);
  assert_int_equal(harness_run_as_nobody(0, load_clients, loads), 0);
  pthread_join(killer, NULL);
  for (int i = 0; i < LOAD_CLIENTS; i++) {
    print_message("client %d: %ld ok (%ld after the kill), %ld failed\n", i,
                  k.slots[i].ok, k.slots[i].ok_after_kill, k.slots[i].failed);
    failed += k.slots[i].failed;
    /* Everyone, also the killed worker's clients, kept going. */
    assert_true(k.slots[i].ok_after_kill > 0);
  }
  print_message("killed worker %d: %d sockets under load\n", k.victim,
                k.victim_busy);
  /* The killed worker was serving some of the clients. */
  assert_true(k.victim > 0);
  assert_true(k.victim_busy > 0);
  assert_int_equal(failed, 0);
  /* Once the clients are gone psockd holds what it held before. */
  fds_after = harness_psockd_idle_fds(p);
  assert_int_equal(fds_after, fds_before);
  munmap(k.slots, 4096);
  harness_stop_psockd(p);
}

/* ---------------------------------------- psockd-priv, psockd-spawn die */

static int raw_icmp_socket(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

static int tcp_socket(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

/* Kill the role titled title; a new one must take its place, and the
 * clients of both root and nobody be served again. */
static void role_killed_and_replaced(const char *title, const char *log_says) {
  struct psockd_proc *p = harness_start_psockd(NULL);
  pid_t old = wait_proc(p, title), now = 0;
  char *log;

  assert_true(old > 0);
  assert_int_equal(harness_run_as_root(0, raw_icmp_socket, NULL), 0);
  assert_int_equal(harness_run_as_nobody(0, tcp_socket, NULL), 0);
  assert_int_equal(kill(old, SIGKILL), 0);
  for (int t = 0; t < 500 && (!now || now == old); t++) {
    if (harness_psockd_procs(p, title, &now, 1) != 1)
      now = 0;
    usleep(10000);
  }
  assert_true(now > 0 && now != old);
  /* A raw socket needs psockd-priv; a worker needs psockd-spawn. */
  assert_int_equal(harness_run_as_root(0, raw_icmp_socket, NULL), 0);
  assert_int_equal(harness_run_as_nobody(0, tcp_socket, NULL), 0);
  log = harness_psockd_log(p);
  if (!strstr(log, log_says))
    fail_msg("psockd log lacks '%s':\n%s", log_says, log);
  free(log);
  harness_stop_psockd(p);
}

static void test_killed_priv_replaced(void **state) {
  role_killed_and_replaced("psockd --role=priv",
                           "psockd-priv killed by signal 9");
}

static void test_killed_spawn_replaced(void **state) {
  role_killed_and_replaced("psockd --role=spawn",
                           "psockd-spawn killed by signal 9");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roles_have_exactly_their_privileges),
      cmocka_unit_test(test_dynamic_service_uid_claimed_and_released),
      cmocka_unit_test(test_service_user_refused),
      cmocka_unit_test(test_service_user_as_digits),
      cmocka_unit_test(test_client_gone_before_routing_starts_no_worker),
      cmocka_unit_test(test_forbidden_syscall_kills_worker_and_client_recovers),
      cmocka_unit_test(test_killed_worker_replaced_and_client_recovers),
      cmocka_unit_test(test_kill9_worker_under_load),
      cmocka_unit_test(test_killed_priv_replaced),
      cmocka_unit_test(test_killed_spawn_replaced),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
