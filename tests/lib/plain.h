/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/plain.h - the helpers every test process may use, criterion or
 * not: store_peer and chaos (which link only the public library), and the
 * suites' forked children (which never assert).  Public API only.
 *
 *   - the byte pattern every test writes into objects (tu_fill / tu_check),
 *     derived from a seed so that any process can verify an object without
 *     being sent its bytes, and a checksum (tu_sum);
 *   - the mapping between shoal's negative result codes and a process exit
 *     code (tu_err_to_exit / tu_exit_to_err), and the exit codes that are
 *     no result (TU_EXIT_*);
 *   - the monotonic clock, a process's state letter and test IDs.
 *
 * The suites have all of it through testutil.h.
 */
#ifndef SHOAL_TESTS_PLAIN_H
#define SHOAL_TESTS_PLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <shoal/id.h>

/* Exit codes of children that are not a mapped result. */
#define TU_EXIT_USAGE 250    /* bad arguments */
#define TU_EXIT_MISMATCH 251 /* object bytes/size differ from the pattern */
#define TU_EXIT_IO 252       /* a pipe read/write failed */
#define TU_EXIT_ORPHAN 253   /* parent died before the child started */
#define TU_EXIT_ASSERT 254   /* a criterion assertion ran in a child */
#define TU_EXIT_UNMAPPED 255 /* a result code with no exit-code mapping */

/* A result code as an exit code: 0 -> 0, -errno (errno < 128) -> errno,
 * shoal's own codes -4001 .. -4099 -> 129 .. 227, anything else 255. */
int tu_err_to_exit(int err);

/* The inverse of tu_err_to_exit for codes 0 .. 227; other exit codes are
 * returned as they are (positive), so they never equal a result code. */
int tu_exit_to_err(int code);

/* SplitMix64's output function: a well-mixed word from x. */
uint64_t tu_splitmix(uint64_t x);

/* Byte i of the pattern for `seed`: depends on both, so that a shifted,
 * truncated or foreign buffer does not match. */
uint8_t tu_pattern_byte(uint64_t seed, size_t i);

/* Fills buf[0..n) with the pattern for `seed`. */
void tu_fill(void *buf, size_t n, uint64_t seed);

/* True if buf[0..n) is the pattern for `seed`. */
bool tu_check(const void *buf, size_t n, uint64_t seed);

/* FNV-1a, 64 bits. */
uint64_t tu_sum(const void *buf, size_t n);

/* CLOCK_MONOTONIC in ns: comparable between processes of one machine. */
int64_t tu_now_ns(void);

/* The state letter of /proc/<pid>/stat ('S': sleeping, 'Z': zombie), or
 * '?' if there is no such process. */
char tu_proc_state(pid_t pid);

/* Polls tu_proc_state (yielding in between) until it says `state` ('T':
 * stopped, 'S': asleep): true, or false once timeout_ms passed. */
bool tu_await_state(pid_t pid, char state, int timeout_ms);

/* A deterministic test ID: distinct for distinct (owner, n), never nil. */
shoal_id tu_id(uint32_t owner, uint64_t n);

#endif /* SHOAL_TESTS_PLAIN_H */
