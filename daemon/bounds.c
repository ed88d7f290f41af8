/* SPDX-License-Identifier: MIT */
/*
 * bounds: the configured bounds (see bounds.h), set once from the command
 * line before a role starts serving.
 */
#include "bounds.h"

struct bounds bounds = {
    .inflight_per_conn = BOUNDS_DEFAULT_INFLIGHT_PER_CONN,
    .lookups_per_uid = BOUNDS_DEFAULT_LOOKUPS_PER_UID,
    .conns_per_uid = BOUNDS_DEFAULT_CONNS_PER_UID,
};
