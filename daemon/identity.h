/* SPDX-License-Identifier: MIT */
/*
 * identity: who is at the other end of a client connection, as the kernel
 * tells it, for policy.
 *
 * Trust boundary: everything here comes from the kernel (SO_PEERCRED,
 * SO_PEERPIDFD, SO_PEERGROUPS: the credentials the peer had when it
 * called connect(), which it cannot change afterwards), except the systemd
 * unit, read from /proc/PID/cgroup: see identity_from_socket() for how a
 * recycled pid is kept from lending its unit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

#define IDENTITY_MAX_GROUPS 64
/* "user@4294967295.service/" plus a unit name of up to 255 bytes. */
#define IDENTITY_UNIT_MAX 288

/* Plain data: it travels from the master to a worker in a control
 * message, and a worker serves exactly one (identity_same_subject). */
struct identity {
  uint32_t uid;
  uint32_t gid;
  int32_t pid; /* in psockd's pid namespace; 0 if not visible there */
  uint32_t n_groups;
  uint32_t groups[IDENTITY_MAX_GROUPS]; /* supplementary, lowest gids first */
  /* The unit could not be learnt (pid 0: another pid namespace): every
   * deny rule on a unit matches, no allow rule on a unit does. */
  uint8_t unit_unknown;
  char unit[IDENTITY_UNIT_MAX]; /* systemd unit or "" */
};

/*
 * Fill *ret with the peer of the connected AF_UNIX socket fd.
 *
 * uid, gid and pid come from SO_PEERCRED, the supplementary groups from
 * SO_PEERGROUPS (only the first IDENTITY_MAX_GROUPS, which the kernel
 * sorts by gid, are kept), pidfd from SO_PEERPIDFD when the kernel has it.
 * unit is the peer's systemd unit from /proc/PID/cgroup (see
 * identity_unit_from_cgroup); with a pidfd the process is checked to be
 * alive after the read, so the text cannot belong to a process that reused
 * the pid. Without a pidfd that check is impossible and the unit is best
 * effort.
 *
 * A peer whose pid psockd cannot see (0: another pid namespace) has
 * unit_unknown set.
 *
 * Returns 0, -ESRCH if the peer process is already gone (its unit cannot be
 * known: refuse the client rather than decide without it), or another
 * -errno. On failure *ret is untouched; nothing is left open either way.
 */
int identity_from_socket(int fd, struct identity *ret);

/* Do a and b name the same subject for policy (everything but the pid)? A
 * worker serves one subject; psockd-priv judges its requests as that one. */
bool identity_same_subject(const struct identity *a, const struct identity *b);

/* Terminate strings and clamp counts of an identity that came in a
 * message, so that a damaged one cannot be read out of bounds. */
void identity_sanitize(struct identity *id);

/*
 * Find the systemd unit in the text of a /proc/PID/cgroup file (the
 * cgroup v2 "0::" line, else a v1 "name=systemd" line) and write it to out.
 *
 * The unit is the first path component that is not a slice, as systemd
 * itself reads it ("/system.slice/foo.service" -> "foo.service"); a unit
 * with delegation may create sub-cgroups with any name, so deeper
 * components are never trusted. Inside a user manager the user's unit is
 * returned qualified with the manager: ".../user@1000.service/app.slice/
 * x.service" -> "user@1000.service/x.service", so that a unit any user can
 * start (`systemd-run --user --unit=NAME`) never matches a rule written for
 * the system unit NAME. A unit must end in .service, .scope or .socket.
 *
 * Returns 0 with out set ("" when the process is in no unit, e.g. "0::/"),
 * -EINVAL if there is no cgroup line, -ENAMETOOLONG if the unit does not
 * fit in outlen (out is "" then).
 */
int identity_unit_from_cgroup(const char *cgroup_file_text, char *out,
                              size_t outlen);

/* "uid 1000 gid 1000 pid 42 unit foo.service", for log lines. */
void identity_format(const struct identity *id, char *buf, size_t len);

/* The policy view of id; valid while id is. */
void identity_to_subject(const struct identity *id, struct policy_subject *ret);
