/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/other_user.h - a second Unix user, made for one test (or one
 * benchmark run) and always removed: tests/test_security.c and the flood
 * benchmark (bench/flood.c) play "another user" with it.  Plain C, no
 * criterion (testlib_plain): every function returns 0 or a negative
 * errno.  The code is in other_user.c.
 *
 * ou_create() (root only: useradd) makes a system user "shoalt<pid>_<n>"
 * with a group of its own, no home and no login shell.  Before useradd
 * runs, it forks a reaper that removes the user once ou_remove() writes
 * to its pipe, or once the process that made the user is gone (a pidfd on
 * it: a crash, a SIGKILL, a failed assertion that skipped the fixture's
 * end; a child that kept the pipe's other end does not hold it back).
 * The reaper is in a session of its own and ignores the terminal's
 * signals, so a Ctrl-C or a test runner's kill of the process group does
 * not take it down before it has done its work.  It:
 *   1. kills every process of the user (a child that becomes the user
 *      sends kill(-1, SIGKILL), which reaches that user's processes only),
 *      until /proc shows none alive;
 *   2. unlinks every /dev/shm file the user owns (a squatter's segment);
 *   3. runs userdel -f (its group goes with it: USERGROUPS_ENAB).
 * Its exit status says whether all of it worked; ou_remove() waits for it,
 * so when ou_remove() returns 0 the user, its processes and its files are
 * gone.
 *
 * ou_become() is for a forked child: it drops the supplementary groups,
 * takes the user's gid and uid (for good: setuid from root sets all
 * three), and asks again to die with its parent (a change of credentials
 * clears PR_SET_PDEATHSIG).  ou_keep_fds() closes every fd but stdio and
 * the ones named, so that such a child holds nothing of the process that
 * forked it (a segment's fd, a runtime's control socket).
 *
 * When the caller is not root there is no second user: ou_create() returns
 * -EPERM and the callers play a same-user neighbour instead (and say so).
 */
#ifndef SHOAL_OTHER_USER_H
#define SHOAL_OTHER_USER_H

#include <sys/types.h>

struct ou_user {
	char name[32];
	uid_t uid;
	gid_t gid;
	pid_t reaper; /* 0: no user */
	int fd;       /* the reaper's pipe: a byte on it removes the user */
};

/* Makes user "shoalt<pid>_<n>" (root only; -EPERM otherwise), its reaper
 * started first.  0, or a negative errno (no user then). */
int ou_create(struct ou_user *u, unsigned n);

/* Removes the user ou_create made (if any) and waits until it, its
 * processes and its /dev/shm files are gone.  0, or -EIO if the reaper
 * says a step failed. */
int ou_remove(struct ou_user *u);

/* In a forked child of root: becomes u for good.  0 or -errno. */
int ou_become(const struct ou_user *u);

/* Closes every fd from 3 up but the n (at most 8) in keep. */
void ou_keep_fds(const int *keep, int n);

#endif /* SHOAL_OTHER_USER_H */
