/* SPDX-License-Identifier: MIT */
/*
 * proctitle: what ps shows for a process forked without exec (workers and
 * resolvers are forks of psockd-spawn): its command line is rewritten in
 * place, as setproctitle() does, so that `ps -o user,args` tells the roles
 * apart.
 */
#pragma once

/* Remember where the command line lives (call from main()). */
void proctitle_init(int argc, char **argv);

/* Replace the command line (cut to the space it had) and the comm name. */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
