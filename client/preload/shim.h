/* SPDX-License-Identifier: MIT */
/*
 * shim: the plumbing of libpsock-preload, the preload shim psock-run puts in
 * front of an unmodified program. The interposed calls (preload.c: sockets;
 * names.c: the name service) sit on it; nothing here is exported (the
 * version script exports the interposed libc names only).
 */
#pragma once

#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The libc functions the shim stands in for, found with dlsym(RTLD_NEXT). */
struct shim_real {
  int (*socket)(int, int, int);
  int (*socketpair)(int, int, int, int[2]);
  int (*bind)(int, const struct sockaddr *, socklen_t);
  int (*connect)(int, const struct sockaddr *, socklen_t);
  int (*listen)(int, int);
  int (*setsockopt)(int, int, int, const void *, socklen_t);
  int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
                     struct addrinfo **);
  void (*freeaddrinfo)(struct addrinfo *);
  const char *(*gai_strerror)(int);
  int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t,
                     char *, socklen_t, int);
  int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *,
                         size_t, struct hostent **, int *);
  int (*getifaddrs)(struct ifaddrs **);
  void (*freeifaddrs)(struct ifaddrs *);
  struct if_nameindex *(*if_nameindex)(void);
  void (*if_freenameindex)(struct if_nameindex *);
  unsigned (*if_nametoindex)(const char *);
  char *(*if_indextoname)(unsigned, char *);
};

/* The real functions; resolved on first use (and in the constructor). */
const struct shim_real *shim_real(void);

/*
 * Re-entrancy guard. While this thread runs library code for an
 * interposed call, an interposed name called from inside the library (its
 * local bind/connect/setsockopt of AF_UNIX paths, for instance) goes
 * straight to libc.
 */
bool shim_busy(void);
void shim_enter(void);
void shim_leave(void);

/*
 * errno for the calling thread's last libpsock-client error, as the kernel
 * would report the call: OS errors and policy refusals as they are, a
 * timeout as ETIMEDOUT, a value error as EINVAL, an unreachable or
 * misbehaving psockd as EACCES.
 */
int shim_errno(void);

/*
 * With PSOCK_PRELOAD_HINT=1 (psock-run --policy-hint): print, once per
 * distinct text, the policy rule that allows what the program just asked
 * psockd for, marked when psockd's policy refused it. failed: the call
 * failed (the last libpsock-client error says why; nothing is printed if
 * psockd did not decide). fmt describes the call in psockd.policy(5) terms
 * ("socket family=inet type=stream proto=0"). errno is kept.
 */
void shim_hint_print(bool failed, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether hints are asked for: the arguments of a hint are only worked
 * out then (naming a family costs on every socket() otherwise). */
bool shim_hint_enabled(void);
#define shim_hint(failed, ...)                                                 \
  do {                                                                         \
    if (shim_hint_enabled())                                                   \
      shim_hint_print((failed), __VA_ARGS__);                                  \
  } while (0)

/*
 * Copy len bytes from the caller's pointer src into dst without crashing on
 * a bad pointer: 0, or -EFAULT as the kernel would say.
 */
int shim_copy_from_user(void *dst, const void *src, size_t len);
/* The other way: write a result through the caller's pointer dst, as
 * put_user() would. 0 or -EFAULT. */
int shim_copy_to_user(void *dst, const void *src, size_t len);

/* PSOCK_PRELOAD_UNIX=daemon: abstract AF_UNIX names are psockd's to bind
 * and connect (where its policy names them). */
bool shim_unix_via_daemon(void);

/* Exported: the version of the shim, for tools and benchmarks that check
 * that it is loaded (dlsym(RTLD_DEFAULT, "psock_preload_version")). */
const char *psock_preload_version(void);
