/* SPDX-License-Identifier: MIT */
/*
 * base/off.h - offsets into the segment, and the one checked converter.
 *
 * Nothing stored in the segment is a pointer: every reference is an offset
 * from the segment's base, wrapped in shoal__off_t so that it cannot be
 * mixed up with a size.  Each process turns an offset into a pointer with
 * shoal__ptr(), which refuses (NULL) any range that does not lie inside the
 * mapping: another process may have written anything into the segment.
 */
#ifndef SHOAL_STORE_OFF_H
#define SHOAL_STORE_OFF_H

#include <stddef.h>
#include <stdint.h>

typedef struct shoal__off {
	uint64_t v;
} shoal__off_t;

#define SHOAL__OFF(x) ((shoal__off_t){(uint64_t)(x)})
#define SHOAL__OFF_NULL ((shoal__off_t){0})

/* A process's view of a mapped segment. */
struct shoal__map {
	uint8_t *base;
	uint64_t size;
};

/* Pointer to [off, off + len) inside the map, or NULL if the range is not
 * wholly inside it (offset 0 is the header, never an object: also NULL). */
static inline void *shoal__ptr(const struct shoal__map *m, shoal__off_t off,
			       uint64_t len)
{
	if (off.v == 0 || off.v > m->size || len > m->size - off.v)
		return NULL;
	return m->base + off.v;
}

/* Unchecked: only for offsets this process computed from validated
 * header fields (region bases and indices already bounds-checked). */
static inline void *shoal__at(const struct shoal__map *m, uint64_t off)
{
	return m->base + off;
}

#endif /* SHOAL_STORE_OFF_H */
