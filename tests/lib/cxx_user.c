/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/cxx_user.c - a shared library that allocates with C++'s
 * operator new and frees with operator delete, as libzmq and every C++
 * library a shoal program may link do.  Written in C (the mangled names
 * are C identifiers) so that the test needs no C++ compiler, only the
 * libstdc++ every Debian machine has.  The suite `link` links it after
 * libshoal: the lookup order in which a jemalloc behind libshoal once
 * gave operator new to jemalloc and operator delete's free to glibc.
 */
#include <stddef.h>
#include <string.h>

#include "cxx_user.h"

void *_Znwm(size_t n);   /* operator new(size_t) */
void _ZdlPv(void *p);    /* operator delete(void *) */

int cxx_user_roundtrip(int rounds)
{
	int sum = 0;

	for (int i = 0; i < rounds; i++) {
		unsigned char *p = _Znwm(64 + (size_t)i);

		memset(p, 1, 64 + (size_t)i);
		sum += p[63 + i];
		_ZdlPv(p);
	}
	return sum;
}
