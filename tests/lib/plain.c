/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/plain.c - the helpers of plain.h: the byte pattern, the
 * checksum, result codes as exit codes, the clock, /proc.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "plain.h"

int tu_err_to_exit(int err)
{
	if (err == 0)
		return 0;
	if (err < 0 && err > -128)
		return -err;
	if (err <= -4001 && err >= -4099)
		return 128 + (-err - 4000);
	return TU_EXIT_UNMAPPED;
}

int tu_exit_to_err(int code)
{
	if (code == 0)
		return 0;
	if (code > 0 && code < 128)
		return -code;
	if (code >= 129 && code <= 227)
		return -(4000 + (code - 128));
	return code;
}

uint64_t tu_splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint8_t tu_pattern_byte(uint64_t seed, size_t i)
{
	uint64_t w = tu_splitmix(seed * 0x100000001b3ull + (i >> 3));
	return (uint8_t)(w >> (8 * (i & 7)));
}

void tu_fill(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w = tu_splitmix(seed * 0x100000001b3ull + (i >> 3));
		memcpy(p + i, &w, 8); /* little-endian: same as tu_pattern_byte */
	}
	for (; i < n; i++)
		p[i] = tu_pattern_byte(seed, i);
}

bool tu_check(const void *buf, size_t n, uint64_t seed)
{
	const uint8_t *p = buf;
	size_t i = 0;

	if (n > 0 && buf == NULL)
		return false;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = tu_splitmix(seed * 0x100000001b3ull + (i >> 3));
		if (memcmp(p + i, &w, 8) != 0)
			return false;
	}
	for (; i < n; i++)
		if (p[i] != tu_pattern_byte(seed, i))
			return false;
	return true;
}

uint64_t tu_sum(const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int64_t tu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char tu_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

bool tu_await_state(pid_t pid, char state, int timeout_ms)
{
	int64_t end = tu_now_ns() + (int64_t)timeout_ms * 1000000;

	while (tu_proc_state(pid) != state) {
		if (tu_now_ns() >= end)
			return false;
		sched_yield();
	}
	return true;
}

shoal_id tu_id(uint32_t owner, uint64_t n)
{
	return shoal_id_derive(0, 0x7e570000u ^ owner, n + 1, 0);
}
