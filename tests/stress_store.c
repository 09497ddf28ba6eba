/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_store.c - threads racing every store operation on one small
 * private store, for ThreadSanitizer (criterion aborts under TSan, hence a
 * plain main()).  Public API only.
 *
 * NSHARED threads share one handle (store.h: a handle may be used by any
 * number of threads); NOWN more threads each attach their own handle to the
 * same segment with shoal_store_attach_fd(), so that one process has several
 * slots.  The store is small (CAPACITY, MAX_OBJECTS) so that creates evict
 * all the time.  Each thread, for ITERS iterations or DURATION_MS of wall
 * clock, whichever ends first, picks at random:
 *
 *   put          shoal_put_with_id (meta), shoal_put (no meta), or
 *                shoal_create + write + shoal_seal / shoal_abort, the last
 *                one published before it exists, so that gets wait for it;
 *   get          a recent object published by any thread, verified, kept
 *                pinned for a while and verified again before its release;
 *   get_many     four recent objects at once;
 *   hold / drop  references, kept in a bounded per-thread list;
 *   delete       a recent object, whoever holds or pins it;
 *   evict, contains, list, stats.
 *
 * Objects.  Sizes 64 B .. 64 KiB, some 256 KiB (page runs).  Every object's
 * bytes are a pattern of its key: a hash of its ID when the ID is known
 * before the data is written (put_with_id, create), else a nonce stored in
 * its record (shoal_put).  Meta (16 bytes: key, size) where there is any.
 * Records {id, key, size, kind} go into an append-only log, written once,
 * then published by the index into a small ring (release store LOG-R1 <->
 * acquire load LOG-A1, this test's own pair: the record's fields are
 * visible to whoever reads the index).  So any thread can verify any
 * object it pins.
 *
 * Checks.  Every call's result must be one store.h documents for that call
 * in this situation (e.g. a get of a recent object: pinned, -ETIMEDOUT,
 * SHOAL_EEVICTED, SHOAL_EDELETED); a pinned view must have its record's
 * size, meta and bytes, at the get and again at the release; an object a
 * thread holds cannot be evicted, so its get must pin it (or say deleted)
 * and its drop must succeed.  At the end: every thread released and dropped
 * what it had (but one own-handle thread leaves its pins and holds to
 * shoal_store_close), every handle is closed, and a last handle sees one
 * process, no pins, no holds, no unsealed object, the bytes of every
 * remaining object intact, and an empty store after a full shoal_evict.
 *
 * Exit status: 0 ok, 1 failure, 77 skipped (no private store, no threads).
 */
#include <shoal/shoal.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Overridable at build time (-DITERS=200000 -DDURATION_MS=60000 ...). */
#ifndef NSHARED
#define NSHARED 4
#endif
#ifndef NOWN
#define NOWN 2
#endif
#ifndef ITERS
#define ITERS 20000
#endif
#ifndef DURATION_MS
#define DURATION_MS 3000
#endif
#ifndef CAPACITY
#define CAPACITY (8u << 20)
#endif
#ifndef MAX_OBJECTS
#define MAX_OBJECTS 4096
#endif
/* 0 leaves shoal_list out of the threads' mix (the final check keeps it). */
#ifndef CONCURRENT_LIST
#define CONCURRENT_LIST 1
#endif

#define NTHREADS (NSHARED + NOWN)
#define MAXREC ((size_t)NTHREADS * ITERS)
#define RING 64          /* recent objects, a power of two */
#define MAXHELD 16       /* holds a thread keeps */
#define MAXPINS 4        /* views a thread keeps pinned */
#define NMANY 4          /* IDs per shoal_get_many */
#define BIG (256u << 10) /* largest object */
#define META_SIZE 16

enum kind { K_PUT_ID = 1, K_PUT = 2, K_CREATE = 3 };

struct rec {
	shoal_id id;
	uint64_t key;
	uint32_t size;
	uint32_t kind;
};

/* Outcomes counted per thread, summed at the end. */
enum {
	N_PUTS, N_PUT_FULL, N_PUT_NOSPC, N_ABORTS, N_GETS, N_GET_TIMEOUT,
	N_GET_EVICTED, N_GET_DELETED, N_GET_LEDGER, N_HOLDS, N_HOLD_GONE,
	N_DELETES, N_EVICTED_BYTES, N_VERIFIED_BYTES, N_COUNTS
};

struct stress {
	struct shoal_store *main; /* shared by the NSHARED threads */
	struct rec *log;          /* MAXREC records, each written once */
	_Atomic uint64_t log_n;   /* records reserved */
	_Atomic uint64_t ring[RING]; /* record index + 1, 0 empty */
	_Atomic uint64_t ring_head;
	_Atomic int go;           /* 1 start, -1 give up (thread creation) */
	_Atomic int failed;
	struct timespec t0;
};

struct pin {
	struct shoal_view v;
	uint64_t rec;             /* record index */
};

struct worker {
	struct stress *st;
	struct shoal_store *s;    /* main or own handle */
	int id;
	bool own;                 /* attaches (and closes) its own handle */
	bool leave;               /* leaves its pins and holds to close */
	pthread_t tid;
	uint64_t rng;
	uint8_t *buf;             /* BIG bytes: the source of puts */
	uint64_t held[MAXHELD];   /* record indices held, oldest first */
	int nheld;
	struct pin pins[MAXPINS];
	int npins;
	uint64_t n[N_COUNTS];
};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t next_rand(struct worker *w)
{
	return mix(w->rng++);
}

static uint64_t key_of_id(shoal_id id)
{
	return mix(id.hi ^ mix(id.lo));
}

static uint64_t now_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000 +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000000);
}

static bool failed(struct stress *st)
{
	return atomic_load_explicit(&st->failed, memory_order_relaxed) != 0;
}

static void fail(struct worker *w, const char *what, int rc,
		 const struct rec *r)
{
	char hex[SHOAL_ID_HEX_LEN + 1] = "-";

	if (r)
		shoal_id_format(r->id, hex);
	fprintf(stderr,
		"stress_store: thread %d: %s: %d (%s), id %s size %u kind %u\n",
		w->id, what, rc, rc < 0 ? shoal_strerror(rc) : "-", hex,
		r ? r->size : 0, r ? r->kind : 0);
	atomic_store_explicit(&w->st->failed, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Patterns                                                            */

static uint64_t word_of(uint64_t key, size_t i)
{
	return mix(key + i * 0x2545f4914f6cdd1dull);
}

static void fill(uint8_t *p, size_t size, uint64_t key)
{
	for (size_t off = 0; off < size; off += 8) {
		uint64_t v = word_of(key, off / 8);

		memcpy(p + off, &v, size - off < 8 ? size - off : 8);
	}
}

static bool pattern_ok(const uint8_t *p, size_t size, uint64_t key)
{
	for (size_t off = 0; off < size; off += 8) {
		uint64_t v = word_of(key, off / 8);

		if (memcmp(p + off, &v, size - off < 8 ? size - off : 8) != 0)
			return false;
	}
	return true;
}

static void meta_of(const struct rec *r, uint64_t meta[2])
{
	meta[0] = r->key;
	meta[1] = r->size;
}

/* A pinned view against its record. */
static bool view_ok(struct worker *w, const struct shoal_view *v,
		    const struct rec *r)
{
	uint64_t meta[2];

	if (!shoal_id_eq(v->id, r->id) || v->size != r->size || !v->data)
		return false;
	if (r->kind == K_PUT) {
		if (v->meta_size != 0)
			return false;
	} else {
		meta_of(r, meta);
		if (v->meta_size != META_SIZE || !v->meta ||
		    memcmp(v->meta, meta, META_SIZE) != 0)
			return false;
	}
	w->n[N_VERIFIED_BYTES] += v->size;
	return pattern_ok(v->data, v->size, r->key);
}

static uint32_t pick_size(uint64_t r)
{
	switch (r % 32) {
	case 0:
		return BIG;
	case 1: case 2: case 3: case 4: case 5: case 6: case 7:
		return 16384 + (uint32_t)((r >> 8) % (48u << 10)); /* to 64 KiB */
	case 8: case 9: case 10: case 11: case 12: case 13: case 14: case 15:
		return 1024 + (uint32_t)((r >> 8) % (15u << 10));
	default:
		return 64 + (uint32_t)((r >> 8) % 961);
	}
}

/* ------------------------------------------------------------------ */
/* The log and the ring of recent objects                              */

static uint64_t log_reserve(struct stress *st)
{
	/* Relaxed: only hands out distinct indices; the record is published
	 * by the ring's release store. */
	return atomic_fetch_add_explicit(&st->log_n, 1, memory_order_relaxed);
}

static void publish(struct stress *st, uint64_t idx)
{
	uint64_t h = atomic_fetch_add_explicit(&st->ring_head, 1,
					       memory_order_relaxed);

	/* LOG-R1: publishes log[idx], written before, to LOG-A1. */
	atomic_store_explicit(&st->ring[h % RING], idx + 1,
			      memory_order_release);
}

/* A recent record, or NULL while the ring slot is empty. */
static const struct rec *recent(struct worker *w, uint64_t *idx)
{
	uint64_t v = atomic_load_explicit(&w->st->ring[next_rand(w) % RING],
					  memory_order_acquire); /* LOG-A1 */

	if (v == 0)
		return NULL;
	*idx = v - 1;
	return &w->st->log[v - 1];
}

/* ------------------------------------------------------------------ */
/* Holds and pins                                                      */

static void drop_at(struct worker *w, int k)
{
	const struct rec *r = &w->st->log[w->held[k]];
	int rc = shoal_drop(w->s, r->id);

	/* We hold it, so the entry (or its DELETED tombstone) stays. */
	if (rc != 0)
		fail(w, "drop of a held object", rc, r);
	w->held[k] = w->held[--w->nheld];
}

static void add_held(struct worker *w, uint64_t idx)
{
	if (w->nheld == MAXHELD)
		drop_at(w, 0);
	w->held[w->nheld++] = idx;
}

static void release_at(struct worker *w, int k)
{
	struct pin *p = &w->pins[k];
	const struct rec *r = &w->st->log[p->rec];
	int rc;

	if (!view_ok(w, &p->v, r))
		fail(w, "pinned object changed before release", 0, r);
	rc = shoal_release(w->s, &p->v);
	if (rc != 0)
		fail(w, "release", rc, r);
	else if (p->v.data != NULL)
		fail(w, "release left the view set", 0, r);
	w->pins[k] = w->pins[--w->npins];
}

/* Verifies a fresh view and keeps it pinned (releasing another if full). */
static void keep_pin(struct worker *w, struct shoal_view *v, uint64_t idx)
{
	const struct rec *r = &w->st->log[idx];

	if (!view_ok(w, v, r))
		fail(w, "pinned object has wrong bytes", 0, r);
	if (w->npins == MAXPINS)
		release_at(w, (int)(next_rand(w) % MAXPINS));
	w->pins[w->npins++] = (struct pin){*v, idx};
}

/* Results a get of some recent object may have. */
static bool count_get(struct worker *w, int rc)
{
	switch (rc) {
	case 0:
		w->n[N_GETS]++;
		return true;
	case -ETIMEDOUT:
		w->n[N_GET_TIMEOUT]++;
		return true;
	case SHOAL_EEVICTED:
		w->n[N_GET_EVICTED]++;
		return true;
	case SHOAL_EDELETED:
		w->n[N_GET_DELETED]++;
		return true;
	case SHOAL_ELEDGERFULL:
		w->n[N_GET_LEDGER]++;
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */

static int put_timeout(uint64_t r)
{
	return r % 8 == 0 ? 10 : 0;
}

static bool put_failed_ok(struct worker *w, int rc)
{
	if (rc == SHOAL_ESTOREFULL)
		w->n[N_PUT_FULL]++;
	else if (rc == -ENOSPC)
		w->n[N_PUT_NOSPC]++;
	else
		return false;
	return true;
}

/* After a put (the creator holds the object, nobody else knows its ID
 * yet): it is there, sealed, with our bytes. */
static void check_own(struct worker *w, uint64_t idx)
{
	const struct rec *r = &w->st->log[idx];
	struct shoal_view v;
	int rc = shoal_contains(w->s, r->id);

	if (rc != 1)
		fail(w, "contains of an object just put", rc, r);
	rc = shoal_get(w->s, r->id, 0, &v);
	if (rc != 0) {
		fail(w, "get of an object just put", rc, r);
		return;
	}
	w->n[N_GETS]++;
	keep_pin(w, &v, idx);
}

static void op_put(struct worker *w, uint64_t r)
{
	uint64_t idx = log_reserve(w->st), meta[2];
	struct rec *rec;
	int rc;

	if (idx >= MAXREC)
		return;
	rec = &w->st->log[idx];
	rec->size = pick_size(r);
	if (r & (1u << 20)) {
		rec->kind = K_PUT_ID;
		rec->id = shoal_id_next(w->s);
		rec->key = key_of_id(rec->id);
		fill(w->buf, rec->size, rec->key);
		meta_of(rec, meta);
		rc = shoal_put_with_id(w->s, rec->id, w->buf, rec->size, meta,
				       META_SIZE, put_timeout(r >> 24));
	} else {
		rec->kind = K_PUT;
		rec->key = mix(r ^ ((uint64_t)w->id << 56));
		fill(w->buf, rec->size, rec->key);
		rc = shoal_put(w->s, w->buf, rec->size, put_timeout(r >> 24),
			       &rec->id);
	}
	if (rc != 0) {
		if (!put_failed_ok(w, rc))
			fail(w, rec->kind == K_PUT ? "put" : "put_with_id", rc,
			     rec);
		return;
	}
	w->n[N_PUTS]++;
	add_held(w, idx);
	check_own(w, idx);
	publish(w->st, idx);
}

/* create, published before it exists: gets of it wait for the seal; a
 * delete of the unsealed object answers SHOAL_ENOTSEALED, a hold of it
 * works (and must still be droppable after an abort: a tombstone). */
static void op_create(struct worker *w, uint64_t r)
{
	uint64_t idx = log_reserve(w->st), meta[2];
	struct shoal_view v;
	struct rec *rec;
	void *data;
	int rc;

	if (idx >= MAXREC)
		return;
	rec = &w->st->log[idx];
	*rec = (struct rec){.id = shoal_id_next(w->s), .size = pick_size(r),
			    .kind = K_CREATE};
	rec->key = key_of_id(rec->id);
	meta_of(rec, meta);
	publish(w->st, idx);
	rc = shoal_create(w->s, rec->id, rec->size, meta, META_SIZE,
			  put_timeout(r >> 24), &data);
	if (rc != 0) {
		if (!put_failed_ok(w, rc))
			fail(w, "create", rc, rec);
		return;
	}
	fill(data, rec->size, rec->key);
	if ((r >> 40) % 8 == 0) {
		rc = shoal_abort(w->s, rec->id);
		if (rc != 0)
			fail(w, "abort", rc, rec);
		rc = shoal_seal(w->s, rec->id);
		if (rc != -ENOENT)
			fail(w, "seal after abort", rc, rec);
		w->n[N_ABORTS]++;
		return;
	}
	rc = shoal_seal(w->s, rec->id);
	if (rc != 0) {
		fail(w, "seal", rc, rec);
		return;
	}
	rc = shoal_seal(w->s, rec->id);
	if (rc != SHOAL_ESEALED && rc != -ENOENT) /* -ENOENT: deleted */
		fail(w, "second seal", rc, rec);
	w->n[N_PUTS]++;
	add_held(w, idx);
	/* Held, so not evicted; others may have deleted it since the seal. */
	rc = shoal_get(w->s, rec->id, 0, &v);
	if (rc == 0) {
		w->n[N_GETS]++;
		keep_pin(w, &v, idx);
	} else if (rc != SHOAL_EDELETED) {
		fail(w, "get of an object just created", rc, rec);
	}
}

static void op_get(struct worker *w, uint64_t r)
{
	uint64_t idx;
	const struct rec *rec = recent(w, &idx);
	struct shoal_view v;
	int rc;

	if (!rec)
		return;
	/* Mostly polls; sometimes waits a little for an unsealed create. */
	rc = shoal_get(w->s, rec->id, r % 16 == 0 ? 2 : 0, &v);
	if (!count_get(w, rc))
		fail(w, "get", rc, rec);
	else if (rc == 0)
		keep_pin(w, &v, idx);
	else if (v.data != NULL || v.err != rc)
		fail(w, "failed get left a view", rc, rec);
}

static void op_get_many(struct worker *w)
{
	shoal_id ids[NMANY];
	uint64_t idx[NMANY];
	struct shoal_view v[NMANY];
	int n = 0, pinned = 0, rc;

	for (int i = 0; i < NMANY; i++) {
		const struct rec *rec = recent(w, &idx[n]);

		if (rec)
			ids[n++] = rec->id;
	}
	if (n == 0)
		return;
	rc = shoal_get_many(w->s, ids, (size_t)n, 0, v);
	for (int i = 0; i < n; i++) {
		if (!count_get(w, v[i].err))
			fail(w, "get_many", v[i].err, &w->st->log[idx[i]]);
		if (v[i].err != 0)
			continue;
		pinned++;
		/* The same ID twice gives two pins: fine, two releases. */
		keep_pin(w, &v[i], idx[i]);
	}
	if (rc != pinned)
		fail(w, "get_many count", rc, NULL);
}

static void op_hold(struct worker *w)
{
	uint64_t idx;
	const struct rec *rec = recent(w, &idx);
	int rc;

	if (!rec)
		return;
	rc = shoal_hold(w->s, rec->id);
	switch (rc) {
	case 0:
		w->n[N_HOLDS]++;
		add_held(w, idx);
		break;
	case -ENOENT:          /* gone, tombstone reused */
	case SHOAL_EEVICTED:
	case SHOAL_EDELETED:
	case SHOAL_ELEDGERFULL:
		w->n[N_HOLD_GONE]++;
		break;
	default:
		fail(w, "hold", rc, rec);
	}
}

static void op_delete(struct worker *w)
{
	uint64_t idx;
	const struct rec *rec = recent(w, &idx);
	int rc;

	if (!rec)
		return;
	rc = shoal_delete(w->s, rec->id);
	if (rc == 0)
		w->n[N_DELETES]++;
	else if (rc != -ENOENT && rc != SHOAL_ENOTSEALED)
		fail(w, "delete", rc, rec);
}

static void op_contains(struct worker *w)
{
	uint64_t idx;
	const struct rec *rec = recent(w, &idx);
	int rc;

	if (rec && (rc = shoal_contains(w->s, rec->id)) != 0 && rc != 1)
		fail(w, "contains", rc, rec);
}

static void op_evict(struct worker *w, uint64_t r)
{
	int rc = shoal_evict(w->s, (r % 4) << 20);

	if (rc < 0)
		fail(w, "evict", rc, NULL);
	else
		w->n[N_EVICTED_BYTES] += (uint64_t)rc;
}

static void op_inspect(struct worker *w)
{
	struct shoal_object_info info[64];
	struct shoal_store_stats ss;
	int n = shoal_list(w->s, info, 64), rc;

	if (n < 0)
		fail(w, "list", n, NULL);
	for (int i = 0; i < n && i < 64; i++)
		if (info[i].state < SHOAL_OBJECT_CREATED ||
		    info[i].state > SHOAL_OBJECT_DELETING)
			fail(w, "list: bad state", (int)info[i].state, NULL);
	rc = shoal_store_stats(w->s, &ss);
	if (rc != 0)
		fail(w, "stats", rc, NULL);
	else if (ss.capacity < CAPACITY || ss.max_objects != MAX_OBJECTS ||
		 ss.objects > MAX_OBJECTS || ss.bytes_used > ss.capacity)
		fail(w, "stats out of range", (int)ss.objects, NULL);
}

static void step(struct worker *w)
{
	uint64_t r = next_rand(w);
	unsigned op = (unsigned)(r % 100);

	r >>= 8;
	if (op < 25)
		op_put(w, r);
	else if (op < 32)
		op_create(w, r);
	else if (op < 58)
		op_get(w, r);
	else if (op < 61)
		op_get_many(w);
	else if (op < 70)
		op_hold(w);
	else if (op < 78) {
		if (w->nheld)
			drop_at(w, (int)(r % (uint64_t)w->nheld));
	} else if (op < 82)
		op_delete(w);
	else if (op < 84)
		op_contains(w);
	else if (op < 85)
		op_evict(w, r);
	else if (op < 86 && r % 8 == 0 && CONCURRENT_LIST)
		op_inspect(w);
	else if (w->npins)
		release_at(w, (int)(r % (uint64_t)w->npins));
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */

static bool wait_go(struct stress *st)
{
	int g;

	while ((g = atomic_load_explicit(&st->go, memory_order_acquire)) == 0)
		sched_yield();
	return g > 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;
	int rc;

	if (!wait_go(st))
		return NULL;
	if (w->own) {
		rc = shoal_store_attach_fd(shoal_store_fd(st->main), &w->s);
		if (rc != 0) {
			fail(w, "attach_fd", rc, NULL);
			return NULL;
		}
	}
	for (int i = 0; i < ITERS && !failed(st); i++) {
		if (i % 64 == 0 && now_ms(&st->t0) >= DURATION_MS)
			break;
		step(w);
	}
	if (!w->leave) {
		while (w->npins)
			release_at(w, w->npins - 1);
		while (w->nheld)
			drop_at(w, w->nheld - 1);
	}
	if (w->own)
		shoal_store_close(w->s); /* releases what a leaver kept */
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The final check, on a last handle                                   */

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->id.hi != y->id.hi)
		return x->id.hi < y->id.hi ? -1 : 1;
	return x->id.lo < y->id.lo ? -1 : x->id.lo > y->id.lo;
}

static bool check_object(struct worker *w, const struct shoal_object_info *o,
			 const struct rec *recs, size_t n)
{
	struct rec key = {.id = o->id};
	const struct rec *r = bsearch(&key, recs, n, sizeof *recs, rec_cmp);
	struct shoal_view v;
	bool ok;
	int rc;

	if (o->state != SHOAL_OBJECT_SEALED || o->pins != 0 || o->holds != 0) {
		fprintf(stderr, "stress_store: left over: state %u pins %u "
			"holds %u\n", o->state, o->pins, o->holds);
		return false;
	}
	if (!r) {
		fail(w, "listed object has no record", 0, NULL);
		return false;
	}
	rc = shoal_get(w->s, o->id, 0, &v);
	if (rc != 0) {
		fail(w, "final get", rc, r);
		return false;
	}
	ok = view_ok(w, &v, r);
	if (!ok)
		fail(w, "final bytes", 0, r);
	rc = shoal_release(w->s, &v);
	if (rc != 0)
		fail(w, "final release", rc, r);
	return ok && rc == 0;
}

static bool final_check(struct stress *st, struct shoal_store *last)
{
	struct worker w = {.st = st, .s = last, .id = -1};
	size_t nrec = atomic_load_explicit(&st->log_n, memory_order_relaxed);
	struct shoal_object_info *info = calloc(MAX_OBJECTS, sizeof *info);
	struct shoal_store_stats ss;
	bool ok = info != NULL;
	int n, rc;

	if (nrec > MAXREC)
		nrec = MAXREC;
	qsort(st->log, nrec, sizeof *st->log, rec_cmp);
	n = ok ? shoal_list(last, info, MAX_OBJECTS) : -ENOMEM;
	if (n < 0 || n > MAX_OBJECTS) {
		fail(&w, "final list", n, NULL);
		ok = false;
	}
	for (int i = 0; ok && i < n; i++)
		ok = check_object(&w, &info[i], st->log, nrec);
	rc = shoal_store_stats(last, &ss);
	if (rc != 0 || ss.processes != 1 || ss.objects != (uint64_t)n) {
		fprintf(stderr, "stress_store: final stats: rc %d processes %u "
			"objects %" PRIu64 " listed %d\n", rc, ss.processes,
			ss.objects, n);
		ok = false;
	}
	rc = shoal_evict(last, UINT64_MAX);
	if (shoal_store_stats(last, &ss) != 0 || rc < 0 || ss.objects != 0 ||
	    ss.bytes_used != 0) {
		fprintf(stderr, "stress_store: after a full evict: rc %d "
			"objects %" PRIu64 " bytes %" PRIu64 "\n", rc,
			ss.objects, ss.bytes_used);
		ok = false;
	}
	printf("stress_store: end: %d objects left, %" PRIu64 " evictions "
	       "(%" PRIu64 " bytes), heap reserved %" PRIu64 " after a full "
	       "evict\n", n, ss.evictions, ss.evicted_bytes,
	       ss.heap_bytes_reserved);
	free(info);
	return ok;
}

/* ------------------------------------------------------------------ */

static void report(struct worker *w, uint64_t ms)
{
	uint64_t t[N_COUNTS] = {0};

	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < N_COUNTS; k++)
			t[k] += w[i].n[k];
	printf("stress_store: %d+%d threads, %" PRIu64 " ms: %" PRIu64
	       " puts (%" PRIu64 " full, %" PRIu64 " nospc, %" PRIu64
	       " aborted), %" PRIu64 " gets (%" PRIu64 " timed out, %" PRIu64
	       " evicted, %" PRIu64 " deleted, %" PRIu64 " ledger full), %"
	       PRIu64 " holds (%" PRIu64 " refused), %" PRIu64 " deletes, %"
	       PRIu64 " MiB evicted by shoal_evict, %" PRIu64 " MiB verified\n",
	       NSHARED, NOWN, ms, t[N_PUTS], t[N_PUT_FULL], t[N_PUT_NOSPC],
	       t[N_ABORTS], t[N_GETS], t[N_GET_TIMEOUT], t[N_GET_EVICTED],
	       t[N_GET_DELETED], t[N_GET_LEDGER], t[N_HOLDS], t[N_HOLD_GONE],
	       t[N_DELETES], t[N_EVICTED_BYTES] >> 20,
	       t[N_VERIFIED_BYTES] >> 20);
}

static int run(struct stress *st, struct worker *w)
{
	int started = 0, rc = 0;
	struct shoal_store *last = NULL;

	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){
			.st = st, .s = st->main, .id = i, .own = i >= NSHARED,
			.leave = i == NTHREADS - 1 && NOWN > 0,
			.rng = (uint64_t)(i + 1) << 40, .buf = malloc(BIG),
		};
		if (!w[i].buf || pthread_create(&w[i].tid, NULL, work, &w[i]))
			break;
		started++;
	}
	clock_gettime(CLOCK_MONOTONIC, &st->t0);
	atomic_store_explicit(&st->go, started == NTHREADS ? 1 : -1,
			      memory_order_release);
	for (int i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	for (int i = 0; i < NTHREADS; i++)
		free(w[i].buf);
	if (started < NTHREADS) {
		fprintf(stderr, "stress_store: cannot start threads\n");
		return 77;
	}
	report(w, now_ms(&st->t0));
	if (failed(st))
		return 1;
	rc = shoal_store_attach_fd(shoal_store_fd(st->main), &last);
	if (rc != 0) {
		fprintf(stderr, "stress_store: last attach: %s\n",
			shoal_strerror(rc));
		return 1;
	}
	shoal_store_close(st->main);
	st->main = NULL;
	rc = final_check(st, last) && !failed(st) ? 0 : 1;
	shoal_store_close(last);
	return rc;
}

int main(void)
{
	static struct stress st;
	static struct worker w[NTHREADS];
	struct shoal_store_options o;
	int rc;

	shoal_store_options_init(&o);
	o.capacity = CAPACITY;
	o.max_objects = MAX_OBJECTS;
	rc = shoal_store_create(NULL, &o, &st.main);
	if (rc != 0) {
		fprintf(stderr, "stress_store: no private store: %s\n",
			shoal_strerror(rc));
		return 77;
	}
	st.log = calloc(MAXREC, sizeof *st.log);
	if (!st.log) {
		shoal_store_close(st.main);
		return 77;
	}
	rc = run(&st, w);
	shoal_store_close(st.main);
	free(st.log);
	printf("stress_store: %s\n", rc == 0 ? "ok" : rc == 77 ? "skipped"
						      : "FAILED");
	return rc;
}
