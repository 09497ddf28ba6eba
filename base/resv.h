/* SPDX-License-Identifier: MIT */
/*
 * base/resv.h - the reserved words of the public option structs.
 *
 * Each options struct of include/shoal/ ends in `uint64_t resv[]`, words
 * that a later release may turn into fields (whose default is 0) without
 * moving anything or changing the struct's size.  Callers zero them (the
 * initialisers do); a function that takes the struct refuses a nonzero
 * word with -EINVAL.  So a program built for a later release that asks
 * this library for something it cannot do (a field it does not know, set
 * to other than its default) is refused instead of silently ignored: as
 * the kernel does with io_uring_params' resv (liburing's io_uring.h).
 */
#ifndef SHOAL_BASE_RESV_H
#define SHOAL_BASE_RESV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if the n words at w are all zero. */
static inline bool shoal__resv_zero(const uint64_t *w, size_t n)
{
	uint64_t any = 0;

	for (size_t i = 0; i < n; i++)
		any |= w[i];
	return any == 0;
}

/* The reserved words of options struct o are all zero:
 * SHOAL__RESV_ZERO(o), or SHOAL__RESV_ZERO(*opts) through a pointer. */
#define SHOAL__RESV_ZERO(opts)                                                \
	shoal__resv_zero((opts).resv, sizeof (opts).resv / sizeof (opts).resv[0])

#endif /* SHOAL_BASE_RESV_H */
