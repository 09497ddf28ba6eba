/* SPDX-License-Identifier: MIT */
/*
 * runtime/life.c - whether a runtime has ended, and finding its fork
 * server dead: what every folder of the runtime asks (proc/end.c sweeps).
 *
 * A runtime ends once (v->hdr->ended, END-R1 of rtlayout.h): with
 * SHOAL_ESTOPPED when its
 * driver shuts it down or dies (the driver, or the fork server, stores
 * it), with SHOAL_EFORKSERVERDIED when the fork server dies first
 * (whoever finds it dead stores it).  From then on a submit, a call, an
 * actor create or kill returns that code at once, and every task and call
 * still pending fails with it (the sweep, proc/end.c): nobody waits for work
 * that no process will ever do.
 *
 * Finding the fork server dead.  It holds a robust mutex of the region
 * (v->hdr->fs_alive) from its start to its exit and never unlocks it: when it
 * dies, whatever kills it, the kernel marks the mutex OWNER_DIED (its
 * robust list), and a trylock tells: EBUSY while it lives.  No pid, no
 * /proc, no timeout, no system call.  Cheaper still, and what every
 * submit and call does first: the mutex's futex word read, not written
 * (glibc's; the kernel's robust-futex ABI says what it holds): while it
 * holds the fork server's TID without FUTEX_OWNER_DIED, the fork server
 * lives (it locked it from its only thread, whose TID is fs_pid); on
 * anything else the trylock decides.  The first prober after the
 * death gets EOWNERDEAD; it stores fs_gone (sticky, in the header), then
 * unlocks without making the mutex consistent.  Every later probe reads
 * fs_gone first: the mutex alone does not keep saying so (the next
 * trylock gets ENOTRECOVERABLE, and glibc's leaves the mutex taken, so
 * the ones after it read EBUSY, as if the fork server lived; a prober that
 * set `ended` but lost that race never swept, nor did anyone after it).  A
 * prober killed between its EOWNERDEAD and its store leaves the mutex to
 * the kernel again (it is robust), and the next gets EOWNERDEAD.  The kernel can mark the mutex only where the dead process
 * still maps it: the fork server unmaps the segment (closes its store)
 * only on its way out, after the runtime ended (SHOAL_ESTOPPED) and its
 * sweep completed, so a probe that finds the mutex held by a process that
 * exited that way is answered by `ended` first.
 *
 * Who notices.  Every submit, call, actor create and kill probes first.
 * So does every wake-up of a wait through a runtime handle of the driver
 * or of an attached program (the store's on_block hook): a get of a
 * result that will never come sleeps at most one slice of the store's
 * waits (a second) before it probes.  Workers and actors die with the fork
 * server (PR_SET_PDEATHSIG) and need not notice.  A process that waits
 * through a store handle of its own, not the runtime's, is not woken by
 * its own probes: it hears of the end when another process sweeps.
 *
 * Sweeping (proc/end.c) is above this folder: a runtime handle carries
 * the sweep its process runs (rt->sweep, set where the handle is made),
 * so that asking whether the runtime ended never names the code that
 * fails every task and drains every lane.
 */
#include <errno.h>
#include <linux/futex.h>
#include <unistd.h>

#include "ext.h"
#include "rt.h"

int shoal__rt_fs_alive_init(struct shoal__rt_hdr *h)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);

	if (rc)
		return -rc;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(&h->fs_alive, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

int shoal__rt_fs_hold(const struct shoal__rt_view *v)
{
	int rc = pthread_mutex_lock(&v->hdr->fs_alive);

	/* EOWNERDEAD: an earlier fork server of this region died (it is
	 * ours now, but the runtime it served is over). */
	return rc == EOWNERDEAD ? SHOAL_EFORKSERVERDIED : -rc;
}

/* True while the futex word names the fork server as its live owner.  A
 * load, so the line stays shared among the probers. */
static bool shoal__fs_word_alive(const struct shoal__rt_view *v)
{
#ifdef __GLIBC__
	/* FS-A2 of rtlayout.h (no partner: the word is compared, never
	 * relied on for other data); fs_pid relaxed likewise. */
	uint32_t w = (uint32_t)__atomic_load_n(&v->hdr->fs_alive.__data.__lock,
					       __ATOMIC_ACQUIRE);
	int32_t fs = atomic_load_explicit(&v->hdr->fs_pid, memory_order_relaxed);

	return fs > 0 && (w & (FUTEX_TID_MASK | FUTEX_OWNER_DIED)) == (uint32_t)fs;
#else
	(void)h;
	return false;
#endif
}

bool shoal__rt_fs_dead(const struct shoal__rt_view *v)
{
	int rc;

	if (atomic_load_explicit(&v->hdr->fs_gone, memory_order_acquire)) /* END-A2 */
		return true;
	if (shoal__fs_word_alive(v))
		return false;
	rc = pthread_mutex_trylock(&v->hdr->fs_alive);
	if (rc == EBUSY)
		return false;
	if (rc == 0) { /* not taken yet: no fork server started */
		pthread_mutex_unlock(&v->hdr->fs_alive);
		return false;
	}
	/* EOWNERDEAD, ENOTRECOVERABLE, or a corrupt mutex: said once, kept. */
	atomic_store_explicit(&v->hdr->fs_gone, 1, memory_order_release); /* END-R2 */
	if (rc == EOWNERDEAD) /* left inconsistent */
		pthread_mutex_unlock(&v->hdr->fs_alive);
	return true;
}

int shoal__rt_end(const struct shoal__rt_view *v, int code)
{
	int32_t open = 0;

	atomic_compare_exchange_strong_explicit(&v->hdr->ended, &open, code,
						memory_order_seq_cst,
						memory_order_acquire); /* END-R1 */
	return atomic_load_explicit(&v->hdr->ended, memory_order_acquire); /* END-A1 */
}

const char *shoal__end_why(int code)
{
	return code == SHOAL_EFORKSERVERDIED ? "the runtime's fork server died"
					     : "the runtime stopped";
}

/* The runtime's end code (0 while it runs); a prober that finds the fork
 * server dead ends it, and sweeps through rt->sweep if nobody did. */
int shoal__rt_ended(struct shoal_runtime *rt)
{
	const struct shoal__rt_view *v = &rt->v;
	/* END-A1 */
	int code = atomic_load_explicit(&v->hdr->ended, memory_order_acquire);

	if (!code) {
		if (!shoal__rt_fs_dead(v))
			return 0;
		code = shoal__rt_end(v, SHOAL_EFORKSERVERDIED);
	}
	/* Nobody else sweeps once the fork server is gone.  END-A3: a sweep
	 * completed (END-R3). */
	if (atomic_load_explicit(&v->hdr->sweep, memory_order_acquire) != 2 &&
	    shoal__rt_fs_dead(v))
		if (rt->sweep)
			rt->sweep(rt->store, v);
	return code;
}

/* The store calls it around every sleep of a wait through the handle of
 * a driver or an attached program: after each, probe (and sweep). */
void shoal__rt_on_block(void *ctx, bool blocked)
{
	if (!blocked)
		shoal__rt_ended(ctx);
}
