/* SPDX-License-Identifier: MIT */
/*
 * page: a worker's policy page (proto/policy_page.h, issue 16): a sealed
 * memfd that tells the clients of the worker's one identity which calls
 * its policy leaves free and which socket kinds it batches. The worker
 * writes it through the one writable mapping it made before sealing; its
 * clients get it with the HelloReply and can only read it.
 *
 * Trust boundary: the memfd leaves the worker for every client that asks;
 * the seals (no shrinking, growing, new writable mapping or write, no
 * further seal) are what keep a client from writing it, for itself or the
 * identity's other clients. Nothing is read back from it.
 */
#pragma once

#include <stdint.h>

struct page;

/*
 * Make the page: a memfd of PSOCK_PAGE_SIZE bytes with the magic and the
 * layout, generation 0 and nothing free, mapped writable, then sealed
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL, which
 * needs Linux 5.1). Before the worker filters its system calls:
 * memfd_create(), ftruncate() and the seals are not in its list. 0 and
 * *ret, or -errno (nothing is left open).
 */
int page_new(struct page **ret);

/*
 * Publish what the policy just installed leaves free (enum psock_free_call
 * bits) and batches (enum psock_batch_kind bits), generation + 1, by the
 * header's seqlock: a client reading meanwhile sees an odd seq or a seq
 * that changed, never the old values as valid with the new generation or
 * the other way round. One writer: the worker's loop thread.
 */
void page_publish(struct page *pg, uint32_t free_calls, uint32_t batch);

/* The generation last published (0: none yet). */
uint64_t page_generation(const struct page *pg);

/* A new close-on-exec fd of the page, for a reply to take: >= 0, or
 * -errno (-EBADF without a page). */
int page_dup_fd(const struct page *pg);

/* Unmap and close. NULL is ignored. */
void page_free(struct page *pg);
