/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/rtutil.h - task functions and an actor class that the runtime
 * suites and stress programs share (public API only, no criterion).
 */
#ifndef SHOAL_RTUTIL_H
#define SHOAL_RTUTIL_H

#include <shoal/shoal.h>

/* add(int64...): the sum of its int64 arguments, one int64 return;
 * SHOAL_ETASK for an argument of another size. */
int rt_task_add(struct shoal_task *t, void *user);

/* The Box actor: no state; get() returns the int64 7. */
int rt_box_init(struct shoal_task *ctx, void **self);
int rt_box_get(struct shoal_task *t, void *self);

/* For a task whose argument 0 is a gate's ID: waits (up to 20 s) until
 * the gate is sealed.  0, or the task failed with the get's error. */
int rt_task_wait_gate(struct shoal_task *t);

#endif /* SHOAL_RTUTIL_H */
