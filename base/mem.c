/* SPDX-License-Identifier: MIT */
/*
 * base/mem.c - process-private memory, from a jemalloc arena of its own.
 *
 * Each store handle creates a jemalloc arena ("arenas.create") and takes
 * every private allocation from it with mallocx/dallocx, bypassing the
 * thread caches (MALLOCX_TCACHE_NONE) so that destroying the arena at close
 * leaves nothing cached elsewhere.  The program's own malloc is neither
 * used nor disturbed.  Never the segment: jemalloc's metadata is private
 * to one process.  Debian's jemalloc exports an unprefixed malloc as well;
 * shoal calls only the *allocx family, so the two never mix.
 */
#include <errno.h>
#include <stdio.h>

#include <jemalloc/jemalloc.h>

#include "mem.h"

int shoal__mem_open(unsigned *arena)
{
	size_t sz = sizeof *arena;
	int rc = mallctl("arenas.create", arena, &sz, NULL, 0);

	return rc ? -rc : 0;
}

void shoal__mem_close(unsigned arena)
{
	char cmd[64];

	snprintf(cmd, sizeof cmd, "arena.%u.destroy", arena);
	mallctl(cmd, NULL, NULL, NULL, 0);
}

static int shoal__mem_flags(unsigned arena)
{
	return MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
}

void *shoal__mem_alloc(unsigned arena, size_t n)
{
	return mallocx(n ? n : 1, shoal__mem_flags(arena) | MALLOCX_ZERO);
}

void shoal__mem_free(unsigned arena, void *p)
{
	if (p)
		dallocx(p, MALLOCX_TCACHE_NONE);
	(void)arena;
}

void *shoal__mem_new(size_t n, unsigned *arena)
{
	void *p;

	if (shoal__mem_open(arena))
		return NULL;
	p = shoal__mem_alloc(*arena, n);
	if (!p)
		shoal__mem_close(*arena);
	return p;
}

void shoal__mem_delete(void *p, unsigned arena)
{
	shoal__mem_free(arena, p);
	shoal__mem_close(arena);
}
