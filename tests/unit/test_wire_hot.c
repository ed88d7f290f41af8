/* SPDX-License-Identifier: MIT */
/*
 * wire_hot against protobuf-c: the socket request packed by hand is
 * byte for byte protobuf-c's for every class of value; the hand decoder
 * reads protobuf-c's socket replies as protobuf-c does, refuses every
 * other response and every form it does not write (leaving them to
 * protobuf-c), and never says yes to bytes that protobuf-c would refuse or
 * read otherwise (a mutation sweep).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "wire.h"
#include "wire_hot.h"

static const int32_t ints[] = {
    0,  1,    127,       128, 16383,   16384,     2097152,   INT32_MAX,
    -1, -128, INT32_MIN, 10,  0x80001, 0x7ffffff, -0x1000000};
#define N_INTS (sizeof(ints) / sizeof(ints[0]))
static const uint64_t ids[] = {
    0, 1, 127, 128, 300, 1u << 31, 1ull << 35, (1ull << 63) + 5, UINT64_MAX};
#define N_IDS (sizeof(ids) / sizeof(ids[0]))
static const uint32_t u32s[] = {0, 1, 7, 127, 128, 65535, UINT32_MAX};
#define N_U32S (sizeof(u32s) / sizeof(u32s[0]))

/* ------------------------------------------------------------- packing */

static void assert_packs_alike(const Psock__V1__Request *req) {
  uint8_t a[256], b[256];
  ssize_t na = wire_hot_pack_socket(req, a, sizeof(a));
  ssize_t nb = wire_pack(&req->base, b, sizeof(b));

  assert_true(na > 0);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, (size_t)na);
}

static void test_pack_as_protobuf_c(void **state) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest sr = PSOCK__V1__SOCKET_REQUEST__INIT;
  unsigned n = 0;

  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  req.socket = &sr;
  for (size_t f = 0; f < N_INTS; f++)
    for (size_t t = 0; t < N_INTS; t += 2)
      for (size_t p = 0; p < N_INTS; p += 3)
        for (size_t i = 0; i < N_IDS; i += 2)
          for (size_t b = 0; b <= N_U32S; b++) {
            sr.family = ints[f];
            sr.type = ints[t];
            sr.proto = ints[p];
            req.id = ids[i];
            req.fd_count = u32s[(f + t) % N_U32S];
            sr.has_batch = b < N_U32S;
            sr.batch = b < N_U32S ? u32s[b] : 0;
            assert_packs_alike(&req);
            n++;
          }
  print_message("%u requests packed alike\n", n);
}

static void test_pack_refuses_what_is_not_its_own(void **state) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest sr = PSOCK__V1__SOCKET_REQUEST__INIT;
  Psock__V1__ListenRequest lr = PSOCK__V1__LISTEN_REQUEST__INIT;
  ProtobufCMessageUnknownField unknown = {.tag = 99};
  uint8_t buf[256];

  /* Not a socket request, or none attached. */
  req.call_case = PSOCK__V1__REQUEST__CALL_LISTEN;
  req.listen = &lr;
  assert_int_equal(wire_hot_pack_socket(&req, buf, sizeof(buf)), -EINVAL);
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  req.socket = NULL;
  assert_int_equal(wire_hot_pack_socket(&req, buf, sizeof(buf)), -EINVAL);
  assert_int_equal(wire_hot_pack_socket(NULL, buf, sizeof(buf)), -EINVAL);
  /* Unknown fields are protobuf-c's to pack. */
  req.socket = &sr;
  sr.base.n_unknown_fields = 1;
  sr.base.unknown_fields = &unknown;
  assert_int_equal(wire_hot_pack_socket(&req, buf, sizeof(buf)), -EINVAL);
  sr.base.n_unknown_fields = 0;
  /* Too small a buffer, by one byte; then just right. */
  sr.family = -1;
  req.id = UINT64_MAX;
  {
    ssize_t n = wire_pack(&req.base, buf, sizeof(buf));

    assert_true(n > 0);
    assert_int_equal(wire_hot_pack_socket(&req, buf, (size_t)n - 1), -EMSGSIZE);
    assert_int_equal(wire_hot_pack_socket(&req, buf, (size_t)n), n);
  }
}

/* ----------------------------------------------------------- unpacking */

static size_t pack_reply(uint64_t id, uint32_t fds, int32_t f, int32_t t,
                         int32_t p, uint8_t *buf, size_t cap) {
  Psock__V1__Response r = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__SocketReply sr = PSOCK__V1__SOCKET_REPLY__INIT;
  Psock__V1__SocketInfo in = PSOCK__V1__SOCKET_INFO__INIT;
  ssize_t n;

  in.family = f;
  in.type = t;
  in.proto = p;
  sr.info = &in;
  r.id = id;
  r.fd_count = fds;
  r.result_case = PSOCK__V1__RESPONSE__RESULT_SOCKET;
  r.socket = &sr;
  n = wire_pack(&r.base, buf, cap);
  assert_true(n > 0);
  return (size_t)n;
}

/* If the hand decoder takes buf, protobuf-c reads the same from it. */
static bool agrees(const uint8_t *buf, size_t len) {
  struct wire_hot_reply h;
  Psock__V1__Response *r;
  bool same;

  if (!wire_hot_unpack_socket(buf, len, &h))
    return false;
  r = psock__v1__response__unpack(NULL, len, buf);
  assert_non_null(r);
  same = r->id == h.resp.id && r->fd_count == h.resp.fd_count &&
         r->result_case == PSOCK__V1__RESPONSE__RESULT_SOCKET &&
         h.resp.result_case == r->result_case && h.resp.socket &&
         h.resp.socket->info && r->socket && r->socket->info &&
         r->socket->info->family == h.resp.socket->info->family &&
         r->socket->info->type == h.resp.socket->info->type &&
         r->socket->info->proto == h.resp.socket->info->proto &&
         r->base.n_unknown_fields == 0;
  psock__v1__response__free_unpacked(r, NULL);
  assert_true(same);
  return true;
}

static void test_unpack_as_protobuf_c(void **state) {
  uint8_t buf[256];

  for (size_t f = 0; f < N_INTS; f++)
    for (size_t t = 0; t < N_INTS; t++)
      for (size_t i = 0; i < N_IDS; i++) {
        size_t n = pack_reply(ids[i], u32s[(f + i) % N_U32S], ints[f], ints[t],
                              ints[(f + t) % N_INTS], buf, sizeof(buf));

        assert_true(agrees(buf, n));
      }
}

/* Every other response, and forms protobuf-c accepts but does not write:
 * false, for protobuf-c to read. */
static void test_unpack_leaves_the_rest(void **state) {
  Psock__V1__Response r = PSOCK__V1__RESPONSE__INIT;
  Psock__V1__Error e = PSOCK__V1__ERROR__INIT;
  Psock__V1__Empty empty = PSOCK__V1__EMPTY__INIT;
  struct wire_hot_reply h;
  uint8_t buf[256], alt[256];
  ssize_t n;
  size_t m;

  r.id = 5;
  r.result_case = PSOCK__V1__RESPONSE__RESULT_ERROR;
  e.kind = PSOCK__V1__ERROR__KIND__POLICY_DENIED;
  e.code = EACCES;
  e.message = (char *)"rule 3";
  r.error = &e;
  n = wire_pack(&r.base, buf, sizeof(buf));
  assert_true(n > 0);
  assert_false(wire_hot_unpack_socket(buf, (size_t)n, &h));
  r.result_case = PSOCK__V1__RESPONSE__RESULT_LISTEN;
  r.listen = &empty;
  n = wire_pack(&r.base, buf, sizeof(buf));
  assert_false(wire_hot_unpack_socket(buf, (size_t)n, &h));

  /* fd_count before id: valid protobuf, not protobuf-c's order. */
  m = pack_reply(1, 1, 2, 1, 0, buf, sizeof(buf));
  assert_true(wire_hot_unpack_socket(buf, m, &h));
  assert_int_equal(buf[0], 0x08);
  assert_int_equal(buf[2], 0x10);
  alt[0] = buf[2];
  alt[1] = buf[3];
  alt[2] = buf[0];
  alt[3] = buf[1];
  memcpy(alt + 4, buf + 4, m - 4);
  assert_false(wire_hot_unpack_socket(alt, m, &h));
  {
    Psock__V1__Response *pr = psock__v1__response__unpack(NULL, m, alt);

    assert_non_null(pr);
    psock__v1__response__free_unpacked(pr, NULL);
  }
  /* An unknown field after the reply. */
  memcpy(alt, buf, m);
  alt[m] = 0x78; /* field 15, varint */
  alt[m + 1] = 0x01;
  assert_false(wire_hot_unpack_socket(alt, m + 2, &h));
  /* A varint of eleven bytes, and a tenth byte beyond 64 bits. */
  memcpy(alt,
         (const uint8_t[]){0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0x02},
         11);
  assert_false(wire_hot_unpack_socket(alt, 11, &h));
  assert_false(wire_hot_unpack_socket(NULL, 0, &h));
  assert_false(wire_hot_unpack_socket(buf, 0, &h));
}

/* Truncations and byte mutations of socket replies: whatever the hand
 * decoder takes, protobuf-c reads alike (agrees() asserts it). */
static void test_unpack_mutations(void **state) {
  uint8_t buf[256], mut[256];
  uint32_t rng = 12345;
  unsigned taken = 0, tries = 0;

  for (size_t f = 0; f < N_INTS; f++) {
    size_t n = pack_reply(ids[f % N_IDS], u32s[f % N_U32S], ints[f],
                          ints[(f + 3) % N_INTS], 6, buf, sizeof(buf));

    for (size_t len = 0; len < n; len++)
      assert_false(
          wire_hot_unpack_socket(buf, len, &(struct wire_hot_reply){0}));
    for (int k = 0; k < 20000; k++) {
      size_t at;

      memcpy(mut, buf, n);
      for (int j = 0; j < 1 + k % 3; j++) {
        rng = rng * 1103515245u + 12345u;
        at = (rng >> 8) % n;
        mut[at] = (uint8_t)(rng >> 20);
      }
      taken += agrees(mut, n);
      tries++;
    }
  }
  print_message("%u of %u mutated replies taken, each read alike\n", taken,
                tries);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_as_protobuf_c),
      cmocka_unit_test(test_pack_refuses_what_is_not_its_own),
      cmocka_unit_test(test_unpack_as_protobuf_c),
      cmocka_unit_test(test_unpack_leaves_the_rest),
      cmocka_unit_test(test_unpack_mutations),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
