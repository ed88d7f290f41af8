/* SPDX-License-Identifier: MIT */
/*
 * privask: the asking side of psockd-priv, in a worker (psockd-priv's side
 * is privserve.c). A handler first tries an operation with the worker's own
 * rights, which are the client's: only when the kernel refused it for lack
 * of privilege does it call one of these with that refusal (own_err, a
 * -errno). Each sends one fixed-size request if the request is one
 * psockd-priv serves (privproto_validate), and otherwise returns own_err:
 * the kernel's answer stands.
 *
 * psockd-priv judges the request again by the policy, as the one identity
 * this worker serves; a refusal there is -EACCES or -EPERM (logged).
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

/* Route refused operations to psockd-priv over fd. */
void privask_set_channel(int fd);

/* True once the channel failed: the worker must stop (it cannot serve). */
bool privask_channel_lost(void);

/* An fd, or -errno. */
int privask_socket(int family, int type, int proto, int own_err);
int privask_bind(int fd, const struct sockaddr *sa, socklen_t len, int own_err);
int privask_setsockopt(int fd, int level, int optname, const void *val,
                       socklen_t len, int own_err);
