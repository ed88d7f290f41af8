/* SPDX-License-Identifier: MIT */
/*
 * The demo program as ./demo.sh runs it: copied with libpsock-client into a
 * directory nobody can reach, run as nobody in an empty network namespace
 * against a real psockd. With psockd it prints the echo and the ping; with
 * no psockd at its socket it fails, saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"

/* The library's file name as the demo's DT_NEEDED entry says it. */
#define CLIENT_SONAME "libpsock-client.so.0"

static struct {
  struct psockd_proc *psockd;
  char demo[4096];   /* the copy nobody runs */
  char out[4096];    /* its stdout and stderr */
  char socket[4096]; /* PSOCK_SOCKET for the run */
  char *output;      /* what the last run printed */
} fx;

static int exec_demo(void *arg) {
  const char *dir = harness_psockd_dir(fx.psockd);
  int fd = open(fx.out, O_WRONLY | O_TRUNC | O_CLOEXEC);

  if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
    perror("demo output");
    return 1;
  }
  if (setenv("LD_LIBRARY_PATH", dir, 1) < 0 ||
      setenv("PSOCK_SOCKET", fx.socket, 1) < 0)
    return 1;
  execl(fx.demo, fx.demo, (char *)NULL);
  perror(fx.demo);
  return 1;
}

/* Run the demo; returns its result, its output in fx.output. */
static int run_demo(void) {
  size_t len = 0;
  FILE *f;
  int r;

  r = harness_run_as_nobody(HARNESS_EMPTY_NETNS, exec_demo, NULL);
  f = fopen(fx.out, "re");
  assert_non_null(f);
  free(fx.output);
  fx.output = NULL;
  if (getdelim(&fx.output, &len, '\0', f) < 0) {
    free(fx.output);
    fx.output = strdup("");
  }
  fclose(f);
  assert_non_null(fx.output);
  fprintf(stderr, "----- psock-demo output -----\n%s-----\n", fx.output);
  return r;
}

static void assert_output_has(const char *want) {
  if (!strstr(fx.output, want))
    fail_msg("psock-demo's output lacks \"%s\"", want);
}

static void test_demo_with_psockd(void **state) {
  int r;

  snprintf(fx.socket, sizeof(fx.socket), "%s",
           harness_psockd_socket(fx.psockd));
  r = run_demo();
  if (r != 0)
    harness_print_psockd_log(fx.psockd);
  assert_int_equal(r, 0);
  assert_output_has("Operation not permitted");
  assert_output_has("server: Connected by 127.0.0.1:");
  assert_output_has("client: Received 'Hello, world'");
  assert_output_has("reply from 127.0.0.1: icmp_seq=1 time=");
  assert_output_has("echo: ok, ping: ok");
}

static void test_demo_without_psockd_fails(void **state) {
  int r;

  snprintf(fx.socket, sizeof(fx.socket), "%s/nobody-listens.sock",
           harness_psockd_dir(fx.psockd));
  r = run_demo();
  assert_int_equal(r, 1);
  assert_output_has("server: socket failed: ");
  assert_output_has("echo: FAILED, ping: FAILED");
}

static int setup(void **state) {
  const char *demo = getenv("PSOCK_DEMO"), *lib = getenv("PSOCK_CLIENT_LIB");
  char libcopy[4096];
  int fd;

  if (!demo || !lib)
    fail_msg("PSOCK_DEMO and PSOCK_CLIENT_LIB must be set (meson does)");
  /* As ./demo.sh runs it where the host has no ping sockets for nobody:
   * in a network namespace of its own, lo up, the full ping range. */
  fx.psockd = harness_start_psockd_flags(HARNESS_PSOCKD_OWN_NETNS, NULL);
  snprintf(fx.demo, sizeof(fx.demo), "%s/psock-demo",
           harness_psockd_dir(fx.psockd));
  snprintf(libcopy, sizeof(libcopy), "%s/" CLIENT_SONAME,
           harness_psockd_dir(fx.psockd));
  snprintf(fx.out, sizeof(fx.out), "%s/demo.out",
           harness_psockd_dir(fx.psockd));
  if (harness_copy_file(demo, fx.demo, 0755) < 0 ||
      harness_copy_file(lib, libcopy, 0755) < 0)
    fail_msg("copying the demo: %s", strerror(errno));
  /* nobody cannot create files in the directory: make its output file. */
  fd = open(fx.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  assert_true(fd >= 0);
  assert_int_equal(fchmod(fd, 0666), 0);
  close(fd);
  return 0;
}

static int teardown(void **state) {
  free(fx.output);
  harness_stop_psockd(fx.psockd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demo_with_psockd),
      cmocka_unit_test(test_demo_without_psockd_fails),
  };

  return cmocka_run_group_tests_name("demo", tests, setup, teardown);
}
