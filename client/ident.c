/* SPDX-License-Identifier: MIT */
/*
 * ident: the caller's pid and ids (see ident.h).
 *
 * A thread whose identity can no longer change reads it once: with no
 * capability in its permitted set and one uid and one gid for real,
 * effective and saved, setuid(), setgid() and setgroups() can only set
 * what it already has (only an execve() could give it more, and that
 * replaces this library). Sandboxed programs are such threads and pay no
 * system call per request for their identity. A new user namespace
 * renumbers the ids without changing them: the kernel then refuses the
 * cached numbers in SCM_CREDENTIALS, and the thread reads them again. Per
 * thread, because the kernel keeps credentials per thread.
 *
 * Trust boundary: none; everything here is the kernel's word about us.
 */
#include "ident.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

/* Supplementary groups compared without an allocation. */
#define GROUPS_ON_STACK 64

static _Thread_local struct {
  bool checked, frozen;
  bool plain; /* real ids == effective ids */
  uid_t euid;
  gid_t egid;
  int ngroups;
  gid_t groups[GROUPS_ON_STACK];
} frozen;

static pthread_once_t pid_once = PTHREAD_ONCE_INIT;
/* Our pid, in a page the kernel wipes in the child of any fork; NULL where
 * MADV_WIPEONFORK is not supported. */
static pid_t *pid_page;

static void pid_init(void) {
  size_t size = (size_t)sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  if (p != MAP_FAILED && madvise(p, size, MADV_WIPEONFORK) < 0) {
    munmap(p, size);
    p = MAP_FAILED;
  }
  pid_page = p == MAP_FAILED ? NULL : p;
}

pid_t pc_self_pid(void) {
  pid_t pid;

  pthread_once(&pid_once, pid_init);
  if (!pid_page)
    return getpid();
  pid = __atomic_load_n(pid_page, __ATOMIC_RELAXED);
  if (pid == 0) {
    pid = getpid();
    __atomic_store_n(pid_page, pid, __ATOMIC_RELAXED);
  }
  return pid;
}

void pc_ident_recheck(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  int n;

  frozen.checked = true;
  frozen.frozen = false;
  if (syscall(SYS_capget, &h, caps) < 0 || caps[0].permitted ||
      caps[1].permitted)
    return;
  if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
      ru != eu || eu != su || rg != eg || eg != sg)
    return;
  n = getgroups(GROUPS_ON_STACK, frozen.groups);
  if (n < 0)
    return;
  frozen.ngroups = n;
  frozen.euid = eu;
  frozen.egid = eg;
  frozen.plain = true;
  frozen.frozen = true;
}

void pc_ident_forget(void) {
  frozen.checked = false;
}

int pc_ident_fix(void) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  int n;

  if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
    return -errno;
  n = getgroups(GROUPS_ON_STACK, frozen.groups);
  if (n < 0)
    return -errno;
  frozen.ngroups = n;
  frozen.euid = eu;
  frozen.egid = eg;
  frozen.plain = ru == eu && rg == eg;
  frozen.checked = true;
  frozen.frozen = true;
  return 0;
}

void pc_ident_now(struct pc_ident *id) {
  if (!frozen.checked)
    pc_ident_recheck();
  id->frozen = frozen.frozen;
  id->kernel_creds = frozen.frozen && frozen.plain;
  id->euid = frozen.frozen ? frozen.euid : geteuid();
  id->egid = frozen.frozen ? frozen.egid : getegid();
}

int pc_ident_groups(const struct pc_ident *id, gid_t **ret, int *ret_n) {
  _cleanup_free_ gid_t *g = NULL;
  int n;

  if (id->frozen) {
    n = frozen.ngroups;
    g = n ? malloc((size_t)n * sizeof(gid_t)) : NULL;
    if (n && !g)
      return -ENOMEM;
    if (n)
      memcpy(g, frozen.groups, (size_t)n * sizeof(gid_t));
    *ret = TAKE_PTR(g);
    *ret_n = n;
    return 0;
  }

  /* Count, then read: if a setgroups() in another thread changed the
   * count in between, the read fails or falls short; again. */
  for (;;) {
    n = getgroups(0, NULL);
    if (n < 0)
      return -errno;
    free(g);
    g = n ? malloc((size_t)n * sizeof(gid_t)) : NULL;
    if (n && !g)
      return -ENOMEM;
    if (getgroups(n, g) == n)
      break;
  }
  *ret = TAKE_PTR(g);
  *ret_n = n;
  return 0;
}

/* With room for exactly the n groups expected, any other set fails or
 * differs. */
bool pc_ident_same_groups(const struct pc_ident *id, const gid_t *groups,
                          int n) {
  gid_t stack[GROUPS_ON_STACK];
  _cleanup_free_ gid_t *heap = NULL;
  gid_t *g = stack;
  int got;

  if (id->frozen)
    return n == frozen.ngroups &&
           (n == 0 ||
            memcmp(groups, frozen.groups, (size_t)n * sizeof(gid_t)) == 0);
  if (n > GROUPS_ON_STACK) {
    g = heap = malloc((size_t)n * sizeof(gid_t));
    if (!heap)
      return false; /* a new connection is always safe */
  }
  got = getgroups(n, g);
  return got == n &&
         (n == 0 || memcmp(g, groups, (size_t)n * sizeof(gid_t)) == 0);
}
