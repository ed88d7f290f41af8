/* SPDX-License-Identifier: MIT */
/*
 * names: the name-service handlers the resolver role runs (names.c).
 */
#pragma once

#include "call.h"

typedef enum rpc_outcome (*names_handler_fn)(struct rpc_call *call);

/* The handler of a name-service call (a Request.call case), or NULL if
 * call_case is not one. */
names_handler_fn names_handler(int call_case);
