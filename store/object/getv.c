/* SPDX-License-Identifier: MIT */
/*
 * store/object/getv.c - one call to read a small object (shoal_get_i64,
 * shoal_get_str, shoal_get_copy ...): get, check the size, copy, release,
 * drop the caller's hold.  Ray's `ray.get(ref)` then `del ref`, for the
 * many results that are a number or a short string.
 *
 * Built on the public object API (shoal_get, then shoal_release_drop: the pin
 * and the caller's hold given back in one change of the REF protocol, or
 * shoal_release alone when the caller holds none): it adds no state and
 * no crash window of its own.  A process killed between its steps leaves
 * a pin or a hold in its ledger, which its reaper gives back like any
 * other, and one killed inside the change a REF intent, whose reaper
 * recounts the entry (store/reap.c).
 *
 * Objects carry no type: a typed read checks the size (8 bytes for a
 * number) or, for a string, the NUL at its end, and says SHOAL_EOBJTYPE
 * otherwise.  The hold is dropped on success only: a read that fails
 * leaves the ref to the caller, to read an error object's message
 * (shoal_error_message), ask again (a timeout, a buffer too small), or
 * drop it.
 */
#include <errno.h>
#include <string.h>

#include "object_int.h"

/* What a typed read wants of the object's bytes. */
enum shoal__getv_want {
	SHOAL__GETV_FIXED, /* exactly cap bytes */
	SHOAL__GETV_STR,   /* at most cap bytes, ending in a NUL */
	SHOAL__GETV_COPY,  /* at most cap bytes */
};

/* Checks and copies a pinned view's bytes into buf. */
static int shoal__getv_copy(const struct shoal_view *v, enum shoal__getv_want w,
			    void *buf, size_t cap)
{
	if (w == SHOAL__GETV_FIXED && v->size != cap)
		return SHOAL_EOBJTYPE;
	if (w == SHOAL__GETV_STR &&
	    (!v->size || ((const char *)v->data)[v->size - 1] != '\0'))
		return SHOAL_EOBJTYPE;
	if (v->size > cap)
		return -ENOBUFS;
	if (v->size)
		memcpy(buf, v->data, v->size);
	return 0;
}

static int shoal__getv(struct shoal_store *s, shoal_id id, int timeout_ms,
		       enum shoal__getv_want w, void *buf, size_t cap,
		       size_t *size)
{
	struct shoal_view v;
	int rc, rel;

	if (!s || (!buf && (cap || w != SHOAL__GETV_COPY)))
		return -EINVAL;
	rc = shoal_get(s, id, timeout_ms, &v);
	if (rc)
		return rc;
	if (size)
		*size = v.size;
	rc = shoal__getv_copy(&v, w, buf, cap);
	if (rc) {
		(void)shoal_release(s, &v); /* the hold stays the caller's */
		return rc;
	}
	rel = shoal_release_drop(s, &v);
	if (rel == -ENOENT) /* the caller held none */
		rel = shoal_release(s, &v);
	return rel; /* nonzero: still pinned (a recount under way) */
}

/* The three 8-byte gets: *out (8 bytes) is written only on success. */
static int shoal__getv_word(struct shoal_store *s, shoal_id id,
			    int timeout_ms, void *out)
{
	uint64_t w;
	int rc = out ? shoal__getv(s, id, timeout_ms, SHOAL__GETV_FIXED, &w,
				   sizeof w, NULL)
		     : -EINVAL;

	if (!rc)
		memcpy(out, &w, sizeof w);
	return rc;
}

SHOAL_API int shoal_get_i64(struct shoal_store *store, shoal_id id,
			    int timeout_ms, int64_t *out)
{
	return shoal__getv_word(store, id, timeout_ms, out);
}

SHOAL_API int shoal_get_u64(struct shoal_store *store, shoal_id id,
			    int timeout_ms, uint64_t *out)
{
	return shoal__getv_word(store, id, timeout_ms, out);
}

SHOAL_API int shoal_get_f64(struct shoal_store *store, shoal_id id,
			    int timeout_ms, double *out)
{
	_Static_assert(sizeof(double) == sizeof(uint64_t), "a double is a word");
	return shoal__getv_word(store, id, timeout_ms, out);
}

SHOAL_API int shoal_get_str(struct shoal_store *store, shoal_id id,
			    int timeout_ms, char *buf, size_t cap)
{
	return shoal__getv(store, id, timeout_ms, SHOAL__GETV_STR, buf, cap, NULL);
}

SHOAL_API int shoal_get_copy(struct shoal_store *store, shoal_id id,
			     int timeout_ms, void *buf, size_t cap,
			     size_t *size)
{
	return shoal__getv(store, id, timeout_ms, SHOAL__GETV_COPY, buf, cap, size);
}
