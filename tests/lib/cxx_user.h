/* SPDX-License-Identifier: MIT */
/* tests/lib/cxx_user.h - operator new and delete from a library linked
 * after libshoal (cxx_user.c says why). */
#ifndef SHOAL_TESTS_CXX_USER_H
#define SHOAL_TESTS_CXX_USER_H

/* `rounds` allocations of 64 + i bytes with operator new, each written,
 * read and freed with operator delete; returns rounds (each adds 1). */
int cxx_user_roundtrip(int rounds);

#endif
