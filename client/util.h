/* SPDX-License-Identifier: MIT */
/*
 * util: small helpers with no state, no I/O and no policy, used by several
 * layers of libpsock-client (one layer above error, see
 * docs/architecture.md).
 */
#pragma once

#include <stddef.h>

/* Copy a string into a caller's buffer: 0, -EFAULT for a NULL buffer,
 * -ERANGE if it does not fit (buf untouched then). */
int pc_copy_str(const char *src, char *buf, size_t len);
