/* SPDX-License-Identifier: MIT */
/*
 * The conformance battery's shared pieces: one output line per call, the
 * normalised words for fds and addresses (output.c), and the sections
 * besides sockcalls.c's own (privilege.c: what privilege changes; the
 * kernel's netlink families; the host's interfaces). Everything links
 * against nothing but libc.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* An address that is never valid: reading it is EFAULT. */
#define BAD_PTR ((void *)16)

const char *errname(int e);
const char *gainame(int e);
const char *herrname(int e);

/* One line: "call(args) = result [ERRNO]"; ERRNO when rc < 0. */
void line(const char *call, const char *args, const char *result, int rc,
          int err);
/* The number the kernel would give the next fd. */
int lowest_free(void);
/* A new fd as "fd=lowest nonblock=N cloexec=N", or "-1". */
const char *fd_word(int fd, int lowest, char *buf, size_t len);
/* -1, 0, or POSITIVE. */
const char *rc_word(int rc);
/* A socket address in words; any_port: a port the kernel chose is
 * "port>0". */
void addr_words(const struct sockaddr *sa, socklen_t len, bool any_port,
                char *buf, size_t size);
/* getsockname/getpeername of fd, as a line. */
void print_name(const char *what, int fd, bool peer, bool any_port);

struct sockaddr_in in4(const char *host, int port);
struct sockaddr_in6 in6(const char *host, int port);
/* The local port of fd, or -1. */
int port_of(int fd);

/* socket(), setsockopt() and an int getsockopt(), each as a line. */
int do_socket(const char *args, int domain, int type, int proto);
void do_setsockopt(const char *args, int fd, int level, int optname,
                   const void *val, socklen_t len);
void print_int_opt(const char *args, int fd, int level, int optname);

/* privilege.c */
void test_privilege(void);
void test_netlink(void);
void test_interfaces(void);
