/* SPDX-License-Identifier: MIT */
/*
 * dispatch: decode one request packet and route it through the method
 * table (see dispatch.c for what is checked before a handler runs).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"

/*
 * Handle one packet from c with nfds received fds (ownership of the fds
 * passes to the dispatcher) and the kernel's credentials of its sender.
 * Returns 0, or -errno for a framing error: the caller must close the
 * connection (the reason has been logged).
 */
int dispatch_packet(struct conn *c, const uint8_t *buf, size_t len, int *fds,
                    size_t nfds, const struct ucred *sender);

/* Features advertised in HelloReply: the names of all served calls. */
size_t dispatch_features(const char **names, size_t max);
