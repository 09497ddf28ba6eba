/* SPDX-License-Identifier: MIT */
/*
 * bench/flood.c - the flood family of shoal-bench: actor create latency
 * with and without another user flooding the fork server with datagrams
 * (issue 9: "a flood of datagrams to the fork server from another user
 * must not slow creates").
 *
 *   actor_create_p50_ns, actor_create_p99_ns, actor_create_max_ns
 *       one shoal_actor_create, timed alone (the kill after it is not),
 *       per-create samples (p99: nearest rank); quiet
 *   actor_create_flooded_p50_ns, ..._p99_ns, ..._max_ns
 *       the same while a flooder sends the fork server's socket 1 KiB
 *       datagrams as fast as the kernel takes them (MSG_DONTWAIT, one
 *       socket, no pause); dgrams_taken_per_s: how many the kernel took
 *   actor_create_busy_p50_ns, ..._p99_ns, ..._max_ns
 *       the control: the same process making the same sends to a socket
 *       of its own that nobody reads (refused once its queue is full, as
 *       the fork server's mostly is): its CPU without the fork server, so
 *       that flooded / busy is what the datagrams cost, apart from the
 *       CPU a spinning process takes from the others on a small machine
 *
 * Each repetition takes F_SAMPLES creates (a quarter with --quick, a
 * twentieth with --smoke) and
 * yields their p50, p99 and max; a metric is the median of its
 * repetitions (max_of_all: the largest sample of all).  Quiet, busy and
 * flooded repetitions alternate on one runtime (one worker, the default
 * store), so that the host's drifts hit them alike.

 * The flooder is forked before the runtime starts (it holds nothing of
 * it: no mapping, no fd), keeps only its pipes, and becomes another user:
 * one made for the run with useradd when the benchmark runs as root
 * (tests/lib/other_user.h: removed at the end, or by its reaper if this
 * process dies), else it stays this user and the JSON lines say so
 * ("flooder_other_user": 0).  The two are not the same attack: the fork
 * server drops another user's datagrams unanswered and answers a same
 * user's (with -EINVAL: the flood's bytes are no request).  It finds the
 * fork server's abstract socket in /proc/net/unix, as an attacker would.
 * A 1 KiB datagram is read by the fork server as a whole request
 * (truncated to its size), so each costs it the full check, not the
 * cheaper wrong-size drop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "other_user.h"
#include "bench.h"
#include "families.h"

#define F_SAMPLES 200u          /* creates per repetition */
#define F_DGRAM 1024u           /* bytes of a flood datagram */
#define F_BURST 256             /* sends between two looks at the cmd pipe */
#define F_WAIT_MS 10000         /* for the flooder's answers */

struct f_report {
	uint64_t sent;          /* datagrams the kernel took */
	uint64_t ns;            /* over this long */
};

static int f_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int f_noop(struct shoal_task *t, void *self)
{
	(void)t;
	(void)self;
	return 0;
}

static int64_t f_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the flooder (a child) ----------------------------------------- */

/* The fork server's abstract address, from /proc/net/unix ("@shoal-fs.
 * <pid>.<key>"); its length, or 0 if it is not there. */
static socklen_t f_find(pid_t fs, struct sockaddr_un *a)
{
	char want[32], line[512];
	FILE *f = fopen("/proc/net/unix", "r");
	socklen_t len = 0;
	int wl = snprintf(want, sizeof want, "@shoal-fs.%d.", (int)fs);

	while (f && len == 0 && fgets(line, sizeof line, f)) {
		char *at = strstr(line, want);
		size_t n;

		if (!at || at[-1] != ' ')
			continue;
		n = strcspn(at + 1, "\n");
		if ((int)n < wl || n > sizeof a->sun_path - 1)
			continue;
		memset(a, 0, sizeof *a);
		a->sun_family = AF_UNIX;
		memcpy(a->sun_path + 1, at + 1, n);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	}
	if (f)
		fclose(f);
	return len;
}

/* All n bytes through fd, read (buf) or written (out), across EINTR and
 * short transfers; false at an error or an end. */
static bool f_io_all(int fd, void *buf, const void *out, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = buf ? read(fd, (char *)buf + done, n - done)
				: write(fd, (const char *)out + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

static bool f_read_all(int fd, void *buf, size_t n)
{
	return f_io_all(fd, buf, NULL, n);
}

static bool f_write_all(int fd, const void *buf, size_t n)
{
	return f_io_all(fd, NULL, buf, n);
}

/* True once the bench wrote its stop byte (or went away). */
static bool f_stop_asked(int cmd)
{
	struct pollfd p = {.fd = cmd, .events = POLLIN};
	char c;

	if (poll(&p, 1, 0) <= 0)
		return false;
	return read(cmd, &c, 1) != 1 || c == 's';
}

/* One flood: until the stop byte; "r" after the first burst, then the
 * report.  The same loop aimed at the flooder's own
 * unread socket is the busy control: the same CPU and the same calls
 * (refused once its queue is full, as the fork server's mostly is). */
static bool f_flood(int fd, const struct sockaddr_un *a, socklen_t len, int cmd,
		    int rep)
{
	uint8_t junk[F_DGRAM];
	struct f_report r = {0, 0};
	int64_t t0 = f_now_ns();
	bool told = false;

	memset(junk, 0xff, sizeof junk); /* op 0xffffffff: no request */
	do {
		for (int i = 0; i < F_BURST; i++)
			if (sendto(fd, junk, sizeof junk, MSG_DONTWAIT,
				   (const struct sockaddr *)a, len) == (ssize_t)sizeof junk)
				r.sent++;
		if (!told) {
			if (!f_write_all(rep, "r", 1))
				return false;
			told = true;
		}
	} while (!f_stop_asked(cmd));
	r.ns = (uint64_t)(f_now_ns() - t0);
	return f_write_all(rep, &r, sizeof r);
}

/* An autobound socket of the flooder's own that nobody reads: the busy
 * control's target.  Its address into a; its length, or 0. */
static socklen_t f_sink(struct sockaddr_un *a)
{
	socklen_t len = sizeof *a;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(sa_family_t)) ||
	    getsockname(fd, (struct sockaddr *)a, &len))
		return 0;
	return len;
}

/* The flooder's life: the fork server's pid, then a flood per "g" (a
 * busy control per "b"). */
_Noreturn static void f_flooder(const struct ou_user *u, int cmd, int rep)
{
	int keep[2] = {cmd, rep}, fd;
	struct sockaddr_un a, sink;
	socklen_t len, sink_len;
	pid_t fs;
	char c;

	ou_keep_fds(keep, 2);
	if (u->reaper > 0 && ou_become(u))
		_exit(2);
	if (!f_read_all(cmd, &fs, sizeof fs))
		_exit(3);
	len = f_find(fs, &a);
	sink_len = f_sink(&sink);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!len || !sink_len || fd < 0)
		_exit(4);
	while (f_read_all(cmd, &c, 1)) {
		bool ok = c == 'g' ? f_flood(fd, &a, len, cmd, rep)
			: c == 'b' ? f_flood(fd, &sink, sink_len, cmd, rep)
				   : false;

		if (!ok)
			_exit(5);
	}
	_exit(0);
}

/* ---- the bench side ------------------------------------------------ */

enum { F_QUIET, F_BUSY, F_FLOODED, F_MODES };

static const char f_cmd[F_MODES] = {0, 'b', 'g'};

static const char *const f_names[F_MODES][3] = {
	{"actor_create_p50_ns", "actor_create_p99_ns", "actor_create_max_ns"},
	{"actor_create_busy_p50_ns", "actor_create_busy_p99_ns",
	 "actor_create_busy_max_ns"},
	{"actor_create_flooded_p50_ns", "actor_create_flooded_p99_ns",
	 "actor_create_flooded_max_ns"}};

struct f_state {
	struct shoal_runtime *rt;
	struct shoal_store_stats ss;
	uint32_t spin_budget;   /* the store's (the default) */
	pid_t flooder;
	int cmd, rep;           /* to and from the flooder */
	int64_t *lat;
	uint32_t n;
	double all_max[F_MODES]; /* the largest sample of each mode */
	double sent_per_s[F_MODES]; /* datagrams the kernel took from the
				     * flooder, per s, summed over its runs */
	int runs[F_MODES];
	bool other;             /* the flooder is another user */
};

static int f_wait_byte(int fd, char want)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	int r = poll(&p, 1, F_WAIT_MS);

	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0 || read(fd, &c, 1) != 1 || c != want)
		return -EPIPE;
	return 0;
}

static int f_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* n creates, each timed, each actor killed after (untimed). */
static int f_creates(struct f_state *st, double *v)
{
	for (uint32_t i = 0; i < st->n; i++) {
		struct shoal_actor a;
		int64_t t0 = f_now_ns();
		int rc = shoal_actor_create(st->rt, "Bench", NULL, NULL, &a);

		st->lat[i] = f_now_ns() - t0;
		if (rc == 0)
			rc = shoal_actor_kill(st->rt, a, true);
		if (rc < 0)
			return rc;
	}
	qsort(st->lat, st->n, sizeof *st->lat, f_cmp);
	v[0] = (double)st->lat[st->n / 2];
	v[1] = (double)st->lat[((uint64_t)st->n * 99 + 99) / 100 - 1]; /* rank */
	v[2] = (double)st->lat[st->n - 1];
	return 0;
}

/* One repetition of a mode: v gets its p50, p99, max. */
static int f_rep(struct f_state *st, int mode, double *v)
{
	struct f_report r = {0, 0};
	int rc = 0;

	if (mode != F_QUIET) {
		if (!f_write_all(st->cmd, &f_cmd[mode], 1))
			return -EPIPE;
		rc = f_wait_byte(st->rep, 'r');
	}
	if (rc == 0)
		rc = f_creates(st, v);
	if (mode != F_QUIET && (!f_write_all(st->cmd, "s", 1) ||
				!f_read_all(st->rep, &r, sizeof r)))
		rc = rc < 0 ? rc : -EPIPE;
	if (rc == 0 && r.ns) {
		st->sent_per_s[mode] += (double)r.sent * 1e9 / (double)r.ns;
		st->runs[mode]++;
	}
	if (rc == 0 && v[2] > st->all_max[mode])
		st->all_max[mode] = v[2];
	return rc;
}

/* The flooder, forked now (before the runtime), and its pipes. */
static int f_fork_flooder(struct f_state *st, const struct ou_user *u)
{
	int cmd[2], rep[2];

	if (pipe2(cmd, O_CLOEXEC))
		return -errno;
	if (pipe2(rep, O_CLOEXEC)) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	fflush(NULL);
	st->flooder = fork();
	if (st->flooder == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		f_flooder(u, cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	st->cmd = cmd[1];
	st->rep = rep[0];
	if (st->flooder < 0) {
		close(st->cmd);
		close(st->rep);
		return -errno;
	}
	return 0;
}

/* Ends the flooder: a clean exit after the end of its cmd pipe, or a
 * SIGKILL on an error path. */
static int f_end_flooder(struct f_state *st, int rc)
{
	int status;

	if (st->flooder <= 0)
		return rc;
	if (rc < 0)
		kill(st->flooder, SIGKILL);
	close(st->cmd);
	close(st->rep);
	while (waitpid(st->flooder, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = -ECHILD;
	return rc;
}

static int f_start(struct f_state *st)
{
	struct shoal_runtime_options o;
	struct shoal_runtime_info info;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	if (rc < 0)
		return rc;
	rc = shoal_register_actor(reg, "Bench", f_init, NULL);
	if (rc == 0)
		rc = shoal_register_method(reg, "Bench", "noop", f_noop);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	st->spin_budget = o.store.spin_budget;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &st->rt);
	shoal_registry_close(reg);
	if (rc == 0)
		rc = shoal_runtime_info(st->rt, &info, NULL, 0);
	if (rc == 0)
		rc = shoal_store_stats(shoal_runtime_store(st->rt), &st->ss);
	if (rc == 0 && !f_write_all(st->cmd, &info.fork_server_pid,
				    sizeof info.fork_server_pid))
		rc = -EPIPE;
	return rc;
}

/* The warm-up, then reps x (quiet, busy, flooded); v[mode][k][rep], k:
 * p50, p99, max. */
static int f_measure(const struct bench_ctx *ctx, struct f_state *st,
		     double v[F_MODES][3][REPS_FULL])
{
	double w[3];
	int rc = f_rep(st, F_QUIET, w);

	st->all_max[F_QUIET] = 0;
	for (int r = 0; rc == 0 && r < ctx->reps; r++)
		for (int mode = 0; rc == 0 && mode < F_MODES; mode++) {
			rc = f_rep(st, mode, w);
			for (int k = 0; rc == 0 && k < 3; k++)
				v[mode][k][r] = w[k];
		}
	return rc;
}

static void f_note(const struct f_state *st, char *note, size_t len)
{
	snprintf(note, len,
		 "shoal_actor_create alone timed (then a kill, untimed), %u "
		 "per repetition; quiet, busy and flooded repetitions "
		 "alternate; max: the median of each repetition's largest; "
		 "flooder: %s; flooded: 1 KiB datagrams to the fork server's "
		 "socket as fast as the kernel takes them (one process, not "
		 "pinned); busy: the same process, the same sends to a socket "
		 "of its own nobody reads (its CPU, without the fork server)",
		 st->n, st->other
			? "another user, made for this run with useradd (the "
			  "fork server must drop its datagrams unanswered)"
			: "this same user (not root: no other user to flood as; "
			  "the fork server answers each datagram with -EINVAL)");
}

static void f_emit(const struct bench_ctx *ctx, const struct f_state *st,
		   double v[F_MODES][3][REPS_FULL])
{
	double quiet[3] = {0, 0, 0};
	char note[640];

	f_note(st, note, sizeof note);
	for (int mode = 0; mode < F_MODES; mode++)
		for (int k = 0; k < 3; k++) {
			struct metric m = {.name = f_names[mode][k], .unit = UNIT_NS,
					   .note = note, .verdict = -1,
					   .runtime = true, .workers = 1,
					   .capacity = st->ss.capacity,
					   .spin_budget = st->spin_budget};

			m.st = stats_of(v[mode][k], ctx->reps);
			if (mode == F_QUIET)
				quiet[k] = m.st.median;
			add_extra(&m, "flooder_other_user", st->other);
			if (k == 2)
				add_extra(&m, "max_of_all", st->all_max[mode]);
			if (mode != F_QUIET && quiet[k] > 0)
				add_extra(&m, "ratio_to_quiet", m.st.median / quiet[k]);
			if (mode == F_FLOODED && k == 0 && st->runs[mode])
				add_extra(&m, "dgrams_taken_per_s",
					  st->sent_per_s[mode] / st->runs[mode]);
			if (wanted(ctx, m.name))
				emit(ctx, &m);
		}
}

int family_flood(const struct bench_ctx *ctx)
{
	double v[F_MODES][3][REPS_FULL];
	struct f_state st = {.cmd = -1, .rep = -1};
	struct ou_user u;
	const char *name = f_names[F_FLOODED][0];
	bool any = false;
	int rc;

	for (int i = 0; i < F_MODES * 3; i++)
		any = any || wanted(ctx, f_names[i / 3][i % 3]);
	if (!any)
		return 0;
	st.n = ctx->smoke ? F_SAMPLES / 20 : ctx->quick ? F_SAMPLES / 4 : F_SAMPLES;
	st.lat = malloc(st.n * sizeof *st.lat);
	if (!st.lat)
		return emit_error(ctx, name, 0, -ENOMEM);
	rc = ou_create(&u, 0);
	st.other = rc == 0;
	if (rc == -EPERM)
		rc = 0; /* not root: a same-user flooder */
	if (rc == 0)
		rc = f_fork_flooder(&st, &u);
	if (rc == 0)
		rc = f_start(&st);
	if (rc == 0)
		rc = f_measure(ctx, &st, v);
	if (st.rt) {
		int r = shoal_runtime_shutdown(st.rt);

		rc = rc < 0 ? rc : r;
	}
	rc = f_end_flooder(&st, rc);
	if (ou_remove(&u) < 0 && rc == 0)
		rc = -EIO;
	free(st.lat);
	if (rc < 0)
		return emit_error(ctx, name, 0, rc);
	f_emit(ctx, &st, v);
	return 0;
}
