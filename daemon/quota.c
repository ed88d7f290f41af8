/* SPDX-License-Identifier: MIT */
/*
 * quota: per-uid counters in a small open-addressing table per counter.
 * Only the event loop thread touches them.
 */
#include "quota.h"

#include <stdint.h>
#include <stdlib.h>

struct limits limits = {
    .inflight_per_conn = LIMITS_DEFAULT_INFLIGHT_PER_CONN,
    .lookups_per_uid = LIMITS_DEFAULT_LOOKUPS_PER_UID,
    .conns_per_uid = LIMITS_DEFAULT_CONNS_PER_UID,
};

struct slot {
  uid_t uid;
  unsigned count; /* 0: free */
};

struct table {
  struct slot *slots;
  size_t size, used; /* size is a power of two */
};

static struct table tables[2];

static size_t hash(uid_t uid, size_t size) {
  return ((uint32_t)uid * 2654435761u) & (size - 1);
}

static struct slot *find(struct table *t, uid_t uid, bool insert);

static bool grow(struct table *t) {
  struct table old = *t;
  size_t size = old.size ? old.size * 2 : 64;

  t->slots = calloc(size, sizeof(*t->slots));
  if (!t->slots) {
    *t = old;
    return false;
  }
  t->size = size;
  t->used = 0;
  for (size_t i = 0; i < old.size; i++)
    if (old.slots[i].count) {
      struct slot *s = find(t, old.slots[i].uid, true);
      s->count = old.slots[i].count;
    }
  free(old.slots);
  return true;
}

/* Linear probing; entries with count 0 are free and never skipped over
 * by a lookup, so a uid is always found before the first free slot. */
static struct slot *find(struct table *t, uid_t uid, bool insert) {
  if (insert && (t->used + 1) * 2 > t->size && !grow(t))
    return NULL;
  if (!t->size)
    return NULL;
  for (size_t i = hash(uid, t->size);; i = (i + 1) & (t->size - 1)) {
    struct slot *s = &t->slots[i];
    if (s->count && s->uid == uid)
      return s;
    if (!s->count) {
      if (!insert)
        return NULL;
      s->uid = uid;
      t->used++;
      return s;
    }
  }
}

/* Deleting from linear probing: re-insert the run that follows. */
static void erase(struct table *t, struct slot *s) {
  size_t i = (size_t)(s - t->slots);

  s->count = 0;
  t->used--;
  for (i = (i + 1) & (t->size - 1); t->slots[i].count;
       i = (i + 1) & (t->size - 1)) {
    struct slot moved = t->slots[i];
    t->slots[i].count = 0;
    t->used--;
    *find(t, moved.uid, true) = moved;
  }
}

bool limits_take(enum limits_counter which, uid_t uid, unsigned max) {
  struct table *t = &tables[which];
  struct slot *s = find(t, uid, true);

  if (!s)
    return false; /* out of memory: refuse rather than not count */
  if (s->count >= max) {
    if (s->count == 0) /* max 0: the slot was just taken */
      erase(t, s);
    return false;
  }
  s->count++;
  return true;
}

void limits_give(enum limits_counter which, uid_t uid) {
  struct table *t = &tables[which];
  struct slot *s = find(t, uid, false);

  if (s && --s->count == 0) {
    s->count = 1; /* erase() expects a used slot */
    erase(t, s);
  }
}

void limits_cleanup(void) {
  for (size_t i = 0; i < 2; i++) {
    free(tables[i].slots);
    tables[i] = (struct table){0};
  }
}
