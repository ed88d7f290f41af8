/* SPDX-License-Identifier: MIT */
/*
 * The NSS item of the security review (issue 13): NSS modules
 * (libnss-resolve, libnss-myhostname) make system calls outside a worker's
 * allow-list; run in the worker they killed it with all its clients. With
 * them in nsswitch.conf, nobody's lookups answer, and the worker and its
 * resolver live on. A test of its own: it gives this process a new private
 * name service (and, where libnss-resolve is only unpacked, an overlay of
 * the library directory).
 *
 * The fixture and the users involved: attacks_users_common.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "attacks_users_common.h"

/* nsswitch.conf's hosts line: both modules before DNS. */
#define NSS_HOSTS "files resolve [!UNAVAIL=return] myhostname dns"

/* nobody: the name-service calls answer, each with a result or a typed
 * error. */
static int client_nss_calls(void *arg) {
  psock_addrinfo *ai = NULL;
  char host[256], fqdn[256];

  CHECK(psock_getaddrinfo("localhost", NULL, AF_INET, SOCK_STREAM, 0, 0, &ai) ==
        0);
  psock_freeaddrinfo(ai);
  CHECK(psock_gethostname(host, sizeof(host)) == 0 && host[0]);
  /* Not in /etc/hosts: libnss-resolve (no resolved: UNAVAIL) then
   * libnss-myhostname answer. */
  CHECK(psock_getfqdn(NULL, fqdn, sizeof(fqdn)) == 0 && fqdn[0]);
  CHECK(psock_getaddrinfo(host, NULL, 0, SOCK_STREAM, 0, 0, &ai) == 0);
  psock_freeaddrinfo(ai);
  /* No source knows it: through resolve and myhostname to the DNS server
   * that never answers. */
  CHECK(psock_getaddrinfo("no-such-host.invalid", NULL, 0, SOCK_STREAM, 0, 0,
                          &ai) < 0);
  CHECK(psock_last_error_kind() == PSOCK_ERR_GAI);
  fprintf(stderr, "nobody: gethostname %s, getfqdn %s, unknown name: %s\n",
          host, fqdn, psock_last_error_message());
  return 0;
}

/*
 * A mount namespace of our own without the private name service of
 * users_setup(), whose files harness_private_name_service() cannot mount over
 * again (their names are gone); the main psockd keeps its own view.
 */
static void drop_private_name_service(void) {
  static const char *const files[] = {"/etc/hosts", "/etc/resolv.conf",
                                      "/etc/nsswitch.conf"};

  assert_int_equal(unshare(CLONE_NEWNS), 0);
  assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    if (umount2(files[i], MNT_DETACH) < 0)
      fail_msg("umount %s: %s", files[i], strerror(errno));
}

/* Has pid mapped a file whose name holds lib? */
static bool maps_hold(pid_t pid, const char *lib) {
  char path[64], line[512];
  bool found = false;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
  assert_non_null(f = fopen(path, "re"));
  while (!found && fgets(line, sizeof(line), f))
    found = strstr(line, lib) != NULL;
  fclose(f);
  return found;
}

/*
 * install-deps.sh unpacks libnss-resolve into this cache rather than
 * installing it (its package pulls in systemd-resolved, which takes over
 * /etc/resolv.conf). In this process's own mount namespace (see
 * drop_private_name_service()), lay it over the library directory, so
 * that glibc (in the test, and in the psockd it starts) finds it there.
 */
#define NSS_CACHE "/var/cache/psock-test/nss-resolve"

#define RESOLVER "psockd-resolver uid=65534"

static void overlay_cached_nss_module(const char *name) {
  char libdir[PATH_MAX], cached[PATH_MAX + 64], opts[3 * PATH_MAX];
  Dl_info info;

  /* The library directory: where this process's libc lives. */
  assert_true(dladdr((void *)getpwnam, &info) && info.dli_fname);
  assert_non_null(realpath(info.dli_fname, libdir));
  *strrchr(libdir, '/') = '\0';
  snprintf(cached, sizeof(cached), NSS_CACHE "%s/%s", libdir, name);
  if (access(cached, R_OK) < 0)
    return;
  *strrchr(cached, '/') = '\0';
  snprintf(opts, sizeof(opts), "lowerdir=%s:%s", cached, libdir);
  if (mount("psock-nss", libdir, "overlay", MS_RDONLY, opts) < 0)
    fail_msg("overlay %s on %s: %s", cached, libdir, strerror(errno));
}

static bool nss_module(const char *name) {
  void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);

  if (h)
    dlclose(h);
  return h != NULL;
}

/*
 * The NSS item: NSS modules (libnss-resolve, libnss-myhostname) make
 * system calls outside a worker's allow-list; run in the worker they
 * killed it with all its clients. With them in nsswitch.conf, nobody's
 * lookups answer and the worker and its resolver are the same processes
 * afterwards, with no "forbidden system call" in the log.
 */
static void test_nss_modules_cannot_kill_a_worker(void **state) {
  pid_t holder, w = 0, res = 0, w2 = 0, res2 = 0;
  char nsswitch[256];
  struct psockd_proc *p;

  drop_private_name_service();
  if (!nss_module("libnss_resolve.so.2"))
    overlay_cached_nss_module("libnss_resolve.so.2");
  if (!nss_module("libnss_resolve.so.2") ||
      !nss_module("libnss_myhostname.so.2")) {
    print_message("skipped: libnss-resolve or libnss-myhostname is missing "
                  "(./install-deps.sh installs the one and unpacks the "
                  "other into " NSS_CACHE ")\n");
    skip();
  }
  snprintf(nsswitch, sizeof(nsswitch), HARNESS_NSSWITCH_FMT, NSS_HOSTS);
  harness_private_name_service(HARNESS_HOSTS_LOCALHOST, fx.resolv, nsswitch);
  p = harness_start_psockd(NULL);
  users_reset_shared();
  holder = users_bg_start(NOBODY, 0, client_hold);
  assert_true(harness_wait_flag(&fx.sh->phase, 1, 5000));
  /* One of each (the resolver may still be starting: waited for). */
  assert_true((w = users_single_worker(p, NOBODY)) > 0);
  assert_true((res = harness_psockd_one_proc(p, RESOLVER, 3000)) > 0);
  harness_assert_child(p, harness_run_as_nobody(0, client_nss_calls, NULL),
                       "client_nss_calls as nobody");
  assert_true((w2 = users_single_worker(p, NOBODY)) > 0);
  assert_true((res2 = harness_psockd_one_proc(p, RESOLVER, 3000)) > 0);
  /* The modules ran, in the resolver, not in the worker. */
  assert_true(maps_hold(res, "libnss_resolve.so.2"));
  assert_true(maps_hold(res, "libnss_myhostname.so.2"));
  assert_false(maps_hold(w, "libnss_resolve.so.2"));
  fx.sh->release = 1;
  users_bg_join(holder, "client_hold as nobody");
  if (w2 != w || res2 != res ||
      harness_psockd_log_count(p, "forbidden system call") ||
      harness_psockd_log_count(p, "resolver gone"))
    harness_print_psockd_log(p);
  assert_int_equal(w2, w);
  assert_int_equal(res2, res);
  assert_int_equal(harness_psockd_log_count(p, "forbidden system call"), 0);
  assert_int_equal(harness_psockd_log_count(p, "resolver gone"), 0);
  harness_stop_own_psockd(p, fx.psockd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nss_modules_cannot_kill_a_worker),
  };

  return cmocka_run_group_tests_name("attacks-users-nss", tests, users_setup,
                                     users_teardown);
}
