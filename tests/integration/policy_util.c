/* SPDX-License-Identifier: MIT */
/*
 * Support for the policy integration tests (see policy_util.h).
 *
 * Trust: test code, run as root. The children that call pol_denied() and
 * pol_allowed() share one anonymous mapping with the test process; they
 * only append records to it.
 */
#include "policy_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define MAX_RECORDS 128
#define RUN_TIMEOUT_MS 10000

long long pol_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pol_sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* ------------------------------------------------------- policy files */

void pol_make_dir(char dir[POL_PATH_MAX]) {
  snprintf(dir, POL_PATH_MAX, "%s", POL_DIR_TEMPLATE);
  if (!mkdtemp(dir))
    fail_msg("mkdtemp: %s", strerror(errno));
  assert_int_equal(chmod(dir, 0755), 0);
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw) {
  if (remove(path) < 0)
    fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
  return 0;
}

void pol_remove_dir(const char *dir) {
  if (dir && *dir)
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void pol_write_file(const char *path, const char *text) {
  char tmp[POL_FILE_MAX + 8];
  size_t len = strlen(text);
  FILE *f;

  snprintf(tmp, sizeof(tmp), "%s.new", path);
  f = fopen(tmp, "we");
  if (!f)
    fail_msg("%s: %s", tmp, strerror(errno));
  if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
    fail_msg("writing %s: %s", tmp, strerror(errno));
  /* psockd reads either the old file or the new one, never half of one. */
  if (rename(tmp, path) < 0)
    fail_msg("rename %s: %s", path, strerror(errno));
}

char *pol_read_file(const char *path) {
  char *text = NULL;
  size_t cap = 0;
  FILE *f = fopen(path, "re");

  if (!f)
    return NULL;
  if (getdelim(&text, &cap, '\0', f) < 0) {
    free(text);
    text = strdup("");
  }
  fclose(f);
  return text;
}

unsigned pol_add(struct pol_text *t, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(t->buf) - t->len - 1)
    fail_msg("policy text too long");
  t->len += (size_t)n;
  t->buf[t->len++] = '\n';
  t->buf[t->len] = '\0';
  return ++t->lines;
}

const char *pol_rule(const char *path, unsigned line) {
  static char bufs[8][POL_RULE_MAX];
  static unsigned next;
  char *b = bufs[next++ % 8];

  snprintf(b, sizeof(bufs[0]), "%s:%u", path, line);
  return b;
}

/* --------------------------------------------- decisions and the audit */

struct record {
  bool allow;
  pid_t pid;
  uid_t uid;
  char call[16];
  char args[96];
  char rule[POL_RULE_MAX];
};

struct records {
  atomic_uint n;
  struct record r[MAX_RECORDS];
};

static struct records *records;

void pol_audit_init(void) {
  if (records)
    return;
  records = mmap(NULL, sizeof(*records), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(records != MAP_FAILED);
  atomic_init(&records->n, 0);
}

void pol_audit_reset(void) {
  if (records)
    atomic_store(&records->n, 0);
}

static int record(bool allow, const char *rule, const char *call,
                  const char *args) {
  unsigned i;
  struct record *r;

  if (!records) {
    fprintf(stderr, "pol_audit_init() was not called\n");
    return -1;
  }
  i = atomic_fetch_add(&records->n, 1);
  if (i >= MAX_RECORDS) {
    fprintf(stderr, "more than %d audit records\n", MAX_RECORDS);
    return -1;
  }
  r = &records->r[i];
  r->allow = allow;
  r->pid = getpid();
  r->uid = getuid();
  snprintf(r->call, sizeof(r->call), "%s", call);
  snprintf(r->args, sizeof(r->args), "%s", args ? args : "");
  snprintf(r->rule, sizeof(r->rule), "%s", rule);
  return 0;
}

int pol_denied(int err, const char *rule, const char *call, const char *args) {
  char want[256];
  const char *msg = psock_last_error_message();
  int saved = errno;

  snprintf(want, sizeof(want), "denied by policy (%s)", rule);
  if (psock_last_error_kind() != PSOCK_ERR_POLICY ||
      psock_last_error_code() != err || saved != err ||
      strcmp(msg, want) != 0) {
    fprintf(stderr,
            "expected a policy refusal: %s with \"%s\"\n"
            "     got: kind %d code %d errno %d (%s) with \"%s\"\n",
            strerrorname_np(err), want, psock_last_error_kind(),
            psock_last_error_code(), saved, strerror(saved), msg);
    return -1;
  }
  return record(false, rule, call, args);
}

int pol_allowed(const char *rule, const char *call, const char *args) {
  return record(true, rule, call, args);
}

/*
 * Does line[0..len) hold record r's audit entry? The entry is exactly
 * "audit: decision=D uid=U gid=G pid=P unit=UNIT call=C ARGS rule="RULE"",
 * with r->args somewhere in ARGS and no second call= in it.
 */
static bool line_matches(const char *line, size_t len, const struct record *r) {
  char buf[2048], decision[8], unit[300], call[32], rule[POL_RULE_MAX + 16];
  const char *audit, *args;
  unsigned uid, gid;
  int pid, off = -1;
  size_t rlen;

  if (len >= sizeof(buf))
    return false;
  memcpy(buf, line, len);
  buf[len] = '\0';
  audit = strstr(buf, "audit: ");
  if (!audit ||
      sscanf(audit,
             "audit: decision=%7s uid=%u gid=%u pid=%d unit=%299s "
             "call=%31s %n",
             decision, &uid, &gid, &pid, unit, call, &off) != 6 ||
      off < 0)
    return false;
  args = audit + off;
  snprintf(rule, sizeof(rule), " rule=\"%s\"", r->rule);
  rlen = strlen(rule);
  return strcmp(decision, r->allow ? "allow" : "deny") == 0 &&
         uid == (unsigned)r->uid && pid == (int)r->pid &&
         strcmp(call, r->call) == 0 && !strstr(args, "call=") &&
         strstr(args, r->args) && len >= rlen &&
         strcmp(buf + len - rlen, rule) == 0;
}

static bool log_has(const char *log, const struct record *r) {
  for (const char *l = log; *l;) {
    const char *end = strchrnul(l, '\n');

    if (line_matches(l, (size_t)(end - l), r))
      return true;
    l = *end ? end + 1 : end;
  }
  return false;
}

void pol_assert_audited(const struct psockd_proc *p) {
  unsigned n = records ? atomic_load(&records->n) : 0;
  char *log = harness_psockd_log(p);
  unsigned missing = 0;

  assert_true(n <= MAX_RECORDS);
  for (unsigned i = 0; i < n; i++) {
    const struct record *r = &records->r[i];

    if (log_has(log, r))
      continue;
    if (!missing++)
      harness_print_psockd_log(p);
    fprintf(stderr,
            "no audit line: decision=%s uid=%u pid=%d call=%s \"%s\" "
            "rule=\"%s\"\n",
            r->allow ? "allow" : "deny", (unsigned)r->uid, (int)r->pid, r->call,
            r->args, r->rule);
  }
  free(log);
  pol_audit_reset();
  if (missing)
    fail_msg("%u of %u decisions are not in psockd's audit log", missing, n);
}

/* ------------------------------------------------------------- the log */

unsigned pol_log_count(const struct psockd_proc *p, const char *needle) {
  char *log = harness_psockd_log(p);
  unsigned n = 0;

  for (const char *l = log; *l;) {
    const char *end = strchrnul(l, '\n');
    const char *hit = memmem(l, (size_t)(end - l), needle, strlen(needle));

    n += hit != NULL;
    l = *end ? end + 1 : end;
  }
  free(log);
  return n;
}

unsigned pol_wait_log_count(const struct psockd_proc *p, const char *needle,
                            unsigned n, int timeout_ms) {
  long long deadline = pol_now_ms() + timeout_ms;
  unsigned have;

  while ((have = pol_log_count(p, needle)) < n && pol_now_ms() < deadline)
    pol_sleep_ms(5);
  return have;
}

/* ---------------------------------------------------------- commands */

static int temp_file(char *path) {
  int fd;

  strcpy(path, "/tmp/psock-pol-run.XXXXXX");
  fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0)
    fail_msg("mkostemp: %s", strerror(errno));
  unlink(path);
  return fd;
}

static char *slurp_fd(int fd) {
  struct stat st;
  char *text;
  ssize_t n;

  if (fstat(fd, &st) < 0)
    return strdup("");
  text = calloc(1, (size_t)st.st_size + 1);
  if (!text)
    abort();
  n = pread(fd, text, (size_t)st.st_size, 0);
  text[n > 0 ? n : 0] = '\0';
  return text;
}

int pol_run(const char *const *argv, char **ret_out, char **ret_err) {
  char opath[64], epath[64];
  int out = temp_file(opath), err = temp_file(epath), status = 0, ret = -1;
  long long deadline;
  pid_t pid, r;

  fflush(NULL);
  pid = fork();
  if (pid < 0)
    fail_msg("fork: %s", strerror(errno));
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
      _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  deadline = pol_now_ms() + RUN_TIMEOUT_MS;
  while ((r = waitpid(pid, &status, WNOHANG)) == 0 && pol_now_ms() < deadline)
    pol_sleep_ms(2);
  if (r == 0) {
    fprintf(stderr, "%s did not finish within %d ms: killed\n", argv[0],
            RUN_TIMEOUT_MS);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (r == pid && WIFEXITED(status)) {
    ret = WEXITSTATUS(status);
  }
  if (ret_out)
    *ret_out = slurp_fd(out);
  if (ret_err)
    *ret_err = slurp_fd(err);
  close(out);
  close(err);
  return ret;
}

const char *pol_binary(const char *var) {
  const char *bin = getenv(var);

  if (!bin || !*bin)
    fail_msg("%s is not set: run this test through `meson test`", var);
  if (access(bin, X_OK) < 0)
    fail_msg("%s=%s: %s", var, bin, strerror(errno));
  return bin;
}

/* ------------------------------------------------------ identities */

const char *pol_nobody_user(void) {
  static char name[64];
  struct passwd *pw;

  if (!*name) {
    pw = getpwuid(HARNESS_NOBODY_UID);
    if (!pw)
      fail_msg("no passwd entry for uid %d", HARNESS_NOBODY_UID);
    snprintf(name, sizeof(name), "%s", pw->pw_name);
  }
  return name;
}

const char *pol_nobody_group(void) {
  static char name[64];
  struct group *gr;

  if (!*name) {
    gr = getgrgid(HARNESS_NOBODY_GID);
    if (!gr)
      fail_msg("no group entry for gid %d", HARNESS_NOBODY_GID);
    snprintf(name, sizeof(name), "%s", gr->gr_name);
  }
  return name;
}

/* A name the policy file takes as it is (no odd characters). */
static bool plain_name(const char *s) {
  if (!*s || strlen(s) >= 32)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-'))
      return false;
  return true;
}

void pol_other_group(gid_t *ret_gid, char *name, size_t len) {
  struct group *gr;
  bool found = false;

  setgrent();
  while (!found && (gr = getgrent()))
    if (gr->gr_gid != 0 && gr->gr_gid < HARNESS_NOBODY_GID &&
        plain_name(gr->gr_name)) {
      *ret_gid = gr->gr_gid;
      snprintf(name, len, "%s", gr->gr_name);
      found = true;
    }
  endgrent();
  if (!found)
    fail_msg("no group other than root's and nobody's to test with");
}
