/* SPDX-License-Identifier: MIT */
/*
 * Shared by the API coverage tests (test_api_*.c): one test per seed entry,
 * each allowed case next to its refused twin, against a real psockd, with
 * the client running as nobody (see tests/lib/harness.h).
 *
 * Every API test program runs in a private name service (hosts file,
 * resolver and nsswitch of its own; harness_private_name_service()), so
 * "localhost" means 127.0.0.1 and ::1 whatever the machine's /etc/hosts
 * says, and no lookup ever leaves the loopback interface.
 *
 * api_private_name_service(), api_watch_psockd(), api_assert_child() and
 * the api_*_dns() functions run in the cmocka test process and may fail the
 * test; the other helpers are for client code in the forked child (they
 * never use cmocka's assert_*).
 */
#ifndef PSOCK_TEST_API_COMMON_H
#define PSOCK_TEST_API_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* The private /etc/hosts of every API test program. */
#define API_HOSTS                                                              \
  "127.0.0.1\tlocalhost\n"                                                     \
  "::1\tlocalhost ip6-localhost ip6-loopback\n"                                \
  "127.0.1.1\t" API_FQDN " " API_HOSTNAME "\n"

/* The host name the names test gives its UTS namespace, and its FQDN. */
#define API_HOSTNAME "psock-api"
#define API_FQDN "psock-api.psock.test"

/* A family number no kernel knows. */
#define API_BOGUS_FAMILY 4242

/*
 * Enter the private name service: API_HOSTS, nsswitch "hosts: files" (no
 * DNS at all) when nameserver is NULL, else "hosts: files dns" with
 * resolv.conf "nameserver NAMESERVER" and "options timeout:3 attempts:1".
 */
void api_private_name_service(const char *nameserver);

/* The psockd whose log api_assert_child() prints when a client fails (NULL:
 * none). Set it after harness_start_psockd(). */
void api_watch_psockd(struct psockd_proc *p);

/*
 * Start psockd with the built-in default policy (as `psockd --dump-policy`
 * prints it) after extra_rules (one rule per line): for what the default
 * refuses and a test needs, such as an abstract name (addr=@NAME) under
 * PSOCK_ROUTE=daemon. The file lives until the process exits.
 */
struct psockd_proc *api_start_psockd_with(const char *extra_rules);

/* Fail the cmocka test unless the child passed (r from harness_run_as_*). */
void api_assert_child(int r, const char *fn, const char *who, int flags);

#define assert_as_nobody(flags, fn, arg)                                       \
  api_assert_child(harness_run_as_nobody((flags), (fn), (arg)), #fn, "nobody", \
                   (flags))
#define assert_as_root(flags, fn, arg)                                         \
  api_assert_child(harness_run_as_root((flags), (fn), (arg)), #fn, "root",     \
                   (flags))

/* The last psock error is (kind, code) and has a message. */
bool api_is_error(int kind, int code);
/*
 * The last psock error is socket.error (errno, strerror(errno)): kind
 * PSOCK_ERR_OS, code and errno both `code`, message exactly strerror(code).
 * Prints what it got otherwise.
 */
bool api_is_os_error(int code);
/* socket.timeout: PSOCK_ERR_TIMEOUT, errno ETIMEDOUT, "timed out". */
bool api_is_timeout(void);
/* ValueError: PSOCK_ERR_VALUE, code EINVAL, a message. */
bool api_is_value_error(void);

/* Seconds on the monotonic clock. */
double api_now(void);

/* Fill buf with a pattern that depends on the offset and seed. */
void api_fill_pattern(uint8_t *buf, size_t len, unsigned seed);

/* Receive exactly len bytes. 0, or -1 (psock error set, or early EOF). */
int api_recv_exact(psock_sock *s, void *buf, size_t len);

/*
 * A listening TCP socket from psockd on host:0 (family AF_INET or
 * AF_INET6), its address in *ret_name. NULL with the psock error.
 */
psock_sock *api_listen_tcp(int family, const char *host, int backlog,
                           psock_address *ret_name);

/* A UDP socket from psockd bound to host:0, its address in *ret_name. */
psock_sock *api_bound_udp(int family, const char *host,
                          psock_address *ret_name);

/*
 * A TCP port on 127.0.0.1 that refuses connections: a socket from psockd
 * bound to it (so nobody else takes it) that does not listen. Returns that
 * socket (close it when done) and the port in *ret_port, or NULL.
 */
psock_sock *api_closed_port(uint16_t *ret_port);

/* --------------------------------------------------- a resolver we control */

/* The fake DNS server's answers. */
#define API_DNS_NAME "www.psock.test" /* A 127.0.0.77, no AAAA */
#define API_DNS_ADDR "127.0.0.77"
#define API_DNS_STALL "stall.psock.test" /* never answered */

struct api_dns;

/*
 * Start a DNS server on UDP port 53 of 127.0.0.1 (or another free address
 * in 127.0.0.0/8), in a forked root process. It answers API_DNS_NAME, never
 * answers a name whose first label is "stall", and answers every other
 * query NXDOMAIN at once, so that no lookup of a test ever leaves the
 * loopback interface or waits for the network. Fails the test on error.
 */
struct api_dns *api_start_dns(void);
/* The address it listens on, for resolv.conf's nameserver line. */
const char *api_dns_address(const struct api_dns *d);
/* Queries for "stall" names it has received (and ignored) so far. */
unsigned api_dns_stalled(const struct api_dns *d);
/* Stop it and free d. NULL is ignored. */
void api_stop_dns(struct api_dns *d);

#endif /* PSOCK_TEST_API_COMMON_H */
