/* SPDX-License-Identifier: MIT */
/*
 * The name service of an unmodified program, asked of psockd: getaddrinfo,
 * getnameinfo, gethostbyname(2)(_r), gethostbyaddr(_r). A sandboxed
 * program may have no resolver of its own (an empty network namespace
 * reaches no name server); psockd answers from its view of the system,
 * under its policy (lookup, reverse).
 *
 * What needs no name service stays in libc: getaddrinfo of a numeric host
 * (no AI_ADDRCONFIG, no AI_CANONNAME, a numeric or no service) and
 * getnameinfo without a host name to find, so numeric addresses work
 * whatever the policy says about lookups.
 *
 * Results have libc's layout (one allocation per addrinfo holding its
 * sockaddr, the canonical name allocated apart), so libc's freeaddrinfo()
 * frees them; host entries are laid out in the caller's buffer as the _r
 * functions do, or in a per-thread buffer for the others.
 *
 * Errors are libc's: EAI_* from getaddrinfo/getnameinfo, h_errno from
 * gethostby*. A refusal by policy or an unreachable psockd is EAI_SYSTEM
 * (getaddrinfo), or h_errno NETDB_INTERNAL, with errno EACCES/EPERM; a
 * reverse lookup that psockd refuses falls back to the numeric form, as
 * libc does when it finds no name (unless NI_NAMEREQD).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "shim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* glibc's default hints when the caller gives none. */
#define DEFAULT_AI_FLAGS (AI_V4MAPPED | AI_ADDRCONFIG)

/* --------------------------------------------------------- getaddrinfo */

static bool all_digits(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}

/* Numeric host and service: libc answers without any name service. */
static bool numeric_lookup(const char *node, const char *service, int flags) {
  unsigned char bin[sizeof(struct in6_addr)];

  if (!node || (flags & (AI_ADDRCONFIG | AI_CANONNAME)))
    return false;
  if (service && !all_digits(service))
    return false;
  return inet_pton(AF_INET, node, bin) == 1 ||
         inet_pton(AF_INET6, node, bin) == 1;
}

/* EAI_* (and errno) for the last psock error of a getaddrinfo-like call. */
static int lookup_error(void) {
  int code = psock_last_error_code();

  switch (psock_last_error_kind()) {
  case PSOCK_ERR_GAI:
    return code;
  case PSOCK_ERR_OS:
    if (code == ENOMEM)
      return EAI_MEMORY;
    errno = code;
    return EAI_SYSTEM;
  default:
    errno = shim_errno();
    return EAI_SYSTEM;
  }
}

/* One psock result as libc lays one out; NULL if out of memory or of a
 * family a sockaddr cannot be made for. */
static struct addrinfo *addrinfo_new(const psock_addrinfo *p, int flags,
                                     bool first) {
  const psock_address *a = &p->address;
  struct addrinfo *ai;
  socklen_t len;

  if (a->family == AF_INET)
    len = sizeof(struct sockaddr_in);
  else if (a->family == AF_INET6)
    len = sizeof(struct sockaddr_in6);
  else
    return NULL;
  ai = calloc(1, sizeof(*ai) + len);
  if (!ai)
    return NULL;
  ai->ai_flags = flags;
  ai->ai_family = p->family;
  ai->ai_socktype = p->socktype;
  ai->ai_protocol = p->proto;
  ai->ai_addrlen = len;
  ai->ai_addr = (struct sockaddr *)(ai + 1);
  if (a->family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;

    sin->sin_family = AF_INET;
    sin->sin_port = htons(a->u.in.port);
    if (inet_pton(AF_INET, a->u.in.host, &sin->sin_addr) != 1)
      goto bad;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;

    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a->u.in.port);
    sin6->sin6_flowinfo = htonl(a->u.in.flowinfo);
    sin6->sin6_scope_id = a->u.in.scope_id;
    if (inet_pton(AF_INET6, a->u.in.host, &sin6->sin6_addr) != 1)
      goto bad;
  }
  /* libc names the first result only. */
  if (first && p->canonname && *p->canonname &&
      !(ai->ai_canonname = strdup(p->canonname)))
    goto bad;
  return ai;
bad:
  free(ai);
  return NULL;
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res) {
  const struct shim_real *r = shim_real();
  int family = hints ? hints->ai_family : AF_UNSPEC;
  int socktype = hints ? hints->ai_socktype : 0;
  int proto = hints ? hints->ai_protocol : 0;
  int flags = hints ? hints->ai_flags : DEFAULT_AI_FLAGS;
  struct addrinfo *head = NULL, **tail = &head;
  psock_addrinfo *list = NULL;
  int rc = 0;

  if (shim_busy() || numeric_lookup(node, service, flags))
    return r->getaddrinfo(node, service, hints, res);
  shim_enter();
  if (psock_getaddrinfo(node, service, family, socktype, proto, flags, &list) <
      0) {
    rc = lookup_error();
    shim_hint(true, "lookup");
  } else {
    shim_hint(false, "lookup");
  }
  shim_leave();
  for (const psock_addrinfo *p = list; p && rc == 0; p = p->next) {
    struct addrinfo *ai = addrinfo_new(p, flags, p == list);

    if (!ai) {
      rc = EAI_MEMORY;
      break;
    }
    *tail = ai;
    tail = &ai->ai_next;
  }
  psock_freeaddrinfo(list);
  if (rc == 0 && !head)
    rc = EAI_NONAME;
  if (rc != 0) {
    if (head)
      r->freeaddrinfo(head);
    return rc;
  }
  *res = head;
  return 0;
}

/* Lists from either path have libc's layout: libc frees them. */
SHIM_EXPORT void freeaddrinfo(struct addrinfo *ai) {
  shim_real()->freeaddrinfo(ai);
}

SHIM_EXPORT const char *gai_strerror(int code) {
  return shim_real()->gai_strerror(code);
}

/* --------------------------------------------------------- getnameinfo */

#define NI_KNOWN                                                               \
  (NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN | NI_NAMEREQD | NI_DGRAM |      \
   NI_IDN)

SHIM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen,
                            char *host, socklen_t hostlen, char *serv,
                            socklen_t servlen, int flags) {
  const struct shim_real *r = shim_real();
  char h[NI_MAXHOST], s[NI_MAXSERV];
  psock_address a;
  socklen_t need;
  int rc = 0;

  /* libc's own checks and every call without a host name to find. */
  if (shim_busy() || !host || !hostlen || (flags & NI_NUMERICHOST) ||
      (flags & ~NI_KNOWN) || !sa || salen < sizeof(sa_family_t) ||
      (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
    return r->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  need = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                  : sizeof(struct sockaddr_in6);
  if (salen < need || pc_sockaddr_to_address(sa, salen, &a) < 0)
    return r->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  shim_enter();
  if (psock_getnameinfo(&a, flags, h, sizeof(h), s, sizeof(s)) < 0) {
    bool refused = psock_last_error_kind() != PSOCK_ERR_GAI &&
                   psock_last_error_kind() != PSOCK_ERR_OS;

    rc = lookup_error();
    shim_hint(true, "reverse");
    shim_leave();
    /* No name to be had: libc gives the number unless a name is
     * required. */
    if (refused && !(flags & NI_NAMEREQD))
      return r->getnameinfo(sa, salen, host, hostlen, serv, servlen,
                            flags | NI_NUMERICHOST);
    return refused ? EAI_NONAME : rc;
  }
  shim_hint(false, "reverse");
  shim_leave();
  if (strlen(h) >= hostlen || (serv && servlen && strlen(s) >= servlen))
    return EAI_OVERFLOW;
  memcpy(host, h, strlen(h) + 1);
  if (serv && servlen)
    memcpy(serv, s, strlen(s) + 1);
  return 0;
}

/* ------------------------------------------------------- host entries */

/* A host entry as psockd gave it, with binary addresses of one family. */
struct entry {
  const char *name;
  char **aliases;
  size_t n_aliases;
  int af;
  size_t addrlen;
  size_t n_addrs;
  unsigned char (*addrs)[16];
};

/* h_errno (and errno) for the last psock error of a gethostby* call. */
static int host_error(void) {
  int code = psock_last_error_code();

  switch (psock_last_error_kind()) {
  case PSOCK_ERR_HOST:
    return code;
  case PSOCK_ERR_GAI:
    switch (code) {
    case EAI_AGAIN:
      return TRY_AGAIN;
    case EAI_FAIL:
      return NO_RECOVERY;
    case EAI_NODATA:
      return NO_DATA;
    case EAI_SYSTEM:
      return NETDB_INTERNAL;
    default:
      return HOST_NOT_FOUND;
    }
  default:
    errno = shim_errno();
    return NETDB_INTERNAL;
  }
}

/*
 * Lay e out in buf as gethostbyname_r() does: the strings, the addresses
 * and the two pointer arrays. 0, or ERANGE if buf is too small.
 */
static int entry_layout(const struct entry *e, struct hostent *ret, char *buf,
                        size_t buflen) {
  size_t ptrs = (e->n_aliases + 1 + e->n_addrs + 1) * sizeof(char *);
  size_t pad =
      (alignof(char *) - (uintptr_t)buf % alignof(char *)) % alignof(char *);
  size_t need = pad + ptrs + strlen(e->name) + 1 + e->n_addrs * e->addrlen;
  char **aliases, **addrs;
  char *p;

  for (size_t i = 0; i < e->n_aliases; i++)
    need += strlen(e->aliases[i]) + 1;
  if (!buf || need > buflen)
    return ERANGE;
  aliases = (char **)(void *)(buf + pad);
  addrs = aliases + e->n_aliases + 1;
  p = (char *)(addrs + e->n_addrs + 1);
  for (size_t i = 0; i < e->n_addrs; i++) {
    memcpy(p, e->addrs[i], e->addrlen);
    addrs[i] = p;
    p += e->addrlen;
  }
  addrs[e->n_addrs] = NULL;
  for (size_t i = 0; i < e->n_aliases; i++) {
    size_t n = strlen(e->aliases[i]) + 1;

    memcpy(p, e->aliases[i], n);
    aliases[i] = p;
    p += n;
  }
  aliases[e->n_aliases] = NULL;
  memcpy(p, e->name, strlen(e->name) + 1);
  ret->h_name = p;
  ret->h_aliases = aliases;
  ret->h_addrtype = e->af;
  ret->h_length = (int)e->addrlen;
  ret->h_addr_list = addrs;
  return 0;
}

/* Parse the printable addresses of a psock host entry: those of family af
 * (AF_UNSPEC: the family of the first). -ENOMEM. */
static int entry_from_hostent(const psock_hostent *h, int af, struct entry *e) {
  size_t n = 0;

  while (h->addresses[n])
    n++;
  memset(e, 0, sizeof(*e));
  e->name = h->name;
  e->aliases = h->aliases;
  while (h->aliases[e->n_aliases])
    e->n_aliases++;
  e->addrs = calloc(n ? n : 1, sizeof(*e->addrs));
  if (!e->addrs)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    unsigned char bin[16];
    int f = inet_pton(AF_INET, h->addresses[i], bin) == 1    ? AF_INET
            : inet_pton(AF_INET6, h->addresses[i], bin) == 1 ? AF_INET6
                                                             : AF_UNSPEC;

    if (f == AF_UNSPEC)
      continue;
    if (af == AF_UNSPEC)
      af = f;
    if (f != af)
      continue;
    memcpy(e->addrs[e->n_addrs++], bin, 16);
  }
  e->af = af == AF_UNSPEC ? AF_INET : af;
  e->addrlen = e->af == AF_INET6 ? 16 : 4;
  return 0;
}

/*
 * Fill *ret for name in family af. Returns 0 with *result set, or with
 * *result NULL and *h_errnop set (not found), or an errno value (ERANGE).
 */
static int by_name(const char *name, int af, struct hostent *ret, char *buf,
                   size_t buflen, struct hostent **result, int *h_errnop) {
  psock_hostent *h = NULL;
  psock_addrinfo *list = NULL;
  char *no_aliases[1] = {NULL};
  struct entry e = {0};
  int rc = 0, herr = 0;

  *result = NULL;
  if (af != AF_INET && af != AF_INET6) {
    *h_errnop = NETDB_INTERNAL;
    errno = EAFNOSUPPORT;
    return EAFNOSUPPORT;
  }
  shim_enter();
  if (af == AF_INET) {
    /* psockd's gethostbyname_ex: IPv4, with the aliases. */
    if (psock_gethostbyname_ex(name, &h) < 0)
      herr = host_error();
  } else if (psock_getaddrinfo(name, NULL, AF_INET6, SOCK_STREAM, 0,
                               AI_CANONNAME, &list) < 0) {
    herr = host_error();
  }
  shim_hint(herr != 0, "lookup");
  shim_leave();
  if (herr) {
    *h_errnop = herr;
    psock_hostent_free(h);
    return herr == NETDB_INTERNAL ? errno : 0;
  }
  if (h) {
    rc = entry_from_hostent(h, AF_INET, &e);
  } else {
    size_t n = 0;

    for (psock_addrinfo *p = list; p; p = p->next)
      n++;
    e.name =
        list && list->canonname && *list->canonname ? list->canonname : name;
    e.aliases = no_aliases;
    e.af = AF_INET6;
    e.addrlen = 16;
    e.addrs = calloc(n ? n : 1, sizeof(*e.addrs));
    rc = e.addrs ? 0 : -ENOMEM;
    for (psock_addrinfo *p = list; p && rc == 0; p = p->next) {
      unsigned char bin[16];
      bool dup = false;

      if (p->address.family != AF_INET6 ||
          inet_pton(AF_INET6, p->address.u.in.host, bin) != 1)
        continue;
      for (size_t i = 0; i < e.n_addrs && !dup; i++)
        dup = memcmp(e.addrs[i], bin, 16) == 0;
      if (!dup)
        memcpy(e.addrs[e.n_addrs++], bin, 16);
    }
  }
  if (rc == 0 && e.n_addrs == 0) {
    *h_errnop = NO_DATA;
  } else if (rc == 0) {
    rc = entry_layout(&e, ret, buf, buflen);
    if (rc == 0)
      *result = ret;
  } else {
    rc = ENOMEM;
  }
  if (rc) {
    *h_errnop = NETDB_INTERNAL;
    errno = rc;
  }
  free(e.addrs);
  psock_hostent_free(h);
  psock_freeaddrinfo(list);
  return rc;
}

static int by_addr(const void *addr, socklen_t len, int type,
                   struct hostent *ret, char *buf, size_t buflen,
                   struct hostent **result, int *h_errnop) {
  unsigned char bin[16];
  char text[INET6_ADDRSTRLEN];
  psock_hostent *h = NULL;
  struct entry e = {0};
  int rc, herr = 0;

  *result = NULL;
  /* An address psockd could not be asked about (another family, a wrong
   * length, the unspecified address): libc's answer, which asks no name
   * server for it. */
  if ((type != AF_INET && type != AF_INET6) ||
      len != (type == AF_INET ? 4u : 16u) ||
      shim_copy_from_user(bin, addr, len) < 0 ||
      (type == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)bin)))
    return shim_real()->gethostbyaddr_r(addr, len, type, ret, buf, buflen,
                                        result, h_errnop);
  inet_ntop(type, bin, text, sizeof(text));
  shim_enter();
  if (psock_gethostbyaddr(text, &h) < 0)
    herr = host_error();
  shim_hint(herr != 0, "reverse");
  shim_leave();
  if (herr) {
    *h_errnop = herr;
    return herr == NETDB_INTERNAL ? errno : 0;
  }
  rc = entry_from_hostent(h, type, &e);
  if (rc == 0 && e.n_addrs == 0) {
    /* The entry is for the address asked: it is the one to list. */
    memcpy(e.addrs[0], bin, len);
    e.n_addrs = 1;
  }
  if (rc == 0)
    rc = entry_layout(&e, ret, buf, buflen);
  else
    rc = ENOMEM;
  if (rc == 0) {
    *result = ret;
  } else {
    *h_errnop = NETDB_INTERNAL;
    errno = rc;
  }
  free(e.addrs);
  psock_hostent_free(h);
  return rc;
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret,
                                 char *buf, size_t buflen,
                                 struct hostent **result, int *h_errnop) {
  return by_name(name, af, ret, buf, buflen, result, h_errnop);
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
                                char *buf, size_t buflen,
                                struct hostent **result, int *h_errnop) {
  return by_name(name, AF_INET, ret, buf, buflen, result, h_errnop);
}

SHIM_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type,
                                struct hostent *ret, char *buf, size_t buflen,
                                struct hostent **result, int *h_errnop) {
  return by_addr(addr, len, type, ret, buf, buflen, result, h_errnop);
}

/* The non-reentrant forms: a buffer per thread, grown as needed. */
static __thread struct hostent static_ent;
static __thread char *static_buf;
static __thread size_t static_len;

/* Call the _r form (by name or by addr) until the buffer is large enough. */
static struct hostent *static_lookup(bool named, const char *name, int af,
                                     const void *addr, socklen_t len) {
  struct hostent *result = NULL;
  int herr = 0, rc;

  for (;;) {
    if (!static_buf) {
      static_len = 1024;
      static_buf = malloc(static_len);
      if (!static_buf) {
        h_errno = NETDB_INTERNAL;
        errno = ENOMEM;
        return NULL;
      }
    }
    rc = named ? by_name(name, af, &static_ent, static_buf, static_len, &result,
                         &herr)
               : by_addr(addr, len, af, &static_ent, static_buf, static_len,
                         &result, &herr);
    if (rc != ERANGE || static_len >= (1u << 20))
      break;
    free(static_buf);
    static_buf = NULL;
    static_len *= 4;
    static_buf = malloc(static_len);
    if (!static_buf) {
      h_errno = NETDB_INTERNAL;
      errno = ENOMEM;
      return NULL;
    }
  }
  if (!result)
    h_errno = herr;
  return result;
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name) {
  return static_lookup(true, name, AF_INET, NULL, 0);
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int af) {
  return static_lookup(true, name, af, NULL, 0);
}

SHIM_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len,
                                          int type) {
  return static_lookup(false, NULL, type, addr, len);
}
