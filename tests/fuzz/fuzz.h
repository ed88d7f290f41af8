/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets and the seed generator (gen_corpus.c):
 * the input formats of the targets that take more than plain bytes.
 *
 * fuzz_dispatch: a sequence of up to FUZZ_DISPATCH_MAX_RECORDS records on
 * one connection, each one packet a client sends (or, see below, one
 * answer the resolver sends):
 *
 *   byte 0   control: bits 0-1 number of fds (0..3) sent with the packet,
 *            FUZZ_CTL_* flags in the others
 *   byte 1   fd kinds: bits 0-2 first fd, 3-5 second fd, 6-7 third fd
 *            (enum fuzz_fd_kind); with no fd, bit 7 (FUZZ_KIND_RESOLVER)
 *            makes the record a resolver record
 *   byte 2-3 packet length, little-endian (cut to what the input holds)
 *   ...      the packet
 *
 * A resolver record's packet does not go to the dispatcher: the resolver
 * (played by the target) sends it, as it is, as the answer to the oldest
 * query it holds (to tag 0 if it holds none): a forged or broken answer.
 *
 * After each record the resolver reads the queries the packet caused and
 * answers them at once with the real name-service handlers, unless the
 * control byte says otherwise (FUZZ_CTL_DEFER, FUZZ_CTL_DROP); then the
 * event loop runs (answers delivered, create_connection attempts and
 * their timers). After the last record the client goes away.
 *
 * fuzz_addr: byte 0 selects the mode (even: the rest is a packed
 * psock.v1.Address; odd: byte 1 is the length of a raw sockaddr made of the
 * rest), byte 1 (Address mode) the size of the addr_format() buffer.
 *
 * fuzz_priv: one struct priv_request (short inputs are zero-padded), then
 * one byte choosing the socket that comes with it: a real fd of a kind
 * below FUZZ_FD_N_KINDS (enum fuzz_fd_kind; its SO_DOMAIN, or none for a
 * pipe, a memfd, /dev/null), FUZZ_FD_NONE (or no byte) for none, and above
 * that the family number byte - (FUZZ_FD_NONE + 2) as is (-1 .. 245).
 */
#ifndef PSOCK_FUZZ_H
#define PSOCK_FUZZ_H

#define FUZZ_DISPATCH_MAX_RECORDS 8
#define FUZZ_RECORD_HEADER 4

/* Control bits of a fuzz_dispatch record. */
#define FUZZ_CTL_NFDS_MASK 0x03
/* The resolver leaves this packet's queries queued (answered after a
 * later record, or never: the client leaves first). */
#define FUZZ_CTL_DEFER 0x04
/* The resolver drops this packet's queries: never answered, the calls
 * wait until the client goes away (what a lost query looks like). */
#define FUZZ_CTL_DROP 0x08
/* The client goes away after this packet, and the worker sees it one
 * batch of events later: a reply sent in that batch fails with EPIPE (the
 * connection closes inside conn_send), and what is in flight after it
 * (lookups, create_connection attempts) is cancelled. */
#define FUZZ_CTL_HANGUP 0x10
#define FUZZ_CTL_HANDSHAKE 0x20 /* (first record) connection starts ready */
/* This packet's queries are "already running" in the resolver: a
 * RESOLVE_CANCEL does not stop their answer, which then finds no call. */
#define FUZZ_CTL_RUNNING 0x40
/* The packet arrives with SCM_CREDENTIALS of another process. */
#define FUZZ_CTL_OTHER_SENDER 0x80

/* Byte 1 of a record without fds: a resolver record. */
#define FUZZ_KIND_RESOLVER 0x80

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
