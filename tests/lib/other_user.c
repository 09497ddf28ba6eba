/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/other_user.c - a second Unix user and its reaper (what and why:
 * other_user.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "other_user.h"

/* The first of /usr/sbin/<tool>, /sbin/<tool> that can be run, or NULL. */
static const char *ou_tool(const char *tool, char *buf, size_t len)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin"};

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(buf, len, "%s/%s", dirs[i], tool);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Runs argv (argv[0] a path), its stdout to /dev/null; its exit status,
 * or -1 if it could not run. */
static int ou_run(char *const *argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void ou_keep_fds(const int *keep, int n)
{
	int k[8], m = 0;
	unsigned from = 3;

	for (int i = 0; i < n && m < 8; i++) /* sorted, for the ranges */
		if (keep[i] >= 3) {
			int j = m++;

			for (; j > 0 && k[j - 1] > keep[i]; j--)
				k[j] = k[j - 1];
			k[j] = keep[i];
		}
	for (int i = 0; i < m; i++) {
		if ((unsigned)k[i] > from)
			syscall(SYS_close_range, from, (unsigned)k[i] - 1, 0);
		if ((unsigned)k[i] + 1 > from)
			from = (unsigned)k[i] + 1;
	}
	syscall(SYS_close_range, from, ~0u, 0);
}

int ou_become(const struct ou_user *u)
{
	pid_t parent = getppid();

	if (setgroups(0, NULL) || setgid(u->gid) || setuid(u->uid))
		return -errno;
	if (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid ||
	    setuid(0) == 0)
		return -EPERM;
	/* The new credentials cleared the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		return -ESRCH;
	return 0;
}

/* True if /proc/<name>/status is of a live process (not a zombie) of
 * uid (as its real, effective or saved uid). */
static bool ou_proc_of(const char *name, uid_t uid)
{
	char path[300], line[256];
	unsigned r = 0, e = 0, sv = 0;
	bool zombie = false, found = false;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%s/status", name);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f)) {
		if (!strncmp(line, "State:", 6))
			zombie = strchr(line, 'Z') != NULL;
		else if (sscanf(line, "Uid: %u %u %u", &r, &e, &sv) == 3)
			found = true;
	}
	if (f)
		fclose(f);
	return found && !zombie && (r == uid || e == uid || sv == uid);
}

/* Live processes of uid other than the caller. */
static int ou_count_procs(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    atoi(e->d_name) != getpid() && ou_proc_of(e->d_name, uid))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Reaper step 1: every process of u is killed, by a child that becomes u
 * (so that its kill(-1) reaches u's processes and no other's); true once
 * /proc shows none alive (within about two seconds). */
static bool ou_kill_all(const struct ou_user *u)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return false;
	if (pid == 0) {
		struct timespec ms = {0, 1000000};

		if (setgroups(0, NULL) || setgid(u->gid) || setuid(u->uid))
			_exit(1);
		for (int i = 0; i < 2000; i++) {
			kill(-1, SIGKILL);
			if (ou_count_procs(u->uid) == 0)
				_exit(0);
			nanosleep(&ms, NULL);
		}
		_exit(1);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Reaper step 2: every /dev/shm file of uid is unlinked (none can come
 * back: no process of uid is left). */
static bool ou_unlink_shm(uid_t uid)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	bool ok = true;

	if (d == NULL)
		return errno == ENOENT;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_uid == uid && !S_ISDIR(st.st_mode) &&
		    unlinkat(dirfd(d), e->d_name, 0) != 0)
			ok = false;
	}
	closedir(d);
	return ok;
}

/* The reaper's wait: until ou_remove() writes to rfd (or closes it), or
 * the process that made the user is gone (its pidfd turns readable). */
static void ou_reap_wait(pid_t creator, int rfd)
{
	int pfd = (int)syscall(SYS_pidfd_open, creator, 0);
	struct pollfd p[2] = {{.fd = rfd, .events = POLLIN},
			      {.fd = pfd, .events = POLLIN}};
	int keep[2] = {rfd, pfd};

	ou_keep_fds(keep, 2);
	if (pfd < 0 || getppid() != creator)
		return; /* gone already */
	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
}

/* The reaper: once told or once its creator is gone, removes the user
 * named u->name (if useradd made it) and what it left. */
_Noreturn static void ou_reap(struct ou_user *u, pid_t creator, int rfd)
{
	char tool[64];
	struct passwd *pw;
	bool ok = true;
	int null = open("/dev/null", O_RDWR);

	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	ou_reap_wait(creator, rfd);
	pw = getpwnam(u->name);
	if (pw == NULL)
		_exit(0); /* useradd failed: nothing to remove */
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	ok = ou_kill_all(u) && ok;
	ok = ou_unlink_shm(u->uid) && ok;
	if (ou_tool("userdel", tool, sizeof tool) == NULL ||
	    ou_run((char *[]){tool, "-f", u->name, NULL}) != 0)
		ok = false;
	_exit(ok ? 0 : 1);
}

int ou_remove(struct ou_user *u)
{
	int st;

	if (u->reaper <= 0)
		return 0;
	if (write(u->fd, "x", 1) != 1) {
		/* the reaper is gone: its wait ends at the pipe's end anyway */
	}
	close(u->fd);
	while (waitpid(u->reaper, &st, 0) < 0)
		if (errno != EINTR) {
			u->reaper = 0;
			return -errno;
		}
	u->reaper = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int ou_create(struct ou_user *u, unsigned n)
{
	char tool[64];
	struct passwd *pw;
	pid_t creator = getpid();
	int p[2], rc;

	memset(u, 0, sizeof *u);
	u->fd = -1;
	if (geteuid() != 0)
		return -EPERM;
	if (ou_tool("useradd", tool, sizeof tool) == NULL)
		return -ENOENT;
	snprintf(u->name, sizeof u->name, "shoalt%d_%u", (int)getpid(), n);
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	u->reaper = fork();
	if (u->reaper < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (u->reaper == 0) {
		close(p[1]);
		ou_reap(u, creator, p[0]);
	}
	close(p[0]);
	u->fd = p[1];
	rc = ou_run((char *[]){tool, "--system", "--user-group", "--no-create-home",
			       "--shell", "/usr/sbin/nologin", "--comment",
			       "shoal test user", u->name, NULL});
	pw = rc == 0 ? getpwnam(u->name) : NULL;
	if (pw == NULL) {
		ou_remove(u);
		return -EIO;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}
