/* SPDX-License-Identifier: MIT */
/*
 * tests/rtutil.h - task functions the runtime suites and stress programs
 * share (public API only).
 */
#ifndef SHOAL_RTUTIL_H
#define SHOAL_RTUTIL_H

#include <stdint.h>
#include <string.h>

#include <shoal/shoal.h>

/* add(int64...): the sum of its int64 arguments, one int64 return;
 * SHOAL_ETASK for an argument of another size. */
static inline int rt_task_add(struct shoal_task *t, void *user)
{
	int64_t sum = 0, v;
	const void *d;
	size_t n;

	(void)user;
	for (uint32_t i = 0; i < shoal_task_num_args(t); i++) {
		if (shoal_task_arg(t, i, &d, &n) || n != sizeof v)
			return shoal_task_fail(t, SHOAL_ETASK, "argument %u", i);
		memcpy(&v, d, sizeof v);
		sum += v;
	}
	return shoal_task_return(t, 0, &sum, sizeof sum);
}

#endif /* SHOAL_RTUTIL_H */
