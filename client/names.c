/* SPDX-License-Identifier: MIT */
/*
 * names: the name service calls, every one answered by psockd from its view
 * of the system (a sandboxed client may have no resolver at all): getaddrinfo,
 * getnameinfo, gethostbyname(_ex), gethostbyaddr, gethostname, getfqdn,
 * getprotobyname, getservbyname, getservbyport and has_ipv6.
 *
 * Results are copied out of the response into the caller's buffers (ERANGE
 * when they do not fit) or into malloc'd lists the caller frees.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "cleanup.h"
#include "conn.h"
#include "error.h"
#include "names.h"
#include "util.h"

/* A reply whose expected member is missing. */
static int bad_reply(void) {
  return pc_error(PSOCK_ERR_PROTOCOL, EPROTO,
                  "psockd sent an incomplete reply");
}

/* Copy a reply string into the caller's buffer; -ERANGE if too small. */
static int copy_out(const char *src, char *buf, size_t len) {
  if (!src)
    return bad_reply();
  return pc_copy_str(src, buf, len);
}

/* Call without fds; 0 and *ret_resp, or -PC_ERECORDED. */
static int ask(Psock__V1__Request *req, Psock__V1__Response **ret_resp) {
  return pc_call(req, NULL, 0, 0, ret_resp, NULL);
}

/* ---------------------------------------------------------- getaddrinfo */

PSOCK_EXPORT void psock_freeaddrinfo(psock_addrinfo *ai) {
  while (ai) {
    psock_addrinfo *next = ai->next;

    free(ai->canonname);
    free(ai);
    ai = next;
  }
}

/* Build the caller's list from the reply, in psockd's order. */
DEFINE_CLEANUP(psock_addrinfo *, psock_freeaddrinfo)

static int addrinfo_list(const Psock__V1__GetaddrinfoReply *g,
                         psock_addrinfo **ret) {
  _cleanup_(psock_freeaddrinfop) psock_addrinfo *head = NULL;
  psock_addrinfo **tail = &head, *ai;
  int r = 0;

  for (size_t i = 0; i < g->n_results && r == 0; i++) {
    const Psock__V1__AddrInfo *in = g->results[i];

    ai = calloc(1, sizeof(*ai));
    if (!ai) {
      r = -ENOMEM;
      break;
    }
    *tail = ai;
    tail = &ai->next;
    ai->family = in->family;
    ai->socktype = in->socktype;
    ai->proto = in->proto;
    ai->canonname = strdup(in->canonname ? in->canonname : "");
    if (!ai->canonname)
      r = -ENOMEM;
    else if (pc_address_from_proto(in->address, &ai->address) < 0)
      r = pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent a bad address");
  }
  if (r < 0)
    return r;
  *ret = TAKE_PTR(head);
  return 0;
}

PSOCK_EXPORT int psock_getaddrinfo(const char *host, const char *port,
                                   int family, int socktype, int proto,
                                   int flags, psock_addrinfo **ret) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetaddrinfoRequest g = PSOCK__V1__GETADDRINFO_REQUEST__INIT;
  Psock__V1__Response *resp;
  int r;

  if (!ret)
    return pc_fail(pc_error_value("NULL result pointer"));
  g.host = (char *)host;
  g.service = (char *)port;
  g.has_family = g.has_socktype = g.has_proto = g.has_flags = true;
  g.family = family;
  g.socktype = socktype;
  g.proto = proto;
  g.flags = flags;
  PC_REQUEST(req, GETADDRINFO, getaddrinfo, &g);
  if (ask(&req, &resp) < 0)
    return -1;
  r = resp->getaddrinfo ? addrinfo_list(resp->getaddrinfo, ret) : bad_reply();
  psock__v1__response__free_unpacked(resp, NULL);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_getnameinfo(const psock_address *address, int flags,
                                   char *host, size_t hostlen, char *service,
                                   size_t servicelen) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetnameinfoRequest g = PSOCK__V1__GETNAMEINFO_REQUEST__INIT;
  Psock__V1__Response *resp;
  struct addr_buf buf;
  int r;

  if (!address)
    return pc_fail(pc_error_value("NULL address"));
  r = pc_address_to_proto(address, &buf, &g.address);
  if (r < 0)
    return pc_fail(r);
  g.flags = flags;
  PC_REQUEST(req, GETNAMEINFO, getnameinfo, &g);
  if (ask(&req, &resp) < 0)
    return -1;
  if (!resp->getnameinfo)
    r = bad_reply();
  /* As getnameinfo(3): a buffer of length 0 is not wanted. */
  if (r == 0 && hostlen)
    r = copy_out(resp->getnameinfo->host, host, hostlen);
  if (r == 0 && servicelen)
    r = copy_out(resp->getnameinfo->service, service, servicelen);
  psock__v1__response__free_unpacked(resp, NULL);
  return r < 0 ? pc_fail(r) : 0;
}

/* ------------------------------------------------------- host entries */

PSOCK_EXPORT void psock_hostent_free(psock_hostent *h) {
  if (!h)
    return;
  for (char **p = h->aliases; p && *p; p++)
    free(*p);
  for (char **p = h->addresses; p && *p; p++)
    free(*p);
  free(h->aliases);
  free(h->addresses);
  free(h->name);
  free(h);
}

/* A NULL-terminated copy of n strings; NULL if out of memory. */
static char **strv_dup(char *const *v, size_t n) {
  char **out = calloc(n + 1, sizeof(char *));

  for (size_t i = 0; out && i < n; i++) {
    out[i] = strdup(v[i] ? v[i] : "");
    if (!out[i]) {
      for (size_t j = 0; j < i; j++)
        free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

DEFINE_CLEANUP(psock_hostent *, psock_hostent_free)

static int hostent_from(const Psock__V1__HostEntry *e, psock_hostent **ret) {
  _cleanup_(psock_hostent_freep) psock_hostent *h = NULL;

  if (!e || !e->name)
    return bad_reply();
  h = calloc(1, sizeof(*h));
  if (!h)
    return -ENOMEM;
  h->name = strdup(e->name);
  h->aliases = strv_dup(e->aliases, e->n_aliases);
  h->addresses = strv_dup(e->addresses, e->n_addresses);
  if (!h->name || !h->aliases || !h->addresses)
    return -ENOMEM;
  *ret = TAKE_PTR(h);
  return 0;
}

/* gethostbyname_ex and gethostbyaddr share a request and a reply. */
static int host_entry(bool by_addr, const char *name, psock_hostent **ret) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__HostnameRequest h = PSOCK__V1__HOSTNAME_REQUEST__INIT;
  Psock__V1__Response *resp;
  int r;

  if (!name || !ret)
    return pc_fail(pc_error_value("NULL argument"));
  h.name = (char *)name;
  if (by_addr)
    PC_REQUEST(req, GETHOSTBYADDR, gethostbyaddr, &h);
  else
    PC_REQUEST(req, GETHOSTBYNAME_EX, gethostbyname_ex, &h);
  if (ask(&req, &resp) < 0)
    return -1;
  r = hostent_from(by_addr ? resp->gethostbyaddr : resp->gethostbyname_ex, ret);
  psock__v1__response__free_unpacked(resp, NULL);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_gethostbyname_ex(const char *hostname,
                                        psock_hostent **ret) {
  return host_entry(false, hostname, ret);
}

PSOCK_EXPORT int psock_gethostbyaddr(const char *ip_address,
                                     psock_hostent **ret) {
  return host_entry(true, ip_address, ret);
}

/* ------------------------------------------------------- single names */

/* Send req and copy the name its NameReply carries into buf. */
static int name_call(Psock__V1__Request *req, char *buf, size_t len) {
  Psock__V1__Response *resp;
  Psock__V1__NameReply *n = NULL;
  int r;

  if (!buf)
    return pc_fail(pc_error_value("NULL buffer"));
  if (ask(req, &resp) < 0)
    return -1;
  switch (resp->result_case) {
  case PSOCK__V1__RESPONSE__RESULT_GETHOSTBYNAME:
    n = resp->gethostbyname;
    break;
  case PSOCK__V1__RESPONSE__RESULT_GETHOSTNAME:
    n = resp->gethostname;
    break;
  case PSOCK__V1__RESPONSE__RESULT_GETFQDN:
    n = resp->getfqdn;
    break;
  case PSOCK__V1__RESPONSE__RESULT_GETSERVBYPORT:
    n = resp->getservbyport;
    break;
  default:
    break;
  }
  r = n ? copy_out(n->name, buf, len) : bad_reply();
  psock__v1__response__free_unpacked(resp, NULL);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_gethostbyname(const char *hostname, char *buf,
                                     size_t len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__HostnameRequest h = PSOCK__V1__HOSTNAME_REQUEST__INIT;

  if (!hostname)
    return pc_fail(pc_error_value("NULL host name"));
  h.name = (char *)hostname;
  PC_REQUEST(req, GETHOSTBYNAME, gethostbyname, &h);
  return name_call(&req, buf, len);
}

PSOCK_EXPORT int psock_gethostname(char *buf, size_t len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GethostnameRequest g = PSOCK__V1__GETHOSTNAME_REQUEST__INIT;

  PC_REQUEST(req, GETHOSTNAME, gethostname, &g);
  return name_call(&req, buf, len);
}

PSOCK_EXPORT int psock_getfqdn(const char *name, char *buf, size_t len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetfqdnRequest g = PSOCK__V1__GETFQDN_REQUEST__INIT;

  /* Absent means the local host, as "" does in the seed. */
  g.name = name && *name ? (char *)name : NULL;
  PC_REQUEST(req, GETFQDN, getfqdn, &g);
  return name_call(&req, buf, len);
}

PSOCK_EXPORT int psock_getservbyport(int port, const char *proto, char *buf,
                                     size_t len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetservbyportRequest g = PSOCK__V1__GETSERVBYPORT_REQUEST__INIT;

  /* CPython: "getservbyport: port must be 0-65535." */
  if (port < 0 || port > 65535)
    return pc_fail(pc_error_value("getservbyport: port must be 0-65535."));
  g.port = (uint32_t)port;
  g.proto = (char *)proto;
  PC_REQUEST(req, GETSERVBYPORT, getservbyport, &g);
  return name_call(&req, buf, len);
}

/* ------------------------------------------------------------ numbers */

/* Send req and return its NumberReply as an int (>= 0), or -1. */
static int number_call(Psock__V1__Request *req) {
  Psock__V1__Response *resp;
  Psock__V1__NumberReply *n;
  int r;

  if (ask(req, &resp) < 0)
    return -1;
  n = resp->result_case == PSOCK__V1__RESPONSE__RESULT_GETPROTOBYNAME
          ? resp->getprotobyname
          : resp->getservbyname;
  r = n && n->value >= 0 && n->value <= INT_MAX ? (int)n->value : bad_reply();
  psock__v1__response__free_unpacked(resp, NULL);
  return r < 0 ? pc_fail(r) : r;
}

PSOCK_EXPORT int psock_getprotobyname(const char *name) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetprotobynameRequest g = PSOCK__V1__GETPROTOBYNAME_REQUEST__INIT;

  if (!name)
    return pc_fail(pc_error_value("NULL protocol name"));
  g.name = (char *)name;
  PC_REQUEST(req, GETPROTOBYNAME, getprotobyname, &g);
  return number_call(&req);
}

PSOCK_EXPORT int psock_getservbyname(const char *name, const char *proto) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetservbynameRequest g = PSOCK__V1__GETSERVBYNAME_REQUEST__INIT;

  if (!name)
    return pc_fail(pc_error_value("NULL service name"));
  g.name = (char *)name;
  g.proto = (char *)proto;
  PC_REQUEST(req, GETSERVBYNAME, getservbyname, &g);
  return number_call(&req);
}

PSOCK_EXPORT int psock_has_ipv6(void) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__HasIpv6Request h = PSOCK__V1__HAS_IPV6_REQUEST__INIT;
  Psock__V1__Response *resp;
  int r;

  PC_REQUEST(req, HAS_IPV6, has_ipv6, &h);
  if (ask(&req, &resp) < 0)
    return -1;
  r = resp->has_ipv6 ? resp->has_ipv6->value != 0 : bad_reply();
  psock__v1__response__free_unpacked(resp, NULL);
  return r < 0 ? pc_fail(r) : r;
}

/* ------------------------------------------- resolving for local calls */

/* Resolve a host name through psockd to a numeric host of family. */
static int resolve_host(int family, const char *host, char *out,
                        size_t outlen) {
  psock_addrinfo *list = NULL;
  int r;

  /* The first address, as the seed says a host name in an address means;
   * the socket's family narrows the lookup like psockd's own resolving. */
  if (psock_getaddrinfo(host, NULL, family, 0, 0, 0, &list) < 0)
    return -PC_ERECORDED;
  if (!list)
    r = pc_error(PSOCK_ERR_GAI, EAI_NONAME, "no address for %s", host);
  else
    r = pc_copy_str(list->address.u.in.host, out, outlen);
  psock_freeaddrinfo(list);
  return r;
}

int pc_resolve_sockaddr(const psock_address *a, struct sockaddr_storage *ss,
                        socklen_t *ret_len) {
  psock_address resolved;
  int r;

  if (!pc_address_needs_lookup(a))
    return pc_address_to_sockaddr(a, ss, ret_len);
  resolved = *a;
  r = resolve_host(a->family, a->u.in.host, resolved.u.in.host,
                   sizeof(resolved.u.in.host));
  if (r < 0)
    return r;
  return pc_address_to_sockaddr(&resolved, ss, ret_len);
}
