/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/title.c - a process's names, as ps and top show them.
 *
 * Every process of a runtime but the driver names itself right after its
 * fork (child.c, forkserver.c, logrelay.c): its comm (PR_SET_NAME, 15
 * bytes: "shoal-fs", "shoal worker 2", "LoggingActor#3") and the command
 * line /proc/PID/cmdline shows ("shoal worker 2 /name").
 *
 * Nothing is exec'd, and the memory of the driver's argv and environment
 * is the user's: a program may hold pointers into it (a saved argv[i],
 * getopt's optarg, what getenv returned), so it is never written.  The
 * command line is moved instead: a page of anonymous memory holds the
 * title (the kernel reads a command line only from anonymous memory), and
 * prctl(PR_SET_MM, PR_SET_MM_MAP) points the process's arg_start and
 * arg_end at it, every other field of the map given back as it is (read
 * from /proc/self/stat, the break from brk(0)).  PR_SET_MM_MAP needs no
 * privilege (CRIU's and LXC's setproctitle use it) but a kernel built
 * with CONFIG_CHECKPOINT_RESTORE; where it is refused, only the comm is
 * set and ps -f shows the driver's command line.
 *
 * Invariants: naming never fails a process's start (whatever cannot be
 * read or set is skipped); no byte of the argv or environment area is
 * written, no pointer of the user's or of libc's moves.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_int.h"

/* Fields of /proc/self/stat for the mm map: f = arg_start, arg_end,
 * env_start, env_end (48 to 51); more = start_code, end_code,
 * start_stack (26 to 28), start_data, end_data, start_brk (45 to 47).
 * False if they cannot be read. */
static bool shoal__title_fields(uintptr_t f[4], uintptr_t more[6])
{
	static const int want[10] = {26, 27, 28, 45, 46, 47, 48, 49, 50, 51};
	uintptr_t v[10] = {0};
	char buf[2048];
	const char *p;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), k = 0;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the comm may hold spaces and ')' */
	for (int field = 2; p && k < 10; field++) {
		p = strchr(p + 1, ' '); /* p: the space before field + 1 */
		if (p && field + 1 == want[k])
			v[k++] = (uintptr_t)strtoull(p + 1, NULL, 10);
	}
	if (k < 10 || !v[6] || v[7] <= v[6])
		return false;
	memcpy(more, v, 6 * sizeof *v);
	memcpy(f, v + 6, 4 * sizeof *v);
	return true;
}

/* comm: "<prefix><label>" if it fits in 15 bytes, else the label, else
 * the label's end kept (its last '#' or ' ' part) and its head cut. */
void shoal__title_comm(char out[16], const char *prefix, const char *label)
{
	size_t np = strlen(prefix), nl = strlen(label), keep, head;
	const char *tail;

	if (np + nl <= 15) {
		memcpy(out, prefix, np);
		memcpy(out + np, label, nl + 1);
		return;
	}
	if (nl <= 15) {
		memcpy(out, label, nl + 1);
		return;
	}
	tail = strrchr(label, '#');
	if (!tail)
		tail = strrchr(label, ' ');
	keep = tail ? strlen(tail) : 0;
	if (keep > 15)
		keep = 0;
	head = 15 - keep;
	memcpy(out, label, head);
	if (keep)
		memcpy(out + head, tail, keep);
	out[head + keep] = '\0';
}

/* Points the command line at a copy of title in anonymous memory. */
static void shoal__title_cmdline(const char *title)
{
	uintptr_t f[4], more[6];
	size_t n = strlen(title) + 1;
	struct prctl_mm_map m;
	char *page;

	if (n > 4096)
		n = 4096;
	if (!shoal__title_fields(f, more))
		return;
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (page == MAP_FAILED)
		return;
	memcpy(page, title, n - 1);
	page[n - 1] = '\0';
	m = (struct prctl_mm_map){
		.start_code = more[0], .end_code = more[1], .start_stack = more[2],
		.start_data = more[3], .end_data = more[4], .start_brk = more[5],
		.brk = (uint64_t)syscall(SYS_brk, 0),
		.arg_start = (uintptr_t)page, .arg_end = (uintptr_t)page + n,
		.env_start = f[2], .env_end = f[3], .exe_fd = (uint32_t)-1,
	};
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof m, 0))
		munmap(page, 4096); /* refused: the comm alone */
}

void shoal__title_set(const char *comm, const char *title)
{
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	shoal__title_cmdline(title);
}
