/* SPDX-License-Identifier: MIT */
/*
 * runtime/names.c - function name -> index, for submitting by name.
 *
 * The runtime's region holds every registered name (the driver wrote them
 * at start; rtlayout.h).  A process looks a name up there once and keeps
 * the answer in a process-local liburcu hash table (cds_lfht, the
 * bulletproof flavour: any user thread may read without registering), so
 * that a submit by name from any thread costs a lock-free lookup, not a
 * scan.  Entries are only added, never changed; the table goes with the
 * handle.  The table is created lazily, so never before the fork server
 * exists (liburcu may start threads of its own).
 */
#include <errno.h>
#include <string.h>

#include <urcu-bp.h>
#include <urcu/rculfhash.h>

#include "mem.h"
#include "task_int.h"

struct shoal__name_node {
	struct cds_lfht_node node;
	int index;
	char name[SHOAL__FN_NAME_SIZE];
};

static unsigned long shoal__name_hash(const char *name)
{
	unsigned long h = 14695981039346656037ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h;
}

static int shoal__name_match(struct cds_lfht_node *node, const void *key)
{
	const struct shoal__name_node *n =
		caa_container_of(node, struct shoal__name_node, node);

	SHOAL__RCU_FOUND(node);

	return strcmp(n->name, key) == 0;
}

static int shoal__names_lookup(struct cds_lfht *ht, const char *name)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	int index = SHOAL_ENOFUNCTION;

	urcu_bp_read_lock();
	cds_lfht_lookup(ht, shoal__name_hash(name), shoal__name_match, name, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node)
		index = caa_container_of(node, struct shoal__name_node, node)->index;
	urcu_bp_read_unlock();
	return index;
}

static int shoal__names_scan(const struct shoal__rt_view *v, const char *name)
{
	for (uint32_t i = 0; i < v->nfuncs && i < SHOAL_MAX_FUNCTIONS; i++)
		if (!strncmp(shoal__rt_fname(v, i), name, SHOAL__FN_NAME_SIZE))
			return (int)i;
	return SHOAL_ENOFUNCTION;
}

static void shoal__names_add(struct shoal_runtime *rt, const char *name, int index)
{
	struct shoal__name_node *n = shoal__mem_alloc(rt->arena, sizeof *n);
	struct cds_lfht_node *old;

	if (!n)
		return; /* only a cache */
	strncpy(n->name, name, sizeof n->name - 1);
	n->index = index;
	cds_lfht_node_init(&n->node);
	SHOAL__RCU_PUBLISHED(&n->node);
	urcu_bp_read_lock();
	old = cds_lfht_add_unique(rt->names, shoal__name_hash(name),
				  shoal__name_match, name, &n->node);
	urcu_bp_read_unlock();
	if (old != &n->node) /* another thread was first */
		shoal__mem_free(rt->arena, n);
}

static bool shoal__names_open(struct shoal_runtime *rt)
{
	struct cds_lfht *ht;

	if (atomic_load_explicit(&rt->names_ready, memory_order_acquire)) /* RT-A2 */
		return true;
	pthread_mutex_lock(&rt->pending_lock);
	if (!rt->names) {
		ht = cds_lfht_new_flavor(SHOAL_MAX_FUNCTIONS, SHOAL_MAX_FUNCTIONS,
					 SHOAL_MAX_FUNCTIONS, 0, &urcu_bp_flavor, NULL);
		rt->names = ht;
		/* RT-R2: a reader that sees names_ready sees the table. */
		atomic_store_explicit(&rt->names_ready, ht != NULL, memory_order_release);
	}
	pthread_mutex_unlock(&rt->pending_lock);
	return rt->names != NULL;
}

SHOAL_API int shoal_function(struct shoal_runtime *rt, const char *name)
{
	int index;

	if (!rt || !name || !name[0])
		return -EINVAL;
	/* An inspect handle scans: it starts no table (nor liburcu's
	 * threads) for a tool's few look-ups. */
	if (rt->readonly || !shoal__names_open(rt))
		return shoal__names_scan(&rt->v, name);
	index = shoal__names_lookup(rt->names, name);
	if (index >= 0)
		return index;
	index = shoal__names_scan(&rt->v, name);
	if (index >= 0)
		shoal__names_add(rt, name, index);
	return index;
}

void shoal__names_close(struct shoal_runtime *rt)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	if (!rt->names)
		return;
	urcu_bp_read_lock();
	/* Node by node (call.c says why not cds_lfht_for_each_entry). */
	for (cds_lfht_first(rt->names, &iter); (node = cds_lfht_iter_get_node(&iter));
	     cds_lfht_next(rt->names, &iter))
		cds_lfht_del(rt->names, node);
	urcu_bp_read_unlock();
	urcu_bp_synchronize_rcu(); /* no reader can still see a node */
	cds_lfht_destroy(rt->names, NULL);
	rt->names = NULL;
	/* The nodes came from the handle's arena, which goes with it. */
}
