/* SPDX-License-Identifier: MIT */
/*
 * error: the calling thread's last error (kind, code, message), the only
 * error channel of the public API besides errno. Thread-local so that
 * threads never see each other's failures; successful calls do not touch
 * it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local struct pc_error_state last;

static void set_errno_for(int kind, int code) {
  switch (kind) {
  case PSOCK_ERR_OS:
  case PSOCK_ERR_POLICY:
    errno = code;
    break;
  case PSOCK_ERR_TIMEOUT:
    errno = ETIMEDOUT;
    break;
  default:
    break;
  }
}

int pc_error(int kind, int code, const char *fmt, ...) {
  va_list ap;

  last.kind = kind;
  last.code = code;
  va_start(ap, fmt);
  vsnprintf(last.message, sizeof(last.message), fmt, ap);
  va_end(ap);
  set_errno_for(kind, code);
  return -PC_ERECORDED;
}

int pc_error_os(int code) {
  char buf[128];

  /* GNU strerror_r: thread-safe, may return a static string. */
  return pc_error(PSOCK_ERR_OS, code, "%s", strerror_r(code, buf, sizeof(buf)));
}

int pc_error_value(const char *fmt, ...) {
  va_list ap;

  last.kind = PSOCK_ERR_VALUE;
  last.code = EINVAL;
  va_start(ap, fmt);
  vsnprintf(last.message, sizeof(last.message), fmt, ap);
  va_end(ap);
  return -PC_ERECORDED;
}

void pc_record(int neg) {
  if (neg == -PC_ERECORDED)
    return;
  if (neg == -PC_ETIMEOUT)
    pc_error(PSOCK_ERR_TIMEOUT, ETIMEDOUT, "timed out");
  else
    pc_error_os(-neg);
}

int pc_fail(int neg) {
  pc_record(neg);
  return -1;
}

void pc_error_save(struct pc_error_state *st) {
  *st = last;
}

void pc_error_restore(const struct pc_error_state *st) {
  last = *st;
}

int pc_error_again(const struct pc_error_state *saved) {
  if (last.kind != PSOCK_ERR_OS ||
      (last.code != EAGAIN && last.code != EWOULDBLOCK))
    return -PC_ERECORDED;
  pc_error_restore(saved);
  return -EAGAIN;
}

PSOCK_EXPORT int psock_last_error_kind(void) {
  return last.kind;
}

PSOCK_EXPORT int psock_last_error_code(void) {
  return last.code;
}

PSOCK_EXPORT const char *psock_last_error_message(void) {
  return last.message;
}

PSOCK_EXPORT void psock_clear_error(void) {
  last.kind = PSOCK_ERR_NONE;
  last.code = 0;
  last.message[0] = '\0';
}
