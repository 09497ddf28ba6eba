/* SPDX-License-Identifier: MIT */
/*
 * runtime/trace.c - shoal_timeline: every process's timeline ring
 * (timeline.h) written out as a Chrome trace, the JSON object format that
 * chrome://tracing and Perfetto load (Ray's ray.timeline()).
 *
 *  - a row per process (pid = its pid, named by a process_name record:
 *    the label its ring carries, or for a ring's earlier occupant the
 *    worker or actor its events say);
 *  - a complete slice ("X") per task or call that ran, named by function
 *    or Class.method, with the result's ID, rc and time queued in args;
 *  - for each slice whose submitter is still known (its ring holds the
 *    same creator word), a zero-length "submit" slice on the submitter's
 *    row at the submit time, and a flow arrow ("s" bound to it, "f" bound
 *    to the enclosing slice) from it to the execution.
 *
 * Only reads: it works on any handle of the runtime (a driver's, an
 * attached program's, an inspecting one's).  Nothing read from the rings
 * is trusted: names are bounded and escaped, indices are checked against
 * the view, an event is taken only when its seq word says it is whole.
 * Times are microseconds since the runtime's clock calibration (start).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/runtime.h>

#include "rt.h"
#include "timeline.h"

struct shoal__tr {
	FILE *out;
	const struct shoal__rt_view *v;
	bool first;       /* no record written yet (commas) */
	uint64_t flow;    /* the next flow id */
	int32_t *named;   /* pids given a process_name record (a set) */
	size_t nnamed, named_cap;
};

/* A JSON string of at most n bytes of s (stops at a NUL). */
static void shoal__tr_str(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void shoal__tr_sep(struct shoal__tr *t)
{
	fputs(t->first ? "\n" : ",\n", t->out);
	t->first = false;
}

static double shoal__tr_us(const struct shoal__tr *t, uint64_t ticks)
{
	uint64_t ns = shoal__clock_ns(&t->v->clock, ticks);

	return ((double)ns - (double)t->v->clock.ns0) / 1000.0;
}

/* Whether pid has its process_name record yet; remembers it if not.  An
 * open-addressing set (pids are > 0; 0 is empty), kept at most half full:
 * a ring scribbled with a distinct pid per event costs a constant per
 * event, not a scan of every pid seen. */
static bool shoal__tr_seen(struct shoal__tr *t, int32_t pid)
{
	size_t i;

	if (2 * (t->nnamed + 1) > t->named_cap) {
		size_t cap = t->named_cap ? 2 * t->named_cap : 256;
		int32_t *p = calloc(cap, sizeof *p);

		if (!p)
			return true; /* unnamed rows, not a failure */
		for (size_t k = 0; k < t->named_cap; k++)
			for (i = t->named[k] ? (uint32_t)t->named[k] * 2654435761u % cap : 0;
			     t->named[k]; i = (i + 1) % cap)
				if (!p[i]) {
					p[i] = t->named[k];
					break;
				}
		free(t->named);
		t->named = p;
		t->named_cap = cap;
	}
	for (i = (uint32_t)pid * 2654435761u % t->named_cap; t->named[i];
	     i = (i + 1) % t->named_cap)
		if (t->named[i] == pid)
			return true;
	t->named[i] = pid;
	t->nnamed++;
	return false;
}

static void shoal__tr_name(struct shoal__tr *t, int32_t pid, const char *label)
{
	if (pid <= 0 || shoal__tr_seen(t, pid))
		return;
	shoal__tr_sep(t);
	fprintf(t->out, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%" PRId32
		",\"tid\":%" PRId32 ",\"args\":{\"name\":", pid, pid);
	shoal__tr_str(t->out, label, SHOAL__TL_LABEL);
	fputs("}}", t->out);
}

/* The class of an actor event, or NULL past the view's classes. */
static const struct shoal__act_class *shoal__tr_class(const struct shoal__tr *t,
						      uint32_t klass)
{
	return klass < t->v->nclasses ? &t->v->classes[klass] : NULL;
}

/* The slice's name: the function, or Class.method. */
static void shoal__tr_what(const struct shoal__tr *t, const struct shoal__tl_rec *r,
			   char *buf, size_t cap)
{
	const struct shoal__act_class *c = shoal__tr_class(t, r->klass);

	if (r->kind == SHOAL__TL_TASK)
		snprintf(buf, cap, "%.63s", shoal__rt_fname(t->v, r->what));
	else if (c && r->what < SHOAL_MAX_METHODS)
		snprintf(buf, cap, "%.63s.%.63s", c->name, c->methods[r->what]);
	else
		snprintf(buf, cap, "?");
}

/* The row label of an event's process, from the event itself. */
static void shoal__tr_label_of(const struct shoal__tr *t,
			       const struct shoal__tl_rec *r, char *buf, size_t cap)
{
	const struct shoal__act_class *c = shoal__tr_class(t, r->klass);

	if (r->kind == SHOAL__TL_TASK)
		snprintf(buf, cap, "worker %u", r->who);
	else
		snprintf(buf, cap, "%.20s#%u", c ? c->name : "?", r->who);
}

/* The pid of the process that owned creator word `from`, if its slot's
 * ring still says so; 0 if not known. */
static int32_t shoal__tr_from_pid(const struct shoal__tr *t, uint32_t from,
				  char *label, size_t cap)
{
	const struct shoal__tl_ring *g = shoal__tl_ring_at(t->v, from >> 20);
	uint64_t words[SHOAL__TL_LABEL / 8];

	/* TL-A3: the occupant's pid and label after its creator word. */
	if (!g || !from ||
	    atomic_load_explicit(&g->creator, memory_order_acquire) != from)
		return 0;
	for (uint32_t i = 0; i < SHOAL__TL_LABEL / 8; i++)
		words[i] = atomic_load_explicit(&g->label[i], memory_order_relaxed);
	snprintf(label, cap, "%.*s", (int)sizeof words, (const char *)words);
	return atomic_load_explicit(&g->pid, memory_order_relaxed);
}

static void shoal__tr_args(struct shoal__tr *t, const struct shoal__tl_rec *r,
			   int32_t from_pid)
{
	char id[SHOAL_ID_HEX_LEN + 1];

	shoal_id_format((shoal_id){.hi = r->id_hi, .lo = r->id_lo}, id);
	fprintf(t->out, ",\"args\":{\"result\":\"%s\",\"rc\":%" PRId32, id, r->rc);
	if (r->rc)
		fprintf(t->out, ",\"error\":\"%s\"", shoal_strerror(r->rc));
	if (r->kind == SHOAL__TL_CALL)
		fprintf(t->out, ",\"actor\":%u", r->who);
	else
		fprintf(t->out, ",\"worker\":%u", r->who);
	if (from_pid > 0)
		fprintf(t->out, ",\"submitted_by\":%" PRId32, from_pid);
	if (r->t_submit && r->t_submit <= r->t_start)
		fprintf(t->out, ",\"queued_us\":%.3f",
			(double)shoal__clock_dur(&t->v->clock, r->t_start - r->t_submit) /
				1000.0);
	fputs("}}", t->out);
}

/* One slice, and its submit and flow if the submitter is known. */
static void shoal__tr_event(struct shoal__tr *t, const struct shoal__tl_rec *r,
			    int32_t pid)
{
	char what[160], label[SHOAL__TL_LABEL + 1];
	const char *cat = r->kind == SHOAL__TL_TASK ? "task" : "actor_call";
	int32_t from_pid;
	double ts = shoal__tr_us(t, r->t_start);
	double dur = r->t_end >= r->t_start
		? (double)shoal__clock_dur(&t->v->clock, r->t_end - r->t_start) / 1000.0
		: 0;

	shoal__tr_label_of(t, r, label, sizeof label);
	shoal__tr_name(t, pid, label);
	shoal__tr_what(t, r, what, sizeof what);
	from_pid = shoal__tr_from_pid(t, r->from, label, sizeof label);
	shoal__tr_sep(t);
	fprintf(t->out, "{\"ph\":\"X\",\"cat\":\"%s\",\"name\":", cat);
	shoal__tr_str(t->out, what, sizeof what);
	fprintf(t->out, ",\"pid\":%" PRId32 ",\"tid\":%" PRId32
		",\"ts\":%.3f,\"dur\":%.3f", pid, pid, ts, dur);
	shoal__tr_args(t, r, from_pid);
	if (from_pid <= 0 || !r->t_submit || r->t_submit > r->t_start)
		return;
	shoal__tr_name(t, from_pid, label);
	ts = shoal__tr_us(t, r->t_submit);
	shoal__tr_sep(t);
	fprintf(t->out, "{\"ph\":\"X\",\"cat\":\"submit\",\"name\":");
	shoal__tr_str(t->out, what, sizeof what);
	fprintf(t->out, ",\"pid\":%" PRId32 ",\"tid\":%" PRId32
		",\"ts\":%.3f,\"dur\":0}", from_pid, from_pid, ts);
	shoal__tr_sep(t);
	fprintf(t->out, "{\"ph\":\"s\",\"cat\":\"%s\",\"name\":\"submit\",\"id\":%"
		PRIu64 ",\"pid\":%" PRId32 ",\"tid\":%" PRId32 ",\"ts\":%.3f}",
		cat, t->flow, from_pid, from_pid, ts);
	shoal__tr_sep(t);
	fprintf(t->out, "{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"%s\",\"name\":\"submit\","
		"\"id\":%" PRIu64 ",\"pid\":%" PRId32 ",\"tid\":%" PRId32
		",\"ts\":%.3f}", cat, t->flow, pid, pid, shoal__tr_us(t, r->t_start));
	t->flow++;
}

/* Ring i: its occupant's row, then every whole event it still holds. */
static void shoal__tr_ring(struct shoal__tr *t, uint32_t i)
{
	const struct shoal__tl_ring *g = shoal__tl_ring_at(t->v, i);
	const struct shoal__tl_event *ev = (const struct shoal__tl_event *)(g + 1);
	char label[SHOAL__TL_LABEL + 1];
	uint64_t head, n;
	struct shoal__tl_rec r;
	int32_t pid;

	if (shoal__tr_from_pid(t, atomic_load_explicit(&g->creator, memory_order_relaxed),
			       label, sizeof label) > 0)
		shoal__tr_name(t, atomic_load_explicit(&g->pid, memory_order_relaxed), label);
	if (!t->v->tl_events)
		return;
	head = atomic_load_explicit(&g->head, memory_order_acquire); /* TL-A2 */
	/* Up to head itself: a writer killed between an event's seq and the
	 * head's store left a whole event there (its seq says so). */
	n = head >= t->v->tl_events ? head - t->v->tl_events + 1 : 0;
	for (; n <= head && n != UINT64_MAX; n++)
		if (shoal__tl_read(ev, t->v->tl_events - 1, n, &r, &pid) && pid > 0 &&
		    (r.kind == SHOAL__TL_TASK || r.kind == SHOAL__TL_CALL))
			shoal__tr_event(t, &r, pid);
}

SHOAL_API int shoal_timeline(struct shoal_runtime *rt, FILE *out)
{
	struct shoal__tr t;

	if (!rt || !out)
		return -EINVAL;
	if (rt->v.flags & SHOAL_RUNTIME_NO_TIMELINE)
		return -ENODATA;
	t = (struct shoal__tr){.out = out, .v = &rt->v, .first = true, .flow = 1};
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", out);
	for (uint32_t i = 0; i < rt->v.tl_rings; i++)
		shoal__tr_ring(&t, i);
	fputs("\n]}\n", out);
	free(t.named);
	if (fflush(out) || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}
