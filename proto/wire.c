/* SPDX-License-Identifier: MIT */
/*
 * wire: packet I/O for the psock protocol (see wire.h).
 *
 * Trust boundary: wire_recv_packet() reads bytes and fds a peer chose. Only
 * a packet that is whole (not truncated, control data intact, nothing but
 * SCM_RIGHTS, no more fds than allowed) reaches the caller; on every other
 * outcome each fd the kernel installed for that packet is closed here, so a
 * hostile peer cannot make either side leak descriptors.
 */
#include "wire.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * SCM_PIDFD (Linux 6.5) carries an fd although it is not SCM_RIGHTS; older
 * libc headers lack it. We never ask for it (SO_PASSPIDFD), but if it shows
 * up its fd must be closed like any other.
 */
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/*
 * Room for more fds than the protocol allows plus one credentials message:
 * a packet with a few fds too many is then received whole and rejected by
 * count. Beyond this the kernel truncates (MSG_CTRUNC) and itself drops the
 * fds that did not fit, so nothing can escape either way.
 */
#define WIRE_EXTRA_FDS 16u
#define WIRE_RECV_CMSG_SPACE                                                   \
  (CMSG_SPACE(sizeof(int) * (PSOCK_MAX_REPLY_FDS + WIRE_EXTRA_FDS)) +          \
   CMSG_SPACE(sizeof(struct ucred)))

int wire_sys_socket(int domain, int type, int proto) {
  long r = syscall(SYS_socket, (long)domain, (long)type, (long)proto);
  return r < 0 ? -errno : (int)r;
}

int wire_sys_connect(int fd, const struct sockaddr *sa, socklen_t len) {
  long r = syscall(SYS_connect, (long)fd, sa, (long)len);
  return r < 0 ? -errno : 0;
}

void wire_close_fds(int *fds, size_t n) {
  if (!fds)
    return;
  for (size_t i = 0; i < n; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    fds[i] = -1;
  }
}

static int send_packet(int sock, const void *buf, size_t len, const int *fds,
                       size_t nfds, int flags, const struct ucred *creds) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * PSOCK_MAX_REPLY_FDS) +
             CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  struct cmsghdr *cmsg;
  ssize_t n;

  if (len > PSOCK_MAX_PACKET || nfds > PSOCK_MAX_REPLY_FDS)
    return -EMSGSIZE;
  /* The receiver cannot tell an empty packet from EOF: never send one. */
  if (len == 0 || !buf || (nfds > 0 && !fds))
    return -EINVAL;

  memset(&control, 0, sizeof(control));
  msg.msg_control = control.buf;
  msg.msg_controllen = (nfds > 0 ? CMSG_SPACE(sizeof(int) * nfds) : 0) +
                       (creds ? CMSG_SPACE(sizeof(*creds)) : 0);
  cmsg = CMSG_FIRSTHDR(&msg);
  if (nfds > 0) {
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    cmsg = CMSG_NXTHDR(&msg, cmsg);
  }
  if (creds) {
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_CREDENTIALS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(*creds));
    memcpy(CMSG_DATA(cmsg), creds, sizeof(*creds));
  }
  if (msg.msg_controllen == 0)
    msg.msg_control = NULL;

  /* SEQPACKET sends are all-or-nothing, so EINTR means nothing went out.
   * The raw system call, as wire_sys_*: not a preload shim's sendmsg(),
   * and no cancellation point (glibc wraps those for threaded processes
   * on every call, measurable in psockd's workers). */
  do
    n = (ssize_t)syscall(SYS_sendmsg, sock, &msg, flags | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  if ((size_t)n != len)
    return -EIO;
  return 0;
}

int wire_send_packet(int sock, const void *buf, size_t len, const int *fds,
                     size_t nfds, int flags) {
  return send_packet(sock, buf, len, fds, nfds, flags, NULL);
}

int wire_send_packet_creds(int sock, const void *buf, size_t len,
                           const int *fds, size_t nfds, int flags,
                           const struct ucred *creds) {
  if (!creds)
    return -EINVAL;
  return send_packet(sock, buf, len, fds, nfds, flags, creds);
}

/* Bytes of fd payload in an SCM_RIGHTS / SCM_PIDFD message, or 0. */
static size_t cmsg_fd_bytes(const struct cmsghdr *cmsg) {
  if (cmsg->cmsg_level != SOL_SOCKET ||
      (cmsg->cmsg_type != SCM_RIGHTS && cmsg->cmsg_type != SCM_PIDFD))
    return 0;
  if (cmsg->cmsg_len < CMSG_LEN(0))
    return 0;
  return cmsg->cmsg_len - CMSG_LEN(0);
}

/*
 * Close every fd the kernel installed for msg. Each cmsg is bounded by the
 * control length the kernel reported, so a truncated message is safe.
 */
static void close_cmsg_fds(struct msghdr *msg) {
  const unsigned char *end =
      (const unsigned char *)msg->msg_control + msg->msg_controllen;

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
       cmsg = CMSG_NXTHDR(msg, cmsg)) {
    const unsigned char *data = CMSG_DATA(cmsg);
    size_t avail = end > data ? (size_t)(end - data) : 0;
    size_t bytes = cmsg_fd_bytes(cmsg);

    if (bytes > avail)
      bytes = avail;
    for (size_t i = 0; i + sizeof(int) <= bytes; i += sizeof(int)) {
      int fd;

      memcpy(&fd, data + i, sizeof(fd));
      if (fd >= 0)
        close(fd);
    }
  }
}

/*
 * Check the control data of a received packet and count its fds. Anything
 * other than well-formed SCM_RIGHTS is a framing error, except exactly one
 * SCM_CREDENTIALS when creds is given (then it is required, and copied).
 */
static int check_cmsgs(struct msghdr *msg, size_t *ret_nfds,
                       struct ucred *creds) {
  const unsigned char *end =
      (const unsigned char *)msg->msg_control + msg->msg_controllen;
  size_t nfds = 0;
  bool have_creds = false;

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
       cmsg = CMSG_NXTHDR(msg, cmsg)) {
    size_t bytes;

    if (cmsg->cmsg_len < CMSG_LEN(0) ||
        (const unsigned char *)cmsg + cmsg->cmsg_len > end ||
        cmsg->cmsg_level != SOL_SOCKET)
      return -EPROTO;
    bytes = cmsg->cmsg_len - CMSG_LEN(0);
    if (cmsg->cmsg_type == SCM_CREDENTIALS && creds && !have_creds &&
        bytes == sizeof(*creds)) {
      memcpy(creds, CMSG_DATA(cmsg), sizeof(*creds));
      have_creds = true;
      continue;
    }
    if (cmsg->cmsg_type != SCM_RIGHTS || bytes % sizeof(int) != 0)
      return -EPROTO;
    nfds += bytes / sizeof(int);
  }
  if (creds && !have_creds)
    return -EPROTO;
  *ret_nfds = nfds;
  return 0;
}

/* Copy the fds of an already checked packet out to the caller. */
static void take_cmsg_fds(struct msghdr *msg, int *fds) {
  size_t k = 0;

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
       cmsg = CMSG_NXTHDR(msg, cmsg)) {
    size_t bytes = cmsg->cmsg_len - CMSG_LEN(0);

    if (cmsg->cmsg_type != SCM_RIGHTS)
      continue;
    memcpy(fds + k, CMSG_DATA(cmsg), bytes);
    k += bytes / sizeof(int);
  }
}

static ssize_t recv_packet(int sock, void *buf, size_t cap, int *fds,
                           size_t max_fds, size_t *ret_nfds, int flags,
                           bool retry_eintr, bool cloexec,
                           struct ucred *creds) {
  union {
    char buf[WIRE_RECV_CMSG_SPACE];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  struct msghdr msg = {
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.buf,
      .msg_controllen = sizeof(control.buf),
  };
  size_t nfds = 0;
  ssize_t n;
  int r;

  if (ret_nfds)
    *ret_nfds = 0;
  if (max_fds > PSOCK_MAX_REPLY_FDS || (max_fds > 0 && !fds) ||
      (cap > 0 && !buf) || !ret_nfds)
    return -EINVAL;
  if (cap > SSIZE_MAX)
    iov.iov_len = SSIZE_MAX;

  memset(&control, 0, sizeof(control));
  if (cloexec)
    flags |= MSG_CMSG_CLOEXEC;
  do
    n = (ssize_t)syscall(SYS_recvmsg, sock, &msg, flags); /* as sendmsg */
  while (n < 0 && errno == EINTR && retry_eintr);
  if (n < 0)
    return -errno;

  if (msg.msg_flags & MSG_TRUNC)
    r = -EMSGSIZE;
  else if (msg.msg_flags & MSG_CTRUNC)
    r = -EPROTO;
  else
    r = check_cmsgs(&msg, &nfds, creds);
  if (r == 0 && nfds > max_fds)
    r = -EPROTO;
  /* Zero bytes and no fds is EOF (the credentials of EOF are none: it is
   * no packet); zero bytes with fds is a bogus packet. */
  if (n == 0 && nfds == 0 && r == -EPROTO && creds && msg.msg_controllen == 0)
    r = 0;
  if (r == 0 && n == 0 && nfds > 0)
    r = -EPROTO;
  if (r < 0) {
    close_cmsg_fds(&msg);
    return r;
  }

  take_cmsg_fds(&msg, fds);
  *ret_nfds = nfds;
  return n;
}

ssize_t wire_recv_packet(int sock, void *buf, size_t cap, int *fds,
                         size_t max_fds, size_t *ret_nfds, int flags) {
  return recv_packet(sock, buf, cap, fds, max_fds, ret_nfds, flags, true, true,
                     NULL);
}

ssize_t wire_recv_packet_creds(int sock, void *buf, size_t cap, int *fds,
                               size_t max_fds, size_t *ret_nfds, int flags,
                               struct ucred *ret_creds) {
  if (!ret_creds)
    return -EINVAL;
  return recv_packet(sock, buf, cap, fds, max_fds, ret_nfds, flags, true, true,
                     ret_creds);
}

ssize_t wire_recv_packet_once(int sock, void *buf, size_t cap, int *fds,
                              size_t max_fds, size_t *ret_nfds, int flags,
                              bool cloexec) {
  return recv_packet(sock, buf, cap, fds, max_fds, ret_nfds, flags, false,
                     cloexec, NULL);
}

ssize_t wire_pack(const ProtobufCMessage *msg, void *buf, size_t cap) {
  size_t size;

  if (!msg || (cap > 0 && !buf))
    return -EINVAL;
  size = protobuf_c_message_get_packed_size(msg);
  if (size > cap || size > SSIZE_MAX)
    return -EMSGSIZE;
  return (ssize_t)protobuf_c_message_pack(msg, buf);
}

static ProtobufCMessage *field_message(char *base,
                                       const ProtobufCFieldDescriptor *f) {
  return *(ProtobufCMessage **)(void *)(base + f->offset);
}

void wire_drop_unknown(ProtobufCMessage *msg) {
  char *base = (char *)msg;

  if (!msg)
    return;
  msg->n_unknown_fields = 0;
  for (unsigned i = 0; i < msg->descriptor->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &msg->descriptor->fields[i];

    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
      continue;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      /* Only the member the case names holds a message. */
      if (*(uint32_t *)(void *)(base + f->quantifier_offset) == f->id)
        wire_drop_unknown(field_message(base, f));
    } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(size_t *)(void *)(base + f->quantifier_offset);
      ProtobufCMessage **v = *(ProtobufCMessage ***)(void *)(base + f->offset);

      for (size_t j = 0; j < n; j++)
        wire_drop_unknown(v[j]);
    } else {
      wire_drop_unknown(field_message(base, f));
    }
  }
}

int wire_connect_path(const char *path) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  socklen_t len;
  size_t plen;
  int fd, r;

  if (!path || !*path)
    return -EINVAL;
  plen = strlen(path);
  /* Like the kernel, accept a path that fills sun_path with no NUL. */
  if (plen > sizeof(sun.sun_path))
    return -ENAMETOOLONG;
  memcpy(sun.sun_path, path, plen);
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  if (plen < sizeof(sun.sun_path))
    len++;

  fd = wire_sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fd;
  /* An interrupted AF_UNIX connect leaves the socket unconnected: retry. */
  do
    r = wire_sys_connect(fd, (const struct sockaddr *)&sun, len);
  while (r == -EINTR);
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}
