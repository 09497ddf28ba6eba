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

SHOAL_API int shoal_register_method(struct shoal_registry *reg,
				    const char *klass, const char *method,
				    shoal_task_fn fn)
{
	struct shoal__class *c;
	int k;

	if (!reg || !fn || !shoal__name_ok(klass) || !shoal__name_ok(method))
		return -EINVAL;
	if (reg->frozen)
		return -EBUSY;
	k = shoal__class_find(reg, klass);
	if (k < 0)
		return k;
	c = &reg->classes[k];
	for (uint32_t m = 0; m < c->nmethods; m++)
		if (!strcmp(c->methods[m].name, method))
			return -EEXIST;
	if (c->nmethods == SHOAL_MAX_METHODS)
		return -ENOSPC;
	strcpy(c->methods[c->nmethods].name, method);
	c->methods[c->nmethods++].fn = fn;
	return 0;
}
