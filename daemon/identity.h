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

#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

#define IDENTITY_MAX_GROUPS 64
/* "user@4294967295.service/" plus a unit name of up to 255 bytes. */
#define IDENTITY_UNIT_MAX 288

struct identity {
  uid_t uid;
  gid_t gid;
  pid_t pid; /* in psockd's pid namespace; 0 if not visible there */
  int pidfd; /* the peer process, or -1 (kernel < 6.5, or no pid) */
  gid_t groups[IDENTITY_MAX_GROUPS]; /* supplementary, lowest gids first */
  size_t n_groups;
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
 * Returns 0, -ESRCH if the peer process is already gone (its unit cannot be
 * known: refuse the client rather than decide without it), or another
 * -errno. On failure *ret is untouched and nothing is left open; on success
 * release it with identity_close().
 */
int identity_from_socket(int fd, struct identity *ret);

/* Close id's pidfd (if any). Safe to call twice. */
void identity_close(struct identity *id);

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

/* The policy view of id; valid while id is. */
void identity_to_subject(const struct identity *id, struct policy_subject *ret);
