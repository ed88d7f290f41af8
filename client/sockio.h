/* SPDX-License-Identifier: MIT */
/*
 * sockio: the data path on a socket the program holds (send, recv and
 * their variants), run locally on the fd; sendto() to a destination the
 * policy restricts goes through psockd. Besides the public psock_*
 * functions it gives the layers above the same sendto with the route
 * chosen by the caller (psock-run's seccomp supervisor).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "psock/psock.h"

/* psock_sendto_flags() performed by psockd (daemon: its policy judges the
 * destination) or on the fd (!daemon). Returns bytes sent, or -1 with the
 * thread's last error set. */
ssize_t pc_sendto_via(psock_sock *s, const void *buf, size_t len, int flags,
                      const psock_address *address, bool daemon);
