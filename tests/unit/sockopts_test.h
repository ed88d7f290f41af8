/* SPDX-License-Identifier: MIT */
/*
 * sockopts_test: what the parts of test_sockopts_kernel share: the
 * unprivileged child runner, result codes, socket kinds, the host facts.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockopts.h"

#define NOBODY 65534
#define MAX_RESULTS 512

/* Result codes a child reports per check, beside 0 and an errno. */
#define NOT_RUN (-1)
#define SOCKET_FAILED 10000 /* + errno of socket() */
#define SETUP_FAILED 20000  /* + errno of the setup step */

struct sock_kind {
  int family, type, proto;
};

#define TCP4 ((struct sock_kind){AF_INET, SOCK_STREAM, IPPROTO_TCP})
#define UDP4 ((struct sock_kind){AF_INET, SOCK_DGRAM, IPPROTO_UDP})
#define UDP6 ((struct sock_kind){AF_INET6, SOCK_DGRAM, IPPROTO_UDP})
#define TCP6 ((struct sock_kind){AF_INET6, SOCK_STREAM, IPPROTO_TCP})

extern uint32_t kernel; /* the running kernel, SOCKOPT_KERNEL() */
extern int mc_ifindex;  /* an up, multicast, not loopback interface; or 0 */
extern struct in_addr mc_addr4; /* its IPv4 address, or 0.0.0.0 */
extern int lo_ifindex;

void note_skip(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void note_checked(void);
bool skipped_result(const char *name, int r);
const struct sockopt *named(const char *name);
int open_sock(struct sock_kind k);
/* 0 or the errno setsockopt() answered. */
int try_set(int fd, const struct sockopt *o, const void *v, socklen_t len);
bool have_net_caps(void);

/*
 * Runs fn(arg, res, n) in a child dropped to uid/gid 65534 without
 * capabilities; res[] holds its n results (NOT_RUN where it set none).
 * 0, or -errno if the child could not drop its privileges.
 */
typedef void (*child_fn)(const void *arg, int *res, size_t n);
int run_unprivileged(child_fn fn, const void *arg, int *res, size_t n);

void test_privilege_rules_have_probes(void **state);
void test_privilege_rules(void **state);
void test_bindtodevice(void **state);
void test_free_options_settable(void **state);
void test_options_readable(void **state);
void test_raw_only_options(void **state);
void test_repair_mode_options(void **state);
