/* SPDX-License-Identifier: MIT */
/* A statically linked program: psock-run must warn that the preload cannot
 * reach it (test_psock_run). */
#include <stdio.h>

int main(void) {
  puts("static hello");
  return 0;
}
