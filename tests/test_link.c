/* SPDX-License-Identifier: MIT */
/*
 * tests/test_link.c - a program that links libshoal beside a C++ library
 * keeps one allocator per family: libshoal's jemalloc is its own (linked
 * into it, every symbol local), so the program's malloc/free and operator
 * new/delete stay glibc's and libstdc++'s.  Linked against the shared
 * library, as users link it, with tests/lib/cxx_user.c after it: with
 * jemalloc a dependency of libshoal, operator new resolved to jemalloc's
 * and its free to glibc's, and the first delete aborted ("free(): invalid
 * pointer").
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <shoal/store.h>

#include "cxx_user.h"

/* Where `sym` is found through libshoal's handle (which searches it and
 * everything it loaded): NULL if nowhere, else the defining file. */
static const char *found_in(void *h, const char *sym)
{
	Dl_info info;
	void *p = dlsym(h, sym);

	if (!p)
		return NULL;
	return dladdr(p, &info) && info.dli_fname ? info.dli_fname : "?";
}

/* Nothing of jemalloc's is reachable through libshoal, and libshoal
 * defines no allocator of the program's (a sanitizer's runtime, which an
 * ASan build of libshoal loads, may: it is the program's allocator). */
Test(link, libshoal_exports_no_allocator)
{
	void *h = dlopen("libshoal.so.0", RTLD_NOW | RTLD_NOLOAD);
	const char *syms[] = {"mallocx", "mallctl", "_Znwm", "_ZdlPv", "malloc",
			      "free"};

	cr_assert_not_null(h, "libshoal is not loaded: %s", dlerror());
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		const char *f = found_in(h, syms[i]);

		cr_expect(!f || (!strstr(f, "jemalloc") && !strstr(f, "libshoal")),
			  "%s comes from %s", syms[i], f);
	}
	cr_expect_null(dlsym(h, "mallocx"), "jemalloc's mallocx is visible");
	cr_expect_not_null(dlsym(h, "shoal_store_create"));
	dlclose(h);
}

/* A store at work (its private arena made, used and destroyed) while a
 * C++ library allocates and frees: neither disturbs the other. */
Test(link, cxx_library_beside_a_store)
{
	struct shoal_store_options o;
	struct shoal_store *st = NULL;
	shoal_id id;
	char buf[32] = "beside a C++ library";
	int64_t v = 0;

	shoal_store_options_init(&o);
	o.capacity = 4u << 20;
	o.max_objects = 1024;
	o.max_procs = 4;
	cr_assert_eq(shoal_store_create(NULL, &o, &st), 0);
	cr_assert_eq(cxx_user_roundtrip(1000), 1000);
	int64_t x = 42;
	cr_assert_eq(shoal_put(st, &x, sizeof x, 1000, &id), 0);
	cr_assert_eq(shoal_get_i64(st, id, 1000, &v), 0);
	cr_expect_eq(v, 42);
	char *m = malloc(sizeof buf); /* the program's malloc, glibc's */
	cr_assert_not_null(m);
	memcpy(m, buf, sizeof buf);
	cr_assert_eq(cxx_user_roundtrip(1000), 1000);
	free(m);
	shoal_store_close(st);
	cr_assert_eq(cxx_user_roundtrip(10), 10);
}
