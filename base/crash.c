/* SPDX-License-Identifier: MIT */
/*
 * base/crash.c - arming and firing the crash points of crash.h.
 *
 * Firing is only compiled into test builds (SHOAL_CRASH_POINTS); the
 * arming functions exist in every build so that the names stay checked,
 * and do nothing useful where no point fires.  A handle is armed by one
 * thread before it is shared; `left` is then only touched by the thread
 * that passes the point (tests drive one thread per process).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"

static const char *const shoal__crash_names[] = {
#define SHOAL__CP_NAME(name, scenario, what) #name,
	SHOAL__CRASH_POINTS(SHOAL__CP_NAME)
	SHOAL__RT_CRASH_POINTS(SHOAL__CP_NAME)
	SHOAL__HEAP_LEAK_POINTS(SHOAL__CP_NAME)
	SHOAL__CREATE_CRASH_POINTS(SHOAL__CP_NAME)
	SHOAL__START_CRASH_POINTS(SHOAL__CP_NAME)
#undef SHOAL__CP_NAME
};

const char *shoal__crash_name(unsigned p)
{
	return p < SHOAL__CP_COUNT ? shoal__crash_names[p] : NULL;
}

void shoal__crash_arm(struct shoal__crash *c, unsigned p, uint32_t n)
{
	c->point = p < SHOAL__CP_COUNT ? p + 1 : 0;
	c->left = n ? n : 1;
	c->stop = 0;
}

void shoal__crash_from_env(struct shoal__crash *c)
{
#ifdef SHOAL_CRASH_POINTS
	const char *spec = getenv("SHOAL_CRASH");
	size_t len;

	if (!spec || !*spec)
		return;
	len = strcspn(spec, ":");
	for (unsigned p = 0; p < SHOAL__CP_COUNT; p++)
		if (strlen(shoal__crash_names[p]) == len &&
		    !strncmp(spec, shoal__crash_names[p], len)) {
			shoal__crash_arm(c, p, spec[len] ? (uint32_t)atoi(spec + len + 1) : 1);
			c->stop = strstr(spec + len, ":stop") != NULL;
		}
#else
	(void)c;
#endif
}

#ifdef SHOAL_CRASH_POINTS
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p)
{
	if (c->point != (uint32_t)p + 1 || --c->left)
		return;
	if (c->stop) { /* once: held until the test sends SIGCONT */
		c->point = 0;
		raise(SIGSTOP);
		return;
	}
	kill(getpid(), SIGKILL);
	for (;;)
		pause(); /* SIGKILL is delivered before kill() returns */
}
#endif
