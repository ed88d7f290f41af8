/* SPDX-License-Identifier: MIT */
/*
 * psockd main: the command line, then one of three roles.
 *
 *   psockd                 master: policy, listening socket, routing of
 *                          clients to workers, supervision
 *   psockd --role=priv     psockd-priv: the only process with network
 *                          capabilities (started by the master)
 *   psockd --role=spawn    psockd-spawn: the only process that may change
 *                          its uid; it forks each worker as the user the
 *                          worker serves (started by the master)
 *
 * The two roles are started by fork + exec of this same binary, so each
 * starts from a clean image and gives up its privileges before it reads
 * anything from another process; each gets its control socket at fd 3.
 * Workers (and each worker's resolver) are forks of psockd-spawn.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "authz.h"
#include "bounds.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "master.h"
#include "policy.h"
#include "privserve.h"
#include "proctitle.h"
#include "sandbox.h"
#include "spawn.h"
#include "wire.h"
#include "worker.h"

enum role { ROLE_MASTER, ROLE_PRIV, ROLE_SPAWN };

#define DEFAULT_MAX_WORKERS 256
#define DEFAULT_MAX_WORKERS_PER_UID 16
#define DEFAULT_WORKER_IDLE_S 60
#define SPREAD 4

struct options {
  enum role role;
  const char *socket_path;
  mode_t socket_mode;
  bool socket_mode_given;
  const char *socket_group;
  unsigned workers;
  unsigned max_workers;
  unsigned max_workers_per_uid;
  unsigned worker_idle_s;
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
  fprintf(
      out,
      "Usage: psockd [OPTIONS]\n"
      "Create sockets for unprivileged programs and pass them back.\n\n"
      "  -s, --socket PATH        listen on PATH (default %s)\n"
      "  -m, --socket-mode MODE   file mode of the socket (default 0660\n"
      "                           with group psock if it exists, else 0600)\n"
      "  -g, --socket-group NAME  group of the socket\n"
      "  -w, --workers N          workers per client identity (default:\n"
      "                           one per CPU), started on demand\n"
      "      --max-workers N      worker processes in all (%u)\n"
      "      --max-workers-per-uid N  (%u)\n"
      "      --worker-idle SECS   retire a worker idle this long (%u)\n"
      "  -u, --user NAME          user of psockd-priv and psockd-spawn\n"
      "                           (default: psockd, else a uid no\n"
      "                           account has)\n"
      "  -p, --policy PATH        policy file (default %s if it exists,\n"
      "                           else the built-in default policy)\n"
      "      --check-config       check the policy file and exit\n"
      "      --dump-policy        print the policy in force and exit\n"
      "      --audit-allow        log allowed calls too (denials always)\n"
      "      --lookup-threads N   name lookup threads per worker (4)\n"
      "      --max-inflight N     requests in flight per connection (%u)\n"
      "      --max-lookups N      name lookups in flight per worker (%u)\n"
      "      --max-conns N        connections per uid (%u)\n"
      "      --no-seccomp         no system call filters in the roles\n"
      "  -v, --verbose            log every connection\n"
      "  -f, --foreground         stay in the foreground (always so)\n"
      "  -V, --version            print the version and exit\n"
      "  -h, --help               print this help and exit\n",
      PSOCK_DEFAULT_SOCKET, DEFAULT_MAX_WORKERS, DEFAULT_MAX_WORKERS_PER_UID,
      DEFAULT_WORKER_IDLE_S, PSOCK_DEFAULT_POLICY_PATH,
      BOUNDS_DEFAULT_INFLIGHT_PER_CONN, BOUNDS_DEFAULT_LOOKUPS_PER_UID,
      BOUNDS_DEFAULT_CONNS_PER_UID);
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
  else if (strcmp(s, "spawn") == 0)
    *ret = ROLE_SPAWN;
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
  OPT_MAX_WORKERS,
  OPT_MAX_WORKERS_UID,
  OPT_WORKER_IDLE,
  OPT_MAX_INFLIGHT,
  OPT_MAX_LOOKUPS,
  OPT_MAX_CONNS
};

static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"socket-mode", required_argument, NULL, 'm'},
    {"socket-group", required_argument, NULL, 'g'},
    {"max-workers", required_argument, NULL, OPT_MAX_WORKERS},
    {"max-workers-per-uid", required_argument, NULL, OPT_MAX_WORKERS_UID},
    {"worker-idle", required_argument, NULL, OPT_WORKER_IDLE},
    {"workers", required_argument, NULL, 'w'},
    {"user", required_argument, NULL, 'u'},
    {"policy", required_argument, NULL, 'p'},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"dump-policy", no_argument, NULL, OPT_DUMP},
    {"audit-allow", no_argument, NULL, OPT_AUDIT_ALLOW},
    {"lookup-threads", required_argument, NULL, OPT_LOOKUP},
    {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
    {"role", required_argument, NULL, OPT_ROLE},
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
    o->socket_mode_given = true;
    return 0;
  case 'g':
    o->socket_group = optarg;
    return 0;
  case OPT_MAX_WORKERS:
  case OPT_MAX_WORKERS_UID:
  case OPT_WORKER_IDLE:
    if (parse_uint(optarg, 10, c == OPT_WORKER_IDLE ? 0 : 1, 100000, &v) < 0)
      break;
    if (c == OPT_MAX_WORKERS)
      o->max_workers = (unsigned)v;
    else if (c == OPT_MAX_WORKERS_UID)
      o->max_workers_per_uid = (unsigned)v;
    else
      o->worker_idle_s = (unsigned)v;
    return 0;
  case 'w':
    if (parse_uint(optarg, 10, 1, 64, &v) < 0)
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
      bounds.inflight_per_conn = (unsigned)v;
    else if (c == OPT_MAX_LOOKUPS)
      bounds.lookups_per_uid = (unsigned)v;
    else
      bounds.conns_per_uid = (unsigned)v;
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

  while ((c = getopt_long(argc, argv, "s:m:g:w:u:p:vfVh", longopts, NULL)) !=
         -1)
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

/* The user psockd-priv and psockd-spawn run as (never a client's): the
 * master named it, as an account or as the digits of a uid it claimed. */
static int service_user(const struct options *o, uid_t *uid, gid_t *gid) {
  int r = sandbox_service_user(o->user, uid, gid);

  if (r < 0)
    log_err("no user to run as (%s): create the system user psockd "
            "(systemd/psockd.sysusers) or name one with --user",
            strerror(-r));
  return r;
}

/* The dynamic uid the master claimed for its roles, held while it runs. */
struct dynamic_uid {
  const char *dir;
  uid_t uid;
  int lock_fd;
  char digits[16];
};

/*
 * In the master, before any role starts: check the service user, or, with
 * neither --user nor a psockd account, claim a uid no account has and
 * name it to the roles as digits.
 */
static int master_service_user(const struct options *o, struct dynamic_uid *d,
                               const char **ret_user) {
  uid_t uid;
  gid_t gid;
  int r = sandbox_service_user(o->user, &uid, &gid);

  d->lock_fd = -1;
  *ret_user = o->user;
  if (r != -ENOENT)
    return r < 0 ? service_user(o, &uid, &gid) : 0;
  d->dir = sandbox_dynamic_uid_dir();
  r = sandbox_claim_dynamic_uid(d->dir, &d->uid, &d->lock_fd);
  if (r < 0) {
    log_err("no user 'psockd', and no free uid to claim in %s (%s): create "
            "the system user psockd (systemd/psockd.sysusers) or name one "
            "with --user",
            d->dir, strerror(-r));
    return r;
  }
  snprintf(d->digits, sizeof(d->digits), "%u", (unsigned)d->uid);
  *ret_user = d->digits;
  log_notice("no user 'psockd': psockd-priv and psockd-spawn run as uid %u, "
             "which no account has, claimed in %s (create the system user "
             "psockd, systemd/psockd.sysusers, to choose it)",
             (unsigned)d->uid, d->dir);
  return 0;
}

static int role_priv(const struct options *o) {
  uid_t uid;
  gid_t gid;
  int r;

  log_set_ident("psockd-priv");
  if (service_user(o, &uid, &gid) < 0)
    return EXIT_FAILURE;
  r = sandbox_enter_priv(uid, gid);
  if (r < 0) {
    log_err("cannot drop to the network capabilities: %s", strerror(-r));
    return EXIT_FAILURE;
  }
  authz_set_audit_allow(o->audit_allow);
  r = privserve_main(3, o->seccomp);
  return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int role_spawn(const struct options *o) {
  struct worker_options wo = {.lookup_threads = o->lookup_threads,
                              .seccomp = o->seccomp,
                              .audit_allow = o->audit_allow};
  uid_t uid;
  gid_t gid;
  int r;

  log_set_ident("psockd-spawn");
  if (service_user(o, &uid, &gid) < 0)
    return EXIT_FAILURE;
  r = sandbox_enter_spawn(uid, gid, o->seccomp);
  if (r < 0) {
    log_err("cannot drop to CAP_SETUID, CAP_SETGID, CAP_KILL: %s",
            strerror(-r));
    return EXIT_FAILURE;
  }
  r = spawn_main(3, &wo);
  return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
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
  if (!S_ISSOCK(st.st_mode)) {
    log_err("%s exists and is not a socket: not removing it", path);
    return -EEXIST;
  }
  return unlink(path) < 0 ? -errno : 0;
}

/*
 * The socket's group and mode: --socket-group/--socket-mode, else group
 * psock with 0660 where that group exists, else 0600 (root only).
 */
static int socket_access(const struct options *o, gid_t *ret_gid,
                         mode_t *ret_mode) {
  struct group *g = getgrnam(o->socket_group ? o->socket_group : "psock");

  if (!g && o->socket_group) {
    log_err("--socket-group %s: no such group", o->socket_group);
    return -ESRCH;
  }
  *ret_gid = g ? g->gr_gid : getegid();
  *ret_mode = o->socket_mode_given ? o->socket_mode : g ? 0660 : 0600;
  return 0;
}

/*
 * Create the node with its final mode and group at once: bind() under a
 * umask that leaves exactly the mode, with the file system gid set to the
 * group, so there is no moment when the node is more open than asked and
 * no chmod()/chown() by path that could follow a link an attacker put
 * there.
 */
static int bind_node(int fd, const struct sockaddr_un *sun, gid_t gid,
                     mode_t mode) {
  int pdeathsig = 0;
  gid_t old_gid;
  mode_t old_mask;
  struct stat st;
  int r;

  /* A change of the fsgid clears the parent-death signal that whoever
   * started psockd may have asked for (a test harness does): keep it. */
  prctl(PR_GET_PDEATHSIG, &pdeathsig);
  old_gid = (gid_t)setfsgid(gid);
  old_mask = umask(~mode & 0777);
  r = bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 ? -errno : 0;
  umask(old_mask);
  setfsgid(old_gid);
  if (pdeathsig)
    prctl(PR_SET_PDEATHSIG, pdeathsig);
  if (r == 0 && (lstat(sun->sun_path, &st) < 0 || st.st_gid != gid ||
                 (st.st_mode & 07777) != mode))
    r = -EPERM; /* not root, and not a member of the group */
  return r;
}

static int listen_on(const struct options *o) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  _cleanup_close_ int fd = -1;
  mode_t mode;
  gid_t gid;
  int r;

  if (strlen(o->socket_path) >= sizeof(sun.sun_path))
    return -ENAMETOOLONG;
  strcpy(sun.sun_path, o->socket_path);
  if ((r = socket_access(o, &gid, &mode)) < 0)
    return r;
  make_parent_dir(o->socket_path);
  r = remove_stale_socket(o->socket_path);
  if (r < 0)
    return r;
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  r = bind_node(fd, &sun, gid, mode);
  if (r == 0 && listen(fd, SOMAXCONN) < 0)
    r = -errno;
  if (r < 0) {
    unlink(o->socket_path);
    return r;
  }
  log_info("socket %s: mode %04o, group %u", o->socket_path, (unsigned)mode,
           (unsigned)gid);
  return TAKE_FD(fd);
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
  return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* The listening socket the master asks for once it can serve. */
struct listener {
  const struct options *o;
  int fd;
  bool activated;
};

static int open_listener(void *ctx) {
  struct listener *l = ctx;
  int fd = activated_socket();

  l->activated = fd != -ENOENT;
  if (!l->activated) {
    fd = listen_on(l->o);
    if (fd < 0)
      log_err("cannot listen on %s: %s", l->o->socket_path, strerror(-fd));
  } else if (fd < 0 && fd != -EINVAL) {
    log_err("socket activation: %s", strerror(-fd));
  }
  if (fd < 0)
    return fd;
  l->fd = fd;
  if (l->activated)
    log_notice("psockd %s activated on the socket passed by systemd",
               PSOCK_VERSION);
  else
    log_notice("psockd %s listening on %s", PSOCK_VERSION, l->o->socket_path);
  return fd;
}

static int role_master(const struct options *o) {
  char self[PATH_MAX];
  struct master_options mo = {
      .user = o->user,
      .verbose = o->verbose,
      .seccomp = o->seccomp,
      .audit_allow = o->audit_allow,
      .lookup_threads = o->lookup_threads,
      .limits = {.per_identity = o->workers ? o->workers : default_workers(),
                 .max_total = o->max_workers,
                 .max_per_uid = o->max_workers_per_uid,
                 .conns_per_uid = bounds.conns_per_uid,
                 .idle_ms = o->worker_idle_s * 1000,
                 .spread = SPREAD}};
  struct listener lc = {.o = o, .fd = -1};
  struct dynamic_uid dyn;
  ssize_t n;
  int r;

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
  mo.open_listener = open_listener;
  mo.listener_ctx = &lc;
  r = sandbox_master_hand_on_only();
  if (r < 0) {
    log_err("cannot clear the effective capabilities: %s", strerror(-r));
    return EXIT_FAILURE;
  }
  if (master_service_user(o, &dyn, &mo.user) < 0)
    return EXIT_FAILURE;
  r = master_run(&mo);
  if (lc.fd >= 0)
    close(lc.fd);
  if (lc.fd >= 0 && !lc.activated)
    unlink(o->socket_path);
  sandbox_release_dynamic_uid(dyn.dir, dyn.uid, dyn.lock_fd);
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
      .max_workers = DEFAULT_MAX_WORKERS,
      .max_workers_per_uid = DEFAULT_MAX_WORKERS_PER_UID,
      .worker_idle_s = DEFAULT_WORKER_IDLE_S,
      .lookup_threads = 4,
      .seccomp = true,
  };
  int r;

  proctitle_init(argc, argv);
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
  case ROLE_SPAWN:
    return role_spawn(&o);
  default:
    return role_master(&o);
  }
}
