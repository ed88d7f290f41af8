/* SPDX-License-Identifier: MIT */
/*
 * shim: the plumbing of libpsock-preload (see shim.h): libc's own functions
 * behind the ones the shim stands in for, the re-entrancy guard, errno as
 * the kernel would give it, checked copies of the caller's memory and the
 * policy hints. Below the interposed calls (preload.c, names.c), above
 * libpsock-client's calls layer.
 *
 * Trust boundary: the program's pointers; every copy through them is
 * checked as the kernel's get_user()/put_user() would check it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hint.h"
#include "psock/psock.h"
#include "shim.h"

static struct shim_real real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static bool unix_via_daemon;
static bool hint_enabled;

#define RESOLVE(name) (*(void **)&real.name = dlsym(RTLD_NEXT, #name))

static void resolve(void) {
  const char *u = getenv("PSOCK_PRELOAD_UNIX");
  const char *h = getenv("PSOCK_PRELOAD_HINT");

  RESOLVE(socket);
  RESOLVE(socketpair);
  RESOLVE(bind);
  RESOLVE(connect);
  RESOLVE(listen);
  RESOLVE(setsockopt);
  RESOLVE(getaddrinfo);
  RESOLVE(freeaddrinfo);
  RESOLVE(gai_strerror);
  RESOLVE(getnameinfo);
  RESOLVE(gethostbyaddr_r);
  RESOLVE(getifaddrs);
  RESOLVE(freeifaddrs);
  RESOLVE(if_nameindex);
  RESOLVE(if_freenameindex);
  RESOLVE(if_nametoindex);
  RESOLVE(if_indextoname);
  unix_via_daemon = u && strcmp(u, "daemon") == 0;
  hint_enabled = h && *h && strcmp(h, "0") != 0;
}

bool shim_unix_via_daemon(void) {
  shim_real();
  return unix_via_daemon;
}

const struct shim_real *shim_real(void) {
  pthread_once(&real_once, resolve);
  return &real;
}

/* Resolve before main(), while the program is still single-threaded. */
__attribute__((constructor)) static void shim_init(void) {
  shim_real();
}

static __thread unsigned shim_depth __attribute__((tls_model("initial-exec")));

bool shim_busy(void) {
  return shim_depth > 0;
}

void shim_enter(void) {
  shim_depth++;
}

void shim_leave(void) {
  shim_depth--;
}

int shim_errno(void) {
  int code = psock_last_error_code();

  switch (psock_last_error_kind()) {
  case PSOCK_ERR_OS:
  case PSOCK_ERR_POLICY:
    return code > 0 ? code : EACCES;
  case PSOCK_ERR_TIMEOUT:
    return ETIMEDOUT;
  case PSOCK_ERR_VALUE:
    return EINVAL;
  default:
    /* psockd unreachable or not understood: the program may not have
     * its network, and the library has said why on stderr. */
    return EACCES;
  }
}

/*
 * Copy len bytes between the caller's memory and ours the way the kernel's
 * get_user()/put_user() would: a bad pointer is EFAULT, not a crash. The
 * kernel checks it for us through process_vm_readv/writev on ourselves.
 * to_user: dst is the caller's pointer; else src is.
 */
static int copy_checked(void *dst, const void *src, size_t len, bool to_user) {
  struct iovec local = {.iov_base = to_user ? (void *)src : dst,
                        .iov_len = len};
  struct iovec remote = {.iov_base = to_user ? dst : (void *)src,
                         .iov_len = len};
  ssize_t n;

  if (!(to_user ? dst : src))
    return -EFAULT;
  n = to_user ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
              : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len)
    return 0;
  if (n >= 0 || errno == EFAULT)
    return -EFAULT;
  /* Not allowed here (a seccomp filter): trust the pointer, as libc's
   * own wrappers would have to. */
  memcpy(dst, src, len);
  return 0;
}

int shim_copy_from_user(void *dst, const void *src, size_t len) {
  return len == 0 ? 0 : copy_checked(dst, src, len, false);
}

int shim_copy_to_user(void *dst, const void *src, size_t len) {
  return copy_checked(dst, src, len, true);
}

/* ----------------------------------------------------------- hints */

bool shim_hint_enabled(void) {
  return hint_enabled;
}

void shim_hint_print(bool failed, const char *fmt, ...) {
  char what[384];
  int saved = errno;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  errno = saved;
  hint_emit(getuid(), failed, what);
}
