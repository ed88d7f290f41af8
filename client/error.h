/* SPDX-License-Identifier: MIT */
/*
 * error: the bottom of libpsock-client's stack (docs/architecture.md,
 * "Client library"): the calling thread's last error and the convention
 * every other module follows. Nothing here is installed or exported:
 * cross-file functions are named pc_* so that the version script
 * (psock_[a-z]*) keeps them local, and public functions are marked
 * PSOCK_EXPORT because the objects are built -fvisibility=hidden.
 *
 * Error convention: helpers return >= 0 on success and a negative value on
 * failure. -errno means "an OS error not yet recorded"; -PC_ETIMEOUT means
 * "the socket's timeout expired"; -PC_ERECORDED means "a typed error has
 * already been recorded for this thread". A public function turns any of
 * them into its -1/NULL return with pc_fail().
 */
#pragma once

#include "psock/psock.h"

#define PSOCK_EXPORT __attribute__((visibility("default")))

/* Outside the errno range on purpose: see the convention above. */
#define PC_ERECORDED 10001
#define PC_ETIMEOUT 10002

struct pc_error_state {
  int kind;
  int code;
  char message[512];
};

/* Record an error for this thread; sets errno for OS/TIMEOUT/POLICY.
 * Returns -PC_ERECORDED so callers can `return pc_error(...)`. */
int pc_error(int kind, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An OS error with strerror() text. Returns -PC_ERECORDED. */
int pc_error_os(int code);
/* A Python ValueError (code EINVAL). Returns -PC_ERECORDED. */
int pc_error_value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record what a negative helper result means (see the convention). */
void pc_record(int neg);
/* pc_record(neg) and return -1, for public functions. */
int pc_fail(int neg);
/* Save / restore the thread's error, so that a call which fails internally
 * and then succeeds leaves the caller's last error untouched. */
void pc_error_save(struct pc_error_state *st);
void pc_error_restore(const struct pc_error_state *st);
/* After a failed daemon call: if psockd said "not ready" (OS_ERROR EAGAIN),
 * restore *saved and return -EAGAIN so pc_sock_io() waits and retries;
 * otherwise return -PC_ERECORDED. */
int pc_error_again(const struct pc_error_state *saved);
