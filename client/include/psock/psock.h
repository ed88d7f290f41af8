/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client: sockets from psockd, with the API of Python's socket
 * module (the seed document), call for call.
 *
 * Every call that needs privilege, policy or the daemon's view of the
 * network (socket, bind, connect, name lookups, privileged options) is sent
 * to psockd over a Unix-domain socket; the daemon performs it and hands the
 * resulting file descriptor back. Calls on an fd the program already holds
 * (send, recv, accept, getsockopt, ...) run locally on that fd: the data
 * path is the kernel's own. Set PSOCK_ROUTE=daemon in the environment to
 * send every call that has a daemon message through psockd.
 *
 * The daemon is found at $PSOCK_SOCKET, or /run/psockd/psockd.sock. The
 * connection is opened on first use, re-opened after fork() and after a
 * daemon restart, and is safe to use from many threads.
 *
 * Errors. A function that fails returns -1 (or NULL) and records a typed
 * error for the calling thread, read back with psock_last_error_kind(),
 * psock_last_error_code() and psock_last_error_message(). The kinds mirror
 * the seed's exceptions (socket.error, herror, gaierror, timeout) plus a
 * policy refusal and a protocol error. For PSOCK_ERR_OS, PSOCK_ERR_TIMEOUT
 * and PSOCK_ERR_POLICY errno is set as well. Successful calls leave the
 * last error untouched.
 *
 * Timeouts are doubles in seconds; PSOCK_TIMEOUT_NONE (a negative value)
 * is Python's None (blocking mode), 0.0 is non-blocking mode.
 */
#ifndef PSOCK_PSOCK_H
#define PSOCK_PSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- errors */

enum psock_error_kind {
  PSOCK_ERR_NONE = 0,
  PSOCK_ERR_OS = 1,       /* socket.error: code is an errno value */
  PSOCK_ERR_HOST = 2,     /* socket.herror: code is an h_errno value */
  PSOCK_ERR_GAI = 3,      /* socket.gaierror: code is an EAI_* value */
  PSOCK_ERR_TIMEOUT = 4,  /* socket.timeout: message "timed out" */
  PSOCK_ERR_POLICY = 5,   /* refused by psockd's policy; code EACCES/EPERM */
  PSOCK_ERR_PROTOCOL = 6, /* psockd and this library did not understand
                             each other, or psockd is unreachable */
  PSOCK_ERR_VALUE = 7,    /* invalid argument rejected before any call
                             (Python's ValueError); code is EINVAL */
};

/* Kind of the calling thread's last error (PSOCK_ERR_NONE if none). */
int psock_last_error_kind(void);
/* errno / h_errno / EAI_* value of the calling thread's last error. */
int psock_last_error_code(void);
/* Text of the calling thread's last error; never NULL, "" if none. */
const char *psock_last_error_message(void);
/* Forget the calling thread's last error. */
void psock_clear_error(void);

/* ------------------------------------------------------------ addresses */

/* Room for a host string: a DNS name or a numeric address. */
#define PSOCK_HOST_MAX 256
/* Room for an AF_UNIX path or abstract name (sun_path). */
#define PSOCK_PATH_MAX 108

/*
 * A socket address as the seed describes it, one form per family. Build it
 * with the psock_addr_* helpers; functions that return an address fill one.
 * family is AF_UNIX, AF_INET, AF_INET6, AF_NETLINK or AF_TIPC.
 */
typedef struct psock_address {
  int family;
  union {
    struct {
      bool abstract;             /* name in the abstract namespace */
      size_t len;                /* bytes used in path */
      char path[PSOCK_PATH_MAX]; /* not NUL-terminated when full */
    } un;
    struct {
      char host[PSOCK_HOST_MAX]; /* "" = INADDR_ANY, "<broadcast>" */
      uint16_t port;
      uint32_t flowinfo; /* AF_INET6 only */
      uint32_t scope_id; /* AF_INET6 only */
    } in;
    struct {
      uint32_t pid;
      uint32_t groups;
    } nl;
    struct {
      int addr_type; /* TIPC_ADDR_NAMESEQ, TIPC_ADDR_NAME, TIPC_ADDR_ID */
      uint32_t v1, v2, v3;
      int scope; /* TIPC_*_SCOPE; 0 means TIPC_CLUSTER_SCOPE */
    } tipc;
  } u;
} psock_address;

/*
 * Fill *a. Each returns 0, or -1 with a PSOCK_ERR_VALUE error if a string
 * does not fit (host longer than PSOCK_HOST_MAX - 1, path longer than
 * PSOCK_PATH_MAX) or a pointer is NULL.
 */
int psock_addr_inet(psock_address *a, const char *host, uint16_t port);
int psock_addr_inet6(psock_address *a, const char *host, uint16_t port,
                     uint32_t flowinfo, uint32_t scope_id);
int psock_addr_unix(psock_address *a, const char *path);
int psock_addr_unix_abstract(psock_address *a, const void *name, size_t len);
int psock_addr_netlink(psock_address *a, uint32_t pid, uint32_t groups);
int psock_addr_tipc(psock_address *a, int addr_type, uint32_t v1, uint32_t v2,
                    uint32_t v3, int scope);

/*
 * Write a printable form of a ("127.0.0.1:80", "[::1]:80", "/path",
 * "@name", "netlink:pid:groups", "tipc:type:v1:v2:v3") into buf. Returns
 * buf.
 */
char *psock_addr_format(const psock_address *a, char *buf, size_t len);

/* -------------------------------------------------------------- sockets */

/* A socket object: an fd from psockd with its family, type and proto. */
typedef struct psock_sock psock_sock;

/* Python's None for timeouts. */
#define PSOCK_TIMEOUT_NONE (-1.0)

/*
 * socket.socket(family, type, proto): ask psockd for a new socket.
 * type may include SOCK_NONBLOCK and SOCK_CLOEXEC. The new socket is in
 * blocking mode unless a default timeout is set (psock_setdefaulttimeout)
 * or SOCK_NONBLOCK was given. Returns the socket, or NULL with the error.
 */
psock_sock *psock_socket(int family, int type, int proto);

/*
 * socket.socketpair(family, type, proto): two connected sockets, stored in
 * *ret_a and *ret_b. family 0 means AF_UNIX. Returns 0 or -1.
 */
int psock_socketpair(int family, int type, int proto, psock_sock **ret_a,
                     psock_sock **ret_b);

/*
 * socket.fromfd(fd, family, type, proto): duplicate fd and wrap the copy.
 * fd stays the caller's. Returns the socket or NULL.
 */
psock_sock *psock_fromfd(int fd, int family, int type, int proto);

/*
 * socket.create_connection(address, timeout, source_address): resolve
 * address (AF_INET or AF_INET6 host and port), try each result in order
 * until one connects. timeout PSOCK_TIMEOUT_NONE uses the default timeout;
 * source may be NULL. Returns the connected socket or NULL with the error
 * of the last attempt.
 */
psock_sock *psock_create_connection(const psock_address *address,
                                    double timeout,
                                    const psock_address *source);

/* socket.close(): close the fd and free s. Returns 0 or -1; s is freed
 * either way. NULL is accepted and ignored. */
int psock_close(psock_sock *s);

/* socket.fileno(): the fd, or -1 if s is closed. */
int psock_fileno(const psock_sock *s);

/*
 * Take the fd out of s and free s: the caller owns the returned fd.
 * (Used by programs that hand the fd to an event loop of their own.)
 */
int psock_detach(psock_sock *s);

/* socket.family, socket.type, socket.proto. */
int psock_family(const psock_sock *s);
int psock_type(const psock_sock *s);
int psock_proto(const psock_sock *s);

/* socket.bind(address). Returns 0 or -1. */
int psock_bind(psock_sock *s, const psock_address *address);

/*
 * socket.connect(address). Honours the socket's mode: blocking waits for
 * the connection, timeout mode fails with PSOCK_ERR_TIMEOUT, non-blocking
 * mode fails with EINPROGRESS. Returns 0 or -1.
 */
int psock_connect(psock_sock *s, const psock_address *address);

/*
 * socket.connect_ex(address): as psock_connect(), but an error of the
 * connect call itself is returned as its errno value (0 on success) instead
 * of failing. Other errors (host not found, policy) return -1.
 */
int psock_connect_ex(psock_sock *s, const psock_address *address);

/* socket.listen(backlog). Returns 0 or -1. */
int psock_listen(psock_sock *s, int backlog);

/*
 * socket.accept(): a new socket for the next connection; its peer address
 * is stored in *ret_address if not NULL. Honours the socket's mode.
 */
psock_sock *psock_accept(psock_sock *s, psock_address *ret_address);

/* socket.getsockname(), socket.getpeername(). Return 0 or -1. */
int psock_getsockname(psock_sock *s, psock_address *ret_address);
int psock_getpeername(psock_sock *s, psock_address *ret_address);

/*
 * socket.getsockopt(level, optname): an integer option into *ret_value.
 * socket.getsockopt(level, optname, buflen): up to *len bytes into buf;
 * *len is set to the length returned. Return 0 or -1.
 */
int psock_getsockopt(psock_sock *s, int level, int optname, int *ret_value);
int psock_getsockopt_buf(psock_sock *s, int level, int optname, void *buf,
                         size_t *len);

/*
 * socket.setsockopt(level, optname, value) with an integer or a buffer.
 * Options that need privilege (SO_MARK, SO_BINDTODEVICE, SO_PRIORITY above
 * 6, SO_RCVBUFFORCE, SO_SNDBUFFORCE, IP_TRANSPARENT, ...) are set by psockd
 * when policy allows. Return 0 or -1.
 */
int psock_setsockopt(psock_sock *s, int level, int optname, int value);
int psock_setsockopt_buf(psock_sock *s, int level, int optname, const void *buf,
                         size_t len);

/* socket.shutdown(how): SHUT_RD, SHUT_WR or SHUT_RDWR. Returns 0 or -1. */
int psock_shutdown(psock_sock *s, int how);

/*
 * socket.recv(bufsize, flags): receive up to len bytes into buf.
 * Returns the byte count (0 at end of stream) or -1. Honours the mode.
 */
ssize_t psock_recv(psock_sock *s, void *buf, size_t len, int flags);

/*
 * socket.recv_into(buffer, nbytes, flags): nbytes 0 means the whole
 * buffer; nbytes larger than buflen fails with PSOCK_ERR_VALUE.
 */
ssize_t psock_recv_into(psock_sock *s, void *buf, size_t buflen, size_t nbytes,
                        int flags);

/* socket.recvfrom(bufsize, flags): also stores the sender's address. */
ssize_t psock_recvfrom(psock_sock *s, void *buf, size_t len, int flags,
                       psock_address *ret_address);

/* socket.recvfrom_into(buffer, nbytes, flags). */
ssize_t psock_recvfrom_into(psock_sock *s, void *buf, size_t buflen,
                            size_t nbytes, int flags,
                            psock_address *ret_address);

/* socket.send(string, flags): returns bytes sent or -1. */
ssize_t psock_send(psock_sock *s, const void *buf, size_t len, int flags);

/* socket.sendall(string, flags): sends everything or fails. 0 or -1. */
int psock_sendall(psock_sock *s, const void *buf, size_t len, int flags);

/*
 * socket.sendto(string, address) and sendto(string, flags, address).
 * Returns bytes sent or -1.
 */
ssize_t psock_sendto(psock_sock *s, const void *buf, size_t len,
                     const psock_address *address);
ssize_t psock_sendto_flags(psock_sock *s, const void *buf, size_t len,
                           int flags, const psock_address *address);

/*
 * socket.makefile(mode, bufsize): a stdio stream on a duplicate of the fd.
 * fclose() closes only the duplicate. The socket must be in blocking mode
 * (PSOCK_ERR_VALUE otherwise). bufsize < 0 keeps stdio's default, 0 means
 * unbuffered. Returns the stream or NULL.
 */
FILE *psock_makefile(psock_sock *s, const char *mode, int bufsize);

/* socket.setblocking(flag): 0 = non-blocking, else blocking. 0 or -1. */
int psock_setblocking(psock_sock *s, int flag);

/*
 * socket.settimeout(value): seconds >= 0, or PSOCK_TIMEOUT_NONE. A
 * negative value other than PSOCK_TIMEOUT_NONE fails with
 * PSOCK_ERR_VALUE. Returns 0 or -1.
 */
int psock_settimeout(psock_sock *s, double timeout);

/* socket.gettimeout(): seconds, or PSOCK_TIMEOUT_NONE. */
double psock_gettimeout(const psock_sock *s);

/* ------------------------------------------------ module-level settings */

/* socket.getdefaulttimeout() / setdefaulttimeout(). */
double psock_getdefaulttimeout(void);
int psock_setdefaulttimeout(double timeout);

/* socket.has_ipv6: 1 if psockd can create AF_INET6 sockets, 0 if not,
 * -1 if psockd could not be asked. */
int psock_has_ipv6(void);

/* ------------------------------------------------------- name service */

/* One result of psock_getaddrinfo(). */
typedef struct psock_addrinfo {
  int family;
  int socktype;
  int proto;
  char *canonname; /* "" unless AI_CANONNAME was given */
  psock_address address;
  struct psock_addrinfo *next;
} psock_addrinfo;

/*
 * socket.getaddrinfo(host, port, family, socktype, proto, flags), asked of
 * psockd. host and port may be NULL; port is a number or a service name as
 * a string. On success stores a list in *ret (free it with
 * psock_freeaddrinfo) and returns 0; on failure -1 with a PSOCK_ERR_GAI
 * error carrying the EAI_* code.
 */
int psock_getaddrinfo(const char *host, const char *port, int family,
                      int socktype, int proto, int flags, psock_addrinfo **ret);
void psock_freeaddrinfo(psock_addrinfo *ai);

/*
 * socket.getnameinfo(sockaddr, flags): host and service names into the
 * caller's buffers. Returns 0 or -1 (PSOCK_ERR_GAI).
 */
int psock_getnameinfo(const psock_address *address, int flags, char *host,
                      size_t hostlen, char *service, size_t servicelen);

/* A host entry, as gethostbyname_ex() and gethostbyaddr() return. */
typedef struct psock_hostent {
  char *name;
  char **aliases;   /* NULL-terminated */
  char **addresses; /* NULL-terminated, printable form */
} psock_hostent;

void psock_hostent_free(psock_hostent *h);

/* socket.gethostbyname(hostname): IPv4 address as text into buf. */
int psock_gethostbyname(const char *hostname, char *buf, size_t len);
/* socket.gethostbyname_ex(hostname). Failures are PSOCK_ERR_HOST. */
int psock_gethostbyname_ex(const char *hostname, psock_hostent **ret);
/* socket.gethostbyaddr(ip_address). Failures are PSOCK_ERR_HOST. */
int psock_gethostbyaddr(const char *ip_address, psock_hostent **ret);
/* socket.gethostname(): psockd's host name into buf. */
int psock_gethostname(char *buf, size_t len);
/* socket.getfqdn(name): name may be NULL or "" for the local host. */
int psock_getfqdn(const char *name, char *buf, size_t len);
/* socket.getprotobyname(name): protocol number, or -1. */
int psock_getprotobyname(const char *name);
/* socket.getservbyname(name, proto): port, or -1. proto may be NULL. */
int psock_getservbyname(const char *name, const char *proto);
/* socket.getservbyport(port, proto): service name into buf. 0 or -1. */
int psock_getservbyport(int port, const char *proto, char *buf, size_t len);

/* ------------------------------------------------- pure conversions */

uint32_t psock_ntohl(uint32_t x);
uint16_t psock_ntohs(uint16_t x);
uint32_t psock_htonl(uint32_t x);
uint16_t psock_htons(uint16_t x);

/* socket.inet_aton(ip_string): 4 packed bytes into out. 0 or -1. */
int psock_inet_aton(const char *ip_string, uint8_t out[4]);
/*
 * socket.inet_ntoa(packed_ip): packed must be exactly 4 bytes (len), else
 * PSOCK_ERR_OS with EINVAL as the seed says. Text into buf. 0 or -1.
 */
int psock_inet_ntoa(const void *packed, size_t len, char *buf, size_t buflen);
/*
 * socket.inet_pton(family, ip_string): packed address into out (outlen
 * bytes of room). Returns the packed length (4 or 16) or -1.
 */
int psock_inet_pton(int family, const char *ip_string, void *out,
                    size_t outlen);
/*
 * socket.inet_ntop(family, packed_ip): len must be 4 for AF_INET and 16 for
 * AF_INET6 (PSOCK_ERR_VALUE otherwise). 0 or -1.
 */
int psock_inet_ntop(int family, const void *packed, size_t len, char *buf,
                    size_t buflen);

/* ------------------------------------------------- library information */

/* Version string of this library, e.g. "0.1.0". */
const char *psock_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PSOCK_PSOCK_H */
