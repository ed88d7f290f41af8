/* SPDX-License-Identifier: MIT */
/*
 * supervisor: psock-run's seccomp mode, its processes and its loop (see
 * supervisor.h).
 */
#include "supervisor.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "seccomp_filter.h"
#include "sv_calls.h"
#include "sv_common.h"
#include "sv_send.h"
#include "sv_wait.h"

#define EXIT_OWN_FAILURE 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

/* epoll tags below SV_WAIT_TAG_MAX; a wait's tag is its pointer. */
#define TAG_LISTENER 1

/* What the supervisor tells psock-run: the program's pid, then its wait
 * status. */
struct report {
  int kind; /* REPORT_PID, REPORT_STATUS */
  int value;
};
#define REPORT_PID 1
#define REPORT_STATUS 2

/* What the program's process tells the supervisor before its execve. */
struct ready {
  int listener; /* its number there, or -errno */
  bool killable;
};

__attribute__((format(printf, 2, 3), noreturn)) static void
fail(int err, const char *fmt, ...) {
  va_list ap;

  fprintf(stderr, "psock-run: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err)
    fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  _exit(EXIT_OWN_FAILURE);
}

static bool write_all(int fd, const void *buf, size_t len) {
  return write(fd, buf, len) == (ssize_t)len;
}

static bool read_all(int fd, void *buf, size_t len) {
  ssize_t n;

  do
    n = read(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)len;
}

/* ------------------------------------------------------- the program */

/*
 * In the program's process: install the filter, hand the listener over,
 * wait until the supervisor holds it, close it, exec. Never returns.
 */
__attribute__((noreturn)) static void
program_start(const struct supervisor_opts *o, bool sendto, int ready_fd,
              int go_fd) {
  struct sf_config cfg = {.supervisor = getppid(), .sendto = sendto};
  struct ready rd = {0};
  char go;
  int e;

  /* The supervisor gone, the program goes too: nothing would answer. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != cfg.supervisor)
    _exit(EXIT_OWN_FAILURE);
  rd.listener = sf_install(&cfg, &rd.killable);
  if (!write_all(ready_fd, &rd, sizeof(rd)) || rd.listener < 0)
    _exit(EXIT_OWN_FAILURE);
  if (!read_all(go_fd, &go, 1))
    _exit(EXIT_OWN_FAILURE);
  close(rd.listener);
  execv(o->path, o->argv);
  e = errno;
  fprintf(stderr, "psock-run: %s: %s\n", o->argv[0], strerror(e));
  _exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/* The listener the program's process made, as the supervisor's fd. */
static int take_listener(pid_t child, int ready_fd, bool *ret_killable) {
  struct ready rd;
  int pidfd, fd;

  if (!read_all(ready_fd, &rd, sizeof(rd)))
    fail(0, "the program's process ended before its filter was installed");
  if (rd.listener < 0)
    fail(-rd.listener, "cannot install the seccomp filter");
  pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, rd.listener, 0);
  if (fd < 0)
    fail(errno, "cannot take the seccomp listener");
  close(pidfd);
  *ret_killable = rd.killable;
  return fd;
}

/* ------------------------------------------------------- the supervisor */

/* Nothing the supervisor does needs more than reading the program (and
 * the program may have made itself not dumpable): in the user namespace
 * psock-run made, keep CAP_SYS_PTRACE there and nothing else, so that no
 * call the supervisor performs for the program has a right the program
 * lacks. */
static void drop_capabilities(void) {
  if (getuid() == 0)
    return; /* root's program has root's rights: nothing to hide */
  capng_clear(CAPNG_SELECT_BOTH);
  capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_PTRACE);
  if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
    capng_clear(CAPNG_SELECT_BOTH);
    capng_apply(CAPNG_SELECT_CAPS);
  }
}

static void raise_fd_limit(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* What the signal handlers share with the rest: the program's process,
 * and the pipe its status goes to. */
static struct {
  pid_t child;
  int report_fd;
  volatile sig_atomic_t child_done;
} tree = {.report_fd = -1};

/* Children, and the orphans of the program's tree (a child subreaper
 * gets them): reaped here, in the handler, so that the loop may block in
 * SECCOMP_IOCTL_NOTIF_RECV. The program's status goes to psock-run; with
 * nothing of the program left, the supervisor's work is done. */
static void on_child(int sig) {
  int saved = errno, status;
  pid_t pid;

  (void)sig;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == tree.child && tree.report_fd >= 0) {
      struct report m = {.kind = REPORT_STATUS, .value = status};

      tree.child_done = 1;
      (void)!write(tree.report_fd, &m, sizeof(m));
      close(tree.report_fd);
      tree.report_fd = -1;
    }
  }
  if (pid < 0 && errno == ECHILD && tree.child_done)
    _exit(0);
  errno = saved;
}

/* psock-run was killed (PR_SET_PDEATHSIG): so is the program, as it would
 * have been had psock-run exec'd it. */
static void on_parent_death(int sig) {
  (void)sig;
  if (!tree.child_done)
    kill(tree.child, SIGKILL);
}

/* The supervisor's signals: the two above; those of the terminal, of
 * writes to closed pipes and of a stray kill ignored. */
static void own_signals(void) {
  static const int ignored[] = {SIGPIPE, SIGINT,  SIGQUIT, SIGHUP,
                                SIGTSTP, SIGTTIN, SIGTTOU, SIGTERM};
  struct sigaction sa = {.sa_handler = on_child,
                         .sa_flags = SA_RESTART | SA_NOCLDSTOP};
  sigset_t set;

  for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
    signal(ignored[i], SIG_IGN);
  sigfillset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = on_parent_death;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  on_child(0); /* a child that ended already */
}

/* One call of the program: check who asks, then answer it. */
static void dispatch(struct sv_req *r) {
  const struct sv_ctx *ctx = sv_ctx();

  if (ctx->check_identity) {
    struct sv_task t;

    /* A program that changed its ids is not the identity psockd would
     * judge: refused (EACCES), never served as the supervisor. An
     * interface ioctl it may make itself: the kernel answers it, for the
     * program's own namespace, as where psockd refuses the socket. */
    if (sv_task((pid_t)r->n.pid, &t) < 0 || t.euid != ctx->euid ||
        t.egid != ctx->egid) {
      if (r->n.data.nr == SYS_ioctl)
        sv_reply_continue(r);
      else
        sv_reply(r, -EACCES);
      return;
    }
  }
  switch (r->n.data.nr) {
  case SYS_socket:
    sv_socket(r);
    break;
  case SYS_socketpair:
    sv_socketpair(r);
    break;
  case SYS_bind:
    sv_bind(r);
    break;
  case SYS_connect:
    sv_connect(r);
    break;
  case SYS_listen:
    sv_listen(r);
    break;
  case SYS_setsockopt:
    sv_setsockopt(r);
    break;
  case SYS_fcntl:
    sv_fcntl(r);
    break;
  case SYS_ioctl:
    sv_ioctl(r);
    break;
  case SYS_sendto:
    sv_sendto(r);
    break;
  case SYS_sendmsg:
    sv_sendmsg(r);
    break;
  case SYS_sendmmsg:
    sv_sendmmsg(r);
    break;
  default:
    sv_reply(r, -ENOSYS);
    break;
  }
}

static void answer_next(int listener) {
  struct pollfd p = {.fd = listener, .events = POLLIN};
  struct sv_req r;
  int rc = sv_recv(listener, &r);

  if (rc == 0) {
    dispatch(&r);
    sv_req_done(&r);
  } else if (rc != -ENOENT && rc != -EINTR) {
    /* No task uses the filter any more (the last child is about to be
     * reaped): no spinning meanwhile. */
    poll(&p, 1, 100);
  }
}

/*
 * The loop. With nothing waiting it blocks in SECCOMP_IOCTL_NOTIF_RECV
 * itself, so that the kernel can switch from the program to the
 * supervisor and back on one CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
 * while calls wait for their sockets (sv_wait.h) it polls the listener
 * and their sockets together.
 */
__attribute__((noreturn)) static void serve(int listener, int epfd) {
  struct epoll_event ev[16];

  for (;;) {
    int timeout = sv_wait_timeout_ms(), n;

    if (timeout < 0) {
      answer_next(listener);
      continue;
    }
    n = epoll_wait(epfd, ev, 16, timeout);
    for (int i = 0; i < n; i++) {
      if (ev[i].data.u64 == TAG_LISTENER) {
        if (ev[i].events & EPOLLIN)
          answer_next(listener);
        else if (ev[i].events & (EPOLLHUP | EPOLLERR))
          /* No task uses the filter any more. */
          epoll_ctl(epfd, EPOLL_CTL_DEL, listener, NULL);
      } else {
        sv_wait_event(ev[i].data.ptr, ev[i].events);
      }
    }
    sv_wait_tick();
  }
}

static void watch(int epfd, int fd, uint64_t tag) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    fail(errno, "epoll");
}

/* Could psockd's policy refuse this user a sendto() destination? */
static bool sendto_restricted(void) {
  int r = pc_conn_sendto_restricted();

  /* Unreachable: every call will fail anyway; stop them all. */
  return r != 0;
}

__attribute__((noreturn)) static void supervise(const struct supervisor_opts *o,
                                                int report_fd, pid_t parent) {
  struct sv_ctx ctx = {.euid = geteuid(), .egid = getegid(), .hint = o->hint};
  struct report pid_report = {.kind = REPORT_PID};
  int ready[2], go[2], listener, epfd;
  bool killable, sendto = sendto_restricted();
  sigset_t set;

  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
    fail(errno, "pipe");
  /* Until its handlers are in place, the supervisor holds its signals. */
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  fflush(NULL);
  tree.child = fork();
  if (tree.child < 0)
    fail(errno, "fork");
  if (tree.child == 0) {
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    close(report_fd);
    program_start(o, sendto, ready[1], go[0]);
  }
  /* Out of the program's process group before it may run anything. */
  if (setpgid(0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0 ||
      prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ||
      prctl(PR_SET_PDEATHSIG, SIGUSR1) < 0)
    fail(errno, "cannot set the supervisor up");
  if (getppid() != parent)
    kill(tree.child, SIGKILL);
  listener = take_listener(tree.child, ready[0], &killable);
  /* The program waits for each answer: switch to the supervisor and back
   * on the same CPU (Linux 6.6; older kernels wake it up as usual). */
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
        (__u64)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  pid_report.value = tree.child;
  if (!write_all(report_fd, &pid_report, sizeof(pid_report)) ||
      !write_all(go[1], "g", 1))
    fail(errno, "cannot start the program");
  close(ready[0]);
  close(ready[1]);
  close(go[0]);
  close(go[1]);
  raise_fd_limit();
  drop_capabilities();
  if (chdir("/") < 0)
    fail(errno, "chdir /");
  ctx.self = getpid();
  ctx.check_identity = geteuid() == 0;
  pc_conn_identity_fixed(); /* it never changes: no syscalls per request */
  sv_ctx_init(&ctx);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0)
    fail(errno, "epoll");
  sv_wait_init(epfd, killable);
  watch(epfd, listener, TAG_LISTENER);
  tree.report_fd = report_fd;
  own_signals();
  serve(listener, epfd);
}

/* ------------------------------------------------------- psock-run */

/* The parent of pid, from /proc; 0 if it cannot be read. */
static pid_t parent_of(pid_t pid) {
  char path[64], buf[512], *p;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')'); /* "PID (COMM) S PPID ..." */
  return p ? (pid_t)strtol(p + 3, NULL, 10) : 0;
}

/*
 * Did the program get this signal already? The terminal's signals (sent
 * by the kernel) and those sent to our process group by the program
 * itself (kill(0), by a process below the supervisor) reach the program
 * too: it is in our process group. Anything else was sent to psock-run
 * alone.
 */
static bool reached_program(const struct signalfd_siginfo *si,
                            pid_t supervisor) {
  pid_t p = (pid_t)si->ssi_pid;

  if (si->ssi_code == SI_KERNEL)
    return true;
  if (p <= 0 || getpgid(p) != getpgrp())
    return false;
  for (int depth = 0; p > 1 && depth < 64; depth++) {
    p = parent_of(p);
    if (p == supervisor)
      return true;
  }
  return false;
}

/* End as the program ended. */
__attribute__((noreturn)) static void end_as(int status) {
  struct rlimit none = {0, 0};
  sigset_t set;
  int sig;

  if (WIFEXITED(status))
    _exit(WEXITSTATUS(status));
  sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  setrlimit(RLIMIT_CORE, &none); /* the program dumped core, if any */
  signal(sig, SIG_DFL);
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  _exit(128 + sig);
}

__attribute__((noreturn)) static void wait_program(int report_fd,
                                                   pid_t supervisor) {
  static const int forwarded[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                  SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};
  struct signalfd_siginfo si;
  struct report m;
  pid_t child = 0;
  sigset_t set;
  int sigfd;

  sigemptyset(&set);
  for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
    sigaddset(&set, forwarded[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigfd = signalfd(-1, &set, SFD_CLOEXEC);
  for (;;) {
    struct pollfd p[2] = {{.fd = report_fd, .events = POLLIN},
                          {.fd = sigfd, .events = POLLIN}};

    if (poll(p, 2, -1) < 0 && errno != EINTR)
      fail(errno, "poll");
    if (p[1].revents && read(sigfd, &si, sizeof(si)) == sizeof(si) &&
        child > 0 && !reached_program(&si, supervisor))
      kill(child, (int)si.ssi_signo);
    if (!p[0].revents)
      continue;
    if (!read_all(report_fd, &m, sizeof(m)))
      fail(0, "the supervisor ended before the program");
    if (m.kind == REPORT_PID)
      child = m.value;
    else
      end_as(m.value);
  }
}

void supervisor_run(const struct supervisor_opts *o) {
  int report[2];
  pid_t self = getpid(), pid;

  if (pipe2(report, O_CLOEXEC) < 0)
    fail(errno, "pipe");
  fflush(NULL);
  pid = fork();
  if (pid < 0)
    fail(errno, "fork");
  if (pid == 0) {
    close(report[0]);
    supervise(o, report[1], self);
  }
  close(report[1]);
  /* psock-run only forwards signals now: it keeps none of the
   * capabilities the user namespace it made gave it. */
  if (getuid() != 0) {
    capng_clear(CAPNG_SELECT_BOTH);
    capng_apply(CAPNG_SELECT_CAPS);
  }
  wait_program(report[0], pid);
}
