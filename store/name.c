/* SPDX-License-Identifier: MIT */
/*
 * store/name.c - a named segment's name: its rules, and its removal.
 *
 * A name is "/name" or "name": 1 to SHOAL__NAME_MAX printable bytes (no
 * control character, no newline: the name shows in listings, titles and
 * logs), no other '/', neither "." nor "..".  The segment behind it is
 * /dev/shm/<name>, which is what shm_open(3) opens.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define SHOAL__NAME_MAX 200u

int shoal__shm_name(const char *name, char *out, size_t cap)
{
	const char *n = name;
	size_t len;

	if (!name)
		return -EINVAL;
	if (*n == '/')
		n++;
	len = strlen(n);
	if (len == 0 || len > SHOAL__NAME_MAX || strchr(n, '/') ||
	    !strcmp(n, ".") || !strcmp(n, ".."))
		return -EINVAL;
	for (const char *c = n; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	snprintf(out, cap, "/%s", n);
	return 0;
}

SHOAL_API int shoal_store_unlink(const char *name)
{
	char path[256];
	int rc = shoal__shm_name(name, path, sizeof path);

	if (rc)
		return rc;
	return shm_unlink(path) ? -errno : 0;
}
