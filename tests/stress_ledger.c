/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_ledger.c - a remote read of a ledger (store/ledger.c,
 * shoal__ledger_read_remote) against an owner whose deletions move
 * records all the time: a record the owner holds throughout the read
 * must be read whole, never missing.  Its own main, so that it runs under
 * ThreadSanitizer (criterion aborts under TSan).
 *
 * One store, two handles in this process: the owner thread's (its slot's
 * ledger is the one read) and the reader's.  KEYS objects whose ledger
 * records share a home at the base table's last slot (SAME of them: their
 * probe chain wraps round the table's end) or have one among its first
 * four (the others: records a backward shift must sometimes leave where
 * they are); fewer than half the base table, so it never grows.  The
 * owner holds all of them, then, for ITERS rounds or DURATION_MS, drops
 * one at random (a deletion that shifts the records after it back, across
 * the wrap) and holds it again (its record at the chain's end).  Before
 * each drop it makes the key's generation odd, and even after the hold
 * again (seq_cst, this test's own word): a reader that loads the same
 * even generation before and after its read knows the record was there
 * all the while.  The reader loops over the keys, reads each record with
 * shoal__ledger_read_remote (with a bound it never reaches, so only a
 * read whose seqcount stood still is taken), and fails if such a record
 * comes back missing or with other than one hold.  The owner goes on past
 * ITERS until the reader has taken MIN_TAKEN such reads, up to
 * EXTRA_MS more (a reader kept off the CPU says nothing of the ledger).
 *
 * Why the generations order the read (C11): the drop's stores into the
 * table each follow a release fence of the owner's (LG-R1), so a lookup
 * that saw one of them makes the reader's LG-A1 fence see everything
 * before it, the odd generation among it.
 *
 * Against the owner of before 56b8308 (one odd count over a whole
 * deletion) with today's reader (which takes an odd count that stood
 * still), 4 runs in 5 read a held record missing or as another's.
 *
 * Exit status: 0 ok, 1 failure, 77 skipped (no private store, no thread).
 */
#include <shoal/shoal.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "plain.h"

#ifndef ITERS
#define ITERS 1000000u
#endif
#ifndef DURATION_MS
#define DURATION_MS 4000
#endif
#define EXTRA_MS 4000
#define MIN_TAKEN 10000u
#define SAME 20u /* records whose home is the last slot */
#define KEYS 28u /* SAME, and the rest near the first slot */

struct shared {
	struct shoal_store *owner, *reader;
	uint32_t slot; /* the owner's */
	shoal_id id[KEYS];
	uint32_t idx[KEYS];
	_Atomic uint32_t gen[KEYS]; /* odd: the owner may not hold it
				     * (so from the start to its first hold) */
	_Atomic bool done;
	_Atomic uint64_t taken;
	uint64_t bad, moves, drops;
};

/* ledger.c's hash, in a base table of `base` records. */
static uint32_t home_of(uint32_t idx, uint32_t base)
{
	return (idx * 0x9e3779b1u) & (base - 1);
}

/* Objects until SAME have their home at the base table's last slot and
 * KEYS - SAME at its first; sealed and unheld. */
static int pick_keys(struct shared *sh)
{
	uint32_t base = sh->owner->geo.ledger_base, same = 0, first = 0;
	char b = 0;

	for (uint32_t n = 0; n < 4096 && same + first < KEYS; n++) {
		shoal_id id = shoal_id_next(sh->owner);
		uint64_t c;
		int idx, h;

		if (shoal_put_with_id(sh->owner, id, &b, 1, NULL, 0, 0) != 0)
			return -1;
		idx = shoal__dir_lookup(sh->owner, id, &c);
		if (idx < 0 || shoal_drop(sh->owner, id) != 0)
			return -1;
		h = (int)home_of((uint32_t)idx, base);
		if ((h == (int)base - 1 && same < SAME) ||
		    (h <= 3 && first < KEYS - SAME)) {
			uint32_t k = same + first;

			sh->id[k] = id;
			sh->idx[k] = (uint32_t)idx;
			same += h == (int)base - 1;
			first += h != (int)base - 1;
		} else if (shoal_delete(sh->owner, id) != 0) {
			return -1;
		}
	}
	return same + first == KEYS ? 0 : -1;
}

static int64_t ms_now(void)
{
	return tu_now_ns() / 1000000;
}

static void *owner_run(void *arg)
{
	struct shared *sh = arg;
	int64_t t0 = ms_now();
	uint64_t rnd = 88172645463325252ull;

	for (uint32_t k = 0; k < KEYS; k++) {
		if (shoal_hold(sh->owner, sh->id[k]) != 0)
			sh->bad++;
		atomic_fetch_add(&sh->gen[k], 1); /* even: k held */
	}
	for (uint64_t n = 0;; n++) {
		int64_t t = ms_now() - t0;
		uint32_t k, v;

		if ((n >= ITERS || t >= DURATION_MS) &&
		    (atomic_load(&sh->taken) >= MIN_TAKEN ||
		     t >= DURATION_MS + EXTRA_MS))
			break;
		rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
		k = (uint32_t)(rnd % KEYS);
		/* Relaxed: our own counter. */
		v = atomic_load_explicit(&sh->owner->me->ledger_seq,
					 memory_order_relaxed);
		atomic_fetch_add(&sh->gen[k], 1); /* odd: k may be missing */
		if (shoal_drop(sh->owner, sh->id[k]) != 0 ||
		    shoal_hold(sh->owner, sh->id[k]) != 0)
			sh->bad++;
		atomic_fetch_add(&sh->gen[k], 1); /* even: k held again */
		/* A deletion's steps: the final one and one per move. */
		sh->moves += (atomic_load_explicit(&sh->owner->me->ledger_seq,
						   memory_order_relaxed) - v) / 2 - 1;
		sh->drops++;
	}
	for (uint32_t k = 0; k < KEYS; k++) {
		atomic_fetch_add(&sh->gen[k], 1); /* odd: dropped for good */
		if (shoal_drop(sh->owner, sh->id[k]) != 0)
			sh->bad++;
	}
	atomic_store(&sh->done, true);
	return NULL;
}

static void *reader_run(void *arg)
{
	struct shared *sh = arg;
	uint64_t bad = 0;

	for (uint32_t k = 0; !atomic_load(&sh->done); k = (k + 1) % KEYS) {
		/* A bound no read reaches: only a still seqcount is taken. */
		struct shoal__later by = shoal__later_in(600000);
		uint32_t g1 = atomic_load(&sh->gen[k]);
		uint64_t r = shoal__ledger_read_remote(sh->reader, sh->slot,
						       sh->idx[k], &by);

		if ((g1 & 1) || atomic_load(&sh->gen[k]) != g1)
			continue;
		atomic_fetch_add(&sh->taken, 1);
		if (SHOAL__LEDGER_KEY(r) != sh->idx[k] + 1 ||
		    SHOAL__LEDGER_HOLDS(r) != 1) {
			if (bad++ < 5)
				fprintf(stderr, "stress_ledger: key %u (entry %u) "
					"read as %#" PRIx64 " while held\n",
					k, sh->idx[k], r);
		}
	}
	return (void *)(uintptr_t)bad;
}

static int run(struct shared *sh)
{
	pthread_t o, r;
	void *rbad;

	if (pick_keys(sh) != 0) {
		fprintf(stderr, "stress_ledger: no %u keys of the homes wanted\n",
			KEYS);
		return 1;
	}
	if (pthread_create(&o, NULL, owner_run, sh) != 0)
		return 77;
	if (pthread_create(&r, NULL, reader_run, sh) != 0) {
		atomic_store(&sh->done, true); /* the owner still ends */
		pthread_join(o, NULL);
		return 77;
	}
	pthread_join(o, NULL);
	pthread_join(r, &rbad);
	printf("stress_ledger: %" PRIu64 " drops, %" PRIu64 " moves, %" PRIu64
	       " reads taken, %" PRIu64 " owner errors, %" PRIu64
	       " records missed\n", sh->drops, sh->moves,
	       atomic_load(&sh->taken), sh->bad, (uint64_t)(uintptr_t)rbad);
	if (sh->bad || rbad || sh->moves == 0)
		return 1;
	/* The owner is between deletions: its count is even. */
	if (atomic_load(&sh->owner->me->ledger_seq) & 1) {
		fprintf(stderr, "stress_ledger: the seqcount ended odd\n");
		return 1;
	}
	return 0;
}

int main(void)
{
	static struct shared sh;
	struct shoal_store_options o;
	int rc;

	shoal_store_options_init(&o);
	o.capacity = 1 << 20;
	o.max_objects = 4096;
	rc = shoal_store_create(NULL, &o, &sh.owner);
	if (rc != 0) {
		fprintf(stderr, "stress_ledger: no private store: %s\n",
			shoal_strerror(rc));
		return 77;
	}
	rc = shoal_store_attach_fd(shoal_store_fd(sh.owner), &sh.reader);
	if (rc != 0) {
		fprintf(stderr, "stress_ledger: attach: %s\n", shoal_strerror(rc));
		shoal_store_close(sh.owner);
		return 77;
	}
	sh.slot = sh.owner->slot;
	for (uint32_t k = 0; k < KEYS; k++)
		atomic_init(&sh.gen[k], 1); /* odd: not held yet */
	rc = run(&sh);
	shoal_store_close(sh.reader);
	shoal_store_close(sh.owner);
	printf("stress_ledger: %s\n", rc == 0 ? "ok" : rc == 77 ? "skipped"
						      : "FAILED");
	return rc;
}
