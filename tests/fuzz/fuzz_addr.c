/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the address codec (proto/addr.c): decoded Address
 * messages as a client sends them (addr_to_sockaddr, addr_needs_lookup,
 * addr_format) and raw sockaddrs of any length as the kernel might return
 * them (addr_from_sockaddr). Input format: tests/fuzz/fuzz.h.
 *
 * Oracles, besides the sanitizers:
 *  - addr_to_sockaddr() succeeds, or fails with one of its documented
 *    errors and leaves its outputs untouched; a name (-ENOENT) is exactly
 *    what addr_needs_lookup() reports;
 *  - a sockaddr it builds converts back to an Address that builds the
 *    very same bytes (sockaddr -> Address -> sockaddr is a fixed point);
 *  - addr_format() always writes a NUL-terminated string inside outlen.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_format(const Psock__V1__Address *a, size_t outlen) {
  char *out = malloc(outlen ? outlen : 1);

  if (!out)
    abort();
  memset(out, 'X', outlen ? outlen : 1);
  addr_format(a, out, outlen);
  if (outlen > 0 && strnlen(out, outlen) >= outlen)
    abort();
  free(out);
}

/* a came from ss (len): building it again must give the same bytes. */
static void check_fixed_point(const struct sockaddr_storage *ss,
                              socklen_t len) {
  struct addr_buf buf;
  Psock__V1__Address *a = NULL;
  struct sockaddr_storage again;
  socklen_t again_len = 0;
  int r;

  r = addr_from_sockaddr((const struct sockaddr *)ss, len, &buf, &a);
  if (r != 0 || !a)
    abort(); /* we built it: it must describe */
  r = addr_to_sockaddr(a, &again, &again_len);
  if (r != 0 || again_len != len || memcmp(&again, ss, len) != 0)
    abort();
  check_format(a, 128);
}

static void fuzz_address(const uint8_t *data, size_t size) {
  Psock__V1__Address *a;
  struct sockaddr_storage ss, untouched;
  socklen_t len = 12345;
  bool lookup;
  int r;

  if (size < 2)
    return;
  a = psock__v1__address__unpack(NULL, size - 2, data + 2);
  if (!a)
    return;
  check_format(a, data[1]);
  (void)addr_family(a);
  lookup = addr_needs_lookup(a);
  memset(&ss, 0xa5, sizeof(ss));
  untouched = ss;
  r = addr_to_sockaddr(a, &ss, &len);
  if (r != 0 && r != -EAFNOSUPPORT && r != -EINVAL && r != -ENAMETOOLONG &&
      r != -ENOENT)
    abort();
  if (r != 0 && (len != 12345 || memcmp(&ss, &untouched, sizeof(ss)) != 0))
    abort(); /* outputs touched on failure */
  if (r == -ENOENT && !lookup)
    abort(); /* a name that addr_needs_lookup() does not see */
  if (lookup && r != -ENOENT && r != -EINVAL)
    abort(); /* a name that addr_to_sockaddr() did not refuse */
  if (r == 0) {
    if (len == 0 || len > sizeof(ss) ||
        ((struct sockaddr *)&ss)->sa_family != addr_family(a))
      abort();
    check_fixed_point(&ss, len);
  }
  psock__v1__address__free_unpacked(a, NULL);
}

static void fuzz_sockaddr(const uint8_t *data, size_t size) {
  struct addr_buf buf;
  Psock__V1__Address *a = NULL;
  struct sockaddr_storage ss;
  socklen_t len, sslen = 0;
  uint8_t *copy;
  int r;

  if (size < 2)
    return;
  /* Any length the kernel could report, with exactly that many bytes. */
  len = data[1];
  if (len > size - 2)
    len = (socklen_t)(size - 2);
  copy = malloc(len ? len : 1);
  if (!copy)
    abort();
  memcpy(copy, data + 2, len);
  r = addr_from_sockaddr((const struct sockaddr *)copy, len, &buf, &a);
  free(copy);
  if (r != 0 && r != -EAFNOSUPPORT && r != -EINVAL)
    abort();
  if (r != 0)
    return;
  check_format(a, 96);
  /* The kernel's own addresses may not be valid requests (a flow label
   * over 20 bits, a TIPC scope of 5), but one that is must round-trip. */
  if (addr_to_sockaddr(a, &ss, &sslen) == 0)
    check_fixed_point(&ss, sslen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] & 1)
    fuzz_sockaddr(data, size);
  else
    fuzz_address(data, size);
  return 0;
}
