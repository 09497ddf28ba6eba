/* SPDX-License-Identifier: MIT */
/*
 * base/error.c - shoal_strerror: names for shoal's codes and negated errno.
 *
 * Returns static strings only, so it is safe from any thread.  Negated
 * errno values are named by strerrordesc_np() (glibc, thread-safe, static),
 * but for the few whose glibc text misleads in shoal's use (-ETIMEDOUT:
 * "Connection timed out"), and shoal's own codes by the table below.
 */
#include <errno.h>
#include <string.h>

#include <shoal/error.h>

struct shoal__errname {
	int code;
	const char *text;
};

static const struct shoal__errname shoal__errnames[] = {
	{SHOAL_ESTOREFULL, "object store full: nothing left to evict"},
	{SHOAL_EEVICTED, "object was evicted"},
	{SHOAL_EDELETED, "object was deleted"},
	{SHOAL_ESEALED, "object is already sealed"},
	{SHOAL_ENOTSEALED, "object is not sealed"},
	{SHOAL_EBADSEGMENT, "not a shoal segment, or a corrupt one"},
	{SHOAL_EVERSION, "segment made by an incompatible shoal (layout version "
			 "or required feature)"},
	{SHOAL_EOWNERDIED, "the object's creator died"},
	{SHOAL_ETOOMANYPROCS, "process table of the segment is full"},
	{SHOAL_ELEDGERFULL, "this process holds or pins too many objects"},
	{SHOAL_ENOSHM, "not enough shared memory for the store's segment"},
	{SHOAL_ENOTMINE,
	 "the segment belongs to another user, or others may write it"},
	{SHOAL_EREADONLY,
	 "the handle is read-only (shoal_store_inspect, shoal_runtime_inspect)"},
	{SHOAL_ENOMEMBARRIER,
	 "this process may not use membarrier(MEMBARRIER_CMD_GLOBAL), which "
	 "shoal's crash repair needs (Linux 4.16 or later, no seccomp filter "
	 "refusing it)"},
	{SHOAL_ETASK, "task failed"},
	{SHOAL_EWORKERDIED, "worker died"},
	{SHOAL_EACTORDIED, "actor died"},
	{SHOAL_ECANCELLED, "cancelled (shoal_cancel)"},
	{SHOAL_EDEADLINE, "the task's deadline passed"},
	{SHOAL_EPOOLEXHAUSTED,
	 "every worker is blocked in a nested get: the task could never run"},
	{SHOAL_EFORKSERVERDIED, "the runtime's fork server died"},
	{SHOAL_ESTOPPED, "the runtime stopped"},
	{SHOAL_ENOACTOR, "no such actor: no live actor has that name"},
	{SHOAL_ENOMETHOD, "no such method in the actor's class"},
	{SHOAL_ENOFUNCTION, "no such task function: none registered by that name"},
	{SHOAL_ENOCLASS, "no such actor class: none registered by that name"},
	{SHOAL_ELANEFULL,
	 "the actor's call queue from this process is full (max_pending_calls)"},
	{SHOAL_EARGTYPE, "the argument has another type than the one read"},
	{SHOAL_EARGCOUNT,
	 "the task or call got another number of arguments than it reads"},
	{SHOAL_EOBJTYPE,
	 "the object has another size or type than the one read"},
};

/* errno texts that mislead in shoal's use of the code: glibc says
 * "Connection timed out" for ETIMEDOUT, which shoal returns for any wait
 * whose timeout passed (a get, a call, a word another process holds). */
static const struct shoal__errname shoal__errno_texts[] = {
	{-ETIMEDOUT, "timed out: the wait's timeout passed"},
	{-EAGAIN, "not now: it would have to wait (a try or a poll)"},
};

static const char *shoal__find_error(const struct shoal__errname *t, size_t n,
				     int err)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == err)
			return t[i].text;
	return NULL;
}

static const char *shoal__own_error(int err)
{
	const char *text = shoal__find_error(
		shoal__errnames, sizeof shoal__errnames / sizeof shoal__errnames[0], err);

	return text ? text
		    : shoal__find_error(shoal__errno_texts,
					sizeof shoal__errno_texts /
						sizeof shoal__errno_texts[0],
					err);
}

SHOAL_API const char *shoal_strerror(int err)
{
	const char *text;

	if (err == 0)
		return "success";
	text = shoal__own_error(err);
	if (text)
		return text;
	if (err < 0 && err > -4000) {
		text = strerrordesc_np(-err);
		if (text)
			return text;
	}
	return "unknown shoal error";
}
