/* SPDX-License-Identifier: MIT */
/*
 * pure: the calls that need no daemon and no I/O: byte order, IP address
 * text <-> packed conversions and the library version (the module-wide
 * default timeout lives with the deadlines, deadline.c, which the sockets
 * read it from). Errors follow the seed: socket.error (PSOCK_ERR_OS) for
 * strings the C library refuses, ValueError for wrong lengths.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "util.h"

PSOCK_EXPORT uint32_t psock_ntohl(uint32_t x) {
  return ntohl(x);
}

PSOCK_EXPORT uint16_t psock_ntohs(uint16_t x) {
  return ntohs(x);
}

PSOCK_EXPORT uint32_t psock_htonl(uint32_t x) {
  return htonl(x);
}

PSOCK_EXPORT uint16_t psock_htons(uint16_t x) {
  return htons(x);
}

PSOCK_EXPORT int psock_inet_aton(const char *ip_string, uint8_t out[4]) {
  struct in_addr in;

  if (!ip_string || !out)
    return pc_fail(pc_error_value("NULL argument to inet_aton"));
  /* inet_aton(3), not inet_pton: the seed accepts "127.1" and friends. */
  if (!inet_aton(ip_string, &in))
    return pc_fail(pc_error(PSOCK_ERR_OS, EINVAL,
                            "illegal IP address string passed to inet_aton"));
  memcpy(out, &in, 4);
  return 0;
}

PSOCK_EXPORT int psock_inet_ntoa(const void *packed, size_t len, char *buf,
                                 size_t buflen) {
  char text[INET_ADDRSTRLEN];

  if (!packed && len)
    return pc_fail(pc_error_value("NULL argument to inet_ntoa"));
  if (len != 4)
    return pc_fail(
        pc_error(PSOCK_ERR_OS, EINVAL, "packed IP wrong length for inet_ntoa"));
  inet_ntop(AF_INET, packed, text, sizeof(text));
  return pc_copy_str(text, buf, buflen) < 0 ? pc_fail(-ERANGE) : 0;
}

static int packed_len(int family) {
  switch (family) {
  case AF_INET:
    return 4;
  case AF_INET6:
    return 16;
  default:
    return -1;
  }
}

PSOCK_EXPORT int psock_inet_pton(int family, const char *ip_string, void *out,
                                 size_t outlen) {
  unsigned char packed[16];
  int n = packed_len(family);

  if (!ip_string || !out)
    return pc_fail(pc_error_value("NULL argument to inet_pton"));
  if (n < 0)
    return pc_fail(-EAFNOSUPPORT);
  if (inet_pton(family, ip_string, packed) != 1)
    return pc_fail(pc_error(PSOCK_ERR_OS, EINVAL,
                            "illegal IP address string passed to inet_pton"));
  if (outlen < (size_t)n)
    return pc_fail(-ERANGE);
  memcpy(out, packed, (size_t)n);
  return n;
}

PSOCK_EXPORT int psock_inet_ntop(int family, const void *packed, size_t len,
                                 char *buf, size_t buflen) {
  char text[INET6_ADDRSTRLEN];
  int n = packed_len(family);

  if (n < 0)
    return pc_fail(pc_error_value("unknown address family %d", family));
  if (len != (size_t)n)
    return pc_fail(
        pc_error_value("invalid length of packed IP address string"));
  if (!packed)
    return pc_fail(pc_error_value("NULL argument to inet_ntop"));
  if (!inet_ntop(family, packed, text, sizeof(text)))
    return pc_fail(-errno);
  return pc_copy_str(text, buf, buflen) < 0 ? pc_fail(-ERANGE) : 0;
}

PSOCK_EXPORT const char *psock_version(void) {
  return PSOCK_VERSION;
}
