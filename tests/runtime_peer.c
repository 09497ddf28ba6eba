/* SPDX-License-Identifier: MIT */
/*
 * tests/runtime_peer.c - a separate program (exec'd, public API only) that
 * attaches to a named runtime and submits by name:
 *   runtime_peer NAME A B   submits add(A, B), prints the result, puts an
 *                           object and prints its ID, exits 0 if all worked
 * Exit codes: 0 ok, 2 usage, 3 attach, 4 unknown function, 5 submit,
 * 6 get, 7 wrong result, 8 a bad name was accepted, 9 put.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

static int add_remote(struct shoal_runtime *rt, int64_t a, int64_t b, int64_t *out)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	int fn = shoal_function(rt, "add");
	struct shoal_args args;
	struct shoal_view v;
	shoal_id ref;

	if (fn < 0)
		return 4;
	if (shoal_function(rt, "no such function") != -ENOENT)
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

int main(int argc, char **argv)
{
	struct shoal_runtime *rt;
	char hex[SHOAL_ID_HEX_LEN + 1];
	int64_t a, b, sum = 0;
	shoal_id id;
	int rc;

	if (argc != 4)
		return 2;
	a = strtoll(argv[2], NULL, 10);
	b = strtoll(argv[3], NULL, 10);
	if (shoal_runtime_attach(argv[1], &rt))
		return 3;
	rc = add_remote(rt, a, b, &sum);
	if (!rc && sum != a + b)
		rc = 7;
	if (!rc && shoal_put(shoal_runtime_store(rt), "peer", 4, 1000, &id))
		rc = 9;
	if (!rc) {
		shoal_id_format(id, hex);
		printf("%" PRId64 " %s\n", sum, hex);
	}
	fflush(stdout);
	shoal_runtime_detach(rt);
	return rc;
}
