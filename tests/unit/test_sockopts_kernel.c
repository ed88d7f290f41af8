/* SPDX-License-Identifier: MIT */
/*
 * The option table (proto/sockopts*.c) against the running kernel. Each
 * check runs in a forked child that dropped to uid/gid 65534 with no
 * capabilities (the unit tests run as root), on fresh sockets:
 *  - every privilege rule: a value the table says needs privilege fails
 *    with exactly the table's errno, its free twin (where one exists)
 *    succeeds, and root (the parent) is not refused the same value;
 *  - every entry psockd may set without privilege can be set by nobody
 *    with a value of the entry's min_len, every readable entry can be
 *    read, raw-only options are free on a raw socket, repair-mode options
 *    are free in repair mode.
 * An entry this kernel lacks (ENOPROTOOPT, no such protocol) is printed as
 * "skipped: NAME: why" and counted; the count is printed at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockopts.h"
#include "sockopts_test.h"

uint32_t kernel;
int mc_ifindex, lo_ifindex;
struct in_addr mc_addr4;
static unsigned skipped, checked;

void note_skip(const char *name, const char *fmt, ...) {
  va_list ap;

  printf("skipped: %s: ", name);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  skipped++;
}

void note_checked(void) {
  checked++;
}

const struct sockopt *named(const char *name) {
  const struct sockopt *o = sockopt_by_name(name, strlen(name));

  if (!o)
    fail_msg("%s is not in the table", name);
  return o;
}

int open_sock(struct sock_kind k) {
  int fd = socket(k.family, k.type | SOCK_CLOEXEC, k.proto);

  return fd < 0 ? -errno : fd;
}

int try_set(int fd, const struct sockopt *o, const void *v, socklen_t len) {
  return setsockopt(fd, o->level, o->optname, v, len) < 0 ? errno : 0;
}

/* ---- dropping privileges ---- */

static bool caps_of_self(uint32_t *ret_eff, uint32_t *ret_perm) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];

  if (syscall(SYS_capget, &h, d) < 0)
    return false;
  *ret_eff = d[0].effective | d[1].effective;
  *ret_perm = d[0].permitted | d[1].permitted;
  return true;
}

/* To uid/gid 65534, no groups, no capabilities; 0 or -errno. */
static int drop_privileges(void) {
  uint32_t eff, perm;

  if (geteuid() == 0 &&
      (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
       setresuid(NOBODY, NOBODY, NOBODY) < 0))
    return -errno;
  if (!caps_of_self(&eff, &perm))
    return -errno;
  return eff || perm ? -EPERM : 0;
}

bool have_net_caps(void) {
  uint32_t eff, perm;
  uint32_t want =
      (1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW) | (1u << CAP_SETUID);

  return caps_of_self(&eff, &perm) && (eff & want) == want;
}

static void write_all(int fd, const void *p, size_t n) {
  const char *c = p;

  while (n > 0) {
    ssize_t w = write(fd, c, n);

    if (w <= 0)
      _exit(3);
    c += w;
    n -= (size_t)w;
  }
}

int run_unprivileged(child_fn fn, const void *arg, int *res, size_t n) {
  int p[2], status, in[MAX_RESULTS + 1];
  size_t got = 0, want = (n + 1) * sizeof(int);
  pid_t pid;

  assert_true(n <= MAX_RESULTS);
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  fflush(stdout);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    in[0] = drop_privileges();
    for (size_t i = 0; i < n; i++)
      in[1 + i] = NOT_RUN;
    if (in[0] == 0)
      fn(arg, in + 1, n);
    write_all(p[1], in, want);
    _exit(0);
  }
  close(p[1]);
  while (got < want) {
    ssize_t r = read(p[0], (char *)in + got, want - got);

    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(p[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(got, want);
  if (in[0] < 0)
    return in[0];
  memcpy(res, in + 1, n * sizeof(int));
  return 0;
}

/* A result that says the check could not run here: print and count it.
 * True if it was such a result. */
bool skipped_result(const char *name, int r) {
  if (r >= SOCKET_FAILED && r < SETUP_FAILED) {
    note_skip(name, "no such socket here (%s)", strerror(r - SOCKET_FAILED));
    return true;
  }
  if (r >= SETUP_FAILED) {
    note_skip(name, "its setup failed here (%s)", strerror(r - SETUP_FAILED));
    return true;
  }
  if (r == ENOPROTOOPT) {
    note_skip(name, "this kernel does not know it (ENOPROTOOPT)");
    return true;
  }
  return false;
}

/* ---- the host ---- */

static int first_multicast_ifindex(void) {
  struct if_nameindex *ifs = if_nameindex(), *i;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), found = 0;

  for (i = ifs; ifs && fd >= 0 && i->if_index && !found; i++) {
    struct ifreq ifr = {0};

    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
        (ifr.ifr_flags & (IFF_UP | IFF_MULTICAST | IFF_LOOPBACK)) ==
            (IFF_UP | IFF_MULTICAST))
      found = (int)i->if_index;
  }
  if (found) {
    struct ifreq ifr = {0};

    if_indextoname((unsigned)found, ifr.ifr_name);
    ifr.ifr_addr.sa_family = AF_INET;
    if (ioctl(fd, SIOCGIFADDR, &ifr) == 0)
      mc_addr4 = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;
  }
  if (ifs)
    if_freenameindex(ifs);
  if (fd >= 0)
    close(fd);
  return found;
}

static int setup_host(void **state) {
  struct utsname u;

  assert_int_equal(uname(&u), 0);
  kernel = sockopt_kernel_version(u.release);
  assert_true(kernel != 0);
  lo_ifindex = (int)if_nametoindex("lo");
  mc_ifindex = first_multicast_ifindex();
  printf("kernel %s; multicast interface index %d, %s\n", u.release, mc_ifindex,
         inet_ntoa(mc_addr4));
  return 0;
}

static int report(void **state) {
  printf("sockopts against this kernel: %u checks passed, %u skipped\n",
         checked, skipped);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_privilege_rules_have_probes),
      cmocka_unit_test(test_privilege_rules),
      cmocka_unit_test(test_bindtodevice),
      cmocka_unit_test(test_free_options_settable),
      cmocka_unit_test(test_options_readable),
      cmocka_unit_test(test_raw_only_options),
      cmocka_unit_test(test_repair_mode_options),
  };

  return cmocka_run_group_tests(tests, setup_host, report);
}
