/* SPDX-License-Identifier: MIT */
/*
 * psock-run: run an existing program with its network from psockd.
 *
 *   psock-run [--mode=auto|seccomp|preload] [--netns=empty|host]
 *             [--socket PATH] [--policy-hint] [--] PROGRAM [ARGS...]
 *
 * Two modes. --mode=preload sets LD_PRELOAD to libpsock-preload.so (in
 * front of any preload already there), PSOCK_SOCKET for --socket and
 * PSOCK_PRELOAD_HINT for --policy-hint, and execs PROGRAM in place: its
 * exit status and signals are its own. --mode=seccomp runs PROGRAM under
 * a seccomp filter whose socket calls a supervisor performs through psockd
 * (supervisor.h): any binary, static or Go, and the policy's rules bind
 * it. --mode=auto (the default) is seccomp where the kernel can run it
 * (seccomp_filter.h: sf_probe()), else preload.
 *
 * With --netns=empty (the default for a user other than root) PROGRAM runs
 * in a new network namespace that holds only lo (brought up). An
 * unprivileged user gets one through a user namespace that maps the user
 * and group to themselves, as `unshare -c -n` does, so PROGRAM keeps its
 * own uid and is never root there; root just unshares the network
 * namespace. Where no namespace can be made (a sandbox that forbids it,
 * such as bubblewrap's --disable-userns) and psock-run already runs in a
 * network namespace of its own that holds only lo, it stays there.
 *
 * In preload mode psock-run warns about programs the preload cannot
 * reach: statically linked ones (no dynamic loader), Go programs (the Go
 * runtime makes its own system calls), set-user-ID, set-group-ID and
 * file-capability ones (the loader ignores LD_PRELOAD for them), and
 * programs of the other ELF class. In seccomp mode only about the last
 * (the filter kills a system call of another architecture).
 *
 * Exit status: PROGRAM's; 125 if psock-run itself fails, 126 if PROGRAM
 * cannot be executed, 127 if it is not found (as env(1) says).
 *
 * Environment: PSOCK_PRELOAD overrides the preload's installed path (a
 * colon-separated list is put in front as it is); PSOCK_SOCKET is passed
 * on.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "config.h"
#include "seccomp_filter.h"
#include "supervisor.h"

#ifndef PSOCK_PRELOAD_PATH
#error "PSOCK_PRELOAD_PATH must name the installed libpsock-preload.so"
#endif

#define EXIT_OWN_FAILURE 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

enum netns { NETNS_DEFAULT, NETNS_EMPTY, NETNS_HOST };
enum mode { MODE_AUTO, MODE_SECCOMP, MODE_PRELOAD };

static const char *prog = "psock-run";

static void usage(FILE *f) {
  fprintf(f,
          "Usage: %s [OPTION]... [--] PROGRAM [ARG]...\n"
          "Run PROGRAM with its sockets and name lookups from psockd.\n"
          "\n"
          "  --mode=seccomp  stop PROGRAM's socket system calls and have "
          "psockd\n"
          "                  perform them: any binary; the policy binds it\n"
          "  --mode=preload  a preload library in front of libc: "
          "dynamically\n"
          "                  linked programs, name lookups from psockd\n"
          "  --mode=auto     seccomp where the kernel supports it, else "
          "preload\n"
          "                  (the default)\n"
          "  --netns=empty   run PROGRAM in a new network namespace holding "
          "only lo\n"
          "                  (the default unless run as root)\n"
          "  --netns=host    stay in the current network namespace (the "
          "default for root)\n"
          "  --socket=PATH   psockd's socket (default $PSOCK_SOCKET, else "
          "/run/psockd/psockd.sock)\n"
          "  --policy-hint   print the psockd policy rules PROGRAM's calls "
          "need, on stderr\n"
          "  -h, --help      show this help\n"
          "  --version       show the version\n"
          "\n"
          "Preload: $PSOCK_PRELOAD, else %s\n"
          "See psock-run(1).\n",
          prog, PSOCK_PRELOAD_PATH);
}

/* Print "psock-run: MESSAGE[: strerror(err)]" and exit 125. */
__attribute__((format(printf, 2, 3), noreturn)) static void
die(int err, const char *fmt, ...) {
  va_list ap;

  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err)
    fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  exit(EXIT_OWN_FAILURE);
}

/* ------------------------------------------------------- the program */

/* PROGRAM as execvp() would find it, into buf; false if not found. */
static bool find_program(const char *name, char *buf, size_t len) {
  const char *path = getenv("PATH");
  const char *p, *end;

  if (strchr(name, '/')) {
    snprintf(buf, len, "%s", name);
    return access(buf, F_OK) == 0;
  }
  if (!path)
    path = "/usr/local/bin:/bin:/usr/bin";
  for (p = path;; p = end + 1) {
    size_t n;

    end = strchr(p, ':');
    n = end ? (size_t)(end - p) : strlen(p);
    if ((int)snprintf(buf, len, "%.*s%s%s", (int)n, p, n ? "/" : "", name) <
            (int)len &&
        access(buf, X_OK) == 0) {
      struct stat st;

      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
        return true;
    }
    if (!end)
      return false;
  }
}

/* What the ELF header of path says. */
struct elf_facts {
  bool elf;
  bool dynamic; /* has PT_INTERP: the dynamic loader runs it */
  int class;    /* ELFCLASS32 / ELFCLASS64 */
};

static bool read_at(int fd, void *buf, size_t len, off_t off) {
  return pread(fd, buf, len, off) == (ssize_t)len;
}

static struct elf_facts elf_facts(int fd) {
  struct elf_facts f = {0};
  unsigned char ident[EI_NIDENT];

  if (!read_at(fd, ident, sizeof(ident), 0) ||
      memcmp(ident, ELFMAG, SELFMAG) != 0)
    return f;
  f.elf = true;
  f.class = ident[EI_CLASS];
  if (f.class == ELFCLASS64) {
    Elf64_Ehdr eh;

    if (!read_at(fd, &eh, sizeof(eh), 0) ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
      return f;
    for (unsigned i = 0; i < eh.e_phnum && i < 4096; i++) {
      Elf64_Phdr ph;

      if (!read_at(fd, &ph, sizeof(ph),
                   (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph))))
        break;
      if (ph.p_type == PT_INTERP)
        f.dynamic = true;
    }
  } else if (f.class == ELFCLASS32) {
    Elf32_Ehdr eh;

    if (!read_at(fd, &eh, sizeof(eh), 0) ||
        eh.e_phentsize != sizeof(Elf32_Phdr))
      return f;
    for (unsigned i = 0; i < eh.e_phnum && i < 4096; i++) {
      Elf32_Phdr ph;

      if (!read_at(fd, &ph, sizeof(ph),
                   (off_t)(eh.e_phoff + (Elf32_Off)i * sizeof(ph))))
        break;
      if (ph.p_type == PT_INTERP)
        f.dynamic = true;
    }
  }
  return f;
}

static void warn(const char *path, const char *what) {
  fprintf(stderr,
          "%s: warning: %s %s: the preload cannot reach it, so its sockets "
          "and name lookups do not go through psockd (--mode=seccomp "
          "reaches it)\n",
          prog, path, what);
}

/* Is this ELF file a Go program? Its sections .note.go.buildid or
 * .go.buildinfo, or else the "Go build ID" text near its start. */
static bool elf_is_go(int fd) {
  static const char mark[] = "Go build ID: \"";
  char head[65536], names[65536];
  Elf64_Ehdr eh;
  Elf64_Shdr sh, strtab;
  ssize_t n;

  if (read_at(fd, &eh, sizeof(eh), 0) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
      eh.e_shentsize == sizeof(Elf64_Shdr) && eh.e_shstrndx < eh.e_shnum &&
      read_at(fd, &strtab, sizeof(strtab),
              (off_t)(eh.e_shoff + (Elf64_Off)eh.e_shstrndx * sizeof(sh)))) {
    size_t len =
        strtab.sh_size < sizeof(names) ? strtab.sh_size : sizeof(names) - 1;

    if (read_at(fd, names, len, (off_t)strtab.sh_offset)) {
      names[len] = '\0';
      for (unsigned i = 0; i < eh.e_shnum && i < 4096; i++) {
        if (!read_at(fd, &sh, sizeof(sh),
                     (off_t)(eh.e_shoff + (Elf64_Off)i * sizeof(sh))) ||
            sh.sh_name >= len)
          break;
        if (strcmp(names + sh.sh_name, ".note.go.buildid") == 0 ||
            strcmp(names + sh.sh_name, ".go.buildinfo") == 0)
          return true;
      }
    }
  }
  n = pread(fd, head, sizeof(head), 0);
  return n > 0 && memmem(head, (size_t)n, mark, sizeof(mark) - 1);
}

static bool other_class(const struct elf_facts *f) {
  return f->elf && f->class != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32);
}

/* The filter knows this architecture's system calls only. */
static void check_for_seccomp(const char *path, const struct elf_facts *f) {
  if (other_class(f))
    fprintf(stderr,
            "%s: warning: %s is of the other ELF class (32/64-bit): the "
            "seccomp filter kills a system call of another architecture\n",
            prog, path);
}

static void check_for_preload(const char *path, int fd, const struct stat *st,
                              const struct elf_facts *f, bool own_userns) {
  /*
   * The loader runs a set-id or capability program in secure mode and
   * ignores LD_PRELOAD. In a user namespace of our own the set-id bits of
   * a program owned by an id that is not mapped there are not honoured,
   * so it runs as the user, preloaded.
   */
  if ((st->st_mode & S_ISUID) && (!own_userns || st->st_uid == getuid()))
    warn(path, "is set-user-ID");
  else if ((st->st_mode & S_ISGID) && (!own_userns || st->st_gid == getgid()))
    warn(path, "is set-group-ID");
  else if (fgetxattr(fd, "security.capability", NULL, 0) > 0)
    warn(path, "has file capabilities (see getcap(8))");
  if (f->elf && elf_is_go(fd))
    fprintf(stderr,
            "%s: warning: %s is a Go program: Go makes its own system "
            "calls, which the preload cannot reach, so its sockets and "
            "name lookups do not go through psockd (use --mode=seccomp)\n",
            prog, path);
  else if (f->elf && !f->dynamic)
    warn(path, "is statically linked");
  else if (other_class(f))
    warn(path, "is of the other ELF class (32/64-bit) than the preload");
}

/*
 * Warn about what the preload cannot reach (in seccomp mode, about what
 * the filter kills). A script is judged by its interpreter (one level:
 * "#!/usr/bin/env python3" is judged as env).
 */
static void check_program(const char *path, bool own_userns, bool seccomp,
                          int depth) {
  struct stat st;
  char line[PATH_MAX + 3];
  struct elf_facts f;
  ssize_t n;
  int fd;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0) {
    if (fd >= 0)
      close(fd);
    return; /* exec will say why */
  }
  f = elf_facts(fd);
  if (seccomp)
    check_for_seccomp(path, &f);
  else
    check_for_preload(path, fd, &st, &f, own_userns);
  if (!f.elf && depth == 0 && (n = pread(fd, line, sizeof(line) - 1, 0)) > 2 &&
      line[0] == '#' && line[1] == '!') {
    char *p = line + 2, *e;

    line[n] = '\0';
    while (*p == ' ' || *p == '\t')
      p++;
    e = p + strcspn(p, " \t\n");
    *e = '\0';
    if (*p)
      check_program(p, own_userns, seccomp, depth + 1);
  }
  close(fd);
}

/* -------------------------------------------------------- the namespace */

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  size_t len = strlen(text);

  if (fd < 0)
    die(errno, "cannot open %s", path);
  if (write(fd, text, len) != (ssize_t)len) {
    int e = errno;

    close(fd);
    die(e, "cannot write %s", path);
  }
  close(fd);
}

/* Bring lo up in the new namespace; a failure leaves it down, quietly. */
static void loopback_up(void) {
  struct ifreq ifr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  close(fd);
}

/* Does the network namespace we are in hold no interface but lo? (A
 * sandbox's own: bubblewrap's --unshare-net, PrivateNetwork=yes.) */
static bool netns_isolated(void) {
  struct ifaddrs *ifs, *i;
  bool only_lo = true;

  if (getifaddrs(&ifs) < 0)
    return false;
  for (i = ifs; i && only_lo; i = i->ifa_next)
    only_lo = strcmp(i->ifa_name, "lo") == 0;
  freeifaddrs(ifs);
  return only_lo;
}

static bool proc_read_only(void) {
  struct statvfs sv;

  return statvfs("/proc/self/uid_map", &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* Threads of this process: /proc/self/task's entries (0 if unknown). */
static int threads_now(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;

  if (!d)
    return 0;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/*
 * unshare(CLONE_NEWUSER | CLONE_NEWNET). sf_probe() ran a thread and
 * joined it, but a joined thread may stay in the thread group a moment
 * longer (pthread_join() returns when the kernel clears its tid, before
 * the thread is unlinked), and the kernel refuses a new user namespace to
 * a multi-threaded process with EINVAL: wait for it to go (a second at
 * most). 0 or an errno.
 */
static int unshare_user_net(void) {
  for (int i = 0; i < 1000; i++) {
    int before = threads_now(), err;

    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0)
      return 0;
    err = errno;
    /* Single-threaded throughout: EINVAL has another cause. */
    if (err != EINVAL || (before <= 1 && threads_now() <= 1))
      return err;
    usleep(1000);
  }
  return EINVAL;
}

static void enter_empty_netns(void) {
  uid_t uid = getuid();
  gid_t gid = getgid();
  char map[64];
  int err;

  if (geteuid() == 0) {
    if (unshare(CLONE_NEWNET) < 0) {
      err = errno;
      if (netns_isolated())
        return;
      die(err, "cannot create a network namespace");
    }
    loopback_up();
    return;
  }
  /* The user namespace maps us to ourselves: PROGRAM keeps its uid and
   * gid and holds no capability once it is exec'd. The maps are written
   * through /proc: a read-only one (bubblewrap's --ro-bind / /) cannot
   * take them, and a namespace without maps would leave us without ids. */
  if (proc_read_only())
    err = EROFS;
  else
    err = unshare_user_net();
  if (err) {
    /* A sandbox that forbids new namespaces and is one already: stay. */
    if (netns_isolated())
      return;
    die(err, "cannot create a user and network namespace "
             "(use --netns=host, or run as root)");
  }
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
  write_file("/proc/self/gid_map", map);
  loopback_up();
}

/* ---------------------------------------------------------- environment */

static void set_preload(void) {
  const char *mine = getenv("PSOCK_PRELOAD");
  const char *old = getenv("LD_PRELOAD");
  char *value;
  size_t len;

  if (!mine || !*mine)
    mine = PSOCK_PRELOAD_PATH;
  /* Each of ours that names a file must be there: the loader would only
   * complain and run the program without it. */
  for (const char *p = mine; *p;) {
    size_t n = strcspn(p, ": ");
    char path[PATH_MAX];

    if (n && n < sizeof(path) && memchr(p, '/', n)) {
      memcpy(path, p, n);
      path[n] = '\0';
      if (access(path, R_OK) < 0)
        die(errno, "preload %s", path);
    }
    p += n;
    p += strspn(p, ": ");
  }
  if (old && *old) {
    len = strlen(mine) + strlen(old) + 2;
    value = malloc(len);
    if (!value)
      die(ENOMEM, "out of memory");
    /* Already first in the list (a psock-run inside psock-run)? */
    if (strncmp(old, mine, strlen(mine)) == 0 &&
        (old[strlen(mine)] == '\0' || old[strlen(mine)] == ':'))
      snprintf(value, len, "%s", old);
    else
      snprintf(value, len, "%s:%s", mine, old);
  } else {
    value = strdup(mine);
    if (!value)
      die(ENOMEM, "out of memory");
  }
  if (setenv("LD_PRELOAD", value, 1) < 0)
    die(errno, "setenv");
  free(value);
}

/* ------------------------------------------------------------------ mode */

/* auto: seccomp where this kernel can run it; seccomp asked for and not
 * possible is psock-run's failure, with the reason. */
static enum mode choose_mode(enum mode asked) {
  char why[256] = "";

  if (asked == MODE_PRELOAD)
    return MODE_PRELOAD;
  if (sf_probe(why, sizeof(why)) == 0)
    return MODE_SECCOMP;
  if (asked == MODE_SECCOMP)
    die(0, "--mode=seccomp: this kernel cannot: %s", why);
  return MODE_PRELOAD;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"mode", required_argument, NULL, 'm'},
      {"netns", required_argument, NULL, 'n'},
      {"socket", required_argument, NULL, 's'},
      {"policy-hint", no_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  enum netns netns = NETNS_DEFAULT;
  enum mode mode = MODE_AUTO;
  const char *socket_path = NULL;
  bool hint = false;
  char path[PATH_MAX];
  int c;

  if (argv[0] && *argv[0]) {
    const char *slash = strrchr(argv[0], '/');

    prog = slash ? slash + 1 : argv[0];
  }
  /* "+": options end at PROGRAM, whose own options are its own. */
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      if (strcmp(optarg, "empty") == 0)
        netns = NETNS_EMPTY;
      else if (strcmp(optarg, "host") == 0)
        netns = NETNS_HOST;
      else {
        fprintf(stderr, "%s: --netns must be empty or host, not '%s'\n", prog,
                optarg);
        return EXIT_OWN_FAILURE;
      }
      break;
    case 'm':
      if (strcmp(optarg, "auto") == 0)
        mode = MODE_AUTO;
      else if (strcmp(optarg, "seccomp") == 0)
        mode = MODE_SECCOMP;
      else if (strcmp(optarg, "preload") == 0)
        mode = MODE_PRELOAD;
      else {
        fprintf(stderr,
                "%s: --mode must be auto, seccomp or preload, not '%s'\n", prog,
                optarg);
        return EXIT_OWN_FAILURE;
      }
      break;
    case 's':
      socket_path = optarg;
      break;
    case 'p':
      hint = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("psock-run %s\n", PSOCK_VERSION);
      return 0;
    default:
      usage(stderr);
      return EXIT_OWN_FAILURE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return EXIT_OWN_FAILURE;
  }
  if (netns == NETNS_DEFAULT)
    netns = geteuid() == 0 ? NETNS_HOST : NETNS_EMPTY;

  if (socket_path) {
    /* Abstract names belong to a network namespace: only a path is
     * reachable from PROGRAM's. */
    if (!*socket_path || *socket_path == '@')
      die(0, "--socket %s: psockd must listen on a path", socket_path);
    if (setenv("PSOCK_SOCKET", socket_path, 1) < 0)
      die(errno, "setenv");
  }
  mode = choose_mode(mode);
  if (mode == MODE_PRELOAD) {
    if (hint && setenv("PSOCK_PRELOAD_HINT", "1", 1) < 0)
      die(errno, "setenv");
    set_preload();
  }

  if (!find_program(argv[optind], path, sizeof(path))) {
    fprintf(stderr, "%s: %s: %s\n", prog, argv[optind], strerror(ENOENT));
    return EXIT_NOT_FOUND;
  }
  check_program(path, netns == NETNS_EMPTY && geteuid() != 0,
                mode == MODE_SECCOMP, 0);
  if (netns == NETNS_EMPTY)
    enter_empty_netns();
  if (mode == MODE_SECCOMP)
    supervisor_run(&(struct supervisor_opts){
        .path = path, .argv = argv + optind, .hint = hint});

  execv(path, argv + optind);
  c = errno;
  fprintf(stderr, "%s: %s: %s\n", prog, argv[optind], strerror(c));
  return c == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}
