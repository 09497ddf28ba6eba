/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/arglist.c - argument lists (shoal_args_*) and their
 * encoding into a task's or call's record.
 *
 * A list is the caller's, on its stack: by-value arguments point at the
 * caller's bytes (copied at the submit), typed numbers and handles are
 * held in the list itself.  Encoding writes each argument as a 4-byte
 * header (kind, type, length) and its bytes, padded to 8; decoding
 * bounds every length against the record it reads from, since a record
 * is in the segment and never trusted.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ext.h"
#include "mem.h"
#include "task_int.h"

/* An encoded argument: a 4-byte header, then its bytes (a ref's ID),
 * padded to 8.  The header: kind (2 bits) << 30 | type (6 bits) << 24 |
 * length (24 bits).  A length fits in 24 bits because every encoded
 * argument lies inside a record (at most SHOAL_ACTOR_CTOR_BYTES): larger
 * ones travel as refs (shoal__args_fit). */
#define SHOAL__ARG_HDR 4u
#define SHOAL__ARG_KIND_SHIFT 30
#define SHOAL__ARG_TYPE_SHIFT 24
#define SHOAL__ARG_TYPE_MASK 0x3fu
#define SHOAL__ARG_LEN_MASK ((1u << SHOAL__ARG_TYPE_SHIFT) - 1)
static_assert(SHOAL_ACTOR_CTOR_BYTES <= SHOAL__ARG_LEN_MASK &&
		      SHOAL__TASK_ARGS_INLINE <= SHOAL__ARG_LEN_MASK &&
		      SHOAL__CALL_ARGS_INLINE <= SHOAL__ARG_LEN_MASK,
	      "an inline argument's length fits its header");
static_assert(SHOAL_TYPE_ACTOR <= SHOAL__ARG_TYPE_MASK, "a type fits");
/* ABI: the type took the padding after kind; the value shares ref's room. */
static_assert(sizeof(void *) != 8 || (sizeof(struct shoal_arg) == 40 &&
				      offsetof(struct shoal_arg, data) == 8),
	      "ABI: shoal_arg");

static uint32_t shoal__align8(uint32_t v)
{
	return (v + 7u) & ~7u;
}

SHOAL_API void shoal_args_init(struct shoal_args *args)
{
	if (args)
		args->n = 0;
}

static int shoal__args_add(struct shoal_args *args, struct shoal_arg a)
{
	if (!args)
		return -EINVAL;
	if (args->n >= SHOAL_MAX_ARGS)
		return -ENOSPC;
	args->a[args->n++] = a;
	return 0;
}

SHOAL_API int shoal_args_bytes(struct shoal_args *args, const void *data,
			       size_t size)
{
	if ((size && !data) || size >= (1u << SHOAL__ARG_KIND_SHIFT))
		return -EINVAL;
	return shoal__args_add(args, (struct shoal_arg){.kind = SHOAL_ARG_BYTES,
							.data = data, .size = size});
}

/* A typed value kept in the list itself (data NULL). */
static int shoal__args_value(struct shoal_args *args, uint32_t type,
			     const void *v, size_t size)
{
	struct shoal_arg a = {.kind = SHOAL_ARG_BYTES, .type = type, .size = size};

	memcpy(a.value, v, size);
	return shoal__args_add(args, a);
}

SHOAL_API int shoal_args_i64(struct shoal_args *args, int64_t v)
{
	return shoal__args_value(args, SHOAL_TYPE_I64, &v, sizeof v);
}

SHOAL_API int shoal_args_u64(struct shoal_args *args, uint64_t v)
{
	return shoal__args_value(args, SHOAL_TYPE_U64, &v, sizeof v);
}

SHOAL_API int shoal_args_f64(struct shoal_args *args, double v)
{
	return shoal__args_value(args, SHOAL_TYPE_F64, &v, sizeof v);
}

SHOAL_API int shoal_args_str(struct shoal_args *args, const char *str)
{
	size_t n = str ? strnlen(str, 1u << SHOAL__ARG_KIND_SHIFT) : 0;

	if (!str || n + 1 >= (1u << SHOAL__ARG_KIND_SHIFT))
		return -EINVAL;
	return shoal__args_add(args, (struct shoal_arg){.kind = SHOAL_ARG_BYTES,
							.type = SHOAL_TYPE_STR,
							.data = str, .size = n + 1});
}

/* The width of a type whose value the list holds (data NULL), else 0. */
static size_t shoal__arg_held(const struct shoal_arg *a)
{
	if (a->kind != SHOAL_ARG_BYTES)
		return 0;
	switch (a->type) {
	case SHOAL_TYPE_I64:
	case SHOAL_TYPE_U64:
	case SHOAL_TYPE_F64:
		return sizeof(int64_t);
	case SHOAL_TYPE_ACTOR:
		return sizeof a->value;
	default:
		return 0;
	}
}

/* Where the bytes of a checked by-value argument are. */
static const void *shoal__arg_src(const struct shoal_arg *a)
{
	return shoal__arg_held(a) ? (const void *)a->value : a->data;
}

SHOAL_API int shoal_args_ref(struct shoal_args *args, shoal_id ref)
{
	if (shoal_id_is_nil(ref))
		return -EINVAL;
	return shoal__args_add(args, (struct shoal_arg){.kind = SHOAL_ARG_REF,
							.ref = ref});
}

/* One argument: a known kind and type; a value the list holds has its
 * type's width; other bytes are given, under 2^30 bytes (what
 * shoal_args_bytes accepts: a list built by hand is held to the same
 * bound, so that no length is cut to 32 bits below), and a string's end
 * in its NUL. */
static bool shoal__arg_ok(const struct shoal_arg *a)
{
	size_t held = shoal__arg_held(a);

	if ((a->kind != SHOAL_ARG_BYTES && a->kind != SHOAL_ARG_REF) ||
	    a->type > SHOAL_TYPE_ACTOR)
		return false;
	if (a->kind == SHOAL_ARG_REF)
		return true;
	if (held)
		return a->size == held;
	if ((a->size && !a->data) || a->size >= (1u << SHOAL__ARG_KIND_SHIFT))
		return false;
	return a->type != SHOAL_TYPE_STR ||
	       (a->size && ((const char *)a->data)[a->size - 1] == '\0');
}

/* NULL (no arguments) or at most SHOAL_MAX_ARGS good ones. */
int shoal__args_check(const struct shoal_args *args)
{
	if (args && args->n > SHOAL_MAX_ARGS)
		return -EINVAL;
	for (uint32_t i = 0; args && i < args->n; i++)
		if (!shoal__arg_ok(&args->a[i]))
			return -EINVAL;
	return 0;
}

/* Encoded bytes of one checked argument (at most 2^30 + 8). */
static uint64_t shoal__arg_bytes(const struct shoal_arg *a)
{
	uint64_t payload = a->kind == SHOAL_ARG_REF ? sizeof(shoal_id) : a->size;

	return (SHOAL__ARG_HDR + payload + 7u) & ~(uint64_t)7u;
}

/* By-value arguments that do not fit inline go into the store as objects
 * (held by this process until the task is done) and travel as refs.  The
 * puts wait for room no later than the caller's deadline d. */
int shoal__args_fit(struct shoal_runtime *rt, const struct shoal_args *in,
		    uint32_t cap, struct shoal_args *out, struct shoal__pending *p,
		    struct shoal__later *d)
{
	uint64_t total = 0; /* 16 arguments of 2^30 bytes: no 32-bit sum */
	int rc = 0;

	out->n = in->n; /* not the whole struct: most calls have few args */
	memcpy(out->a, in->a, in->n * sizeof in->a[0]);
	for (uint32_t i = 0; i < out->n; i++)
		total += shoal__arg_bytes(&out->a[i]);
	for (uint32_t i = out->n; i-- > 0 && total > cap;) {
		struct shoal_arg *a = &out->a[i];
		shoal_id id;

		uint32_t type = a->type;

		/* A value the list holds is 16 bytes at most: never moved. */
		if (a->kind != SHOAL_ARG_BYTES || a->size <= sizeof(shoal_id))
			continue;
		total -= shoal__arg_bytes(a);
		rc = shoal__pending_put(rt, a->data, a->size, d, &id);
		if (rc)
			return rc;
		p->made |= 1u << p->ndrop;
		p->drop[p->ndrop++] = id;
		/* It keeps its type: a long string is still a string. */
		*a = (struct shoal_arg){.kind = SHOAL_ARG_REF, .type = type, .ref = id};
		total += shoal__arg_bytes(a);
	}
	return total > cap ? -E2BIG : 0;
}

uint32_t shoal__args_encode(uint8_t *buf, const struct shoal_args *args)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < args->n; i++) {
		const struct shoal_arg *a = &args->a[i];
		uint32_t len = a->kind == SHOAL_ARG_REF ? sizeof(shoal_id)
							: (uint32_t)a->size;
		uint32_t hdr = ((uint32_t)a->kind << SHOAL__ARG_KIND_SHIFT) |
			       (a->type << SHOAL__ARG_TYPE_SHIFT) | len;

		memcpy(buf + off, &hdr, sizeof hdr);
		if (a->kind == SHOAL_ARG_REF)
			memcpy(buf + off + SHOAL__ARG_HDR, &a->ref, sizeof a->ref);
		else if (len)
			memcpy(buf + off + SHOAL__ARG_HDR, shoal__arg_src(a), len);
		off += shoal__align8(SHOAL__ARG_HDR + len);
	}
	return off;
}

int shoal__args_decode(const uint8_t *buf, uint32_t nargs, uint32_t args_len,
		       uint32_t i, uint32_t *kind, const uint8_t **data,
		       uint32_t *len)
{
	uint32_t type;

	return shoal__args_decode_typed(buf, nargs, args_len, i, kind, &type,
					data, len);
}

/* Decodes argument i of an encoded buffer (args_len bytes, already
 * checked against its capacity by the caller) into its kind, type, bytes
 * and length; -EINVAL if it is inconsistent (another process wrote it).
 * The type is only a tag: its reader checks the bytes' width itself. */
int shoal__args_decode_typed(const uint8_t *buf, uint32_t nargs,
			     uint32_t args_len, uint32_t i, uint32_t *kind,
			     uint32_t *type, const uint8_t **data, uint32_t *len)
{
	uint32_t off = 0, hdr;

	if (i >= nargs)
		return -EINVAL;
	for (uint32_t k = 0;; k++) {
		if (off + SHOAL__ARG_HDR > args_len)
			return -EINVAL;
		memcpy(&hdr, buf + off, sizeof hdr);
		*kind = hdr >> SHOAL__ARG_KIND_SHIFT;
		*type = (hdr >> SHOAL__ARG_TYPE_SHIFT) & SHOAL__ARG_TYPE_MASK;
		*len = hdr & SHOAL__ARG_LEN_MASK;
		if (*len > args_len - off - SHOAL__ARG_HDR)
			return -EINVAL;
		if (k == i)
			break;
		off += shoal__align8(SHOAL__ARG_HDR + *len);
	}
	*data = buf + off + SHOAL__ARG_HDR;
	return *kind == SHOAL_ARG_REF && *len != sizeof(shoal_id) ? -EINVAL : 0;
}
