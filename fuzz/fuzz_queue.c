/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_queue.c - libFuzzer harness: the run queue (ring/queue.c)
 * over a queue whose memory anyone may have scribbled on.
 *
 * The input picks a capacity (2 to 64 cells), then overwrites the queue's
 * memory with its next bytes (from its indices on; with the top bit of
 * the first byte, from its configuration line on: the attach check must
 * refuse what does not add up; with bit 6, after the attach: the view's
 * copy of the geometry must keep every index in bounds whatever the
 * configuration line says then), then runs a sequence of operations from
 * its last bytes: pushes, pops, lengths, head checks, repairs (as a
 * reaper would, dropping lost items) and scans.  Nothing may crash, read
 * past the queue (ASan), loop for ever (libFuzzer's -timeout), pop more
 * than asked, or hand out a SKIP.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define FZ_OPS 64

static void fz_lost(void *ctx, uint32_t item)
{
	(void)item;
	++*(uint32_t *)ctx;
}

static void fz_seen(void *ctx, uint32_t item)
{
	if (item == SHOAL__QUEUE_SKIP)
		abort(); /* scan hands out SKIPs */
	++*(uint32_t *)ctx;
}

static void fz_ops(const struct shoal__queue_view *q, const uint8_t *op, size_t n)
{
	uint32_t items[8], out[8], count = 0, got;
	uint64_t pos;

	for (size_t i = 0; i < n && i < FZ_OPS; i++) {
		uint32_t k = (op[i] >> 3) % 8 + 1;

		switch (op[i] & 7) {
		case 0:
			for (uint32_t j = 0; j < k; j++)
				items[j] = (uint32_t)(i * 8 + j);
			if (shoal__queue_push(q, items, k) > k)
				abort();
			break;
		case 1:
			got = shoal__queue_pop(q, out, k);
			if (got > k)
				abort();
			for (uint32_t j = 0; j < got; j++)
				if (out[j] == SHOAL__QUEUE_SKIP)
					abort(); /* pop handed out a SKIP */
			break;
		case 2:
			if (shoal__queue_len(q) > q->capacity)
				abort();
			break;
		case 3:
			shoal__queue_head_unpublished(q, &pos);
			break;
		case 4:
			shoal__queue_repair(q, fz_lost, &count);
			break;
		default:
			shoal__queue_scan(q, fz_seen, &count);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static _Alignas(64) uint8_t mem[256 + 64 * 8];
	struct shoal__queue_view view;
	uint32_t capacity;
	uint64_t bytes;
	size_t from, len, ops;
	bool after; /* the bytes land after the attach: the view's copy rules */

	if (n < 2)
		return 0;
	after = in[0] & 0x40;
	capacity = 2u << (in[0] % 6);
	bytes = shoal__queue_bytes(capacity);
	if (shoal__queue_init(mem, capacity))
		abort();
	from = in[0] & 0x80 ? 0 : 64;
	ops = in[1] % 64; /* the last `ops` bytes are operations */
	in += 2;
	n -= 2;
	if (ops > n)
		ops = n;
	len = n - ops;
	if (len > bytes - from)
		len = bytes - from;
	if (after && shoal__queue_open(&view, mem, bytes))
		abort(); /* a queue just laid out is always valid */
	memcpy(mem + from, in, len);
	if (!after && shoal__queue_open(&view, mem, bytes))
		return 0; /* refused at attach: never used */
	fz_ops(&view, in + (n - ops), ops);
	return 0;
}
