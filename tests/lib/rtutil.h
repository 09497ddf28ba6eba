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

/* The Box actor: no state; get() returns the int64 7. */
static inline int rt_box_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static inline int rt_box_get(struct shoal_task *t, void *self)
{
	int64_t v = 7;

	(void)self;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* For a task whose argument 0 is a gate's ID: waits (up to 20 s) until
 * the gate is sealed.  0, or the task failed with the get's error. */
static inline int rt_task_wait_gate(struct shoal_task *t)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	struct shoal_view v;
	const void *d;
	size_t n;
	shoal_id gate;
	int rc;

	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof gate)
		return shoal_task_fail(t, SHOAL_ETASK, "no gate");
	memcpy(&gate, d, sizeof gate);
	rc = shoal_get(s, gate, 20000, &v);
	if (rc)
		return shoal_task_fail(t, rc, "gate: %s", shoal_strerror(rc));
	shoal_release(s, &v);
	return 0;
}

#endif /* SHOAL_RTUTIL_H */
