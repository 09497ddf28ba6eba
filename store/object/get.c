/* SPDX-License-Identifier: MIT */
/*
 * store/object/get.c - get, release, contains and wait: pin a sealed
 * entry into a view (a pin keeps it from being freed), wait for objects
 * that are not sealed yet.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "object_int.h"

/* ------------------------------------------------------------------ */
/* Get, release, contains.                                             */

/* The bytes of a pinned entry: in its own data_off word when inline (the
 * pin keeps the entry), else its block; NULL if its description does not
 * lie in the arena (another process may have written anything). */
static uint8_t *shoal__entry_bytes(struct shoal_store *s, uint32_t idx,
				   const struct shoal__desc *d)
{
	const struct shoal__heap_view *h = &s->heap;
	uint8_t *p;

	if (d->flags & SHOAL__SIZE_INLINE)
		return d->size <= SHOAL__INLINE_MAX && !d->meta_size
			       ? (uint8_t *)&s->dir[idx].data_off : NULL;
	if (d->off < h->arena_off || d->size > h->arena_size ||
	    d->meta_size > h->arena_size - d->size)
		return NULL;
	p = shoal__ptr(&s->map, SHOAL__OFF(d->off), d->size + d->meta_size);
	if (!p || d->off + d->size + d->meta_size > h->arena_off + h->arena_size)
		return NULL;
	return p;
}

/* Fills a view of a pinned entry; SHOAL_EBADSEGMENT for a description
 * that does not lie in the arena. */
static int shoal__view_fill(struct shoal_store *s, uint32_t idx, uint32_t gen,
			    shoal_id id, struct shoal_view *v)
{
	struct shoal__desc d = shoal__entry_desc(&s->dir[idx]);
	uint8_t *p = shoal__entry_bytes(s, idx, &d);

	if (!p)
		return SHOAL_EBADSEGMENT;
	v->data = p;
	v->size = d.size;
	v->meta = d.meta_size ? p + d.size : NULL;
	v->meta_size = d.meta_size;
	v->id = id;
	v->err = 0;
	v->entry_ = idx;
	v->gen_ = gen;
	return 0;
}

/* A pin this call took and does not hand out goes again.  If a REPAIR
 * outlasts `by` it stays, whole (entry and ledger agree), and is owed
 * (internal.h): the handle's next get or release tries it again, and its
 * close gives it back in any case.  Without that, a long-lived process (a
 * worker) would keep it for the rest of its life, and the object with
 * it.  Under lock. */
void shoal__obj_unpin(struct shoal_store *s, uint32_t idx, uint32_t gen,
		      struct shoal__later *by)
{
	struct shoal__ref u = {.idx = idx, .gen = gen, .dpins = -1,
			       .acquire = false};
	int rc = shoal__ref_change(s, &u, by);

	if (!rc)
		shoal__finish_release(s, &u);
	else if (rc == -ETIMEDOUT && s->nowed < SHOAL__OWED_MAX)
		s->owed[s->nowed++] = (struct shoal__owed){idx, gen};
}

/* Tries each owed unpin once more (under lock).  One whose entry is
 * still under REPAIR stays owed without a wait (a relaxed load: only a
 * guess; the REF protocol's CAS decides, and waits out a REPAIR that
 * comes meanwhile up to its bound).  One that is not ours any more
 * (-ENOENT, -ESTALE: cannot happen while our ledger has the pin) is
 * forgotten rather than tried for ever. */
static void shoal__owed_settle(struct shoal_store *s)
{
	for (uint32_t i = 0; i < s->nowed;) {
		struct shoal__owed o = s->owed[i];
		struct shoal__later by = shoal__lock_by(0);
		struct shoal__ref u = {.idx = o.idx, .gen = o.gen, .dpins = -1,
				       .acquire = false};
		int rc = -ETIMEDOUT;

		if (!(atomic_load_explicit(&s->dir[o.idx].ctl,
					   memory_order_relaxed) &
		      SHOAL__CTL_REPAIR))
			rc = shoal__ref_change(s, &u, &by);
		if (rc == -ETIMEDOUT) {
			i++;
			continue;
		}
		if (!rc)
			shoal__finish_release(s, &u);
		s->owed[i] = s->owed[--s->nowed];
	}
}

/* An error object's bytes: its code (int32_t, one of ours), then the
 * message.  Anything else reads as a failed task. */
static int shoal__error_code(const struct shoal_view *v)
{
	int32_t code = SHOAL_ETASK;

	if (v->size >= sizeof code)
		memcpy(&code, v->data, sizeof code);
	return code <= -4000 && code > -4100 ? code : SHOAL_ETASK;
}

/* Pins id's sealed entry into v, whatever it holds: 0, -EAGAIN (not
 * there yet), or a final error (-ETIMEDOUT: a REPAIR on it outlasted
 * `by`). */
static int shoal__pin_view(struct shoal_store *s, shoal_id id,
			   struct shoal_view *v, struct shoal__later *by)
{
	for (;;) {
		uint64_t c;
		int idx = shoal__dir_lookup(s, id, &c);
		struct shoal__ref r;
		int rc;

		if (idx < 0 || SHOAL__CTL_STATE(c) == SHOAL__E_CREATED)
			return -EAGAIN;
		r = (struct shoal__ref){.idx = (uint32_t)idx, .gen = SHOAL__CTL_GEN(c),
					.dpins = 1, .acquire = true};
		rc = shoal__ref_change(s, &r, by);
		if (rc == -ESTALE)
			continue; /* the entry was reused under us */
		if (rc == SHOAL_ENOTSEALED)
			return -EAGAIN;
		if (rc)
			return rc;
		rc = shoal__view_fill(s, (uint32_t)idx, r.gen, id, v);
		if (rc) /* a corrupt entry: do not leave it pinned */
			shoal__obj_unpin(s, r.idx, r.gen, by);
		return rc;
	}
}

/* One attempt: 0 (pinned), -EAGAIN (not there yet), or a final error
 * (an error object's code among them). */
static int shoal__try_get(struct shoal_store *s, shoal_id id,
			  struct shoal_view *v, struct shoal__later *by)
{
	int rc;

	if (s->nowed)
		shoal__owed_settle(s);
	rc = shoal__pin_view(s, id, v, by);

	if (rc)
		return rc;
	if (shoal__entry_desc(&s->dir[v->entry_]).flags & SHOAL__SIZE_ERROR) {
		rc = shoal__error_code(v);
		shoal__obj_unpin(s, v->entry_, v->gen_, by);
		return rc;
	}
	shoal__touch(s, &s->dir[v->entry_]);
	return 0;
}

struct shoal__get_req {
	const shoal_id *ids;
	struct shoal_view *views;
	size_t n;
	size_t pending;
	struct shoal__later *by; /* a pin's wait for a REPAIR (deadline.h) */
};

/* Tries every ID still pending; -EAGAIN while any is. */
static int shoal__try_get_many(struct shoal_store *s, void *arg)
{
	struct shoal__get_req *r = arg;

	for (size_t i = 0; i < r->n; i++) {
		if (r->views[i].err != -EAGAIN)
			continue;
		r->views[i].err = shoal__try_get(s, r->ids[i], &r->views[i],
						 r->by);
		if (r->views[i].err != -EAGAIN)
			r->pending--;
	}
	return r->pending ? -EAGAIN : 0;
}

static int shoal__get_wait(struct shoal_store *s, struct shoal__get_req *r,
			   int timeout_ms)
{
	int rc = shoal__attempt(s, shoal__try_get_many, r);

	if (rc == -EAGAIN && timeout_ms != 0)
		rc = shoal__wait_for(s, &s->hdr->obj,
				     shoal__deadline_in(timeout_ms),
				     shoal__try_get_many, r);
	return rc;
}

static struct shoal__deadline shoal__slice_of(struct shoal__deadline d)
{
	struct shoal__deadline slice = shoal__deadline_in(SHOAL__WAIT_SLICE_MS);

	return slice.ns < d.ns ? slice : d;
}

/* One slice of waiting for id: on its entry's waiter stack while it is
 * unsealed (a targeted wake-up), else on the object event.  A slice that
 * timed out reaps, within the call's deadline d (proc.c, "Work"). */
static int shoal__get_one_slice(struct shoal_store *s, shoal_id id,
				struct shoal__deadline slice,
				struct shoal__deadline d,
				struct shoal__get_req *r)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);
	int rc = -EAGAIN;

	/* The on_block hook is called inside, around the sleep. */
	if (idx >= 0 && SHOAL__CTL_STATE(c) == SHOAL__E_CREATED)
		rc = shoal__waiters_wait(s, (uint32_t)idx, c, slice);
	if (rc == -ETIMEDOUT) {
		shoal__lock(s);
		shoal__proc_reap_until(s, d);
		shoal__unlock(s);
	}
	if (rc != -EAGAIN)
		return rc;
	return shoal__wait_for(s, &s->hdr->obj, slice,
			       shoal__try_get_many, r);
}

/* Waits for one object: 0 (pinned into v), an error, or -ETIMEDOUT. */
static int shoal__get_one_wait(struct shoal_store *s, shoal_id id,
			       struct shoal__deadline d, struct shoal__later *by,
			       struct shoal_view *v)
{
	struct shoal__get_req r = {&id, v, 1, 1, by};

	for (;;) {
		int rc;

		v->err = -EAGAIN;
		r.pending = 1;
		if (shoal__attempt(s, shoal__try_get_many, &r) != -EAGAIN)
			return v->err;
		if (shoal__deadline_passed(d))
			return -ETIMEDOUT;
		rc = shoal__get_one_slice(s, id, shoal__slice_of(d), d, &r);
		if (rc == 0 && r.pending == 0)
			return v->err;
	}
}

SHOAL_API int shoal_get(struct shoal_store *store, shoal_id id,
			int timeout_ms, struct shoal_view *out)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	if (!store || shoal_id_is_nil(id))
		return -EINVAL;
	if (store->readonly)
		return out->err = SHOAL_EREADONLY;
	shoal__lock(store);
	rc = shoal__try_get(store, id, out, &by);
	shoal__unlock(store);
	if (rc == -EAGAIN && timeout_ms != 0)
		rc = shoal__get_one_wait(store, id, shoal__deadline_in(timeout_ms),
					 &by, out);
	if (rc == -EAGAIN)
		rc = -ETIMEDOUT;
	if (rc)
		memset(out, 0, sizeof *out);
	out->err = rc;
	return rc;
}

SHOAL_API int shoal_get_many(struct shoal_store *store, const shoal_id *ids,
			     size_t n, int timeout_ms, struct shoal_view *views)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	struct shoal__get_req r = {ids, views, n, n, &by};
	int pinned = 0;

	if (!store || (n && (!ids || !views)) || n > INT32_MAX)
		return -EINVAL;
	if (store->readonly)
		return SHOAL_EREADONLY;
	for (size_t i = 0; i < n; i++) {
		memset(&views[i], 0, sizeof views[i]);
		views[i].err = shoal_id_is_nil(ids[i]) ? -EINVAL : -EAGAIN;
		r.pending -= views[i].err != -EAGAIN;
	}
	shoal__get_wait(store, &r, timeout_ms);
	for (size_t i = 0; i < n; i++) {
		if (views[i].err == -EAGAIN)
			views[i].err = -ETIMEDOUT;
		if (views[i].err) {
			int err = views[i].err;
			memset(&views[i], 0, sizeof views[i]);
			views[i].err = err;
		}
		pinned += views[i].err == 0;
	}
	return pinned;
}

/* The view's pin, and dholds (0 or -1) of this process's holds on its
 * object, given back in one change of the REF protocol. */
static int shoal__unview(struct shoal_store *store, struct shoal_view *view,
			 int32_t dholds)
{
	struct shoal__later by = shoal__lock_by(0);
	struct shoal__ref r;
	int rc;

	r = (struct shoal__ref){.idx = view->entry_, .gen = view->gen_,
				.dpins = -1, .dholds = dholds, .acquire = false};
	shoal__lock(store);
	if (store->nowed)
		shoal__owed_settle(store);
	rc = shoal__ref_change(store, &r, &by);
	if (!rc)
		shoal__finish_release(store, &r);
	shoal__unlock(store);
	if (!rc)
		memset(view, 0, sizeof *view);
	return rc;
}

SHOAL_API int shoal_release(struct shoal_store *store, struct shoal_view *view)
{
	int rc;

	if (shoal__ro(store))
		return SHOAL_EREADONLY;
	if (!store || !view || !view->data || view->entry_ > store->dir_mask)
		return -EINVAL;
	rc = shoal__unview(store, view, 0);
	return rc == -ENOENT || rc == -ESTALE ? -EINVAL : rc;
}

/* The pin and the hold are both this process's: one intent, one CAS, one
 * ledger store instead of two of each.  -ENOENT from the ledger means a
 * count this process does not have: only the hold can be missing from a
 * view this handle pinned. */
SHOAL_API int shoal_release_drop(struct shoal_store *store,
				 struct shoal_view *view)
{
	int rc;

	if (shoal__ro(store))
		return SHOAL_EREADONLY;
	if (!store || !view || !view->data || view->entry_ > store->dir_mask)
		return -EINVAL;
	rc = shoal__unview(store, view, -1);
	return rc == -ESTALE ? -EINVAL : rc;
}

void shoal__release_owed(struct shoal_store *s, struct shoal_view *v)
{
	struct shoal__later by = shoal__lock_by(0);

	if (!s || s->readonly || !v || !v->data || v->entry_ > s->dir_mask)
		return;
	shoal__lock(s);
	shoal__obj_unpin(s, v->entry_, v->gen_, &by);
	shoal__unlock(s);
	memset(v, 0, sizeof *v);
}

SHOAL_API int shoal_error_message(struct shoal_store *store, shoal_id id,
				  char *buf, size_t cap)
{
	struct shoal__later by = shoal__lock_by(0);
	struct shoal_view v;
	size_t len, n;
	int rc;

	if (!store || (cap && !buf) || shoal_id_is_nil(id))
		return -EINVAL;
	if (store->readonly)
		return SHOAL_EREADONLY;
	shoal__lock(store);
	rc = shoal__pin_view(store, id, &v, &by);
	shoal__unlock(store);
	if (rc == -EAGAIN && shoal__dir_lookup(store, id, &(uint64_t){0}) < 0)
		return -ENOENT;
	if (rc)
		return rc;
	len = v.size > sizeof(int32_t) ? v.size - sizeof(int32_t) : 0;
	rc = (shoal__entry_desc(&store->dir[v.entry_]).flags & SHOAL__SIZE_ERROR)
		     ? (int)(len > INT32_MAX ? INT32_MAX : len)
		     : -ENOMSG;
	if (rc >= 0 && cap) {
		n = len < cap - 1 ? len : cap - 1;
		memcpy(buf, (const char *)v.data + sizeof(int32_t), n);
		buf[n] = '\0';
	}
	shoal__release_owed(store, &v);
	return rc;
}

struct shoal__wait_req {
	const shoal_id *ids;
	size_t n;
	size_t need;
	uint8_t *ready;
	size_t count;
};

/* Ready: sealed (an error included) or gone; not: absent or unsealed. */
static bool shoal__is_ready(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) >= 0 &&
	       SHOAL__CTL_STATE(c) != SHOAL__E_CREATED;
}

/* No unsealed entry for id: sealed, a tombstone, or gone altogether (a
 * transient result freed and its tombstone reused). */
bool shoal__obj_settled(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) < 0 ||
	       SHOAL__CTL_STATE(c) != SHOAL__E_CREATED;
}

static int shoal__try_wait(struct shoal_store *s, void *arg)
{
	struct shoal__wait_req *r = arg;

	r->count = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (!r->ready[i])
			r->ready[i] = shoal__is_ready(s, r->ids[i]);
		r->count += r->ready[i];
	}
	return r->count >= r->need ? 0 : -EAGAIN;
}

SHOAL_API int shoal_wait(struct shoal_store *store, const shoal_id *ids,
			 size_t n, size_t num_ready, int timeout_ms,
			 uint8_t *ready)
{
	struct shoal__wait_req r = {ids, n, num_ready, ready, 0};
	int rc;

	if (!store || (n && (!ids || !ready)) || num_ready > n || n > INT32_MAX)
		return -EINVAL;
	if (store->readonly) /* its wait registers in a slot it has not */
		return SHOAL_EREADONLY;
	if (n) /* ready may be NULL then: memset(NULL, 0, 0) is undefined */
		memset(ready, 0, n);
	rc = shoal__try_wait(store, &r);
	if (rc == -EAGAIN && timeout_ms != 0)
		shoal__wait_for(store, &store->hdr->obj,
				shoal__deadline_in(timeout_ms), shoal__try_wait, &r);
	return (int)r.count;
}

SHOAL_API int shoal_contains(struct shoal_store *store, shoal_id id)
{
	uint64_t c;
	int idx = shoal__find(store, id, &c);

	if (idx == -EINVAL)
		return idx;
	return idx >= 0 && SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
	       !(c & SHOAL__CTL_DELETING);
}

