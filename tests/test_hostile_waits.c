/* SPDX-License-Identifier: MIT */
/*
 * tests/test_hostile_waits.c - waits on words another process holds, with
 * a neighbour that holds them for ever (issue 9).
 *
 * A same-user neighbour can write any word of the segment.  Every wait of
 * the store for a word another process holds (a REPAIR bit and the repair
 * word, the heap's robust mutex, a ledger's seqcount, a flagged ledger
 * record, a process's intent) used to be bounded only by "its holder is
 * alive": a neighbour that wrote the word and stayed alive hung everyone.
 * Each test here has a real neighbour (a forked process with its own
 * handle and slot) write one such word and stay alive, and checks that
 * the victim's call comes back with its documented code within its bound
 * (deadline.h: the caller's timeout, at least SHOAL__LOCK_MIN_MS; that
 * for a call with no timeout), having changed nothing it should not, and
 * that once the neighbour lets go the store works again and its counts
 * are right.  Before the bounds, every one of these hung (the suite's
 * .timeout, or the child deadline, fails it).
 *
 * The neighbour takes commands on a pipe (one byte and an argument) and
 * answers each, so nothing here waits on time for synchronisation; the
 * only clock is the one that measures the victim's call.  Processes that
 * died "in the middle" of something are made the way a crash leaves them
 * (their intent written, then _exit without a close), so that a reap has
 * that something to do.  Stores are private (memfd): nothing is left in
 * /dev/shm; tu_teardown kills and reaps any child still alive.
 *
 * Linked with the crash-point build (base/crash.h) for one test, which
 * stops a creator between its claim of an entry and its publish
 * ("CREATE_HELD:stop") so that the neighbour can write that entry then.
 */
#include "testutil.h"
#include "internal.h"
#include "live_slot.h"

#include <pthread.h>

TestSuite(hostile_waits, .init = tu_setup, .fini = tu_teardown, .timeout = 30);

#define MiB (1024u * 1024u)
#define BIG (64u * 1024u) /* a page run: takes the heap's lock */
/* How much longer than its bound a call may take: the bound is a second
 * or two, the suite's .timeout 30 s. */
#define HW_SLACK_MS 5000

/* Asserts a call that started at t0 (tu_now_ms) took at least want_ms
 * and well under the suite's timeout. */
#define hw_assert_took(t0, want_ms, what)                                      \
	do {                                                                   \
		int64_t hw_el_ = tu_now_ms() - (t0);                           \
		cr_assert(hw_el_ >= (want_ms) && hw_el_ < (want_ms) + HW_SLACK_MS, \
			  "%s took %lld ms, want %d ms and not much more",     \
			  what, (long long)hw_el_, (int)(want_ms));            \
	} while (0)

/* ------------------------------------------------------------------ */
/* The neighbour.                                                      */

enum hw_cmd {
	HW_REPAIR = 'R',      /* REPAIR on entry arg, the repair word mine */
	HW_UNREPAIR = 'r',    /* both cleared */
	HW_WORD = 'W',        /* the repair word mine (entry arg), no bit */
	HW_UNWORD = 'w',
	HW_LOCK = 'L',        /* the heap's lock taken */
	HW_UNLOCK = 'l',
	HW_SEQ = 'S',         /* my ledger's seqcount odd */
	HW_UNSEQ = 's',
	HW_INTENT = 'I',      /* my intent: changing the counts of entry arg */
	HW_UNINTENT = 'i',
	HW_HOLD = 'H',        /* hold / drop the object of entry arg */
	HW_DROP = 'D',
	HW_FLAG = 'F',        /* dead slot arg >> 16 REAPING by me, its record
			       * for entry arg & 0xffff flagged */
	HW_EXIT = 'X',        /* close and exit */
};

struct hw_nb {
	pid_t pid;
	int cmd;  /* commands to the neighbour */
	int ack;  /* one byte back per command */
};

/* repair.c's repair word: entry + 1 | repairer slot + 1 << 25 | the low
 * 24 bits of its generation << 38. */
static uint64_t hw_repair_word(const struct shoal_store *c, uint32_t idx)
{
	return (uint64_t)(idx + 1) | ((uint64_t)(c->slot + 1) << 25) |
	       ((uint64_t)(c->slot_gen & 0xffffffu) << 38);
}

/* The heap's robust mutex: store/heap/heap_int.h's struct heap_hdr has it
 * at offset 64 of the heap's metadata (static_assert there). */
static pthread_mutex_t *hw_heap_mutex(const struct shoal_store *c)
{
	return (pthread_mutex_t *)(c->map.base + c->heap.meta_off + 64);
}

static void hw_hold_change(struct shoal_store *c, uint32_t idx, bool hold)
{
	shoal_id id;

	shoal__dir_read_id(&c->dir[idx], &id);
	if ((hold ? shoal_hold(c, id) : shoal_drop(c, id)) != 0)
		_exit(3);
}

/* Dead slot d is being reaped by c (a live reaper), and its record for
 * idx is in flight (FLAG), as a reaper's give-back leaves them. */
static void hw_flag(struct shoal_store *c, uint32_t d, uint32_t idx)
{
	uint32_t mask;
	_Atomic uint64_t *l = shoal__ledger_table(c, d, &mask);
	uint64_t st = atomic_load(&c->procs[d].state);

	atomic_store(&c->procs[d].state,
		     SHOAL__PROC_STATE(SHOAL__PROC_GEN(st), SHOAL__PROC_REAPING,
				       SHOAL__PROC_REAPER(c->slot, c->slot_gen)));
	for (uint32_t i = 0; i <= mask; i++)
		if (SHOAL__LEDGER_KEY(atomic_load(&l[i])) == idx + 1)
			atomic_fetch_or(&l[i], SHOAL__LEDGER_FLAG);
}

/* What the neighbour does with its own handle c. */
static void hw_act(struct shoal_store *c, char cmd, uint32_t arg)
{
	switch (cmd) {
	case HW_REPAIR:
		atomic_fetch_or(&c->dir[arg].ctl, SHOAL__CTL_REPAIR);
		atomic_store(&c->hdr->repair, hw_repair_word(c, arg));
		break;
	case HW_UNREPAIR:
		atomic_fetch_and(&c->dir[arg].ctl, ~SHOAL__CTL_REPAIR);
		atomic_store(&c->hdr->repair, 0);
		break;
	case HW_WORD:
		atomic_store(&c->hdr->repair, hw_repair_word(c, arg));
		break;
	case HW_UNWORD:
		atomic_store(&c->hdr->repair, 0);
		break;
	case HW_LOCK:
		if (pthread_mutex_lock(hw_heap_mutex(c)) != 0)
			_exit(4);
		break;
	case HW_UNLOCK:
		pthread_mutex_unlock(hw_heap_mutex(c));
		break;
	case HW_SEQ:
	case HW_UNSEQ:
		atomic_fetch_add(&c->me->ledger_seq, 1);
		break;
	case HW_INTENT: /* as refs.c writes it: a drop in flight (adds none) */
		atomic_store(&c->me->intent.entry, arg);
		atomic_store(&c->me->intent.ref, SHOAL__LEDGER_REC(arg + 1, 0, 0));
		atomic_store(&c->me->intent.op, SHOAL__OP_REF);
		break;
	case HW_UNINTENT: /* a stamp, if any, goes with it */
		atomic_store(&c->me->intent.ref, 0);
		atomic_store(&c->me->intent.op, SHOAL__OP_NONE);
		break;
	case HW_HOLD:
	case HW_DROP:
		hw_hold_change(c, arg, cmd == HW_HOLD);
		break;
	case HW_FLAG:
		hw_flag(c, arg >> 16, arg & 0xffff);
		break;
	default:
		_exit(TU_EXIT_USAGE);
	}
}

static void hw_child_read(int fd, void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((char *)buf)[i] = tu_child_read_byte(fd);
}

/* Starts the neighbour: it attaches to s's segment (its own handle and
 * slot) and answers commands until HW_EXIT. */
static void hw_nb_start(struct hw_nb *n, struct shoal_store *s)
{
	int to_nb[2], to_test[2];

	tu_pipe(to_nb);
	tu_pipe(to_test);
	n->pid = tu_fork();
	if (n->pid == 0) {
		struct shoal_store *c;

		close(to_nb[1]);
		close(to_test[0]);
		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		tu_child_write_byte(to_test[1], 'a');
		for (;;) {
			char cmd = tu_child_read_byte(to_nb[0]);
			uint32_t arg;

			hw_child_read(to_nb[0], &arg, sizeof arg);
			if (cmd == HW_EXIT) {
				shoal_store_close(c);
				_exit(0);
			}
			hw_act(c, cmd, arg);
			tu_child_write_byte(to_test[1], cmd);
		}
	}
	close(to_nb[0]);
	close(to_test[1]);
	n->cmd = to_nb[1];
	n->ack = to_test[0];
	cr_assert_eq(tu_read_byte(n->ack, TU_CHILD_DEADLINE_MS), 'a');
}

/* Has the neighbour do cmd, and waits (bounded) until it has. */
static void hw_nb_do(struct hw_nb *n, char cmd, uint32_t arg)
{
	const char *p = (const char *)&arg;

	tu_write_byte(n->cmd, cmd);
	for (size_t i = 0; i < sizeof arg; i++)
		tu_write_byte(n->cmd, p[i]);
	if (cmd != HW_EXIT)
		cr_assert_eq(tu_read_byte(n->ack, TU_CHILD_DEADLINE_MS), cmd);
}

/* The neighbour closes its handle and exits. */
static void hw_nb_exit(struct hw_nb *n)
{
	hw_nb_do(n, HW_EXIT, 0);
	cr_assert_eq(tu_wait_exit(n->pid), 0);
	close(n->cmd);
	close(n->ack);
}

/* ------------------------------------------------------------------ */
/* Others.                                                             */

/* Reads n bytes a child sends (bounded, tu_read_byte). */
static void hw_read(int fd, void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((char *)buf)[i] = tu_read_byte(fd, TU_CHILD_DEADLINE_MS);
}

/*
 * A process that attaches, holds `hold` (unless nil), is in the middle of
 * changing the counts of entry ref_idx (its intent, unless ref_idx < 0)
 * and dies without closing: a dead slot for a reaper, as a crash leaves
 * it.  Its slot.
 */
static uint32_t hw_dead(struct shoal_store *s, shoal_id hold, int64_t ref_idx)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		if (!shoal_id_is_nil(hold) && shoal_hold(c, hold))
			_exit(2);
		if (ref_idx >= 0) {
			atomic_store(&c->me->intent.entry, (uint32_t)ref_idx);
			atomic_store(&c->me->intent.op, SHOAL__OP_REF);
		}
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(pid), 0);
	return tu_live_slot_of(s, pid);
}

/* The directory index of id's entry. */
static uint32_t hw_idx(struct shoal_store *s, shoal_id id)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	cr_assert_geq(idx, 0, "no entry for the object");
	return (uint32_t)idx;
}

/* A sealed object of `size` pattern bytes (seed), held by s. */
static shoal_id hw_put(struct shoal_store *s, size_t size, uint64_t seed)
{
	shoal_id id = shoal_id_next(s);

	tu_assert_rc(tu_put(s, id, size, seed, 0), 0);
	return id;
}

/* ------------------------------------------------------------------ */
/* A REPAIR that nobody is running (store/object/, shoal__obj_wait_settled). */

/*
 * Calls with a timeout: a pin waits for the REPAIR up to the timeout, at
 * least a second (a poll too), then -ETIMEDOUT, nothing pinned.
 */
Test(hostile_waits, a_scribbled_repair_times_out_a_get)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x);
	struct shoal_view v, views[1];
	struct hw_nb n;
	char msg[16];
	int64_t t0;

	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_REPAIR, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, x, 100, &v), -ETIMEDOUT, "timeout 100 ms");
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a get (timeout 100 ms)");
	cr_assert_null(v.data);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, x, 0, &v), -ETIMEDOUT, "a poll");
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a get (poll)");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, x, 1500, &v), -ETIMEDOUT, "timeout 1500 ms");
	hw_assert_took(t0, 1500, "a get (timeout 1500 ms)");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get_many(s, &x, 1, 100, views), 0);
	tu_assert_rc(views[0].err, -ETIMEDOUT, "get_many");
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a get_many (timeout 100 ms)");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_error_message(s, x, msg, sizeof msg), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "an error_message");
	cr_assert_eq(tu_info(s, x).pins, 0, "a pin was left behind");

	hw_nb_do(&n, HW_UNREPAIR, idx);
	tu_assert_rc(tu_get_check(s, x, 3000, 1, 0), 0);
	tu_assert_rc(shoal_error_message(s, x, msg, sizeof msg), -ENOMSG);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_drop(s, x), 0);
	cr_assert_eq(tu_info(s, x).holds, 0);
	shoal_store_close(s);
}

/*
 * A call that waits for ever (timeout < 0, as a worker writing a task's
 * result does) waits for room or a seal for ever, but for a word a
 * neighbour holds only SHOAL__LOCK_FOREVER_MS: then -ETIMEDOUT, nothing
 * pinned.  Before, it waited for as long as the neighbour lived.
 */
Test(hostile_waits, a_scribbled_repair_holds_a_wait_for_ever_get_ten_seconds)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x);
	struct shoal_view v;
	struct hw_nb n;
	int64_t t0;

	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_REPAIR, idx);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, x, -1, &v), -ETIMEDOUT, "timeout -1");
	hw_assert_took(t0, SHOAL__LOCK_FOREVER_MS, "a get (timeout -1)");
	cr_assert_null(v.data);
	cr_assert_eq(tu_info(s, x).pins, 0, "a pin was left behind");
	hw_nb_do(&n, HW_UNREPAIR, idx);
	tu_assert_rc(tu_get_check(s, x, 3000, 1, 0), 0);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_drop(s, x), 0);
	shoal_store_close(s);
}

/*
 * Calls with no timeout (release, hold, drop, delete): a second, then
 * -ETIMEDOUT with nothing changed (the view still pinned, the hold still
 * there, the object not deleted); each works once the REPAIR is gone.
 */
Test(hostile_waits, a_scribbled_repair_times_out_release_hold_drop_delete)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 2);
	uint32_t idx = hw_idx(s, x);
	struct shoal_store_stats before;
	struct shoal_view v;
	struct hw_nb n;
	int64_t t0;

	tu_assert_rc(shoal_get(s, x, 0, &v), 0);
	before = tu_stats(s);
	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_REPAIR, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_release(s, &v), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a release");
	cr_assert_not_null(v.data, "the view was cleared: it cannot be released again");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_hold(s, x), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a hold");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_drop(s, x), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a drop");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_delete(s, x), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a delete");
	cr_assert_eq(tu_info(s, x).pins, 1);
	cr_assert_eq(tu_info(s, x).holds, 1);
	cr_assert_eq(tu_info(s, x).state, SHOAL_OBJECT_SEALED);

	hw_nb_do(&n, HW_UNREPAIR, idx);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_release(s, &v), 0);
	cr_assert_null(v.data);
	tu_assert_rc(shoal_drop(s, x), 0);
	tu_assert_rc(shoal_delete(s, x), 0);
	cr_assert_eq(tu_stats(s).objects, before.objects - 1);
	cr_assert_eq(tu_stats(s).bytes_used, before.bytes_used - 3000);
	shoal_store_close(s);
}

/* seal and abort of an unsealed object: -ETIMEDOUT, still unsealed and
 * held; then sealed. */
Test(hostile_waits, a_scribbled_repair_times_out_seal_and_abort)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id u = shoal_id_next(s);
	struct hw_nb n;
	uint32_t idx;
	void *buf;
	int64_t t0;

	tu_assert_rc(shoal_create(s, u, 100, NULL, 0, 0, &buf), 0);
	tu_fill(buf, 100, 3);
	idx = hw_idx(s, u);
	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_REPAIR, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_seal(s, u), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a seal");
	t0 = tu_now_ms();
	tu_assert_rc(shoal_abort(s, u), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "an abort");
	cr_assert_eq(tu_info(s, u).state, SHOAL_OBJECT_CREATED);
	cr_assert_eq(tu_info(s, u).holds, 1);
	cr_assert_eq(atomic_load(&s->me->intent.op), SHOAL__OP_NONE,
		     "an intent was left behind");

	hw_nb_do(&n, HW_UNREPAIR, idx);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_seal(s, u), 0);
	tu_assert_rc(tu_get_check(s, u, 100, 3, 0), 0);
	tu_assert_rc(shoal_drop(s, u), 0);
	shoal_store_close(s);
}

/*
 * The REPAIR lands on the entry a create has just claimed (the creator
 * stopped at CREATE_HELD: its hold in the ledger, not published): the
 * create waits for it up to its timeout (1200 ms here), then -ETIMEDOUT,
 * its hold out of the ledger and its block freed; the entry is not
 * published.  The same ID is created once the REPAIR is gone.
 */
Test(hostile_waits, a_repair_on_a_claimed_entry_times_out_a_create)
{
	struct shoal_store *s = tu_store(MiB);
	struct shoal_store_stats before = tu_stats(s);
	shoal_id id = tu_id(9, 1);
	int to_test[2];
	struct hw_nb n;
	uint32_t slot, idx;
	int64_t took;
	pid_t pid;

	hw_nb_start(&n, s);
	tu_pipe(to_test);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c;
		char buf[5000];
		int64_t t;
		int rc;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		shoal__crash_arm(&c->crash, SHOAL__CP_CREATE_HELD, 1);
		c->crash.stop = 1;
		if (write(to_test[1], &c->slot, sizeof c->slot) != sizeof c->slot)
			_exit(TU_EXIT_IO);
		tu_fill(buf, sizeof buf, 9);
		t = tu_now_ms();
		rc = shoal_put_with_id(c, id, buf, sizeof buf, NULL, 0, 1200);
		t = tu_now_ms() - t;
		if (write(to_test[1], &t, sizeof t) != sizeof t)
			_exit(TU_EXIT_IO);
		/* its hold is out of the ledger, its intent withdrawn */
		if (c->ledger_used != 0 ||
		    atomic_load(&c->me->intent.op) != SHOAL__OP_NONE)
			_exit(TU_EXIT_MISMATCH);
		shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	close(to_test[1]);
	hw_read(to_test[0], &slot, sizeof slot);
	cr_assert(tu_await_state(pid, 'T', TU_CHILD_DEADLINE_MS),
		  "the creator never stopped");
	idx = atomic_load(&s->procs[slot].intent.entry);
	cr_assert_leq(idx, s->dir_mask, "the creator claimed no entry");
	hw_nb_do(&n, HW_REPAIR, idx);
	cr_assert_eq(kill(pid, SIGCONT), 0);
	hw_read(to_test[0], &took, sizeof took);
	tu_assert_rc(tu_wait_result(pid), -ETIMEDOUT, "the create");
	cr_assert(took >= 1200 && took < 1200 + HW_SLACK_MS,
		  "the create took %lld ms, want 1200 ms", (long long)took);
	close(to_test[0]);
	cr_assert_eq(SHOAL__CTL_STATE(atomic_load(&s->dir[idx].ctl)),
		     SHOAL__E_FREE, "the entry was published");

	hw_nb_do(&n, HW_UNREPAIR, idx);
	hw_nb_exit(&n);
	cr_assert_eq(tu_stats(s).objects, before.objects);
	cr_assert_eq(tu_stats(s).bytes_used, before.bytes_used);
	tu_assert_rc(tu_put(s, id, 5000, 9, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 5000, 9, 0), 0);
	shoal_store_close(s);
}

/*
 * The fill calls (fill.c): a fill_begin waits for the REPAIR up to its
 * timeout (at least a second), -ETIMEDOUT with its record and block given
 * back; fill_end and fill_cancel wait a second, -ETIMEDOUT with the fill
 * still open (FILLING by us), which ends once the REPAIR is gone.
 */
Test(hostile_waits, a_scribbled_repair_times_out_the_fill_calls)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id p = shoal_id_next(s);
	struct shoal__fill f;
	struct shoal_store_stats before;
	struct hw_nb n;
	uint32_t idx;
	void *buf;
	int64_t t0;

	tu_assert_rc(shoal__obj_promise(s, p, true, 0), 0);
	idx = hw_idx(s, p);
	before = tu_stats(s);
	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_REPAIR, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal__fill_begin(s, p, 5000, 100, &f, &buf), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a fill_begin (timeout 100 ms)");
	t0 = tu_now_ms();
	tu_assert_rc(shoal__fill_begin(s, p, 4, 1500, &f, &buf), -ETIMEDOUT);
	hw_assert_took(t0, 1500, "an inline fill_begin (timeout 1500 ms)");
	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++)
		cr_assert_eq(s->me->fills[i].stage, 0, "a fill record was kept");
	cr_assert_eq(tu_stats(s).bytes_used, before.bytes_used);

	hw_nb_do(&n, HW_UNREPAIR, idx);
	tu_assert_rc(shoal__fill_begin(s, p, 5000, 0, &f, &buf), 0);
	tu_fill(buf, 5000, 4);
	hw_nb_do(&n, HW_REPAIR, idx);
	t0 = tu_now_ms();
	tu_assert_rc(shoal__fill_end(s, &f, 0), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a fill_end");
	t0 = tu_now_ms();
	tu_assert_rc(shoal__fill_cancel(s, &f), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a fill_cancel");
	cr_assert_eq(s->me->fills[f.rec].stage, 1, "the fill was not left open");
	cr_assert(atomic_load(&s->dir[idx].ctl) & SHOAL__CTL_FILLING);

	hw_nb_do(&n, HW_UNREPAIR, idx);
	hw_nb_exit(&n);
	tu_assert_rc(shoal__fill_end(s, &f, 0), 0);
	tu_assert_rc(tu_get_check(s, p, 5000, 4, 0), 0);
	tu_assert_rc(shoal_drop(s, p), 0);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* The heap's lock (store/heap/heap.c, shoal__heap_lock).              */

/*
 * Allocations that need the heap's lock (a slab's carve, a page run):
 * -ETIMEDOUT at the caller's timeout, at least a second, not "store
 * full", nothing taken; they work once the holder lets go.
 */
Test(hostile_waits, a_held_heap_lock_times_out_allocations)
{
	struct shoal_store *s = tu_store(4 * MiB);
	struct shoal_store_stats before = tu_stats(s);
	shoal_id p = shoal_id_next(s);
	struct shoal__fill f;
	struct hw_nb n;
	void *buf;
	int64_t t0;

	tu_assert_rc(shoal__obj_promise(s, p, true, 0), 0);
	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_LOCK, 0);

	t0 = tu_now_ms(); /* the store's first block: a slab to carve */
	tu_assert_rc(tu_put(s, tu_id(1, 1), 100, 1, 100), -ETIMEDOUT, "small");
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a small put (timeout 100 ms)");
	t0 = tu_now_ms();
	tu_assert_rc(tu_put(s, tu_id(1, 2), BIG, 2, 0), -ETIMEDOUT, "big, a try");
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a big put (poll)");
	t0 = tu_now_ms();
	tu_assert_rc(tu_put(s, tu_id(1, 2), BIG, 2, 1500), -ETIMEDOUT, "big");
	hw_assert_took(t0, 1500, "a big put (timeout 1500 ms)");
	t0 = tu_now_ms();
	tu_assert_rc(shoal__fill_begin(s, p, BIG, 100, &f, &buf), -ETIMEDOUT);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a big fill_begin");
	cr_assert_eq(tu_stats(s).objects, before.objects + 1);
	cr_assert_eq(tu_stats(s).heap_bytes_reserved, before.heap_bytes_reserved);

	hw_nb_do(&n, HW_UNLOCK, 0);
	hw_nb_exit(&n);
	tu_assert_rc(tu_put(s, tu_id(1, 1), 100, 1, 0), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 2), BIG, 2, 0), 0);
	tu_assert_rc(shoal__fill_begin(s, p, BIG, 0, &f, &buf), 0);
	tu_fill(buf, BIG, 3);
	tu_assert_rc(shoal__fill_end(s, &f, 0), 0);
	tu_assert_rc(tu_get_check(s, p, BIG, 3, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 2), BIG, 2, 0), 0);
	shoal_store_close(s);
}

/*
 * A reap needs the heap's lock first (to replay a dead holder's plan,
 * proc.c): it gives the dead slot back untouched after a second and
 * reaps it once the lock is free.  A delete whose page run cannot be
 * freed (no timeout: a second) still deletes, and leaks the run.
 */
Test(hostile_waits, a_held_heap_lock_holds_a_reap_and_a_free_a_second)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id l = hw_put(s, BIG, 1), m = hw_put(s, BIG, 2);
	struct shoal_store_stats before;
	struct hw_nb n;
	int64_t t0;

	hw_nb_start(&n, s);
	hw_dead(s, l, -1);
	before = tu_stats(s);
	hw_nb_do(&n, HW_LOCK, 0);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 0);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a reap");
	cr_assert_eq(tu_stats(s).processes, before.processes, "the dead slot went");
	cr_assert_eq(tu_info(s, l).holds, 2);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_delete(s, m), 0);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a delete");
	cr_assert_eq(tu_stats(s).objects, before.objects - 1);
	cr_assert_eq(tu_stats(s).bytes_used, before.bytes_used - BIG);
	cr_assert_eq(tu_stats(s).heap_bytes_reserved, before.heap_bytes_reserved,
		     "the run was freed after all?");

	hw_nb_do(&n, HW_UNLOCK, 0);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, l).holds, 1);
	cr_assert_eq(tu_stats(s).processes, 1);
	tu_assert_rc(tu_put(s, tu_id(2, 1), BIG, 3, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 1), BIG, 3, 0), 0);
	tu_assert_rc(tu_get_check(s, l, BIG, 1, 0), 0);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* A reaper's waits (proc.c, repair.c).                                */

/*
 * The repair word names a live process that is not repairing: a reap
 * that must recount an entry (a process died in the middle of changing
 * it) cannot take the word; after a second it gives the dead slot back
 * as it was, and reaps it once the word is free.
 */
Test(hostile_waits, a_scribbled_repair_word_holds_a_reap_a_second)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x), dead;
	struct hw_nb n;
	int64_t t0;

	hw_nb_start(&n, s);
	dead = hw_dead(s, SHOAL_ID_NIL, idx);
	hw_nb_do(&n, HW_WORD, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 0);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a reap");
	cr_assert_eq(SHOAL__PROC_PHASE(atomic_load(&s->procs[dead].state)),
		     SHOAL__PROC_LIVE, "the dead slot was not given back");
	cr_assert_eq(atomic_load(&s->procs[dead].intent.op), SHOAL__OP_REF,
		     "its intent went without its recount");
	cr_assert_eq(atomic_load(&s->dir[idx].ctl) & SHOAL__CTL_REPAIR, 0);

	hw_nb_do(&n, HW_UNWORD, 0);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, x).holds, 1);
	tu_assert_rc(tu_get_check(s, x, 3000, 1, 0), 0);
	shoal_store_close(s);
}

/*
 * A REPAIR on an entry a dead process held: its reaper cannot give the
 * hold back; after a second it gives the slot back (the record as it
 * was), and gives the hold back once the REPAIR is gone.
 */
Test(hostile_waits, a_scribbled_repair_holds_a_reap_a_second)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x), dead;
	struct hw_nb n;
	int64_t t0;

	hw_nb_start(&n, s);
	dead = hw_dead(s, x, -1);
	hw_nb_do(&n, HW_REPAIR, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 0);
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a reap");
	cr_assert_eq(SHOAL__PROC_PHASE(atomic_load(&s->procs[dead].state)),
		     SHOAL__PROC_LIVE, "the dead slot was not given back");
	cr_assert_eq(tu_info(s, x).holds, 2);

	hw_nb_do(&n, HW_UNREPAIR, idx);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, x).holds, 1);
	tu_assert_rc(shoal_drop(s, x), 0);
	cr_assert_eq(tu_info(s, x).holds, 0);
	shoal_store_close(s);
}

/*
 * A close that must give back a hold under a REPAIR: it stops after a
 * second, and the process exits; its slot is reaped, the hold given back,
 * once the REPAIR is gone.
 */
Test(hostile_waits, a_scribbled_repair_holds_a_close_a_second)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x);
	int to_test[2], to_child[2];
	struct hw_nb n;
	int64_t took;
	pid_t pid;

	hw_nb_start(&n, s);
	tu_pipe(to_test);
	tu_pipe(to_child);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c;
		int64_t t;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c) || shoal_hold(c, x))
			_exit(1);
		tu_child_write_byte(to_test[1], 'h');
		tu_child_read_byte(to_child[0]);
		t = tu_now_ms();
		shoal_store_close(c);
		t = tu_now_ms() - t;
		if (write(to_test[1], &t, sizeof t) != sizeof t)
			_exit(TU_EXIT_IO);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(to_test[0], TU_CHILD_DEADLINE_MS), 'h');
	cr_assert_eq(tu_info(s, x).holds, 2);
	hw_nb_do(&n, HW_REPAIR, idx);
	tu_write_byte(to_child[1], 'c');
	hw_read(to_test[0], &took, sizeof took);
	cr_assert_eq(tu_wait_exit(pid), 0);
	cr_assert(took >= SHOAL__LOCK_MIN_MS && took < SHOAL__LOCK_MIN_MS + HW_SLACK_MS,
		  "the close took %lld ms", (long long)took);
	cr_assert_eq(tu_info(s, x).holds, 2);

	hw_nb_do(&n, HW_UNREPAIR, idx);
	hw_nb_exit(&n);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, x).holds, 1);
	cr_assert_eq(tu_stats(s).processes, 1);
	shoal_store_close(s);
}

/*
 * A recount waits for each live process that is in the middle of changing
 * the entry (its intent): a neighbour that holds the object and keeps its
 * intent up for ever is read as its ledger stands after a second, and the
 * recount (the reap of a process that died changing the entry) finishes
 * with the right count: the test's hold and the neighbour's.  A ledger
 * seqcount kept odd is not waited for at all (want_ms 0): a count that
 * stands still, odd or not, says the table is not moving under the read
 * (ledger.c), and the same count comes out at once.
 */
static void hw_recount_past(char cmd, char undo, int want_ms)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x);
	struct hw_nb n;
	int64_t t0;

	hw_nb_start(&n, s);
	hw_nb_do(&n, HW_HOLD, idx);
	hw_dead(s, SHOAL_ID_NIL, idx);
	hw_nb_do(&n, cmd, idx);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 1);
	hw_assert_took(t0, want_ms, "a reap's recount");
	cr_assert(want_ms || tu_now_ms() - t0 < SHOAL__LOCK_MIN_MS / 2,
		  "a reap's recount waited for a seqcount that stood still");
	cr_assert_eq(tu_info(s, x).holds, 2);
	cr_assert_eq(atomic_load(&s->dir[idx].ctl) & SHOAL__CTL_REPAIR, 0);
	cr_assert_eq(atomic_load(&s->hdr->repair), 0);

	hw_nb_do(&n, undo, idx);
	hw_nb_do(&n, HW_DROP, idx);
	hw_nb_exit(&n);
	cr_assert_eq(tu_info(s, x).holds, 1);
	tu_assert_rc(shoal_drop(s, x), 0);
	cr_assert_eq(tu_info(s, x).holds, 0);
	tu_assert_rc(tu_get_check(s, x, 3000, 1, 0), 0);
	shoal_store_close(s);
}

Test(hostile_waits, a_scribbled_intent_holds_a_recount_a_second)
{
	hw_recount_past(HW_INTENT, HW_UNINTENT, SHOAL__LOCK_MIN_MS);
}

Test(hostile_waits, a_scribbled_ledger_seqcount_holds_no_recount)
{
	hw_recount_past(HW_SEQ, HW_UNSEQ, 0);
}

/*
 * A recount consumes a dead process's record, unless a live reaper has it
 * in flight (FLAG): it waits for that reaper to give it back or put it
 * down.  A neighbour that writes itself in as the dead slot's reaper and
 * flags the record is waited for a second; then the record is counted as
 * it stands and left to that "reaper" (consuming it could return it twice
 * if the reaper were real and only slow, ledger.c): a hold too many until
 * the neighbour is gone, when the next reap consumes it and the count is
 * right: the test's hold alone.
 */
Test(hostile_waits, a_scribbled_flag_holds_a_recount_a_second)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = hw_put(s, 3000, 1);
	uint32_t idx = hw_idx(s, x), d;
	struct hw_nb n;
	int64_t t0;

	hw_nb_start(&n, s);
	d = hw_dead(s, x, -1);
	hw_nb_do(&n, HW_FLAG, d << 16 | idx);
	hw_dead(s, SHOAL_ID_NIL, idx);
	cr_assert_eq(tu_info(s, x).holds, 2);

	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 1, "the one in the middle of a change");
	hw_assert_took(t0, SHOAL__LOCK_MIN_MS, "a reap's recount");
	cr_assert_eq(tu_info(s, x).holds, 2, "the flagged record is not counted");

	hw_nb_exit(&n);
	tu_assert_rc(shoal_store_reap(s), 1, "the flagged one, its reaper gone");
	cr_assert_eq(tu_info(s, x).holds, 1);
	cr_assert_eq(tu_stats(s).processes, 1);
	tu_assert_rc(shoal_drop(s, x), 0);
	cr_assert_eq(tu_info(s, x).holds, 0);
	shoal_store_close(s);
}
