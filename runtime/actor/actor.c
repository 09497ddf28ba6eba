/* SPDX-License-Identifier: MIT */
/*
 * runtime/actor.c - actors, the public side: create, look up, kill,
 * describe, and handles in arguments.
 *
 * Creating and killing are requests to the fork server (fsactor.c), which
 * alone writes an actor slot's identity.  Everything else reads the slots
 * (actlayout.h) directly: a lookup by name takes a slot's state (acquire,
 * ACT-A2), its name, then checks state and generation again, so that it
 * never returns a slot that was being reused under it.  Calls are in
 * call.c.
 */
#include <errno.h>
#include <string.h>

#include "ext.h"
#include "fsproto.h"
#include "actor_int.h"

static int shoal__class_index(const struct shoal__rt_view *v, const char *name)
{
	const struct shoal__act_class *c = v->classes;

	for (uint32_t i = 0; i < v->nclasses; i++)
		if (!strncmp(c[i].name, name, sizeof c[i].name))
			return (int)i;
	return SHOAL_ENOCLASS;
}

static uint32_t shoal__args_size(const struct shoal_args *args)
{
	uint32_t total = 0;

	for (uint32_t i = 0; i < args->n; i++) {
		const struct shoal_arg *a = &args->a[i];
		uint64_t len = a->kind == SHOAL_ARG_REF ? sizeof(shoal_id) : a->size;

		if (len > SHOAL_ACTOR_CTOR_BYTES)
			return UINT32_MAX;
		total += (4u + (uint32_t)len + 7u) & ~7u;
	}
	return total;
}

static int shoal__ctor_encode(const struct shoal_args *args, struct shoal__fs_msg *m)
{
	int rc = shoal__args_check(args);

	if (rc || !args)
		return rc;
	if (shoal__args_size(args) > SHOAL_ACTOR_CTOR_BYTES)
		return -E2BIG;
	m->ctor_len = shoal__args_encode(m->ctor, args);
	m->ctor_nargs = args->n;
	return 0;
}

static void shoal__handle(struct shoal_actor *out, uint32_t index,
			  uint32_t generation, uint32_t klass)
{
	*out = (struct shoal_actor){.index = index, .generation = generation,
				    .klass = klass, .magic = SHOAL_ACTOR_MAGIC};
}

/* A field of a later release takes a reserved word: never the size (the
 * call's options, checked in call.c, too). */
static_assert(sizeof(void *) != 8 || sizeof(struct shoal_actor_options) == 56,
	      "ABI: shoal_actor_options");
static_assert(sizeof(void *) != 8 ||
		      offsetof(struct shoal_actor_options, max_concurrency) == 24,
	      "ABI: max_concurrency took the first reserved word");
static_assert(sizeof(void *) != 8 || sizeof(struct shoal_call_options) == 40,
	      "ABI: shoal_call_options");

/* The actor's threads (its default group's, max_concurrency, and its
 * class's groups') fit in SHOAL_MAX_CONCURRENCY.  The class table is the
 * segment's: every count is bounded before it is added. */
static bool shoal__threads_fit(const struct shoal__act_class *c,
			       uint32_t max_concurrency)
{
	uint32_t n = max_concurrency ? max_concurrency : 1;
	uint32_t ngroups = c->ngroups <= SHOAL_MAX_GROUPS ? c->ngroups : 1;

	for (uint32_t g = 1; g < ngroups; g++)
		n += c->group_threads[g] < SHOAL_MAX_CONCURRENCY
			     ? c->group_threads[g] : SHOAL_MAX_CONCURRENCY;
	return n <= SHOAL_MAX_CONCURRENCY;
}

SHOAL_API int shoal_actor_create(struct shoal_runtime *rt, const char *klass,
				 const struct shoal_args *args,
				 const struct shoal_actor_options *opts,
				 struct shoal_actor *out)
{
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal__fs_msg m = {.op = SHOAL__FS_ACTOR_CREATE};
	int k, rc;

	if (shoal__rt_ro(rt))
		return SHOAL_EREADONLY;
	if (opts)
		o = *opts;
	if (!rt || !klass || !out || !SHOAL__RESV_ZERO(o) || o.resv0 ||
	    o.max_concurrency > SHOAL_MAX_CONCURRENCY ||
	    (o.name && (!o.name[0] || strlen(o.name) > SHOAL_ACTOR_NAME_MAX)))
		return -EINVAL;
	k = shoal__class_index(&rt->v, klass);
	if (k < 0)
		return k;
	if (!shoal__threads_fit(&rt->v.classes[k], o.max_concurrency))
		return -EINVAL;
	m.klass = (uint32_t)k;
	m.max_restarts = o.max_restarts;
	m.max_task_retries = o.max_task_retries;
	m.max_concurrency = o.max_concurrency;
	m.flags = o.get_if_exists ? SHOAL__FS_GET_IF_EXISTS : 0;
	if (o.name)
		strcpy(m.name, o.name);
	rc = shoal__ctor_encode(args, &m);
	if (!rc)
		rc = shoal__rt_ended(rt);
	shoal__lanes_sweep(rt); /* dead actors' slots become reusable */
	if (!rc)
		rc = shoal__fs_call(rt, &m);
	if (rc)
		return rc;
	shoal__handle(out, m.index, m.generation, m.klass);
	return 0;
}

/* The slot's handle if it is live and named `name`, read consistently:
 * ACT-A2 and ACT-A3, the name, an acquire fence, and the state and
 * generation again (shoal__actor_gone), as a seqlock. */
static bool shoal__slot_named(struct shoal__actor_slot *a, uint32_t i,
			      const char *name, struct shoal_actor *out)
{
	uint32_t st = atomic_load_explicit(&a->state, memory_order_acquire);
	uint32_t gen = atomic_load_explicit(&a->generation, memory_order_acquire);
	uint32_t klass = a->klass;
	bool match;

	if (st != SHOAL__A_STARTING && st != SHOAL__A_ALIVE &&
	    st != SHOAL__A_RESTARTING)
		return false;
	match = !strncmp(a->name, name, sizeof a->name);
	atomic_thread_fence(memory_order_acquire); /* ACT-A2: the re-check */
	if (!match || shoal__actor_gone(a, gen))
		return false;
	shoal__handle(out, i, gen, klass);
	return true;
}

SHOAL_API int shoal_actor_lookup(struct shoal_runtime *rt, const char *name,
				 struct shoal_actor *out)
{
	struct shoal__actor_slot *a;

	if (!rt || !name || !name[0] || !out)
		return -EINVAL;
	a = rt->v.actors;
	for (uint32_t i = 0; i < rt->v.max_actors; i++)
		if (shoal__slot_named(&a[i], i, name, out))
			return 0;
	return SHOAL_ENOACTOR;
}

SHOAL_API int shoal_actor_method(struct shoal_runtime *rt,
				 struct shoal_actor actor, const char *method)
{
	const struct shoal__act_class *c;

	if (!rt || !method || actor.magic != SHOAL_ACTOR_MAGIC ||
	    actor.klass >= rt->v.nclasses)
		return -EINVAL;
	c = &rt->v.classes[actor.klass];
	for (uint32_t m = 0; m < c->nmethods && m < SHOAL_MAX_METHODS; m++)
		if (!strncmp(c->methods[m], method, sizeof c->methods[m]))
			return (int)m;
	return SHOAL_ENOMETHOD;
}

static int shoal__actor_check(struct shoal_runtime *rt, struct shoal_actor a)
{
	return rt && a.magic == SHOAL_ACTOR_MAGIC && a.index < rt->v.max_actors &&
			       a.generation && a.klass < rt->v.nclasses
		       ? 0 : -EINVAL;
}

SHOAL_API int shoal_actor_kill(struct shoal_runtime *rt, struct shoal_actor actor,
			       bool no_restart)
{
	struct shoal__fs_msg m = {.op = SHOAL__FS_ACTOR_KILL,
				  .index = actor.index,
				  .generation = actor.generation,
				  .flags = no_restart ? SHOAL__FS_NO_RESTART : 0};
	int rc = shoal__rt_ro(rt) ? SHOAL_EREADONLY : shoal__actor_check(rt, actor);

	if (!rc)
		rc = shoal__rt_ended(rt);
	if (rc)
		return rc;
	rc = shoal__fs_call(rt, &m);
	shoal__lanes_sweep(rt); /* this process's lane into it, if dead */
	return rc;
}

SHOAL_API int shoal_actor_info(struct shoal_runtime *rt, struct shoal_actor actor,
			       struct shoal_actor_info *out)
{
	struct shoal__actor_slot *a;
	int rc = shoal__actor_check(rt, actor);

	if (rc || !out)
		return rc ? rc : -EINVAL;
	a = &rt->v.actors[actor.index];
	*out = (struct shoal_actor_info){
		/* ACT-A2 on state; the rest relaxed: statistics and a pid,
		 * a snapshot. */
		.state = atomic_load_explicit(&a->state, memory_order_acquire),
		.pid = atomic_load_explicit(&a->pid, memory_order_relaxed),
		.restarts = atomic_load_explicit(&a->restarts, memory_order_relaxed),
		.calls_run = atomic_load_explicit(&a->calls_run, memory_order_relaxed),
		.calls_failed = atomic_load_explicit(&a->calls_failed,
						     memory_order_relaxed),
	};
	if (atomic_load_explicit(&a->generation, memory_order_acquire) != /* ACT-A3 */
	    actor.generation)
		return SHOAL_EACTORDIED;
	if (out->state == SHOAL__A_RECYCLING || out->state == SHOAL__A_FREE)
		out->state = SHOAL_ACTOR_DEAD;
	memcpy(out->klass, rt->v.classes[actor.klass].name,
	       sizeof out->klass);
	out->klass[sizeof out->klass - 1] = '\0';
	memcpy(out->name, a->name, sizeof out->name);
	out->name[sizeof out->name - 1] = '\0';
	if (out->state == SHOAL_ACTOR_DEAD) {
		memcpy(out->why, a->why, sizeof out->why);
		out->why[sizeof out->why - 1] = '\0';
	}
	return 0;
}

SHOAL_API int shoal_actor_list(struct shoal_runtime *rt, struct shoal_actor *out,
			       size_t cap)
{
	struct shoal__actor_slot *a;
	int n = 0;

	if (!rt || (cap && !out))
		return -EINVAL;
	a = rt->v.actors;
	for (uint32_t i = 0; i < rt->v.max_actors; i++) {
		/* ACT-A2 */
		uint32_t st = atomic_load_explicit(&a[i].state, memory_order_acquire);

		if (st == SHOAL__A_FREE || st == SHOAL__A_RECYCLING)
			continue;
		if ((size_t)n < cap)
			shoal__handle(&out[n], i, /* ACT-A3 */
				      atomic_load_explicit(&a[i].generation,
							   memory_order_acquire),
				      a[i].klass);
		n++;
	}
	return n;
}

/* The handle is kept in the list itself (SHOAL_TYPE_ACTOR), so the
 * caller's copy need not outlive the call. */
SHOAL_API int shoal_args_actor(struct shoal_args *args,
			       const struct shoal_actor *actor)
{
	struct shoal_arg a = {.kind = SHOAL_ARG_BYTES, .type = SHOAL_TYPE_ACTOR,
			      .size = sizeof *actor};

	static_assert(sizeof *actor == sizeof a.value, "a handle is held whole");
	if (!actor || !args)
		return -EINVAL;
	if (args->n >= SHOAL_MAX_ARGS)
		return -ENOSPC;
	memcpy(a.value, actor, sizeof *actor);
	args->a[args->n++] = a;
	return 0;
}

SHOAL_API int shoal_task_arg_actor(const struct shoal_task *task, uint32_t i,
				   struct shoal_actor *out)
{
	const void *data;
	size_t size;
	int rc = shoal__task_arg_typed(task, i, SHOAL_TYPE_ACTOR, &data, &size);

	if (rc)
		return rc;
	if (!out)
		return -EINVAL;
	if (size != sizeof *out)
		return SHOAL_EARGTYPE;
	memcpy(out, data, sizeof *out);
	return out->magic == SHOAL_ACTOR_MAGIC && out->generation ? 0 : -EINVAL;
}
