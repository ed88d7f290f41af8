/* SPDX-License-Identifier: MIT */
/*
 * page: the policy page (see page.h).
 *
 * Trust boundary: the page is psockd's, received on our connection to it;
 * what it says can only spare a round trip for a call the program could
 * make itself (policy_page.h). Its checks are that it is what it claims
 * and that nobody but psockd can change it: a page that fails them is not
 * used at all.
 */
#include "page.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

const struct psock_page *pc_page_map(int fd, uint64_t *ret_id) {
  const struct psock_page *p;
  struct stat st;
  void *m;
  int seals;

  if (fd < 0)
    return NULL;
  seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
      st.st_size != (off_t)PSOCK_PAGE_SIZE || seals < 0 ||
      !(seals & F_SEAL_SHRINK) ||
      !(seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE))) {
    close(fd);
    return NULL;
  }
  m = mmap(NULL, PSOCK_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return NULL;
  p = m;
  /* Fixed for the page's life: plain loads. */
  if (p->magic != PSOCK_PAGE_MAGIC || p->layout != PSOCK_PAGE_LAYOUT) {
    munmap(m, PSOCK_PAGE_SIZE);
    return NULL;
  }
  *ret_id = (uint64_t)st.st_ino;
  return p;
}

void pc_page_unmap(const struct psock_page *p) {
  if (p)
    munmap((void *)p, PSOCK_PAGE_SIZE);
}

/* The reader's half of the seqlock in policy_page.h: seq (acquire), the
 * fields, an acquire fence, seq again. */
bool pc_page_read(const struct psock_page *p, uint64_t id,
                  struct pc_page_view *ret) {
  uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
  struct pc_page_view v = {.page = id};

  if (seq & 1)
    return false;
  v.generation = __atomic_load_n(&p->generation, __ATOMIC_RELAXED);
  v.free = __atomic_load_n(&p->free, __ATOMIC_RELAXED);
  v.batch = __atomic_load_n(&p->batch, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) != seq)
    return false;
  *ret = v;
  return true;
}
