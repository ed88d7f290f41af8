/* SPDX-License-Identifier: MIT */
/*
 * bounds: the bounds psockd keeps on what a client controls, as the
 * command line set them (psockd(8), LIMITS). Each process role reads the
 * ones it enforces: a worker the requests in flight per connection and the
 * name lookups in flight per worker (its resolver's slots), the master the
 * connections per uid.
 */
#pragma once

struct bounds {
  unsigned inflight_per_conn; /* requests answered off the event loop */
  unsigned lookups_per_uid;   /* name lookups in flight per worker */
  unsigned conns_per_uid;     /* client connections per uid (master) */
};

#define BOUNDS_DEFAULT_INFLIGHT_PER_CONN 64
#define BOUNDS_DEFAULT_LOOKUPS_PER_UID 16
#define BOUNDS_DEFAULT_CONNS_PER_UID 1024

extern struct bounds bounds;
