/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_api.c - libFuzzer harness: a random sequence of store API
 * operations from two processes on one store (issue 9), with a model of
 * what each process holds.
 *
 * Processes: this one, and a peer forked at start (LLVMFuzzerInitialize),
 * before any store exists, and again after it died as an op told it to;
 * it dies with this one (PR_SET_PDEATHSIG, and killed at exit).  They
 * talk over a SOCK_SEQPACKET socket pair.
 *
 * Each input gets a fresh store (a private memfd: 1 MiB, 8 objects, so
 * that a full store and a full object table are a few operations away);
 * its fd goes to the peer (SCM_RIGHTS), which attaches to it.  The input:
 *   byte 0      flags: bit 0 concurrent (below)
 *   then ops    4 bytes each, at most FZ_MAXOPS:
 *     [barrier << 7 | who << 5 | op] [timeout << 4 | id] [size] [aux]
 *   op    create (the bytes written at once, a pattern of the ID), seal,
 *         abort, put_with_id, put, get, get_many, release, hold, drop,
 *         delete, contains, wait, list + stats, evict, error_message,
 *         id_next, reap, die (the peer exits there, as if killed, and a
 *         new peer is forked and attaches: it reaps the dead one's slot),
 *         arm (the peer dies, SIGKILL, at the aux-th store crash point of
 *         base/crash.h on its (size % 8 + 1)-th pass, in the middle of an
 *         operation, if it gets there: the harness links a library built
 *         with the crash points); one death an input, a fork costs
 *         milliseconds
 *   id    one of 8 IDs: 5 fixed, shared by both processes (so their
 *         operations collide), 3 taken from put / id_next (this process's
 *         are sent along to the peer with every batch)
 *   size  0, 1, 8, 9, 64, 100, 1000, 4096, 16 KiB, 16 KiB + 1, 64 KiB,
 *         300 KiB, the capacity, twice the capacity, SIZE_MAX, SIZE_MAX - 8;
 *         timeouts 0, 0, 1 or 5 ms
 * Lock-step (flags bit 0 clear): every op runs alone, in input order, the
 * peer's through a round trip.  Concurrent: the ops between two barriers
 * form a batch, and the peer runs its share while this process runs its
 * own (what a finding then depends on may not replay).
 *
 * Findings (abort(): libFuzzer keeps the input), besides crashes, ASan or
 * UBSan reports and hangs:
 *  - the model: each process counts the holds it took, per ID (a range:
 *    an abort takes one hold or none, depending on which entry of the ID
 *    it held), and the views it has pinned; a drop must succeed while it
 *    surely holds one and fail once it surely holds none, a release of a
 *    view it has must succeed, get_many's count must match its views,
 *    wait's count its ready flags;
 *  - bytes: a view's data and meta must be the pattern its creator wrote;
 *  - the end: both processes release, abort and drop everything they
 *    have (each must succeed), then everything unheld is evicted, and the
 *    store must be back to its baseline: no live object, no bytes used,
 *    nothing listed, two processes, then one once the peer closed.
 * A peer that dies unasked, or takes longer than FZ_PEER_MS to answer (it
 * is then sent SIGSEGV, so that ASan prints where it was), is a finding
 * too.  A death it was told of (die, arm) must leave the store as whole:
 * the same end checks run after its replacement reaped it.
 *
 * The peer's results steer the fuzzer through libFuzzer's extra counters
 * (its code coverage is its own process's, unseen): a counter per op and
 * result class.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "internal.h"

#define FZ_CAP (1u << 20)
#define FZ_POOL 8u
#define FZ_FIXED 5u
#define FZ_MAXOPS 64u
#define FZ_NODE 0xf0a1u /* forged IDs: not shoal_id_next's format */
#define FZ_PEER_MS 5000

enum {
	FZ_CREATE, FZ_SEAL, FZ_ABORT, FZ_PUT_ID, FZ_PUT, FZ_GET, FZ_GET_MANY,
	FZ_RELEASE, FZ_HOLD, FZ_DROP, FZ_DELETE, FZ_CONTAINS, FZ_WAIT,
	FZ_LIST, FZ_EVICT, FZ_ERRMSG, FZ_ID_NEXT, FZ_REAP, FZ_DIE, FZ_ARM, FZ_NOPS
};

enum { FZ_BEGIN = 1, FZ_OPS, FZ_END, FZ_CLOSE };

/* The store's crash points (base/crash.h): the first of its list. */
#define FZ_ONE(name, scenario, what) +1
enum { FZ_STORE_POINTS = 0 SHOAL__CRASH_POINTS(FZ_ONE) };
#undef FZ_ONE

struct fz_msg {
	uint32_t kind;
	uint32_t nops;
	shoal_id pool[FZ_POOL];
	uint8_t ops[FZ_MAXOPS][4];
};

struct fz_reply {
	int32_t rc;
	uint32_t nops;
	int32_t rcs[FZ_MAXOPS];
};

/* What one process has: its handle, its IDs, and the model. */
struct fz_hold {
	shoal_id id;
	uint32_t lo, hi; /* it holds at least lo, at most hi */
};

struct fz_side {
	const char *who;
	struct shoal_store *s;
	shoal_id pool[FZ_POOL];
	struct fz_hold holds[128];
	uint32_t nholds;
	struct shoal_view views[32];
	uint32_t nviews;
	shoal_id unsealed[32];
	uint32_t nunsealed;
};

static const uint64_t fz_sizes[16] = {
	0, 1, 8, 9, 64, 100, 1000, 4096, 16384, 16385, 65536, 300000,
	FZ_CAP, 2ull * FZ_CAP, SIZE_MAX, SIZE_MAX - 8,
};
static const uint32_t fz_metas[4] = {0, 1, 16, 300};
static const int fz_timeouts[4] = {0, 0, 1, 5};

static struct {
	int sock;   /* ours */
	pid_t peer;
	struct fz_side me;
	struct shoal_store *s; /* this input's */
	bool died;             /* a peer died in this input already */
	bool armed;            /* the peer may die at a crash point */
} fz;

/* The peer's results, as coverage (libFuzzer reads this section). */
__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t fz_peer_cov[FZ_NOPS * 32];

/* ------------------------------------------------------------------ */
/* Findings.                                                           */

__attribute__((format(printf, 2, 3), noreturn))
static void fz_finding(const struct fz_side *x, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_api: %s: ", x->who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ------------------------------------------------------------------ */
/* Object bytes: a pattern of the ID, so that a view of the wrong bytes
 * shows.  shoal_put's objects cannot know their ID before the put: they
 * carry the pattern of the nil ID. */

static uint8_t fz_byte(shoal_id id, uint64_t i)
{
	return (uint8_t)((id.lo ^ (id.hi >> 7)) * 0x9d + i * 131 + (i >> 9));
}

/* The offsets the pattern is written at and checked at: the first and
 * last 256 bytes, and every 4096th. */
static uint64_t fz_next_at(uint64_t i, uint64_t size)
{
	if (i + 1 < 256 || i + 1 >= size - (size < 256 ? size : 256))
		return i + 1;
	i = (i + 4096) & ~4095ull;
	return i < size - 256 ? i : size - 256;
}

static void fz_fill(uint8_t *p, uint64_t size, shoal_id id)
{
	for (uint64_t i = 0; i < size; i = fz_next_at(i, size))
		p[i] = fz_byte(id, i);
}

static bool fz_matches(const uint8_t *p, uint64_t size, shoal_id id)
{
	for (uint64_t i = 0; i < size; i = fz_next_at(i, size))
		if (p[i] != fz_byte(id, i))
			return false;
	return true;
}

static void fz_check_view(const struct fz_side *x, shoal_id id,
			  const struct shoal_view *v)
{
	static const shoal_id nil;

	if (!shoal_id_eq(v->id, id))
		fz_finding(x, "a view of another ID");
	if ((v->size && !v->data) || (v->meta_size && !v->meta))
		fz_finding(x, "a view without its bytes");
	if (!fz_matches(v->data, v->size, id) &&
	    !(v->meta_size == 0 && fz_matches(v->data, v->size, nil)))
		fz_finding(x, "a view's data is not what its creator wrote "
			   "(%zu bytes)", v->size);
	for (size_t i = 0; i < v->meta_size; i++)
		if (((const uint8_t *)v->meta)[i] != fz_byte(id, 1000003 + i))
			fz_finding(x, "a view's meta is not its creator's");
}

/* ------------------------------------------------------------------ */
/* The model.                                                          */

static struct fz_hold *fz_hold_of(struct fz_side *x, shoal_id id)
{
	for (uint32_t i = 0; i < x->nholds; i++)
		if (shoal_id_eq(x->holds[i].id, id))
			return &x->holds[i];
	if (x->nholds == sizeof x->holds / sizeof x->holds[0])
		fz_finding(x, "harness: too many IDs");
	x->holds[x->nholds] = (struct fz_hold){.id = id};
	return &x->holds[x->nholds++];
}

static void fz_held(struct fz_side *x, shoal_id id)
{
	struct fz_hold *h = fz_hold_of(x, id);

	h->lo++;
	h->hi++;
}

/* A drop's result against the model. */
static void fz_dropped(struct fz_side *x, shoal_id id, int rc)
{
	struct fz_hold *h = fz_hold_of(x, id);

	if (rc == 0) {
		if (h->hi == 0)
			fz_finding(x, "a drop of an ID it does not hold succeeded");
		h->hi--;
		h->lo -= h->lo > 0;
	} else {
		if (h->lo > 0)
			fz_finding(x, "a drop of an ID it holds %u times failed: %s",
				   h->lo, shoal_strerror(rc));
		h->hi = 0;
	}
}

static void fz_add_view(struct fz_side *x, const struct shoal_view *v)
{
	if (x->nviews == sizeof x->views / sizeof x->views[0]) {
		struct shoal_view old = x->views[0];
		int rc = shoal_release(x->s, &old);

		if (rc)
			fz_finding(x, "a release of its view failed: %s",
				   shoal_strerror(rc));
		memmove(x->views, x->views + 1, sizeof x->views - sizeof x->views[0]);
		x->nviews--;
	}
	x->views[x->nviews++] = *v;
}

static void fz_release(struct fz_side *x, uint32_t i)
{
	int rc;

	if (x->nviews == 0)
		return;
	i %= x->nviews;
	rc = shoal_release(x->s, &x->views[i]);
	if (rc)
		fz_finding(x, "a release of its view failed: %s", shoal_strerror(rc));
	x->views[i] = x->views[--x->nviews];
}

static void fz_unsealed_add(struct fz_side *x, shoal_id id)
{
	if (x->nunsealed < sizeof x->unsealed / sizeof x->unsealed[0])
		x->unsealed[x->nunsealed++] = id;
}

/* Sealed or aborted: no longer this process's to abort at the end. */
static void fz_unsealed_del(struct fz_side *x, shoal_id id)
{
	for (uint32_t i = 0; i < x->nunsealed; i++)
		if (shoal_id_eq(x->unsealed[i], id)) {
			x->unsealed[i] = x->unsealed[--x->nunsealed];
			return;
		}
}

/* ------------------------------------------------------------------ */
/* Operations.                                                         */

struct fz_op {
	unsigned kind;
	shoal_id id;
	int timeout;
	uint64_t size;
	uint32_t meta;
	uint8_t size_byte, aux;
};

static struct fz_op fz_decode(const struct fz_side *x, const uint8_t b[4])
{
	return (struct fz_op){
		.kind = (b[0] & 0x1f) % FZ_NOPS,
		.id = x->pool[b[1] % FZ_POOL],
		.timeout = fz_timeouts[(b[1] >> 4) & 3],
		.size = fz_sizes[b[2] & 15],
		.meta = fz_metas[(b[2] >> 4) & 3],
		.size_byte = b[2],
		.aux = b[3],
	};
}

/* A dynamic pool slot (5..7) gets a fresh ID. */
static void fz_remember(struct fz_side *x, uint8_t aux, shoal_id id)
{
	x->pool[FZ_FIXED + aux % (FZ_POOL - FZ_FIXED)] = id;
}

static int fz_create(struct fz_side *x, const struct fz_op *o)
{
	uint8_t meta[300];
	void *buf;
	int rc;

	for (uint32_t i = 0; i < o->meta; i++)
		meta[i] = fz_byte(o->id, 1000003 + i);
	rc = shoal_create(x->s, o->id, o->size, meta, o->meta, o->timeout, &buf);
	if (rc)
		return rc;
	fz_fill(buf, o->size, o->id);
	fz_held(x, o->id);
	fz_unsealed_add(x, o->id);
	return 0;
}

static int fz_put(struct fz_side *x, const struct fz_op *o, bool with_id)
{
	static uint8_t data[2 * FZ_CAP];
	uint8_t meta[300];
	shoal_id id = o->id;
	uint64_t size = o->size > sizeof data ? sizeof data : o->size;
	int rc;

	for (uint32_t i = 0; i < o->meta; i++)
		meta[i] = fz_byte(id, 1000003 + i);
	if (with_id) {
		fz_fill(data, size, id);
		rc = shoal_put_with_id(x->s, id, data, o->size, meta, o->meta,
				       o->timeout);
	} else {
		fz_fill(data, size, (shoal_id){0});
		rc = shoal_put(x->s, data, size, o->timeout, &id);
		if (rc == 0)
			fz_remember(x, o->aux, id);
	}
	if (rc == 0)
		fz_held(x, id);
	return rc;
}

static int fz_get(struct fz_side *x, const struct fz_op *o)
{
	struct shoal_view v;
	int rc = shoal_get(x->s, o->id, o->timeout, &v);

	if (rc == 0) {
		fz_check_view(x, o->id, &v);
		fz_add_view(x, &v);
	}
	return rc;
}

/* The IDs of the pool whose bit is set in mask (at least one). */
static size_t fz_pick(const struct fz_side *x, uint8_t mask, shoal_id *ids)
{
	size_t n = 0;

	for (uint32_t i = 0; i < FZ_POOL; i++)
		if (mask & (1u << i))
			ids[n++] = x->pool[i];
	if (n == 0)
		ids[n++] = x->pool[0];
	return n;
}

static int fz_get_many(struct fz_side *x, const struct fz_op *o)
{
	struct shoal_view v[FZ_POOL];
	shoal_id ids[FZ_POOL];
	size_t n = fz_pick(x, o->aux, ids);
	int rc = shoal_get_many(x->s, ids, n, o->timeout, v), got = 0;

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (v[i].err)
			continue;
		got++;
		fz_check_view(x, ids[i], &v[i]);
		fz_add_view(x, &v[i]);
	}
	if (got != rc)
		fz_finding(x, "get_many said %d pinned, %d views have no error", rc, got);
	return 0;
}

static int fz_wait(struct fz_side *x, const struct fz_op *o)
{
	shoal_id ids[FZ_POOL];
	uint8_t ready[FZ_POOL];
	size_t n = fz_pick(x, o->aux, ids);
	int rc = shoal_wait(x->s, ids, n, o->size_byte % (n + 1), o->timeout, ready);
	int count = 0;

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		count += ready[i] != 0;
	if (count != rc)
		fz_finding(x, "wait said %d ready, %d flags are set", rc, count);
	return 0;
}

static int fz_list(struct fz_side *x)
{
	struct shoal_object_info info[16];
	struct shoal_store_stats st;
	int rc = shoal_list(x->s, info, sizeof info / sizeof info[0]);

	if (rc < 0)
		return rc;
	return shoal_store_stats(x->s, &st);
}

static int fz_abort(struct fz_side *x, shoal_id id)
{
	int rc = shoal_abort(x->s, id);

	if (rc == 0) {
		struct fz_hold *h = fz_hold_of(x, id);

		h->lo -= h->lo > 0; /* its hold on that entry, if it had one */
		fz_unsealed_del(x, id);
	}
	return rc;
}

static int fz_misc(struct fz_side *x, const struct fz_op *o)
{
	char msg[32];
	int rc;

	switch (o->kind) {
	case FZ_DELETE:
		return shoal_delete(x->s, o->id);
	case FZ_CONTAINS:
		return shoal_contains(x->s, o->id);
	case FZ_WAIT:
		return fz_wait(x, o);
	case FZ_LIST:
		return fz_list(x);
	case FZ_EVICT:
		return shoal_evict(x->s, o->size);
	case FZ_ERRMSG:
		return shoal_error_message(x->s, o->id, msg, (size_t)o->aux % sizeof msg);
	case FZ_ID_NEXT:
		fz_remember(x, o->aux, shoal_id_next(x->s));
		return 0;
	case FZ_DIE: /* the peer dies here, as if killed; a no-op for us */
		if (x != &fz.me)
			_exit(0);
		return 0;
	case FZ_ARM: /* the peer dies at a crash point; a no-op for us */
		if (x != &fz.me)
			shoal__crash_arm(&x->s->crash, o->aux % FZ_STORE_POINTS,
					 o->size_byte % 8 + 1);
		return 0;
	default:
		rc = shoal_store_reap(x->s);
		return rc > 0 ? 0 : rc;
	}
}

static int fz_run_op(struct fz_side *x, const struct fz_op *op);

static const char *const fz_opname[FZ_NOPS] = {
	"create", "seal", "abort", "put_with_id", "put", "get", "get_many",
	"release", "hold", "drop", "delete", "contains", "wait", "list", "evict",
	"error_message", "id_next", "reap", "die", "arm",
};

/* FZ_TRACE=1: every op and its result on stderr (to read a finding). */
static int fz_run(struct fz_side *x, const uint8_t b[4])
{
	static int trace = -1;
	struct fz_op o = fz_decode(x, b);
	int rc = fz_run_op(x, &o);

	if (trace < 0)
		trace = getenv("FZ_TRACE") != NULL;
	if (trace)
		fprintf(stderr, "%s: %s %016llx:%016llx size %llu meta %u t %d aux %u: %s\n",
			x->who, fz_opname[o.kind], (unsigned long long)o.id.hi,
			(unsigned long long)o.id.lo, (unsigned long long)o.size,
			o.meta, o.timeout, o.aux, rc >= 0 ? "ok" : shoal_strerror(rc));
	return rc;
}

static int fz_run_op(struct fz_side *x, const struct fz_op *op)
{
	struct fz_op o = *op;
	int rc;

	switch (o.kind) {
	case FZ_CREATE:
		return fz_create(x, &o);
	case FZ_SEAL:
		rc = shoal_seal(x->s, o.id);
		if (rc == 0)
			fz_unsealed_del(x, o.id);
		return rc;
	case FZ_ABORT:
		return fz_abort(x, o.id);
	case FZ_PUT_ID:
	case FZ_PUT:
		return fz_put(x, &o, o.kind == FZ_PUT_ID);
	case FZ_GET:
		return fz_get(x, &o);
	case FZ_GET_MANY:
		return fz_get_many(x, &o);
	case FZ_RELEASE:
		fz_release(x, o.aux);
		return 0;
	case FZ_HOLD:
		rc = shoal_hold(x->s, o.id);
		if (rc == 0)
			fz_held(x, o.id);
		return rc;
	case FZ_DROP:
		rc = shoal_drop(x->s, o.id);
		fz_dropped(x, o.id, rc);
		return rc;
	default:
		return fz_misc(x, &o);
	}
}

/* Everything it has, given back; each step must succeed. */
static void fz_cleanup(struct fz_side *x)
{
	while (x->nviews)
		fz_release(x, 0);
	while (x->nunsealed) {
		shoal_id id = x->unsealed[0];
		int rc = fz_abort(x, id);

		if (rc)
			fz_finding(x, "an abort of its unsealed object failed: %s",
				   shoal_strerror(rc));
	}
	for (uint32_t i = 0; i < x->nholds; i++)
		while (x->holds[i].hi > 0)
			fz_dropped(x, x->holds[i].id, shoal_drop(x->s, x->holds[i].id));
	x->nholds = 0;
}

static void fz_side_reset(struct fz_side *x, struct shoal_store *s)
{
	const char *who = x->who;

	memset(x, 0, sizeof *x);
	x->who = who;
	x->s = s;
	for (uint32_t i = 0; i < FZ_POOL; i++)
		x->pool[i] = shoal_id_derive(FZ_NODE, 0x1d, i + 1, 0);
}

/* ------------------------------------------------------------------ */
/* The peer.                                                           */

static int fz_recv_fd(int sock, struct fz_msg *m, int *fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec io = {.iov_base = m, .iov_len = sizeof *m};
	struct msghdr h = {.msg_iov = &io, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);

	*fd = -1;
	if (n < (ssize_t)offsetof(struct fz_msg, ops))
		return -1;
	c = CMSG_FIRSTHDR(&h);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof *fd);
	return 0;
}

static void fz_peer_msg(struct fz_side *x, const struct fz_msg *m, int fd,
			struct fz_reply *r)
{
	switch (m->kind) {
	case FZ_BEGIN:
		fz_side_reset(x, NULL);
		r->rc = shoal_store_attach_fd(fd, &x->s);
		break;
	case FZ_OPS:
		memcpy(x->pool + FZ_FIXED, m->pool + FZ_FIXED,
		       (FZ_POOL - FZ_FIXED) * sizeof(shoal_id));
		r->nops = m->nops < FZ_MAXOPS ? m->nops : FZ_MAXOPS;
		for (uint32_t i = 0; i < r->nops; i++)
			r->rcs[i] = fz_run(x, m->ops[i]);
		break;
	case FZ_END:
		fz_cleanup(x);
		break;
	default:
		shoal_store_close(x->s);
		x->s = NULL;
		break;
	}
}

static void fz_peer(int sock, pid_t parent)
{
	struct fz_side x = {.who = "peer"};
	struct fz_msg m;
	struct fz_reply r;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	while (fz_recv_fd(sock, &m, &fd) == 0) {
		memset(&r, 0, sizeof r);
		fz_peer_msg(&x, &m, fd, &r);
		if (fd >= 0)
			close(fd);
		if (send(sock, &r, sizeof r, MSG_NOSIGNAL) != (ssize_t)sizeof r)
			break;
	}
	_exit(0);
}

/* ------------------------------------------------------------------ */
/* This side of the conversation.                                      */

static void fz_send(const struct fz_msg *m, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec io = {.iov_base = (void *)m, .iov_len = sizeof *m};
	struct msghdr h = {.msg_iov = &io, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(ctl, 0, sizeof ctl);
		h.msg_control = ctl;
		h.msg_controllen = sizeof ctl;
		c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof fd);
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	if (sendmsg(fz.sock, &h, MSG_NOSIGNAL) != (ssize_t)sizeof *m)
		fz_finding(&fz.me, "the peer is gone (send: %s)", strerror(errno));
}

/* The peer's answer, within FZ_PEER_MS; a peer that takes longer is
 * stopped with SIGSEGV (ASan prints its stack) and is a finding, and so
 * is one that dies, unless it was told to (`dies`): then false. */
static bool fz_answer(struct fz_reply *r, bool dies)
{
	struct pollfd p = {.fd = fz.sock, .events = POLLIN};
	int n;

	do
		n = poll(&p, 1, FZ_PEER_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		kill(fz.peer, SIGSEGV);
		waitpid(fz.peer, NULL, 0);
		fz.peer = 0;
		fz_finding(&fz.me, "the peer did not answer in %d ms", FZ_PEER_MS);
	}
	if (recv(fz.sock, r, sizeof *r, 0) != (ssize_t)sizeof *r) {
		waitpid(fz.peer, NULL, 0);
		fz.peer = 0;
		if (!dies)
			fz_finding(&fz.me, "the peer died");
		return false;
	}
	return true;
}

static void fz_note(const struct fz_reply *r, const struct fz_msg *m)
{
	for (uint32_t i = 0; i < r->nops && i < m->nops; i++) {
		int rc = r->rcs[i];
		unsigned cls = rc >= 0 ? (rc > 0) : rc > -4000 ? 2 + (unsigned)-rc % 18
							     : 20 + (unsigned)(-rc - 4000) % 12;

		fz_peer_cov[((m->ops[i][0] & 0x1f) % FZ_NOPS) * 32 + cls]++;
	}
}

static void fz_ask(uint32_t kind, int fd);
static void fz_spawn(void);

/* The peer died as it was told (FZ_DIE, or at its armed crash point):
 * a new one, attached to this input's store (its attach reaps the dead
 * one). */
static void fz_replace(void)
{
	fz.died = true;
	fz.armed = false;
	fz_spawn();
	fz_ask(FZ_BEGIN, shoal_store_fd(fz.s));
}

static void fz_ask(uint32_t kind, int fd)
{
	struct fz_msg m = {.kind = kind};
	struct fz_reply r;

	fz_send(&m, fd);
	if (!fz_answer(&r, fz.armed)) { /* died at its crash point */
		fz_replace();
		if (kind != FZ_BEGIN)
			fz_ask(kind, fd);
		return;
	}
	if (r.rc)
		fz_finding(&fz.me, "the peer could not attach: %s", shoal_strerror(r.rc));
}

static void fz_exit(void)
{
	if (fz.peer > 0) {
		kill(fz.peer, SIGKILL);
		waitpid(fz.peer, NULL, 0);
	}
}

/* A peer, and the socket to it.  Forked at start, and again after a peer
 * died as told (FZ_DIE): it inherits this process's store handle then,
 * and never uses it (it attaches on its own when told). */
static void fz_spawn(void)
{
	int sv[2];
	pid_t me = getpid();

	if (fz.sock > 0)
		close(fz.sock);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		abort();
	fz.peer = fork();
	if (fz.peer < 0)
		abort();
	if (fz.peer == 0) {
		close(sv[0]);
		fz_peer(sv[1], me);
	}
	close(sv[1]);
	fz.sock = sv[0];
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_spawn();
	fz.me.who = "fuzz";
	atexit(fz_exit);
	return 0;
}

/* ------------------------------------------------------------------ */
/* One input.                                                          */

/* One batch: the peer's ops of it sent, ours run, the peer's answer.  A
 * peer told to die is replaced, and the new one attaches (reaping the
 * dead one's slot). */
static void fz_batch(const uint8_t *ops, size_t n)
{
	struct fz_msg m = {.kind = FZ_OPS};
	struct fz_reply r;

	memcpy(m.pool, fz.me.pool, sizeof m.pool);
	for (size_t i = 0; i < n; i++) {
		unsigned k = (ops[4 * i] & 0x1f) % FZ_NOPS;
		bool die = k == FZ_DIE || k == FZ_ARM;

		if (!(ops[4 * i] & 0x20) || (die && (fz.armed || fz.died)))
			continue; /* a fork costs milliseconds: one death an input */
		memcpy(m.ops[m.nops++], ops + 4 * i, 4);
		fz.armed |= die;
	}
	if (m.nops)
		fz_send(&m, -1);
	for (size_t i = 0; i < n; i++)
		if (!(ops[4 * i] & 0x20))
			fz_run(&fz.me, ops + 4 * i);
	if (!m.nops)
		return;
	if (fz_answer(&r, fz.armed))
		fz_note(&r, &m);
	else
		fz_replace();
}

static void fz_ops(const uint8_t *ops, size_t n, bool concurrent)
{
	size_t start = 0;

	for (size_t i = 1; i <= n; i++)
		if (i == n || !concurrent || (ops[4 * i] & 0x80)) {
			fz_batch(ops + 4 * start, i - start);
			start = i;
		}
}

/* The store with nothing held by anyone and everything unheld evicted:
 * no object, no byte, nothing listed, `procs` processes. */
static void fz_baseline(struct shoal_store *s, uint32_t procs)
{
	struct shoal_object_info info[4];
	struct shoal_store_stats st;
	int listed;

	shoal_evict(s, UINT64_MAX);
	listed = shoal_list(s, info, 4);
	if (shoal_store_stats(s, &st))
		fz_finding(&fz.me, "stats failed");
	if (st.objects || st.bytes_used || listed)
		fz_finding(&fz.me, "after both gave everything back: %llu objects, "
			   "%llu bytes used, %d listed",
			   (unsigned long long)st.objects,
			   (unsigned long long)st.bytes_used, listed);
	if (st.processes != procs)
		fz_finding(&fz.me, "%u processes, %u expected", st.processes, procs);
}

static struct shoal_store *fz_store(void)
{
	struct shoal_store_options o = SHOAL_STORE_OPTIONS_INIT;
	struct shoal_store *s;
	int rc;

	o.capacity = FZ_CAP;
	o.max_objects = 8;
	o.max_procs = 4;
	o.ledger_slots = 16;
	rc = shoal_store_create(NULL, &o, &s);
	if (rc)
		fz_finding(&fz.me, "harness: no store: %s", shoal_strerror(rc));
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	struct shoal_store *s;
	size_t nops;

	if (n < 1)
		return 0;
	nops = (n - 1) / 4 < FZ_MAXOPS ? (n - 1) / 4 : FZ_MAXOPS;
	s = fz.s = fz_store();
	fz.died = fz.armed = false;
	fz_side_reset(&fz.me, s);
	fz_ask(FZ_BEGIN, shoal_store_fd(s));
	fz_ops(in + 1, nops, in[0] & 1);
	fz_ask(FZ_END, -1);
	fz_cleanup(&fz.me);
	fz_baseline(s, 2);
	fz_ask(FZ_CLOSE, -1);
	fz_baseline(s, 1);
	shoal_store_close(s);
	fz.s = NULL;
	return 0;
}
