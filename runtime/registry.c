/* SPDX-License-Identifier: MIT */
/*
 * runtime/registry.c - task functions and actor classes by name,
 * registered before start.
 *
 * A registry is a fixed table in process-private memory (a jemalloc arena
 * of its own).  shoal_runtime_start() copies it into the runtime and
 * freezes the original: every process forked afterwards has the same
 * table at the same address, and nobody writes it again, so readers need
 * no synchronisation.
 */
#include <errno.h>
#include <string.h>

#include "mem.h"
#include "rt.h"

SHOAL_API int shoal_registry_open(struct shoal_registry **out)
{
	unsigned arena;
	struct shoal_registry *reg;

	if (!out)
		return -EINVAL;
	reg = shoal__mem_new(sizeof *reg, &arena);
	if (!reg)
		return -ENOMEM;
	reg->arena = arena;
	*out = reg;
	return 0;
}

SHOAL_API void shoal_registry_close(struct shoal_registry *reg)
{
	if (reg)
		shoal__mem_delete(reg, reg->arena);
}

static bool shoal__name_ok(const char *name)
{
	size_t n = name ? strnlen(name, SHOAL_FUNCTION_NAME_MAX + 1) : 0;

	return n > 0 && n <= SHOAL_FUNCTION_NAME_MAX;
}

int shoal__registry_find(const struct shoal_registry *reg, const char *name)
{
	for (uint32_t i = 0; i < reg->n; i++)
		if (!strcmp(reg->fns[i].name, name))
			return (int)i;
	return -ENOENT;
}

SHOAL_API int shoal_register_task(struct shoal_registry *reg, const char *name,
				  shoal_task_fn fn, void *user)
{
	struct shoal__function *f;

	if (!reg || !fn || !shoal__name_ok(name))
		return -EINVAL;
	if (reg->frozen)
		return -EBUSY;
	if (shoal__registry_find(reg, name) >= 0)
		return -EEXIST;
	if (reg->n == SHOAL_MAX_FUNCTIONS)
		return -ENOSPC;
	f = &reg->fns[reg->n++];
	strcpy(f->name, name);
	f->fn = fn;
	f->user = user;
	return 0;
}

static int shoal__class_find(const struct shoal_registry *reg, const char *name)
{
	for (uint32_t i = 0; i < reg->nclasses; i++)
		if (!strcmp(reg->classes[i].name, name))
			return (int)i;
	return SHOAL_ENOCLASS;
}

SHOAL_API int shoal_register_actor(struct shoal_registry *reg,
				   const char *klass, shoal_actor_init_fn init,
				   shoal_actor_fini_fn fini)
{
	struct shoal__class *c;

	if (!reg || !init || !shoal__name_ok(klass))
		return -EINVAL;
	if (reg->frozen)
		return -EBUSY;
	if (shoal__class_find(reg, klass) >= 0)
		return -EEXIST;
	if (reg->nclasses == SHOAL_MAX_CLASSES)
		return -ENOSPC;
	c = &reg->classes[reg->nclasses++];
	strcpy(c->name, klass);
	c->init = init;
	c->fini = fini;
	return 0;
}

/* Group `name` of class c: its index (NULL or "default": 0), or -ENOENT. */
static int shoal__group_find(const struct shoal__class *c, const char *name)
{
	if (!name || !strcmp(name, SHOAL_DEFAULT_GROUP))
		return 0;
	for (uint32_t g = 1; g < c->ngroups; g++)
		if (!strcmp(c->groups[g].name, name))
			return (int)g;
	return -ENOENT;
}

SHOAL_API int shoal_register_method_in_group(struct shoal_registry *reg,
					     const char *klass, const char *method,
					     const char *group, shoal_task_fn fn)
{
	struct shoal__class *c;
	int k, g;

	if (!reg || !fn || !shoal__name_ok(klass) || !shoal__name_ok(method) ||
	    (group && !shoal__name_ok(group)))
		return -EINVAL;
	if (reg->frozen)
		return -EBUSY;
	k = shoal__class_find(reg, klass);
	if (k < 0)
		return k;
	c = &reg->classes[k];
	g = shoal__group_find(c, group);
	if (g < 0)
		return g;
	for (uint32_t m = 0; m < c->nmethods; m++)
		if (!strcmp(c->methods[m].name, method))
			return -EEXIST;
	if (c->nmethods == SHOAL_MAX_METHODS)
		return -ENOSPC;
	strcpy(c->methods[c->nmethods].name, method);
	c->methods[c->nmethods].group = (uint32_t)g;
	c->methods[c->nmethods++].fn = fn;
	return 0;
}

SHOAL_API int shoal_register_method(struct shoal_registry *reg,
				    const char *klass, const char *method,
				    shoal_task_fn fn)
{
	return shoal_register_method_in_group(reg, klass, method, NULL, fn);
}

/* The threads of c's named groups, together. */
static uint32_t shoal__group_threads(const struct shoal__class *c)
{
	uint32_t n = 0;

	for (uint32_t g = 1; g < c->ngroups; g++)
		n += c->groups[g].threads;
	return n;
}

SHOAL_API int shoal_register_group(struct shoal_registry *reg, const char *klass,
				   const char *group, uint32_t concurrency)
{
	struct shoal__class *c;
	int k;

	if (!reg || !shoal__name_ok(klass) || !shoal__name_ok(group) ||
	    concurrency == 0 || concurrency >= SHOAL_MAX_CONCURRENCY)
		return -EINVAL;
	if (reg->frozen)
		return -EBUSY;
	k = shoal__class_find(reg, klass);
	if (k < 0)
		return k;
	c = &reg->classes[k];
	if (shoal__group_find(c, group) >= 0)
		return -EEXIST;
	/* One thread stays for the default group. */
	if (c->ngroups == SHOAL_MAX_GROUPS ||
	    shoal__group_threads(c) + concurrency > SHOAL_MAX_CONCURRENCY - 1)
		return -ENOSPC;
	if (!c->ngroups)
		c->ngroups = 1; /* the default group, 0 */
	strcpy(c->groups[c->ngroups].name, group);
	c->groups[c->ngroups++].threads = concurrency;
	return 0;
}
