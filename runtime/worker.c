/* SPDX-License-Identifier: MIT */
/*
 * runtime/worker.c - a worker process.
 *
 * Forked by the fork server (forkserver.c), which is its parent: it asks
 * the kernel for SIGKILL when that parent dies and re-checks getppid()
 * right after, since the parent may have died before the request.  It then
 * opens its own store handle on the inherited segment fd (never the fork
 * server's handle, whose memory it also inherited), marks its worker slot
 * RUNNING and wakes the driver's start (R1).  Idle, it sleeps on the
 * header's work futex after a bounded spin; it leaves when the runtime is
 * stopping (A2), always through _exit(): atexit handlers and stdio buffers
 * belong to the driver's program.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../store/internal.h"
#include "internal.h"

#define SHOAL__WORKER_SLICE_MS 1000

struct shoal__worker {
	struct shoal_store *store;
	struct shoal__rt_hdr *hdr;
	struct shoal__rt_worker *me;
	uint32_t spin;
};

static void shoal__die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(0);
}

static int shoal__worker_attach(const struct shoal__boot *boot, uint32_t index,
				struct shoal__worker *w)
{
	uint64_t size;
	void *region;
	int rc = shoal_store_attach_fd(boot->seg_fd, &w->store);

	if (rc)
		return rc;
	region = shoal__store_ext(w->store, &size);
	rc = shoal__rt_region_check(region, size);
	if (rc)
		return rc;
	w->hdr = region;
	if (index >= w->hdr->max_workers)
		return -EINVAL;
	w->me = &shoal__rt_workers(w->hdr)[index];
	w->spin = boot->spin_budget;
	return 0;
}

static bool shoal__stopping(const struct shoal__worker *w)
{
	return atomic_load_explicit(&w->hdr->stopping, memory_order_acquire); /* A2 */
}

static void shoal__announce_running(struct shoal__worker *w)
{
	atomic_store_explicit(&w->me->state, SHOAL__WK_RUNNING,
			      memory_order_release); /* R1 */
	shoal__event_signal(&w->hdr->ready_seq, &w->hdr->ready_waiters);
}

/* Sleeps until there may be work or the runtime stops. */
static void shoal__worker_idle(struct shoal__worker *w)
{
	struct shoal__rt_hdr *h = w->hdr;
	uint32_t seen = atomic_load_explicit(&h->work_seq, memory_order_acquire);

	atomic_fetch_add_explicit(&h->work_waiters, 1, memory_order_seq_cst);
	if (!shoal__stopping(w))
		shoal__futex_wait(&h->work_seq, seen,
				  shoal__deadline_in(SHOAL__WORKER_SLICE_MS), w->spin);
	atomic_fetch_sub_explicit(&h->work_waiters, 1, memory_order_relaxed);
}

_Noreturn void shoal__worker_main(const struct shoal__boot *boot, uint32_t index,
				  pid_t parent)
{
	struct shoal__worker w = {0};

	shoal__die_with_parent(parent);
	if (shoal__worker_attach(boot, index, &w))
		_exit(1);
	shoal__announce_running(&w);
	while (!shoal__stopping(&w))
		shoal__worker_idle(&w);
	shoal_store_close(w.store);
	_exit(0);
}
