/* SPDX-License-Identifier: MIT */
/*
 * tests/test_scribble.c - a neighbour scribbles over the geometry in the
 * shared headers (sizes, counts, masks, offsets) after other processes
 * attached: none of them may crash or wait past its timeout.  Each process
 * read the geometry once, at attach, into private memory (store/internal.h
 * struct shoal__geo); afterwards only state words come from the segment.
 *
 * Each case: a process attached by name; the test writes one hostile
 * value into one header field; the attached process runs every call it
 * can (put, get of a present and of a missing object with a short
 * timeout, wait, list, stats, hold, drop, reap, evict) and must exit by
 * itself, in bounded time; the field is put back and the store works.
 * A fresh attach of a scribbled segment is refused (SHOAL_EBADSEGMENT).
 */
#include "testutil.h"
#include "internal.h"

#include <stddef.h>

TestSuite(scribble, .init = tu_setup, .fini = tu_teardown, .timeout = 120);

#define MiB (1024u * 1024u)

/* What an attached process may take for all its calls on one scribbled
 * value: each has a 20 ms timeout or none; a spin of the scribbled budget
 * (2^32 spins) would take tens of seconds. */
#define SCRIBBLE_MS 3000

struct field {
	const char *name;
	size_t off;
	size_t width; /* 4 or 8 bytes */
};

#define HDR_FIELD(f)                                                           \
	{#f, offsetof(struct shoal__seg_hdr, f),                                  \
	 sizeof(((struct shoal__seg_hdr *)0)->f)}

static const struct field seg_fields[] = {
	HDR_FIELD(seg_size),     HDR_FIELD(capacity),    HDR_FIELD(max_procs),
	HDR_FIELD(max_objects),  HDR_FIELD(dir_slots),   HDR_FIELD(ledger_slots),
	HDR_FIELD(spin_budget),  HDR_FIELD(proc_size),   HDR_FIELD(entry_size),
	HDR_FIELD(nstripes),     HDR_FIELD(procs.off),   HDR_FIELD(ledgers.off),
	HDR_FIELD(stripes.off),  HDR_FIELD(probe.off),   HDR_FIELD(dir.off),
	HDR_FIELD(heap_meta.off), HDR_FIELD(ext.off),    HDR_FIELD(ext.size),
	HDR_FIELD(arena.off),    HDR_FIELD(arena.size),
};

static const uint64_t hostile[] = {0, 1, 0x7fffffffu, UINT32_MAX,
				   UINT64_MAX, 0x123456789abcull};

static void poke(void *base, const struct field *f, uint64_t v)
{
	uint8_t *p = (uint8_t *)base + f->off;

	if (f->width == 4) {
		uint32_t w = (uint32_t)v;
		memcpy(p, &w, 4);
	} else {
		memcpy(p, &v, 8);
	}
}

static uint64_t peek(const void *base, const struct field *f)
{
	const uint8_t *p = (const uint8_t *)base + f->off;
	uint32_t w;
	uint64_t v;

	if (f->width == 4) {
		memcpy(&w, p, 4);
		return w;
	}
	memcpy(&v, p, 8);
	return v;
}

/* Every call an attached store user makes, results ignored: only a
 * crash or a hang is a failure here.  Returns the milliseconds taken. */
static int64_t store_calls(struct shoal_store *c, shoal_id present, int round)
{
	int64_t t0 = tu_now_ms();
	shoal_id fresh = tu_id(0xc0de, (uint64_t)round);
	shoal_id missing = tu_id(0xdead, (uint64_t)round);
	struct shoal_object_info infos[8];
	struct shoal_store_stats st;
	struct shoal_view v;
	uint8_t ready;

	tu_put(c, fresh, 64, 1, 0);
	tu_put(c, tu_id(0xc0de, 1000u + (uint64_t)round), 100 * 1024, 2, 0);
	if (shoal_get(c, fresh, 20, &v) == 0)
		shoal_release(c, &v);
	if (shoal_get(c, present, 20, &v) == 0)
		shoal_release(c, &v);
	if (shoal_get(c, missing, 20, &v) == 0)
		shoal_release(c, &v);
	shoal_wait(c, &missing, 1, 1, 20, &ready);
	shoal_list(c, infos, 8);
	shoal_store_stats(c, &st);
	if (shoal_hold(c, present) == 0)
		shoal_drop(c, present);
	shoal_contains(c, present);
	shoal_drop(c, fresh);
	shoal_evict(c, 4096);
	shoal_store_reap(c);
	return tu_now_ms() - t0;
}

/*
 * The attached child: for each hostile value, waits for "go" (the parent
 * has scribbled), runs every call, answers 't' if they took longer than
 * SCRIBBLE_MS, else 'k'.  Exits 0 after the last value.
 */
static void store_child(const char *name, shoal_id present, int go, int done)
{
	struct shoal_store *c = NULL;

	if (shoal_store_attach(name, &c))
		_exit(3);
	tu_child_write_byte(done, 'a');
	for (int i = 0; i < (int)(sizeof hostile / sizeof hostile[0]); i++) {
		if (tu_child_read_byte(go) != 'g')
			_exit(4);
		tu_child_write_byte(done,
				    store_calls(c, present, i) > SCRIBBLE_MS ? 't' : 'k');
	}
	shoal_store_close(c);
	_exit(0);
}

static void scribble_store_field(struct shoal_store *s, const char *name,
				 const struct field *f)
{
	shoal_id present = tu_id(0x5e, 1);
	int go[2], done[2];
	uint64_t saved;
	pid_t pid;

	tu_pipe(go);
	tu_pipe(done);
	pid = tu_fork();
	if (pid == 0)
		store_child(name, present, go[0], done[1]);
	cr_assert_eq(tu_read_byte(done[0], 10000), 'a', "%s: child attach",
		     f->name);
	saved = peek(s->hdr, f);
	for (int i = 0; i < (int)(sizeof hostile / sizeof hostile[0]); i++) {
		struct shoal_store *late = NULL;
		char r;

		poke(s->hdr, f, hostile[i]);
		/* A fresh attach checks the header: it refuses it, or takes
		 * a value that is valid (a spin budget of 0) and works. */
		{
			int rc = shoal_store_attach(name, &late);

			cr_assert(rc == SHOAL_EBADSEGMENT || rc == 0,
				  "%s = %#llx: attach gave %d (%s)", f->name,
				  (unsigned long long)hostile[i], rc,
				  shoal_strerror(rc));
			if (rc == 0) {
				store_calls(late, present, 100 + i);
				shoal_store_close(late);
			}
		}
		tu_write_byte(go[1], 'g');
		r = tu_read_byte(done[0], 30000);
		poke(s->hdr, f, saved);
		cr_assert_neq(r, 0, "%s = %#llx: the attached process died or hung",
			      f->name, (unsigned long long)hostile[i]);
		cr_assert_eq(r, 'k', "%s = %#llx: its calls took over %d ms",
			     f->name, (unsigned long long)hostile[i], SCRIBBLE_MS);
	}
	tu_assert_rc(tu_wait_exit(pid), 0, "%s", f->name);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
	}
	/* Put back, the store still works for everyone. */
	tu_assert_rc(tu_get_check(s, present, 1000, 7, 0), 0, "%s", f->name);
	tu_assert_rc(tu_put(s, tu_id(0x5e, 2), 3000, 8, 0), 0, "%s", f->name);
	tu_assert_rc(shoal_delete(s, tu_id(0x5e, 2)), 0, "%s", f->name);
	tu_assert_rc(shoal_store_reap(s), 0);
}

Test(scribble, store_geometry_written_after_attach_crashes_and_hangs_nobody)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);

	tu_assert_rc(tu_put(s, tu_id(0x5e, 1), 1000, 7, 0), 0);
	for (size_t i = 0; i < sizeof seg_fields / sizeof seg_fields[0]; i++)
		scribble_store_field(s, name, &seg_fields[i]);
	shoal_store_close(s);
	shoal_store_unlink(name);
}

/* The issue's own case: a stray max_procs together with a high-water mark
 * past it made every sum over the process table read past its end. */
Test(scribble, max_procs_and_its_high_water_mark_together)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	uint32_t hwm = atomic_load(&s->hdr->procs_hwm);
	uint32_t max = s->hdr->max_procs;
	int go[2], done[2];
	pid_t pid;

	tu_assert_rc(tu_put(s, tu_id(0x5e, 1), 1000, 7, 0), 0);
	tu_pipe(go);
	tu_pipe(done);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_store_stats st;

		if (shoal_store_attach(name, &c))
			_exit(3);
		tu_child_write_byte(done[1], 'a');
		if (tu_child_read_byte(go[0]) != 'g')
			_exit(4);
		store_calls(c, tu_id(0x5e, 1), 0);
		_exit(shoal_store_stats(c, &st) == 0 && st.objects >= 1 ? 0 : 5);
	}
	cr_assert_eq(tu_read_byte(done[0], 10000), 'a');
	s->hdr->max_procs = UINT32_MAX;
	atomic_store(&s->hdr->procs_hwm, UINT32_MAX);
	tu_write_byte(go[1], 'g');
	tu_assert_rc(tu_wait_exit(pid), 0);
	s->hdr->max_procs = max;
	atomic_store(&s->hdr->procs_hwm, hwm);
	tu_assert_rc(tu_get_check(s, tu_id(0x5e, 1), 1000, 7, 0), 0);
	shoal_store_close(s);
	shoal_store_unlink(name);
}
