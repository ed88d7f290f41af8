/* SPDX-License-Identifier: MIT */
/*
 * psock-run --mode=seccomp (issue #17): programs the preload cannot reach,
 * and rules the preload cannot enforce, run as nobody in an empty network
 * namespace against a real psockd, each next to its refused twin:
 *
 *   Go        an HTTP client built CGO_ENABLED=0 fetches a page by host
 *             name: Go's own resolver asks the test's name server over
 *             UDP, on a socket from psockd (twin: the policy does not
 *             reach the name server); the same program built with cgo,
 *             resolving through libc (twin: the web server refused); a Go
 *             server on port 80 (twin: no port 80)
 *   static C  busybox-static's wget (TCP) and a static program's UDP
 *             exchange (twin: no connect)
 *   ping      the system's ping, whose file capabilities no_new_privs
 *             drops: psockd's audit record shows it made the raw socket
 *             (twin: no ICMP rule)
 *   TOCTOU    a thread rewrites the address while another connects (and
 *             sends): only the checked address is ever reached
 *   itself    a program's own connect() system call on a socket it holds,
 *             to a destination a rule denies: refused here, let through
 *             in preload mode; its sendto() likewise
 *
 * What a user gets through psock-run is what the same user gets natively
 * (docs/unmodified-programs.md): tests/conformance/sockcalls run natively
 * in the host's namespace and through psock-run in an empty one under
 * psockd's built-in default policy, as nobody both ways and as root both
 * ways, gives the same output; if_nametoindex() and if_indextoname()
 * (static C, dynamic C, Python), whose ioctls libc makes on an AF_UNIX
 * socket of the program's own namespace, answer for the host's (twin: no
 * netlink socket from psockd, lo only); and under a policy that grants
 * nobody everything, the battery's privileged lines read as root's
 * natively, but for the netlink writes psockd cannot grant.
 *
 * And: threads, fork, exec, close-all and dup2; blocking connect (a
 * timeout, a signal, other calls served meanwhile); io_uring refused;
 * what the program can do to its supervisor (nothing); exit status and
 * signals; --mode=auto picks seccomp here; Go is warned about in preload
 * mode; and inside bubblewrap (as Flatpak runs apps), in both modes, with
 * and without nested namespaces.
 *
 * The Go programs (tests/integration/go/) are built here, offline, with
 * Debian's golang-go (docs: /work/shared/design/TESTING.md). The name
 * service is real: a DNS server on the host's loopback (api_start_dns())
 * named in a private /etc/resolv.conf that psockd, the test and the
 * programs share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api_common.h"
#include "harness.h"
#include "prog_run.h"

#define WEB_BODY "hello from the host's 127.0.0.77\n"

#define NSSWITCH                                                               \
  "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"             \
  "networks: files\nprotocols: files\nservices: files\n"

/* Least privilege for the programs. */
#define POLICY_ALLOW                                                           \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "allow uid=65534 socket family=inet type=dgram,raw proto=icmp\n"             \
  "allow uid=65534 socket family=netlink type=raw,dgram proto=route\n"         \
  "allow uid=65534 bind family=inet,inet6,netlink addr=any "                   \
  "port=0,80,1024-65535\n"                                                     \
  "allow uid=65534 listen family=inet,inet6\n"                                 \
  "allow uid=65534 connect,sendto family=inet,inet6 "                          \
  "addr=127.0.0.0/8,::1 port=any\n"                                            \
  "allow uid=65534 lookup,reverse\n"

/* The twins: no connect, no sendto, no ICMP, no port 80. */
#define POLICY_DENY                                                            \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "allow uid=65534 socket family=netlink type=raw,dgram proto=route\n"         \
  "allow uid=65534 bind family=inet,inet6,netlink addr=any "                   \
  "port=0,1024-65535\n"                                                        \
  "allow uid=65534 listen family=inet,inet6\n"                                 \
  "allow uid=65534 lookup,reverse\n"

/* The web server's address only: the name server is out of reach. */
#define POLICY_NO_DNS                                                          \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "allow uid=65534 socket family=netlink type=raw,dgram proto=route\n"         \
  "allow uid=65534 bind family=inet,inet6,netlink addr=any "                   \
  "port=0,1024-65535\n"                                                        \
  "allow uid=65534 connect,sendto family=inet addr=" API_DNS_ADDR " "          \
  "port=any\n"                                                                 \
  "allow uid=65534 lookup,reverse\n"

/* Everything psockd can grant: what root gets natively, for nobody. */
#define POLICY_EVERYTHING                                                      \
  "allow uid=65534 all family=any type=any proto=any addr=any,@* port=any "    \
  "option=any\n"

/* Inet sockets, no netlink: the interfaces are the program's own. */
#define POLICY_NO_NETLINK                                                      \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"

static struct {
  char work[64];  /* 0755: copies of our binaries, policies */
  char files[96]; /* 0777: what nobody writes */
  char psock_run[PATH_MAX], preload[PATH_MAX], sockcalls[PATH_MAX],
      stress[PATH_MAX], helper[PATH_MAX], helper_static[PATH_MAX],
      busybox[PATH_MAX], go_static[PATH_MAX], go_cgo[PATH_MAX],
      go_server[PATH_MAX];
  struct api_dns *dns;
  struct psockd_proc *allow, *deny, *nodns, *dflt, *everything;
} fx;

#define SECCOMP(psockd, ...)                                                   \
  ((const char *const[]){fx.psock_run, "--mode=seccomp", "--socket",           \
                         harness_psockd_socket(psockd), "--", __VA_ARGS__,     \
                         NULL})
#define PRELOAD(psockd, ...)                                                   \
  ((const char *const[]){fx.psock_run, "--mode=preload", "--socket",           \
                         harness_psockd_socket(psockd), "--", __VA_ARGS__,     \
                         NULL})

static struct psockd_proc *start_with_policy(const char *name,
                                             const char *text) {
  char path[PATH_MAX];
  const char *args[] = {"--policy",      path, "--workers", "1",
                        "--audit-allow", NULL};

  snprintf(path, sizeof(path), "%s/%s.conf", fx.work, name);
  write_text(path, text, 0644);
  return harness_start_psockd(args);
}

/* ----------------------------------------------------------------- Go */

static void go_client_case(const char *tag, const char *program,
                           const char *const *env) {
  struct run ok = {.tag = tag, .extra_env = env}, twin = {.extra_env = env};
  char url[128], twin_tag[64];
  uint16_t port = 0;
  pid_t web = start_http(API_DNS_ADDR, &port, WEB_BODY);

  snprintf(url, sizeof(url), "http://" API_DNS_NAME ":%u/", port);
  ok.argv = SECCOMP(fx.allow, program, url);
  run_nobody(&ok);
  assert_exit(&ok, 0);
  assert_has(&ok, ok.out, WEB_BODY);
  /* The name was asked of the name server over a socket from psockd. */
  assert_audit(fx.allow, &ok,
               AUDIT("decision=allow", "uid=65534", "call=connect",
                     api_dns_address(fx.dns), ":53"));

  /* The name server is out of the policy's reach: no name, no page. */
  snprintf(twin_tag, sizeof(twin_tag), "%s-twin", tag);
  twin.tag = twin_tag;
  twin.argv = SECCOMP(fx.nodns, program, url);
  run_nobody(&twin);
  assert_exit(&twin, 1);
  assert_has(&twin, twin.err, "lookup " API_DNS_NAME);
  assert_audit(fx.nodns, &twin,
               AUDIT("decision=deny", "uid=65534", "call=connect", ":53"));
  stop_pid(web);
  run_free(&ok);
  run_free(&twin);
}

static void test_go_static_by_host_name(void **state) {
  struct run pre = {.tag = "go-static-preload"};

  go_client_case("go-static", fx.go_static, NULL);
  /* In preload mode psock-run says why it cannot work, and what does. */
  pre.argv = PRELOAD(fx.allow, fx.go_static, "http://" API_DNS_NAME ":1/");
  run_nobody(&pre);
  assert_has(&pre, pre.err, "is a Go program: Go makes its own system calls");
  assert_has(&pre, pre.err, "--mode=seccomp");
  run_free(&pre);
}

static void test_go_cgo_by_host_name(void **state) {
  /* Name lookups through libc's resolver (cgo), not Go's own. */
  static const char *const env[] = {"GODEBUG=netdns=cgo", NULL};
  struct run pre = {.tag = "go-cgo-preload"};

  go_client_case("go-cgo", fx.go_cgo, env);
  pre.argv = PRELOAD(fx.allow, fx.go_cgo, "http://" API_DNS_NAME ":1/");
  run_nobody(&pre);
  assert_has(&pre, pre.err, "is a Go program");
  run_free(&pre);
}

static void test_go_server_port_80(void **state) {
  struct run srv = {.tag = "go-server"}, twin = {.tag = "go-server-twin"};
  char page[4096] = "", path[PATH_MAX];
  const char *args[] = {"--policy",      path, "--workers", "1",
                        "--audit-allow", NULL};
  struct psockd_proc *p;
  long long deadline;
  char *out;

  /* Port 80 of a psockd in a network namespace of its own: no other
   * server on this machine can hold it. */
  snprintf(path, sizeof(path), "%s/allow.conf", fx.work);
  p = harness_start_psockd_flags(HARNESS_PSOCKD_OWN_NETNS, args);
  srv.argv = SECCOMP(p, fx.go_server, ":80");
  srv.nobody = true;
  start(&srv);
  deadline = now_ms() + 10000;
  do {
    sleep_ms(20);
    out = harness_read_text(srv.outpath);
    if (strstr(out, "listening") &&
        fetch_port80(harness_psockd_pid(p), page, sizeof(page)))
      deadline = 0;
    free(out);
  } while (now_ms() < deadline);
  /* Stopped by psock-run's caller: the signal reaches the program. */
  kill(srv.pid, SIGTERM);
  assert_true(finish(&srv, 5000));
  if (!strstr(page, "hello from go")) {
    show(&srv);
    harness_print_psockd_log(p);
    fail_msg("no page from the Go server on port 80: \"%s\"", page);
  }
  if (!WIFSIGNALED(srv.status) || WTERMSIG(srv.status) != SIGTERM) {
    show(&srv);
    fail_msg("the program's SIGTERM is not psock-run's status");
  }
  assert_audit(p, &srv, AUDIT("decision=allow", "call=bind", ":80"));
  harness_stop_psockd(p);

  twin.argv = SECCOMP(fx.deny, fx.go_server, ":80");
  run_nobody(&twin);
  assert_exit(&twin, 1);
  assert_has(&twin, twin.err, "bind: permission denied");
  assert_audit(fx.deny, &twin, AUDIT("decision=deny", "call=bind", ":80"));
  run_free(&srv);
  run_free(&twin);
}

/* ---------------------------------------------------------- static C */

static void test_static_c_tcp_and_udp(void **state) {
  struct run wget = {.tag = "busybox-wget"}, udp = {.tag = "static-udp"},
             tcp = {.tag = "static-tcp"}, wtwin = {.tag = "busybox-wget-twin"},
             utwin = {.tag = "static-udp-twin"};
  struct harness_echo *echo;
  uint16_t web_port = 0, udp_port, echo_port;
  char url[96], up[16], ep[16];
  pid_t web = start_http("127.0.0.1", &web_port, WEB_BODY);
  pid_t uecho = start_udp_echo(&udp_port);

  echo = harness_start_echo(&echo_port);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/", web_port);
  snprintf(up, sizeof(up), "%u", udp_port);
  snprintf(ep, sizeof(ep), "%u", echo_port);

  wget.argv = SECCOMP(fx.allow, fx.busybox, "wget", "-q", "-O", "-", url);
  run_nobody(&wget);
  assert_exit(&wget, 0);
  assert_has(&wget, wget.out, WEB_BODY);
  udp.argv = SECCOMP(fx.allow, fx.helper_static, "udp", "127.0.0.1", up);
  run_nobody(&udp);
  assert_exit(&udp, 0);
  assert_has(&udp, udp.out, "udp ok");
  tcp.argv = SECCOMP(fx.allow, fx.helper_static, "tcp", "127.0.0.1", ep);
  run_nobody(&tcp);
  assert_exit(&tcp, 0);
  assert_has(&tcp, tcp.out, "tcp ok");

  wtwin.argv = SECCOMP(fx.deny, fx.busybox, "wget", "-q", "-O", "-", url);
  run_nobody(&wtwin);
  assert_has(&wtwin, wtwin.err, "Permission denied");
  assert_audit(fx.deny, &wtwin, AUDIT("decision=deny", "call=connect"));
  utwin.argv = SECCOMP(fx.deny, fx.helper_static, "udp", "127.0.0.1", up);
  run_nobody(&utwin);
  assert_has(&utwin, utwin.out, "FAILED");
  assert_has(&utwin, utwin.out, "Permission denied");
  assert_audit(fx.deny, &utwin, AUDIT("decision=deny", "call=sendto"));

  harness_stop_echo(echo);
  stop_pid(web);
  stop_pid(uecho);
  run_free(&wget);
  run_free(&udp);
  run_free(&tcp);
  run_free(&wtwin);
  run_free(&utwin);
}

/* --------------------------------------------------------------- ping */

static void test_ping(void **state) {
  struct run ok = {.tag = "ping"}, twin = {.tag = "ping-twin"};
  const char *ping = system_program("ping");

  /* The system's ping, file capabilities and all: no_new_privs keeps
   * them from being granted, and psockd makes its raw socket. */
  ok.argv = SECCOMP(fx.allow, ping, "-c", "1", "-W", "5", "127.0.0.1");
  run_nobody(&ok);
  assert_exit(&ok, 0);
  assert_has(&ok, ok.out, "1 packets transmitted, 1 received");
  assert_audit(fx.allow, &ok,
               AUDIT("decision=allow", "uid=65534", "call=socket",
                     "family=2 type=3 proto=1"));

  twin.argv = SECCOMP(fx.deny, ping, "-c", "1", "-W", "5", "127.0.0.1");
  run_nobody(&twin);
  assert_has(&twin, twin.err, "Operation not permitted");
  assert_audit(
      fx.deny, &twin,
      AUDIT("decision=deny", "call=socket", "family=2 type=3 proto=1"));
  run_free(&ok);
  run_free(&twin);
}

/* -------------------------------------------------------------- TOCTOU */

static void test_toctou_connect_and_sendmsg(void **state) {
  struct run c = {.tag = "toctou-connect"}, s = {.tag = "toctou-sendmsg"};
  struct harness_echo *echo;
  struct psockd_proc *p;
  uint16_t good, bad, ugood, ubad;
  char policy[1024], g[16], b[16], ug[16], ub[16];
  int trap = harness_loopback_socket(SOCK_STREAM, &bad),
      utrap = harness_loopback_socket(SOCK_DGRAM, &ubad);
  pid_t uecho = start_udp_echo(&ugood);
  int ngood, nbad, nrefused;

  echo = harness_start_echo(&good);
  snprintf(policy, sizeof(policy),
           "allow uid=65534 socket family=inet type=stream,dgram "
           "proto=0,tcp,udp\n"
           "allow uid=65534 connect family=inet addr=127.0.0.1 port=%u\n"
           "allow uid=65534 sendto family=inet addr=127.0.0.1 port=%u\n",
           good, ugood);
  p = start_with_policy("toctou", policy);
  snprintf(g, sizeof(g), "%u", good);
  snprintf(b, sizeof(b), "%u", bad);
  snprintf(ug, sizeof(ug), "%u", ugood);
  snprintf(ub, sizeof(ub), "%u", ubad);

  c.argv = SECCOMP(p, fx.helper, "toctou", "127.0.0.1", g, b, "2000");
  run_nobody(&c);
  assert_exit(&c, 0);
  assert_int_equal(
      sscanf(c.out, "good=%d bad=%d refused=%d", &ngood, &nbad, &nrefused), 3);
  /* The other thread did rewrite the address under the call (some
   * copies held the bad port, and psockd refused them), yet nothing but
   * the checked address was reached. */
  if (nbad != 0 || ngood == 0 || nrefused == 0 ||
      trap_reached(trap, SOCK_STREAM)) {
    show(&c);
    fail_msg("connect race: good=%d bad=%d refused=%d, trap %s", ngood, nbad,
             nrefused, trap_reached(trap, SOCK_STREAM) ? "reached" : "quiet");
  }

  s.argv = SECCOMP(p, fx.helper, "sendmsg-race", "127.0.0.1", ug, ub, "2000");
  run_nobody(&s);
  assert_exit(&s, 0);
  assert_int_equal(sscanf(s.out, "sent=%d refused=%d", &ngood, &nrefused), 2);
  if (ngood == 0 || nrefused == 0 || trap_reached(utrap, SOCK_DGRAM)) {
    show(&s);
    fail_msg("sendmsg race: sent=%d refused=%d, trap %s", ngood, nrefused,
             trap_reached(utrap, SOCK_DGRAM) ? "reached" : "quiet");
  }
  harness_stop_psockd(p);
  harness_stop_echo(echo);
  stop_pid(uecho);
  close(trap);
  close(utrap);
  run_free(&c);
  run_free(&s);
}

/* ------------------------------------------------ the program's own calls */

static void test_own_connect_and_sendto(void **state) {
  struct run sc = {.tag = "self-connect"}, pc = {.tag = "self-connect-preload"},
             ss = {.tag = "self-sendto"}, ps = {.tag = "self-sendto-preload"};
  struct psockd_proc *p;
  uint16_t tport, uport;
  int trap = harness_loopback_socket(SOCK_STREAM, &tport),
      utrap = harness_loopback_socket(SOCK_DGRAM, &uport);
  char policy[512], t[16], u[16];

  /* Sockets, but no connect or sendto to the traps. */
  snprintf(policy, sizeof(policy),
           "allow uid=65534 socket family=inet type=stream,dgram "
           "proto=0,tcp,udp\n"
           "allow uid=65534 connect,sendto family=inet addr=127.0.0.1 "
           "port=1-%u,%u-65535\n",
           tport < uport ? tport - 1 : uport - 1,
           (tport > uport ? tport : uport) + 1);
  p = start_with_policy("own-calls", policy);
  snprintf(t, sizeof(t), "%u", tport);
  snprintf(u, sizeof(u), "%u", uport);

  sc.argv = SECCOMP(p, fx.helper, "selfconnect", "127.0.0.1", t);
  run_nobody(&sc);
  assert_has(&sc, sc.out, "connect: Permission denied");
  assert_audit(p, &sc, AUDIT("decision=deny", "call=connect"));
  assert_false(trap_reached(trap, SOCK_STREAM));
  /* The preload stands in for libc's connect(), not for the system call:
   * the socket it holds connects where the policy says no. */
  pc.argv = PRELOAD(p, fx.helper, "selfconnect", "127.0.0.1", t);
  run_nobody(&pc);
  assert_has(&pc, pc.out, "connected");
  assert_true(trap_reached(trap, SOCK_STREAM));

  ss.argv = SECCOMP(p, fx.helper, "sendto", "127.0.0.1", u);
  run_nobody(&ss);
  assert_has(&ss, ss.out, "sendto: Permission denied");
  assert_false(trap_reached(utrap, SOCK_DGRAM));
  ps.argv = PRELOAD(p, fx.helper, "sendto", "127.0.0.1", u);
  run_nobody(&ps);
  assert_has(&ps, ps.out, "sent");
  assert_true(trap_reached(utrap, SOCK_DGRAM));

  harness_stop_psockd(p);
  close(trap);
  close(utrap);
  run_free(&sc);
  run_free(&pc);
  run_free(&ss);
  run_free(&ps);
}

/* --------------------------------------------------------- conformance */

/* Show both runs and their diff, and fail. */
static void fail_differs(struct run *native, struct run *sec) {
  struct run diff = {.tag = "diff"};

  diff.argv = (const char *const[]){"/usr/bin/diff", "-u", native->outpath,
                                    sec->outpath, NULL};
  start(&diff);
  finish(&diff, RUN_TIMEOUT_MS);
  /* The diff last: a long log is cut at its head. */
  show(native);
  show(sec);
  fprintf(stderr, "----- diff -u %s %s -----\n%s-----\n", native->tag, sec->tag,
          diff.out);
  run_free(&diff);
  fail_msg("%s differs from %s", sec->tag, native->tag);
}

/* A 0777 directory for a run of sockcalls (it writes there), in dir. */
static void sockcalls_dir(const char *tag, char *dir, size_t len) {
  snprintf(dir, len, "%s/%s", fx.files, tag);
  assert_int_equal(mkdir(dir, 0777), 0);
  assert_int_equal(chmod(dir, 0777), 0);
}

/* Run sockcalls (argv: it, or psock-run in front of it) to the end. */
static void run_sockcalls(struct run *r, const char *const *argv) {
  r->argv = argv;
  start(r);
  assert_true(finish(r, RUN_TIMEOUT_MS));
  assert_exit(r, 0);
  assert_has(r, r->out, "\ndone\n");
}

/*
 * sockcalls natively (the host's namespace, no psockd) and through
 * psock-run --mode=seccomp (an empty namespace, psockd's built-in default
 * policy), as the same user: identical output.
 */
static void conformance_as(bool nobody, const char *who) {
  struct run native = {.nobody = nobody}, sec = {.nobody = nobody};
  char dn[PATH_MAX], ds[PATH_MAX], tn[64], ts[64];

  snprintf(tn, sizeof(tn), "sockcalls-%s-native", who);
  snprintf(ts, sizeof(ts), "sockcalls-%s-seccomp", who);
  native.tag = tn;
  sec.tag = ts;
  sockcalls_dir(tn, dn, sizeof(dn));
  sockcalls_dir(ts, ds, sizeof(ds));
  run_sockcalls(&native, (const char *const[]){fx.sockcalls, dn, NULL});
  /* For root, psock-run's namespace is the host's unless asked. */
  run_sockcalls(&sec, (const char *const[]){fx.psock_run, "--mode=seccomp",
                                            "--netns=empty", "--socket",
                                            harness_psockd_socket(fx.dflt),
                                            "--", fx.sockcalls, ds, NULL});
  if (strcmp(native.out, sec.out) != 0)
    fail_differs(&native, &sec);
  run_free(&native);
  run_free(&sec);
}

/*
 * The contract: what a user gets through psock-run is what the same user
 * gets natively, under the policy a user has by default. Root both ways
 * adds what privilege grants, through psockd (the default policy grants
 * root everything): raw and packet sockets with an ICMP echo, privileged
 * ports, options and netlink writes. (A root program is not confined by
 * its supervisor, docs/security.md; its calls are still psockd's.)
 */
static void test_conformance(void **state) {
  conformance_as(true, "nobody");
  conformance_as(false, "root");
}

/* The lines of text, split in place; their number in *ret_n. */
static char **split_lines(char *text, size_t *ret_n) {
  size_t n = 0, max = 16;
  char **v = malloc(max * sizeof(*v));

  assert_non_null(v);
  for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
    if (n == max) {
      max *= 2;
      v = realloc(v, max * sizeof(*v));
      assert_non_null(v);
    }
    v[n++] = l;
  }
  *ret_n = n;
  return v;
}

/* Lines the battery prints for a user other than root only. */
static bool nobody_only(const char *l) {
  return strncmp(l, "socket(AF_INET, SOCK_PACKET, ", 29) == 0;
}

/*
 * What psockd cannot grant, by design: a netlink write needs
 * CAP_NET_ADMIN in its sender (the program, at each sendmsg()) and in the
 * socket's opener (the user's worker), and neither holds it
 * (docs/security.md); a raw socketpair is refused the user's way (EPERM)
 * where root's kernel gets to say that inet sockets have no pairs
 * (EOPNOTSUPP).
 */
static bool not_granted(const char *l) {
  static const char *const calls[] = {
      "sock_diag(SOCK_DESTROY our listener) = ",
      "rtnetlink(RTM_NEWADDR on no interface) = ",
      "socketpair(AF_INET6, SOCK_RAW, IPPROTO_RAW) = ",
  };

  for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
    if (strncmp(l, calls[i], strlen(calls[i])) == 0)
      return true;
  return false;
}

/*
 * Under a policy that grants everything, nobody gets through psockd what
 * root gets natively: every line on which the battery's native runs as
 * nobody and as root differ (what privilege changes) reads as root's,
 * except what psockd cannot grant (not_granted()); every other line is
 * the same in all three. This is the only run that has psockd perform
 * privileged options for the seccomp supervisor (the supervisor tries
 * them first, without privilege). test_conformance is its twin: the same
 * lines refused under the default policy.
 */
static void test_privilege_granted(void **state) {
  struct run nobody = {.nobody = true, .tag = "sockcalls-nobody"},
             root = {.tag = "sockcalls-root"},
             granted = {.nobody = true, .tag = "sockcalls-granted"};
  char dn[PATH_MAX], dr[PATH_MAX], dg[PATH_MAX], **n, **r, **g;
  size_t nn, nr, ng, ir = 0, privileged = 0;

  sockcalls_dir(nobody.tag, dn, sizeof(dn));
  sockcalls_dir(root.tag, dr, sizeof(dr));
  sockcalls_dir(granted.tag, dg, sizeof(dg));
  run_sockcalls(&nobody, (const char *const[]){fx.sockcalls, dn, NULL});
  run_sockcalls(&root, (const char *const[]){fx.sockcalls, dr, NULL});
  run_sockcalls(&granted, SECCOMP(fx.everything, fx.sockcalls, dg));
  assert_has(&granted, granted.out,
             "socket(AF_INET, SOCK_PACKET, ETH_P_ALL) = fd=lowest ");
  n = split_lines(nobody.out, &nn);
  r = split_lines(root.out, &nr);
  g = split_lines(granted.out, &ng);
  if (ng != nn) {
    fail_differs(&nobody, &granted);
  }
  for (size_t i = 0; i < nn; i++) {
    const char *want;

    if (nobody_only(n[i]))
      continue;
    assert_true(ir < nr);
    want = r[ir++];
    if (strcmp(n[i], want) != 0 && not_granted(n[i]))
      want = n[i];
    else if (strcmp(n[i], want) != 0)
      privileged++;
    if (strcmp(g[i], want) != 0) {
      show(&root);
      show(&granted);
      fail_msg("granted everything, nobody got \"%s\" where %s \"%s\"", g[i],
               want == n[i] ? "psockd cannot grant:" : "root gets", want);
    }
  }
  assert_int_equal(ir, nr);
  /* Raw and packet sockets, ports, options: it did grant something. */
  assert_true(privileged >= 20);
  free(n);
  free(r);
  free(g);
  run_free(&nobody);
  run_free(&root);
  run_free(&granted);
}

/* ---------------------------------------------------- interface names */

/* The first interface of the host's namespace (the test's) but lo. */
static bool host_interface(char *name, size_t len, unsigned *ret_index) {
  struct if_nameindex *list = if_nameindex();
  bool found = false;

  for (struct if_nameindex *i = list; i && i->if_index && !found; i++) {
    if (strcmp(i->if_name, "lo") != 0) {
      snprintf(name, len, "%s", i->if_name);
      *ret_index = i->if_index;
      found = true;
    }
  }
  if (list)
    if_freenameindex(list);
  return found;
}

/* argv natively and through psock-run under the default policy, as
 * nobody: both exit 0 with the same output. */
static void same_as_native(const char *tag, const char *const *argv) {
  struct run native = {0}, sec = {0};
  const char *sec_argv[16] = {fx.psock_run, "--mode=seccomp", "--socket",
                              harness_psockd_socket(fx.dflt), "--"};
  size_t n = 5;
  char tn[64], ts[64];

  snprintf(tn, sizeof(tn), "%s-native", tag);
  snprintf(ts, sizeof(ts), "%s-seccomp", tag);
  native.tag = tn;
  sec.tag = ts;
  for (size_t i = 0; argv[i]; i++) {
    assert_true(n < sizeof(sec_argv) / sizeof(sec_argv[0]) - 1);
    sec_argv[n++] = argv[i];
  }
  sec_argv[n] = NULL;
  native.argv = argv;
  run_nobody(&native);
  assert_exit(&native, 0);
  sec.argv = sec_argv;
  run_nobody(&sec);
  assert_exit(&sec, 0);
  if (strcmp(native.out, sec.out) != 0)
    fail_differs(&native, &sec);
  run_free(&native);
  run_free(&sec);
}

#define PY_IFS                                                                 \
  "import socket\n"                                                            \
  "ifs = socket.if_nameindex()\n"                                              \
  "print(ifs)\n"                                                               \
  "print([socket.if_nametoindex(n) for i, n in ifs])\n"                        \
  "print([socket.if_indextoname(i) for i, n in ifs])\n"

/*
 * if_nametoindex() and if_indextoname() (glibc, static or not; musl
 * alike) ask the kernel with ioctl(SIOCGIFINDEX / SIOCGIFNAME) on an
 * AF_UNIX socket of their own, which lives in the program's empty
 * namespace: the supervisor asks on a NETLINK_ROUTE socket from psockd
 * instead, and the answers are the host's, as natively (the ioctls made
 * directly too: an alias, a bad pointer, an inet socket, a pipe, no fd).
 * Twin: psockd refuses that socket, and the kernel answers for the
 * program's own namespace: lo only. An inet socket from psockd is of
 * psockd's namespace still.
 */
static void test_interface_names(void **state) {
  struct run twin = {.tag = "ifnames-twin"};
  char name[IF_NAMESIZE], index[16], want[128];
  struct psockd_proc *p;
  unsigned i = 0;

  if (!host_interface(name, sizeof(name), &i))
    skip(); /* the host has lo only: nothing to tell apart */
  snprintf(index, sizeof(index), "%u", i);
  same_as_native(
      "ifnames-static",
      (const char *const[]){fx.helper_static, "ifnames", name, index, NULL});
  same_as_native("ifnames", (const char *const[]){fx.helper, "ifnames", name,
                                                  index, NULL});
  same_as_native("python-ifs",
                 (const char *const[]){"/usr/bin/python3", "-c", PY_IFS, NULL});

  p = start_with_policy("no-netlink", POLICY_NO_NETLINK);
  twin.argv = SECCOMP(p, fx.helper_static, "ifnames", name, index);
  run_nobody(&twin);
  assert_exit(&twin, 0);
  assert_has(&twin, twin.out, "if_nametoindex(lo) = 1\n");
  snprintf(want, sizeof(want), "if_nametoindex(%s) = 0 %s\n", name,
           strerror(ENODEV));
  assert_has(&twin, twin.out, want);
  snprintf(want, sizeof(want), "if_indextoname(%u) = NULL %s\n", i,
           strerror(ENXIO));
  assert_has(&twin, twin.out, want);
  snprintf(want, sizeof(want), "SIOCGIFNAME on inet: index %u name %s\n", i,
           name);
  assert_has(&twin, twin.out, want);
  assert_audit(p, &twin,
               AUDIT("decision=deny", "uid=65534", "call=socket", "family=16"));
  harness_stop_psockd(p);
  run_free(&twin);
}

/* ------------------------------------------------- processes and fds */

static void test_threads_fork_exec_close_dup2(void **state) {
  struct run r = {.tag = "stress"};
  struct harness_echo *echo;
  uint16_t port;
  char portarg[16];

  echo = harness_start_echo(&port);
  snprintf(portarg, sizeof(portarg), "%u", port);
  r.argv = SECCOMP(fx.allow, fx.stress, "stress", portarg);
  run_nobody(&r);
  harness_stop_echo(echo);
  assert_exit(&r, 0);
  assert_has(&r, r.out,
             "exchange ok\nthreads ok\nfork ok\nclose-all ok\ndup2 ok\n"
             "lowest ok\nexec ok\nstress ok\n");
  run_free(&r);
}

static void test_blocking_connect(void **state) {
  struct run r = {.tag = "blockconnect"};
  uint16_t port;
  char p[16];
  int filler, l = full_listener(&port, &filler);

  snprintf(p, sizeof(p), "%u", port);
  r.argv = SECCOMP(fx.allow, fx.helper, "blockconnect", "127.0.0.1", p);
  run_nobody(&r);
  assert_exit(&r, 0);
  /* SO_SNDTIMEO bounds it (EINPROGRESS, as the kernel says); another
   * thread's calls are served while it waits; a signal without
   * SA_RESTART ends it with EINTR. */
  assert_has(&r, r.out, "timeout: Operation now in progress after 0.3 s");
  assert_has(&r, r.out, "meanwhile: served");
  assert_has(&r, r.out, "signal: Interrupted system call after 1.0 s");
  close(filler);
  close(l);
  run_free(&r);
}

/* AF_UNIX is the program's own: with a second thread alive the
 * supervisor performs bind, connect, listen and sendto on its sockets
 * itself (another thread could swap the fd), in its working directory,
 * under its umask, in its network namespace; the outcome is the native
 * one. Under fx.allow sends with a destination stop too. */
static void test_unix_with_threads(void **state) {
  struct run native = {.tag = "unix-native"}, sec = {.tag = "unix-seccomp"};

  native.argv = (const char *const[]){fx.helper, "unix-threads", NULL};
  run_nobody(&native);
  assert_exit(&native, 0);
  assert_has(&native, native.out, "received: ok\n");
  sec.argv = SECCOMP(fx.allow, fx.helper, "unix-threads");
  run_nobody(&sec);
  assert_exit(&sec, 0);
  if (strcmp(native.out, sec.out) != 0) {
    show(&native);
    show(&sec);
    fail_msg("AF_UNIX with threads differs from the native run");
  }
  run_free(&native);
  run_free(&sec);
}

static void test_io_uring_refused(void **state) {
  struct run r = {.tag = "io_uring"}, native = {.tag = "io_uring-native"};

  native.argv = (const char *const[]){fx.helper, "io_uring", NULL};
  run_nobody(&native);
  assert_has(&native, native.out, "io_uring_setup: a ring");
  r.argv = SECCOMP(fx.allow, fx.helper, "io_uring");
  run_nobody(&r);
  assert_has(&r, r.out, "io_uring_setup: Function not implemented");
  run_free(&r);
  run_free(&native);
}

/* ------------------------------------------------------- the supervisor */

static void test_supervisor_out_of_reach(void **state) {
  struct run r = {.tag = "reach"};
  static const char *const refused[] = {
      "kill: Operation not permitted\n",
      "kill group: Operation not permitted\n",
      "kill -1: Operation not permitted\n",
      "tgkill: Operation not permitted\n",
      "sigqueue: Operation not permitted\n",
      "pidfd_open: Operation not permitted\n",
      "pidfd_send_signal: Function not implemented\n",
      "ptrace: Operation not permitted\n",
      "process_vm_readv: Operation not permitted\n",
      "open mem: Permission denied\n",
      "prlimit: Operation not permitted\n",
      "setpgid: Operation not permitted\n",
      "socket after: ok\n",
  };

  long long deadline;
  char path[64], *status, *p;
  struct stat st;
  int sv = 0;

  r.argv = SECCOMP(fx.allow, fx.helper, "reach");
  r.nobody = true;
  start(&r);
  /* While it runs: the supervisor as the kernel sees it. */
  for (deadline = now_ms() + 10000; !sv && now_ms() < deadline;) {
    char *out = harness_read_text(r.outpath);

    p = strstr(out, "supervisor pid ");
    if (p && strchr(p, '\n'))
      sv = atoi(p + 15);
    free(out);
    sleep_ms(20);
  }
  assert_true(sv > 1);
  snprintf(path, sizeof(path), "/proc/%d/status", sv);
  status = harness_read_text(path);
  /* Not dumpable: its /proc files belong to root, not to its user. */
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_uid, 0);
  assert_non_null(strstr(status, "Uid:\t65534\t65534\t65534\t65534"));
  /* CAP_SYS_PTRACE (19) alone, over the user namespace psock-run made. */
  assert_non_null(strstr(status, "CapEff:\t0000000000080000"));
  free(status);
  assert_int_equal(getpgid(sv), sv); /* its own process group */
  assert_true(finish(&r, RUN_TIMEOUT_MS));
  assert_exit(&r, 0);
  assert_has(&r, r.out, "supervisor is my parent: yes\n");
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    assert_has(&r, r.out, refused[i]);
  run_free(&r);
}

static void test_exit_status_and_signals(void **state) {
  struct run code = {.tag = "exit-42"}, sig = {.tag = "exit-signal"},
             fwd = {.tag = "exit-forwarded"}, missing = {.tag = "exit-missing"};
  long long deadline;

  code.argv = SECCOMP(fx.allow, "/bin/sh", "-c", "exit 42");
  run_nobody(&code);
  assert_exit(&code, 42);

  sig.argv = SECCOMP(fx.allow, "/bin/sh", "-c", "kill -TERM $$");
  run_nobody(&sig);
  if (!WIFSIGNALED(sig.status) || WTERMSIG(sig.status) != SIGTERM) {
    show(&sig);
    fail_msg("the program's SIGTERM is not psock-run's status");
  }

  /* A signal to psock-run is the program's. */
  fwd.argv = SECCOMP(fx.allow, "/bin/sh", "-c",
                     "trap 'echo got TERM; exit 7' TERM; echo ready; "
                     "while :; do sleep 0.05; done");
  fwd.nobody = true;
  start(&fwd);
  deadline = now_ms() + 10000;
  for (char *out = NULL; now_ms() < deadline; free(out)) {
    out = harness_read_text(fwd.outpath);
    if (strstr(out, "ready")) {
      free(out);
      break;
    }
    sleep_ms(20);
  }
  kill(fwd.pid, SIGTERM);
  assert_true(finish(&fwd, 5000));
  assert_exit(&fwd, 7);
  assert_has(&fwd, fwd.out, "got TERM");

  missing.argv = SECCOMP(fx.allow, "/nonexistent/program");
  run_nobody(&missing);
  assert_exit(&missing, 127);
  run_free(&code);
  run_free(&sig);
  run_free(&fwd);
  run_free(&missing);
}

static void test_auto_picks_seccomp(void **state) {
  struct run a = {.tag = "auto"}, p = {.tag = "auto-preload"};

  a.argv = (const char *const[]){
      fx.psock_run, "--socket",       harness_psockd_socket(fx.allow),
      "--",         fx.helper_static, "status",
      NULL};
  run_nobody(&a);
  assert_exit(&a, 0);
  assert_has(&a, a.out, "seccomp=2 nnp=1\n");
  assert_lacks(&a, a.err, "warning");

  p.argv = PRELOAD(fx.allow, fx.helper_static, "status");
  run_nobody(&p);
  assert_exit(&p, 0);
  assert_has(&p, p.out, "seccomp=0");
  assert_has(&p, p.err, "is statically linked: the preload cannot reach it");
  run_free(&a);
  run_free(&p);
}

static void test_policy_hint(void **state) {
  struct run r = {.tag = "hint"};
  char port[16], want[160];

  /* A port no one listens on: the rule is what is asked for. */
  r.argv = (const char *const[]){fx.psock_run,
                                 "--mode=seccomp",
                                 "--policy-hint",
                                 "--socket",
                                 harness_psockd_socket(fx.deny),
                                 "--",
                                 fx.helper_static,
                                 "tcp",
                                 "127.0.0.1",
                                 "9",
                                 NULL};
  snprintf(port, sizeof(port), "9");
  run_nobody(&r);
  assert_has(&r, r.err,
             "psock-run: policy hint: allow uid=65534 socket family=inet "
             "type=stream proto=0\n");
  snprintf(want, sizeof(want),
           "psock-run: policy hint: allow uid=65534 connect family=inet "
           "addr=127.0.0.1 port=%s  # refused: denied by policy",
           port);
  assert_has(&r, r.err, want);
  run_free(&r);
}

/* ---------------------------------------------------------- bubblewrap */

enum sandbox {
  /* bwrap --unshare-net --ro-bind / / --tmpfs /run: /proc is read-only,
   * so psock-run can make no user namespace and stays in bubblewrap's */
  BWRAP_PLAIN,
  /* with a /proc of its own: psock-run makes its namespaces inside */
  BWRAP_PROC,
  /* as Flatpak does, no nested user namespaces (--disable-userns) */
  BWRAP_NO_USERNS,
};

/* psock-run inside bubblewrap as Flatpak runs apps: its own empty network
 * namespace, the host's files read-only, a private /run holding only
 * psockd's socket at its default path. */
static void bwrap_run(struct run *r, enum sandbox how, const char *const *cmd) {
  const char *argv[48];
  size_t n = 0;

  argv[n++] = system_program("bwrap");
  if (how == BWRAP_NO_USERNS) {
    argv[n++] = "--unshare-user";
    argv[n++] = "--disable-userns";
  }
  argv[n++] = "--unshare-net";
  argv[n++] = "--ro-bind";
  argv[n++] = "/";
  argv[n++] = "/";
  if (how != BWRAP_PLAIN) {
    argv[n++] = "--proc";
    argv[n++] = "/proc";
  }
  argv[n++] = "--tmpfs";
  argv[n++] = "/run";
  argv[n++] = "--bind";
  argv[n++] = harness_psockd_socket(fx.allow);
  argv[n++] = "/run/psockd/psockd.sock";
  argv[n++] = "--";
  for (size_t i = 0; cmd[i]; i++)
    argv[n++] = cmd[i];
  argv[n] = NULL;
  r->argv = argv;
  /* Without PSOCK_SOCKET: the default path, as in a real sandbox. */
  unsetenv("PSOCK_SOCKET");
  run_nobody(r);
  setenv("PSOCK_SOCKET", harness_psockd_socket(fx.allow), 1);
}

/* Built with the sanitizers (their runtimes go in front of the preload)? */
static bool sanitizer_build(void) {
  const char *r = getenv("PSOCK_SANITIZER_RUNTIMES");

  return r && *r;
}

static void test_bubblewrap(void **state) {
  struct run cs = {.tag = "bwrap-curl-seccomp"},
             cp = {.tag = "bwrap-curl-preload"}, gs = {.tag = "bwrap-go"},
             gp = {.tag = "bwrap-go-proc"}, gn = {.tag = "bwrap-go-no-userns"},
             cn = {.tag = "bwrap-curl-no-userns"};
  char curl[PATH_MAX], url[128];
  uint16_t port = 0;
  pid_t web = start_http(API_DNS_ADDR, &port, WEB_BODY);

  /* system_program()'s buffers are reused: bwrap_run() calls it too. */
  snprintf(curl, sizeof(curl), "%s", system_program("curl"));
  snprintf(url, sizeof(url), "http://" API_DNS_NAME ":%u/", port);
  bwrap_run(&cs, BWRAP_PLAIN,
            (const char *const[]){fx.psock_run, "--mode=seccomp", "--", curl,
                                  "-sS", "--max-time", "10", url, NULL});
  assert_exit(&cs, 0);
  assert_has(&cs, cs.out, WEB_BODY);
  /* curl is not built with the sanitizers: in such a build it does not
   * start with their runtimes preloaded (test_psock_run skips it too). */
  if (sanitizer_build()) {
    print_message("skipped curl through the preload in bubblewrap: curl "
                  "does not start with the sanitizer runtimes preloaded\n");
  } else {
    bwrap_run(&cp, BWRAP_PLAIN,
              (const char *const[]){fx.psock_run, "--mode=preload", "--", curl,
                                    "-sS", "--max-time", "10", url, NULL});
    assert_exit(&cp, 0);
    assert_has(&cp, cp.out, WEB_BODY);
  }
  bwrap_run(&gs, BWRAP_PLAIN,
            (const char *const[]){fx.psock_run, "--", fx.go_static, url, NULL});
  assert_exit(&gs, 0);
  assert_has(&gs, gs.out, WEB_BODY);

  bwrap_run(&gp, BWRAP_PROC,
            (const char *const[]){fx.psock_run, "--", fx.go_static, url, NULL});
  assert_exit(&gp, 0);
  assert_has(&gp, gp.out, WEB_BODY);

  bwrap_run(&gn, BWRAP_NO_USERNS,
            (const char *const[]){fx.psock_run, "--", fx.go_static, url, NULL});
  assert_exit(&gn, 0);
  assert_has(&gn, gn.out, WEB_BODY);
  if (sanitizer_build()) {
    print_message("skipped curl through the preload in bubblewrap without "
                  "user namespaces: curl does not start with the sanitizer "
                  "runtimes preloaded\n");
  } else {
    bwrap_run(&cn, BWRAP_NO_USERNS,
              (const char *const[]){fx.psock_run, "--mode=preload", "--", curl,
                                    "-sS", "--max-time", "10", url, NULL});
    assert_exit(&cn, 0);
    assert_has(&cn, cn.out, WEB_BODY);
  }
  stop_pid(web);
  run_free(&cs);
  run_free(&cp);
  run_free(&gs);
  run_free(&gp);
  run_free(&gn);
  run_free(&cn);
}

/* ------------------------------------------------------------- fixture */

static int setup(void **state) {
  char resolv[128], preload[3 * PATH_MAX], why[256];

  /* In a sanitizer build, LeakSanitizer stops a program's threads from a
   * tracer it makes with a clone that shares the fd table without being a
   * thread, which the seccomp mode refuses (EPERM; see seccomp_filter.c):
   * the check would fail at every exit. Leak checks of psock-run's code
   * and the programs' run in the preload-mode tests instead. */
  setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
  snprintf(fx.work, sizeof(fx.work), "/tmp/psock-seccomp.XXXXXX");
  if (!mkdtemp(fx.work))
    fail_msg("mkdtemp: %s", strerror(errno));
  assert_int_equal(chmod(fx.work, 0755), 0);
  snprintf(fx.files, sizeof(fx.files), "%s/files", fx.work);
  assert_int_equal(mkdir(fx.files, 0777), 0);
  assert_int_equal(chmod(fx.files, 0777), 0);
  snprintf(run_files, sizeof(run_files), "%s", fx.files);

  copy_in(fx.work, "PSOCK_RUN", "psock-run", fx.psock_run);
  copy_in(fx.work, "PSOCK_PRELOAD_LIB", "libpsock-preload.so", fx.preload);
  copy_in(fx.work, "PSOCK_SOCKCALLS", "sockcalls", fx.sockcalls);
  copy_in(fx.work, "PSOCK_RUN_HELPER", "psock_run_helper", fx.stress);
  copy_in(fx.work, "SECCOMP_HELPER", "seccomp_helper", fx.helper);
  copy_in(fx.work, "SECCOMP_HELPER_STATIC", "seccomp_helper_static",
          fx.helper_static);
  snprintf(fx.busybox, sizeof(fx.busybox), "%s/busybox", fx.work);
  if (harness_copy_file(system_program("busybox"), fx.busybox, 0755) < 0)
    fail_msg("copying busybox: %s", strerror(errno));
  go_build(fx.work, "client", false, fx.go_static);
  go_build(fx.work, "client", true, fx.go_cgo);
  go_build(fx.work, "server", false, fx.go_server);
  /* The preload-mode runs: in a sanitizer build, the runtimes come first
   * in LD_PRELOAD, or an instrumented program refuses to start. */
  if (harness_sanitizer_runtimes(preload, sizeof(preload), why, sizeof(why)) <
      0)
    fail_msg("%s", why);
  strncat(preload, fx.preload, sizeof(preload) - strlen(preload) - 1);
  if (setenv("PSOCK_PRELOAD", preload, 1) < 0)
    fail_msg("setenv: %s", strerror(errno));

  /* A real name service: the test's DNS server on the host's loopback,
   * named in a resolv.conf that psockd and the programs share. */
  fx.dns = api_start_dns();
  snprintf(resolv, sizeof(resolv),
           "nameserver %s\noptions timeout:3 attempts:1\n",
           api_dns_address(fx.dns));
  harness_private_name_service(API_HOSTS, resolv, NSSWITCH);
  fx.allow = start_with_policy("allow", POLICY_ALLOW);
  fx.deny = start_with_policy("deny", POLICY_DENY);
  fx.nodns = start_with_policy("nodns", POLICY_NO_DNS);
  fx.everything = start_with_policy("everything", POLICY_EVERYTHING);
  fx.dflt = harness_start_psockd_default_policy(
      (const char *const[]){"--workers", "1", "--audit-allow", NULL});
  return 0;
}

static int teardown(void **state) {
  char cmd[PATH_MAX + 16];

  harness_stop_psockd(fx.dflt);
  harness_stop_psockd(fx.everything);
  harness_stop_psockd(fx.nodns);
  harness_stop_psockd(fx.deny);
  harness_stop_psockd(fx.allow);
  api_stop_dns(fx.dns);
  /* Our own directory, named by mkdtemp: nothing else is removed. */
  if (strncmp(fx.work, "/tmp/psock-seccomp.", 19) == 0) {
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", fx.work);
    (void)!system(cmd);
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_auto_picks_seccomp),
      cmocka_unit_test(test_go_static_by_host_name),
      cmocka_unit_test(test_go_cgo_by_host_name),
      cmocka_unit_test(test_go_server_port_80),
      cmocka_unit_test(test_static_c_tcp_and_udp),
      cmocka_unit_test(test_ping),
      cmocka_unit_test(test_toctou_connect_and_sendmsg),
      cmocka_unit_test(test_own_connect_and_sendto),
      cmocka_unit_test(test_conformance),
      cmocka_unit_test(test_privilege_granted),
      cmocka_unit_test(test_interface_names),
      cmocka_unit_test(test_threads_fork_exec_close_dup2),
      cmocka_unit_test(test_blocking_connect),
      cmocka_unit_test(test_unix_with_threads),
      cmocka_unit_test(test_io_uring_refused),
      cmocka_unit_test(test_supervisor_out_of_reach),
      cmocka_unit_test(test_exit_status_and_signals),
      cmocka_unit_test(test_policy_hint),
      cmocka_unit_test(test_bubblewrap),
  };

  return cmocka_run_group_tests_name("psock-run-seccomp", tests, setup,
                                     teardown);
}
