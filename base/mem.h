/* SPDX-License-Identifier: MIT */
/* base/mem.h - process-private memory from a dedicated jemalloc arena. */
#ifndef SHOAL_STORE_MEM_H
#define SHOAL_STORE_MEM_H

#include <stddef.h>

int shoal__mem_open(unsigned *arena);
void shoal__mem_close(unsigned arena);
/* Zeroed; NULL when out of memory. */
void *shoal__mem_alloc(unsigned arena, size_t n);
void shoal__mem_free(unsigned arena, void *p);
/* A handle's first allocation: a new arena and n zeroed bytes from it
 * (*arena receives it); NULL, and no arena, when out of memory. */
void *shoal__mem_new(size_t n, unsigned *arena);
/* Frees p and destroys its arena (what shoal__mem_new made). */
void shoal__mem_delete(void *p, unsigned arena);

#endif /* SHOAL_STORE_MEM_H */
