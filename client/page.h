/* SPDX-License-Identifier: MIT */
/*
 * page: the policy page psockd shares read-only with a connection
 * (proto/policy_page.h, issue 16): mapped from the fd of a HelloReply,
 * checked, read with its seqlock. Knows nothing of connections or calls;
 * conn.c keeps one mapping per connection, fast.c decides by what it says.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy_page.h"

/* What a page said at one consistent read. */
struct pc_page_view {
  uint64_t page;       /* which page (its memfd's inode); 0: none */
  uint64_t generation; /* of the policy in force at the worker */
  uint32_t free;       /* enum psock_free_call bits */
  uint32_t batch;      /* enum psock_batch_kind bits */
};

/*
 * Map fd (closed here in every case) read-only if it is a policy page of
 * this layout: a regular file of exactly PSOCK_PAGE_SIZE bytes, sealed so
 * that it can neither shrink (a read could fault) nor be written through
 * any other mapping or fd (F_SEAL_FUTURE_WRITE or F_SEAL_WRITE: only
 * psockd's own mapping from before the seal writes it, so no process of
 * the same user can make a call look free to another, such as psock-run's
 * supervisor), with PSOCK_PAGE_MAGIC and PSOCK_PAGE_LAYOUT. The mapping,
 * and its identity in *ret_id; NULL for anything else (nothing recorded,
 * nothing logged: the caller goes on without a page).
 */
const struct psock_page *pc_page_map(int fd, uint64_t *ret_id);

/* Unmap a page of pc_page_map(); NULL is ignored. */
void pc_page_unmap(const struct psock_page *p);

/*
 * Read p with its seqlock: true and *ret filled (ret->page = id) from one
 * consistent state of the page; false while psockd rewrites it (seq odd,
 * or changed during the read), when nothing may be taken as free.
 */
bool pc_page_read(const struct psock_page *p, uint64_t id,
                  struct pc_page_view *ret);
