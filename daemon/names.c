/* SPDX-License-Identifier: MIT */
/*
 * names: the name-service calls, run by the resolver role (resolver.c) on
 * its lookup threads and answered from psockd's view of the system (its
 * resolver configuration, /etc/hosts, /etc/services, /etc/protocols). Each
 * handler blocks as long as NSS takes, fills the reply or the error, and
 * returns the outcome.
 *
 * Errors follow the seed: getaddrinfo/getnameinfo/gethostbyname fail with
 * gaierror (EAI_*), gethostbyname_ex/gethostbyaddr with herror (h_errno).
 *
 * Trust boundary: the request was decoded by the worker from a client's
 * packet, re-encoded, and decoded again here; its strings are the
 * client's. NSS modules run here and nowhere else in psockd.
 */
#include "names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"

/* Results kept from one getaddrinfo(), so a reply always fits a packet. */
#define MAX_ADDRINFO 64
/* Aliases and addresses kept from one host entry. */
#define MAX_HOSTENT_LIST 32
/* glibc's *_r buffers: large enough for /etc/hosts entries with aliases. */
#define NSS_BUF 8192

static enum rpc_outcome fail_gai(struct rpc_call *call, int code) {
  if (code == EAI_SYSTEM)
    return rpc_errno(call, -errno);
  return rpc_fail(call, PSOCK__V1__ERROR__KIND__GAI_ERROR, code, "%s",
                  gai_strerror(code));
}

static enum rpc_outcome fail_herror(struct rpc_call *call, int h_err) {
  return rpc_fail(call, PSOCK__V1__ERROR__KIND__HOST_ERROR, h_err, "%s",
                  hstrerror(h_err));
}

static enum rpc_outcome fail_not_found(struct rpc_call *call,
                                       const char *what) {
  return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOENT, "%s", what);
}

static Psock__V1__NameReply *name_reply(struct rpc_call *call,
                                        const char *name) {
  Psock__V1__NameReply *r =
      RPC_NEW(call, Psock__V1__NameReply, PSOCK__V1__NAME_REPLY__INIT);
  if (r && !(r->name = rpc_strdup(call, name)))
    return NULL;
  return r;
}

static enum rpc_outcome replied(struct rpc_call *call, const void *member) {
  return member ? RPC_REPLIED : rpc_errno(call, -ENOMEM);
}

/* ---------------------------------------------------------- getaddrinfo */

static Psock__V1__AddrInfo *addrinfo_entry(struct rpc_call *call,
                                           const struct addrinfo *ai) {
  Psock__V1__AddrInfo *e =
      RPC_NEW(call, Psock__V1__AddrInfo, PSOCK__V1__ADDR_INFO__INIT);
  struct addr_buf *b = rpc_alloc(call, sizeof(*b));

  if (!e || !b ||
      addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, b, &e->address) < 0)
    return NULL;
  e->family = ai->ai_family;
  e->socktype = ai->ai_socktype;
  e->proto = ai->ai_protocol;
  e->canonname = rpc_strdup(call, ai->ai_canonname ? ai->ai_canonname : "");
  return e->canonname ? e : NULL;
}

static enum rpc_outcome getaddrinfo_call(struct rpc_call *call) {
  const Psock__V1__GetaddrinfoRequest *q = call->req->getaddrinfo;
  struct addrinfo hints = {
      .ai_family = q->has_family ? q->family : AF_UNSPEC,
      .ai_socktype = q->has_socktype ? q->socktype : 0,
      .ai_protocol = q->has_proto ? q->proto : 0,
      .ai_flags = q->has_flags ? q->flags : 0,
  };
  Psock__V1__GetaddrinfoReply *r;
  struct addrinfo *res = NULL;
  size_t n = 0;
  int e;

  if (!q->host && !q->service)
    return fail_gai(call, EAI_NONAME);
  e = getaddrinfo(q->host, q->service, &hints, &res);
  if (e != 0)
    return fail_gai(call, e);
  r = RPC_NEW(call, Psock__V1__GetaddrinfoReply,
              PSOCK__V1__GETADDRINFO_REPLY__INIT);
  if (r)
    r->results = rpc_alloc(call, MAX_ADDRINFO * sizeof(*r->results));
  for (struct addrinfo *ai = res; r && r->results && ai && n < MAX_ADDRINFO;
       ai = ai->ai_next) {
    /* Families the protocol cannot describe are left out, as CPython
     * leaves out what it cannot make a tuple of. */
    Psock__V1__AddrInfo *entry = addrinfo_entry(call, ai);
    if (entry)
      r->results[n++] = entry;
  }
  freeaddrinfo(res);
  if (!r || !r->results)
    return rpc_errno(call, -ENOMEM);
  r->n_results = n;
  call->resp.getaddrinfo = r;
  return RPC_REPLIED;
}

/* ---------------------------------------------------------- getnameinfo */

static enum rpc_outcome getnameinfo_call(struct rpc_call *call) {
  const Psock__V1__GetnameinfoRequest *q = call->req->getnameinfo;
  Psock__V1__GetnameinfoReply *r;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  struct sockaddr_storage ss;
  socklen_t len;
  int e;

  /* As CPython: the address must be numeric, names are not resolved. */
  e = addr_to_sockaddr(q->address, &ss, &len);
  if (e == -ENOENT)
    return fail_gai(call, EAI_NONAME);
  if (e == -EAFNOSUPPORT)
    return fail_gai(call, EAI_FAMILY);
  if (e < 0)
    return rpc_errno(call, e);
  e = getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv,
                  sizeof(serv), q->flags);
  if (e != 0)
    return fail_gai(call, e);
  r = RPC_NEW(call, Psock__V1__GetnameinfoReply,
              PSOCK__V1__GETNAMEINFO_REPLY__INIT);
  if (!r || !(r->host = rpc_strdup(call, host)) ||
      !(r->service = rpc_strdup(call, serv)))
    return rpc_errno(call, -ENOMEM);
  call->resp.getnameinfo = r;
  return RPC_REPLIED;
}

/* -------------------------------------------------------- gethostbyname */

static enum rpc_outcome gethostbyname_call(struct rpc_call *call) {
  struct addrinfo hints = {.ai_family = AF_INET};
  struct addrinfo *res = NULL;
  char text[INET_ADDRSTRLEN];
  int e;

  e = getaddrinfo(call->req->gethostbyname->name, NULL, &hints, &res);
  if (e != 0)
    return fail_gai(call, e);
  inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, text,
            sizeof(text));
  freeaddrinfo(res);
  call->resp.gethostbyname = name_reply(call, text);
  return replied(call, call->resp.gethostbyname);
}

/* Copy a NULL-terminated list of at most MAX_HOSTENT_LIST strings. */
static char **copy_list(struct rpc_call *call, char *const *list, int family,
                        size_t *ret_n) {
  char **out = rpc_alloc(call, MAX_HOSTENT_LIST * sizeof(char *));
  size_t n = 0;

  if (!out)
    return NULL;
  for (; list && list[n] && n < MAX_HOSTENT_LIST; n++) {
    char text[INET6_ADDRSTRLEN];
    const char *s = list[n];
    if (family != AF_UNSPEC) {
      if (!inet_ntop(family, list[n], text, sizeof(text)))
        return NULL;
      s = text;
    }
    if (!(out[n] = rpc_strdup(call, s)))
      return NULL;
  }
  *ret_n = n;
  return out;
}

static enum rpc_outcome hostent_reply(struct rpc_call *call,
                                      const struct hostent *h,
                                      Psock__V1__HostEntry **slot) {
  Psock__V1__HostEntry *r =
      RPC_NEW(call, Psock__V1__HostEntry, PSOCK__V1__HOST_ENTRY__INIT);

  if (!r || !(r->name = rpc_strdup(call, h->h_name)) ||
      !(r->aliases = copy_list(call, h->h_aliases, AF_UNSPEC, &r->n_aliases)) ||
      !(r->addresses =
            copy_list(call, h->h_addr_list, h->h_addrtype, &r->n_addresses)))
    return rpc_errno(call, -ENOMEM);
  *slot = r;
  return RPC_REPLIED;
}

/*
 * gethostbyname_r() copies the name and every alias into buf and says
 * ERANGE when they do not fit: grow it, as glibc's own callers do, up to
 * what the arena gives one call (a name fits: requests are smaller).
 */
static enum rpc_outcome gethostbyname_ex_call(struct rpc_call *call) {
  const char *name = call->req->gethostbyname_ex->name;
  struct hostent hbuf, *h = NULL;
  size_t len = NSS_BUF + 2 * strlen(name);
  int err, h_err = 0;

  for (;; len *= 2) {
    char *buf = rpc_alloc(call, len);
    if (!buf)
      return fail_herror(call, NO_RECOVERY);
    err = gethostbyname_r(name, &hbuf, buf, len, &h, &h_err);
    if (err != ERANGE)
      break;
  }
  if (!h)
    return fail_herror(call, h_err > 0 ? h_err : HOST_NOT_FOUND);
  return hostent_reply(call, h, &call->resp.gethostbyname_ex);
}

/*
 * Reverse lookup of a numeric address (or a name, resolved first).
 * Returns 0 with *ret set, 1 when an herror reply has been set, or -errno.
 */
static int reverse_lookup(struct rpc_call *call, const char *ip,
                          struct hostent *hbuf, char *buf,
                          struct hostent **ret) {
  unsigned char bin[sizeof(struct in6_addr)];
  int family = AF_INET, h_err = 0;
  socklen_t len = 4;

  if (inet_pton(AF_INET, ip, bin) != 1) {
    struct addrinfo *res = NULL;
    family = AF_INET6;
    len = 16;
    if (inet_pton(AF_INET6, ip, bin) != 1) {
      /* CPython's gethostbyaddr accepts a name and resolves it first. */
      if (getaddrinfo(ip, NULL, NULL, &res) != 0) {
        fail_herror(call, HOST_NOT_FOUND);
        return 1;
      }
      family = res->ai_family;
      len = family == AF_INET ? 4 : 16;
      memcpy(bin,
             family == AF_INET
                 ? (void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                 : (void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
             len);
      freeaddrinfo(res);
    }
  }
  if (gethostbyaddr_r(bin, len, family, hbuf, buf, NSS_BUF, ret, &h_err) ==
      ERANGE)
    return -ERANGE;
  if (!*ret) {
    fail_herror(call, h_err ? h_err : HOST_NOT_FOUND);
    return 1;
  }
  return 0;
}

static enum rpc_outcome gethostbyaddr_call(struct rpc_call *call) {
  struct hostent hbuf, *h = NULL;
  char *buf = rpc_alloc(call, NSS_BUF);
  int r;

  if (!buf)
    return rpc_errno(call, -ENOMEM);
  r = reverse_lookup(call, call->req->gethostbyaddr->name, &hbuf, buf, &h);
  if (r > 0)
    return RPC_FAILED; /* the herror reply is set */
  if (r < 0)
    return rpc_errno(call, r);
  return hostent_reply(call, h, &call->resp.gethostbyaddr);
}

/* ----------------------------------------------------- hostname, fqdn */

static enum rpc_outcome gethostname_call(struct rpc_call *call) {
  char name[256];

  if (gethostname(name, sizeof(name)) < 0)
    return rpc_errno(call, -errno);
  name[sizeof(name) - 1] = '\0';
  call->resp.gethostname = name_reply(call, name);
  return replied(call, call->resp.gethostname);
}

static const char *first_dotted(const struct hostent *h) {
  if (strchr(h->h_name, '.'))
    return h->h_name;
  for (char **a = h->h_aliases; a && *a; a++)
    if (strchr(*a, '.'))
      return *a;
  return h->h_name;
}

/* The seed's getfqdn: gethostbyaddr(name), the first name with a dot. */
static enum rpc_outcome getfqdn_call(struct rpc_call *call) {
  const Psock__V1__GetfqdnRequest *q = call->req->getfqdn;
  struct hostent hbuf, *h = NULL;
  char *buf = rpc_alloc(call, NSS_BUF);
  char local[256];
  const char *name = q->name;

  if (!buf)
    return rpc_errno(call, -ENOMEM);
  if (!name || !*name || strcmp(name, "0.0.0.0") == 0) {
    if (gethostname(local, sizeof(local)) < 0)
      return rpc_errno(call, -errno);
    local[sizeof(local) - 1] = '\0';
    name = local;
  }
  if (reverse_lookup(call, name, &hbuf, buf, &h) == 0)
    name = first_dotted(h);
  /* A failed lookup answers with the name itself, not an error. */
  call->resp.result_case = PSOCK__V1__RESPONSE__RESULT_GETFQDN;
  call->resp.getfqdn = name_reply(call, name);
  return replied(call, call->resp.getfqdn);
}

/* ---------------------------------------------- protocols and services */

static enum rpc_outcome getprotobyname_call(struct rpc_call *call) {
  struct protoent pbuf, *p = NULL;
  char *buf = rpc_alloc(call, NSS_BUF);
  Psock__V1__NumberReply *r;

  if (!buf ||
      getprotobyname_r(call->req->getprotobyname->name, &pbuf, buf, NSS_BUF,
                       &p) != 0 ||
      !p)
    return fail_not_found(call, "protocol not found");
  r = RPC_NEW(call, Psock__V1__NumberReply, PSOCK__V1__NUMBER_REPLY__INIT);
  if (r)
    r->value = p->p_proto;
  call->resp.getprotobyname = r;
  return replied(call, r);
}

static enum rpc_outcome getservbyname_call(struct rpc_call *call) {
  const Psock__V1__GetservbynameRequest *q = call->req->getservbyname;
  struct servent sbuf, *s = NULL;
  char *buf = rpc_alloc(call, NSS_BUF);
  Psock__V1__NumberReply *r;

  if (!buf ||
      getservbyname_r(q->name, q->proto, &sbuf, buf, NSS_BUF, &s) != 0 || !s)
    return fail_not_found(call, "service/proto not found");
  r = RPC_NEW(call, Psock__V1__NumberReply, PSOCK__V1__NUMBER_REPLY__INIT);
  if (r)
    r->value = ntohs((uint16_t)s->s_port);
  call->resp.getservbyname = r;
  return replied(call, r);
}

static enum rpc_outcome getservbyport_call(struct rpc_call *call) {
  const Psock__V1__GetservbyportRequest *q = call->req->getservbyport;
  struct servent sbuf, *s = NULL;
  char *buf = rpc_alloc(call, NSS_BUF);

  if (q->port > 65535)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL,
                    "getservbyport: port must be 0-65535");
  if (!buf ||
      getservbyport_r(htons((uint16_t)q->port), q->proto, &sbuf, buf, NSS_BUF,
                      &s) != 0 ||
      !s)
    return fail_not_found(call, "port/proto not found");
  call->resp.getservbyport = name_reply(call, s->s_name);
  return replied(call, call->resp.getservbyport);
}

/* ----------------------------------------------------------- has_ipv6 */

static enum rpc_outcome has_ipv6_call(struct rpc_call *call) {
  Psock__V1__BoolReply *r =
      RPC_NEW(call, Psock__V1__BoolReply, PSOCK__V1__BOOL_REPLY__INIT);
  int fd;

  if (!r)
    return rpc_errno(call, -ENOMEM);
  /* What matters is whether psockd itself can hand out IPv6 sockets. */
  fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  r->value = fd >= 0;
  if (fd >= 0)
    close(fd);
  call->resp.has_ipv6 = r;
  return RPC_REPLIED;
}

/* ------------------------------------------------------------- table */

#define C(x) PSOCK__V1__REQUEST__CALL_##x

names_handler_fn names_handler(int call_case) {
  switch (call_case) {
  case C(GETADDRINFO):
    return getaddrinfo_call;
  case C(GETNAMEINFO):
    return getnameinfo_call;
  case C(GETHOSTBYNAME):
    return gethostbyname_call;
  case C(GETHOSTBYNAME_EX):
    return gethostbyname_ex_call;
  case C(GETHOSTBYADDR):
    return gethostbyaddr_call;
  case C(GETHOSTNAME):
    return gethostname_call;
  case C(GETFQDN):
    return getfqdn_call;
  case C(GETPROTOBYNAME):
    return getprotobyname_call;
  case C(GETSERVBYNAME):
    return getservbyname_call;
  case C(GETSERVBYPORT):
    return getservbyport_call;
  case C(HAS_IPV6):
    return has_ipv6_call;
  default:
    return NULL;
  }
}
