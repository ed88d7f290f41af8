/* SPDX-License-Identifier: MIT */
/*
 * master (psockd without --role): reads the policy, owns the listening
 * socket, accepts each client, learns who it is from the kernel
 * (SO_PEERCRED, SO_PEERGROUPS, the unit through SO_PEERPIDFD) and hands the
 * connection to a worker serving exactly that identity (master_workers.c).
 * It starts psockd-priv and psockd-spawn by fork + exec of its own binary
 * with --role, restarts either when it dies, and turns signals into
 * actions:
 *
 *   SIGHUP   read the policy file again; only a file that parses replaces
 *            the policy in force (a missing or broken one keeps it: a
 *            reload never widens by accident); send it to psockd-priv and
 *            every worker, each of which swaps it in whole.
 *   SIGTERM  stop accepting, tell every worker to finish what it has in
 *            flight (bounded), then stop the roles and exit 0.
 *
 * Trust boundary: the master never reads a byte from a client: it accepts
 * and asks the kernel. From workers (which run as clients' uids) it reads
 * one fixed-size struct; from its two roles fixed-size reports.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "control.h"
#include "identity.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "privproto.h"
#include "spawnask.h"
#include "wire.h"

/* How long SIGTERM waits for workers to finish what is in flight. */
#define DRAIN_TIMEOUT_MS 5000
/* A role that died is started again after this long, doubling up to 5 s
 * while it keeps dying at once. */
#define RESTART_DELAY_MS 100
/* Connections accepted per wakeup, so signals and reports get their turn. */
#define ACCEPT_BUDGET 16

struct role {
  const char *name; /* "priv", "spawn" */
  pid_t pid;
  int ctl; /* master side of its control socket, -1 if none */
  struct watch watch;
  long long started_ms, due_ms, backoff_ms;
};

struct master {
  const struct master_options *o;
  struct loop loop;
  struct watch listen_watch, sig_watch, timer_watch;
  int listen_fd, sig_fd, timer_fd;
  struct role priv, spawn;
  struct wtable *workers;
  int policy_fd; /* sealed memfd holding the policy text, -1 = default */
  char policy_name[CTL_NAME_MAX];
  bool stopping;
  long long stop_deadline;
  unsigned restarts;
};

static struct master *M;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ roles */

/* In the child: the control socket at 3, then exec psockd --role=NAME. */
static void exec_role(const struct role *r, int ctl) {
  const struct master_options *o = M->o;
  char role_arg[32], lim[4][40], *argv[24];
  int n = 0;

  if (dup2(ctl, 3) < 0)
    _exit(127);
  close_range(4, ~0U, 0);
  snprintf(role_arg, sizeof(role_arg), "--role=%s", r->name);
  argv[n++] = (char *)o->argv0;
  argv[n++] = role_arg;
  if (o->user) {
    argv[n++] = (char *)"--user";
    argv[n++] = (char *)o->user;
  }
  if (o->verbose)
    argv[n++] = (char *)"--verbose";
  if (!o->seccomp)
    argv[n++] = (char *)"--no-seccomp";
  if (o->audit_allow)
    argv[n++] = (char *)"--audit-allow";
  snprintf(lim[0], sizeof(lim[0]), "--max-inflight=%u",
           bounds.inflight_per_conn);
  snprintf(lim[1], sizeof(lim[1]), "--max-lookups=%u", bounds.lookups_per_uid);
  snprintf(lim[2], sizeof(lim[2]), "--lookup-threads=%u", o->lookup_threads);
  for (int i = 0; i < 3; i++)
    argv[n++] = lim[i];
  argv[n] = NULL;
  execv(o->self_exe, argv);
  _exit(127);
}

static int send_priv_policy(void) {
  struct priv_ctl m = {.type = PRIV_CTL_POLICY};
  int fd = M->policy_fd;

  snprintf(m.name, sizeof(m.name), "%s", M->policy_name);
  return wire_send_packet(M->priv.ctl, &m, sizeof(m), &fd, fd >= 0 ? 1 : 0,
                          MSG_DONTWAIT);
}

static int role_start(struct role *r) {
  int sv[2];
  pid_t pid;

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -errno;
  pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    exec_role(r, sv[1]);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return -errno;
  }
  r->pid = pid;
  r->ctl = sv[0];
  r->started_ms = now_ms();
  r->due_ms = 0;
  log_info("started psockd-%s (pid %d)", r->name, pid);
  if (loop_add(&M->loop, r->ctl, EPOLLIN, &r->watch) < 0)
    return -errno;
  return r == &M->priv ? send_priv_policy() : 0;
}

/* A role died: restart it, less and less often while it keeps dying at
 * once (a broken install, no fds left), up to every 5 s. */
static void role_died(struct role *r, const char *how) {
  long long now = now_ms();

  r->pid = 0;
  if (r->ctl >= 0) {
    loop_del(&M->loop, r->ctl, &r->watch);
    close(r->ctl);
    r->ctl = -1;
  }
  if (M->stopping)
    return;
  if (now - r->started_ms < 1000)
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : RESTART_DELAY_MS;
  else
    r->backoff_ms = RESTART_DELAY_MS;
  if (r->backoff_ms > 5000)
    r->backoff_ms = 5000;
  r->due_ms = now + r->backoff_ms;
  M->restarts++;
  log_err("psockd-%s %s; restarting it in %lld ms", r->name, how,
          r->backoff_ms);
  /* Every worker's channel died with psockd-priv; every worker with
   * psockd-spawn. They come back on demand. */
  if (r == &M->priv)
    wtable_kill_all(M->workers, SIGKILL);
  else
    wtable_forget_all(M->workers);
}

static void roles_due(void) {
  long long now = now_ms();
  struct role *roles[] = {&M->priv, &M->spawn};

  for (int i = 0; i < 2; i++) {
    struct role *r = roles[i];
    if (r->pid == 0 && r->due_ms && r->due_ms <= now && !M->stopping &&
        role_start(r) < 0)
      role_died(r, "could not be started");
  }
}

/* psockd-spawn's reports; psockd-priv sends nothing (EOF: it died). */
static void on_role(struct watch *w, uint32_t events) {
  struct role *r = (struct role *)((char *)w - offsetof(struct role, watch));
  struct spawn_report rep;
  int e;

  if (r == &M->spawn) {
    while ((e = spawnask_report(r->ctl, &rep)) == 0)
      wtable_report(M->workers, &rep);
    if (e == -EAGAIN)
      return;
  }
  /* Gone (SIGCHLD says how) or misbehaving: the control goes. */
  if (r->pid > 0)
    kill(r->pid, SIGKILL);
  loop_del(&M->loop, r->ctl, &r->watch);
  close(r->ctl);
  r->ctl = -1;
}

/* ------------------------------------------------------------- policy */

/*
 * Parse the policy text in the memfd fd and return a memfd with the text
 * the roles get: the same rules on the same lines, with user= and group=
 * resolved here (the roles' system call filters keep them away from the
 * name service). fd or -errno.
 */
static int resolved_policy(int fd, const char *name, unsigned *ret_nerr) {
  struct policy *p = NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *f;
  int r = policy_load_fd(fd, name, stderr, ret_nerr, &p);

  if (r < 0)
    return r;
  f = open_memstream(&text, &len);
  if (!f) {
    policy_free(p);
    return -ENOMEM;
  }
  policy_dump_resolved(p, f);
  policy_free(p);
  r = fclose(f) == 0 ? control_sealed_memfd(text, len) : -ENOMEM;
  free(text);
  return r;
}

/*
 * Read the policy file into a sealed memfd and check what the memfd holds.
 * The file is read once, so the roles get exactly the bytes checked here,
 * even if it is replaced meanwhile or can be read only once. At start,
 * without --policy and without the standard file, the built-in default
 * applies; at a reload only a file that parses replaces what is in force.
 */
static int load_policy(bool at_start) {
  const struct master_options *o = M->o;
  unsigned nerr = 0;
  int r, fd;

  if (!o->policy_path ||
      (at_start && o->policy_optional && access(o->policy_path, F_OK) < 0 &&
       errno == ENOENT)) {
    snprintf(M->policy_name, sizeof(M->policy_name), "default policy");
    return 0;
  }
  r = control_policy_memfd(o->policy_path);
  fd = r < 0 ? r : resolved_policy(r, o->policy_path, &nerr);
  if (r >= 0)
    close(r);
  r = fd < 0 ? fd : 0;
  if (r < 0) {
    log_err("policy %s: %s (%u error(s)); %s", o->policy_path, strerror(-r),
            nerr, at_start ? "not starting" : "keeping the policy in force");
    return r;
  }
  if (M->policy_fd >= 0)
    close(M->policy_fd);
  M->policy_fd = fd;
  snprintf(M->policy_name, sizeof(M->policy_name), "%s", o->policy_path);
  return 0;
}

static void reload(void) {
  unsigned sent;

  notify_reloading();
  if (load_policy(false) == 0) {
    if (M->priv.ctl >= 0 && send_priv_policy() < 0)
      log_err("cannot send the policy to psockd-priv: %m");
    sent = wtable_send_policy(M->workers);
    log_notice("SIGHUP: policy %s sent to psockd-priv and %u worker(s)",
               M->policy_name, sent);
  }
  notify_ready();
}

/* ------------------------------------------------------------ clients */

static void accept_one(int fd) {
  struct identity who;
  int one = 1, r;

  /* Belt and braces: the listening socket has SO_PASSCRED, which the
   * accepted one inherits; each request's credentials depend on it. */
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
    close(fd);
    return;
  }
  r = identity_from_socket(fd, &who);
  if (r < 0) {
    log_limited(LOG_WARNING, "cannot identify a client: %s", strerror(-r));
    close(fd);
    return;
  }
  wtable_route(M->workers, fd, &who);
}

static void on_listen(struct watch *w, uint32_t events) {
  for (int i = 0; i < ACCEPT_BUDGET; i++) {
    int fd = accept4(M->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        log_limited(LOG_WARNING, "accept: %m");
      return;
    }
    accept_one(fd);
  }
}

/* ------------------------------------------------------------ signals */

static void begin_stop(void) {
  if (M->stopping)
    return;
  M->stopping = true;
  M->stop_deadline = now_ms() + DRAIN_TIMEOUT_MS;
  notify_stopping();
  log_notice("stopping: workers finish what is in flight");
  if (M->listen_fd >= 0)
    loop_del(&M->loop, M->listen_fd, &M->listen_watch);
  wtable_drain_all(M->workers);
}

static void reap(void) {
  int status;
  pid_t pid;
  char how[64];

  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    log_exit_status(status, how, sizeof(how));
    if (pid == M->priv.pid)
      role_died(&M->priv, how);
    else if (pid == M->spawn.pid)
      role_died(&M->spawn, how);
  }
}

static void on_signal(struct watch *w, uint32_t events) {
  struct signalfd_siginfo si;

  while (read(M->sig_fd, &si, sizeof(si)) == sizeof(si)) {
    if (si.ssi_signo == SIGCHLD)
      reap();
    else if (si.ssi_signo == SIGHUP && !M->stopping)
      reload();
    else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
      begin_stop();
  }
}

/* ---------------------------------------------------------- each second */

static void update_status(void) {
  unsigned workers, users;
  uint64_t clients, requests;

  wtable_stats(M->workers, &workers, &users, &clients, &requests);
  notify_status("%u workers for %u users, %" PRIu64 " clients, %" PRIu64
                " requests served, %u restarts, policy: %s",
                workers, users, clients, requests, M->restarts, M->policy_name);
}

static void on_timer(struct watch *w, uint32_t events) {
  uint64_t n;

  if (read(M->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    log_warn("timerfd: %m");
  wtable_tick(M->workers, now_ms());
  roles_due();
  if (M->stopping && now_ms() >= M->stop_deadline &&
      !wtable_empty(M->workers)) {
    log_warn("workers did not finish in time: killing them");
    wtable_kill_all(M->workers, SIGKILL);
    M->stop_deadline = now_ms() + DRAIN_TIMEOUT_MS;
  }
  update_status();
  notify_watchdog();
}

/* -------------------------------------------------------------- setup */

static int master_setup(void) {
  struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
  int one = 1, r;
  sigset_t mask;

  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return -errno;
  M->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  M->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  M->loop.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (M->sig_fd < 0 || M->timer_fd < 0 || M->loop.epfd < 0 ||
      timerfd_settime(M->timer_fd, 0, &its, NULL) < 0)
    return -errno;
  M->sig_watch.on_event = on_signal;
  M->timer_watch.on_event = on_timer;
  M->listen_watch.on_event = on_listen;
  if ((r = loop_add(&M->loop, M->sig_fd, EPOLLIN, &M->sig_watch)) < 0 ||
      (r = loop_add(&M->loop, M->timer_fd, EPOLLIN, &M->timer_watch)) < 0)
    return r;
  if ((r = role_start(&M->priv)) < 0 || (r = role_start(&M->spawn)) < 0)
    return r;
  if ((M->listen_fd = M->o->open_listener(M->o->listener_ctx)) < 0)
    return M->listen_fd;
  /* Every request carries its sender's credentials from the first one on
   * (accepted sockets inherit the flag). */
  if (setsockopt(M->listen_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
    return -errno;
  return loop_add(&M->loop, M->listen_fd, EPOLLIN, &M->listen_watch);
}

static void master_loop(void) {
  while (!(M->stopping && wtable_empty(M->workers))) {
    struct epoll_event evs[16];
    int n = epoll_wait(M->loop.epfd, evs, 16, 1000);

    if (n < 0 && errno != EINTR) {
      log_err("epoll_wait: %m");
      return;
    }
    for (int i = 0; i < n; i++)
      loop_dispatch(&evs[i]);
  }
}

/* Close a role's control (it exits then) and wait for it. */
static void role_finish(struct role *r) {
  if (r->ctl >= 0) {
    loop_del(&M->loop, r->ctl, &r->watch);
    close(r->ctl);
    r->ctl = -1;
  }
  if (r->pid > 0)
    waitpid(r->pid, NULL, 0);
  r->pid = 0;
}

int master_run(const struct master_options *o) {
  struct master m = {.o = o,
                     .loop.epfd = -1,
                     .listen_fd = -1,
                     .sig_fd = -1,
                     .timer_fd = -1,
                     .policy_fd = -1,
                     .priv = {.name = "priv", .ctl = -1},
                     .spawn = {.name = "spawn", .ctl = -1}};
  struct wtable_env env = {.loop = &m.loop,
                           .spawn_fd = &m.spawn.ctl,
                           .priv_fd = &m.priv.ctl,
                           .policy_fd = &m.policy_fd,
                           .policy_name = m.policy_name,
                           .limits = o->limits};
  int r;

  M = &m;
  m.priv.watch.on_event = on_role;
  m.spawn.watch.on_event = on_role;
  r = load_policy(true);
  if (r == 0)
    r = wtable_new(&env, &m.workers);
  if (r == 0)
    r = master_setup();
  if (r < 0) {
    log_err("cannot start: %s", strerror(-r));
  } else {
    log_notice("ready; policy: %s", m.policy_name);
    notify_ready();
    master_loop();
  }
  M->stopping = true;
  role_finish(&m.spawn); /* its workers go with it */
  role_finish(&m.priv);
  wtable_free(m.workers);
  if (m.policy_fd >= 0)
    close(m.policy_fd);
  if (m.sig_fd >= 0)
    close(m.sig_fd);
  if (m.timer_fd >= 0)
    close(m.timer_fd);
  if (m.loop.epfd >= 0)
    close(m.loop.epfd);
  log_notice("stopped");
  M = NULL;
  return r;
}
