/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/logrelay.c - the log relay: what a worker or an actor
 * writes to stdout or stderr reaches the driver's stdout or stderr line
 * by line, each line after a prefix that says who wrote it, as Ray's
 * "(pid=1234, worker 2) " and "(pid=1234, LoggingActor#3) ".
 *
 * The relay is a process the fork server forks at its start (unless the
 * runtime has SHOAL_RUNTIME_NO_LOG_PREFIX): "shoal log /name".  It holds
 * the driver's stdout and stderr as the fork server got them, one end of
 * a SOCK_SEQPACKET socket pair (the fork server keeps the other), and the
 * only write end of the driver's "done" pipe (runtime.c), and nothing
 * else: no store handle, no process slot.
 *
 * Each child, right after its fork (child.c), makes two pipes, sends
 * their read ends to the relay with its pid and label (SCM_RIGHTS, on
 * the fork server's end of the socket, which it inherited; MSG_DONTWAIT),
 * moves the write ends onto fds 1 and 2 and closes everything else of
 * it, the socket included.  The fork server takes no part: it neither
 * sends nor waits, so a relay stuck on a full stdout cannot slow it.  If
 * the send fails (no relay, the relay dead, its socket full), the child
 * keeps the driver's stdout and stderr and writes there directly, without
 * prefix.  The child's stdio is left as the user set it; a worker and an
 * actor flush stdout and stderr after each task or call (child.c).
 *
 * The relay polls the socket and every pipe.  It buffers each pipe up to
 * a newline, and writes prefix and line with one write() (a line longer
 * than fits one PIPE_BUF write with its prefix is cut there, each piece
 * a line of its own: every write is atomic on a pipe), so
 * lines of different processes never mix; a pipe's end of file flushes
 * its partial line (with a newline added).  It ignores SIGPIPE: a line
 * the driver's stdout refuses is lost, the pipes are still drained.
 *
 * Its end: the socket's end of file (the fork server exited, and every
 * child closed its copy right after its fork) and every pipe's, or
 * SHOAL__LOG_LINGER_MS after the socket's (a process the user's code
 * started may hold a pipe for ever), or, if a write blocks that long,
 * SIGALRM SHOAL__LOG_ALARM_S after it.  Its exit closes the done pipe,
 * which shoal_runtime_shutdown waits for (bounded): everything the
 * children wrote is out when shutdown returns.
 *
 * Deaths.  A child killed mid-line: its pipes' end of file; the partial
 * line goes out.  The fork server killed: its children die with it
 * (PDEATHSIG), the socket and the pipes end, the relay drains and exits.
 * The relay killed: what it held unwritten and what was in the pipes is
 * lost, and so is what a child writes from then on (its writes fail with
 * EPIPE: children ignore SIGPIPE, child.c), but nothing dies and nothing
 * hangs; a process started after that writes directly without prefix.
 * The runtime runs on.
 *
 * Invariants: one write() per emitted line; the relay never blocks the
 * fork server (nothing the fork server does waits for it) and never
 * outlives it by more than SHOAL__LOG_ALARM_S; the done pipe's write end
 * is in the relay alone (the driver closes its copy after the fork, the
 * fork server right after forking the relay, before any other child).
 * Not a process of the store: the fork server forks it before it
 * attaches (it inherits the driver's mapping of the segment, as the fork
 * server does, and never touches it), and the fork server's reaping never
 * waits for it (forkserver.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proc_int.h"

#define SHOAL__LOG_LINE 4096
#define SHOAL__LOG_LINGER_MS 2000
#define SHOAL__LOG_ALARM_S 4
#define SHOAL__LOG_PREFIX_MAX (SHOAL__LABEL_MAX + 32)
_Static_assert(SHOAL__LOG_PREFIX_MAX < PIPE_BUF / 2, "a line's piece has room");
/* How long a write waits for room on a non-blocking stdout. */
#define SHOAL__LOG_ROOM_MS 1000

/* A child's hello, with the read ends of its stdout and stderr pipes. */
struct shoal__log_msg {
	int32_t pid;
	char label[SHOAL__LABEL_MAX];
};

struct shoal__log_pipe {
	int fd;
	int out;                        /* 1 or 2: where its lines go */
	uint32_t plen;                  /* of prefix */
	uint32_t len;                   /* bytes in line */
	char prefix[SHOAL__LOG_PREFIX_MAX];
	char line[SHOAL__LOG_LINE];
};

struct shoal__log {
	int sock;                       /* -1 after its end of file */
	struct shoal__log_pipe *p;      /* n in use of cap */
	struct pollfd *pfd;             /* cap + 1 */
	size_t n, cap;
	int64_t give_up_ms;             /* CLOCK_MONOTONIC; after the socket's end */
	char wbuf[SHOAL__LOG_PREFIX_MAX + SHOAL__LOG_LINE + 1];
};

static int64_t shoal__log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* All of b to fd; what fd refuses (a closed reader, an error, no room
 * for SHOAL__LOG_ROOM_MS on a non-blocking one) is dropped. */
static void shoal__log_write(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		struct pollfd p = {.fd = fd, .events = POLLOUT};

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && poll(&p, 1, SHOAL__LOG_ROOM_MS) == 1)
			continue;
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* prefix + s[0..n) + '\n', in writes of at most PIPE_BUF bytes each, a
 * piece of a longer line a line of its own: a write to a pipe up to
 * PIPE_BUF is atomic, so the driver's own writes (or another program's)
 * to the same pipe never land inside one. */
static void shoal__log_emit(struct shoal__log *lg, const struct shoal__log_pipe *p,
			    const char *s, size_t n)
{
	size_t room = PIPE_BUF - p->plen - 1; /* plen < PIPE_BUF / 2 */

	do {
		size_t k = n < room ? n : room;

		memcpy(lg->wbuf, p->prefix, p->plen);
		memcpy(lg->wbuf + p->plen, s, k);
		lg->wbuf[p->plen + k] = '\n';
		shoal__log_write(p->out, lg->wbuf, p->plen + k + 1);
		s += k;
		n -= k;
	} while (n);
}

/* Emits the complete lines buffered (or all of it, if the buffer is full
 * without a newline, or at the end) and keeps the rest. */
static void shoal__log_lines(struct shoal__log *lg, struct shoal__log_pipe *p,
			     bool end)
{
	size_t at = 0;
	const char *nl;

	while ((nl = memchr(p->line + at, '\n', p->len - at)) != NULL) {
		shoal__log_emit(lg, p, p->line + at, (size_t)(nl - p->line) - at);
		at = (size_t)(nl - p->line) + 1;
	}
	if (at < p->len && (end || (at == 0 && p->len == SHOAL__LOG_LINE))) {
		shoal__log_emit(lg, p, p->line + at, p->len - at);
		at = p->len;
	}
	memmove(p->line, p->line + at, p->len - at);
	p->len -= (uint32_t)at;
}

/* One read from pipe p; false at its end (or an error). */
static bool shoal__log_read(struct shoal__log *lg, struct shoal__log_pipe *p)
{
	ssize_t r = read(p->fd, p->line + p->len, SHOAL__LOG_LINE - p->len);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (r <= 0)
		return false;
	p->len += (uint32_t)r;
	shoal__log_lines(lg, p, false);
	return true;
}

/* Pipe i ended: its partial line out, its fd closed, the last pipe
 * moved into its place. */
static void shoal__log_drop(struct shoal__log *lg, size_t i)
{
	shoal__log_lines(lg, &lg->p[i], true);
	close(lg->p[i].fd);
	if (i != lg->n - 1)
		memcpy(&lg->p[i], &lg->p[lg->n - 1], sizeof lg->p[i]);
	lg->n--;
}

static bool shoal__log_grow(struct shoal__log *lg)
{
	size_t cap = lg->cap ? 2 * lg->cap : 16;
	struct shoal__log_pipe *p = realloc(lg->p, cap * sizeof *p);
	struct pollfd *pfd;

	if (!p)
		return false;
	lg->p = p;
	pfd = realloc(lg->pfd, (cap + 1) * sizeof *pfd);
	if (!pfd)
		return false;
	lg->pfd = pfd;
	lg->cap = cap;
	return true;
}

/* A pipe to relay to fd out; false (fd closed: its writer gets EPIPE)
 * when out of memory. */
static bool shoal__log_add(struct shoal__log *lg, int fd, int out,
			   const struct shoal__log_msg *m)
{
	struct shoal__log_pipe *p;
	int n;

	if (lg->n == lg->cap && !shoal__log_grow(lg)) {
		close(fd);
		return false;
	}
	p = &lg->p[lg->n++];
	p->fd = fd;
	p->out = out;
	p->len = 0;
	n = snprintf(p->prefix, sizeof p->prefix, "(pid=%d, %s) ", (int)m->pid,
		     m->label);
	p->plen = n < 0 ? 0 : (uint32_t)n < sizeof p->prefix ? (uint32_t)n
							 : sizeof p->prefix - 1;
	return true;
}

/* The socket's end: the fork server is gone; the pipes get a last
 * while, the whole relay a hard bound. */
static void shoal__log_sock_end(struct shoal__log *lg)
{
	close(lg->sock);
	lg->sock = -1;
	lg->give_up_ms = shoal__log_now_ms() + SHOAL__LOG_LINGER_MS;
	alarm(SHOAL__LOG_ALARM_S); /* SIGALRM's default action ends it */
}

/* The fds a message carried, into fds (up to 2); how many it had. */
static size_t shoal__log_fds(struct msghdr *mh, int fds[2])
{
	size_t got = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++, got++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
			if (got < 2)
				fds[got] = fd;
			else
				close(fd);
		}
	}
	return got;
}

/* A child's hello: its two pipes join the poll. */
static void shoal__log_accept(struct shoal__log *lg)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct shoal__log_msg m;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	int fds[2] = {-1, -1};
	ssize_t n = recvmsg(lg->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	size_t nfd;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		shoal__log_sock_end(lg);
		return;
	}
	nfd = shoal__log_fds(&mh, fds);
	if (n != (ssize_t)sizeof m || nfd != 2) {
		for (size_t i = 0; i < 2 && i < nfd; i++)
			close(fds[i]);
		return;
	}
	m.label[sizeof m.label - 1] = '\0';
	if (shoal__log_add(lg, fds[0], STDOUT_FILENO, &m))
		shoal__log_add(lg, fds[1], STDERR_FILENO, &m);
	else
		close(fds[1]);
}

/* One round: poll, then the pipes (from the last: a drop moves the last
 * into the place of the one dropped), then the socket.  False when the
 * relay is done. */
static bool shoal__log_round(struct shoal__log *lg)
{
	size_t off = lg->sock >= 0, k = 0;
	int timeout = -1; /* the socket's end, at the latest, wakes us */

	if (lg->sock < 0) {
		int64_t left = lg->give_up_ms - shoal__log_now_ms();

		if (!lg->n || left <= 0)
			return false;
		timeout = (int)left;
	}
	if (off)
		lg->pfd[k++] = (struct pollfd){.fd = lg->sock, .events = POLLIN};
	for (size_t i = 0; i < lg->n; i++)
		lg->pfd[k++] = (struct pollfd){.fd = lg->p[i].fd, .events = POLLIN};
	if (poll(lg->pfd, k, timeout) < 0 && errno != EINTR)
		return false;
	for (size_t i = lg->n; i-- > 0;)
		if (lg->pfd[off + i].revents && !shoal__log_read(lg, &lg->p[i]))
			shoal__log_drop(lg, i);
	if (off && lg->pfd[0].revents)
		shoal__log_accept(lg);
	return true;
}

/* As many fds as the hard limit allows: two per child. */
static void shoal__log_nofile(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

_Noreturn static void shoal__log_main(int sock, int done_fd, const char *name)
{
	struct shoal__log lg = {.sock = sock};
	char title[300];
	int keep[2] = {sock < done_fd ? sock : done_fd, sock < done_fd ? done_fd : sock};

	shoal__close_others(keep, 2); /* stdio, the socket, the done pipe */
	shoal__signals_reset();
	signal(SIGPIPE, SIG_IGN); /* a closed stdout loses lines, not us */
	/* The fork server's death (its exit too) sends us SIGCONT: a relay
	 * someone stopped runs again, sees the socket's end and leaves within
	 * its bounds, instead of holding the driver's stdout for ever.  Not
	 * SIGKILL: the pipes are drained after the fork server is gone. */
	prctl(PR_SET_PDEATHSIG, SIGCONT);
	snprintf(title, sizeof title, "shoal log%s%s", name[0] ? " " : "", name);
	shoal__title_set("shoal-log", title);
	shoal__log_nofile();
	if (!shoal__log_grow(&lg))
		_exit(1); /* the children's sends fail: they write directly */
	while (shoal__log_round(&lg))
		;
	while (lg.n)
		shoal__log_drop(&lg, lg.n - 1);
	_exit(0);
}

int shoal__log_start(const struct shoal__boot *boot)
{
	int sv[2];
	pid_t pid;

	if (boot->log_fd < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		close(boot->log_fd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		shoal__log_main(sv[1], boot->log_fd, boot->name);
	}
	close(sv[1]);
	close(boot->log_fd); /* the relay's alone from now on */
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

/* fd moved above stdio (pipe2 may return 0, 1 or 2 if they were closed);
 * -1 if that fails. */
static int shoal__log_high(int fd)
{
	int h;

	if (fd > 2)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return h;
}

static bool shoal__log_send(int sock, const char *label, int rout, int rerr)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct shoal__log_msg m = {.pid = getpid()};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c;
	int fds[2] = {rout, rerr};

	memset(&ctl, 0, sizeof ctl);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	snprintf(m.label, sizeof m.label, "%s", label);
	return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof m;
}

void shoal__log_attach(int sock, const char *label)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	bool sent = false;

	if (sock < 0)
		return;
	if (!pipe2(out, O_CLOEXEC) && !pipe2(err, O_CLOEXEC)) {
		for (int i = 0; i < 2; i++) {
			out[i] = shoal__log_high(out[i]);
			err[i] = shoal__log_high(err[i]);
		}
		sent = out[0] >= 0 && out[1] >= 0 && err[0] >= 0 && err[1] >= 0 &&
		       shoal__log_send(sock, label, out[0], err[0]);
	}
	if (sent) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
	}
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	close(sock);
}
