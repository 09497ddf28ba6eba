/* SPDX-License-Identifier: MIT */
/*
 * store/internal.h - the process-local store handle and the functions the
 * store's modules share.  Nothing here is in the segment.
 */
#ifndef SHOAL_STORE_INTERNAL_H
#define SHOAL_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shoal/store.h>

#include "heap.h"
#include "layout.h"

/*
 * Process-local handle.  Every field is set by open and read-only after,
 * except id_counter (atomic: any thread of this process derives IDs) and
 * the allocator cache in the segment, which heap_lock serialises.
 * The pointers below are this process's translations of offsets that
 * shoal__seg_validate() checked.
 */
struct shoal_store {
	struct shoal__map map;
	int fd;
	unsigned arena;             /* jemalloc arena for private memory */
	char name[256];             /* "" for a private store */
	struct shoal__seg_hdr *hdr;
	struct shoal__proc *procs;
	_Atomic uint64_t *ledgers;
	_Atomic uint32_t *stripes;
	_Atomic uint8_t *probe;
	struct shoal__entry *dir;
	struct shoal__heap_view heap;
	uint32_t slot;              /* this process's slot */
	uint32_t slot_gen;
	struct shoal__proc *me;
	_Atomic uint64_t *ledger;   /* this process's ledger */
	uint32_t dir_mask;
	uint32_t ledger_mask;
	_Atomic uint64_t id_counter;
	pthread_mutex_t heap_lock;  /* guards me->cache (one per process) */
};

/* segment.c */
int shoal__seg_validate(const struct shoal__seg_hdr *h, uint64_t file_size);

/* proc.c: the process table */
int shoal__proc_claim(struct shoal_store *s);
void shoal__proc_release(struct shoal_store *s);
bool shoal__proc_dead(const struct shoal_store *s, uint32_t slot);
int shoal__proc_reap_all(struct shoal_store *s);
uint64_t shoal__proc_start_time(int pid);
_Atomic uint64_t *shoal__proc_ledger(const struct shoal_store *s,
				     uint32_t slot);

/* dir.c: the directory */
uint32_t shoal__dir_home(const struct shoal_store *s, shoal_id id);
/* Finds the live entry (CREATED/SEALED) for id, else a tombstone for it.
 * Returns the index and the ctl seen, or -ENOENT. */
int shoal__dir_lookup(const struct shoal_store *s, shoal_id id,
		      uint64_t *ctl_out);
int shoal__dir_lock(struct shoal_store *s, uint32_t home);
void shoal__dir_unlock(struct shoal_store *s, uint32_t home);
int shoal__dir_reserve(struct shoal_store *s, shoal_id id, uint32_t home,
		       uint32_t *idx_out, uint64_t *ctl_out);
uint64_t shoal__dir_read_id(const struct shoal__entry *e, shoal_id *id);

/* ledger (object.c) */
int shoal__ledger_add(struct shoal_store *s, uint32_t idx, int32_t dpins,
		      int32_t dholds);
uint64_t shoal__ledger_get(_Atomic uint64_t *ledger, uint32_t mask,
			   uint32_t idx);
void shoal__ledger_clear_idx(_Atomic uint64_t *ledger, uint32_t mask,
			     uint32_t idx);

/* object.c: pieces the reaper needs */
void shoal__obj_repair(struct shoal_store *s, uint32_t idx, uint32_t dead);
void shoal__obj_unref_dead(struct shoal_store *s, uint32_t idx,
			   uint32_t pins, uint32_t holds);
void shoal__obj_abort_entry(struct shoal_store *s, uint32_t idx,
			    uint64_t ctl);
void shoal__obj_free_block(struct shoal_store *s, uint64_t off,
			   uint64_t size);

/* wait.c: futex waits with the register / re-check / sleep protocol */
struct shoal__deadline {
	int64_t ns; /* CLOCK_MONOTONIC; INT64_MAX = never, 0 = poll */
};
struct shoal__deadline shoal__deadline_in(int timeout_ms);
bool shoal__deadline_passed(struct shoal__deadline d);
void shoal__cpu_relax(void);
/* Waits until *seq != seen, the deadline, or a wake.  Returns 0 (woken or
 * changed) or -ETIMEDOUT.  Spins up to `spin` pauses first. */
int shoal__futex_wait(_Atomic uint32_t *seq, uint32_t seen,
		      struct shoal__deadline d, uint32_t spin);
void shoal__event_signal(_Atomic uint32_t *seq, _Atomic uint32_t *waiters);

#endif /* SHOAL_STORE_INTERNAL_H */
