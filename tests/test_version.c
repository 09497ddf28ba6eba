/* SPDX-License-Identifier: MIT */
/*
 * tests/test_version.c - which shoal (shoal/version.h): the library's
 * version functions agree with the macros of the headers it was built
 * with, and both checks say "at least this version".
 */
#include "testutil.h"

#include <shoal/version.h>

TestSuite(version, .init = tu_setup, .fini = tu_teardown);

/* The macros work in #if, as the header says. */
#if !SHOAL_VERSION_CHECK(SHOAL_VERSION_MAJOR, SHOAL_VERSION_MINOR, \
			 SHOAL_VERSION_PATCH)
#error "SHOAL_VERSION_CHECK is false for its own version"
#endif
#if SHOAL_VERSION_CHECK(SHOAL_VERSION_MAJOR + 1, 0, 0)
#error "SHOAL_VERSION_CHECK is true for the next major version"
#endif

Test(version, the_library_reports_the_headers_version)
{
	char text[64];

	cr_assert_eq(shoal_version_major(), SHOAL_VERSION_MAJOR);
	cr_assert_eq(shoal_version_minor(), SHOAL_VERSION_MINOR);
	cr_assert_eq(shoal_version_patch(), SHOAL_VERSION_PATCH);
	cr_assert_str_eq(shoal_version(), SHOAL_VERSION_STRING);
	snprintf(text, sizeof text, "%d.%d.%d", SHOAL_VERSION_MAJOR,
		 SHOAL_VERSION_MINOR, SHOAL_VERSION_PATCH);
	cr_assert_str_eq(shoal_version(), text);
}

struct check_case {
	int major, minor, patch;
	bool at_least; /* the library is at least this version */
};

Test(version, check_is_true_for_this_version_and_older_ones_only)
{
	const int M = SHOAL_VERSION_MAJOR, m = SHOAL_VERSION_MINOR,
		  p = SHOAL_VERSION_PATCH;
	const struct check_case cases[] = {
		{M, m, p, true},
		{0, 0, 0, true},
		{M - 1, m + 9, p + 9, true},
		{M, m - 1, p + 9, true},
		{M, m, p + 1, false},
		{M, m + 1, 0, false},
		{M + 1, 0, 0, false},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct check_case *c = &cases[i];

		cr_assert_eq(shoal_version_check(c->major, c->minor, c->patch),
			     c->at_least, "shoal_version_check(%d, %d, %d) on %s",
			     c->major, c->minor, c->patch, shoal_version());
		cr_assert_eq((bool)SHOAL_VERSION_CHECK(c->major, c->minor, c->patch),
			     c->at_least, "SHOAL_VERSION_CHECK(%d, %d, %d) on %s",
			     c->major, c->minor, c->patch, SHOAL_VERSION_STRING);
	}
}
