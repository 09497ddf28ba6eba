/* SPDX-License-Identifier: MIT */
/*
 * tests/store_peer.c - a separate program the store tests start with
 * fork + execv, so that a segment is used by a process that mapped it at
 * an address of its own and shares no memory with the test but the
 * segment.  Public API only.
 *
 *   store_peer <cmd> <segment> <args...>
 *
 * <segment> is a store name ("/name") or "fd:<n>" for an inherited fd of
 * the segment (a private store's memfd).  Every command first attaches,
 * then writes one byte 'R' to stdout ("attached, about to act"), then:
 *
 *   get <seg> <hex-id> <timeout_ms> [<nbytes> <seed>]
 *       shoal_get; on success prints "<fnv1a-hex> <size> <t>\n", t the
 *       CLOCK_MONOTONIC ns at which the get returned; with nbytes and
 *       seed, checks size and bytes against the tests' pattern (exit
 *       TU_EXIT_MISMATCH if they differ).
 *   put <seg> <hex-id> <nbytes> <seed>
 *       shoal_put_with_id of the pattern (timeout 5000 ms).
 *   pin-and-wait <seg> <hex-id> [<nbytes> <seed>]
 *       shoal_get (timeout 5000 ms), checks the bytes if asked, writes
 *       'P', then blocks reading stdin (one byte or EOF), then checks the
 *       bytes again, releases and closes.
 *   hold-and-wait <seg> <hex-id>
 *       shoal_hold, writes 'H', blocks on stdin, drops, closes.
 *   create-unsealed <seg> <hex-id> <nbytes> <seed>
 *       shoal_create and fills the buffer, writes 'C', blocks on stdin;
 *       a byte 's' seals, 'a' aborts, anything else (or EOF) just closes.
 *   seal <seg> <hex-id>     shoal_seal (exit code = its result)
 *   abort <seg> <hex-id>    shoal_abort (exit code = its result)
 *
 * Exit code: the result of the command's store call mapped by
 * tu_err_to_exit (0 = success), or one of the TU_EXIT_* codes.  A failed
 * attach exits with the attach's mapped code before writing 'R'.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal/error.h>
#include <shoal/store.h>

#include "plain.h"

static void usage(void)
{
	fprintf(stderr, "usage: store_peer <cmd> <segment> <hex-id> ...\n");
	_exit(TU_EXIT_USAGE);
}

static void put_byte(char c)
{
	if (write(1, &c, 1) != 1)
		_exit(TU_EXIT_IO);
}

/* Blocks until the test writes a byte (returned) or closes the pipe (0). */
static char wait_byte(void)
{
	char c;
	ssize_t n;

	do
		n = read(0, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : 0;
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || end == s)
		usage();
	return v;
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "store_peer: %s: %d (%s)\n", what, r,
		shoal_strerror(r));
	return tu_err_to_exit(r);
}

static struct shoal_store *attach(const char *seg)
{
	struct shoal_store *s = NULL;
	int r;

	if (strncmp(seg, "fd:", 3) == 0)
		r = shoal_store_attach_fd((int)num(seg + 3), &s);
	else
		r = shoal_store_attach(seg, &s);
	if (r != 0)
		_exit(fail("attach", r));
	return s;
}

static int cmd_get(struct shoal_store *s, shoal_id id, int argc, char **argv)
{
	struct shoal_view v;
	int64_t t;
	int r;

	if (argc != 5 && argc != 7)
		usage();
	r = shoal_get(s, id, (int)(int64_t)num(argv[4]), &v);
	t = tu_now_ns();
	if (r != 0)
		return fail("get", r);
	printf("%016" PRIx64 " %zu %" PRId64 "\n", tu_sum(v.data, v.size),
	       v.size, t);
	fflush(stdout);
	if (argc == 7 && (v.size != num(argv[5]) ||
			  !tu_check(v.data, v.size, num(argv[6]))))
		return TU_EXIT_MISMATCH;
	r = shoal_release(s, &v);
	return r ? fail("release", r) : 0;
}

static int cmd_put(struct shoal_store *s, shoal_id id, int argc, char **argv)
{
	size_t n;
	void *buf;
	int r;

	if (argc != 6)
		usage();
	n = num(argv[4]);
	buf = malloc(n ? n : 1);
	if (buf == NULL)
		return TU_EXIT_IO;
	tu_fill(buf, n, num(argv[5]));
	r = shoal_put_with_id(s, id, buf, n, NULL, 0, 5000);
	free(buf);
	return r ? fail("put", r) : 0;
}

static int cmd_pin_and_wait(struct shoal_store *s, shoal_id id, int argc,
			    char **argv)
{
	struct shoal_view v;
	bool check = argc == 6;
	int r;

	if (argc != 4 && argc != 6)
		usage();
	r = shoal_get(s, id, 5000, &v);
	if (r != 0)
		return fail("get", r);
	if (check && (v.size != num(argv[4]) ||
		      !tu_check(v.data, v.size, num(argv[5]))))
		return TU_EXIT_MISMATCH;
	put_byte('P');
	wait_byte();
	if (check && !tu_check(v.data, v.size, num(argv[5])))
		return TU_EXIT_MISMATCH;
	r = shoal_release(s, &v);
	return r ? fail("release", r) : 0;
}

static int cmd_hold_and_wait(struct shoal_store *s, shoal_id id, int argc)
{
	int r;

	if (argc != 4)
		usage();
	r = shoal_hold(s, id);
	if (r != 0)
		return fail("hold", r);
	put_byte('H');
	wait_byte();
	r = shoal_drop(s, id);
	return r ? fail("drop", r) : 0;
}

static int cmd_create_unsealed(struct shoal_store *s, shoal_id id, int argc,
			       char **argv)
{
	void *data = NULL;
	size_t n;
	int r;

	if (argc != 6)
		usage();
	n = num(argv[4]);
	r = shoal_create(s, id, n, NULL, 0, 5000, &data);
	if (r != 0)
		return fail("create", r);
	tu_fill(data, n, num(argv[5]));
	put_byte('C');
	switch (wait_byte()) {
	case 's':
		r = shoal_seal(s, id);
		return r ? fail("seal", r) : 0;
	case 'a':
		r = shoal_abort(s, id);
		return r ? fail("abort", r) : 0;
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	struct shoal_store *s;
	shoal_id id;
	const char *cmd;
	int rc;

	if (argc < 4)
		usage();
	cmd = argv[1];
	if (shoal_id_parse(argv[3], &id) != 0)
		usage();
	s = attach(argv[2]);
	put_byte('R');

	if (strcmp(cmd, "get") == 0)
		rc = cmd_get(s, id, argc, argv);
	else if (strcmp(cmd, "put") == 0)
		rc = cmd_put(s, id, argc, argv);
	else if (strcmp(cmd, "pin-and-wait") == 0)
		rc = cmd_pin_and_wait(s, id, argc, argv);
	else if (strcmp(cmd, "hold-and-wait") == 0)
		rc = cmd_hold_and_wait(s, id, argc);
	else if (strcmp(cmd, "create-unsealed") == 0)
		rc = cmd_create_unsealed(s, id, argc, argv);
	else if (strcmp(cmd, "seal") == 0 && argc == 4)
		rc = tu_err_to_exit(shoal_seal(s, id));
	else if (strcmp(cmd, "abort") == 0 && argc == 4)
		rc = tu_err_to_exit(shoal_abort(s, id));
	else
		usage();

	shoal_store_close(s);
	fflush(stdout);
	_exit(rc);
}
