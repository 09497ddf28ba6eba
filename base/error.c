/* SPDX-License-Identifier: MIT */
/*
 * base/error.c - shoal_strerror: names for shoal's codes and negated errno.
 *
 * Returns static strings only, so it is safe from any thread.  Negated
 * errno values are named by strerrordesc_np() (glibc, thread-safe, static),
 * and shoal's own codes by the table below.
 */
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
	{SHOAL_ETASK, "task failed"},
	{SHOAL_EWORKERDIED, "worker died"},
	{SHOAL_EACTORDIED, "actor died"},
	{SHOAL_ECANCELLED, "cancelled (shoal_cancel)"},
	{SHOAL_EDEADLINE, "the task's deadline passed"},
	{SHOAL_EPOOLEXHAUSTED,
	 "every worker is blocked in a nested get: the task could never run"},
	{SHOAL_EFORKSERVERDIED, "the runtime's fork server died"},
	{SHOAL_ESTOPPED, "the runtime stopped"},
};

static const char *shoal__own_error(int err)
{
	for (size_t i = 0; i < sizeof shoal__errnames / sizeof shoal__errnames[0]; i++)
		if (shoal__errnames[i].code == err)
			return shoal__errnames[i].text;
	return NULL;
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
