/* SPDX-License-Identifier: MIT */
/*
 * cleanup: release on scope exit, as systemd's _cleanup_close_ and
 * TAKE_FD/TAKE_PTR (src/basic/fd-util.h, alloc-util.h). An error path then
 * needs no hand-written `close(fd); free(p); return r;`: the variable owns
 * its resource until TAKE_FD/TAKE_PTR hands it on.
 *
 *   _cleanup_close_ int fd = socket(...);
 *   _cleanup_free_ struct conn *c = calloc(1, sizeof(*c));
 *   if (fd < 0 || !c)
 *     return -ENOMEM;          // both released here
 *   c->fd = TAKE_FD(fd);
 *   *ret = TAKE_PTR(c);        // nothing released
 *
 * Shared by psockd, libpsock-client and the tests; header only.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_close_fn(int *fd) {
  if (*fd >= 0) {
    int saved = errno; /* a close on the way out must not change errno */
    close(*fd);
    errno = saved;
  }
}

static inline void cleanup_free_fn(void *p) {
  free(*(void **)p);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_close_ _cleanup_(cleanup_close_fn)
#define _cleanup_free_ _cleanup_(cleanup_free_fn)

/* Return *pp and leave NULL behind (ownership moves to the caller). */
#define TAKE_PTR(p)                                                            \
  ({                                                                           \
    __typeof__(p) *pp_ = &(p);                                                 \
    __typeof__(p) v_ = *pp_;                                                   \
    *pp_ = NULL;                                                               \
    v_;                                                                        \
  })

/* Return fd and leave -1 behind. */
#define TAKE_FD(fd)                                                            \
  ({                                                                           \
    int *fdp_ = &(fd);                                                         \
    int v_ = *fdp_;                                                            \
    *fdp_ = -1;                                                                \
    v_;                                                                        \
  })

/* Define a cleanup helper for a type with its own free function:
 * DEFINE_CLEANUP(struct policy *, policy_free) gives policy_freep(). */
#define DEFINE_CLEANUP(type, fn)                                               \
  static inline void fn##p(type *p) {                                          \
    if (*p)                                                                    \
      fn(*p);                                                                  \
  }
