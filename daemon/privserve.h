/* SPDX-License-Identifier: MIT */
/*
 * privserve: psockd-priv, the serving side of privproto.h (see
 * privserve.c). The role has dropped to its capabilities before this runs.
 */
#pragma once

#include <stdbool.h>

/* Serve worker channels until the control socket from the master closes;
 * with seccomp, under psockd-priv's allow-list. Returns 0 or -errno. */
int privserve_main(int control_fd, bool seccomp);
