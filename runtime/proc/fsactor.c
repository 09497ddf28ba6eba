/* SPDX-License-Identifier: MIT */
/*
 * runtime/fsactor.c - actors, the fork server's side.
 *
 * Requests come as datagrams on an abstract AF_UNIX socket (no file, gone
 * with the fork server) from any process of the runtime: the driver, a
 * worker, an actor, an attached program (actor.c sends them).  Its name
 * carries a random key (hdr->fs_key), so nobody can take it first and stop
 * the runtime from starting.  Anyone may send to an abstract name, and
 * the socket's queue holds a few datagrams (net.unix.max_dgram_qlen): so
 * each request carries a second random value that is in no name, the
 * token (hdr->fs_token: only processes that map the segment read it),
 * and a filter on the socket makes the kernel drop every datagram
 * without it in its sender's own send, before it takes a place in the
 * queue.  A flood from another user (or from anything that does not map
 * the segment) then leaves the queue to requests; it used to keep the
 * queue full, and every create's send waited for room the flooder kept
 * taking (bench/flood.c).  The kernel attaches the sender's credentials;
 * a datagram of another user is dropped unanswered (an answer would cost
 * the fork server a send per forged request).  A requester connects its
 * socket to the fork server's address, so the kernel delivers it nothing
 * from anyone else (no forged reply), and matches its request's random
 * nonce in the reply.
 * The fork server handles one request at a time, which makes it the one
 * writer of every actor slot's identity (actlayout.h): a name is checked
 * and taken, a slot found and filled, without any lock.
 *
 * Create: a FREE slot, or else a DEAD one (RECYCLING while it is filled;
 * lanes of the dead actor's callers may stay hooked until their owners
 * give them back: the new actor skips lanes of other generations).  The
 * slot gets the class, options,
 * name and constructor arguments (ref arguments are held by the fork
 * server until the actor is dead for good, since a restart runs the
 * constructor again), a new generation (release, ACT-R3) and STARTING
 * (ACT-R2); then the process is forked (actorproc.c).
 *
 * Death: SIGCHLD, or a kill request (SIGKILL, then a waitpid for that pid
 * alone).  The process's store slot is reaped.  With restarts left and no
 * "no restart" asked, the slot turns RESTARTING and a new process starts
 * (it settles the call that was running).  Otherwise the reason is written,
 * the state turns DEAD (seq_cst, ACT-S2 of actlayout.h) and every hooked
 * lane is drained: each queued or running call fails with
 * SHOAL_EACTORDIED.
 *
 * Relaxed: a slot's identity words that only the fork server writes, read
 * here (it is their one writer) or published by ACT-R2/ACT-R3; fs_key
 * and fs_token, published by FS-R1 (forkserver.c).
 */
#include <errno.h>
#include <linux/filter.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ext.h"
#include "fsproto.h"
#include "proc_int.h"
#include "lane.h"

/* Word i (0, 1) of a token as a classic BPF load reads it: big-endian. */
static uint32_t shoal__token_word(uint64_t token, int i)
{
	uint8_t b[8];
	const uint8_t *w = b + 4 * i;

	memcpy(b, &token, sizeof b);
	return (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 |
	       w[3];
}

/* Attaches the filter that passes a datagram of a request's size with
 * the token in it and drops anything else in the sender's send (the
 * kernel tells the sender nothing), and publishes a fresh token in the
 * header (before fs_pid).  0 or -1 (errno). */
static int shoal__fs_filter(int fd, struct shoal__rt_hdr *h)
{
	uint64_t token = shoal__fs_random();
	uint32_t at = offsetof(struct shoal__fs_msg, token);
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sizeof(struct shoal__fs_msg), 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, at),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, shoal__token_word(token, 0), 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, at + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, shoal__token_word(token, 1), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, UINT32_MAX), /* pass, whole */
		BPF_STMT(BPF_RET | BPF_K, 0),          /* drop */
	};
	struct sock_fprog prog = {.len = sizeof code / sizeof code[0],
				  .filter = code};

	atomic_store_explicit(&h->fs_token, token, memory_order_relaxed); /* FS-R1 */
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

/* Binds the fork server's socket, its filter on first (nothing is queued
 * unfiltered), under a fresh key (another, if a name is taken), and
 * publishes the key in the header (before fs_pid). */
int shoal__fs_actor_socket(const struct shoal__rt_view *v)
{
	struct sockaddr_un a;
	int one = 1, rc = -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (shoal__fs_filter(fd, v->hdr)) {
		close(fd);
		return -1;
	}
	for (int tries = 0; rc && tries < 16; tries++) {
		uint64_t key = shoal__fs_random();
		socklen_t len = shoal__fs_addr(getpid(), key, &a);

		rc = bind(fd, (struct sockaddr *)&a, len);
		if (!rc) /* FS-R1 publishes it */
			atomic_store_explicit(&v->hdr->fs_key, key, memory_order_relaxed);
		else if (errno != EADDRINUSE)
			break;
	}
	if (rc || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct shoal__actor_slot *shoal__fs_slot(struct shoal__fs *fs, uint32_t i)
{
	return &fs->v.actors[i];
}

static bool shoal__slot_live(uint32_t st)
{
	return st == SHOAL__A_STARTING || st == SHOAL__A_ALIVE ||
	       st == SHOAL__A_RESTARTING;
}

/* Constructor argument i: 1 and its ID if it is a ref, 0 if not, or the
 * decoding error. */
static int shoal__ctor_ref(const struct shoal__actor_slot *a, uint32_t i,
			   shoal_id *id)
{
	const uint8_t *data;
	uint32_t kind, len;
	int rc = shoal__args_decode(a->ctor_args, a->ctor_nargs, a->ctor_len, i,
				    &kind, &data, &len);

	if (rc || kind != SHOAL_ARG_REF)
		return rc;
	memcpy(id, data, sizeof *id);
	return 1;
}

/* Drops the holds on the ref arguments before argument `upto`. */
static void shoal__ctor_drop(struct shoal__fs *fs, struct shoal__actor_slot *a,
			     uint32_t upto)
{
	shoal_id id;

	for (uint32_t i = 0; i < a->ctor_nargs && i < upto; i++)
		if (shoal__ctor_ref(a, i, &id) == 1)
			shoal_drop(fs->store, id);
}

/* Holds every ref argument; on failure drops those held. */
static int shoal__ctor_hold(struct shoal__fs *fs, struct shoal__actor_slot *a)
{
	shoal_id id;

	for (uint32_t i = 0; i < a->ctor_nargs; i++) {
		int rc = shoal__ctor_ref(a, i, &id);

		if (rc == 1)
			rc = shoal_hold(fs->store, id);
		if (rc) {
			shoal__ctor_drop(fs, a, i);
			return rc;
		}
	}
	return 0;
}

static int shoal__fs_find_named(struct shoal__fs *fs, const char *name)
{
	for (uint32_t i = 0; i < fs->v.max_actors; i++) {
		struct shoal__actor_slot *a = shoal__fs_slot(fs, i);

		if (shoal__slot_live(atomic_load_explicit(&a->state,
							  memory_order_relaxed)) &&
		    !strncmp(a->name, name, sizeof a->name))
			return (int)i;
	}
	return -ENOENT;
}

/* Frees the lanes of a dead actor's callers that are gone (nobody
 * consumes them any more).  The others stay hooked until their owners
 * give them back: a reused slot's actor skips lanes of older generations
 * (actorproc.c), so the slot need not wait for them. */
static void shoal__fs_unhook_gone(struct shoal__fs *fs, struct shoal__actor_slot *a)
{
	struct shoal__lane_meta *m = fs->v.lmeta;

	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		/* ACT-A1 */
		uint32_t v = atomic_load_explicit(&a->lanes[k], memory_order_acquire);

		struct shoal__lane_pos p = {.lane = v - 1, .slot = a, .k = k};

		if (v && v <= fs->v.max_lanes &&
		    shoal__creator_gone(fs->store, m[v - 1].owner))
			shoal__lane_drain_free(fs->store, &fs->v, p, a,
					       SHOAL_EACTORDIED, "actor died");
	}
}

static int shoal__fs_free_slot(struct shoal__fs *fs)
{
	for (uint32_t i = 0; i < fs->v.max_actors; i++)
		if (atomic_load_explicit(&shoal__fs_slot(fs, i)->state,
					 memory_order_relaxed) == SHOAL__A_FREE)
			return (int)i;
	for (uint32_t i = 0; i < fs->v.max_actors; i++) {
		struct shoal__actor_slot *a = shoal__fs_slot(fs, i);

		if (atomic_load_explicit(&a->state, memory_order_relaxed) !=
		    SHOAL__A_DEAD)
			continue;
		/* Callers see the new generation (ACT-S1): not their actor.
		 * ACT-S2: RECYCLING before the lanes are read. */
		atomic_store_explicit(&a->state, SHOAL__A_RECYCLING,
				      memory_order_seq_cst);
		shoal__fs_unhook_gone(fs, a);
		return (int)i;
	}
	return -ENOSPC;
}

static int shoal__fs_actor_spawn(struct shoal__fs *fs, uint32_t i)
{
	struct shoal__actor_slot *a = shoal__fs_slot(fs, i);
	pid_t self = getpid(), pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char label[SHOAL__LABEL_MAX];

		/* The class and the slot, as shoal_actor_info knows them:
		 * "LoggingActor#3" (the slot's word checked again: it is
		 * in the segment). */
		snprintf(label, sizeof label, "%.63s#%u",
			 a->klass < fs->v.nclasses
				 ? fs->boot->reg->classes[a->klass].name : "actor",
			 i);
		shoal__child_begin(fs, self, true, label);
		shoal__actor_main(fs->boot, i);
	}
	fs->act_kids[i] = pid;
	SHOAL__STORE_CRASH(fs->store, ACTOR_FORKED);
	/* Our child, not reaped yet: its pid is its own (end.c reads the
	 * start time after the pid: release, acquire: ACT-R4, ACT-A4).  The
	 * child stores the same values itself before it says it is alive
	 * (publish_self). */
	atomic_store_explicit(&a->start, shoal__proc_start_time(pid),
			      memory_order_relaxed);
	atomic_store_explicit(&a->pid, pid, memory_order_release); /* ACT-R4 */
	return 0;
}

/* Every call queued or running fails; nobody consumes the lanes now.
 * One attempt per lane, no wait: a lane whose drain lock a live process
 * holds is drained by that process (its re-check after letting go, DR-S2
 * of actlayout.h), and a dead holder's lock is taken over (drain_lock).
 * The hooks are loaded seq_cst: ACT-S2, after DEAD (and ACT-A1). */
static void shoal__fs_drain_all(struct shoal__fs *fs, struct shoal__actor_slot *a,
				const char *why)
{
	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		/* ACT-S2 */
		uint32_t v = atomic_load_explicit(&a->lanes[k], memory_order_seq_cst);
		struct shoal__lane_pos p = {.lane = v - 1, .slot = a, .k = k};

		if (!v || v > fs->v.max_lanes)
			continue;
		shoal__lane_drain(fs->store, &fs->v, p, SHOAL_EACTORDIED, why);
	}
}

static void shoal__fs_actor_die(struct shoal__fs *fs, struct shoal__actor_slot *a,
				const char *why)
{
	if (why != a->why)
		snprintf(a->why, sizeof a->why, "%s", why);
	/* ACT-S2 */
	atomic_store_explicit(&a->state, SHOAL__A_DEAD, memory_order_seq_cst);
	SHOAL__STORE_CRASH(fs->store, ACTOR_DEAD);
	shoal__fs_drain_all(fs, a, a->why);
	shoal__ctor_drop(fs, a, UINT32_MAX);
}

static int shoal__fs_create(struct shoal__fs *fs, struct shoal__fs_msg *m)
{
	struct shoal__actor_slot *a;
	int i, rc;

	m->name[sizeof m->name - 1] = '\0';
	if (m->klass >= fs->v.nclasses || m->ctor_len > SHOAL_ACTOR_CTOR_BYTES ||
	    m->ctor_nargs > SHOAL_MAX_ARGS ||
	    m->max_concurrency > SHOAL_MAX_CONCURRENCY)
		return -EINVAL;
	i = m->name[0] ? shoal__fs_find_named(fs, m->name) : -ENOENT;
	if (i >= 0 && !(m->flags & SHOAL__FS_GET_IF_EXISTS))
		return -EEXIST;
	if (i < 0) {
		i = shoal__fs_free_slot(fs);
		if (i < 0)
			return i;
		a = shoal__fs_slot(fs, (uint32_t)i);
		a->klass = m->klass;
		a->max_restarts = m->max_restarts;
		a->max_task_retries = m->max_task_retries;
		atomic_store_explicit(&a->restarts, 0, memory_order_relaxed);
		atomic_store_explicit(&a->kill_flags, 0, memory_order_relaxed);
		for (uint32_t t = 0; t < SHOAL__ACT_THREADS; t++)
			atomic_store_explicit(&a->current[t], 0, memory_order_relaxed);
		a->max_concurrency = m->max_concurrency;
		atomic_store_explicit(&a->calls_run, 0, memory_order_relaxed);
		atomic_store_explicit(&a->calls_failed, 0, memory_order_relaxed);
		memcpy(a->name, m->name, sizeof a->name);
		a->why[0] = '\0';
		a->ctor_nargs = m->ctor_nargs;
		a->ctor_len = m->ctor_len;
		memcpy(a->ctor_args, m->ctor, m->ctor_len);
		rc = shoal__ctor_hold(fs, a);
		if (rc) {
			atomic_store_explicit(&a->state, SHOAL__A_FREE, memory_order_relaxed);
			return rc;
		}
		SHOAL__STORE_CRASH(fs->store, ACTOR_HELD);
		/* ACT-R3 (the load: the fork server's own word). */
		atomic_fetch_add_explicit(&a->generation, 1, memory_order_release);
		if (!atomic_load_explicit(&a->generation, memory_order_relaxed))
			atomic_store_explicit(&a->generation, 1, memory_order_release);
		/* ACT-R2 */
		atomic_store_explicit(&a->state, SHOAL__A_STARTING, memory_order_seq_cst);
		rc = shoal__fs_actor_spawn(fs, (uint32_t)i);
		if (rc) {
			shoal__fs_actor_die(fs, a, "could not fork the actor's process");
			return rc;
		}
	}
	a = shoal__fs_slot(fs, (uint32_t)i);
	m->index = (uint32_t)i;
	m->generation = atomic_load_explicit(&a->generation, memory_order_relaxed);
	m->klass = a->klass;
	m->pid = atomic_load_explicit(&a->pid, memory_order_relaxed);
	return 0;
}

static void shoal__fs_describe(const struct shoal__actor_slot *a, pid_t pid,
			       int status, char *buf, size_t cap)
{
	uint32_t flags = atomic_load_explicit(&a->kill_flags, memory_order_relaxed);

	if (flags & SHOAL__KILL_ASKED)
		snprintf(buf, cap, "actor %s killed (shoal_actor_kill)", a->name);
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "actor process %d died (signal %d: %s)", (int)pid,
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "actor process %d exited with status %d",
			 (int)pid, WEXITSTATUS(status));
}

/* Restarts the actor in slot i or declares it dead. */
static void shoal__fs_actor_gone(struct shoal__fs *fs, uint32_t i, pid_t pid,
				 int status)
{
	struct shoal__actor_slot *a = shoal__fs_slot(fs, i);
	uint32_t flags = atomic_load_explicit(&a->kill_flags, memory_order_relaxed);
	bool ctor_failed = WIFEXITED(status) &&
			   WEXITSTATUS(status) == SHOAL__ACTOR_EXIT_CTOR;
	uint32_t restarts = atomic_load_explicit(&a->restarts, memory_order_relaxed);
	char why[SHOAL__WHY_MAX];

	fs->act_kids[i] = 0;
	atomic_store_explicit(&a->pid, 0, memory_order_relaxed);
	shoal_store_reap(fs->store);
	if (shoal__fs_stopping(fs)) {
		/* ACT-R2 (no drain here: the end's sweep drains every lane). */
		atomic_store_explicit(&a->state, SHOAL__A_DEAD, memory_order_seq_cst);
		return;
	}
	if (!ctor_failed && !(flags & SHOAL__KILL_NORESTART) &&
	    restarts < a->max_restarts) {
		/* Why it died, kept while it lives again (shoal_actor_stat's
		 * last_death; published by RESTARTING's ACT-R2). */
		shoal__fs_describe(a, pid, status, a->why, sizeof a->why);
		atomic_store_explicit(&a->restarts, restarts + 1, memory_order_relaxed);
		atomic_store_explicit(&a->kill_flags, 0, memory_order_relaxed);
		/* ACT-R2 */
		atomic_store_explicit(&a->state, SHOAL__A_RESTARTING, memory_order_seq_cst);
		SHOAL__STORE_CRASH(fs->store, ACTOR_RESTARTING);
		if (!shoal__fs_actor_spawn(fs, i))
			return;
	}
	if (ctor_failed && a->why[0])
		snprintf(why, sizeof why, "%s", a->why);
	else
		shoal__fs_describe(a, pid, status, why, sizeof why);
	shoal__fs_actor_die(fs, a, why);
}

bool shoal__fs_actor_exited(struct shoal__fs *fs, pid_t pid, int status)
{
	for (uint32_t i = 0; i < fs->v.max_actors; i++) {
		if (fs->act_kids[i] != pid)
			continue;
		shoal__fs_actor_gone(fs, i, pid, status);
		return true;
	}
	return false;
}

static int shoal__fs_kill(struct shoal__fs *fs, const struct shoal__fs_msg *m)
{
	struct shoal__actor_slot *a;
	pid_t pid;
	int status;

	if (m->index >= fs->v.max_actors)
		return -EINVAL;
	a = shoal__fs_slot(fs, m->index);
	if (atomic_load_explicit(&a->generation, memory_order_relaxed) != m->generation ||
	    !shoal__slot_live(atomic_load_explicit(&a->state, memory_order_relaxed)))
		return SHOAL_EACTORDIED;
	atomic_store_explicit(&a->kill_flags,
			      SHOAL__KILL_ASKED | ((m->flags & SHOAL__FS_NO_RESTART)
						   ? SHOAL__KILL_NORESTART : 0),
			      memory_order_relaxed);
	pid = fs->act_kids[m->index];
	if (!pid)
		return SHOAL_EACTORDIED;
	kill(pid, SIGKILL); /* our own child, not reaped yet: no pid reuse */
	/* Bounded: a SIGKILLed child exits without running any code. */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	shoal__fs_actor_gone(fs, m->index, pid, status);
	return 0;
}

/* One datagram: checks who sent it, handles it, answers to its address. */
/* One datagram: answered (true), or none left, or another user's,
 * dropped (false, with *dropped set for the latter). */
static bool shoal__fs_actor_one(struct shoal__fs *fs, bool *dropped)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct shoal__fs_msg m;
	struct sockaddr_un from;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from,
			    .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c;
	struct ucred cred = {.uid = (uid_t)-1};
	ssize_t got;

	*dropped = false;
	got = recvmsg(fs->act_fd, &mh, MSG_DONTWAIT);
	if (got != (ssize_t)sizeof m) {
		/* a datagram of the wrong size (errno is stale then), or an
		 * error other than "none left" */
		*dropped = got >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
		return false;
	}
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			memcpy(&cred, CMSG_DATA(c), sizeof cred);
	if (cred.uid != getuid()) {
		*dropped = true; /* another user's: never answered */
		return false;
	}
	if (m.op == SHOAL__FS_ACTOR_CREATE)
		m.rc = shoal__fs_create(fs, &m);
	else if (m.op == SHOAL__FS_ACTOR_KILL)
		m.rc = shoal__fs_kill(fs, &m);
	else
		m.rc = -EINVAL;
	m.op = SHOAL__FS_REPLY;
	m.token = 0; /* its requester has it: no reply carries it */
	sendto(fs->act_fd, &m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&from,
	       mh.msg_namelen);
	return true;
}

/* Handles the next request of this user, reading past up to 256
 * datagrams it drops (another user's, or malformed) in the same wake-up:
 * a flood of them costs a receive each, not a loop of the fork server
 * each, and a real request behind them waits that much less. */
void shoal__fs_actor_request(struct shoal__fs *fs)
{
	bool dropped = true;

	for (int i = 0; i < 256 && dropped; i++)
		if (shoal__fs_actor_one(fs, &dropped))
			return;
}
