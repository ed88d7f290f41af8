/* SPDX-License-Identifier: MIT */
/*
 * wire_hot: the socket request and its reply, packed and unpacked by hand
 * (see wire_hot.h for why, and for what the decoder accepts).
 *
 * The protobuf encoding used: a field is a tag varint (number << 3 | wire
 * type) and its value; varint fields (type 0) are uint64, uint32 or int32
 * (a negative int32 is the ten-byte varint of its sign-extended 64-bit
 * value); a message field (type 2) is a length varint and the message.
 */
#include "wire_hot.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define TAG(number, type) ((uint8_t)((number) << 3 | (type)))
#define VARINT 0
#define LEN 2

/* Room for a SocketRequest: four fields of at most 1 + 10 bytes. */
#define SOCKET_REQUEST_MAX 44u

/* ------------------------------------------------------------- packing */

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;

  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* An int32 as protobuf-c writes it: negative values sign-extended. */
static size_t put_int32(uint8_t *p, int32_t v) {
  return put_varint(p, (uint64_t)(int64_t)v);
}

static size_t pack_socket_request(const Psock__V1__SocketRequest *q,
                                  uint8_t *p) {
  size_t n = 0;

  p[n++] = TAG(1, VARINT);
  n += put_int32(p + n, q->family);
  p[n++] = TAG(2, VARINT);
  n += put_int32(p + n, q->type);
  p[n++] = TAG(3, VARINT);
  n += put_int32(p + n, q->proto);
  if (q->has_batch) {
    p[n++] = TAG(4, VARINT);
    n += put_varint(p + n, q->batch);
  }
  return n;
}

ssize_t wire_hot_pack_socket(const Psock__V1__Request *req, void *buf,
                             size_t cap) {
  uint8_t sub[SOCKET_REQUEST_MAX], head[1 + 10 + 1 + 5 + 1 + 5];
  size_t m, n = 0;

  /* Unknown fields would be packed by protobuf-c: left to it. */
  if (!req || req->call_case != PSOCK__V1__REQUEST__CALL_SOCKET ||
      !req->socket || req->base.n_unknown_fields ||
      req->socket->base.n_unknown_fields)
    return -EINVAL;
  m = pack_socket_request(req->socket, sub);
  head[n++] = TAG(1, VARINT);
  n += put_varint(head + n, req->id);
  head[n++] = TAG(2, VARINT);
  n += put_varint(head + n, req->fd_count);
  head[n++] = TAG(PSOCK__V1__REQUEST__CALL_SOCKET, LEN);
  n += put_varint(head + n, m);
  if (!buf || n + m > cap)
    return -EMSGSIZE;
  memcpy(buf, head, n);
  memcpy((uint8_t *)buf + n, sub, m);
  return (ssize_t)(n + m);
}

/* ----------------------------------------------------------- unpacking */

struct cursor {
  const uint8_t *p, *end;
};

/* A varint of at most max bytes (10 for 64 bits, 5 for 32), its last
 * byte within the type's bits for 10; false for anything else. */
static bool get_varint(struct cursor *c, size_t max, uint64_t *ret) {
  uint64_t v = 0;

  for (size_t i = 0; i < max && c->p < c->end; i++) {
    uint8_t b = *c->p++;

    if (i == 9 && b > 1)
      return false;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *ret = v;
      return true;
    }
  }
  return false;
}

/* The tag byte want, next. */
static bool get_tag(struct cursor *c, uint8_t want) {
  if (c->p >= c->end || *c->p != want)
    return false;
  c->p++;
  return true;
}

static bool get_uint32(struct cursor *c, uint32_t *ret) {
  uint64_t v;

  if (!get_varint(c, 5, &v) || v > UINT32_MAX)
    return false;
  *ret = (uint32_t)v;
  return true;
}

/* An int32 read as protobuf-c reads it: the low 32 bits. */
static bool get_int32(struct cursor *c, int32_t *ret) {
  uint64_t v;

  if (!get_varint(c, 10, &v))
    return false;
  *ret = (int32_t)(uint32_t)v;
  return true;
}

/* A message field's bytes: *inner covers them, c moves past them. */
static bool get_message(struct cursor *c, struct cursor *inner) {
  uint32_t len;

  if (!get_uint32(c, &len) || len > (size_t)(c->end - c->p))
    return false;
  inner->p = c->p;
  inner->end = c->p + len;
  c->p += len;
  return true;
}

static bool unpack_info(struct cursor *c, Psock__V1__SocketInfo *info) {
  return get_tag(c, TAG(1, VARINT)) && get_int32(c, &info->family) &&
         get_tag(c, TAG(2, VARINT)) && get_int32(c, &info->type) &&
         get_tag(c, TAG(3, VARINT)) && get_int32(c, &info->proto) &&
         c->p == c->end;
}

bool wire_hot_unpack_socket(const void *buf, size_t len,
                            struct wire_hot_reply *ret) {
  struct cursor c = {buf, (const uint8_t *)buf + len}, reply, info;

  if (!buf || !ret)
    return false;
  *ret = (struct wire_hot_reply){.resp = PSOCK__V1__RESPONSE__INIT,
                                 .socket = PSOCK__V1__SOCKET_REPLY__INIT,
                                 .info = PSOCK__V1__SOCKET_INFO__INIT};
  if (!get_tag(&c, TAG(1, VARINT)) || !get_varint(&c, 10, &ret->resp.id) ||
      !get_tag(&c, TAG(2, VARINT)) || !get_uint32(&c, &ret->resp.fd_count) ||
      !get_tag(&c, TAG(PSOCK__V1__RESPONSE__RESULT_SOCKET, LEN)) ||
      !get_message(&c, &reply) || c.p != c.end)
    return false;
  if (!get_tag(&reply, TAG(1, LEN)) || !get_message(&reply, &info) ||
      reply.p != reply.end || !unpack_info(&info, &ret->info))
    return false;
  ret->socket.info = &ret->info;
  ret->resp.result_case = PSOCK__V1__RESPONSE__RESULT_SOCKET;
  ret->resp.socket = &ret->socket;
  return true;
}
