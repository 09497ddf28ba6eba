/* SPDX-License-Identifier: MIT */
/*
 * base/version.c - which shoal is loaded: the version meson.build declares,
 * as shoal/version.h's macros saw it when the library was compiled (a
 * program compares them with the macros it was compiled with).
 */
#include <shoal/version.h>

SHOAL_API const char *shoal_version(void)
{
	return SHOAL_VERSION_STRING;
}

SHOAL_API int shoal_version_major(void)
{
	return SHOAL_VERSION_MAJOR;
}

SHOAL_API int shoal_version_minor(void)
{
	return SHOAL_VERSION_MINOR;
}

SHOAL_API int shoal_version_patch(void)
{
	return SHOAL_VERSION_PATCH;
}

SHOAL_API bool shoal_version_check(int major, int minor, int patch)
{
	return SHOAL_VERSION_CHECK(major, minor, patch);
}
