/* SPDX-License-Identifier: MIT */
/*
 * sockopts_table: private to proto/sockopts*.c. The helpers that keep one
 * entry of the option table on one or two lines, and the parts of the
 * table (one file per group of levels). Everything else reads the table
 * through sockopts.h.
 *
 * Trust boundary: none; constant data.
 */
#pragma once

#include "sockopts.h"

#include <errno.h>
#include <linux/capability.h>

/*
 * OPT() names the entry after the constant as written, so a name and its
 * number cannot drift apart. Use it directly inside the braces: a macro
 * that passed the constant on would stringify its number instead.
 */
#define OPT(lvl, opt) .name = #opt, .level = (lvl), .optname = (opt)
/* An entry whose name is not its C constant (two levels share one). */
#define NAMED(str, lvl, opt) .name = (str), .level = (lvl), .optname = (opt)

#define K(a, b, c) .since = SOCKOPT_KERNEL(a, b, c)

/* Value shapes: what psockd may set (min..max bytes) and read (get). */
#define SHAPE(kind, type, lo, hi, get)                                         \
  .value = (kind), .ctype = (type), .min_len = (lo), .max_len = (hi),          \
  .get_len = (get)
#define V_INT SHAPE(SOCKOPT_INT, "int", sizeof(int), sizeof(int), sizeof(int))
#define V_INT_WO SHAPE(SOCKOPT_INT, "int", sizeof(int), sizeof(int), 0)
#define V_INT_RO SHAPE(SOCKOPT_INT, "int", 0, 0, sizeof(int))
/* do_ip_setsockopt() reads one unsigned char from a value shorter than an
 * int (and getsockopt answers one byte when asked for less than an int). */
#define V_INT_OR_BYTE                                                          \
  SHAPE(SOCKOPT_INT, "int or unsigned char", 1, sizeof(int), sizeof(int))
#define V_STRUCT(t) SHAPE(SOCKOPT_STRUCT, #t, sizeof(t), sizeof(t), sizeof(t))
#define V_STRUCT_WO(t) SHAPE(SOCKOPT_STRUCT, #t, sizeof(t), sizeof(t), 0)
#define V_STRUCT_RO(t, get) SHAPE(SOCKOPT_STRUCT, #t, 0, 0, (get))
#define V_BYTES(type, lo, hi, get) SHAPE(SOCKOPT_STRUCT, type, lo, hi, get)
#define V_STRING(lo, hi, get) SHAPE(SOCKOPT_STRING, "char[]", lo, hi, get)
/* Never through psockd: no sizes at all; the type is for the docs. */
#define V_NEVER(type) .value = SOCKOPT_STRUCT, .ctype = (type)

/* Capabilities: any one listed suffices. */
#define ADMIN SOCKOPT_CAP(CAP_NET_ADMIN)
#define RAW SOCKOPT_CAP(CAP_NET_RAW)
#define RAW_OR_ADMIN (SOCKOPT_CAP(CAP_NET_RAW) | SOCKOPT_CAP(CAP_NET_ADMIN))

/* Rules (the default, all zero, is SOCKOPT_FREE). */
#define PRIV(cap, err)                                                         \
  .rule = SOCKOPT_PRIVILEGED, .caps = (cap), .deny_errno = (err)
#define FREE_RANGE(lo, hi, cap, err)                                           \
  .rule = SOCKOPT_BY_VALUE, .free_min = (lo), .free_max = (hi), .caps = (cap), \
  .deny_errno = (err)
/* By value, where the free values are a host setting named in .why. */
#define BY_NAME(cap, err)                                                      \
  .rule = SOCKOPT_BY_VALUE, .caps = (cap), .deny_errno = (err)
#define BY_STATE(cap, err)                                                     \
  .rule = SOCKOPT_BY_STATE, .caps = (cap), .deny_errno = (err)

/* The parts of the table, each in its own file. */
extern const struct sockopt sockopts_socket[]; /* SOL_SOCKET */
extern const size_t sockopts_socket_count;
extern const struct sockopt sockopts_ip[]; /* IPPROTO_IP, IPPROTO_IPV6 */
extern const size_t sockopts_ip_count;
extern const struct sockopt sockopts_l4[]; /* TCP, UDP, SCTP, MPTCP, ... */
extern const size_t sockopts_l4_count;
