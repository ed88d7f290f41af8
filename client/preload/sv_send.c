/* SPDX-License-Identifier: MIT */
/*
 * sv_send: sends with a destination (see sv_send.h). A message is copied
 * once into one allocation (struct msg_copy); everything after the copy,
 * the psockd request, the local send and any retry after a wait, uses the
 * copy only.
 */
#include "sv_send.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "address.h"
#include "fast.h"
#include "hint.h"
#include "sock.h"
#include "sockio.h"
#include "sv_common.h"
#include "sv_local.h"
#include "sv_wait.h"
#include "wire.h"

/* Control data copied at most (the kernel allows up to optmem_max). */
#define CTL_MAX 4096
/* The most fds one SCM_RIGHTS message carries (include/net/scm.h). */
#define SCM_MAX_FD 253
/* The most data psockd's sendto carries (client/sockio.c). */
#define DAEMON_DATA_MAX (PSOCK_MAX_PACKET - 1024)

struct msg_copy {
  int family, type, flags;
  bool daemon; /* psockd sends it: the destination is judged */
  socklen_t namelen;
  struct sockaddr_storage name;
  size_t controllen, nfds;
  int fds[SCM_MAX_FD]; /* the supervisor's copies of SCM_RIGHTS fds */
  unsigned char control[CTL_MAX];
  size_t len;
  unsigned char data[];
};

static void msg_free(void *p) {
  struct msg_copy *m = p;

  if (!m)
    return;
  for (size_t i = 0; i < m->nfds; i++)
    close(m->fds[i]);
  free(m);
}

/* Answer r unless it is gone; close fd if it is one. */
static void answer(struct sv_req *r, int fd, long val) {
  if (fd >= 0)
    close(fd);
  if (val != SV_NO_ANSWER)
    sv_reply(r, val);
}

/* Is every destination of a send on a socket of family free (fast.h)?
 * An inet6 datagram socket also sends to AF_INET addresses. */
static bool any_destination_free(int family) {
  return pc_fast_free(PC_FAST_SENDTO, family, family) &&
         (family != AF_INET6 || pc_fast_free(PC_FAST_SENDTO, AF_INET, AF_INET));
}

/* May the kernel run the send on fd itself? Only if its destination is
 * not psockd's to judge (no destination, or every one free: both depend
 * on the socket alone; not with --policy-hint, which names them), and no
 * task but the caller can change which socket fd is meanwhile. */
static bool kernel_may_run(struct sv_req *r, int family, int type, int flags) {
  bool fastopen = type == SOCK_STREAM && (flags & MSG_FASTOPEN);
  bool no_destination =
      !sv_addressed(family) || (type == SOCK_STREAM && !fastopen) ||
      (!fastopen && !sv_ctx()->hint && any_destination_free(family));

  return no_destination && sv_fdtable_private(r) && sv_valid(r);
}

/* A message of len data bytes; -EMSGSIZE for more than may be sent. */
static int msg_new(int family, int type, int flags, size_t len,
                   struct msg_copy **ret) {
  struct msg_copy *m;

  if (type == SOCK_STREAM && len > SV_SEND_MAX)
    len = SV_SEND_MAX; /* a part, as a non-blocking send may take */
  else if (len > SV_SEND_MAX)
    return -EMSGSIZE;
  m = malloc(sizeof(*m) + len);
  if (!m)
    return -ENOMEM;
  memset(m, 0, sizeof(*m));
  m->family = family;
  m->type = type;
  m->flags = flags;
  m->len = len;
  *ret = m;
  return 0;
}

/* The caller's iovec array's data, up to what fits. */
static int read_iov(const struct sv_req *r, uint64_t addr, size_t n, int family,
                    int type, int flags, struct msg_copy **ret) {
  struct iovec iov[UIO_MAXIOV];
  size_t total = 0, off = 0;
  int rc;

  if (n > UIO_MAXIOV)
    return -EMSGSIZE;
  rc = sv_read(r, addr, iov, n * sizeof(iov[0]));
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if ((ssize_t)iov[i].iov_len < 0)
      return -EINVAL;
    total += iov[i].iov_len;
  }
  if (rc == 0)
    rc = msg_new(family, type, flags, total, ret);
  for (size_t i = 0; rc == 0 && i < n && off < (*ret)->len; i++) {
    size_t take = iov[i].iov_len;

    if (take > (*ret)->len - off)
      take = (*ret)->len - off;
    rc = sv_read(r, (uintptr_t)iov[i].iov_base, (*ret)->data + off, take);
    off += take;
  }
  if (rc < 0 && *ret) {
    msg_free(*ret);
    *ret = NULL;
  }
  return rc;
}

/* The control data; SCM_RIGHTS fds become the supervisor's copies. */
static int read_control(struct sv_req *r, uint64_t addr, size_t len,
                        struct msg_copy *m) {
  struct msghdr mh = {.msg_control = m->control, .msg_controllen = len};
  int rc;

  if (len > CTL_MAX)
    return -ENOBUFS;
  rc = sv_read(r, addr, m->control, len);
  m->controllen = len;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); rc == 0 && c;
       c = CMSG_NXTHDR(&mh, c)) {
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *fds = (int *)CMSG_DATA(c);

    if (c->cmsg_len < CMSG_LEN(0) ||
        c->cmsg_len > len - (size_t)((unsigned char *)c - m->control))
      return -EINVAL; /* as __scm_send() says */
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    for (size_t i = 0; rc == 0 && i < n; i++) {
      int copy = m->nfds < SCM_MAX_FD ? sv_fd(r, fds[i]) : -EINVAL;

      if (copy < 0)
        rc = copy;
      else
        fds[i] = m->fds[m->nfds++] = copy;
    }
  }
  return rc;
}

/* Send the copy on fd: through psockd, or here (never waiting). */
static long send_copy(const struct sv_req *r, int fd, struct msg_copy *m) {
  struct iovec iov = {.iov_base = m->data, .iov_len = m->len};
  struct sockaddr_storage name = m->name;
  socklen_t namelen = m->namelen;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  psock_address a;
  psock_sock s;
  char words[320];
  long n;

  if (m->daemon) {
    if (m->len > DAEMON_DATA_MAX)
      return -EMSGSIZE;
    if (pc_sockaddr_to_address((struct sockaddr *)&name, namelen, &a) < 0)
      return -sv_errno();
    sv_stack_sock(&s, fd, m->family);
    s.type = m->type;
    n = pc_sendto_via(&s, m->data, m->len, m->flags | MSG_DONTWAIT, &a, true);
    hint_address_words(m->family, &a, words, sizeof(words));
    sv_hint(n < 0, "sendto %s", words);
    return n < 0 ? -sv_errno() : n;
  }
  if (namelen) {
    n = sv_local_enter(r, &name, &namelen);
    if (n < 0)
      return n;
    mh.msg_name = &name;
    mh.msg_namelen = namelen;
  }
  mh.msg_control = m->controllen ? m->control : NULL;
  mh.msg_controllen = m->controllen;
  n = sendmsg(fd, &mh, m->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
  n = n < 0 ? -errno : n;
  if (namelen)
    sv_local_leave();
  /* A free destination (route()): a send the policy allows. */
  if (namelen && sv_addressed(m->family) &&
      pc_sockaddr_to_address((struct sockaddr *)&m->name, m->namelen, &a) ==
          0) {
    hint_address_words(m->family, &a, words, sizeof(words));
    sv_hint(false, "sendto %s", words);
  }
  return n;
}

/* The kernel's SIGPIPE for a send on a broken stream, to the caller. */
static void sigpipe(const struct sv_req *r, const struct msg_copy *m, long n) {
  struct sv_task t;

  if (n == -EPIPE && !(m->flags & MSG_NOSIGNAL) &&
      sv_task((pid_t)r->n.pid, &t) == 0)
    syscall(SYS_tgkill, t.tgid, (pid_t)r->n.pid, SIGPIPE);
}

static long send_retry(struct sv_wait *w, void *arg) {
  long n = send_copy(sv_wait_req(w), sv_wait_fd(w), arg);

  sigpipe(sv_wait_req(w), arg, n);
  return n;
}

/* Send m now; a blocking socket whose buffer is full waits (m and fd are
 * then the wait's: SV_NO_ANSWER). Takes m. */
static long send_or_wait(struct sv_req *r, int fd, struct msg_copy *m,
                         bool may_wait) {
  int fl = fcntl(fd, F_GETFL);
  long n = send_copy(r, fd, m);

  sigpipe(r, m, n);
  if (n != -EAGAIN || !may_wait || fl < 0 || (fl & O_NONBLOCK) ||
      (m->flags & MSG_DONTWAIT)) {
    msg_free(m);
    return n;
  }
  n = sv_wait_add(r, &(struct sv_wait_spec){.fd = fd,
                                            .retry = send_retry,
                                            .arg = m,
                                            .free_arg = msg_free,
                                            .timeout_result = -EAGAIN});
  return n < 0 ? n : SV_NO_ANSWER;
}

/* The caller's socket, its family and type; -errno as the kernel. */
static int take(struct sv_req *r, int *family, int *type) {
  int fd = sv_fd(r, sv_int(r, 0));

  if (fd < 0)
    return fd == -ESRCH ? SV_NO_ANSWER : fd;
  *family = sv_sock_family(fd);
  *type = *family < 0 ? *family : sv_sock_type(fd);
  if (*type < 0) {
    int err = *type;

    close(fd);
    return err;
  }
  return fd;
}

/* Where a send with this name goes: psockd, or here; the name a stream
 * ignores dropped. */
static int route(struct msg_copy *m) {
  bool stream = m->type == SOCK_STREAM;

  if (stream && (m->flags & MSG_FASTOPEN) && sv_addressed(m->family))
    return -EOPNOTSUPP; /* a connect with data: not done */
  if (stream && sv_addressed(m->family))
    m->namelen = 0;
  /* A destination psockd would allow whatever it is goes out here. */
  m->daemon = m->namelen > 0 && sv_addressed(m->family) &&
              !pc_fast_free(PC_FAST_SENDTO, m->family, m->name.ss_family);
  if (m->daemon && m->controllen)
    return -EOPNOTSUPP;
  return 0;
}

void sv_sendto(struct sv_req *r) {
  int family, type, flags = sv_int(r, 3), fd;
  size_t len = (size_t)sv_arg(r, 2);
  struct iovec one = {.iov_base = (void *)(uintptr_t)sv_arg(r, 1),
                      .iov_len = len};
  struct msg_copy *m = NULL;
  long rc;

  fd = take(r, &family, &type);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (kernel_may_run(r, family, type, flags)) {
    answer(r, fd, SV_NO_ANSWER);
    sv_reply_continue(r);
    return;
  }
  rc = msg_new(family, type, flags, len, &m);
  if (rc == 0)
    rc = sv_read(r, (uintptr_t)one.iov_base, m->data, m->len);
  if (rc == 0) {
    rc = sv_read_addr(r, sv_arg(r, 4), sv_int(r, 5), &m->name);
    m->namelen = (socklen_t)sv_int(r, 5);
  }
  if (rc == 0)
    rc = route(m);
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc < 0) {
    msg_free(m);
    answer(r, fd, rc);
    return;
  }
  rc = send_or_wait(r, fd, m, true);
  if (rc != SV_NO_ANSWER) /* else fd is the wait's */
    answer(r, fd, rc);
}

/* Copy the message whose header the caller has at addr. */
static int read_msg(struct sv_req *r, uint64_t addr, int family, int type,
                    int flags, struct msg_copy **ret) {
  struct msghdr mh;
  int rc;

  *ret = NULL;
  rc = sv_read(r, addr, &mh, sizeof(mh));
  if (rc == 0)
    rc = read_iov(r, (uintptr_t)mh.msg_iov, mh.msg_iovlen, family, type, flags,
                  ret);
  if (rc == 0 && mh.msg_name && mh.msg_namelen) {
    int n = (int)mh.msg_namelen;

    if (n > (int)sizeof(struct sockaddr_storage))
      n = sizeof(struct sockaddr_storage);
    rc = sv_read_addr(r, (uintptr_t)mh.msg_name, n, &(*ret)->name);
    (*ret)->namelen = (socklen_t)n;
  }
  if (rc == 0 && mh.msg_control && mh.msg_controllen)
    rc = read_control(r, (uintptr_t)mh.msg_control, mh.msg_controllen, *ret);
  if (rc == 0)
    rc = route(*ret);
  if (rc < 0) {
    msg_free(*ret);
    *ret = NULL;
  }
  return rc;
}

void sv_sendmsg(struct sv_req *r) {
  int family, type, flags = sv_int(r, 2), fd;
  struct msg_copy *m;
  long rc;

  fd = take(r, &family, &type);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (kernel_may_run(r, family, type, flags)) {
    answer(r, fd, SV_NO_ANSWER);
    sv_reply_continue(r);
    return;
  }
  rc = read_msg(r, sv_arg(r, 1), family, type, flags, &m);
  if (rc == 0 && !sv_valid(r)) {
    msg_free(m);
    rc = SV_NO_ANSWER;
  }
  if (rc < 0) {
    answer(r, fd, rc);
    return;
  }
  rc = send_or_wait(r, fd, m, true);
  if (rc != SV_NO_ANSWER)
    answer(r, fd, rc);
}

void sv_sendmmsg(struct sv_req *r) {
  int family, type, flags = sv_int(r, 3), fd;
  unsigned vlen = (unsigned)sv_int(r, 2), sent = 0;
  uint64_t vec = sv_arg(r, 1);
  long rc = 0;

  fd = take(r, &family, &type);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (kernel_may_run(r, family, type, flags)) {
    answer(r, fd, SV_NO_ANSWER);
    sv_reply_continue(r);
    return;
  }
  if (vlen > UIO_MAXIOV)
    vlen = UIO_MAXIOV;
  for (; sent < vlen; sent++) {
    uint64_t at = vec + sent * sizeof(struct mmsghdr);
    struct msg_copy *m;
    unsigned len;

    rc = read_msg(r, at, family, type, flags, &m);
    if (rc == 0 && !sv_valid(r)) {
      msg_free(m);
      rc = SV_NO_ANSWER;
    }
    if (rc < 0)
      break;
    /* Only the first may wait: then it alone is sent (a short count, as
     * the kernel returns after a signal). */
    rc = send_or_wait(r, fd, m, sent == 0);
    if (rc == SV_NO_ANSWER)
      return; /* it waits, with fd */
    if (rc < 0)
      break;
    len = (unsigned)rc;
    rc = sv_write(r, at + offsetof(struct mmsghdr, msg_len), &len, sizeof(len));
    if (rc < 0)
      break;
  }
  answer(r, fd, sent ? (long)sent : rc);
}
