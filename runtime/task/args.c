/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/args.c - what a running task or method reads of itself:
 * its arguments, raw or typed (shoal_task_arg_i64 ...), its arity, and
 * its runtime context (Ray's ray.get_runtime_context(): its ID, worker,
 * caller, and the actor it runs in).
 *
 * Typed reads: each argument keeps the type tag its record carried
 * (task.c's encoding); a typed read accepts that type, or untyped bytes
 * of its width, and checks the width (or a string's NUL) itself, since
 * the record is another process's writing.  A failed read notes why, and
 * a task function that returns that code fails with the note as its
 * message (exec.c).
 *
 * The context's caller is a snapshot of the submitter's store slot (pid
 * and role) when it is asked: 0 and SHOAL_CALLER_GONE once that process
 * is gone or its slot reused.  Nothing here writes the segment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ext.h"
#include "task_int.h"

SHOAL_API uint32_t shoal_task_num_args(const struct shoal_task *task)
{
	return task ? task->nargs : 0;
}

SHOAL_API int shoal_task_arg(const struct shoal_task *task, uint32_t i,
			     const void **data, size_t *size)
{
	if (!task || !data || !size)
		return -EINVAL;
	if (i >= task->nargs)
		return SHOAL_EARGCOUNT;
	*data = task->args[i].data;
	*size = task->args[i].size;
	return 0;
}

int shoal__task_arg_typed(const struct shoal_task *task, uint32_t i,
			  uint32_t type, const void **data, size_t *size)
{
	if (!task)
		return -EINVAL;
	if (i >= task->nargs)
		return SHOAL_EARGCOUNT;
	if (task->args[i].type != SHOAL_TYPE_BYTES && task->args[i].type != type)
		return SHOAL_EARGTYPE;
	*data = task->args[i].data;
	*size = task->args[i].size;
	return 0;
}

static const char *shoal__type_name(uint32_t type)
{
	static const char *const names[] = {"bytes", "i64", "u64", "f64", "str",
					    "actor"};

	return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* Notes why a typed read of argument i as `want` failed (rc), for the
 * message of a task function that returns rc; returns rc. */
static int shoal__arg_note(struct shoal_task *t, uint32_t i, uint32_t want, int rc)
{
	if (rc == SHOAL_EARGCOUNT)
		snprintf(t->arg_note, sizeof t->arg_note,
			 "argument %u read, %u given", i, t->nargs);
	else
		snprintf(t->arg_note, sizeof t->arg_note,
			 "argument %u is %s (%zu bytes), read as %s", i,
			 shoal__type_name(t->args[i].type), t->args[i].size,
			 shoal__type_name(want));
	t->arg_err = rc;
	return rc;
}

/* A number of `width` bytes into out. */
static int shoal__arg_fixed(struct shoal_task *t, uint32_t i, uint32_t type,
			    void *out, size_t width)
{
	const void *d;
	size_t n;
	int rc;

	if (!t || !out)
		return -EINVAL;
	rc = shoal__task_arg_typed(t, i, type, &d, &n);
	if (!rc && n != width)
		rc = SHOAL_EARGTYPE;
	if (rc)
		return shoal__arg_note(t, i, type, rc);
	memcpy(out, d, width);
	return 0;
}

SHOAL_API int shoal_task_arg_i64(struct shoal_task *task, uint32_t i,
				 int64_t *out)
{
	return shoal__arg_fixed(task, i, SHOAL_TYPE_I64, out, sizeof *out);
}

SHOAL_API int shoal_task_arg_u64(struct shoal_task *task, uint32_t i,
				 uint64_t *out)
{
	return shoal__arg_fixed(task, i, SHOAL_TYPE_U64, out, sizeof *out);
}

SHOAL_API int shoal_task_arg_f64(struct shoal_task *task, uint32_t i,
				 double *out)
{
	return shoal__arg_fixed(task, i, SHOAL_TYPE_F64, out, sizeof *out);
}

SHOAL_API int shoal_task_arg_str(struct shoal_task *task, uint32_t i,
				 const char **out)
{
	const void *d;
	size_t n;
	int rc;

	if (!task || !out)
		return -EINVAL;
	rc = shoal__task_arg_typed(task, i, SHOAL_TYPE_STR, &d, &n);
	if (!rc && (!n || ((const char *)d)[n - 1] != '\0'))
		rc = SHOAL_EARGTYPE; /* no NUL at its end: not a string */
	if (rc)
		return shoal__arg_note(task, i, SHOAL_TYPE_STR, rc);
	*out = d;
	return 0;
}

SHOAL_API int shoal_task_expect(struct shoal_task *task, uint32_t n)
{
	if (!task)
		return -EINVAL;
	if (task->nargs == n)
		return 0;
	snprintf(task->arg_note, sizeof task->arg_note,
		 "%u arguments given, %u expected", task->nargs, n);
	task->arg_err = SHOAL_EARGCOUNT;
	return SHOAL_EARGCOUNT;
}

/* The submitter's role, as the context names it. */
static uint32_t shoal__caller_of(uint32_t role)
{
	switch (role) {
	case SHOAL__ROLE_DRIVER:
		return SHOAL_CALLER_DRIVER;
	case SHOAL__ROLE_WORKER:
		return SHOAL_CALLER_TASK;
	case SHOAL__ROLE_ACTOR:
		return SHOAL_CALLER_ACTOR;
	case SHOAL__ROLE_ATTACHED:
		return SHOAL_CALLER_ATTACHED;
	default:
		return SHOAL_CALLER_GONE;
	}
}

SHOAL_API int shoal_task_context(const struct shoal_task *task,
				 struct shoal_task_context *out)
{
	uint32_t role = 0;

	if (!task || !out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	if (!task->v.discard)
		out->id = task->v.ret0; /* nil for a constructor */
	out->kind = task->v.kind;
	out->worker = task->v.worker;
	/* A snapshot of the submitter's slot: its pid and role while it
	 * lives, 0 once it is gone (or reused: the generation differs). */
	if (task->v.kind != SHOAL_KIND_CONSTRUCTOR)
		out->caller_pid = shoal__creator_who(task->rt->store, task->v.caller,
						     &role);
	out->caller = out->caller_pid ? shoal__caller_of(role) : SHOAL_CALLER_GONE;
	out->actor = task->v.self;
	return 0;
}

SHOAL_API shoal_id shoal_task_id(const struct shoal_task *task)
{
	return task && !task->v.discard ? task->v.ret0 : (shoal_id){0, 0};
}

SHOAL_API int shoal_task_self_actor(const struct shoal_task *task,
				    struct shoal_actor *out)
{
	if (!task || !out || task->v.self.magic != SHOAL_ACTOR_MAGIC)
		return -EINVAL;
	*out = task->v.self;
	return 0;
}
