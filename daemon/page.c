/* SPDX-License-Identifier: MIT */
/*
 * page: the policy page's memfd, its one writable mapping and the writer's
 * side of its seqlock (see page.h and proto/policy_page.h).
 *
 * Trust boundary: see page.h. The seals are checked after they are set,
 * so that a kernel that took fewer than asked never serves a page a
 * client could write.
 */
#include "page.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "policy_page.h"

/* Older libc headers lack them (Linux 5.1, 6.3). */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

#define PAGE_SEALS                                                             \
  (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

struct page {
  int fd;
  struct psock_page *map; /* the one writable mapping */
};

int page_new(struct page **ret) {
  _cleanup_close_ int fd = -1;
  _cleanup_free_ struct page *pg = calloc(1, sizeof(*pg));
  struct psock_page *map;
  int seals, r = 0;

  if (!pg)
    return -ENOMEM;
  /* Never executable where the kernel can say so (6.3: F_SEAL_EXEC). */
  fd = memfd_create("psock-page",
                    MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create("psock-page", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, PSOCK_PAGE_SIZE) < 0)
    return -errno;
  map = mmap(NULL, PSOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED)
    return -errno;
  /* The rest of the page is zero: seq 0 (even, valid), generation 0,
   * nothing free, no batch. */
  map->magic = PSOCK_PAGE_MAGIC;
  map->layout = PSOCK_PAGE_LAYOUT;
  /* F_SEAL_FUTURE_WRITE, unlike F_SEAL_WRITE, spares the writable
   * mapping that exists already: ours. */
  if (fcntl(fd, F_ADD_SEALS, PAGE_SEALS) < 0 ||
      (seals = fcntl(fd, F_GET_SEALS)) < 0)
    r = -errno;
  else if ((seals & PAGE_SEALS) != PAGE_SEALS)
    r = -EPERM;
  if (r < 0) {
    munmap(map, PSOCK_PAGE_SIZE);
    return r;
  }
  pg->fd = TAKE_FD(fd);
  pg->map = map;
  *ret = TAKE_PTR(pg);
  return 0;
}

void page_publish(struct page *pg, uint32_t free_calls, uint32_t batch) {
  struct psock_page *p = pg->map;
  uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);
  uint64_t gen = __atomic_load_n(&p->generation, __ATOMIC_RELAXED);

  /* Odd first; the fence keeps every store below after it, so a reader
   * that sees a new field also sees seq changed. */
  __atomic_store_n(&p->seq, seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  __atomic_store_n(&p->free, free_calls, __ATOMIC_RELAXED);
  __atomic_store_n(&p->batch, batch, __ATOMIC_RELAXED);
  __atomic_store_n(&p->generation, gen + 1, __ATOMIC_RELAXED);
  __atomic_store_n(&p->seq, seq + 2, __ATOMIC_RELEASE);
}

uint64_t page_generation(const struct page *pg) {
  return __atomic_load_n(&pg->map->generation, __ATOMIC_RELAXED);
}

int page_dup_fd(const struct page *pg) {
  int fd;

  if (!pg)
    return -EBADF;
  fd = fcntl(pg->fd, F_DUPFD_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

void page_free(struct page *pg) {
  if (!pg)
    return;
  munmap(pg->map, PSOCK_PAGE_SIZE);
  close(pg->fd);
  free(pg);
}
