/* SPDX-License-Identifier: MIT */
/*
 * supervisor: psock-run's seccomp mode. Three processes:
 *
 *   psock-run     the process its caller started and waits for. It forks
 *     |           the supervisor, forwards the signals it is sent to the
 *     |           program, and ends as the program ends (its exit status,
 *     |           or the same signal).
 *     +-- supervisor  a process group of its own, not dumpable, a child
 *           |         subreaper; the one that answers the filter's
 *           |         notifications (sv_calls.h, sv_send.h), one thread,
 *           |         one connection to psockd at a time. It lives as long
 *           |         as anything of the program does (a daemon that forks
 *           |         away is still served), and kills the program if
 *           |         psock-run is killed first.
 *           +-- the program  in psock-run's process group (the terminal's
 *                            job control and signals reach it as before);
 *                            the filter (seccomp_filter.h) is installed
 *                            just before its execve.
 *
 * Out of the program's reach: the program runs as the same user, so the
 * kernel would let it ptrace the supervisor, read its memory, take its
 * fds (the listener among them: it could then answer its own calls) and
 * signal it. Not dumpable, the supervisor can be neither traced nor read
 * by a process without CAP_SYS_PTRACE over it (the program has none: its
 * capabilities are gone at execve, no_new_privs keeps file capabilities
 * and set-id bits from giving it any); its own process group keeps the
 * program's kill(0) and the terminal's signals away; the filter refuses
 * signals, pidfds and process controls aimed at its pid or group,
 * kill(-1) and pidfd_send_signal. Were it killed all the same, the program
 * would lose its network, not gain any: with no listener the kernel fails
 * every filtered call (ENOSYS).
 *
 * Trust boundary: the notifications (sv_notif.h) and the program's exit.
 */
#pragma once

#include <stdbool.h>

struct supervisor_opts {
  const char *path; /* the program, as execv() takes it */
  char *const *argv;
  bool hint; /* --policy-hint */
};

/* Run the program under the supervisor; exits as the program does (125
 * if the supervisor cannot start it). */
__attribute__((noreturn)) void supervisor_run(const struct supervisor_opts *o);
