/* SPDX-License-Identifier: MIT */
/*
 * store-get NAME ID... - attaches to the named store NAME (created by
 * another program) and reads each object by ID, zero-copy: prints its size,
 * metadata and a checksum of its bytes.  Exit status 0 if every get worked.
 */
#include <stdio.h>
#include <stdlib.h>

#include <shoal/shoal.h>

static unsigned long checksum(const unsigned char *p, size_t n)
{
	unsigned long h = 5381;

	for (size_t i = 0; i < n; i++)
		h = h * 33 + p[i];
	return h;
}

static int get_one(struct shoal_store *st, const char *hex)
{
	struct shoal_view v;
	shoal_id id;
	int rc = shoal_id_parse(hex, &id);

	if (!rc)
		rc = shoal_get(st, id, 5000, &v);
	if (rc) {
		fprintf(stderr, "store-get: %s: %s\n", hex, shoal_strerror(rc));
		return rc;
	}
	printf("%s  %zu bytes  meta \"%.*s\"  checksum %016lx\n", hex, v.size,
	       (int)v.meta_size, (const char *)v.meta, checksum(v.data, v.size));
	return shoal_release(st, &v);
}

int main(int argc, char **argv)
{
	struct shoal_store *st;
	int rc, failed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: store-get NAME ID...\n");
		return 2;
	}
	rc = shoal_store_attach(argv[1], &st);
	if (rc) {
		fprintf(stderr, "store-get: attach %s: %s\n", argv[1], shoal_strerror(rc));
		return 1;
	}
	for (int i = 2; i < argc; i++)
		failed |= get_one(st, argv[i]) != 0;
	shoal_store_close(st);
	return failed;
}
