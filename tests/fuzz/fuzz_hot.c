/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for proto/wire_hot.c, the socket request and reply
 * coded by hand, against protobuf-c on the same bytes.
 *
 * Oracles, besides the sanitizers:
 *  - whatever wire_hot_unpack_socket() takes, protobuf-c unpacks too, as
 *    a socket reply with the very same id, fd count and socket info and
 *    no unknown field (the hand decoder never reads otherwise);
 *  - the input read by protobuf-c as a Request: if it is a socket request
 *    without unknown fields, wire_hot_pack_socket() writes exactly the
 *    bytes wire_pack() writes for it; else it refuses it (-EINVAL).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_hot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const uint8_t *data, size_t size) {
  struct wire_hot_reply h;
  Psock__V1__Response *r;
  const Psock__V1__SocketInfo *a, *b;

  if (!wire_hot_unpack_socket(data, size, &h))
    return;
  r = psock__v1__response__unpack(NULL, size, data);
  if (!r || r->result_case != PSOCK__V1__RESPONSE__RESULT_SOCKET ||
      !r->socket || !r->socket->info || r->base.n_unknown_fields ||
      r->id != h.resp.id || r->fd_count != h.resp.fd_count ||
      h.resp.socket != &h.socket || h.socket.info != &h.info)
    abort();
  a = r->socket->info;
  b = &h.info;
  if (a->family != b->family || a->type != b->type || a->proto != b->proto)
    abort();
  psock__v1__response__free_unpacked(r, NULL);
}

static void check_request(const uint8_t *data, size_t size) {
  Psock__V1__Request *q = psock__v1__request__unpack(NULL, size, data);
  uint8_t a[256], b[256];
  ssize_t na, nb;
  bool own;

  if (!q)
    return;
  own = q->call_case == PSOCK__V1__REQUEST__CALL_SOCKET && q->socket &&
        !q->base.n_unknown_fields && !q->socket->base.n_unknown_fields;
  na = wire_hot_pack_socket(q, a, sizeof(a));
  if (!own) {
    if (na != -EINVAL)
      abort();
  } else {
    nb = wire_pack(&q->base, b, sizeof(b));
    if (na != nb || na <= 0 || memcmp(a, b, (size_t)na) != 0)
      abort();
  }
  psock__v1__request__free_unpacked(q, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_reply(data, size);
  check_request(data, size);
  return 0;
}
