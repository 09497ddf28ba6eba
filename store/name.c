/* SPDX-License-Identifier: MIT */
/*
 * store/name.c - a named segment's name: its rules, and its removal.
 *
 * A name is "/name" or "name": 1 to SHOAL__NAME_MAX printable bytes (no
 * control character, no newline: the name shows in listings, titles and
 * logs), no other '/', neither "." nor "..".  The segment behind it is
 * /dev/shm/<name>, which is what shm_open(3) opens.
 *
 * Removal by a process that did not just create the name (a runtime's
 * fork server once the driver died, the driver at its shutdown) must not
 * remove a name that another program gave to its own segment meanwhile
 * (a driver killed before its segment was named, then another program
 * creating that name): shoal__shm_unlink_own removes the name only if it
 * is the file the caller has open (same device and inode).  What remains
 * is the instant between that check and the unlink: a program that
 * removes the name and creates its own under it exactly then loses it.
 * Only a process of the same user can remove the name, and nobody else
 * removes a running runtime's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SHOAL__NAME_MAX 200u
#define SHOAL__SHM_DIR "/dev/shm"

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

int shoal__shm_unlink_own(int fd, const char *name)
{
	char n[256], path[sizeof SHOAL__SHM_DIR + 256];
	struct stat mine, there;
	int rc = shoal__shm_name(name, n, sizeof n);

	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s%s", SHOAL__SHM_DIR, n);
	if (fstat(fd, &mine) || lstat(path, &there))
		return -errno;
	if (mine.st_dev != there.st_dev || mine.st_ino != there.st_ino)
		return -ESTALE;
	return unlink(path) ? -errno : 0;
}
