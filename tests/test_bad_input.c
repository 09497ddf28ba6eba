/* SPDX-License-Identifier: MIT */
/*
 * tests/test_bad_input.c - the bad-input catalogue (issue 9): every input
 * a caller or a neighbour can get wrong, each with the code it must get
 * and that code's own name from shoal_strerror.
 *
 * One table: a case names what is wrong, runs it against a fresh world
 * (a private runtime with a Box actor class and its store, or a store or
 * file of its own where the case needs one), and says the code it wants.
 * Every case then checks that the world still works: the store takes a
 * put and gives it back, the runtime runs a task, and the store holds no
 * more objects than before the case (a refusal leaves nothing).  Cases
 * that need processes fork them (tu_fork) and wait for them (bounded).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "rtutil.h"
#include "testutil.h"

TestSuite(bad_input, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define BI_CAP (4u << 20)

struct bi_world {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	struct shoal_actor box;
	int add, get;
	shoal_id sealed;       /* held by the world */
	shoal_id unsealed;     /* created by the world, not sealed */
};

static void bi_start(struct bi_world *w)
{
	struct shoal_runtime_options o;
	void *buf;

	memset(w, 0, sizeof *w);
	tu_assert_rc(shoal_registry_open(&w->reg), 0);
	tu_assert_rc(shoal_register_task(w->reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_register_actor(w->reg, "Box", rt_box_init, NULL), 0);
	tu_assert_rc(shoal_register_method(w->reg, "Box", "get", rt_box_get), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_actors = 2;
	o.store.capacity = BI_CAP;
	o.store.max_procs = 16;
	tu_assert_rc(shoal_runtime_start(w->reg, &o, &w->rt), 0);
	w->s = shoal_runtime_store(w->rt);
	w->add = shoal_function(w->rt, "add");
	cr_assert_geq(w->add, 0);
	tu_assert_rc(shoal_actor_create(w->rt, "Box", NULL, NULL, &w->box), 0);
	w->get = shoal_actor_method(w->rt, w->box, "get");
	cr_assert_geq(w->get, 0);
	tu_assert_rc(shoal_put(w->s, "sealed", 7, 0, &w->sealed), 0);
	w->unsealed = shoal_id_next(w->s);
	tu_assert_rc(shoal_create(w->s, w->unsealed, 8, NULL, 0, 0, &buf), 0);
}

/* The world still works, and holds what it held. */
static void bi_check(struct bi_world *w, const char *what, uint64_t objects)
{
	struct shoal_store_stats st;
	struct shoal_args a;
	struct shoal_view v;
	int64_t one = 1, sum;
	shoal_id id, ref;

	shoal_store_reap(w->s);
	tu_assert_rc(shoal_store_stats(w->s, &st), 0);
	cr_assert_eq(st.objects, objects, "%s: %llu objects after, %llu before",
		     what, (unsigned long long)st.objects,
		     (unsigned long long)objects);
	tu_assert_rc(shoal_put(w->s, "ok", 3, 0, &id), 0, "%s: a put after", what);
	tu_assert_rc(shoal_get(w->s, id, 0, &v), 0, "%s", what);
	cr_assert_str_eq(v.data, "ok");
	tu_assert_rc(shoal_release(w->s, &v), 0);
	tu_assert_rc(shoal_delete(w->s, id), 0);
	tu_assert_rc(shoal_drop(w->s, id), 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &one, sizeof one), 0);
	tu_assert_rc(shoal_args_bytes(&a, &one, sizeof one), 0);
	tu_assert_rc(shoal_submit(w->rt, w->add, &a, 1, &ref), 0, "%s: a task", what);
	tu_assert_rc(shoal_get(w->s, ref, 10000, &v), 0, "%s: a task", what);
	memcpy(&sum, v.data, sizeof sum);
	cr_assert_eq(sum, 2, "%s", what);
	tu_assert_rc(shoal_release(w->s, &v), 0);
	tu_assert_rc(shoal_drop(w->s, ref), 0);
}

static void bi_stop(struct bi_world *w)
{
	tu_assert_rc(shoal_runtime_shutdown(w->rt), 0);
	shoal_registry_close(w->reg);
}

/* ------------------------------------------------------------------ */
/* The cases                                                           */

typedef int bi_fn(struct bi_world *w);

static int bi_put_huge(struct bi_world *w)
{
	void *buf;

	char meta[16] = {0};

	/* data + meta overflows size_t */
	return shoal_create(w->s, shoal_id_next(w->s), SIZE_MAX, meta, sizeof meta,
			    0, &buf);
}

static int bi_put_past_capacity(struct bi_world *w)
{
	void *buf;

	return shoal_create(w->s, shoal_id_next(w->s), 2 * (size_t)BI_CAP, NULL, 0,
			    1000, &buf);
}

static int bi_get_unknown(struct bi_world *w)
{
	struct shoal_view v;

	return shoal_get(w->s, shoal_id_next(w->s), 0, &v);
}

static int bi_drop_not_held(struct bi_world *w)
{
	return shoal_drop(w->s, shoal_id_next(w->s));
}

static int bi_hold_unknown(struct bi_world *w)
{
	return shoal_hold(w->s, shoal_id_next(w->s));
}

static int bi_get_deleted(struct bi_world *w)
{
	struct shoal_view v;
	shoal_id id;
	int rc;

	tu_assert_rc(shoal_put(w->s, "gone", 5, 0, &id), 0);
	tu_assert_rc(shoal_delete(w->s, id), 0);
	rc = shoal_get(w->s, id, 0, &v);
	tu_assert_rc(shoal_drop(w->s, id), 0);
	return rc;
}

static int bi_release_twice(struct bi_world *w)
{
	struct shoal_view v, copy;

	tu_assert_rc(shoal_get(w->s, w->sealed, 0, &v), 0);
	copy = v;
	tu_assert_rc(shoal_release(w->s, &v), 0);
	return shoal_release(w->s, &copy);
}

static int bi_release_never_got(struct bi_world *w)
{
	struct shoal_view v;

	memset(&v, 0, sizeof v);
	v.id = w->sealed;
	v.entry_ = 3;
	v.gen_ = 1;
	return shoal_release(w->s, &v);
}

static int bi_seal_twice(struct bi_world *w)
{
	return shoal_seal(w->s, w->sealed);
}

static int bi_delete_unsealed(struct bi_world *w)
{
	return shoal_delete(w->s, w->unsealed);
}

static int bi_create_existing(struct bi_world *w)
{
	void *buf;

	return shoal_create(w->s, w->sealed, 8, NULL, 0, 0, &buf);
}

static int bi_create_nil(struct bi_world *w)
{
	void *buf;

	return shoal_create(w->s, (shoal_id){0, 0}, 8, NULL, 0, 0, &buf);
}

/* A child attaches and seals (then aborts) the world's unsealed object. */
static int bi_seal_of_another(struct bi_world *w)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c;

		if (shoal_store_attach_fd(shoal_store_fd(w->s), &c))
			_exit(1);
		_exit(shoal_seal(c, w->unsealed) == -EPERM &&
		      shoal_abort(c, w->unsealed) == -EPERM ? 0 : 2);
	}
	cr_assert_eq(tu_wait_exit(pid), 0, "the child's seal or abort was not -EPERM");
	return -EPERM;
}

static int bi_store_full(struct bi_world *w)
{
	static uint8_t chunk[256 << 10];
	shoal_id ids[64];
	int n = 0, rc = 0;

	while (n < 64 && (rc = shoal_put(w->s, chunk, sizeof chunk, 0, &ids[n])) == 0)
		n++;
	for (int i = 0; i < n; i++) {
		tu_assert_rc(shoal_delete(w->s, ids[i]), 0);
		tu_assert_rc(shoal_drop(w->s, ids[i]), 0);
	}
	return rc;
}

static int bi_too_many_args(struct bi_world *w)
{
	struct shoal_args a;
	int64_t v = 1;

	(void)w;
	shoal_args_init(&a);
	for (int i = 0; i < SHOAL_MAX_ARGS; i++)
		tu_assert_rc(shoal_args_bytes(&a, &v, sizeof v), 0);
	return shoal_args_bytes(&a, &v, sizeof v);
}

static int bi_too_many_returns(struct bi_world *w)
{
	shoal_id refs[SHOAL_MAX_RETURNS + 1];

	return shoal_submit(w->rt, w->add, NULL, SHOAL_MAX_RETURNS + 1, refs);
}

static int bi_unknown_function(struct bi_world *w)
{
	shoal_id ref;

	return shoal_submit(w->rt, 999, NULL, 1, &ref);
}

static int bi_bad_method(struct bi_world *w)
{
	shoal_id ref;

	return shoal_actor_call(w->rt, w->box, 63, NULL, &ref);
}

static int bi_forged_handle(struct bi_world *w)
{
	struct shoal_actor forged = w->box;
	shoal_id ref;

	forged.generation += 7;
	return shoal_actor_call(w->rt, forged, w->get, NULL, &ref);
}

static int bi_dead_actor(struct bi_world *w)
{
	struct shoal_actor b;
	shoal_id ref;

	tu_assert_rc(shoal_actor_create(w->rt, "Box", NULL, NULL, &b), 0);
	tu_assert_rc(shoal_actor_kill(w->rt, b, true), 0);
	return shoal_actor_call(w->rt, b, w->get, NULL, &ref);
}

static int bi_too_many_actors(struct bi_world *w)
{
	struct shoal_actor b;
	int rc = shoal_actor_create(w->rt, "Box", NULL, NULL, &b);

	if (rc == 0) { /* the second of max_actors 2: the third is refused */
		rc = shoal_actor_create(w->rt, "Box", NULL, NULL, &(struct shoal_actor){0});
		tu_assert_rc(shoal_actor_kill(w->rt, b, true), 0);
	}
	return rc;
}

static int bi_unknown_class(struct bi_world *w)
{
	struct shoal_actor b;

	return shoal_actor_create(w->rt, "NoSuchClass", NULL, NULL, &b);
}

/* The world's store with every process slot taken by children. */
/* More than the runtime's process slots: its own and the 128 attached
 * programs it has room for (SHOAL_RUNTIME_ATTACHED). */
#define BI_KIDS 150
_Static_assert(BI_KIDS <= TU_MAX_KIDS, "tracked children");

static int bi_too_many_procs(struct bi_world *w)
{
	int fd = shoal_store_fd(w->s), go[2], rc = 0;
	pid_t kids[BI_KIDS];
	int n = 0;

	tu_pipe(go);
	for (; n < BI_KIDS; n++) {
		int ready[2];
		char c;

		tu_pipe(ready);
		kids[n] = tu_fork();
		if (kids[n] == 0) {
			struct shoal_store *c2;
			int r;

			close(go[1]); /* the test's close is the signal to go */
			r = shoal_store_attach_fd(fd, &c2);

			tu_child_write_byte(ready[1], r == 0 ? 'y' : 'n');
			if (r == 0) { /* held until the test closes go */
				char b;

				while (read(go[0], &b, 1) < 0 && errno == EINTR)
					;
			}
			_exit(0);
		}
		c = tu_read_byte(ready[0], 10000);
		close(ready[0]);
		close(ready[1]);
		if (c != 'y')
			break;
	}
	{
		struct shoal_store *t;

		rc = shoal_store_attach_fd(fd, &t);
		if (rc == 0)
			shoal_store_close(t);
	}
	close(go[1]);
	for (int i = 0; i <= n && i < BI_KIDS; i++)
		cr_assert_eq(tu_wait_exit(kids[i]), 0);
	close(go[0]);
	return rc;
}

/* Files that are not this user's store. */
static int bi_foreign_file(struct bi_world *w)
{
	const char *name = tu_shm_name("foreign");
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	struct shoal_store *t;
	int rc;

	(void)w;
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	rc = shoal_store_attach(name, &t);
	shm_unlink(name);
	return rc;
}

static int bi_truncated_segment(struct bi_world *w)
{
	const char *name = tu_shm_name("short");
	struct shoal_store_options o;
	struct shoal_store *s, *t;
	int fd, rc;

	(void)w;
	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	shoal_store_close(s);
	fd = shm_open(name, O_RDWR, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	close(fd);
	rc = shoal_store_attach(name, &t);
	shoal_store_unlink(name);
	return rc;
}

static int bi_wrong_mode(struct bi_world *w)
{
	const char *name = tu_shm_name("open");
	struct shoal_store_options o;
	struct shoal_store *s, *t;
	int rc;

	(void)w;
	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	cr_assert_eq(fchmod(shoal_store_fd(s), 0666), 0);
	rc = shoal_store_attach(name, &t);
	shoal_store_close(s);
	shoal_store_unlink(name);
	return rc;
}

static int bi_bad_name(struct bi_world *w)
{
	struct shoal_store *t;

	(void)w;
	return shoal_store_attach("bad\nname", &t);
}

static int bi_missing_name(struct bi_world *w)
{
	struct shoal_store *t;

	(void)w;
	return shoal_store_attach(tu_shm_name("never-made"), &t);
}

static int bi_huge_spin(struct bi_world *w)
{
	struct shoal_store_options o;
	struct shoal_store *t;

	(void)w;
	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	o.spin_budget = UINT32_MAX;
	return shoal_store_create(NULL, &o, &t);
}

/*
 * Reserved words of the option structs (base/resv.h): each word of each
 * struct, set alone, is refused with -EINVAL, and nothing is made: no
 * segment, no runtime, no task, no actor, no call (bi_check: no object).
 */
#define BI_RESV_WORDS 4

static int bi_resv_store(struct bi_world *w)
{
	const char *name = tu_shm_name("resv");
	struct shoal_store_options o;
	struct shoal_store *t = NULL;
	int rc = 0;

	(void)w;
	for (int i = 0; i < BI_RESV_WORDS; i++) {
		shoal_store_options_init(&o);
		o.capacity = 1u << 20;
		o.resv[i] = 1;
		rc = shoal_store_create(name, &o, &t);
		tu_assert_rc(rc, -EINVAL, "resv[%d]", i);
		cr_assert_null(t);
		cr_assert_not(tu_shm_exists(name), "resv[%d] made %s", i, name);
	}
	return rc;
}

/* A runtime's own words and its store's. */
static int bi_resv_runtime(struct bi_world *w)
{
	const char *name = tu_shm_name("resv-rt");
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	struct shoal_runtime *rt = NULL;
	int rc = 0;

	(void)w;
	tu_assert_rc(shoal_registry_open(&reg), 0);
	/* every reserved word of the runtime's and its store's options, and
	 * a flag bit this release does not know */
	int nrt = (int)(sizeof o.resv / sizeof o.resv[0]);
	int nst = (int)(sizeof o.store.resv / sizeof o.store.resv[0]);

	for (int i = 0; i <= nrt + nst; i++) {
		shoal_runtime_options_init(&o);
		o.num_workers = 1;
		o.store.capacity = BI_CAP;
		o.name = name;
		if (i < nrt)
			o.resv[i] = 1;
		else if (i < nrt + nst)
			o.store.resv[i - nrt] = 1;
		else
			o.flags = SHOAL_RUNTIME_FLAGS_ALL + 1;
		rc = shoal_runtime_start(reg, &o, &rt);
		tu_assert_rc(rc, -EINVAL, "word %d", i);
		cr_assert_null(rt);
		cr_assert_not(tu_shm_exists(name), "%d: made %s", i, name);
	}
	/* never started: the registry still takes registrations */
	tu_assert_rc(shoal_register_task(reg, "add", rt_task_add, NULL), 0);
	shoal_registry_close(reg);
	return rc;
}

static int bi_resv_task(struct bi_world *w)
{
	struct shoal_runtime_info before, after;
	struct shoal_task_options o;
	shoal_id ref = SHOAL_ID_NIL;
	int rc = 0;

	tu_assert_rc(shoal_runtime_info(w->rt, &before, NULL, 0), 0);
	for (int i = 0; i < (int)(sizeof o.resv / sizeof o.resv[0]); i++) {
		o = (struct shoal_task_options)SHOAL_TASK_OPTIONS_INIT;
		o.resv[i] = 1;
		rc = shoal_submit_opts(w->rt, w->add, NULL, &o, &ref);
		tu_assert_rc(rc, -EINVAL, "resv[%d]", i);
		cr_assert(shoal_id_is_nil(ref));
	}
	tu_assert_rc(shoal_runtime_info(w->rt, &after, NULL, 0), 0);
	cr_assert_eq(after.tasks_submitted, before.tasks_submitted);
	return rc;
}

static int bi_resv_actor(struct bi_world *w)
{
	struct shoal_actor_options o;
	struct shoal_actor b = {0}, all[8];
	int n = shoal_actor_list(w->rt, all, 8), rc = 0;

	/* max_concurrency took half of the first word: its other half,
	 * resv0, is reserved as the rest are (i == -1). */
	for (int i = -1; i < (int)(sizeof o.resv / sizeof o.resv[0]); i++) {
		o = (struct shoal_actor_options)SHOAL_ACTOR_OPTIONS_INIT;
		o.name = "resv";
		if (i < 0)
			o.resv0 = 1;
		else
			o.resv[i] = 1;
		rc = shoal_actor_create(w->rt, "Box", NULL, &o, &b);
		tu_assert_rc(rc, -EINVAL, "resv[%d]", i);
		cr_assert_eq(b.magic, 0);
	}
	cr_assert_eq(shoal_actor_list(w->rt, all, 8), n);
	tu_assert_rc(shoal_actor_lookup(w->rt, "resv", &b), SHOAL_ENOACTOR);
	return rc;
}

static int bi_resv_call(struct bi_world *w)
{
	struct shoal_call_options o;
	shoal_id ref = SHOAL_ID_NIL;
	int rc = 0;

	for (int i = 0; i < (int)(sizeof o.resv / sizeof o.resv[0]); i++) {
		o = (struct shoal_call_options)SHOAL_CALL_OPTIONS_INIT;
		o.resv[i] = 1;
		rc = shoal_actor_call_opts(w->rt, w->box, w->get, NULL, &o, &ref);
		tu_assert_rc(rc, -EINVAL, "resv[%d]", i);
		cr_assert(shoal_id_is_nil(ref));
	}
	return rc;
}

struct bi_case {
	const char *what;
	bi_fn *fn;
	int want;
};

static const struct bi_case bi_cases[] = {
	{"create of SIZE_MAX bytes and some metadata", bi_put_huge, -EINVAL},
	{"create past the capacity", bi_put_past_capacity, SHOAL_ESTOREFULL},
	{"get of an unknown ID, timeout 0", bi_get_unknown, -ETIMEDOUT},
	{"drop of an ID not held", bi_drop_not_held, -ENOENT},
	{"hold of an unknown ID", bi_hold_unknown, -ENOENT},
	{"get of a deleted object", bi_get_deleted, SHOAL_EDELETED},
	{"release of a view twice", bi_release_twice, -EINVAL},
	{"release of a view never got", bi_release_never_got, -EINVAL},
	{"seal of a sealed object", bi_seal_twice, SHOAL_ESEALED},
	{"delete of an unsealed object", bi_delete_unsealed, SHOAL_ENOTSEALED},
	{"create of an existing ID", bi_create_existing, -EEXIST},
	{"create of the nil ID", bi_create_nil, -EINVAL},
	{"seal of another process's object", bi_seal_of_another, -EPERM},
	{"a full store", bi_store_full, SHOAL_ESTOREFULL},
	{"too many arguments", bi_too_many_args, -ENOSPC},
	{"too many returns", bi_too_many_returns, -EINVAL},
	{"an unknown function", bi_unknown_function, -EINVAL},
	{"a bad method index", bi_bad_method, -EINVAL},
	{"a forged actor handle", bi_forged_handle, SHOAL_EACTORDIED},
	{"a call to a dead actor", bi_dead_actor, SHOAL_EACTORDIED},
	{"too many actors", bi_too_many_actors, -ENOSPC},
	{"an unknown actor class", bi_unknown_class, SHOAL_ENOCLASS},
	{"too many processes", bi_too_many_procs, SHOAL_ETOOMANYPROCS},
	{"a foreign file", bi_foreign_file, SHOAL_EBADSEGMENT},
	{"a truncated segment", bi_truncated_segment, SHOAL_EBADSEGMENT},
	{"a segment others may open", bi_wrong_mode, SHOAL_ENOTMINE},
	{"a name with a newline", bi_bad_name, -EINVAL},
	{"a name nobody made", bi_missing_name, -ENOENT},
	{"a spin budget of UINT32_MAX", bi_huge_spin, -EINVAL},
	{"a reserved word of the store's options", bi_resv_store, -EINVAL},
	{"a reserved word of the runtime's options", bi_resv_runtime, -EINVAL},
	{"a reserved word of a task's options", bi_resv_task, -EINVAL},
	{"a reserved word of an actor's options", bi_resv_actor, -EINVAL},
	{"a reserved word of a call's options", bi_resv_call, -EINVAL},
};

/* Each case in a world of its own: its code, its code's name, and the
 * world whole after it. */
Test(bad_input, every_case_gets_its_code_and_leaves_the_world_whole)
{
	for (size_t i = 0; i < sizeof bi_cases / sizeof bi_cases[0]; i++) {
		const struct bi_case *c = &bi_cases[i];
		struct bi_world w;
		struct shoal_store_stats st;
		const char *name = shoal_strerror(c->want);
		int rc;

		bi_start(&w);
		tu_assert_rc(shoal_store_stats(w.s, &st), 0);
		rc = c->fn(&w);
		tu_assert_rc(rc, c->want, "%s", c->what);
		cr_assert(name && name[0] && strcmp(name, "unknown shoal error"),
			  "%s: %d has no name of its own", c->what, c->want);
		bi_check(&w, c->what, st.objects);
		bi_stop(&w);
	}
}
