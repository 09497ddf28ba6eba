/* SPDX-License-Identifier: MIT */
/*
 * store-demo - the object store alone, across two programs (no runtime):
 * starts store-put (one process: creates a named store and puts objects),
 * reads the IDs it prints, starts store-get (a second, separately exec'd
 * process that maps the segment at its own address and reads the objects
 * by ID, zero-copy), then lets store-put close and unlink the store.
 * Nothing is left in /dev/shm afterwards: store-put unlinks the segment
 * when its standard input closes, which happens when this program exits,
 * however it exits.
 *
 * Run: build/examples/store-demo (no argument; store-put and store-get
 * are found beside it).  Exit status 0 if store-put put every object and
 * store-get got each one by its ID, 1 otherwise.  `meson test -C build
 * --suite examples store_demo` runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define COUNT 5
#define MAX_ARGS (COUNT + 3)

struct child {
	pid_t pid;
	int in;   /* its stdin (write end), or -1 */
	int out;  /* its stdout (read end), or -1 */
};

static int spawn(char *const argv[], struct child *c, int pipe_in, int pipe_out)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};

	if ((pipe_in && pipe2(in, O_CLOEXEC)) ||
	    (pipe_out && pipe2(out, O_CLOEXEC)))
		return -errno;
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		if (pipe_in) {
			dup2(in[0], 0);
			close(in[0]);
			close(in[1]); /* else its stdin never reaches EOF */
		}
		if (pipe_out) {
			dup2(out[1], 1);
			close(out[0]);
			close(out[1]);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pipe_in)
		close(in[0]);
	if (pipe_out)
		close(out[1]);
	c->in = pipe_in ? in[1] : -1;
	c->out = pipe_out ? out[0] : -1;
	return 0;
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sibling(const char *self, const char *name, char *out, size_t cap)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s", self);
	snprintf(out, cap, "%s/%s", dirname(buf), name);
}

static int read_ids(int fd, char ids[COUNT][40])
{
	FILE *f = fdopen(fd, "r");
	int n = 0;

	while (f && n < COUNT && fgets(ids[n], 40, f)) {
		ids[n][strcspn(ids[n], "\n")] = '\0';
		n++;
	}
	return n;
}

int main(void)
{
	char self[PATH_MAX], put[PATH_MAX + 16], get[PATH_MAX + 16];
	char name[64], count[8], ids[COUNT][40];
	char *get_argv[MAX_ARGS] = {get, name};
	struct child p = {-1, -1, -1}, g = {-1, -1, -1};
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	int n, rc;

	if (len < 0)
		return 1;
	self[len] = '\0';
	sibling(self, "store-put", put, sizeof put);
	sibling(self, "store-get", get, sizeof get);
	snprintf(name, sizeof name, "/shoal-demo-%d", (int)getpid());
	snprintf(count, sizeof count, "%d", COUNT);
	printf("store-demo: process 1 (store-put) creates %s and puts %d objects\n",
	       name, COUNT);
	if (spawn((char *[]){put, name, count, NULL}, &p, 1, 1))
		return 1;
	n = read_ids(p.out, ids);
	for (int i = 0; i < n; i++)
		get_argv[2 + i] = ids[i];
	get_argv[2 + n] = NULL;
	printf("store-demo: process 2 (store-get) attaches and reads them by ID\n");
	rc = n == COUNT ? 0 : 1;
	if (!rc && (spawn(get_argv, &g, 0, 0) || reap(g.pid) != 0))
		rc = 1;
	close(p.in); /* store-put closes and unlinks the store */
	if (reap(p.pid) != 0)
		rc = 1;
	printf("store-demo: %s\n", rc ? "FAILED" : "ok, store removed");
	return rc;
}
