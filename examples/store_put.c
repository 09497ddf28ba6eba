/* SPDX-License-Identifier: MIT */
/*
 * store-put NAME COUNT [BYTES] - creates the named store NAME, puts COUNT
 * objects of BYTES bytes (default 4096) and prints their IDs, one per line.
 * It then keeps the store (and its holds on the objects) until its standard
 * input closes, and unlinks the segment on the way out, so a reader started
 * separately (store-get) can read the objects meanwhile.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal/shoal.h>

static void on_signal(int sig)
{
	(void)sig;
}

static void fill(unsigned char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(seed * 31 + i * 7);
}

static int put_all(struct shoal_store *st, unsigned count, size_t bytes)
{
	unsigned char *buf = malloc(bytes ? bytes : 1);
	char hex[SHOAL_ID_HEX_LEN + 1];
	int rc = 0;

	if (!buf)
		return -1;
	for (unsigned i = 0; i < count && !rc; i++) {
		shoal_id id;
		char meta[32];
		int mlen = snprintf(meta, sizeof meta, "object %u", i);

		fill(buf, bytes, i);
		id = shoal_id_next(st);
		rc = shoal_put_with_id(st, id, buf, bytes, meta, (size_t)mlen, 1000);
		if (rc) {
			fprintf(stderr, "store-put: put: %s\n", shoal_strerror(rc));
			break;
		}
		shoal_id_format(id, hex);
		printf("%s\n", hex);
	}
	fflush(stdout);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	struct shoal_store_options o = SHOAL_STORE_OPTIONS_INIT;
	struct shoal_store *st;
	char line[64];
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: store-put NAME COUNT [BYTES]\n");
		return 2;
	}
	/* A signal ends the wait below (no SA_RESTART: fgets fails with
	 * EINTR), so the store is still closed and unlinked. */
	sigaction(SIGINT, &(struct sigaction){.sa_handler = on_signal}, NULL);
	sigaction(SIGTERM, &(struct sigaction){.sa_handler = on_signal}, NULL);
	sigaction(SIGHUP, &(struct sigaction){.sa_handler = on_signal}, NULL);
	signal(SIGPIPE, SIG_IGN);
	o.capacity = 64u << 20;
	rc = shoal_store_create(argv[1], &o, &st);
	if (rc) {
		fprintf(stderr, "store-put: create %s: %s\n", argv[1], shoal_strerror(rc));
		return 1;
	}
	rc = put_all(st, (unsigned)strtoul(argv[2], NULL, 10),
		     argc > 3 ? strtoul(argv[3], NULL, 10) : 4096);
	while (!rc && fgets(line, sizeof line, stdin))
		;
	shoal_store_close(st);
	shoal_store_unlink(argv[1]);
	return rc ? 1 : 0;
}
