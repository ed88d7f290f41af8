/* SPDX-License-Identifier: MIT */
/*
 * Privilege separation, observed from outside: the roles psockd runs as
 * (read from /proc/PID/status), a worker killed by its seccomp filter and
 * replaced, and kill -9 of a worker while clients (as nobody) are busy.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include <psock/psock.h>

#define MAX_CHILDREN 16

struct role_proc {
  pid_t pid;
  char role[16]; /* "priv", "worker" */
};

/* The processes whose parent is ppid, with their --role. */
static size_t find_roles(pid_t ppid, struct role_proc *out, size_t max) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  size_t n = 0;

  assert_non_null(d);
  while ((e = readdir(d)) && n < max) {
    char path[300], buf[512];
    FILE *f;
    int parent = 0;
    size_t len;

    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
    f = fopen(path, "re");
    if (!f)
      continue;
    /* pid (comm) state ppid: comm may hold spaces, so skip to ')'. */
    len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp || sscanf(rp + 2, "%*c %d", &parent) != 1 || parent != ppid)
      continue;
    snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
    f = fopen(path, "re");
    if (!f)
      continue;
    len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
      if (buf[i] == '\0')
        buf[i] = ' ';
    const char *role = strstr(buf, "--role=");
    if (!role)
      continue;
    out[n].pid = atoi(e->d_name);
    sscanf(role + 7, "%15s", out[n].role);
    n++;
  }
  closedir(d);
  return n;
}

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

/*
 * A role sandboxes itself right after exec; the last step is no_new_privs
 * (priv) or the seccomp filter (worker). Wait up to 5 s for it: the
 * assertions that follow then check the state it settled in.
 */
static void wait_sandboxed(const struct role_proc *r) {
  bool worker = strcmp(r->role, "worker") == 0;
  const char *key = worker ? "Seccomp" : "NoNewPrivs";
  const char *want = worker ? "2" : "1";
  char v[16] = "";

  for (int t = 0; t < 1000 && strcmp(v, want) != 0; t++) {
    status_field(r->pid, key, v, sizeof(v));
    if (strcmp(v, want) != 0)
      usleep(5000);
  }
}

static size_t wait_for_workers(pid_t master, size_t want, int timeout_ms,
                               struct role_proc *roles) {
  size_t n = 0, workers = 0;

  for (int t = 0; t < timeout_ms; t += 10) {
    n = find_roles(master, roles, MAX_CHILDREN);
    workers = 0;
    for (size_t i = 0; i < n; i++)
      workers += strcmp(roles[i].role, "worker") == 0;
    if (workers == want)
      break;
    usleep(10000);
  }
  return workers == want ? n : 0;
}

static pid_t first_worker(const struct role_proc *roles, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(roles[i].role, "worker") == 0)
      return roles[i].pid;
  return 0;
}

/* ---------------------------------------------------------------- roles */

static void test_roles_have_exactly_their_privileges(void **state) {
  const char *args[] = {"--workers", "2", NULL};
  struct psockd_proc *p = harness_start_psockd(args);
  struct role_proc roles[MAX_CHILDREN];
  pid_t master = harness_psockd_pid(p);
  size_t n = wait_for_workers(master, 2, 15000, roles), privs = 0;

  assert_int_equal(n, 3);
  assert_status(master, "Uid", "0\t0\t0\t0");
  for (size_t i = 0; i < n; i++) {
    char uid[64];
    wait_sandboxed(&roles[i]);
    status_field(roles[i].pid, "Uid", uid, sizeof(uid));
    assert_true(strncmp(uid, "0\t", 2) != 0); /* not root */
    assert_status(roles[i].pid, "NoNewPrivs", "1");
    if (strcmp(roles[i].role, "priv") == 0) {
      /* CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13). */
      assert_status(roles[i].pid, "CapEff", "0000000000003400");
      assert_status(roles[i].pid, "CapPrm", "0000000000003400");
      assert_status(roles[i].pid, "CapBnd", "0000000000003400");
      assert_status(roles[i].pid, "CapAmb", "0000000000000000");
      privs++;
    } else {
      assert_string_equal(roles[i].role, "worker");
      assert_status(roles[i].pid, "CapEff", "0000000000000000");
      assert_status(roles[i].pid, "CapPrm", "0000000000000000");
      assert_status(roles[i].pid, "CapBnd", "0000000000000000");
      assert_status(roles[i].pid, "Seccomp", "2");
    }
  }
  assert_int_equal(privs, 1);
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
  pid_t master;
  int sig;
  pid_t victim, replacement;
  int died;
};

static void *kill_worker_thread(void *arg) {
  struct killer *k = arg;
  struct role_proc roles[MAX_CHILDREN];

  if (!wait_flag(&k->s->client_ready))
    return NULL;
  k->victim = first_worker(roles, find_roles(k->master, roles, MAX_CHILDREN));
  kill(k->victim, k->sig);
  /* The master starts a replacement within a second. */
  for (int t = 0; t < 1000 && !k->replacement; t += 5) {
    size_t n = find_roles(k->master, roles, MAX_CHILDREN);
    pid_t w = first_worker(roles, n);
    if (w && w != k->victim)
      k->replacement = w;
    else
      usleep(5000);
  }
  k->died = kill(k->victim, 0) < 0 && errno == ESRCH;
  k->s->worker_replaced = 1;
  return NULL;
}

static void crash_and_recover(int sig, const char *log_expect) {
  const char *args[] = {"--workers", "1", NULL};
  struct psockd_proc *p = harness_start_psockd(args);
  struct sync *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct killer k = {.s = s, .master = harness_psockd_pid(p), .sig = sig};
  pthread_t t;
  char *log;

  assert_true(s != MAP_FAILED);
  assert_int_equal(pthread_create(&t, NULL, kill_worker_thread, &k), 0);
  assert_int_equal(harness_run_as_nobody(0, client_across_crash, s), 0);
  pthread_join(t, NULL);
  assert_true(k.victim > 0);
  assert_true(k.died);
  assert_true(k.replacement > 0);
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
  crash_and_recover(SIGKILL, "killed by signal 9; restarting it");
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
  struct load_slot *slots;
  volatile int *killed;
  struct role_proc roles[3];
  int idle[3];
  pid_t victim;
  int victim_idle, victim_busy;
};

/* Once every client runs, kill -9 the worker serving the most of them. */
static void *load_killer_thread(void *arg) {
  struct load_killer *k = arg;

  for (int i = 0; i < LOAD_CLIENTS; i++)
    while (!k->slots[i].started)
      usleep(1000);
  usleep(500 * 1000);
  for (int i = 0; i < 3; i++) {
    int busy = count_sockets(k->roles[i].pid) - k->idle[i];
    if (strcmp(k->roles[i].role, "worker") == 0 && busy > k->victim_busy) {
      k->victim = k->roles[i].pid;
      k->victim_busy = busy;
      k->victim_idle = k->idle[i];
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
  struct load_killer k = {0};
  pthread_t killer;
  pid_t master = harness_psockd_pid(p);
  int fds_before, fds_after = -1;
  long failed = 0;

  assert_int_equal(wait_for_workers(master, 2, 15000, k.roles), 3);
  for (int i = 0; i < 3; i++) {
    wait_sandboxed(&k.roles[i]);
    k.idle[i] = count_sockets(k.roles[i].pid);
  }
  fds_before = harness_psockd_fd_total(p);
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
  print_message("killed worker %d: %d sockets idle, %d more under load\n",
                k.victim, k.victim_idle, k.victim_busy);
  /* The killed worker was serving some of the clients. */
  assert_true(k.victim > 0);
  assert_true(k.victim_busy > 0);
  assert_int_equal(failed, 0);
  /* Once the clients are gone psockd holds what it held before. */
  for (int t = 0; t < 300 && fds_after != fds_before; t++) {
    usleep(10000);
    fds_after = harness_psockd_fd_total(p);
  }
  assert_int_equal(fds_after, fds_before);
  munmap(k.slots, 4096);
  harness_stop_psockd(p);
}

/* ------------------------------------------------- psockd-priv dies */

static pid_t role_pid(pid_t master, const char *role) {
  struct role_proc roles[MAX_CHILDREN];
  size_t n = find_roles(master, roles, MAX_CHILDREN);

  for (size_t i = 0; i < n; i++)
    if (strcmp(roles[i].role, role) == 0)
      return roles[i].pid;
  return 0;
}

static int raw_icmp_socket(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

static void test_killed_priv_replaced_with_its_workers(void **state) {
  const char *args[] = {"--workers", "1", NULL};
  struct psockd_proc *p = harness_start_psockd(args);
  struct role_proc roles[MAX_CHILDREN];
  pid_t master = harness_psockd_pid(p), priv, worker, priv2 = 0, worker2 = 0;
  char *log;

  assert_int_equal(wait_for_workers(master, 1, 15000, roles), 2);
  priv = role_pid(master, "priv");
  worker = role_pid(master, "worker");
  assert_true(priv > 0 && worker > 0);
  assert_int_equal(harness_run_as_nobody(0, raw_icmp_socket, NULL), 0);
  assert_int_equal(kill(priv, SIGKILL), 0);
  /* A new psockd-priv, and a new worker with a channel to it. */
  for (int t = 0; t < 300 && !(priv2 && worker2); t++) {
    pid_t a = role_pid(master, "priv"), b = role_pid(master, "worker");
    priv2 = a && a != priv ? a : 0;
    worker2 = b && b != worker ? b : 0;
    usleep(10000);
  }
  assert_true(priv2 > 0);
  assert_true(worker2 > 0);
  /* A raw socket needs psockd-priv: the new one serves the new worker. */
  assert_int_equal(harness_run_as_nobody(0, raw_icmp_socket, NULL), 0);
  log = harness_psockd_log(p);
  assert_non_null(strstr(log, "psockd-priv killed by signal 9"));
  free(log);
  harness_stop_psockd(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roles_have_exactly_their_privileges),
      cmocka_unit_test(test_forbidden_syscall_kills_worker_and_client_recovers),
      cmocka_unit_test(test_killed_worker_replaced_and_client_recovers),
      cmocka_unit_test(test_kill9_worker_under_load),
      cmocka_unit_test(test_killed_priv_replaced_with_its_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
