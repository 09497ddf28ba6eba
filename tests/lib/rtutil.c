/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/rtutil.c - the task functions and the Box actor of rtutil.h.
 */
#include <stdint.h>
#include <string.h>

#include "rtutil.h"

int rt_task_add(struct shoal_task *t, void *user)
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

int rt_box_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

int rt_box_get(struct shoal_task *t, void *self)
{
	int64_t v = 7;

	(void)self;
	return shoal_task_return(t, 0, &v, sizeof v);
}

int rt_task_wait_gate(struct shoal_task *t)
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
