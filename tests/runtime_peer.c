/* SPDX-License-Identifier: MIT */
/*
 * tests/runtime_peer.c - a separate program (exec'd, public API only) that
 * attaches to a named runtime and submits by name:
 *   runtime_peer NAME A B   submits add(A, B), prints the result, puts an
 *                           object and prints its ID, exits 0 if all worked
 *   runtime_peer actor-add NAME ACTOR X
 *                           looks the actor up by name, calls its add(X),
 *                           prints the result
 *   runtime_peer actor-seq NAME ACTOR CALLER COUNT
 *                           calls seq(CALLER, i) on the actor, 64 calls,
 *                           writes 'r' on stdout, then with COUNT > 0 waits
 *                           for a byte on stdin and makes COUNT more; with
 *                           COUNT 0 goes on until it is killed.  Checks
 *                           every result.
 *   runtime_peer pending NAME ACTOR
 *                           submits noop() and calls the actor's noop(),
 *                           writes 'r', then gets both results with no
 *                           timeout, then submits and calls once more, and
 *                           prints the four codes on one line: what a
 *                           program attached to a runtime that ends sees.
 *   runtime_peer hold NAME A B
 *                           attaches, writes 'r' on stdout, waits for a
 *                           byte on stdin, then submits add(A, B), gets
 *                           and checks it, detaches: many at once
 * Exit codes: 0 ok, 2 usage, 3 attach, 4 unknown function, 5 submit,
 * 6 get, 7 wrong result, 8 a bad name was accepted, 9 put, 10 lookup,
 * 11 unknown method, 12 call, 13 stdin/stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal/shoal.h>

#define SEQ_BATCH 16

static int add_remote(struct shoal_runtime *rt, int64_t a, int64_t b, int64_t *out)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	int fn = shoal_function(rt, "add");
	struct shoal_args args;
	struct shoal_view v;
	shoal_id ref;

	if (fn < 0)
		return 4;
	if (shoal_function(rt, "no such function") != SHOAL_ENOFUNCTION)
		return 8;
	shoal_args_init(&args);
	shoal_args_bytes(&args, &a, sizeof a);
	shoal_args_bytes(&args, &b, sizeof b);
	if (shoal_submit(rt, fn, &args, 1, &ref))
		return 5;
	if (shoal_get(s, ref, 10000, &v) || v.size != sizeof *out)
		return 6;
	memcpy(out, v.data, sizeof *out);
	shoal_release(s, &v);
	shoal_drop(s, ref);
	return 0;
}

static int cmd_add(struct shoal_runtime *rt, char **argv)
{
	int64_t a, b, sum = 0;
	char hex[SHOAL_ID_HEX_LEN + 1];
	shoal_id id;
	int rc;

	a = strtoll(argv[2], NULL, 10);
	b = strtoll(argv[3], NULL, 10);
	rc = add_remote(rt, a, b, &sum);
	if (!rc && sum != a + b)
		rc = 7;
	if (!rc && shoal_put(shoal_runtime_store(rt), "peer", 4, 1000, &id))
		rc = 9;
	if (!rc) {
		shoal_id_format(id, hex);
		printf("%" PRId64 " %s\n", sum, hex);
	}
	return rc;
}

/* The named actor and its method m. */
static int find_actor(struct shoal_runtime *rt, const char *name, const char *m,
		      struct shoal_actor *a, int *method)
{
	struct shoal_actor none;

	if (shoal_actor_lookup(rt, "no such actor", &none) != SHOAL_ENOACTOR)
		return 8;
	if (shoal_actor_lookup(rt, name, a))
		return 10;
	*method = shoal_actor_method(rt, *a, m);
	return *method < 0 ? 11 : 0;
}

static int get_i64(struct shoal_store *s, shoal_id ref, int64_t *out)
{
	struct shoal_view v;

	if (shoal_get(s, ref, 10000, &v) || v.size != sizeof *out)
		return 6;
	memcpy(out, v.data, sizeof *out);
	shoal_release(s, &v);
	shoal_drop(s, ref);
	return 0;
}

static int cmd_actor_add(struct shoal_runtime *rt, char **argv)
{
	struct shoal_actor a;
	struct shoal_args args;
	int64_t x, sum;
	shoal_id ref;
	int m, rc;

	x = strtoll(argv[4], NULL, 10);
	rc = find_actor(rt, argv[3], "add", &a, &m);
	if (rc)
		return rc;
	shoal_args_init(&args);
	shoal_args_bytes(&args, &x, sizeof x);
	if (shoal_actor_call(rt, a, m, &args, &ref))
		return 12;
	rc = get_i64(shoal_runtime_store(rt), ref, &sum);
	if (!rc)
		printf("%" PRId64 "\n", sum);
	return rc;
}

/* seq(caller, from .. from + n - 1), every call made before any get. */
static int seq_batch(struct shoal_runtime *rt, struct shoal_actor a, int m,
		     int64_t caller, int64_t from, int n)
{
	shoal_id refs[SEQ_BATCH];
	int rc = 0;

	for (int i = 0; i < n; i++) {
		struct shoal_args args;
		int64_t seq = from + i;

		shoal_args_init(&args);
		shoal_args_bytes(&args, &caller, sizeof caller);
		shoal_args_bytes(&args, &seq, sizeof seq);
		if (shoal_actor_call(rt, a, m, &args, &refs[i]))
			return 12;
	}
	for (int i = 0; i < n; i++) {
		int64_t got = -1;

		if (!rc)
			rc = get_i64(shoal_runtime_store(rt), refs[i], &got);
		if (!rc && got != from + i)
			rc = 7;
	}
	return rc;
}

static int seq_calls(struct shoal_runtime *rt, struct shoal_actor a, int m,
		     int64_t caller, int64_t from, int64_t n)
{
	int rc = 0;

	for (int64_t i = 0; (n < 0 || i < n) && !rc; i += SEQ_BATCH)
		rc = seq_batch(rt, a, m, caller, from + i,
			       n < 0 || n - i >= SEQ_BATCH ? SEQ_BATCH : (int)(n - i));
	return rc;
}

static int cmd_actor_seq(struct shoal_runtime *rt, char **argv)
{
	struct shoal_actor a;
	int64_t caller, count;
	char c;
	int m, rc;

	caller = strtoll(argv[4], NULL, 10);
	count = strtoll(argv[5], NULL, 10);
	rc = find_actor(rt, argv[3], "seq", &a, &m);
	if (!rc)
		rc = seq_calls(rt, a, m, caller, 0, 64);
	if (rc)
		return rc;
	if (write(1, "r", 1) != 1 || (count > 0 && read(0, &c, 1) != 1))
		return 13;
	return seq_calls(rt, a, m, caller, 64, count > 0 ? count : -1);
}

/* The code a get with no timeout ends with (0 for a value). */
static int get_code(struct shoal_store *s, shoal_id ref)
{
	struct shoal_view v;
	int rc = shoal_get(s, ref, -1, &v);

	if (!rc)
		shoal_release(s, &v);
	return rc;
}

static int cmd_pending(struct shoal_runtime *rt, char **argv)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	int fn = shoal_function(rt, "noop");
	struct shoal_actor a;
	int m, task, call, resubmit, recall;
	shoal_id t, c, again;

	if (fn < 0)
		return 4;
	if (shoal_actor_lookup(rt, argv[3], &a))
		return 10;
	m = shoal_actor_method(rt, a, "noop");
	if (m < 0)
		return 11;
	if (shoal_submit(rt, fn, NULL, 1, &t))
		return 5;
	if (shoal_actor_call(rt, a, m, NULL, &c))
		return 12;
	if (write(1, "r", 1) != 1)
		return 13;
	task = get_code(s, t);
	call = get_code(s, c);
	resubmit = shoal_submit(rt, fn, NULL, 1, &again);
	recall = shoal_actor_call(rt, a, m, NULL, &again);
	printf("%d %d %d %d\n", task, call, resubmit, recall);
	return 0;
}

/* Attached, then told to go: so that a test knows how many programs
 * are attached at once. */
static int cmd_hold(struct shoal_runtime *rt, char **argv)
{
	int64_t a = strtoll(argv[3], NULL, 10), b = strtoll(argv[4], NULL, 10);
	int64_t sum = 0;
	char c;
	int rc;

	if (write(1, "r", 1) != 1 || read(0, &c, 1) != 1)
		return 13;
	rc = add_remote(rt, a, b, &sum);
	return rc ? rc : sum != a + b ? 7 : 0;
}

int main(int argc, char **argv)
{
	struct shoal_runtime *rt;
	bool actor_add = argc > 1 && !strcmp(argv[1], "actor-add");
	bool actor_seq = argc > 1 && !strcmp(argv[1], "actor-seq");
	bool pending = argc > 1 && !strcmp(argv[1], "pending");
	bool hold = argc > 1 && !strcmp(argv[1], "hold");
	int rc;

	if (argc != (actor_add || hold ? 5 : actor_seq ? 6 : 4))
		return 2;
	if (shoal_runtime_attach(argv[actor_add || actor_seq || pending || hold ? 2 : 1],
				 &rt))
		return 3;
	if (hold)
		rc = cmd_hold(rt, argv);
	else if (actor_add)
		rc = cmd_actor_add(rt, argv);
	else if (actor_seq)
		rc = cmd_actor_seq(rt, argv);
	else if (pending)
		rc = cmd_pending(rt, argv);
	else
		rc = cmd_add(rt, argv);
	fflush(stdout);
	shoal_runtime_detach(rt);
	return rc;
}
