/* SPDX-License-Identifier: MIT */
/*
 * tests/test_objqueue.c - object queues (shoal/queue.h) between real
 * processes: the driver, tasks in workers, an actor, attached programs,
 * and SIGKILLed producers and consumers.
 *
 * Counts that several processes keep (what each consumer received) live
 * in a page mapped MAP_SHARED before the runtime starts, which the fork
 * server, the workers and the actors inherit, as do the test's children.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "task_int.h"

TestSuite(objqueue, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define OQ_MAX_ITEMS 4096

struct oq_page {
	_Atomic uint32_t got[OQ_MAX_ITEMS];  /* times item v was received */
	_Atomic uint32_t put[OQ_MAX_ITEMS];  /* put of item v returned 0 */
	_Atomic int64_t order_errors;
	_Atomic int64_t seen;
};

static struct oq_page *pg;

struct oq_fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	const char *name;
};

static int64_t oq_read(struct shoal_store *s, shoal_id id)
{
	struct shoal_view v;
	int64_t x = -1;

	if (shoal_get(s, id, 5000, &v))
		return -2;
	if (v.size == sizeof x)
		memcpy(&x, v.data, sizeof x);
	shoal_release(s, &v);
	return x;
}

/* Gets one value (up to 10 s) and drops it; -1000 - code on error. */
static int64_t oq_take(struct shoal_runtime *rt, const struct shoal_queue *q)
{
	shoal_id id;
	int64_t x;
	int rc = shoal_queue_get(rt, q, 10000, &id);

	if (rc)
		return -1000 + rc;
	x = oq_read(shoal_runtime_store(rt), id);
	shoal_drop(shoal_runtime_store(rt), id);
	return x;
}

/* produce(q, from, n): puts from .. from + n - 1, in order. */
static int task_produce(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_queue q;
	const void *d;
	size_t sz;
	int64_t fn[2];

	(void)user;
	if (shoal_task_arg_queue(t, 0, &q) || shoal_task_arg(t, 1, &d, &sz) ||
	    sz != sizeof fn)
		return shoal_task_fail(t, SHOAL_ETASK, "produce(q, {from, n})");
	memcpy(fn, d, sizeof fn);
	for (int64_t v = fn[0]; v < fn[0] + fn[1]; v++) {
		int rc = shoal_queue_put_bytes(rt, &q, &v, sizeof v, 10000);

		if (rc)
			return shoal_task_fail(t, rc, "put");
	}
	return shoal_task_return(t, 0, &fn[1], sizeof fn[1]);
}

/* consume(q, n): gets n values, counts each in the page, checks that the
 * values of one producer (v / 100000) come in order; returns their sum. */
static int task_consume(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_queue q;
	const void *d;
	size_t sz;
	int64_t n, sum = 0, last = -1;

	(void)user;
	if (shoal_task_arg_queue(t, 0, &q) || shoal_task_arg(t, 1, &d, &sz) ||
	    sz != sizeof n)
		return shoal_task_fail(t, SHOAL_ETASK, "consume(q, n)");
	memcpy(&n, d, sizeof n);
	for (int64_t i = 0; i < n; i++) {
		int64_t x = oq_take(rt, &q);

		if (x < 0)
			return shoal_task_fail(t, SHOAL_ETASK, "get failed");
		if (x < last)
			atomic_fetch_add(&pg->order_errors, 1);
		last = x;
		if (x < OQ_MAX_ITEMS)
			atomic_fetch_add(&pg->got[x], 1);
		sum += x;
	}
	return shoal_task_return(t, 0, &sum, sizeof sum);
}

static int oq_actor_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* Feeder.feed(q, {from, n}): the same as produce, from an actor. */
static int oq_feed(struct shoal_task *t, void *self)
{
	(void)self;
	return task_produce(t, NULL);
}

static struct oq_fx oq_start(uint32_t workers)
{
	struct oq_fx f = {0};
	struct shoal_runtime_options o;

	pg = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(pg, MAP_FAILED);
	f.name = tu_shm_name("oq");
	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "produce", task_produce, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "consume", task_consume, NULL), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Feeder", oq_actor_init, NULL), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Feeder", "feed", oq_feed), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.name = f.name;
	o.store.capacity = 32u << 20;
	o.max_queues = 8;
	o.max_queue_capacity = 256;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

static void oq_stop(struct oq_fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
	munmap(pg, sizeof *pg);
	pg = NULL;
}

static shoal_id oq_submit(struct oq_fx *f, const char *fn,
			  const struct shoal_queue *q, const void *arg, size_t n)
{
	struct shoal_args a;
	shoal_id out;

	shoal_args_init(&a);
	tu_assert_rc(shoal_args_queue(&a, q), 0);
	tu_assert_rc(shoal_args_bytes(&a, arg, n), 0);
	tu_assert_rc(shoal_submit(f->rt, shoal_function(f->rt, fn), &a, 1, &out), 0);
	return out;
}

static int64_t oq_result(struct oq_fx *f, shoal_id ref)
{
	int64_t x = oq_read(f->s, ref);

	shoal_drop(f->s, ref);
	return x;
}

Test(objqueue, the_driver_and_a_task_pass_objects_both_ways_in_order)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	int64_t fn[2] = {0, 500}, n = 500, sum = 0;
	shoal_id c;

	tu_assert_rc(shoal_queue_create(f.rt, "q", 16, &q), 0);
	c = oq_submit(&f, "consume", &q, &n, sizeof n);
	for (int64_t v = 0; v < 500; v++) {
		sum += v;
		tu_assert_rc(shoal_queue_put_bytes(f.rt, &q, &v, sizeof v, 10000), 0);
	}
	cr_assert_eq(oq_result(&f, c), sum, "the task's sum");
	cr_assert_eq(atomic_load(&pg->order_errors), 0, "out of order");
	c = oq_submit(&f, "produce", &q, fn, sizeof fn);
	for (int64_t v = 0; v < 500; v++)
		cr_assert_eq(oq_take(f.rt, &q), v, "the driver's get %lld", (long long)v);
	cr_assert_eq(oq_result(&f, c), 500);
	tu_assert_rc(shoal_queue_size(f.rt, &q), 0);
	oq_stop(&f);
}

Test(objqueue, two_tasks_pass_objects_in_order)
{
	struct oq_fx f = oq_start(2);
	struct shoal_queue q;
	int64_t fn[2] = {0, 2000}, n = 2000;
	shoal_id p, c;

	tu_assert_rc(shoal_queue_create(f.rt, NULL, 8, &q), 0);
	c = oq_submit(&f, "consume", &q, &n, sizeof n);
	p = oq_submit(&f, "produce", &q, fn, sizeof fn);
	cr_assert_eq(oq_result(&f, p), 2000);
	cr_assert_eq(oq_result(&f, c), 1999 * 2000 / 2);
	cr_assert_eq(atomic_load(&pg->order_errors), 0);
	for (int v = 0; v < 2000; v++)
		cr_assert_eq(atomic_load(&pg->got[v]), 1, "item %d", v);
	oq_stop(&f);
}

/* One worker: the consumer task blocks on the empty queue, and the pool
 * starts an extra worker for the producer task (the store's on_block
 * hook around the queue's sleeps). */
Test(objqueue, a_consumer_task_blocked_on_a_queue_lets_its_producer_task_run)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	int64_t fn[2] = {0, 100}, n = 100;
	shoal_id p, c;

	tu_assert_rc(shoal_queue_create(f.rt, NULL, 8, &q), 0);
	c = oq_submit(&f, "consume", &q, &n, sizeof n);
	p = oq_submit(&f, "produce", &q, fn, sizeof fn);
	cr_assert_eq(oq_result(&f, p), 100, "the producer never ran");
	cr_assert_eq(oq_result(&f, c), 99 * 100 / 2);
	oq_stop(&f);
}

Test(objqueue, an_actor_feeds_the_driver_through_a_named_queue)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q, found;
	struct shoal_actor a;
	struct shoal_args args;
	int64_t fn[2] = {10, 100};
	shoal_id r;

	tu_assert_rc(shoal_queue_create(f.rt, "feed", 4, &q), 0);
	tu_assert_rc(shoal_queue_lookup(f.rt, "feed", &found), 0);
	cr_assert_eq(memcmp(&q, &found, sizeof q), 0, "lookup gives the same handle");
	tu_assert_rc(shoal_actor_create(f.rt, "Feeder", NULL, NULL, &a), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_args_queue(&args, &q), 0);
	tu_assert_rc(shoal_args_bytes(&args, fn, sizeof fn), 0);
	tu_assert_rc(shoal_actor_call(f.rt, a, shoal_actor_method(f.rt, a, "feed"),
				      &args, &r), 0);
	for (int64_t v = 10; v < 110; v++)
		cr_assert_eq(oq_take(f.rt, &q), v);
	cr_assert_eq(oq_result(&f, r), 100);
	oq_stop(&f);
}

Test(objqueue, the_bound_refuses_a_try_put_and_holds_a_blocking_one_until_a_get)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	int64_t v = 1;
	int64_t t0;
	shoal_id id, held;
	pid_t pid;

	tu_assert_rc(shoal_queue_create(f.rt, "b", 2, &q), 0);
	tu_assert_rc(shoal_put(f.s, &v, sizeof v, 1000, &held), 0);
	tu_assert_rc(shoal_queue_put(f.rt, &q, held, 0), 0);
	tu_assert_rc(shoal_queue_put(f.rt, &q, held, 0), 0);
	tu_assert_rc(shoal_queue_put(f.rt, &q, held, 0), -EAGAIN);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_queue_put(f.rt, &q, held, 200), -ETIMEDOUT);
	cr_assert_geq(tu_now_ms() - t0, 200, "a put timed out early");
	tu_assert_rc(shoal_queue_size(f.rt, &q), 2);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		int64_t w = 2;

		if (shoal_runtime_attach(f.name, &rt))
			_exit(TU_EXIT_IO);
		_exit(tu_err_to_exit(shoal_queue_put_bytes(rt, &q, &w, sizeof w, -1)));
	}
	cr_assert(tu_wait_sleeping(pid, 5000), "the blocked put never slept");
	tu_assert_rc(shoal_queue_get(f.rt, &q, 0, &id), 0);
	tu_assert_rc(shoal_drop(f.s, id), 0);
	tu_assert_rc(tu_wait_result(pid), 0, "the blocked put");
	cr_assert_eq(oq_take(f.rt, &q), 1);
	cr_assert_eq(oq_take(f.rt, &q), 2);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_queue_get(f.rt, &q, 0, &id), -EAGAIN);
	tu_assert_rc(shoal_queue_get(f.rt, &q, 200, &id), -ETIMEDOUT);
	cr_assert_geq(tu_now_ms() - t0, 200, "a get timed out early");
	tu_assert_rc(shoal_drop(f.s, held), 0);
	oq_stop(&f);
}

Test(objqueue, the_queue_holds_what_it_carries_after_the_putter_drops_it)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	int64_t v = 42;
	shoal_id id, got;

	tu_assert_rc(shoal_queue_create(f.rt, NULL, 4, &q), 0);
	tu_assert_rc(shoal_put(f.s, &v, sizeof v, 1000, &id), 0);
	tu_assert_rc(shoal_queue_put(f.rt, &q, id, 0), 0);
	tu_assert_rc(shoal_drop(f.s, id), 0);
	cr_assert_eq(shoal_contains(f.s, id), 1, "dropped while queued");
	tu_assert_rc(shoal_queue_get(f.rt, &q, 0, &got), 0);
	cr_assert(shoal_id_eq(id, got));
	cr_assert_eq(oq_read(f.s, got), 42);
	tu_assert_rc(shoal_drop(f.s, got), 0);
	oq_stop(&f);
}

/* Many producers and consumers, each a worker: every item once. */
Test(objqueue, four_producers_and_four_consumers_move_every_item_exactly_once)
{
	struct oq_fx f = oq_start(8);
	struct shoal_queue q;
	shoal_id p[4], c[4];
	int64_t total = 0;

	tu_assert_rc(shoal_queue_create(f.rt, NULL, 16, &q), 0);
	for (int i = 0; i < 4; i++) {
		int64_t n = 1000;

		c[i] = oq_submit(&f, "consume", &q, &n, sizeof n);
	}
	for (int i = 0; i < 4; i++) {
		int64_t fn[2] = {i * 1000, 1000};

		p[i] = oq_submit(&f, "produce", &q, fn, sizeof fn);
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(oq_result(&f, p[i]), 1000, "producer %d", i);
	for (int i = 0; i < 4; i++)
		total += oq_result(&f, c[i]);
	cr_assert_eq(total, (int64_t)3999 * 4000 / 2);
	for (int v = 0; v < 4000; v++)
		cr_assert_eq(atomic_load(&pg->got[v]), 1, "item %d got %u times", v,
			     atomic_load(&pg->got[v]));
	oq_stop(&f);
}

/* An attached producer or consumer, looping until killed. */
static pid_t oq_looper(struct oq_fx *f, bool producer, int from, int n)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_queue q;

		if (shoal_runtime_attach(f->name, &rt) ||
		    shoal_queue_lookup(rt, "k", &q))
			_exit(TU_EXIT_IO);
		for (int64_t v = from; producer && v < from + n; v++)
			if (shoal_queue_put_bytes(rt, &q, &v, sizeof v, 10000) == 0)
				atomic_store(&pg->put[v], 1);
		while (!producer) {
			int64_t x = oq_take(rt, &q);

			if (x >= 0 && x < OQ_MAX_ITEMS) {
				atomic_fetch_add(&pg->got[x], 1);
				atomic_fetch_add(&pg->seen, 1);
			}
		}
		shoal_runtime_detach(rt);
		_exit(0);
	}
	return pid;
}

/*
 * A producer and a consumer are SIGKILLed mid-stream, each at whatever
 * instruction it was at.  Nothing is doubled (no item received twice);
 * nothing is lost beyond what the design allows: the one item the killed
 * consumer had taken and not yet counted, and the killed producer's put
 * under way (which either happened or not).
 */
Test(objqueue, a_killed_producer_and_consumer_lose_and_double_nothing)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	pid_t prod[2], cons[2];
	int missing = 0;

	tu_assert_rc(shoal_queue_create(f.rt, "k", 8, &q), 0);
	prod[0] = oq_looper(&f, true, 0, 2000);
	prod[1] = oq_looper(&f, true, 2000, 2000);
	cons[0] = oq_looper(&f, false, 0, 0);
	cons[1] = oq_looper(&f, false, 0, 0);
	while (atomic_load(&pg->seen) < 500)
		sched_yield();
	tu_kill(prod[0]);
	tu_kill(cons[0]);
	cr_assert_eq(tu_wait_exit(prod[1]), 0);
	while (shoal_queue_size(f.rt, &q) > 0)
		sched_yield();
	tu_kill(cons[1]);
	/* What is left (a dead consumer's TAKING put back): the driver. */
	for (;;) {
		shoal_id id;
		int64_t x;
		int rc = shoal_queue_get(f.rt, &q, 600, &id);

		if (rc == -ETIMEDOUT)
			break;
		tu_assert_rc(rc, 0);
		x = oq_read(f.s, id);
		shoal_drop(f.s, id);
		cr_assert(x >= 0 && x < 4000);
		atomic_fetch_add(&pg->got[x], 1);
	}
	for (int v = 0; v < 4000; v++) {
		uint32_t got = atomic_load(&pg->got[v]);

		cr_assert_leq(got, 1, "item %d received %u times", v, got);
		if (atomic_load(&pg->put[v]) && !got)
			missing++;
	}
	cr_assert_leq(missing, 2, "%d items put and never received", missing);
	oq_stop(&f);
}

/* Puts an unheld object of 1 MiB, n times: the store evicts what nobody
 * holds to make room. */
static void oq_press(struct oq_fx *f, int n)
{
	static char mib[1 << 20];

	for (int i = 0; i < n; i++) {
		shoal_id id;

		tu_assert_rc(shoal_put(f->s, mib, sizeof mib, 5000, &id), 0);
		tu_assert_rc(shoal_drop(f->s, id), 0);
	}
}

#define OQ_DEAD_ITEMS 16

/* An attached program that puts OQ_DEAD_ITEMS values (100 + i) into
 * queue "dead", says so on fd, and waits to be killed. */
static pid_t oq_dead_putter(struct oq_fx *f, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_queue q;

		if (shoal_runtime_attach(f->name, &rt) ||
		    shoal_queue_lookup(rt, "dead", &q))
			_exit(TU_EXIT_IO);
		for (int64_t v = 100; v < 100 + OQ_DEAD_ITEMS; v++)
			if (shoal_queue_put_bytes(rt, &q, &v, sizeof v, 1000))
				_exit(TU_EXIT_IO);
		tu_child_write_byte(fd, 'p');
		for (;;)
			pause();
	}
	return pid;
}

/* Reaps until the store counts a dead process reaped (by this process or
 * another one that was at it), for 2 s at most. */
static void oq_reaped(struct shoal_store *s)
{
	int64_t t0 = tu_now_ms();
	struct shoal_store_stats st = {0};

	while (tu_now_ms() - t0 < 2000) {
		shoal_store_reap(s);
		if (shoal_store_stats(s, &st) == 0 && st.reaped > 0)
			return;
		sched_yield();
	}
}

/* Another attached program, attached already: once it reads a byte on
 * fd, reaps (oq_reaped), evicts everything nobody holds, then puts twice
 * the store's capacity in unheld 1 MiB objects (which evicts as it goes). */
static pid_t oq_reaper(struct oq_fx *f, int fd)
{
	static char mib[1 << 20];
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_store *s;

		if (shoal_runtime_attach(f->name, &rt))
			_exit(TU_EXIT_IO);
		s = shoal_runtime_store(rt);
		tu_child_read_byte(fd);
		oq_reaped(s);
		shoal_evict(s, UINT64_MAX);
		for (int i = 0; i < 64; i++) {
			shoal_id id;

			if (shoal_put(s, mib, sizeof mib, 5000, &id) ||
			    shoal_drop(s, id))
				_exit(TU_EXIT_IO);
		}
		_exit(tu_err_to_exit(shoal_runtime_detach(rt)));
	}
	return pid;
}

/* Waits (bounded) until no object of queue q is in a gone custodian's
 * care (the fork server adopted them). */
static void oq_wait_adopted(struct oq_fx *f, const struct shoal_queue *q)
{
	struct shoal__oq_cell *c = shoal__oq_cells(&f->rt->v, q->index);
	int64_t t0 = tu_now_ms();
	uint64_t p = 0;

	while (p < OQ_DEAD_ITEMS && tu_now_ms() - t0 < 5000) {
		if (shoal__creator_gone(f->s, atomic_load(&c[p].custodian)))
			sched_yield();
		else
			p++;
	}
}

/*
 * An attached program puts objects into a queue and is SIGKILLed; another
 * attached program reaps at once, before the fork server's watch adopted
 * them (held there for sure when the fork server is stopped, SIGSTOP, the
 * whole time), then fills the store twice over.  The dead putter's slot
 * waits for the fork server (its reap guard, store/guard.c), which adopts
 * the objects and only then lets its slot be reaped: after more pressure,
 * the driver gets every object, whole, in order.
 */
/* The worker that ran produce(q, {100, OQ_DEAD_ITEMS}): its pid. */
static pid_t oq_worker_putter(struct oq_fx *f, const struct shoal_queue *q)
{
	int64_t fn[2] = {100, OQ_DEAD_ITEMS};
	struct shoal_runtime_info info;
	int32_t w[2] = {0};

	cr_assert_eq(oq_result(f, oq_submit(f, "produce", q, fn, sizeof fn)),
		     OQ_DEAD_ITEMS);
	tu_assert_rc(shoal_runtime_info(f->rt, &info, w, 2), 0);
	cr_assert_eq(info.workers_alive, 1);
	return w[0];
}

/* Kills pid: our child (reaped here; its wait status), or the fork
 * server's worker (dead once /proc says so, a zombie while the fork
 * server is stopped: 0, or -1 past 10 s).  No assertion. */
static int oq_kill(pid_t pid, bool ours)
{
	int64_t t0 = tu_now_ms();

	kill(pid, SIGKILL);
	if (ours)
		return tu_wait_status(pid, 10000);
	while (shoal__proc_start_time(pid) && tu_now_ms() - t0 < 10000)
		sched_yield();
	return shoal__proc_start_time(pid) ? -1 : 0;
}

static void oq_putter_killed_reaped_at_once(bool stop_fs, bool worker)
{
	struct oq_fx f = oq_start(1);
	pid_t fs = atomic_load(&f.rt->v.hdr->fs_pid);
	struct shoal_queue q;
	int p[2], go[2], st, reaper;
	pid_t pid, rp;

	tu_assert_rc(shoal_queue_create(f.rt, "dead", 64, &q), 0);
	tu_pipe(p);
	tu_pipe(go);
	rp = oq_reaper(&f, go[0]);
	if (worker) {
		pid = oq_worker_putter(&f, &q);
	} else {
		pid = oq_dead_putter(&f, p[1]);
		cr_assert_eq(tu_read_byte(p[0], 10000), 'p');
	}
	/* No assertion until SIGCONT: a stopped fork server must not
	 * outlive a failed test. */
	if (stop_fs)
		kill(fs, SIGSTOP);
	st = oq_kill(pid, !worker);
	tu_child_write_byte(go[1], 'g');
	reaper = tu_wait_status(rp, 30000);
	if (stop_fs)
		kill(fs, SIGCONT);
	cr_assert(worker ? st == 0 : WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the putter: %#x", st);
	cr_assert(WIFEXITED(reaper) && WEXITSTATUS(reaper) == 0,
		  "the reaper: %#x", reaper);
	oq_wait_adopted(&f, &q);
	shoal_store_reap(f.s);
	oq_press(&f, 64);
	for (int64_t v = 100; v < 100 + OQ_DEAD_ITEMS; v++)
		cr_assert_eq(oq_take(f.rt, &q), v, "object %lld was lost", (long long)v);
	tu_assert_rc(shoal_queue_get(f.rt, &q, 0, &(shoal_id){0}), -EAGAIN);
	close(p[0]);
	close(p[1]);
	close(go[0]);
	close(go[1]);
	oq_stop(&f);
}

Test(objqueue, a_killed_putter_reaped_at_once_by_another_program_loses_nothing)
{
	oq_putter_killed_reaped_at_once(false, false);
}

Test(objqueue, a_killed_putter_reaped_while_the_fork_server_is_stopped_loses_nothing)
{
	oq_putter_killed_reaped_at_once(true, false);
}

/* The same for a worker (the fork server's child, whose death it sees at
 * once by SIGCHLD, but after a reaper that is quicker: here, stopped). */
Test(objqueue, a_killed_worker_putter_reaped_by_another_program_first_loses_nothing)
{
	oq_putter_killed_reaped_at_once(true, true);
}

/*
 * An attached program puts objects and detaches before anyone got them:
 * its detach hands them to the fork server, so the store's pressure
 * (twice its capacity in unheld objects, evicted oldest first) takes
 * none of them, and the driver gets each.
 */
Test(objqueue, objects_a_detached_putter_left_queued_survive_the_store_pressure)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	pid_t pid;

	tu_assert_rc(shoal_queue_create(f.rt, "left", 8, &q), 0);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_queue cq;

		if (shoal_runtime_attach(f.name, &rt) ||
		    shoal_queue_lookup(rt, "left", &cq))
			_exit(TU_EXIT_IO);
		for (int64_t v = 0; v < 3; v++)
			if (shoal_queue_put_bytes(rt, &cq, &v, sizeof v, 1000))
				_exit(TU_EXIT_IO);
		_exit(tu_err_to_exit(shoal_runtime_detach(rt)));
	}
	tu_assert_rc(tu_wait_result(pid), 0, "the putter");
	/* Its detach returned once a live process (the fork server) held
	 * each: no custodian is the gone putter, or ORPHAN. */
	for (uint64_t p = 0; p < 3; p++) {
		uint32_t c = atomic_load(&shoal__oq_cells(&f.rt->v, q.index)[p].custodian);

		cr_assert(c != SHOAL__OQ_ORPHAN && !shoal__creator_gone(f.s, c),
			  "object %llu is held by nobody after the detach",
			  (unsigned long long)p);
	}
	oq_press(&f, 64);
	for (int64_t v = 0; v < 3; v++)
		cr_assert_eq(oq_take(f.rt, &q), v, "object %lld was lost", (long long)v);
	oq_stop(&f);
}

Test(objqueue, delete_wakes_its_waiters_and_lets_go_of_what_it_held)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q, e;
	int64_t v = 9;
	shoal_id id, ids[3];
	pid_t pid;

	tu_assert_rc(shoal_queue_create(f.rt, "d", 4, &q), 0);
	tu_assert_rc(shoal_queue_create(f.rt, "e", 4, &e), 0);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_queue dq;
		shoal_id x;

		if (shoal_runtime_attach(f.name, &rt) ||
		    shoal_queue_lookup(rt, "e", &dq))
			_exit(TU_EXIT_IO);
		_exit(tu_err_to_exit(shoal_queue_get(rt, &dq, -1, &x)));
	}
	cr_assert(tu_wait_sleeping(pid, 5000), "the get never slept");
	tu_assert_rc(shoal_queue_delete(f.rt, &e), 0);
	tu_assert_rc(tu_wait_result(pid), -EIDRM, "the waiter");
	/* The queue's hold is the only one left on each object ... */
	for (int i = 0; i < 3; i++) {
		tu_assert_rc(shoal_put(f.s, &v, sizeof v, 0, &ids[i]), 0);
		tu_assert_rc(shoal_queue_put(f.rt, &q, ids[i], 0), 0);
		tu_assert_rc(shoal_drop(f.s, ids[i]), 0);
	}
	tu_assert_rc(shoal_queue_delete(f.rt, &q), 0);
	/* ... and the delete let go of it: this process holds none. */
	for (int i = 0; i < 3; i++)
		tu_assert_rc(shoal_drop(f.s, ids[i]), -ENOENT, "object %d still held", i);
	tu_assert_rc(shoal_queue_put(f.rt, &q, SHOAL_ID_NIL, 0), -ENOENT);
	tu_assert_rc(shoal_queue_get(f.rt, &q, 0, &id), -ENOENT);
	tu_assert_rc(shoal_queue_delete(f.rt, &q), -ENOENT);
	tu_assert_rc(shoal_queue_lookup(f.rt, "d", &e), -ENOENT);
	tu_assert_rc(shoal_queue_create(f.rt, "d", 4, &e), 0);
	cr_assert_neq(e.generation == q.generation && e.index == q.index, 1,
		      "a new queue under an old handle");
	oq_stop(&f);
}

Test(objqueue, bad_arguments_and_full_tables_get_clear_codes)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q[8], x;
	char longname[80];
	shoal_id id;

	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	tu_assert_rc(shoal_queue_create(NULL, NULL, 4, &x), -EINVAL);
	tu_assert_rc(shoal_queue_create(f.rt, NULL, 0, &x), -EINVAL);
	tu_assert_rc(shoal_queue_create(f.rt, NULL, 257, &x), -EINVAL);
	tu_assert_rc(shoal_queue_create(f.rt, "", 4, &x), -EINVAL);
	tu_assert_rc(shoal_queue_create(f.rt, longname, 4, &x), -EINVAL);
	for (int i = 0; i < 8; i++) {
		char n[8];

		snprintf(n, sizeof n, "n%d", i);
		tu_assert_rc(shoal_queue_create(f.rt, n, 256, &q[i]), 0);
	}
	tu_assert_rc(shoal_queue_create(f.rt, "n0", 4, &x), -EEXIST);
	tu_assert_rc(shoal_queue_create(f.rt, NULL, 4, &x), -ENOSPC);
	x = q[0];
	x.magic = 0;
	tu_assert_rc(shoal_queue_get(f.rt, &x, 0, &id), -ENOENT);
	x = q[0];
	x.index = 1000;
	tu_assert_rc(shoal_queue_size(f.rt, &x), -ENOENT);
	tu_assert_rc(shoal_queue_put(f.rt, &q[0], SHOAL_ID_NIL, 0), -EINVAL);
	tu_assert_rc(shoal_queue_put(f.rt, &q[0], (shoal_id){1, 2}, 0), -ENOENT);
	tu_assert_rc(shoal_queue_get(f.rt, &q[0], 0, NULL), -EINVAL);
	tu_assert_rc(shoal_queue_lookup(f.rt, "nope", &x), -ENOENT);
	tu_assert_rc(shoal_queue_put_bytes(f.rt, &q[0], NULL, 8, 0), -EINVAL);
	oq_stop(&f);
}

/* ------------------------------------------------------------------ */
/* A getter's hold refused because its own ledger cannot grow           */

/* fallocate, failing with ENOSPC while armed (a /dev/shm with no room
 * left for the next level of a ledger, store/ledger.c); the executable's
 * definition is the one the store's call binds to (fallocate64 under
 * _FILE_OFFSET_BITS=64: the header renames it). */
static _Atomic int oq_fallocate_fails;

static int oq_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (atomic_load(&oq_fallocate_fails)) {
		errno = ENOSPC;
		return -1;
	}
	return (int)syscall(SYS_fallocate, fd, mode, off, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	return oq_fallocate(fd, mode, off, len);
}

/*
 * A get whose hold needs the getter's ledger to grow, when /dev/shm has
 * no room for the larger table (SHOAL_ENOSHM from the hold), fails for a
 * reason of the getter's own: the object stays queued for the next get,
 * as with SHOAL_ELEDGERFULL.  Before, SHOAL_ENOSHM was taken for "the
 * object is gone": the cell was freed unheld and the item lost.
 */
Test(objqueue, a_get_whose_ledger_cannot_grow_leaves_the_object_queued)
{
	struct oq_fx f = oq_start(1);
	struct shoal_queue q;
	int64_t fn[2] = {42, 1};
	shoal_id got, mine[200];
	uint32_t n = 0;

	tu_assert_rc(shoal_queue_create(f.rt, NULL, 4, &q), 0);
	/* Put by a task (the putter's hold is in its ledger, not ours). */
	cr_assert_eq(oq_result(&f, oq_submit(&f, "produce", &q, fn, sizeof fn)), 1);
	/* The driver's ledger filled to the point where a new record grows
	 * it (half its table in use). */
	while (f.s->ledger_used < (f.s->ledger_mask + 1) / 2) {
		cr_assert_lt(n, 200u);
		tu_assert_rc(shoal_put(f.s, &n, sizeof n, 0, &mine[n]), 0);
		n++;
	}
	atomic_store(&oq_fallocate_fails, 1);
	tu_assert_rc(shoal_queue_get(f.rt, &q, 0, &got), SHOAL_ENOSHM);
	atomic_store(&oq_fallocate_fails, 0);
	cr_assert_eq(shoal_queue_size(f.rt, &q), 1, "the item left the queue");
	cr_assert_eq(oq_take(f.rt, &q), 42);
	for (uint32_t i = 0; i < n; i++)
		tu_assert_rc(shoal_drop(f.s, mine[i]), 0);
	oq_stop(&f);
}
