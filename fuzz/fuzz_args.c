/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_args.c - libFuzzer harness: task and call argument encoding
 * and decoding (runtime/task.c).
 *
 * Two halves, chosen by the input's first byte:
 *
 *   decode  the rest of the input is an encoded argument buffer as a
 *           process other than its writer reads it (a task record or a
 *           call record in the segment, which anyone may have scribbled
 *           on): every argument index is decoded, and the bytes an
 *           accepted argument names are read through (ASan sees any
 *           read past the buffer);
 *   round   the rest describes up to SHOAL_MAX_ARGS arguments (a kind
 *           and a length each, the bytes from the input); those that the
 *           API accepts are encoded, as a submit does, into a record-sized
 *           buffer if they fit, and must decode to exactly what went in.
 *
 * Built only in a fuzz build (meson -Dfuzz=true with clang: README).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

#include "proc_int.h"

#define FZ_CAP 400u /* larger than any record's inline arguments */

static volatile uint8_t fz_sink;

static void fz_decode(const uint8_t *in, size_t n)
{
	uint8_t buf[FZ_CAP];
	uint32_t len = n > FZ_CAP ? FZ_CAP : (uint32_t)n;
	uint32_t nargs = len ? in[0] % (SHOAL_MAX_ARGS + 4) : 0;

	memcpy(buf, in, len);
	for (uint32_t i = 0; i < nargs + 2; i++) {
		const uint8_t *data;
		uint32_t kind, dlen;

		if (shoal__args_decode(buf, nargs, len, i, &kind, &data, &dlen))
			continue;
		if (data < buf || data + dlen > buf + len)
			abort(); /* accepted bytes outside the buffer */
		for (uint32_t k = 0; k < dlen; k++)
			fz_sink ^= data[k];
	}
}

static void fz_round(const uint8_t *in, size_t n)
{
	struct shoal_args a, fit;
	uint8_t buf[FZ_CAP];
	uint32_t used;
	size_t pos = 0;

	shoal_args_init(&a);
	while (pos + 2 <= n && a.n < SHOAL_MAX_ARGS) {
		uint8_t kind = in[pos] & 1;
		size_t want = in[pos + 1];

		pos += 2;
		if (kind) {
			shoal_id id;

			if (n - pos < sizeof id)
				break;
			memcpy(&id, in + pos, sizeof id);
			pos += sizeof id;
			if (shoal_args_ref(&a, id))
				continue; /* the nil ID: refused, nothing added */
		} else {
			if (want > n - pos)
				want = n - pos;
			if (shoal_args_bytes(&a, in + pos, want))
				abort(); /* a valid length refused */
			pos += want;
		}
	}
	if (shoal__args_check(&a))
		abort(); /* what the API built, the check refuses */
	fit = a;
	used = 0;
	for (uint32_t i = 0; i < a.n; i++)
		used += (4u + (a.a[i].kind == SHOAL_ARG_REF ? 16u : (uint32_t)a.a[i].size) + 7u) & ~7u;
	if (used > FZ_CAP)
		return; /* a submit would move some through the store first */
	if (shoal__args_encode(buf, &fit) != used)
		abort();
	for (uint32_t i = 0; i < a.n; i++) {
		const uint8_t *data;
		uint32_t kind, dlen;

		if (shoal__args_decode(buf, a.n, used, i, &kind, &data, &dlen) ||
		    kind != a.a[i].kind)
			abort();
		if (kind == SHOAL_ARG_REF ? dlen != sizeof(shoal_id) ||
						    memcmp(data, &a.a[i].ref, dlen)
					  : dlen != a.a[i].size ||
						    (dlen && memcmp(data, a.a[i].data, dlen)))
			abort(); /* decoded differently from what was encoded */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	if (n == 0)
		return 0;
	if (in[0] & 0x80)
		fz_round(in + 1, n - 1);
	else
		fz_decode(in + 1, n - 1);
	return 0;
}
