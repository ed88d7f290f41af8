/* SPDX-License-Identifier: MIT */
/*
 * spawn (psockd --role=spawn, "psockd-spawn"): the one psockd process that
 * may change its uid. It holds CAP_SETUID, CAP_SETGID and CAP_KILL and
 * nothing else, reads only fixed-size requests from the master, and does
 * three things: fork a worker and turn it into the user it serves, signal a
 * worker the master wants gone, and report each worker's exit.
 *
 * A worker is forked, not executed: the child of this small process drops
 * to the client's uid, gid and groups and clears every capability before
 * it runs a line of worker code. The uid change makes the kernel mark it
 * not dumpable, and no exec follows that would reset the mark, so the user
 * it now runs as cannot ptrace it or take its fds at any moment.
 *
 * Trust boundary: the master is trusted; its messages are checked for
 * size anyway, and a malformed one ends this process (the master restarts
 * it). Workers never talk to this process.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proctitle.h"
#include "sandbox.h"
#include "spawnproto.h"
#include "wire.h"
#include "worker.h"

/* Fixed fd numbers in a new worker. */
#define WORKER_CTL_FD 3
#define WORKER_PRIV_FD 4

struct child {
  pid_t pid;
  uint32_t worker_id;
};

static struct {
  int control, sig_fd;
  const struct worker_options *wo;
  struct child *children;
  size_t n, cap;
} S;

static int report(uint32_t type, uint32_t worker_id, pid_t pid, int status) {
  struct spawn_report r = {
      .type = type, .worker_id = worker_id, .pid = pid, .status = status};

  return wire_send_packet(S.control, &r, sizeof(r), NULL, 0, 0);
}

/* In the child: fds in place, the client's identity, then the worker. */
static void child_main(const struct spawn_request *req, int ctl, int priv) {
  char ident[48];
  pid_t parent = getppid();
  struct worker_config cfg = {.ctl_fd = WORKER_CTL_FD,
                              .priv_fd = WORKER_PRIV_FD,
                              .id = req->worker_id,
                              .who = req->identity,
                              .o = S.wo};
  int tmp[2] = {fcntl(ctl, F_DUPFD_CLOEXEC, 10),
                fcntl(priv, F_DUPFD_CLOEXEC, 10)};

  if (tmp[0] < 0 || tmp[1] < 0 || dup3(tmp[0], WORKER_CTL_FD, O_CLOEXEC) < 0 ||
      dup3(tmp[1], WORKER_PRIV_FD, O_CLOEXEC) < 0)
    _exit(127);
  close_range(WORKER_PRIV_FD + 1, ~0U, 0);
  snprintf(ident, sizeof(ident), "psockd-worker%u[uid %u]", req->worker_id,
           req->identity.uid);
  log_set_ident(ident);
  proctitle_set("psockd-worker uid=%u id=%u", req->identity.uid,
                req->worker_id);
  if (sandbox_become_client(&cfg.who) < 0) {
    log_err("cannot become uid %u: %m", cfg.who.uid);
    _exit(126);
  }
  /* psockd-spawn may have died before the death signal was armed. */
  if (getppid() != parent)
    _exit(0);
  _exit(worker_run(&cfg) < 0 ? 1 : 0);
}

static int remember(pid_t pid, uint32_t worker_id) {
  if (S.n == S.cap) {
    size_t cap = S.cap ? S.cap * 2 : 32;
    struct child *p = realloc(S.children, cap * sizeof(*p));
    if (!p)
      return -ENOMEM;
    S.children = p;
    S.cap = cap;
  }
  S.children[S.n++] = (struct child){.pid = pid, .worker_id = worker_id};
  return 0;
}

static struct child *child_of(uint32_t worker_id) {
  for (size_t i = 0; i < S.n; i++)
    if (S.children[i].worker_id == worker_id)
      return &S.children[i];
  return NULL;
}

static int start(const struct spawn_request *req, int ctl, int priv) {
  struct spawn_request copy = *req;
  pid_t pid;

  identity_sanitize(&copy.identity);
  pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    child_main(&copy, ctl, priv);
  }
  if (pid > 0 && remember(pid, req->worker_id) < 0) {
    kill(pid, SIGKILL); /* reaped below; reported as an exit */
    return report(SPAWN_STARTED, req->worker_id, -ENOMEM, 0);
  }
  return report(SPAWN_STARTED, req->worker_id, pid < 0 ? -errno : pid, 0);
}

/* One request from the master. -errno ends this process. */
static int on_control(void) {
  struct spawn_request req;
  int fds[2] = {-1, -1}, r = 0;
  size_t nfds = 0;
  ssize_t n;
  struct child *c;

  n = wire_recv_packet(S.control, &req, sizeof(req), fds, 2, &nfds, 0);
  if (n <= 0)
    return n == 0 ? -ECONNRESET : (int)n;
  if (n == sizeof(req) && req.type == SPAWN_START && nfds == 2)
    r = start(&req, fds[0], fds[1]);
  else if (n == sizeof(req) && req.type == SPAWN_KILL && nfds == 0 &&
           req.signo > 0 && req.signo < NSIG) {
    if ((c = child_of(req.worker_id)) && kill(c->pid, req.signo) < 0)
      log_warn("kill worker %u: %m", req.worker_id);
  } else {
    log_err("malformed request from the master: stopping");
    r = -EPROTO;
  }
  wire_close_fds(fds, nfds);
  return r;
}

static void reap(void) {
  int status;
  pid_t pid;

  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (size_t i = 0; i < S.n; i++) {
      if (S.children[i].pid != pid)
        continue;
      report(SPAWN_EXITED, S.children[i].worker_id, pid, status);
      S.children[i] = S.children[--S.n];
      break;
    }
  }
}

static void kill_all(void) {
  for (size_t i = 0; i < S.n; i++)
    kill(S.children[i].pid, SIGKILL);
  while (S.n > 0 && waitpid(-1, NULL, 0) > 0)
    S.n--;
}

int spawn_main(int control_fd, const struct worker_options *wo) {
  struct epoll_event ev = {.events = EPOLLIN};
  int epfd = epoll_create1(EPOLL_CLOEXEC), r = 0;
  sigset_t mask;

  S.control = control_fd;
  S.wo = wo;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  S.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  ev.data.fd = control_fd;
  if (epfd < 0 || S.sig_fd < 0 ||
      epoll_ctl(epfd, EPOLL_CTL_ADD, control_fd, &ev) < 0)
    return -errno;
  ev.data.fd = S.sig_fd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, S.sig_fd, &ev) < 0)
    return -errno;
  while (r == 0) {
    struct epoll_event evs[4];
    struct signalfd_siginfo si;
    int n = epoll_wait(epfd, evs, 4, -1);

    if (n < 0 && errno != EINTR)
      r = -errno;
    for (int i = 0; i < n && r == 0; i++) {
      if (evs[i].data.fd == control_fd) {
        r = on_control();
      } else {
        while (read(S.sig_fd, &si, sizeof(si)) == sizeof(si))
          ;
        reap();
      }
    }
  }
  /* The master is gone or stopping: no worker outlives this process. */
  kill_all();
  free(S.children);
  close(S.sig_fd);
  close(epfd);
  return r == -ECONNRESET ? 0 : r;
}
