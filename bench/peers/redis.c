/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/redis.c - the redis family: Redis as an object store,
 * through hiredis (its C client) on a Unix socket, against shoal's put and
 * get.  The server is bench/run's (redis-server --port 0 --unixsocket in
 * a mktemp directory, no persistence); without --redis-socket the family
 * says it skipped.
 *
 *   redis_set_calls, redis_get_calls  SET / GET of a 64-byte value, one
 *          command at a time (what one client waits for per put / get);
 *          against single_client_put_calls and single_client_get_calls
 *   redis_set_pipelined_calls, redis_get_pipelined_calls  the same,
 *          pipelined: 1000 commands appended, then their 1000 replies
 *   redis_set_gigabytes_1MiB, redis_get_gigabytes_1MiB  SET / GET of 1 MiB
 *          values, one at a time, in GB/s (against
 *          single_client_put_gigabytes_1MiB)
 *   redis_set_pipelined_gigabytes_1MiB  SET of 1 MiB, 16 pipelined
 *
 * Keys cycle over 1024 names (16 for 1 MiB) so that the server's memory
 * stays bounded; they are named "shoal-bench:PID:kN", and deleted at the
 * end: nothing else on the server is touched.  This process is pinned to CPU 0 and the server (its pid from INFO
 * server) to CPU 1, as the other peers' two processes; the server keeps
 * that affinity.  Every reply is checked (a SET's +OK, a GET's length);
 * every wait is bounded by the context's timeout (PEER_TIMEOUT_S).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "families.h"
#include "peer.h"

#if BENCH_HAVE_REDIS
#include <hiredis/hiredis.h>

#define RD_KEYS_SMALL 1024u
#define RD_KEYS_LARGE 16u
#define RD_PIPE_SMALL 1000u
#define RD_PIPE_LARGE 16u
#define RD_SMALL 64u
#define RD_LARGE (1u << 20)

struct rd_state {
	redisContext *c;
	char *val;          /* the value SET writes (size bytes) */
	size_t size;
	uint32_t keys;
	uint32_t next;      /* the next key */
	bool get;           /* GET instead of SET */
	uint32_t pipeline;  /* commands in flight; 1: one at a time */
	int pid;            /* the keys' prefix */
};

static int rd_err(const redisContext *c)
{
	return c->err == REDIS_ERR_IO && errno ? -errno
	       : c->err == REDIS_ERR_EOF ? -EPIPE : -EIO;
}

static int rd_append(struct rd_state *s)
{
	uint32_t k = s->next++ % s->keys;
	int rc = s->get ? redisAppendCommand(s->c, "GET shoal-bench:%d:k%u",
					     s->pid, k)
			: redisAppendCommand(s->c, "SET shoal-bench:%d:k%u %b",
					     s->pid, k, s->val, s->size);

	return rc == REDIS_OK ? 0 : rd_err(s->c);
}

/* One reply: +OK for a SET, size bytes for a GET. */
static int rd_reply(struct rd_state *s)
{
	redisReply *r = NULL;
	int rc;

	if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r)
		return rd_err(s->c);
	if (s->get)
		rc = r->type == REDIS_REPLY_STRING && r->len == s->size ? 0 : -EPROTO;
	else
		rc = r->type == REDIS_REPLY_STATUS ? 0 : -EPROTO;
	freeReplyObject(r);
	return rc;
}

static int rd_batch(void *arg, uint64_t n)
{
	struct rd_state *s = arg;

	for (uint64_t i = 0; i < n; i += s->pipeline) {
		for (uint32_t k = 0; k < s->pipeline; k++) {
			int rc = rd_append(s);

			if (rc < 0)
				return rc;
		}
		for (uint32_t k = 0; k < s->pipeline; k++) {
			int rc = rd_reply(s);

			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* SETs every key once, so that GETs find values of the right size. */
static int rd_fill(struct rd_state *s)
{
	bool get = s->get;
	uint32_t pipeline = s->pipeline;
	int rc;

	s->get = false;
	s->pipeline = 1;
	rc = rd_batch(s, s->keys);
	s->get = get;
	s->pipeline = pipeline;
	return rc;
}

/* Deletes the keys this run may have set (pipelined). */
static void rd_delete_keys(struct rd_state *s)
{
	uint32_t sent = 0;

	while (sent < RD_KEYS_SMALL &&
	       redisAppendCommand(s->c, "DEL shoal-bench:%d:k%u", s->pid,
				  sent) == REDIS_OK)
		sent++;
	for (uint32_t k = 0; k < sent; k++) {
		redisReply *r = NULL;

		if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r)
			return;
		freeReplyObject(r);
	}
}

/* The server's pid, from INFO server's process_id; -1 if not found. */
static pid_t rd_server_pid(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO server");
	const char *p;
	pid_t pid = -1;

	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "process_id:")))
		pid = (pid_t)strtol(p + 11, NULL, 10);
	freeReplyObject(r);
	return pid;
}

/* This process to CPU 0, the server to CPU 1 (PLACE_SPLIT); *saved gets
 * this process's affinity.  PLACE_FREE if either cannot be pinned. */
static enum placement rd_pin(const struct bench_ctx *ctx, redisContext *c,
			     cpu_set_t *saved)
{
	pid_t server = rd_server_pid(c);
	cpu_set_t one;

	if (!ctx->pin || server <= 0 ||
	    sched_getaffinity(0, sizeof *saved, saved) < 0)
		return PLACE_FREE;
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	if (sched_setaffinity(server, sizeof one, &one) < 0)
		return PLACE_FREE;
	if (pin_to_cpu(0) < 0)
		return PLACE_FREE;
	return PLACE_SPLIT;
}

struct rd_metric {
	const char *name;
	size_t size;
	bool get;
	uint32_t pipeline;
	const char *note;
};

static int rd_one(const struct bench_ctx *ctx, struct rd_state *s,
		  const struct rd_metric *d, enum placement place)
{
	bool large = d->size == RD_LARGE;
	struct workload w = {rd_batch, s, d->pipeline, large ? d->size : 0,
			     large ? UNIT_GBPS : UNIT_OPS};
	struct metric m = {.name = d->name, .unit = w.unit, .size = d->size,
			   .procs = 2, .place = place, .note = d->note,
			   .verdict = -1};
	int rc;

	if (!wanted(ctx, d->name))
		return 0;
	s->size = d->size;
	s->get = d->get;
	s->pipeline = d->pipeline;
	s->keys = large ? RD_KEYS_LARGE : RD_KEYS_SMALL;
	rc = rd_fill(s);
	if (rc == 0)
		rc = measure(ctx, &w, 1, &m.st);
	if (rc < 0)
		return emit_error(ctx, d->name, d->size, rc);
	if (large && !d->get) {
		m.curve = "put_bandwidth_vs_size";
		m.x = (double)d->size;
	}
	add_extra(&m, "pipeline", d->pipeline);
	emit(ctx, &m);
	return 0;
}

static const struct rd_metric rd_metrics[] = {
	{"redis_set_calls", RD_SMALL, false, 1,
	 "SET of a 64-byte value (keys cycling over 1024), one command at a "
	 "time over the Unix socket"},
	{"redis_get_calls", RD_SMALL, true, 1,
	 "GET of a 64-byte value, one command at a time"},
	{"redis_set_pipelined_calls", RD_SMALL, false, RD_PIPE_SMALL,
	 "SET of 64 bytes, 1000 commands appended, then their replies"},
	{"redis_get_pipelined_calls", RD_SMALL, true, RD_PIPE_SMALL,
	 "GET of 64 bytes, 1000 commands appended, then their replies"},
	{"redis_set_gigabytes_1MiB", RD_LARGE, false, 1,
	 "SET of a 1 MiB value (keys cycling over 16), one at a time; GB/s"},
	{"redis_set_pipelined_gigabytes_1MiB", RD_LARGE, false, RD_PIPE_LARGE,
	 "SET of 1 MiB values, 16 appended, then their replies; GB/s"},
	{"redis_get_gigabytes_1MiB", RD_LARGE, true, 1,
	 "GET of a 1 MiB value into the client's reply, one at a time; GB/s"},
};

#define RD_NMETRICS (sizeof rd_metrics / sizeof rd_metrics[0])

int family_redis(const struct bench_ctx *ctx)
{
	struct timeval tv = {PEER_TIMEOUT_S, 0};
	struct rd_state s = {0};
	enum placement place;
	cpu_set_t saved;
	bool any = false;
	int rc, err = 0;

	for (size_t i = 0; i < RD_NMETRICS; i++)
		any = any || wanted(ctx, rd_metrics[i].name);
	if (!any)
		return 0;
	if (!ctx->redis_socket)
		return emit_skip(ctx, "redis", "no server: --redis-socket not "
				 "given (bench/run starts one)");
	s.c = redisConnectUnixWithTimeout(ctx->redis_socket, tv);
	if (!s.c || s.c->err) {
		rc = s.c ? rd_err(s.c) : -ENOMEM;
		if (s.c)
			redisFree(s.c);
		return emit_error(ctx, "redis", 0, rc);
	}
	s.val = malloc(RD_LARGE);
	rc = s.val ? 0 : -ENOMEM;
	if (rc == 0) {
		memset(s.val, 0xa5, RD_LARGE);
		rc = redisSetTimeout(s.c, tv) == REDIS_OK ? 0 : rd_err(s.c);
	}
	s.pid = (int)getpid();
	if (rc < 0) {
		free(s.val);
		redisFree(s.c);
		return emit_error(ctx, "redis", 0, rc);
	}
	place = rd_pin(ctx, s.c, &saved);
	for (size_t i = 0; i < RD_NMETRICS; i++) {
		rc = rd_one(ctx, &s, &rd_metrics[i], place);
		err = err < 0 ? err : rc;
	}
	if (place == PLACE_SPLIT)
		sched_setaffinity(0, sizeof saved, &saved);
	rd_delete_keys(&s);
	free(s.val);
	redisFree(s.c);
	return err;
}

#else /* !BENCH_HAVE_REDIS */

int family_redis(const struct bench_ctx *ctx)
{
	return emit_skip(ctx, "redis", "built without hiredis (meson "
			 "-Dredis; Debian: libhiredis-dev)");
}

#endif
