/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets and the seed generator (gen_corpus.c):
 * the input formats of the targets that take more than plain bytes.
 *
 * fuzz_dispatch: a sequence of up to FUZZ_DISPATCH_MAX_RECORDS records, each
 * one packet a client sends on one connection:
 *
 *   byte 0   control: bits 0-1 number of fds (0..3) sent with the packet,
 *            FUZZ_CTL_* flags in the others
 *   byte 1   fd kinds: bits 0-2 first fd, 3-5 second fd, 6-7 third fd
 *            (enum fuzz_fd_kind)
 *   byte 2-3 packet length, little-endian (cut to what the input holds)
 *   ...      the packet
 *
 * fuzz_addr: byte 0 selects the mode (even: the rest is a packed
 * psock.v1.Address; odd: byte 1 is the length of a raw sockaddr made of the
 * rest), byte 1 (Address mode) the size of the addr_format() buffer.
 *
 * fuzz_priv: one struct priv_request (short inputs are zero-padded), then
 * one byte choosing the kind of fd that comes with it (enum fuzz_fd_kind,
 * FUZZ_FD_NONE for none).
 */
#ifndef PSOCK_FUZZ_H
#define PSOCK_FUZZ_H

#define FUZZ_DISPATCH_MAX_RECORDS 8
#define FUZZ_RECORD_HEADER 4

/* Control bits of a fuzz_dispatch record. */
#define FUZZ_CTL_NFDS_MASK 0x03
#define FUZZ_CTL_DEFER 0x04     /* leave lookups of this packet pending */
#define FUZZ_CTL_CANCEL 0x08    /* pending lookups end as never run */
#define FUZZ_CTL_HANGUP 0x10    /* client goes away after this packet */
#define FUZZ_CTL_HANDSHAKE 0x20 /* (first record) connection starts ready */

enum fuzz_fd_kind {
  FUZZ_FD_UNIX_STREAM = 0, /* one end of an AF_UNIX socketpair */
  FUZZ_FD_UNIX_DGRAM,
  FUZZ_FD_UDP,  /* AF_INET SOCK_DGRAM, unbound */
  FUZZ_FD_TCP,  /* AF_INET SOCK_STREAM, unbound */
  FUZZ_FD_UDP6, /* AF_INET6 SOCK_DGRAM, unbound */
  FUZZ_FD_PIPE, /* not a socket */
  FUZZ_FD_MEMFD,
  FUZZ_FD_DEVNULL,
  FUZZ_FD_N_KINDS,
  FUZZ_FD_NONE = FUZZ_FD_N_KINDS
};

#endif
