/* SPDX-License-Identifier: MIT */
/*
 * privops: the operations that need network privileges (CAP_NET_RAW,
 * CAP_NET_BIND_SERVICE, CAP_NET_ADMIN). Everything else in psockd calls
 * these and nothing else for privileged work, so that the privilege
 * boundary is one small interface. Each returns >= 0 on success (an fd for
 * priv_socket) or -errno.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

int priv_socket(int family, int type, int proto);
int priv_socketpair(int family, int type, int proto, int ret_fds[2]);
int priv_bind(int fd, const struct sockaddr *sa, socklen_t len);
int priv_setsockopt(int fd, int level, int optname, const void *val,
                    socklen_t len);

/* True if setting this option needs CAP_NET_ADMIN or CAP_NET_RAW. */
bool priv_option_is_privileged(int level, int optname, const void *val,
                               socklen_t len);

/* Route refused operations to psockd-priv over fd (worker role). */
void privops_set_channel(int fd);

/* True once the channel to psockd-priv failed: the worker must exit. */
bool privops_channel_lost(void);
