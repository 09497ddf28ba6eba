/* SPDX-License-Identifier: MIT */
/*
 * shoal/id.h - 16-byte object IDs.
 *
 * An ID is two 64-bit words.  `hi` carries the node (bits 63..48, 0 on one
 * machine, kept so that a later multi-machine mode can route an ID to its
 * owner without a lookup), a return index (bits 47..32) and the owner
 * (bits 31..0: the creating process's slot and the low 20 bits of that
 * slot's generation); `lo` is a 64-bit counter.  shoal_id_next() takes
 * lo's bits 57..0 from a block of 2^16 that the segment handed to the
 * owner alone and puts in bits 63..58 a class k that says where the store
 * files the ID: k = 0, anywhere in its directory; k > 0, in a window of
 * 2^(13+k) slots, so that one process's IDs in a row come back to pages
 * it has mapped (shoal_id_next picks k from what the process holds, and
 * raises it when the window crowds).  Any value makes a valid ID, but a
 * caller that derives IDs sharing hi from a counter should leave those
 * bits 0: about 2^(13+k) IDs of one hi and one class k > 0 live at once
 * fill their window (its 64-slot chains full: a put then fails with
 * -ENOSPC while the store has room).  Random IDs carry random
 * bits there and a random hi: any class works for them.  The segment never hands out a block twice, so
 * shoal_id_next() IDs are unique for the life of a segment (the owner
 * field alone is not: a slot's generation wraps after 2^20 processes).  Random IDs keep node = 0 and fill the other 112 bits from
 * getrandom().
 *
 * The all-zero ID is never valid (SHOAL_ID_NIL).  Text form: 32 lowercase
 * hex digits, hi first.
 */
#ifndef SHOAL_ID_H
#define SHOAL_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_id {
	uint64_t hi;
	uint64_t lo;
} shoal_id;

#define SHOAL_ID_NIL ((shoal_id){0, 0})
#define SHOAL_ID_HEX_LEN 32 /* characters, without the terminating NUL */

static inline bool shoal_id_eq(shoal_id a, shoal_id b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

static inline bool shoal_id_is_nil(shoal_id a)
{
	return (a.hi | a.lo) == 0;
}

static inline uint16_t shoal_id_node(shoal_id a)
{
	return (uint16_t)(a.hi >> 48);
}

static inline uint16_t shoal_id_index(shoal_id a)
{
	return (uint16_t)(a.hi >> 32);
}

/* Deterministic ID: node, owner (slot and generation), counter, index,
 * packed as described above.  A pure function: any thread, any process.
 * No errors (it may return the nil ID for all-zero inputs, which no
 * other call accepts). */
SHOAL_API shoal_id shoal_id_derive(uint16_t node, uint32_t owner,
				   uint64_t counter, uint16_t index);

/* Random ID (node 0) into *out.  Any thread.  May block until the kernel's
 * entropy pool is ready (early boot).  -EINVAL for a NULL out; a negated
 * errno from getrandom() (-EINTR, -ENOSYS ...) or -EIO for a short read,
 * *out untouched then. */
SHOAL_API int shoal_id_random(shoal_id *out);

/* Writes 32 hex digits and a NUL into buf (at least 33 bytes, the
 * caller's).  Any thread.  No errors. */
SHOAL_API void shoal_id_format(shoal_id id, char buf[SHOAL_ID_HEX_LEN + 1]);

/* Parses exactly 32 hex digits (either case) into *out.  Any thread.
 * -EINVAL otherwise (NULL text or out, another length, a non-hex
 * character). */
SHOAL_API int shoal_id_parse(const char *text, shoal_id *out);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_ID_H */
