/* SPDX-License-Identifier: MIT */
/*
 * store/name.c - a named segment's name: its rules, and its removal.
 *
 * A name is "/name" or "name": 1 to SHOAL__NAME_MAX printable bytes (no
 * control character, no newline: the name shows in listings, titles and
 * logs), no other '/', neither "." nor "..".  The segment behind it is
 * /dev/shm/<name>, which is what shm_open(3) opens.
 *
 * The name is given last.  A named segment is made unnamed
 * (open(O_TMPFILE) in /dev/shm, a tmpfs), laid out whole, and only then
 * linked under its name (linkat), which fails with EEXIST if the name is
 * taken.  Whoever is killed before the link leaves no name: the unnamed
 * file goes with its last descriptor and mapping.  (Before, the name
 * came first, with shm_open(O_CREAT | O_EXCL): a creator killed while
 * laying it out left a half-made segment under the name for ever, which
 * attachers refused with SHOAL_EBADSEGMENT and creates with EEXIST.)  A
 * runtime's driver links its segment's name only once its fork server
 * watches it (runtime.c), so that someone is always there to remove it.
 * Where O_TMPFILE is refused (a kernel or a /dev/shm without it) the
 * segment is made under its name as before, and a creator killed during
 * the create leaves that name behind.
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
#include <fcntl.h>
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

/* The path of "/x" in the directory of named segments. */
static void shoal__shm_path(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", SHOAL__SHM_DIR, name);
}

int shoal__shm_create(const char *name, bool *linked)
{
	char path[sizeof SHOAL__SHM_DIR + 256];
	struct stat st;
	int fd = open(SHOAL__SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0) {
		*linked = false;
		/* A name taken now fails at once, before the segment is laid
		 * out and its memory reserved; the link decides. */
		shoal__shm_path(name, path, sizeof path);
		if (lstat(path, &st) == 0) {
			close(fd);
			return -EEXIST;
		}
		return fd;
	}
	/* O_TMPFILE refused: an old kernel (EISDIR: it took the flag for
	 * O_DIRECTORY; or EINVAL) or a filesystem without it (EOPNOTSUPP).
	 * The name comes first then, as before (the file's header). */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	*linked = true;
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int shoal__shm_link(int fd, const char *name)
{
	char from[64], to[sizeof SHOAL__SHM_DIR + 256];

	shoal__shm_path(name, to, sizeof to);
	snprintf(from, sizeof from, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, from, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	/* No /proc: the fd itself, which older kernels allow only with
	 * CAP_DAC_READ_SEARCH. */
	return linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH) ? -errno : 0;
}

int shoal__shm_unlink_own(int fd, const char *name)
{
	char n[256], path[sizeof SHOAL__SHM_DIR + 256];
	struct stat mine, there;
	int rc = shoal__shm_name(name, n, sizeof n);

	if (rc)
		return rc;
	shoal__shm_path(n, path, sizeof path);
	if (fstat(fd, &mine) || lstat(path, &there))
		return -errno;
	if (mine.st_dev != there.st_dev || mine.st_ino != there.st_ino)
		return -ESTALE;
	return unlink(path) ? -errno : 0;
}
