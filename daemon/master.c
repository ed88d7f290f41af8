/* SPDX-License-Identifier: MIT */
/*
 * master (psockd without --role): reads the configuration and the policy,
 * owns the listening socket, starts psockd-priv and the workers by fork +
 * exec of its own binary with --role (so each role starts from a clean
 * image), restarts any that dies, and turns signals into actions:
 *
 *   SIGHUP   load the policy file again; if it is valid, send it to every
 *            worker (each swaps it in whole); if not, log why and keep the
 *            one in force.
 *   SIGTERM  tell every worker to stop accepting and finish what it has in
 *            flight (bounded), then stop psockd-priv and exit 0.
 *
 * Trust boundary: the master never reads from a client. What it reads from
 * workers is the fixed-size struct ctl_msg (control.h); a worker that sends
 * anything else is killed and replaced.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "quota.h"
#include "wire.h"

/* How long SIGTERM waits for workers to finish in-flight requests. */
#define DRAIN_TIMEOUT_MS 5000
/* A worker that died is started again after this long at the latest. */
#define RESTART_DELAY_MS 100

struct child {
  pid_t pid;
  int ctl;          /* master side of the control socket, -1 if none */
  long long due_ms; /* restart time when pid == 0, 0 if not pending */
  uint64_t clients, requests;
};

struct master {
  const struct master_options *o;
  int epfd, sig_fd, timer_fd;
  int priv_ctl; /* master side of psockd-priv's control socket */
  pid_t priv_pid;
  long long priv_started_ms; /* when the running psockd-priv started */
  long long priv_due_ms;     /* restart time while it is down, 0 if none */
  long long priv_backoff_ms; /* grows while it keeps dying at once */
  struct child workers[MASTER_MAX_WORKERS];
  int policy_fd; /* sealed memfd holding the policy text, -1 = default */
  char policy_name[CTL_NAME_MAX];
  bool stopping;
  long long stop_deadline;
  unsigned restarts;
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------- spawning */

/* In the child: put fds at 3, 4, 5 ... and exec psockd --role=... */
static void exec_role(const struct master *m, const char *role,
                      unsigned worker_id, const int *fds, size_t nfds) {
  char id_arg[32], lim[3][40], *argv[20];
  int tmp[8], n = 0;

  /* Move fds out of the way first: a source may sit on a target number. */
  for (size_t i = 0; i < nfds; i++)
    tmp[i] = fcntl(fds[i], F_DUPFD, 100);
  for (size_t i = 0; i < nfds; i++)
    if (tmp[i] < 0 || dup2(tmp[i], 3 + (int)i) < 0)
      _exit(127);
  close_range(3 + (unsigned)nfds, ~0U, 0);
  snprintf(id_arg, sizeof(id_arg), "--worker-id=%u", worker_id);
  argv[n++] = (char *)m->o->argv0;
  argv[n++] = (char *)role;
  argv[n++] = id_arg;
  if (m->o->user) {
    argv[n++] = (char *)"--user";
    argv[n++] = (char *)m->o->user;
  }
  if (m->o->verbose)
    argv[n++] = (char *)"--verbose";
  if (!m->o->seccomp)
    argv[n++] = (char *)"--no-seccomp";
  if (m->o->audit_allow)
    argv[n++] = (char *)"--audit-allow";
  snprintf(lim[0], sizeof(lim[0]), "--max-inflight=%u",
           limits.inflight_per_conn);
  snprintf(lim[1], sizeof(lim[1]), "--max-lookups=%u", limits.lookups_per_uid);
  snprintf(lim[2], sizeof(lim[2]), "--max-conns=%u", limits.conns_per_uid);
  for (int i = 0; i < 3; i++)
    argv[n++] = lim[i];
  argv[n] = NULL;
  /* Under the systemd unit the master holds the network capabilities in
   * its ambient set, which exec hands on: psockd-priv needs them, a worker
   * must start without any. */
  if (strcmp(role, "--role=worker") == 0 &&
      prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
      errno != EINVAL)
    _exit(127);
  execv(m->o->self_exe, argv);
  _exit(127);
}

static pid_t spawn(const struct master *m, const char *role, unsigned id,
                   const int *fds, size_t nfds) {
  pid_t pid = fork();

  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    exec_role(m, role, id, fds, nfds);
  }
  return pid < 0 ? -errno : pid;
}

static int start_priv(struct master *m) {
  int sv[2];
  pid_t pid;

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -errno;
  pid = spawn(m, "--role=priv", 0, &sv[1], 1);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return pid;
  }
  m->priv_pid = pid;
  m->priv_ctl = sv[0];
  m->priv_started_ms = now_ms();
  m->priv_due_ms = 0;
  log_info("started psockd-priv (pid %d)", pid);
  return 0;
}

static int send_policy(const struct master *m, int ctl) {
  struct ctl_msg msg = {.type = CTL_POLICY};
  int fd = m->policy_fd;

  snprintf(msg.name, sizeof(msg.name), "%s", m->policy_name);
  return wire_send_packet(ctl, &msg, sizeof(msg), &fd, fd >= 0 ? 1 : 0,
                          MSG_DONTWAIT);
}

static int start_worker(struct master *m, unsigned i) {
  struct child *w = &m->workers[i];
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 100 + i};
  int privch[2] = {-1, -1}, ctl[2] = {-1, -1}, r;
  uint32_t id = i;

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, privch) < 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
    r = -errno;
    goto out;
  }
  /* psockd-priv gets its end of this worker's channel first. */
  r = wire_send_packet(m->priv_ctl, &id, sizeof(id), &privch[0], 1, 0);
  if (r < 0)
    goto out;
  int fds[3] = {m->o->listen_fd, privch[1], ctl[1]};
  w->pid = spawn(m, "--role=worker", i, fds, 3);
  if (w->pid < 0) {
    r = w->pid;
    w->pid = 0;
    goto out;
  }
  w->ctl = ctl[0];
  ctl[0] = -1;
  w->due_ms = 0;
  epoll_ctl(m->epfd, EPOLL_CTL_ADD, w->ctl, &ev);
  r = send_policy(m, w->ctl);
  log_info("started worker %u (pid %d)", i, w->pid);
out:
  wire_close_fds(privch, 2);
  if (ctl[0] >= 0)
    close(ctl[0]);
  if (ctl[1] >= 0)
    close(ctl[1]);
  return r;
}

/* ------------------------------------------------------------- policy */

/* Check the policy text in the memfd fd as a worker will parse it. */
static int check_policy_fd(int fd, const char *name, unsigned *ret_nerr) {
  struct policy *p = NULL;
  off_t size = lseek(fd, 0, SEEK_END);
  void *text;
  int r;

  if (size < 0)
    return -errno;
  text = size ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0)
              : (void *)"";
  if (text == MAP_FAILED)
    return -errno;
  r = policy_load_string(name, text, (size_t)size, stderr, ret_nerr, &p);
  if (size)
    munmap(text, (size_t)size);
  policy_free(p);
  return r;
}

/*
 * Read the policy file into a sealed memfd and check what the memfd holds.
 * The file is read once, so the workers get exactly the bytes checked here,
 * even if the file is replaced meanwhile or can be read only once (a pipe:
 * psockd --policy <(...)).
 */
static int load_policy(struct master *m) {
  unsigned nerr = 0;
  int r, fd;

  if (!m->o->policy_path ||
      (m->o->policy_optional && access(m->o->policy_path, F_OK) < 0 &&
       errno == ENOENT)) {
    if (m->policy_fd >= 0)
      close(m->policy_fd);
    m->policy_fd = -1;
    snprintf(m->policy_name, sizeof(m->policy_name), "default policy");
    return 0;
  }
  fd = control_policy_memfd(m->o->policy_path);
  r = fd < 0 ? fd : check_policy_fd(fd, m->o->policy_path, &nerr);
  if (r < 0) {
    if (fd >= 0)
      close(fd);
    log_err("policy %s: %s (%u error(s)); keeping the policy in force",
            m->o->policy_path, strerror(-r), nerr);
    return r;
  }
  if (m->policy_fd >= 0)
    close(m->policy_fd);
  m->policy_fd = fd;
  snprintf(m->policy_name, sizeof(m->policy_name), "%s", m->o->policy_path);
  return 0;
}

static void reload(struct master *m) {
  unsigned sent = 0;

  notify_reloading();
  if (load_policy(m) == 0) {
    for (unsigned i = 0; i < m->o->workers; i++)
      if (m->workers[i].pid > 0 && send_policy(m, m->workers[i].ctl) == 0)
        sent++;
    log_notice("SIGHUP: policy %s sent to %u worker(s)", m->policy_name, sent);
  }
  notify_ready();
}

/* ------------------------------------------------------- supervision */

static void arm_timer(struct master *m, long long delay_ms) {
  struct itimerspec its = {
      .it_value = {delay_ms / 1000, (delay_ms % 1000) * 1000000L}};
  timerfd_settime(m->timer_fd, 0, &its, NULL);
}

static void schedule_restart(struct master *m, struct child *w) {
  w->due_ms = now_ms() + RESTART_DELAY_MS;
  arm_timer(m, RESTART_DELAY_MS);
}

/*
 * psockd-priv died: every worker's channel died with it, so the workers go
 * too and come back once it is running again. One that dies right after
 * starting (a broken install, no fds left) is retried less and less often,
 * up to every 5 s, instead of thousands of times a second.
 */
static void priv_died(struct master *m, const char *how) {
  long long now = now_ms();

  m->priv_pid = 0;
  close(m->priv_ctl);
  m->priv_ctl = -1;
  if (now - m->priv_started_ms < 1000)
    m->priv_backoff_ms =
        m->priv_backoff_ms ? m->priv_backoff_ms * 2 : RESTART_DELAY_MS;
  else
    m->priv_backoff_ms = RESTART_DELAY_MS;
  if (m->priv_backoff_ms > 5000)
    m->priv_backoff_ms = 5000;
  log_err("psockd-priv %s; restarting it in %lld ms, and every worker", how,
          m->priv_backoff_ms);
  for (unsigned i = 0; i < m->o->workers; i++)
    if (m->workers[i].pid > 0)
      kill(m->workers[i].pid, SIGKILL);
  m->priv_due_ms = now + m->priv_backoff_ms;
  arm_timer(m, m->priv_backoff_ms);
}

static void drop_ctl(struct master *m, struct child *w) {
  if (w->ctl >= 0) {
    epoll_ctl(m->epfd, EPOLL_CTL_DEL, w->ctl, NULL);
    close(w->ctl);
    w->ctl = -1;
  }
}

static void describe_exit(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status))
    snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
             WTERMSIG(status) == SIGSYS ? " (forbidden system call)" : "");
  else
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void reap(struct master *m) {
  int status;
  pid_t pid;
  char how[64];

  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    describe_exit(status, how, sizeof(how));
    if (pid == m->priv_pid) {
      if (m->stopping)
        m->priv_pid = 0;
      else
        priv_died(m, how);
      continue;
    }
    for (unsigned i = 0; i < m->o->workers; i++) {
      struct child *w = &m->workers[i];
      if (w->pid != pid)
        continue;
      w->pid = 0;
      drop_ctl(m, w);
      if (m->stopping) {
        log_info("worker %u finished", i);
      } else {
        log_warn("worker %u (pid %d) %s; restarting it", i, pid, how);
        m->restarts++;
        schedule_restart(m, w);
      }
    }
  }
}

static void restart_due(struct master *m) {
  uint64_t n;
  long long now = now_ms();

  if (read(m->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    log_warn("timerfd: %m");
  if (m->priv_pid == 0 && m->priv_due_ms) {
    if (m->priv_due_ms > now)
      arm_timer(m, m->priv_due_ms - now);
    else if (start_priv(m) < 0)
      priv_died(m, "could not be started");
  }
  for (unsigned i = 0; i < m->o->workers; i++) {
    struct child *w = &m->workers[i];
    if (w->pid == 0 && w->due_ms && w->due_ms <= now && !m->stopping &&
        m->priv_pid > 0) {
      if (start_worker(m, i) < 0)
        schedule_restart(m, w);
    } else if (w->pid == 0 && w->due_ms) {
      schedule_restart(m, w);
    }
  }
}

/* A worker's control message: statistics, or a protocol violation. */
static void worker_ctl(struct master *m, unsigned i) {
  struct child *w = &m->workers[i];
  struct ctl_msg msg;
  int fds[1];
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet(w->ctl, &msg, sizeof(msg), fds, 1, &nfds, MSG_DONTWAIT);
  if (n == -EAGAIN)
    return;
  wire_close_fds(fds, nfds);
  if (n == sizeof(msg) && nfds == 0 && msg.type == CTL_STATS) {
    w->clients = msg.clients;
    w->requests = msg.requests;
    return;
  }
  /* 0: the worker closed its end. ECONNRESET: it exited with a stats
   * request of ours unread (a draining worker does). Neither is a fault. */
  if (n != 0 && n != -ECONNRESET) {
    log_err("worker %u sent a malformed control message: killing it", i);
    if (w->pid > 0)
      kill(w->pid, SIGKILL);
  }
  drop_ctl(m, w);
}

static void update_status(struct master *m) {
  uint64_t clients = 0, requests = 0;
  unsigned running = 0;

  for (unsigned i = 0; i < m->o->workers; i++) {
    running += m->workers[i].pid > 0;
    clients += m->workers[i].clients;
    requests += m->workers[i].requests;
  }
  notify_status("%u/%u workers, %" PRIu64 " clients, %" PRIu64
                " requests served, %u restarts, policy: %s",
                running, m->o->workers, clients, requests, m->restarts,
                m->policy_name);
}

/* ------------------------------------------------------------ stopping */

static void begin_stop(struct master *m) {
  struct itimerspec its = {.it_interval = {0, 100000000L},
                           .it_value = {0, 100000000L}};

  if (m->stopping)
    return;
  m->stopping = true;
  m->stop_deadline = now_ms() + DRAIN_TIMEOUT_MS;
  notify_stopping();
  log_notice("stopping: workers finish what is in flight");
  for (unsigned i = 0; i < m->o->workers; i++)
    if (m->workers[i].pid > 0)
      kill(m->workers[i].pid, SIGTERM);
  timerfd_settime(m->timer_fd, 0, &its, NULL);
}

static bool workers_gone(const struct master *m) {
  for (unsigned i = 0; i < m->o->workers; i++)
    if (m->workers[i].pid > 0)
      return false;
  return true;
}

static void stop_tick(struct master *m) {
  uint64_t n;

  if (read(m->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    log_warn("timerfd: %m");
  if (now_ms() < m->stop_deadline)
    return;
  for (unsigned i = 0; i < m->o->workers; i++)
    if (m->workers[i].pid > 0) {
      log_warn("worker %u did not finish in time: killing it", i);
      kill(m->workers[i].pid, SIGKILL);
    }
}

static void finish_priv(struct master *m) {
  int status;

  if (m->priv_ctl >= 0)
    close(m->priv_ctl); /* psockd-priv exits when its control closes */
  m->priv_ctl = -1;
  if (m->priv_pid > 0 && waitpid(m->priv_pid, &status, 0) == m->priv_pid)
    m->priv_pid = 0;
}

/* ----------------------------------------------------------------- loop */

enum { SRC_SIGNAL = 1, SRC_TIMER = 2 };

static bool handle_signal(struct master *m) {
  struct signalfd_siginfo si;

  while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si)) {
    switch (si.ssi_signo) {
    case SIGCHLD:
      reap(m);
      break;
    case SIGHUP:
      if (!m->stopping)
        reload(m);
      break;
    case SIGTERM:
    case SIGINT:
      begin_stop(m);
      break;
    default:
      break;
    }
  }
  return m->stopping && workers_gone(m);
}

static int master_setup(struct master *m) {
  struct epoll_event ev = {.events = EPOLLIN};
  sigset_t mask;

  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return -errno;
  m->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  m->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (m->sig_fd < 0 || m->timer_fd < 0 || m->epfd < 0)
    return -errno;
  ev.data.u64 = SRC_SIGNAL;
  if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sig_fd, &ev) < 0)
    return -errno;
  ev.data.u64 = SRC_TIMER;
  if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->timer_fd, &ev) < 0)
    return -errno;
  return 0;
}

static void master_loop(struct master *m) {
  long long next_status = 0;

  for (;;) {
    struct epoll_event evs[16];
    int n = epoll_wait(m->epfd, evs, 16, 1000);
    if (n < 0 && errno != EINTR) {
      log_err("epoll_wait: %m");
      return;
    }
    for (int i = 0; i < n; i++) {
      uint64_t src = evs[i].data.u64;
      if (src == SRC_SIGNAL) {
        if (handle_signal(m))
          return;
      } else if (src == SRC_TIMER) {
        if (m->stopping)
          stop_tick(m);
        else
          restart_due(m);
      } else if (src >= 100 && src < 100 + MASTER_MAX_WORKERS) {
        worker_ctl(m, (unsigned)(src - 100));
      }
    }
    if (m->stopping && workers_gone(m))
      return;
    if (now_ms() >= next_status) {
      for (unsigned i = 0; i < m->o->workers; i++)
        control_request_stats(m->workers[i].ctl);
      update_status(m);
      notify_watchdog();
      next_status = now_ms() + 1000;
    }
  }
}

int master_run(const struct master_options *o) {
  struct master m = {.o = o,
                     .epfd = -1,
                     .sig_fd = -1,
                     .timer_fd = -1,
                     .priv_ctl = -1,
                     .policy_fd = -1};
  int r;

  for (unsigned i = 0; i < MASTER_MAX_WORKERS; i++)
    m.workers[i].ctl = -1;
  r = load_policy(&m);
  if (r == 0)
    r = master_setup(&m);
  if (r == 0)
    r = start_priv(&m);
  for (unsigned i = 0; r == 0 && i < o->workers; i++)
    r = start_worker(&m, i);
  if (r < 0) {
    log_err("cannot start: %s", strerror(-r));
    begin_stop(&m);
  } else {
    log_notice("ready: %u worker(s), policy: %s", o->workers, m.policy_name);
    notify_ready();
  }
  master_loop(&m);
  finish_priv(&m);
  for (unsigned i = 0; i < MASTER_MAX_WORKERS; i++)
    drop_ctl(&m, &m.workers[i]);
  if (m.policy_fd >= 0)
    close(m.policy_fd);
  close(m.sig_fd);
  close(m.timer_fd);
  close(m.epfd);
  log_notice("stopped");
  return r;
}
