/* SPDX-License-Identifier: MIT */
/*
 * psock-run --mode=preload and libpsock-preload.so (issues #10, #14; the
 * seccomp mode is test_psock_run_seccomp.c's): unmodified Debian programs
 * run as nobody, each in an empty network namespace of its own that
 * psock-run makes (a user namespace that maps nobody to itself), with their
 * sockets and name lookups from a real psockd; each next to its refused
 * twin under a policy that denies it:
 *
 *   curl      fetches from an HTTP server on the host's 127.0.0.1 by a host
 *             name that only psockd's /etc/hosts knows
 *   ping      -c 1 127.0.0.1 (a raw ICMP socket from psockd)
 *   python3   -m http.server 80: a privileged port, then serves clients
 *   ip        -br addr and -br link show the host's interfaces (netlink
 *             from psockd), as a native run does
 *   socat     a UDP exchange with a host socket
 *   traceroute -T: a raw TCP socket from psockd
 *
 * What an unprivileged user gets through psock-run under psockd's default
 * policy is what the same user gets natively in the host's namespace
 * (issue #14), checked against a native run as nobody:
 *
 *   getifaddrs, if_nameindex, if_nametoindex (psock_run_helper), Python's
 *             socket.if_nameindex(), hostname -I: the host's interfaces;
 *             twin: psockd refuses the netlink socket, the sandbox's own
 *   ss -tln   lists a listener of the host (sock_diag); twin: an empty table
 *   socat     so-bindtodevice=lo (free since Linux 5.7); twin: priority=7,
 *             EPERM both ways with the same words
 *   iperf3    --bind-dev lo; twin: no connect rule
 *   nmap      -sT -e lo: an open and a closed port; twin: both filtered
 *   traceroute -T: "not enough privileges", as natively
 *   socket(AF_INET, 15, 0) (psock_run_helper): EINVAL, the kernel's errno
 *             before the policy's; twin: under a seccomp filter, EACCES
 *
 * and the differential conformance test: tests/conformance/sockcalls run
 * natively as nobody in the host's namespace and as nobody through
 * psock-run under the default policy, and again as root both ways: the
 * outputs must be identical. Then what programs do to their processes and
 * fds (threads, fork, exec, closing every fd, dup2 over the library's),
 * psockd unreachable, AF_UNIX local or through psockd, exit status and
 * signals, and psock-run's warnings.
 *
 * Every binary nobody runs is copied out of the build tree into a 0755
 * directory first (CI's checkout may be unreachable for nobody); the
 * preload links libpsock-client statically, so it needs no library of
 * ours beside it. Processes run as nobody through setpriv(1), so that the
 * test knows their pid (setpriv, psock-run and the program are one
 * process) and can stop servers.
 *
 * In a sanitizer build the preload is instrumented and needs the sanitizer
 * runtimes in front of it in LD_PRELOAD (meson passes their paths); without
 * them the tests skip, saying so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"
#include "prog_run.h"

#define WEB_NAME "psock-web.test"
#define WEB_BODY "hello from the host's 127.0.0.1\n"

/* psockd's private /etc/hosts: the web server's name is known to psockd
 * only (the test never touches the host's files). */
#define TEST_HOSTS                                                             \
  "127.0.0.1\tlocalhost\n"                                                     \
  "::1\tlocalhost\n"                                                           \
  "127.0.0.1\t" WEB_NAME "\n"                                                  \
  "127.0.0.5\tpsock-conformance.test psock-alias.test\n"                       \
  "fd00:5::5\tpsock-conformance.test\n"
#define TEST_NSSWITCH                                                          \
  "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"                 \
  "networks: files\nprotocols: files\nservices: files\n"

/* Least privilege for the programs. */
#define POLICY_PROGRAMS                                                        \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "allow uid=65534 socket family=inet type=dgram,raw proto=icmp\n"             \
  "allow uid=65534 socket family=inet type=raw proto=tcp\n"                    \
  "allow uid=65534 socket family=netlink type=raw proto=route\n"               \
  "allow uid=65534 bind family=netlink\n"                                      \
  "allow uid=65534 bind family=inet,inet6 addr=any port=0,80,1024-65535\n"     \
  "allow uid=65534 listen family=inet,inet6\n"                                 \
  "allow uid=65534 connect,sendto family=inet,inet6 "                          \
  "addr=127.0.0.0/8,::1 port=any\n"                                            \
  "allow uid=65534 lookup,reverse\n"

/* The twins: the same less each program's one need (no connect, no ICMP,
 * no raw TCP, no netlink, no port 80). */
#define POLICY_TWINS                                                           \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "allow uid=65534 bind family=inet,inet6 addr=any port=0,1024-65535\n"        \
  "allow uid=65534 listen family=inet,inet6\n"                                 \
  "allow uid=65534 lookup,reverse\n"

/* Everything, abstract AF_UNIX names included (PSOCK_PRELOAD_UNIX=daemon). */
#define POLICY_EVERYTHING                                                      \
  "allow uid=65534 all family=any type=any proto=any addr=any,@* port=any "    \
  "option=any\n"

static struct {
  bool skip;
  char skip_why[PATH_MAX + 256];
  char work[64]; /* 0755: copies of our binaries, policies */
  char psock_run[PATH_MAX], preload[PATH_MAX], sockcalls[PATH_MAX],
      helper[PATH_MAX], ping[PATH_MAX], static_hello[PATH_MAX];
  char preload_env[2 * PATH_MAX]; /* PSOCK_PRELOAD for the runs */
  char runtimes[2 * PATH_MAX];    /* sanitizer runtimes, "a:b:" or "" */
  bool curl_ok; /* curl starts with the sanitizer runtimes preloaded */
  pid_t server; /* a server of a test that may fail before stopping it */
  struct psockd_proc *allow, *deny, *everything;
  struct psockd_proc *dflt; /* the built-in default policy */
} fx;

/* ------------------------------------------------------------ helpers */

/* ------------------------------------------------------- running things */

/* SIGTERM, and the output read; the teardown need not stop it then. */
static void stop(struct run *r) {
  kill(r->pid, SIGTERM);
  if (!finish(r, 3000))
    fprintf(stderr, "%s: killed after SIGTERM\n", r->tag);
  if (fx.server == r->pid)
    fx.server = 0;
}

static void assert_failed(const struct run *r) {
  if (exit_code(r) <= 0) {
    show(r);
    fail_msg("%s: succeeded (status 0x%x), but psockd's policy refuses it",
             r->tag, r->status);
  }
}

/* psock-run's argv: setpriv comes in front (start()). */
#define PSOCK_RUN(psockd, ...)                                                 \
  ((const char *const[]){fx.psock_run, "--mode=preload", "--socket",           \
                         harness_psockd_socket(psockd), "--", __VA_ARGS__,     \
                         NULL})

/* The denial of call=CALL for the client pid in psockd's log. */
static void assert_denied(const struct psockd_proc *p, const struct run *r,
                          const char *call) {
  char *log = harness_psockd_log(p), who[96], what[64];
  bool found = false;

  snprintf(who, sizeof(who), "decision=deny uid=65534 gid=65534 pid=%d ",
           (int)r->pid);
  snprintf(what, sizeof(what), "call=%s ", call);
  for (char *l = strtok(log, "\n"); l && !found; l = strtok(NULL, "\n"))
    found = strstr(l, who) && strstr(l, what);
  free(log);
  if (!found) {
    show(r);
    harness_print_psockd_log(p);
    fail_msg("%s: psockd's log has no denial of %s for pid %d", r->tag, call,
             (int)r->pid);
  }
}

/* Fail with a diff unless native and shim printed the same on stdout (and,
 * with err_too, on stderr). */
static void assert_same_output(struct run *native, struct run *shim,
                               bool err_too) {
  struct run diff = {.tag = "diff"};
  bool out_same = strcmp(native->out, shim->out) == 0;

  if (out_same && (!err_too || strcmp(native->err, shim->err) == 0))
    return;
  diff.argv = (const char *const[]){
      "/usr/bin/diff", "-u", out_same ? native->errpath : native->outpath,
      out_same ? shim->errpath : shim->outpath, NULL};
  start(&diff);
  finish(&diff, RUN_TIMEOUT_MS);
  /* The diff last: a long log is cut at its head. */
  show(native);
  show(shim);
  fprintf(stderr, "----- diff -u %s %s -----\n%s-----\n", native->tag,
          shim->tag, diff.out);
  run_free(&diff);
  fail_msg("%s differs from %s", shim->tag, native->tag);
}

/* Run argv natively as nobody and through psock-run under the default
 * policy; both must exit 0 with the same output. */
static void same_as_native(const char *tag, const char *const *argv,
                           struct run *native, struct run *shim) {
  const char *shim_argv[16] = {fx.psock_run, "--mode=preload", "--socket",
                               harness_psockd_socket(fx.dflt), "--"};
  size_t n = 5;
  char tn[64], ts[64];

  snprintf(tn, sizeof(tn), "%s-native", tag);
  snprintf(ts, sizeof(ts), "%s-shim", tag);
  native->tag = strdup(tn);
  shim->tag = strdup(ts);
  for (size_t i = 0; argv[i]; i++) {
    assert_true(n < sizeof(shim_argv) / sizeof(shim_argv[0]) - 1);
    shim_argv[n++] = argv[i];
  }
  shim_argv[n] = NULL;
  native->argv = argv;
  run_nobody(native);
  assert_exit(native, 0);
  shim->argv = shim_argv;
  run_nobody(shim);
  assert_exit(shim, 0);
  assert_same_output(native, shim, true);
}

static void run_free_tagged(struct run *r) {
  free((char *)r->tag);
  run_free(r);
}

static void skip_if_needed(void) {
  if (fx.skip) {
    fprintf(stderr, "skipped: %s\n", fx.skip_why);
    skip();
  }
}

/* In a sanitizer build, curl deadlocks at start-up with the sanitizer
 * runtimes preloaded, psock or not: what needs curl is skipped there. */
static bool curl_usable(const char *what) {
  if (fx.curl_ok)
    return true;
  fprintf(stderr,
          "skipped %s: curl does not start with the sanitizer runtimes "
          "preloaded (without psock's preload too)\n",
          what);
  return false;
}

/* For our own (instrumented) programs: leak checks on. */
static const char *const leak_check[] = {"ASAN_OPTIONS=detect_leaks=1", NULL};

/* ------------------------------------------------------------ servers */

/* An HTTP GET from this process (the host's namespace). */
static char *http_get(uint16_t port, const char *path) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  char req[256], *buf = calloc(1, 65536);
  size_t got = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_non_null(buf);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
    if (fd >= 0)
      close(fd);
    free(buf);
    return NULL;
  }
  snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
           path);
  (void)!write(fd, req, strlen(req));
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    if (poll(&p, 1, 5000) != 1)
      break;
    n = read(fd, buf + got, 65535 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  return buf;
}

/* ------------------------------------------------------------- curl */

static void test_curl_by_host_name(void **state) {
  struct run ok = {.tag = "curl"}, twin = {.tag = "curl-twin"};
  const char *curl = system_program("curl");
  char url[128];
  uint16_t port = 0;
  pid_t web;

  skip_if_needed();
  if (!curl_usable("curl by host name"))
    skip();
  web = start_http("127.0.0.1", &port, WEB_BODY);
  snprintf(url, sizeof(url), "http://" WEB_NAME ":%u/hello", port);

  ok.argv = PSOCK_RUN(fx.allow, curl, "-sS", "--max-time", "10", url);
  run_nobody(&ok);
  assert_exit(&ok, 0);
  if (strcmp(ok.out, WEB_BODY) != 0) {
    show(&ok);
    fail_msg("curl printed something else than the page");
  }

  twin.argv = PSOCK_RUN(fx.deny, curl, "-sS", "--max-time", "10", url);
  run_nobody(&twin);
  /* 7: "Failed to connect": the name resolved, the connect was refused. */
  assert_exit(&twin, 7);
  assert_denied(fx.deny, &twin, "connect");
  stop_pid(web);
  run_free(&ok);
  run_free(&twin);
}

/* ------------------------------------------------------------- ping */

static void test_ping(void **state) {
  struct run ok = {.tag = "ping"}, twin = {.tag = "ping-twin"},
             caps = {.tag = "ping-caps"};
  const char *ping = system_program("ping");

  skip_if_needed();
  /* The copy has no file capabilities (cp drops them): an unmodified
   * program that needs CAP_NET_RAW, as psock-run is for. */
  ok.argv = PSOCK_RUN(fx.allow, fx.ping, "-c", "1", "-W", "5", "127.0.0.1");
  run_nobody(&ok);
  assert_exit(&ok, 0);
  assert_has(&ok, ok.out, "1 packets transmitted, 1 received");

  twin.argv = PSOCK_RUN(fx.deny, fx.ping, "-c", "1", "-W", "5", "127.0.0.1");
  run_nobody(&twin);
  assert_failed(&twin);
  /* As the kernel answers a raw socket without CAP_NET_RAW. */
  assert_has(&twin, twin.err, "Operation not permitted");
  assert_denied(fx.deny, &twin, "socket");

  /* The installed ping has capabilities: the loader runs it in secure
   * mode, without the preload, and psock-run says so. */
  if (getxattr(ping, "security.capability", NULL, 0) > 0) {
    caps.argv = PSOCK_RUN(fx.deny, ping, "-c", "1", "-W", "1", "127.0.0.1");
    run_nobody(&caps);
    assert_has(&caps, caps.err, "has file capabilities");
    assert_has(&caps, caps.err, "the preload cannot reach it");
  }
  run_free(&ok);
  run_free(&twin);
  run_free(&caps);
}

/* ------------------------------------------------------ python http.server */

static bool port80_free(void) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  bool ok;

  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
  close(fd);
  return ok;
}

static void test_python_http_server_port_80(void **state) {
  struct run srv = {.tag = "python"}, client = {.tag = "python-client"},
             twin = {.tag = "python-twin"};
  const char *curl = system_program("curl");
  char www[PATH_MAX], file[PATH_MAX + 32], *page = NULL;
  long long deadline;

  skip_if_needed();
  if (!port80_free())
    fail_msg("port 80 is in use on this host: the test needs it");
  snprintf(www, sizeof(www), "%s/www", fx.work);
  assert_int_equal(mkdir(www, 0755), 0);
  assert_int_equal(chmod(www, 0755), 0);
  snprintf(file, sizeof(file), "%s/psock-hello.txt", www);
  write_text(file, "served by an unmodified python3\n", 0644);

  /* /usr/bin/python3: the python3 first on PATH may be root's own. */
  srv.argv = PSOCK_RUN(fx.allow, "/usr/bin/python3", "-m", "http.server", "80");
  srv.cwd = www;
  srv.nobody = true;
  start(&srv);
  /* Its parent-death signal does not survive psock-run's user namespace:
   * the teardown stops it if this test fails first. */
  fx.server = srv.pid;
  deadline = now_ms() + 10000;
  while (!page && now_ms() < deadline) {
    page = http_get(80, "/psock-hello.txt");
    if (!page) {
      if (waitpid(srv.pid, &srv.status, WNOHANG) == srv.pid) {
        fx.server = 0;
        srv.out = harness_read_text(srv.outpath);
        srv.err = harness_read_text(srv.errpath);
        show(&srv);
        fail_msg("python3 -m http.server 80 exited");
      }
      sleep_ms(50);
    }
  }
  if (!page) {
    stop(&srv);
    show(&srv);
    fail_msg("nothing answered on port 80 within 10 s");
  }
  if (!strstr(page, " 200 ") ||
      !strstr(page, "served by an unmodified python3")) {
    stop(&srv);
    show(&srv);
    fail_msg("port 80 answered:\n%s", page);
  }
  free(page);

  /* A second client: curl, itself through psock-run. */
  if (curl_usable("the python server's curl client")) {
    client.argv = PSOCK_RUN(fx.allow, curl, "-sS", "--max-time", "10",
                            "http://127.0.0.1/");
    run_nobody(&client);
  }
  stop(&srv);
  if (fx.curl_ok) {
    assert_exit(&client, 0);
    assert_has(&client, client.out, "psock-hello.txt");
  }
  assert_has(&srv, srv.out, "Serving HTTP on 0.0.0.0 port 80");
  assert_has(&srv, srv.err, "\"GET /psock-hello.txt HTTP/1.0\" 200");

  twin.argv = PSOCK_RUN(fx.deny, "/usr/bin/python3", "-m", "http.server", "80");
  twin.cwd = www;
  run_nobody(&twin);
  assert_failed(&twin);
  assert_has(&twin, twin.err, "PermissionError");
  assert_denied(fx.deny, &twin, "bind");
  run_free(&srv);
  run_free(&client);
  run_free(&twin);
}

/* ------------------------------------------------------------- ip addr */

/* ip -br addr and ip -br link through psock-run print what they print
 * natively as nobody: the host's interfaces (netlink from psockd), while
 * the program's own namespace has lo only. Twin: no netlink rule. */
static void test_ip_shows_host_interfaces(void **state) {
  struct run na = {0}, sa = {0}, nl = {0}, sl = {0}, twin = {.tag = "ip-twin"},
             sandbox = {.tag = "ip-sandbox"};
  const char *ip = system_program("ip");

  skip_if_needed();
  same_as_native("ip-addr", (const char *const[]){ip, "-br", "addr", NULL}, &na,
                 &sa);
  same_as_native("ip-link", (const char *const[]){ip, "-br", "link", NULL}, &nl,
                 &sl);
  /* And the program's own namespace has lo only. */
  sandbox.argv = PSOCK_RUN(fx.allow, fx.helper, "whoami");
  run_nobody(&sandbox);
  assert_exit(&sandbox, 0);
  assert_has(&sandbox, sandbox.out, "interfaces: lo\n");
  if (strncmp(sa.out, "lo ", 3) == 0 &&
      strcspn(sa.out, "\n") + 1 >= strlen(sa.out))
    fprintf(stderr, "note: this host has only lo; the comparison shows less\n");

  twin.argv = PSOCK_RUN(fx.deny, ip, "-br", "addr");
  run_nobody(&twin);
  assert_failed(&twin);
  assert_has(&twin, twin.err, "Permission denied");
  assert_denied(fx.deny, &twin, "socket");
  run_free_tagged(&na);
  run_free_tagged(&sa);
  run_free_tagged(&nl);
  run_free_tagged(&sl);
  run_free(&twin);
  run_free(&sandbox);
}

/* -------------------------------------------------------------- socat */

/* Run socat against a UDP socket of ours; answer once. Returns whether a
 * datagram arrived. */
static bool socat_exchange(struct run *r, struct psockd_proc *p) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
                     from;
  socklen_t len = sizeof(sin), flen = sizeof(from);
  const char *socat = system_program("socat");
  char dest[64], buf[256];
  struct pollfd pfd;
  bool got = false;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  snprintf(dest, sizeof(dest), "UDP:127.0.0.1:%u", ntohs(sin.sin_port));
  r->argv = PSOCK_RUN(p, socat, "-t", "3", "-", dest);
  r->stdin_text = "hello psock\n";
  r->nobody = true;
  start(r);
  pfd.fd = fd;
  pfd.events = POLLIN;
  /* The twin exits at once; its datagram never comes. */
  for (long long end = now_ms() + 10000; !got && now_ms() < end;) {
    if (poll(&pfd, 1, 100) == 1) {
      ssize_t n =
          recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

      for (ssize_t i = 0; i < n; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z')
          buf[i] = (char)(buf[i] - 'a' + 'A');
      if (n > 0)
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
      got = n > 0;
    } else if (waitpid(r->pid, &r->status, WNOHANG) == r->pid) {
      r->pid = -r->pid; /* reaped */
      break;
    }
  }
  if (r->pid < 0) {
    r->pid = -r->pid;
    r->out = harness_read_text(r->outpath);
    r->err = harness_read_text(r->errpath);
  } else if (!finish(r, RUN_TIMEOUT_MS)) {
    show(r);
    fail_msg("socat still running");
  }
  close(fd);
  return got;
}

static void test_socat_udp(void **state) {
  struct run ok = {.tag = "socat"}, twin = {.tag = "socat-twin"};

  skip_if_needed();
  if (!socat_exchange(&ok, fx.allow)) {
    show(&ok);
    fail_msg("no datagram from socat");
  }
  assert_exit(&ok, 0);
  if (strcmp(ok.out, "HELLO PSOCK\n") != 0) {
    show(&ok);
    fail_msg("socat did not print the answer");
  }
  if (socat_exchange(&twin, fx.deny)) {
    show(&twin);
    fail_msg("a datagram arrived although psockd's policy refuses it");
  }
  assert_failed(&twin);
  assert_has(&twin, twin.err, "Permission denied");
  assert_denied(fx.deny, &twin, "connect");
  run_free(&ok);
  run_free(&twin);
}

/* --------------------------------------------------------- conformance */

/* sockcalls natively (the host's namespace, no psockd) and through
 * psock-run (an empty namespace, psockd's default policy), as the same
 * user: identical output. */
static void conformance_as(bool nobody, const char *tag) {
  struct run native = {.nobody = nobody}, shim = {.nobody = nobody};
  char dn[PATH_MAX], ds[PATH_MAX], tn[64], ts[64];

  snprintf(tn, sizeof(tn), "sockcalls-%s-native", tag);
  snprintf(ts, sizeof(ts), "sockcalls-%s-shim", tag);
  native.tag = tn;
  shim.tag = ts;
  snprintf(dn, sizeof(dn), "%s/%s", run_files, tn);
  snprintf(ds, sizeof(ds), "%s/%s", run_files, ts);
  assert_int_equal(mkdir(dn, 0777), 0);
  assert_int_equal(mkdir(ds, 0777), 0);
  assert_int_equal(chmod(dn, 0777), 0);
  assert_int_equal(chmod(ds, 0777), 0);

  native.argv = (const char *const[]){fx.sockcalls, dn, NULL};
  native.extra_env = leak_check;
  start(&native);
  assert_true(finish(&native, RUN_TIMEOUT_MS));
  assert_exit(&native, 0);
  assert_has(&native, native.out, "\ndone\n");

  /* For root, psock-run's namespace is the host's unless asked. */
  shim.argv = (const char *const[]){fx.psock_run,
                                    "--mode=preload",
                                    "--netns=empty",
                                    "--socket",
                                    harness_psockd_socket(fx.dflt),
                                    "--",
                                    fx.sockcalls,
                                    ds,
                                    NULL};
  shim.extra_env = leak_check;
  start(&shim);
  assert_true(finish(&shim, RUN_TIMEOUT_MS));
  assert_exit(&shim, 0);
  assert_same_output(&native, &shim, false);
  run_free(&native);
  run_free(&shim);
}

/*
 * The contract: nobody natively against nobody through psock-run under the
 * policy a user has by default. Root both ways adds what privilege
 * grants: raw and packet sockets with an ICMP echo, privileged ports and
 * options, netlink writes.
 */
static void test_conformance(void **state) {
  skip_if_needed();
  conformance_as(true, "nobody");
  conformance_as(false, "root");
}

/* A socket psockd's policy refuses and the kernel would refuse for its
 * arguments first: the kernel's errno, as natively. Under a seccomp filter
 * (which could answer the library's own socket() itself) the answer is
 * still the kernel's: psockd makes the kernel's first checks (a type out
 * of range is EINVAL) before its policy. */
static void test_refused_socket_gets_kernel_errno(void **state) {
  struct run native = {0}, shim = {0}, twin = {.tag = "bad-type-filtered"};

  skip_if_needed();
  same_as_native("bad-type", (const char *const[]){fx.helper, "bad-type", NULL},
                 &native, &shim);
  assert_has(&shim, shim.out, "socket(AF_INET, 15, 0) = -1 Invalid argument\n");
  twin.argv = PSOCK_RUN(fx.dflt, fx.helper, "bad-type", "filter");
  run_nobody(&twin);
  assert_exit(&twin, 0);
  assert_has(&twin, twin.out,
             "socket(AF_INET, 15, 0) = -1 Invalid argument\n"
             "socket(AF_INET6, SOCK_STREAM, 0) ok\n");
  run_free_tagged(&native);
  run_free_tagged(&shim);
  run_free(&twin);
}

/* ------------------------------------------------ the host's interfaces */

/* getifaddrs(), if_nameindex(), if_nametoindex(), if_indextoname() of a C
 * program: the host's interfaces, as natively. Twin: psockd refuses the
 * netlink socket, and the program sees its own namespace (lo only), as
 * the kernel would show it. */
static void test_getifaddrs_host_view(void **state) {
  struct run native = {0}, shim = {0}, twin = {.tag = "ifaddrs-twin"};

  skip_if_needed();
  same_as_native("ifaddrs",
                 (const char *const[]){fx.helper, "interfaces", NULL}, &native,
                 &shim);
  assert_has(&shim, shim.out, "ifaddr lo ");
  assert_has(&shim, shim.out, "nameindex 1 lo nametoindex=1 indextoname=lo\n");

  twin.argv = PSOCK_RUN(fx.deny, fx.helper, "interfaces");
  twin.extra_env = leak_check;
  run_nobody(&twin);
  assert_exit(&twin, 0);
  assert_has(&twin, twin.out, "ifaddr lo flags=0x10049 addr=127.0.0.1 ");
  if (strstr(twin.out, "nameindex 2 ")) {
    show(&twin);
    fail_msg("the twin sees more than its own namespace's lo");
  }
  assert_denied(fx.deny, &twin, "socket");
  run_free_tagged(&native);
  run_free_tagged(&shim);
  run_free(&twin);
}

#define PY_IFS                                                                 \
  "import socket\n"                                                            \
  "ifs = socket.if_nameindex()\n"                                              \
  "print(ifs)\n"                                                               \
  "print([socket.if_nametoindex(n) for i, n in ifs])\n"                        \
  "print([socket.if_indextoname(i) for i, n in ifs])\n"

/* Python's socket.if_nameindex(): the host's list. Twin: lo only. */
static void test_python_if_nameindex(void **state) {
  struct run native = {0}, shim = {0}, twin = {.tag = "python-ifs-twin"};

  skip_if_needed();
  same_as_native("python-ifs",
                 (const char *const[]){"/usr/bin/python3", "-c", PY_IFS, NULL},
                 &native, &shim);
  twin.argv = PSOCK_RUN(fx.deny, "/usr/bin/python3", "-c", PY_IFS);
  run_nobody(&twin);
  assert_exit(&twin, 0);
  if (strcmp(twin.out, "[(1, 'lo')]\n[1]\n['lo']\n") != 0) {
    show(&twin);
    fail_msg("the twin lists more than its own namespace's lo");
  }
  run_free_tagged(&native);
  run_free_tagged(&shim);
  run_free(&twin);
}

/* hostname -I (getifaddrs): the host's addresses. Twin: the empty
 * namespace has only lo, which hostname -I leaves out. */
static void test_hostname_addresses(void **state) {
  struct run native = {0}, shim = {0}, twin = {.tag = "hostname-twin"};
  const char *hostname = system_program("hostname");

  skip_if_needed();
  same_as_native("hostname", (const char *const[]){hostname, "-I", NULL},
                 &native, &shim);
  twin.argv = PSOCK_RUN(fx.deny, hostname, "-I");
  run_nobody(&twin);
  assert_exit(&twin, 0);
  if (strspn(twin.out, " \n") != strlen(twin.out)) {
    show(&twin);
    fail_msg("hostname -I in an empty namespace printed addresses");
  }
  run_free_tagged(&native);
  run_free_tagged(&shim);
  run_free(&twin);
}

/* ss -tln (NETLINK_SOCK_DIAG from psockd): a listener of the host is
 * listed, as natively. Twin: no netlink socket; ss reads the sandbox's
 * /proc/net/tcp instead, an empty table. */
static void test_ss_lists_host_listeners(void **state) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct run native = {.tag = "ss-native"}, shim = {.tag = "ss"},
             twin = {.tag = "ss-twin"};
  socklen_t len = sizeof(sin);
  const char *ss = system_program("ss");
  char want[64];
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  skip_if_needed();
  assert_true(l >= 0);
  assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(l, 4), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
  snprintf(want, sizeof(want), "127.0.0.1:%u ", ntohs(sin.sin_port));

  native.argv = (const char *const[]){ss, "-tln", NULL};
  run_nobody(&native);
  assert_exit(&native, 0);
  assert_has(&native, native.out, want);
  shim.argv = PSOCK_RUN(fx.dflt, ss, "-tln");
  run_nobody(&shim);
  assert_exit(&shim, 0);
  assert_has(&shim, shim.out, want);

  twin.argv = PSOCK_RUN(fx.deny, ss, "-tln");
  run_nobody(&twin);
  close(l);
  assert_exit(&twin, 0);
  if (strstr(twin.out, want)) {
    show(&twin);
    fail_msg("ss listed the host's listener without a netlink socket");
  }
  assert_has(&twin, twin.out, "Local Address:Port");
  assert_denied(fx.deny, &twin, "socket");
  run_free(&native);
  run_free(&shim);
  run_free(&twin);
}

/* ------------------------------------------- options an unprivileged user
 * may set */

/* A one-connection TCP sink on the host's 127.0.0.1 (a forked process):
 * what arrives is written to path. */
static pid_t start_sink(uint16_t *port, const char *path) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  pid_t pid;

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 16), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *port = ntohs(sin.sin_port);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    char buf[4096];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);
    for (;;) {
      int c = accept(fd, NULL, NULL);
      ssize_t n;

      while (c >= 0 && (n = read(c, buf, sizeof(buf))) > 0)
        (void)!write(out, buf, (size_t)n);
      if (c >= 0)
        close(c);
    }
  }
  close(fd);
  return pid;
}

/* socat's error line without its time stamp and pid. */
static const char *socat_error(const char *err) {
  const char *e = strstr(err, " E ");

  return e ? e : err;
}

/* socat ...,so-bindtodevice=lo: SO_BINDTODEVICE on a socket bound to no
 * device needs no privilege since Linux 5.7, natively or through
 * psock-run. Twin: priority=7 as well, which needs CAP_NET_ADMIN: the same
 * error both ways. */
static void test_socat_bindtodevice(void **state) {
  struct run native = {.tag = "socat-dev-native", .stdin_text = "native\n"},
             shim = {.tag = "socat-dev", .stdin_text = "through psock\n"},
             tn = {.tag = "socat-prio-native", .stdin_text = "x\n"},
             ts = {.tag = "socat-prio", .stdin_text = "x\n"};
  const char *socat = system_program("socat");
  char sinkpath[PATH_MAX], dest[96], prio[128], *got;
  uint16_t port;
  pid_t sink;

  skip_if_needed();
  snprintf(sinkpath, sizeof(sinkpath), "%s/socat-sink.txt", run_files);
  sink = start_sink(&port, sinkpath);
  snprintf(dest, sizeof(dest), "TCP:127.0.0.1:%u,so-bindtodevice=lo", port);
  snprintf(prio, sizeof(prio), "%s,priority=7", dest);

  native.argv = (const char *const[]){socat, "-", dest, NULL};
  run_nobody(&native);
  assert_exit(&native, 0);
  shim.argv = PSOCK_RUN(fx.dflt, socat, "-", dest);
  run_nobody(&shim);
  assert_exit(&shim, 0);

  tn.argv = (const char *const[]){socat, "-", prio, NULL};
  run_nobody(&tn);
  assert_exit(&tn, 1);
  assert_has(&tn, tn.err, "Operation not permitted");
  ts.argv = PSOCK_RUN(fx.dflt, socat, "-", prio);
  run_nobody(&ts);
  assert_exit(&ts, 1);
  if (strcmp(socat_error(tn.err), socat_error(ts.err)) != 0) {
    show(&tn);
    show(&ts);
    fail_msg("socat's error through psock-run is not the native one");
  }
  sleep_ms(200);
  stop_pid(sink);
  got = harness_read_text(sinkpath);
  if (!strstr(got, "native\n") || !strstr(got, "through psock\n")) {
    show(&native);
    show(&shim);
    fail_msg("the sink got \"%s\"", got);
  }
  free(got);
  run_free(&native);
  run_free(&shim);
  run_free(&tn);
  run_free(&ts);
}

/* A free port on 127.0.0.1, by asking the kernel for one. */
static uint16_t free_port(void) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  close(fd);
  return ntohs(sin.sin_port);
}

/* iperf3 --bind-dev lo, natively and through psock-run. Twin: no connect
 * rule, "Permission denied". */
/* Is something of this namespace listening on 127.0.0.1:port (TCP)? */
static bool tcp_listening(unsigned port) {
  char *text = harness_read_text("/proc/net/tcp"), want[32];
  bool found;

  /* "  N: 0100007F:PPPP 00000000:0000 0A": state 0A is LISTEN. */
  snprintf(want, sizeof(want), "0100007F:%04X 00000000:0000 0A", port);
  found = strstr(text, want) != NULL;
  free(text);
  return found;
}

static void iperf3_client(struct run *c, struct psockd_proc *p) {
  struct run srv = {.tag = "iperf3-server"};
  const char *iperf3 = system_program("iperf3");
  long long deadline = now_ms() + 10000;
  uint16_t port = free_port();
  char portarg[16];

  snprintf(portarg, sizeof(portarg), "%u", port);
  srv.argv = (const char *const[]){iperf3,  "-s", "-1",        "-p",
                                   portarg, "-B", "127.0.0.1", NULL};
  start(&srv);
  while (!tcp_listening(port)) {
    if (now_ms() >= deadline) {
      stop(&srv);
      show(&srv);
      fail_msg("the iperf3 server did not start");
    }
    sleep_ms(20);
  }
  /* Compound literals live as long as their block: both made here. */
  const char *const *shim =
      PSOCK_RUN(p ? p : fx.dflt, iperf3, "-c", "127.0.0.1", "-p", portarg,
                "--bind-dev", "lo", "-n", "1M");
  const char *const *native =
      (const char *const[]){iperf3,       "-c", "127.0.0.1", "-p", portarg,
                            "--bind-dev", "lo", "-n",        "1M", NULL};

  c->argv = p ? shim : native;
  run_nobody(c);
  stop(&srv);
  run_free(&srv);
}

static void test_iperf3_bind_dev(void **state) {
  struct run native = {.tag = "iperf3-native"}, shim = {.tag = "iperf3"},
             twin = {.tag = "iperf3-twin"};

  skip_if_needed();
  iperf3_client(&native, NULL);
  assert_exit(&native, 0);
  assert_has(&native, native.out, "iperf Done.");
  iperf3_client(&shim, fx.dflt);
  assert_exit(&shim, 0);
  assert_has(&shim, shim.out, "iperf Done.");
  iperf3_client(&twin, fx.deny);
  assert_failed(&twin);
  assert_has(&twin, twin.err, "unable to connect to server: Permission denied");
  assert_denied(fx.deny, &twin, "connect");
  run_free(&native);
  run_free(&shim);
  run_free(&twin);
}

/* nmap's port table: the lines "PORT/tcp STATE SERVICE". */
static char *port_lines(const char *out) {
  char *copy = strdup(out), *lines = calloc(1, strlen(out) + 1);

  assert_non_null(copy);
  assert_non_null(lines);
  for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n"))
    if (strstr(l, "/tcp ")) {
      strcat(lines, l);
      strcat(lines, "\n");
    }
  free(copy);
  return lines;
}

/* nmap -sT -e lo (a connect scan, SO_BINDTODEVICE on every socket): an
 * open and a closed port of the host, as natively. Twin: no connect rule,
 * both "filtered". */
static void test_nmap_connect_scan(void **state) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct run native = {.tag = "nmap-native"}, shim = {.tag = "nmap"},
             twin = {.tag = "nmap-twin"};
  const char *nmap = system_program("nmap");
  socklen_t len = sizeof(sin);
  char ports[32], *want, *got, *refused;
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  uint16_t open_port, closed_port = free_port();

  skip_if_needed();
  assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(l, 16), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
  open_port = ntohs(sin.sin_port);
  snprintf(ports, sizeof(ports), "%u,%u", open_port, closed_port);
  native.argv = (const char *const[]){nmap, "-sT", "-Pn", "-n",        "-e",
                                      "lo", "-p",  ports, "127.0.0.1", NULL};
  run_nobody(&native);
  shim.argv = PSOCK_RUN(fx.dflt, nmap, "-sT", "-Pn", "-n", "-e", "lo", "-p",
                        ports, "127.0.0.1");
  run_nobody(&shim);
  twin.argv = PSOCK_RUN(fx.deny, nmap, "-sT", "-Pn", "-n", "-e", "lo", "-p",
                        ports, "127.0.0.1");
  run_nobody(&twin);
  close(l);
  assert_exit(&native, 0);
  assert_exit(&shim, 0);
  want = port_lines(native.out);
  got = port_lines(shim.out);
  refused = port_lines(twin.out);
  assert_has(&native, want, "/tcp open ");
  assert_has(&native, want, "/tcp closed ");
  if (strcmp(want, got) != 0 || strstr(shim.err, "Problem binding")) {
    show(&native);
    show(&shim);
    fail_msg("nmap through psock-run saw other ports");
  }
  if (strstr(refused, " open ") || strstr(refused, " closed ")) {
    show(&twin);
    fail_msg("nmap reached ports that psockd's policy refuses");
  }
  assert_has(&twin, refused, "/tcp filtered ");
  assert_denied(fx.deny, &twin, "connect");
  free(want);
  free(got);
  free(refused);
  run_free(&native);
  run_free(&shim);
  run_free(&twin);
}

/* traceroute -T needs a raw TCP socket: as nobody natively and through
 * psock-run under the default policy it says why it cannot, in the same
 * words. Twin: a policy that grants the raw socket, and it traces. */
static void test_traceroute_tcp(void **state) {
  struct run native = {0}, shim = {0}, twin = {.tag = "traceroute-allowed"};
  const char *traceroute = system_program("traceroute");
  const char *const argv[] = {traceroute, "-T", "-q",        "1",
                              "-m",       "2",  "127.0.0.1", NULL};

  skip_if_needed();
  native.tag = "traceroute-native";
  native.argv = argv;
  run_nobody(&native);
  assert_exit(&native, 1);
  assert_has(&native, native.err, "enough privileges to use this");
  shim.tag = "traceroute";
  shim.argv =
      PSOCK_RUN(fx.dflt, traceroute, "-T", "-q", "1", "-m", "2", "127.0.0.1");
  run_nobody(&shim);
  assert_exit(&shim, 1);
  assert_same_output(&native, &shim, true);

  twin.argv =
      PSOCK_RUN(fx.allow, traceroute, "-T", "-q", "1", "-m", "2", "127.0.0.1");
  run_nobody(&twin);
  assert_exit(&twin, 0);
  assert_has(&twin, twin.out, "(127.0.0.1)");
  run_free(&native);
  run_free(&shim);
  run_free(&twin);
}

/* ------------------------------------------------- processes and fds */

static void test_namespace_and_identity(void **state) {
  struct run nobody = {.tag = "whoami-nobody"}, root = {.tag = "whoami-root"};

  skip_if_needed();
  /* nobody: a user namespace mapping nobody to itself, never root. */
  nobody.argv = PSOCK_RUN(fx.allow, fx.helper, "whoami");
  run_nobody(&nobody);
  assert_exit(&nobody, 0);
  assert_has(&nobody, nobody.out, "uid=65534 euid=65534 gid=65534\n");
  assert_has(&nobody, nobody.out, "interfaces: lo\n");
  assert_has(&nobody, nobody.out, "lo: up\n");

  /* root: a plain network namespace when asked for one. */
  root.argv = (const char *const[]){fx.psock_run,
                                    "--mode=preload",
                                    "--netns=empty",
                                    "--socket",
                                    harness_psockd_socket(fx.allow),
                                    "--",
                                    fx.helper,
                                    "whoami",
                                    NULL};
  start(&root);
  assert_true(finish(&root, RUN_TIMEOUT_MS));
  assert_exit(&root, 0);
  assert_has(&root, root.out, "uid=0 euid=0 gid=0\n");
  assert_has(&root, root.out, "interfaces: lo\n");
  assert_has(&root, root.out, "lo: up\n");
  run_free(&nobody);
  run_free(&root);
}

static void test_threads_fork_exec_close_dup2(void **state) {
  struct run r = {.tag = "stress"};
  struct harness_echo *echo;
  uint16_t port;
  char portarg[16];

  skip_if_needed();
  echo = harness_start_echo(&port);
  snprintf(portarg, sizeof(portarg), "%u", port);
  r.argv = PSOCK_RUN(fx.allow, fx.helper, "stress", portarg);
  r.extra_env = leak_check;
  run_nobody(&r);
  harness_stop_echo(echo);
  assert_exit(&r, 0);
  assert_has(&r, r.out,
             "exchange ok\nthreads ok\nfork ok\nclose-all ok\ndup2 ok\n"
             "lowest ok\nexec ok\nstress ok\n");
  run_free(&r);
}

static void test_psockd_unreachable(void **state) {
  struct run r = {.tag = "unreachable"};
  char sock[PATH_MAX];
  const char *first, *second;

  skip_if_needed();
  snprintf(sock, sizeof(sock), "%s/nobody-listens.sock", fx.work);
  r.argv = (const char *const[]){
      fx.psock_run, "--mode=preload", "--socket",    sock,
      "--",         fx.helper,        "unreachable", NULL};
  run_nobody(&r);
  assert_exit(&r, 0);
  assert_has(&r, r.out, "socket: Permission denied\n");
  assert_has(&r, r.out, "unreachable ok\n");
  /* One line, however many calls failed. */
  first = strstr(r.err, "libpsock-client: psockd unreachable at ");
  second = first ? strstr(first + 1, "libpsock-client:") : NULL;
  if (!first || second) {
    show(&r);
    fail_msg("want exactly one line saying psockd is unreachable");
  }
  run_free(&r);
}

/* Connect from the host's namespace to abstract name; 0 or errno. */
static int connect_abstract(const char *name) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  size_t n = strlen(name);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

  memcpy(sun.sun_path + 1, name, n);
  r = connect(fd, (struct sockaddr *)&sun,
              (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
  r = r < 0 ? errno : 0;
  close(fd);
  return r;
}

/* Start the helper's abstract listener; wait for "ready". */
static void abstract_listener(struct run *r, const char *name) {
  long long deadline = now_ms() + 10000;

  r->argv = PSOCK_RUN(fx.everything, fx.helper, "abstract", name);
  r->nobody = true;
  start(r);
  for (;;) {
    char *out = harness_read_text(r->outpath);
    bool ready = strstr(out, "ready\n") != NULL;

    free(out);
    if (ready)
      return;
    if (now_ms() >= deadline || waitpid(r->pid, &r->status, WNOHANG) != 0) {
      finish(r, 1000);
      show(r);
      fail_msg("%s: the abstract listener did not start", r->tag);
    }
    sleep_ms(10);
  }
}

/*
 * AF_UNIX is the program's own (issue 13, finding 1): by default its
 * abstract names live in its own (empty) network namespace, out of the
 * host's reach. With PSOCK_PRELOAD_UNIX=daemon psockd binds them: a psockd
 * that replaces the program's socket with one of its own namespace
 * (BindReply.replaced; a policy rule must name the address) puts the name
 * on the host, the psockd of old bound the program's own socket, which
 * keeps it in the program's namespace. The helper says which happened.
 */
static void test_unix_local_or_through_psockd(void **state) {
  static const char *daemon_env[] = {"PSOCK_PRELOAD_UNIX=daemon", NULL};
  struct run local = {.tag = "unix-local"}, routed = {.tag = "unix-daemon"};
  char name[64], *out;
  bool replaced;
  int err;

  skip_if_needed();
  /* Local (the default): the name lives in the program's namespace. */
  snprintf(name, sizeof(name), "psock-run-test-local-%d", (int)getpid());
  abstract_listener(&local, name);
  err = connect_abstract(name);
  stop(&local);
  if (err != ECONNREFUSED) {
    show(&local);
    fail_msg("connect to the sandbox's abstract name from the host: %s",
             strerror(err));
  }
  assert_null(strstr(local.out ? local.out : "", "replaced"));
  /* PSOCK_PRELOAD_UNIX=daemon: psockd's bind, in whichever namespace the
   * socket it bound lives. */
  snprintf(name, sizeof(name), "psock-run-test-daemon-%d", (int)getpid());
  routed.extra_env = daemon_env;
  abstract_listener(&routed, name);
  out = harness_read_text(routed.outpath);
  replaced = strstr(out, "replaced\n") != NULL;
  free(out);
  err = connect_abstract(name);
  if (!replaced) {
    stop(&routed);
    if (err != ECONNREFUSED) {
      show(&routed);
      fail_msg("the program's own socket, bound through psockd, is reachable "
               "from the host: %s",
               strerror(err));
    }
  } else {
    assert_true(finish(&routed, RUN_TIMEOUT_MS));
    if (err != 0) {
      show(&routed);
      fail_msg("connect to the name bound through psockd: %s", strerror(err));
    }
    assert_exit(&routed, 0);
    assert_has(&routed, routed.out, "accepted\n");
  }
  run_free(&local);
  run_free(&routed);
}

/* -------------------------------------------------- psock-run itself */

static void test_exit_status_and_signals(void **state) {
  struct run code = {.tag = "exit-42"}, sig = {.tag = "exit-signal"},
             missing = {.tag = "exit-missing"}, none = {.tag = "exit-none"};

  skip_if_needed();
  code.argv = PSOCK_RUN(fx.allow, "/bin/sh", "-c", "exit 42");
  run_nobody(&code);
  assert_exit(&code, 42);

  sig.argv = PSOCK_RUN(fx.allow, "/bin/sh", "-c", "kill -TERM $$");
  run_nobody(&sig);
  if (!WIFSIGNALED(sig.status) || WTERMSIG(sig.status) != SIGTERM) {
    show(&sig);
    fail_msg("the program's SIGTERM is not psock-run's status");
  }

  missing.argv = PSOCK_RUN(fx.allow, "/nonexistent/program");
  run_nobody(&missing);
  assert_exit(&missing, 127);
  assert_has(&missing, missing.err, "/nonexistent/program");

  none.argv = (const char *const[]){fx.psock_run, NULL};
  run_nobody(&none);
  assert_exit(&none, 125);
  assert_has(&none, none.err, "Usage:");
  run_free(&code);
  run_free(&sig);
  run_free(&missing);
  run_free(&none);
}

static void test_warnings(void **state) {
  struct run st = {.tag = "static"}, suid = {.tag = "setuid"},
             suid_ns = {.tag = "setuid-userns"};
  char copy[PATH_MAX];

  skip_if_needed();
  st.argv = PSOCK_RUN(fx.allow, fx.static_hello);
  run_nobody(&st);
  assert_exit(&st, 0);
  assert_has(&st, st.out, "static hello");
  assert_has(&st, st.err, "is statically linked: the preload cannot reach it");

  /* A set-user-ID root program: in the host's namespace the loader runs
   * it in secure mode (warned); in psock-run's user namespace root is not
   * mapped, so the bit does nothing and the preload reaches it. */
  snprintf(copy, sizeof(copy), "%s/setuid-helper", fx.work);
  assert_int_equal(harness_copy_file(fx.helper, copy, 04755), 0);
  suid.argv = (const char *const[]){fx.psock_run,
                                    "--mode=preload",
                                    "--netns=host",
                                    "--socket",
                                    harness_psockd_socket(fx.allow),
                                    "--",
                                    copy,
                                    "whoami",
                                    NULL};
  run_nobody(&suid);
  assert_exit(&suid, 0);
  assert_has(&suid, suid.err, "is set-user-ID: the preload cannot reach it");
  suid_ns.argv = PSOCK_RUN(fx.allow, copy, "whoami");
  run_nobody(&suid_ns);
  assert_exit(&suid_ns, 0);
  assert_has(&suid_ns, suid_ns.out, "uid=65534 euid=65534");
  if (strstr(suid_ns.err, "warning")) {
    show(&suid_ns);
    fail_msg("a warning for a set-user-ID bit that does nothing");
  }
  run_free(&st);
  run_free(&suid);
  run_free(&suid_ns);
}

static void test_policy_hint(void **state) {
  struct run r = {.tag = "hint"};
  char code[160], want[160];
  uint16_t port = 0;
  pid_t web;

  skip_if_needed();
  web = start_http("127.0.0.1", &port, WEB_BODY);
  snprintf(code, sizeof(code),
           "import socket; socket.create_connection(('127.0.0.1', %u))", port);
  r.argv = (const char *const[]){fx.psock_run,
                                 "--mode=preload",
                                 "--policy-hint",
                                 "--socket",
                                 harness_psockd_socket(fx.deny),
                                 "--",
                                 "/usr/bin/python3",
                                 "-c",
                                 code,
                                 NULL};
  run_nobody(&r);
  stop_pid(web);
  assert_failed(&r);
  assert_has(&r, r.err, "PermissionError");
  snprintf(want, sizeof(want),
           "psock-run: policy hint: allow uid=65534 connect family=inet "
           "addr=127.0.0.1 port=%u  # refused: denied by policy",
           port);
  assert_has(&r, r.err, want);
  assert_has(&r, r.err,
             "psock-run: policy hint: allow uid=65534 socket family=inet "
             "type=stream proto=tcp\n");
  run_free(&r);
}

/* ------------------------------------------------------------- fixture */

static struct psockd_proc *start_with_policy(const char *name,
                                             const char *text) {
  char path[PATH_MAX];
  const char *args[] = {"--policy", path, "--workers", "1", NULL};

  snprintf(path, sizeof(path), "%s/%s.conf", fx.work, name);
  write_text(path, text, 0644);
  return harness_start_psockd(args);
}

/* PSOCK_PRELOAD for the runs: in a sanitizer build the runtimes the
 * instrumented preload needs come first. false: cannot be done. */
static bool preload_value(void) {
  if (harness_sanitizer_runtimes(fx.runtimes, sizeof(fx.runtimes), fx.skip_why,
                                 sizeof(fx.skip_why)) < 0)
    return false;
  if (strlen(fx.runtimes) + strlen(fx.preload) >= sizeof(fx.preload_env)) {
    snprintf(fx.skip_why, sizeof(fx.skip_why), "LD_PRELOAD too long");
    return false;
  }
  strcpy(fx.preload_env, fx.runtimes);
  strcat(fx.preload_env, fx.preload);
  return true;
}

/* Does curl start (natively) with just the sanitizer runtimes preloaded? */
static bool curl_starts(void) {
  char env[3 * PATH_MAX];
  const char *extra[] = {env, NULL};
  struct run r = {.tag = "curl-probe", .extra_env = extra};
  bool ok;

  if (!*fx.runtimes)
    return true;
  snprintf(env, sizeof(env), "LD_PRELOAD=%s", fx.runtimes);
  r.argv = (const char *const[]){system_program("curl"), "--version", NULL};
  start(&r);
  ok = finish(&r, 5000) && exit_code(&r) == 0;
  run_free(&r);
  return ok;
}

static int setup(void **state) {
  snprintf(fx.work, sizeof(fx.work), "/tmp/psock-run.XXXXXX");
  if (!mkdtemp(fx.work))
    fail_msg("mkdtemp: %s", strerror(errno));
  assert_int_equal(chmod(fx.work, 0755), 0);
  snprintf(run_files, sizeof(run_files), "%s/files", fx.work);
  assert_int_equal(mkdir(run_files, 0777), 0);
  assert_int_equal(chmod(run_files, 0777), 0);

  copy_in(fx.work, "PSOCK_RUN", "psock-run", fx.psock_run);
  copy_in(fx.work, "PSOCK_PRELOAD_LIB", "libpsock-preload.so", fx.preload);
  copy_in(fx.work, "PSOCK_SOCKCALLS", "sockcalls", fx.sockcalls);
  copy_in(fx.work, "PSOCK_RUN_HELPER", "psock_run_helper", fx.helper);
  copy_in(fx.work, "PSOCK_STATIC_HELLO", "static_hello", fx.static_hello);
  /* A copy of ping: cp drops its file capabilities. */
  snprintf(fx.ping, sizeof(fx.ping), "%s/ping", fx.work);
  if (harness_copy_file(system_program("ping"), fx.ping, 0755) < 0)
    fail_msg("copying ping: %s", strerror(errno));

  fx.skip = !preload_value();
  if (!fx.skip && setenv("PSOCK_PRELOAD", fx.preload_env, 1) < 0)
    fail_msg("setenv: %s", strerror(errno));
  /* Programs not built with the sanitizers run with their runtimes
   * preloaded; their own leaks are not ours to report (our own programs
   * turn the check back on: LEAK_CHECK). */
  if (*fx.runtimes)
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
  fx.curl_ok = !fx.skip && curl_starts();

  harness_private_name_service(TEST_HOSTS, NULL, TEST_NSSWITCH);
  fx.allow = start_with_policy("programs", POLICY_PROGRAMS);
  fx.deny = start_with_policy("twins", POLICY_TWINS);
  fx.everything = start_with_policy("everything", POLICY_EVERYTHING);
  fx.dflt = harness_start_psockd_default_policy(
      (const char *const[]){"--workers", "1", NULL});
  return 0;
}

static int remove_entry(const char *path) {
  char cmd[PATH_MAX + 16];

  /* Our own directory, named by mkdtemp: nothing else is removed. */
  if (strncmp(path, "/tmp/psock-run.", 15) != 0)
    return -1;
  snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
  return system(cmd);
}

static int teardown(void **state) {
  if (fx.server > 0)
    stop_pid(fx.server);
  harness_stop_psockd(fx.everything);
  harness_stop_psockd(fx.dflt);
  harness_stop_psockd(fx.deny);
  harness_stop_psockd(fx.allow);
  remove_entry(fx.work);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_curl_by_host_name),
      cmocka_unit_test(test_ping),
      cmocka_unit_test(test_python_http_server_port_80),
      cmocka_unit_test(test_ip_shows_host_interfaces),
      cmocka_unit_test(test_socat_udp),
      cmocka_unit_test(test_traceroute_tcp),
      cmocka_unit_test(test_conformance),
      cmocka_unit_test(test_refused_socket_gets_kernel_errno),
      cmocka_unit_test(test_getifaddrs_host_view),
      cmocka_unit_test(test_python_if_nameindex),
      cmocka_unit_test(test_hostname_addresses),
      cmocka_unit_test(test_ss_lists_host_listeners),
      cmocka_unit_test(test_socat_bindtodevice),
      cmocka_unit_test(test_iperf3_bind_dev),
      cmocka_unit_test(test_nmap_connect_scan),
      cmocka_unit_test(test_namespace_and_identity),
      cmocka_unit_test(test_threads_fork_exec_close_dup2),
      cmocka_unit_test(test_psockd_unreachable),
      cmocka_unit_test(test_unix_local_or_through_psockd),
      cmocka_unit_test(test_exit_status_and_signals),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_policy_hint),
  };

  return cmocka_run_group_tests_name("psock-run", tests, setup, teardown);
}
