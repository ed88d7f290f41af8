/* SPDX-License-Identifier: MIT */
/*
 * fake_conn: what fuzz_dispatch adds to the API of daemon/conn.h, which
 * tests/fuzz/fake_conn.c implements in place of daemon/conn.c (see the top
 * of that file for what it fakes and why).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "psock.pb-c.h"

/* Called by conn_send() with each reply that passed the generic oracles
 * (decoded; freed after the call), before its fds are handed on. */
extern void (*fake_conn_on_reply)(struct conn *c, const Psock__V1__Response *r,
                                  const int *fds, size_t nfds);

/*
 * Accept an error reply whose kind or message is not one psockd writes
 * itself: set while an input has fed the worker a forged resolver answer,
 * whose Error the worker passes on as the resolver wrote it.
 */
extern bool fake_conn_lenient;

/* From now on every conn_send() on c fails as a send to a client that has
 * gone fails (EPIPE), closing c inside conn_send(), as conn.c does. */
void fake_conn_hang_up(struct conn *c);

/* Replies that went out (passed the oracles) since the process started. */
extern unsigned long fake_conn_replies;

/* Abort with a line saying which oracle failed. */
_Noreturn void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
