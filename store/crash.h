/* SPDX-License-Identifier: MIT */
/*
 * store/crash.h - named crash points: every step of every multi-step change
 * to shared state, where a test build can kill the process.
 *
 * Any process may die at any instruction (DESIGN.md, "Crash safety").  The
 * windows that matter are the ones between two steps of a change to the
 * segment: between an intent and its commit, between a CAS and the store
 * that records it, between reserving and publishing.  Each such window has
 * a name here and a SHOAL__CRASH(handle, NAME) at its place in the code.
 * In a build with SHOAL_CRASH_POINTS defined (the test-only static library
 * shoal_crash, meson.build), a handle armed with a point SIGKILLs its own
 * process the n-th time it passes it; in every other build the macro
 * compiles to nothing (it still checks that NAME is in the list).
 *
 * The list is the one place the points are named: tests/test_crash_points.c
 * expands it into one test per point, which runs the point's scenario (the
 * second column: a shared operation, or a reap of a dead process) with the
 * point armed, requires that the process died there, and then checks that
 * the survivors repaired everything (crash_check.h).  A point added here
 * without a scenario that reaches it fails that test; a SHOAL__CRASH naming
 * a point that is not here does not compile.
 *
 * Arming: shoal__crash_arm() on a handle, or the environment variable
 * SHOAL_CRASH="NAME" or "NAME:n" (die at the n-th pass, n >= 1) read when a
 * handle is opened, so that a process the test does not control directly
 * (an attacher that reaps on attach, a worker) can be armed too.
 */
#ifndef SHOAL_STORE_CRASH_H
#define SHOAL_STORE_CRASH_H

#include <stdint.h>

/* X(NAME, scenario, what the process leaves behind when it dies there) */
#define SHOAL__CRASH_POINTS(X)                                                \
	X(REF_INTENT, ref, "a pin/hold change: intent written, CAS not made")  \
	X(REF_CAS, ref, "a pin/hold change: entry CAS made, ledger not")      \
	X(REF_LEDGER, ref, "a pin/hold change: ledger written, intent not cleared")

enum shoal__crash_point {
#define SHOAL__CP_ENUM(name, scenario, what) SHOAL__CP_##name,
	SHOAL__CRASH_POINTS(SHOAL__CP_ENUM)
#undef SHOAL__CP_ENUM
	SHOAL__CP_COUNT
};

/* A handle's arming (process-local): point + 1 (0: none), passes left. */
struct shoal__crash {
	uint32_t point;
	uint32_t left;
};

#ifdef SHOAL_CRASH_POINTS
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);
#define SHOAL__CRASH(s, name) shoal__crash_hit(&(s)->crash, SHOAL__CP_##name)
#else
#define SHOAL__CRASH(s, name) ((void)(s), (void)SHOAL__CP_##name)
#endif

/* Arms c with point p (SHOAL__CP_COUNT disarms), dying at pass n >= 1. */
void shoal__crash_arm(struct shoal__crash *c, unsigned p, uint32_t n);
/* Arms c from SHOAL_CRASH in the environment (crash builds only). */
void shoal__crash_from_env(struct shoal__crash *c);
/* The point's name ("REF_CAS"), or NULL past the list. */
const char *shoal__crash_name(unsigned p);

#endif /* SHOAL_STORE_CRASH_H */
