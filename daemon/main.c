/* SPDX-License-Identifier: MIT */
/*
 * psockd main: the command line, then one of three roles.
 *
 *   psockd                 master: policy, listening socket, supervision
 *   psockd --role=priv     psockd-priv: the only process with network
 *                          capabilities (started by the master)
 *   psockd --role=worker   a worker: serves clients (started by the master)
 *
 * The roles are started by fork + exec of this same binary, so each starts
 * from a clean image and gives up its privileges before it reads anything
 * from another process. Fds handed to a role sit at fixed numbers: priv
 * gets its control socket at 3; a worker gets the listening socket at 3,
 * its channel to psockd-priv at 4 and its control socket at 5.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "authz.h"
#include "config.h"
#include "log.h"
#include "master.h"
#include "policy.h"
#include "privops.h"
#include "privproto.h"
#include "quota.h"
#include "sandbox.h"
#include "wire.h"
#include "worker.h"

enum role { ROLE_MASTER, ROLE_PRIV, ROLE_WORKER };

struct options {
  enum role role;
  const char *socket_path;
  mode_t socket_mode;
  unsigned workers;
  unsigned worker_id;
  unsigned lookup_threads;
  const char *user;
  const char *policy_path;
  bool policy_given;
  bool check_config;
  bool dump_policy;
  bool audit_allow;
  bool seccomp;
  bool verbose;
};

static void usage(FILE *out) {
  fprintf(out,
          "Usage: psockd [OPTIONS]\n"
          "Create sockets for unprivileged programs and pass them back.\n\n"
          "  -s, --socket PATH        listen on PATH (default %s)\n"
          "  -m, --socket-mode MODE   file mode of the socket (default 0666)\n"
          "  -w, --workers N          worker processes (default: one per CPU)\n"
          "  -u, --user NAME          user of workers and psockd-priv\n"
          "                           (default: psockd, else nobody)\n"
          "  -p, --policy PATH        policy file (default %s if it exists,\n"
          "                           else the built-in default policy)\n"
          "      --check-config       check the policy file and exit\n"
          "      --dump-policy        print the policy in force and exit\n"
          "      --audit-allow        log allowed calls too (denials always)\n"
          "      --lookup-threads N   name lookup threads per worker (4)\n"
          "      --max-inflight N     requests in flight per connection (%u)\n"
          "      --max-lookups N      name lookups in flight per uid (%u)\n"
          "      --max-conns N        connections per uid (%u)\n"
          "                           (limits are per worker process)\n"
          "      --no-seccomp         do not filter workers' system calls\n"
          "  -v, --verbose            log every connection\n"
          "  -f, --foreground         stay in the foreground (always so)\n"
          "  -V, --version            print the version and exit\n"
          "  -h, --help               print this help and exit\n",
          PSOCK_DEFAULT_SOCKET, PSOCK_DEFAULT_POLICY_PATH,
          LIMITS_DEFAULT_INFLIGHT_PER_CONN, LIMITS_DEFAULT_LOOKUPS_PER_UID,
          LIMITS_DEFAULT_CONNS_PER_UID);
}

static int parse_uint(const char *s, int base, unsigned long min,
                      unsigned long max, unsigned long *ret) {
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul(s, &end, base);
  if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
    return -EINVAL;
  *ret = v;
  return 0;
}

static int parse_role(const char *s, enum role *ret) {
  if (strcmp(s, "priv") == 0)
    *ret = ROLE_PRIV;
  else if (strcmp(s, "worker") == 0)
    *ret = ROLE_WORKER;
  else
    return -EINVAL;
  return 0;
}

enum {
  OPT_CHECK = 256,
  OPT_DUMP,
  OPT_AUDIT_ALLOW,
  OPT_LOOKUP,
  OPT_NO_SECCOMP,
  OPT_ROLE,
  OPT_WORKER_ID,
  OPT_MAX_INFLIGHT,
  OPT_MAX_LOOKUPS,
  OPT_MAX_CONNS
};

static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"socket-mode", required_argument, NULL, 'm'},
    {"workers", required_argument, NULL, 'w'},
    {"user", required_argument, NULL, 'u'},
    {"policy", required_argument, NULL, 'p'},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"dump-policy", no_argument, NULL, OPT_DUMP},
    {"audit-allow", no_argument, NULL, OPT_AUDIT_ALLOW},
    {"lookup-threads", required_argument, NULL, OPT_LOOKUP},
    {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
    {"role", required_argument, NULL, OPT_ROLE},
    {"worker-id", required_argument, NULL, OPT_WORKER_ID},
    {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
    {"max-lookups", required_argument, NULL, OPT_MAX_LOOKUPS},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"verbose", no_argument, NULL, 'v'},
    {"foreground", no_argument, NULL, 'f'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* One option. Returns 0, 1 to exit successfully, -1 to exit failing. */
static int parse_one(int c, struct options *o) {
  unsigned long v;

  switch (c) {
  case 's':
    o->socket_path = optarg;
    return 0;
  case 'm':
    if (parse_uint(optarg, 8, 0, 07777, &v) < 0)
      break;
    o->socket_mode = (mode_t)v;
    return 0;
  case 'w':
    if (parse_uint(optarg, 10, 1, MASTER_MAX_WORKERS, &v) < 0)
      break;
    o->workers = (unsigned)v;
    return 0;
  case OPT_LOOKUP:
    if (parse_uint(optarg, 10, 1, 64, &v) < 0)
      break;
    o->lookup_threads = (unsigned)v;
    return 0;
  case OPT_MAX_INFLIGHT:
  case OPT_MAX_LOOKUPS:
  case OPT_MAX_CONNS:
    if (parse_uint(optarg, 10, 1, 1000000, &v) < 0)
      break;
    if (c == OPT_MAX_INFLIGHT)
      limits.inflight_per_conn = (unsigned)v;
    else if (c == OPT_MAX_LOOKUPS)
      limits.lookups_per_uid = (unsigned)v;
    else
      limits.conns_per_uid = (unsigned)v;
    return 0;
  case OPT_WORKER_ID:
    if (parse_uint(optarg, 10, 0, MASTER_MAX_WORKERS, &v) < 0)
      break;
    o->worker_id = (unsigned)v;
    return 0;
  case OPT_ROLE:
    if (parse_role(optarg, &o->role) < 0)
      break;
    return 0;
  case 'u':
    o->user = optarg;
    return 0;
  case 'p':
    o->policy_path = optarg;
    o->policy_given = true;
    return 0;
  case OPT_CHECK:
    o->check_config = true;
    return 0;
  case OPT_DUMP:
    o->dump_policy = true;
    return 0;
  case OPT_AUDIT_ALLOW:
    o->audit_allow = true;
    return 0;
  case OPT_NO_SECCOMP:
    o->seccomp = false;
    return 0;
  case 'v':
    o->verbose = true;
    log_set_max_priority(LOG_DEBUG);
    return 0;
  case 'f':
    return 0;
  case 'V':
    printf("psockd %s (protocol %u)\n", PSOCK_VERSION, PSOCK_PROTOCOL_VERSION);
    return 1;
  case 'h':
    usage(stdout);
    return 1;
  default:
    usage(stderr);
    return -1;
  }
  fprintf(stderr, "psockd: bad value '%s' for an option\n", optarg);
  return -1;
}

static int parse_args(int argc, char **argv, struct options *o) {
  int c, r;

  while ((c = getopt_long(argc, argv, "s:m:w:u:p:vfVh", longopts, NULL)) != -1)
    if ((r = parse_one(c, o)) != 0)
      return r;
  if (optind < argc) {
    fprintf(stderr, "psockd: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  /* Without --policy, the standard file if present, else the default. */
  if (!o->policy_given && access(PSOCK_DEFAULT_POLICY_PATH, F_OK) == 0)
    o->policy_path = PSOCK_DEFAULT_POLICY_PATH;
  return 0;
}

/* ---------------------------------------------------------------- roles */

static int load_policy(const struct options *o, struct policy **ret) {
  unsigned nerr = 0;
  int r;

  if (!o->policy_path)
    return policy_load_default(ret);
  r = policy_load_file(o->policy_path, stderr, &nerr, ret);
  if (r == -EINVAL)
    fprintf(stderr, "psockd: %s: %u error(s)\n", o->policy_path, nerr);
  else if (r < 0)
    fprintf(stderr, "psockd: %s: %s\n", o->policy_path, strerror(-r));
  return r;
}

static int run_check_or_dump(const struct options *o) {
  struct policy *p = NULL;

  if (load_policy(o, &p) < 0)
    return EXIT_FAILURE;
  if (o->dump_policy) {
    printf("# policy in force: %s\n", policy_source(p));
    policy_dump(p, stdout);
  } else {
    printf("%s: OK\n", policy_source(p));
  }
  policy_free(p);
  return EXIT_SUCCESS;
}

static int role_priv(const struct options *o) {
  uid_t uid;
  gid_t gid;
  int r;

  log_set_ident("psockd-priv");
  if (sandbox_resolve_user(o->user, &uid, &gid) < 0 ||
      (r = sandbox_enter_priv(uid, gid)) < 0) {
    log_err("cannot drop to the three network capabilities");
    return EXIT_FAILURE;
  }
  r = priv_main(3);
  return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

struct worker_sandbox {
  uid_t uid;
  gid_t gid;
  bool seccomp;
};

static int enter_worker_sandbox(void *arg) {
  const struct worker_sandbox *s = arg;
  return sandbox_enter_worker(s->uid, s->gid, s->seccomp);
}

static int role_worker(const struct options *o) {
  char ident[32];
  struct worker_sandbox sb = {.seccomp = o->seccomp};
  struct worker_config wc = {.listen_fd = 3,
                             .ctl_fd = 5,
                             .lookup_threads = o->lookup_threads,
                             .sandbox = enter_worker_sandbox,
                             .sandbox_arg = &sb};

  snprintf(ident, sizeof(ident), "psockd-worker%u", o->worker_id);
  log_set_ident(ident);
  if (sandbox_resolve_user(o->user, &sb.uid, &sb.gid) < 0) {
    log_err("no user to run as");
    return EXIT_FAILURE;
  }
  privops_set_channel(4);
  authz_set_audit_allow(o->audit_allow);
  return worker_run(&wc) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---------------------------------------------------------- the socket */

/* Create the parent directory of path if it is missing (one level). */
static void make_parent_dir(const char *path) {
  char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char *slash;

  snprintf(dir, sizeof(dir), "%s", path);
  slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return;
  *slash = '\0';
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    log_warn("mkdir %s: %m", dir);
}

/* Remove a stale socket left by an earlier run, but nothing else. */
static int remove_stale_socket(const char *path) {
  struct stat st;

  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISSOCK(st.st_mode))
    return -EEXIST;
  return unlink(path) < 0 ? -errno : 0;
}

static int listen_on(const struct options *o) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd, r;

  if (strlen(o->socket_path) >= sizeof(sun.sun_path))
    return -ENAMETOOLONG;
  strcpy(sun.sun_path, o->socket_path);
  make_parent_dir(o->socket_path);
  r = remove_stale_socket(o->socket_path);
  if (r < 0)
    return r;
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
      chmod(o->socket_path, o->socket_mode) < 0 || listen(fd, SOMAXCONN) < 0) {
    r = -errno;
    close(fd);
    return r;
  }
  return fd;
}

/* "AF_UNIX SOCK_STREAM listening" or the like, for an error message. */
static void describe_socket(int fd, char *buf, size_t len) {
  int domain = -1, type = -1, listening = 0;
  socklen_t sl = sizeof(int);
  const char *d, *t;
  char dn[16], tn[16];

  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) < 0) {
    snprintf(buf, len, "not a socket");
    return;
  }
  sl = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl);
  sl = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl);
  snprintf(dn, sizeof(dn), "family %d", domain);
  snprintf(tn, sizeof(tn), "type %d", type);
  d = domain == AF_UNIX    ? "AF_UNIX"
      : domain == AF_INET  ? "AF_INET"
      : domain == AF_INET6 ? "AF_INET6"
                           : dn;
  t = type == SOCK_STREAM      ? "SOCK_STREAM"
      : type == SOCK_DGRAM     ? "SOCK_DGRAM"
      : type == SOCK_SEQPACKET ? "SOCK_SEQPACKET"
                               : tn;
  snprintf(buf, len, "%s %s%s", d, t, listening ? ", listening" : "");
}

/*
 * The socket systemd passed (socket activation), if it is one listening
 * AF_UNIX SOCK_SEQPACKET socket; -ENOENT if none was passed, -EINVAL (after
 * saying why) if what was passed is not that.
 */
static int activated_socket(void) {
  int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START;
  char what[64];

  if (n <= 0)
    return -ENOENT;
  if (n != 1) {
    log_err("socket activation: got %d sockets, psockd takes exactly one "
            "(one ListenSequentialPacket= in psockd.socket)",
            n);
    return -EINVAL;
  }
  if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
    describe_socket(fd, what, sizeof(what));
    log_err("socket activation: the socket passed is %s, not a listening "
            "AF_UNIX SOCK_SEQPACKET socket (psockd.socket needs "
            "ListenSequentialPacket=)",
            what);
    return -EINVAL;
  }
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
    return -errno;
  return fd;
}

static unsigned default_workers(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MASTER_MAX_WORKERS ? MASTER_MAX_WORKERS : (unsigned)n;
}

static int role_master(const struct options *o) {
  char self[PATH_MAX];
  struct master_options mo = {.workers =
                                  o->workers ? o->workers : default_workers(),
                              .user = o->user,
                              .verbose = o->verbose,
                              .seccomp = o->seccomp,
                              .audit_allow = o->audit_allow};
  bool activated = true;
  ssize_t n;
  int fd, r;

  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0) {
    log_err("cannot find my own binary: %m");
    return EXIT_FAILURE;
  }
  self[n] = '\0';
  mo.self_exe = self;
  mo.argv0 = "psockd";
  /* Without --policy, the standard file whenever it exists: checked again
   * at each reload, so a file created later is taken on SIGHUP. */
  mo.policy_path = o->policy_given ? o->policy_path : PSOCK_DEFAULT_POLICY_PATH;
  mo.policy_optional = !o->policy_given;
  fd = activated_socket();
  if (fd == -ENOENT) {
    activated = false;
    fd = listen_on(o);
    if (fd < 0)
      log_err("cannot listen on %s: %s", o->socket_path, strerror(-fd));
  } else if (fd < 0 && fd != -EINVAL) {
    log_err("socket activation: %s", strerror(-fd));
  }
  if (fd < 0)
    return EXIT_FAILURE;
  mo.listen_fd = fd;
  if (activated)
    log_notice("psockd %s activated on the socket passed by systemd",
               PSOCK_VERSION);
  else
    log_notice("psockd %s listening on %s", PSOCK_VERSION, o->socket_path);
  r = master_run(&mo);
  close(fd);
  if (!activated)
    unlink(o->socket_path);
  return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Each client connection is an fd in a worker. Service managers start
 * daemons with a low soft limit on fds (systemd: 1024) and a high hard one
 * (524288): take the hard one, for this process and the roles it starts,
 * or a few hundred clients of one worker would make it refuse the rest.
 */
static void raise_fd_limit(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
    log_warn("cannot raise the soft limit on open files: %m");
}

int main(int argc, char **argv) {
  struct options o = {
      .socket_path = PSOCK_DEFAULT_SOCKET,
      .socket_mode = 0666,
      .lookup_threads = 4,
      .seccomp = true,
  };
  int r;

  r = parse_args(argc, argv, &o);
  if (r != 0)
    return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
  /* Replies use MSG_NOSIGNAL; this covers anything else that writes. */
  signal(SIGPIPE, SIG_IGN);
  if (o.check_config || o.dump_policy)
    return run_check_or_dump(&o);
  if (o.role == ROLE_MASTER)
    raise_fd_limit();
  switch (o.role) {
  case ROLE_PRIV:
    return role_priv(&o);
  case ROLE_WORKER:
    return role_worker(&o);
  default:
    return role_master(&o);
  }
}
