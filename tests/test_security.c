/* SPDX-License-Identifier: MIT */
/*
 * tests/test_security.c - another Unix user against a store and a runtime
 * (issue 9): "security tests run as a second Unix user created by the
 * test: foreign attach refused, forged replies refused, squatting refused
 * or harmless".
 *
 * Run as root (CI, this machine), each test makes a user of its own with
 * useradd (tests/lib/other_user.h: removed at the test's end, by the suite's
 * .fini after a failed assertion, or by its reaper process if the test
 * process dies) and forks an attacker that becomes that user.  The
 * attacker is forked before the test makes any store or runtime and keeps
 * only its two pipes, so it holds nothing of the test's: no mapping, no
 * fd.  It reports through its pipe (codes, counts) and its exit code; the
 * test checks each code exactly.  Every test ends by removing the user:
 * no process of it, no file of it in /dev/shm, and no user is left.
 *
 * Run by another user than root there is no second user to be: the
 * attacker stays this user, and each test checks what a same-user
 * neighbour meets instead (the same refusals where the kernel or shoal
 * refuse it too, what the same user is let do where that is the design,
 * and the mode bits that keep every other user out), so the suite asserts
 * something real either way and never skips.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "fsproto.h"
#include "proc_int.h"
#include "other_user.h"
#include "rtutil.h"
#include "testutil.h"

#define MIB (1024u * 1024u)
#define SQUAT_BYTES 65536u      /* a squatter's segment file */
#define SQUAT_SEED 0x5c0a7      /* its bytes (tu_fill) */
#define SQUAT_PIDS 1000         /* fork server pids squatted ahead */
#define FORGED_CREATES 40       /* creates under the forger */

/* The second user of this test (no reaper: none, this same user). */
static struct ou_user other;

/* The fork server this test stopped (SIGSTOP), continued by the test or,
 * after a failed assertion, by the suite's .fini (a stopped fork server
 * would not see the test process's end): 0 when none. */
static pid_t stopped_fs;

static void continue_fork_server(void)
{
	if (stopped_fs > 0)
		kill(stopped_fs, SIGCONT);
	stopped_fs = 0;
}

static void sec_setup(void)
{
	tu_setup();
	memset(&other, 0, sizeof other);
	other.fd = -1;
}

/* Children killed and reaped (tu_teardown), a stopped fork server
 * continued, then the user removed: a test that failed before its end
 * leaves nothing either. */
static void sec_teardown(void)
{
	tu_teardown();
	continue_fork_server();
	ou_remove(&other);
}

TestSuite(security, .init = sec_setup, .fini = sec_teardown);

/* ------------------------------------------------------------------ */
/* The other user and its attacker                                     */

/* Makes this test's other user: true for a user of its own (root), false
 * when the test is not root and plays a same-user neighbour. */
static bool other_user(void)
{
	int rc = ou_create(&other, 0);

	if (rc == -EPERM) {
		other.uid = getuid();
		other.gid = getgid();
		return false;
	}
	cr_assert_eq(rc, 0, "ou_create: %s", strerror(-rc));
	cr_assert_neq(other.uid, geteuid());
	cr_assert_neq(other.uid, 0);
	return true;
}

/* Removes the other user and checks that nothing of it is left: its
 * reaper saw no process of it alive and unlinked its /dev/shm files
 * while the uid was still its own (checked here, after userdel, the uid
 * may already be another test's user), then the user is gone. */
static void other_gone(void)
{
	char name[sizeof other.name];
	bool made = other.reaper > 0;

	memcpy(name, other.name, sizeof name);
	tu_assert_rc(ou_remove(&other), 0, "removing user %s", name);
	if (made)
		cr_assert_null(getpwnam(name), "user %s is still there", name);
}

struct peer {
	pid_t pid;
	int to, from; /* its stdin-like and stdout-like pipe ends */
};

typedef void (*attack_fn)(const void *arg, int in, int out);

/* Forks the attacker: it keeps only its pipe ends, becomes the other user
 * (when there is one), and runs fn; exit code 0 once fn returns. */
static struct peer attacker(attack_fn fn, const void *arg)
{
	struct peer p;
	int a[2], b[2];

	tu_pipe(a);
	tu_pipe(b);
	p.pid = tu_fork();
	if (p.pid == 0) {
		int keep[2] = {a[0], b[1]};

		ou_keep_fds(keep, 2);
		if (other.reaper > 0)
			TU_CHILD_CHECK(ou_become(&other) == 0, 2);
		fn(arg, a[0], b[1]);
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	p.to = a[1];
	p.from = b[0];
	return p;
}

/* Child side: a 64-bit value to the test. */
static void put_i64(int fd, int64_t v)
{
	if (write(fd, &v, sizeof v) != (ssize_t)sizeof v)
		_exit(TU_EXIT_IO);
}

/* Test side: a value put_i64 sent. */
static int64_t get_i64(int fd)
{
	int64_t v;
	char *p = (char *)&v;

	for (size_t i = 0; i < sizeof v; i++)
		p[i] = tu_read_byte(fd, TU_CHILD_DEADLINE_MS);
	return v;
}

/* Child side: the end of the test's pipe (it closed it), or a byte. */
static char wait_test(int in)
{
	char c = 0;

	while (read(in, &c, 1) < 0 && errno == EINTR)
		;
	return c;
}

/* Ends the attacker: its pipe closed, its exit code 0. */
static void attacker_done(struct peer *p)
{
	close(p->to);
	cr_assert_eq(tu_wait_exit(p->pid), 0, "the attacker failed");
	close(p->from);
}

/* ------------------------------------------------------------------ */
/* A squatted segment name                                             */

/* Creates the segment file `arg` (a name) first, open to all (0666), and
 * fills it with the SQUAT_SEED pattern; sends 0 or -errno. */
static void squat_segment(const void *arg, int in, int out)
{
	static uint8_t buf[SQUAT_BYTES];
	int fd = shm_open(arg, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	(void)in;
	tu_fill(buf, sizeof buf, SQUAT_SEED);
	if (fd < 0 || fchmod(fd, 0666) ||
	    pwrite(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
		put_i64(out, -errno);
		return;
	}
	close(fd);
	put_i64(out, 0);
}

/*
 * Another user took a segment's name first (the file in /dev/shm, open to
 * all, with bytes of its own).  Root's create fails with -EEXIST and its
 * errbuf names the holder; a runtime start by that name the same; root's
 * attach of the store or of a runtime refuses the file (SHOAL_ENOTMINE)
 * instead of mapping what that user can write under it; and the file is
 * as the squatter left it.  As a same user, the squatter's file is
 * refused for its mode (others may write it): the same codes, the
 * message naming this user.
 */
Test(security, a_squatted_segment_name_is_refused_and_its_holder_named)
{
	bool real = other_user();
	const char *name = tu_shm_name("squat");
	struct shoal_store_options o = tu_opts(MIB);
	struct shoal_runtime_options ro;
	struct shoal_store *s = NULL;
	struct shoal_runtime *rt = NULL;
	struct shoal_registry *reg = NULL;
	char why[512] = "", rwhy[512] = "", want[512], path[TU_NAME_LEN + 16];
	static uint8_t buf[SQUAT_BYTES];
	struct stat st;
	struct peer p = attacker(squat_segment, name);
	int fd;

	tu_assert_rc((int)get_i64(p.from), 0, "the squatter's create");
	attacker_done(&p);
	tu_shm_path(name, path, sizeof path);
	snprintf(want, sizeof want,
		 "%s exists: it belongs to uid %u (we are %u), mode 0666, %u bytes",
		 path, (unsigned)other.uid, (unsigned)geteuid(), SQUAT_BYTES);

	o.errbuf = why;
	o.errbuf_size = sizeof why;
	tu_assert_rc(shoal_store_create(name, &o, &s), -EEXIST);
	cr_assert_str_eq(why, want);
	tu_assert_rc(shoal_store_attach(name, &s), SHOAL_ENOTMINE, "%s",
		     real ? "another user's file" : "a file others may write");
	cr_assert_str_eq(shoal_strerror(SHOAL_ENOTMINE),
			 "the segment belongs to another user, or others may write it");

	tu_assert_rc(shoal_registry_open(&reg), 0);
	shoal_runtime_options_init(&ro);
	ro.num_workers = 1;
	ro.name = name;
	ro.store.errbuf = rwhy;
	ro.store.errbuf_size = sizeof rwhy;
	tu_assert_rc(shoal_runtime_start(reg, &ro, &rt), -EEXIST);
	cr_assert_str_eq(rwhy, want);
	tu_assert_rc(shoal_runtime_attach(name, &rt), SHOAL_ENOTMINE);
	shoal_registry_close(reg);

	/* Harmless: the file is the squatter's still, bytes and all. */
	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_uid, other.uid);
	cr_assert_eq(st.st_mode & 07777, 0666);
	cr_assert_eq(st.st_size, SQUAT_BYTES);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
	close(fd);
	cr_assert(tu_check(buf, sizeof buf, SQUAT_SEED), "the file was written");

	other_gone(); /* the reaper unlinks the other user's file */
	if (real)
		cr_assert(!tu_shm_exists(name), "the squatter's file is left");
}

/* ------------------------------------------------------------------ */
/* Attaching another user's store or runtime                           */

struct attach_names {
	const char *store, *runtime;
};

/* Once told, attaches the store and the runtime by name and opens their
 * files for reading; sends the four results (0 or a negative code).
 * Whatever it attached it lets go of. */
static void attach_theirs(const void *arg, int in, int out)
{
	const struct attach_names *n = arg;
	struct shoal_store *s = NULL;
	struct shoal_runtime *rt = NULL;
	char path[TU_NAME_LEN + 16];
	int rc;

	if (wait_test(in) != 'g')
		_exit(TU_EXIT_IO);
	rc = shoal_store_attach(n->store, &s);
	put_i64(out, rc);
	if (rc == 0)
		shoal_store_close(s);
	rc = shoal_runtime_attach(n->runtime, &rt);
	put_i64(out, rc);
	if (rc == 0)
		shoal_runtime_detach(rt);
	for (int i = 0; i < 2; i++) {
		int fd;

		tu_shm_path(i ? n->runtime : n->store, path, sizeof path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		put_i64(out, fd < 0 ? -errno : 0);
		if (fd >= 0)
			close(fd);
	}
}

static struct shoal_registry *one_task_registry(void)
{
	struct shoal_registry *reg = NULL;

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(reg, "add", rt_task_add, NULL), 0);
	return reg;
}

/* The file of a named segment: this user's, mode 0600. */
static void assert_private_file(const char *name)
{
	char path[TU_NAME_LEN + 16];
	struct stat st;

	tu_shm_path(name, path, sizeof path);
	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_uid, geteuid(), "%s", path);
	cr_assert_eq(st.st_mode & 07777, 0600, "%s: mode %04o", path,
		     (unsigned)(st.st_mode & 07777));
}

/*
 * Another user attaches root's named store and root's named runtime by
 * name, and opens their files: each is refused with -EACCES (the files
 * are 0600, root's), and the store is as it was (its object intact, no
 * process slot taken).  As a same user, both attaches are let in (the
 * boundary is the user, by design) and let go; the files are checked to
 * be this user's and 0600, which is what keeps every other user out.
 */
Test(security, another_user_cannot_attach_a_named_store_or_runtime)
{
	bool real = other_user();
	struct attach_names n = {tu_shm_name("store"), tu_shm_name("rt")};
	struct peer p = attacker(attach_theirs, &n);
	struct shoal_runtime_options ro;
	struct shoal_registry *reg = one_task_registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_store_options o = tu_opts(MIB);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(9, 1);
	uint32_t procs;
	int want = real ? -EACCES : 0;

	tu_assert_rc(shoal_store_create(n.store, &o, &s), 0);
	tu_assert_rc(tu_put(s, id, 4096, 7, 0), 0);
	shoal_runtime_options_init(&ro);
	ro.num_workers = 1;
	ro.name = n.runtime;
	tu_assert_rc(shoal_runtime_start(reg, &ro, &rt), 0);
	procs = tu_stats(s).processes;
	assert_private_file(n.store);
	assert_private_file(n.runtime);

	tu_write_byte(p.to, 'g');
	tu_assert_rc((int)get_i64(p.from), want, "the store's attach");
	tu_assert_rc((int)get_i64(p.from), want, "the runtime's attach");
	tu_assert_rc((int)get_i64(p.from), want, "opening the store's file");
	tu_assert_rc((int)get_i64(p.from), want, "opening the runtime's file");
	if (real)
		cr_assert_str_eq(shoal_strerror(-EACCES), "Permission denied");
	attacker_done(&p);

	cr_assert_eq(tu_get_check(s, id, 4096, 7, 0), 0, "the object changed");
	cr_assert_eq(tu_stats(s).processes, procs, "a process slot is taken");
	{
		int64_t a = 20, b = 22, got = 0;
		struct shoal_args args;
		struct shoal_view v;
		shoal_id ref;

		shoal_args_init(&args);
		shoal_args_bytes(&args, &a, sizeof a);
		shoal_args_bytes(&args, &b, sizeof b);
		tu_assert_rc(shoal_submit(rt, shoal_function(rt, "add"), &args, 1, &ref), 0);
		tu_assert_rc(shoal_get(shoal_runtime_store(rt), ref, 10000, &v), 0);
		cr_assert_eq(v.size, sizeof got);
		memcpy(&got, v.data, sizeof got);
		shoal_release(shoal_runtime_store(rt), &v);
		shoal_drop(shoal_runtime_store(rt), ref);
		cr_assert_eq(got, 42, "the runtime still runs tasks");
	}
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(n.store), 0);
	other_gone();
}

/* ------------------------------------------------------------------ */
/* Squatted fork server names                                          */

/* Binds an abstract datagram socket named `name`: 0, or -errno. */
static int bind_abstract(const char *name, int *fd)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t len = strlen(name);

	*fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	memcpy(a.sun_path + 1, name, len);
	if (bind(*fd, (struct sockaddr *)&a,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len))) {
		int rc = -errno;

		close(*fd);
		*fd = -1;
		return rc;
	}
	return 0;
}

/* One of the kernel's numbers from /proc/sys/kernel (ns_last_pid,
 * pid_max), or -1. */
static int kernel_number(const char *name)
{
	char path[64];
	FILE *f;
	int v = -1;

	snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
	f = fopen(path, "r");
	if (f && fscanf(f, "%d", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

/* The pid the kernel tries after p: the next, or after pid_max the first
 * past the reserved ones (RESERVED_PIDS, 300). */
static int next_pid(int p, int pid_max)
{
	return p + 1 < pid_max ? p + 1 : 300;
}

/*
 * Takes, for each of the next SQUAT_PIDS pids, the fork server's old
 * name ("shoal-fs.<pid>") and two of its names with a key: 0 and a random
 * one (another run of this test beside it holds other random ones); sends the last pid before them, the names it holds, and those
 * another process held already (EADDRINUSE); any other failure ends it
 * (exit 3).  Holds them until the test closes its pipe.
 */
static void squat_fork_server_names(const void *arg, int in, int out)
{
	int64_t held = 0, taken = 0;
	int last = kernel_number("ns_last_pid");
	int pid_max = kernel_number("pid_max");

	(void)arg;
	if (last < 0 || pid_max <= 300)
		_exit(TU_EXIT_IO);
	for (int i = 0, pid = last; i < SQUAT_PIDS; i++) {
		unsigned long long keys[2];

		pid = next_pid(pid, pid_max);
		keys[0] = 0;
		keys[1] = tu_splitmix((uint64_t)pid ^ (uint64_t)tu_now_ns());
		for (int k = 0; k < 3; k++) {
			char name[64];
			int fd, rc;

			if (k == 0)
				snprintf(name, sizeof name, "shoal-fs.%d", pid);
			else
				snprintf(name, sizeof name, SHOAL__FS_SOCK_FMT, pid,
					 keys[k - 1]);
			rc = bind_abstract(name, &fd);
			if (rc == -EADDRINUSE)
				taken++;
			else if (rc)
				_exit(3);
			else
				held++;
		}
	}
	put_i64(out, last);
	put_i64(out, held);
	put_i64(out, taken);
	wait_test(in);
}

/* True if pid is one of the SQUAT_PIDS the kernel tries after last. */
static bool squatted_pid(int pid, int last)
{
	int pid_max = kernel_number("pid_max");

	for (int i = 0, p = last; i < SQUAT_PIDS; i++) {
		p = next_pid(p, pid_max);
		if (p == pid)
			return true;
	}
	return false;
}

/* A started runtime: its fork server answers (an actor made and killed),
 * and its pid is one the squatter took names for. */
static void fork_server_serves(struct shoal_runtime *rt, int last)
{
	struct shoal_runtime_info info;
	struct shoal_actor_info ai;
	struct shoal_actor a;

	tu_assert_rc(shoal_runtime_info(rt, &info, NULL, 0), 0);
	cr_assert(squatted_pid(info.fork_server_pid, last),
		  "fork server pid %d is not among the %d squatted after %d (the "
		  "machine went through pids too fast for this test)",
		  (int)info.fork_server_pid, SQUAT_PIDS, last);
	tu_assert_rc(shoal_actor_create(rt, "Box", NULL, NULL, &a), 0);
	tu_assert_rc(shoal_actor_info(rt, a, &ai), 0);
	cr_assert_gt(ai.pid, 0);
	tu_assert_rc(shoal_actor_kill(rt, a, true), 0);
}

static int box_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int box_noop(struct shoal_task *t, void *self)
{
	(void)self;
	return shoal_task_return(t, 0, "ok", 2);
}

static struct shoal_registry *box_registry(void)
{
	struct shoal_registry *reg = NULL;

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_actor(reg, "Box", box_init, NULL), 0);
	tu_assert_rc(shoal_register_method(reg, "Box", "noop", box_noop), 0);
	return reg;
}

static struct shoal_runtime *start_box(struct shoal_registry *reg,
				       const char *name)
{
	struct shoal_runtime_options o;
	struct shoal_runtime *rt = NULL;

	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_extra_workers = 1;
	o.name = name;
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0, "start %s",
		     name ? name : "(private)");
	return rt;
}

/*
 * Another user holds, ahead of time, the fork server's abstract socket
 * names for the next SQUAT_PIDS pids the kernel will give (the old name
 * without a key, and two guesses of a key each): a private and a named
 * runtime still start and their fork servers, whose pids are among the
 * squatted ones, make actors.  Before the key (cadf4ed), a squatter of "shoal-fs.<pid>" made
 * every start fail.  As a same user, the same (nothing about a name
 * is kept from the same user).
 */
Test(security, squatted_fork_server_names_do_not_stop_a_start)
{
	struct peer p;
	struct shoal_registry *reg;
	struct shoal_runtime *priv, *named;
	int64_t last, held, taken;
	struct rlimit rl;

	other_user();
	/* 3 names a pid: a limit the attacker inherits (it may not raise
	 * its hard limit) */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4 * SQUAT_PIDS) {
		rl.rlim_cur = 4 * SQUAT_PIDS;
		if (rl.rlim_max < rl.rlim_cur && geteuid() == 0)
			rl.rlim_max = rl.rlim_cur;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "RLIMIT_NOFILE "
			     "%d: %s", 4 * SQUAT_PIDS, strerror(errno));
	}
	p = attacker(squat_fork_server_names, NULL);
	last = get_i64(p.from);
	held = get_i64(p.from);
	taken = get_i64(p.from);
	cr_assert_eq(held + taken, 3 * SQUAT_PIDS);
	/* The random guesses at least (the others may be another run's) */
	cr_assert_geq(held, SQUAT_PIDS, "held %" PRId64 ", taken before by "
		      "others %" PRId64, held, taken);
	reg = box_registry();
	priv = start_box(reg, NULL);
	named = start_box(reg, tu_shm_name("named"));
	fork_server_serves(priv, (int)last);
	fork_server_serves(named, (int)last);
	tu_assert_rc(shoal_runtime_shutdown(priv), 0);
	tu_assert_rc(shoal_runtime_shutdown(named), 0);
	shoal_registry_close(reg);
	attacker_done(&p);
	other_gone();
}

/* ------------------------------------------------------------------ */
/* Forged fork server replies and requests                             */

/* The abstract name at the end of a /proc/net/unix line ("@name"), into
 * a; its address length, or 0 for a line without one. */
static socklen_t abstract_of(const char *line, struct sockaddr_un *a)
{
	const char *at = strchr(line, '@');
	size_t len;

	if (!at || at[-1] != ' ')
		return 0;
	at++;
	len = strcspn(at, "\n");
	if (len == 0 || len > sizeof a->sun_path - 1)
		return 0;
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, at, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

/* True for an autobound name (5 hex digits): a requester's socket. */
static bool autobound(const struct sockaddr_un *a, socklen_t len)
{
	if (len != offsetof(struct sockaddr_un, sun_path) + 1 + 5)
		return false;
	for (int i = 1; i <= 5; i++)
		if (!strchr("0123456789abcdef", a->sun_path[i]))
			return false;
	return true;
}

struct forge_counts {
	int64_t passes;   /* scans of /proc/net/unix */
	int64_t requests; /* datagrams the kernel took for the fork server */
	int64_t forged;   /* replies sent to requester sockets */
	int64_t refused;  /* of which the kernel refused (EPERM: connected) */
};

/* One scan: a forged "created" reply to every requester socket, and a
 * request to the fork server's (a create as another user; as the same
 * user, whose creates the fork server makes, a "reply" it must refuse). */
static void forge_pass(int fd, pid_t fs, bool real, struct forge_counts *c)
{
	char prefix[32], line[512];
	FILE *f = fopen("/proc/net/unix", "r");
	struct shoal__fs_msg m;

	if (!f)
		_exit(TU_EXIT_IO);
	snprintf(prefix, sizeof prefix, "shoal-fs.%d.", (int)fs);
	memset(&m, 0, sizeof m);
	while (fgets(line, sizeof line, f)) {
		struct sockaddr_un a;
		socklen_t len = abstract_of(line, &a);
		bool server = len && !strncmp(a.sun_path + 1, prefix, strlen(prefix));

		if (!server && !autobound(&a, len))
			continue;
		m.op = server && real ? SHOAL__FS_ACTOR_CREATE : SHOAL__FS_REPLY;
		m.rc = 0;
		m.index = 0;
		m.generation = 1;
		m.pid = getpid();
		if (sendto(fd, &m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&a,
			   len) == (ssize_t)sizeof m)
			c->requests += server;
		else if (!server && errno == EPERM)
			c->refused++;
		c->forged += !server;
	}
	fclose(f);
	c->passes++;
}

/* The forger: the fork server's pid from the test, then scans until the
 * test says stop ("r" after the first); sends its counts. */
static void forger(const void *arg, int in, int out)
{
	struct forge_counts c = {0, 0, 0, 0};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool real = *(const bool *)arg;
	pid_t fs = (pid_t)-1;
	struct pollfd pf = {.fd = in, .events = POLLIN};

	if (fd < 0 || read(in, &fs, sizeof fs) != (ssize_t)sizeof fs)
		_exit(TU_EXIT_IO);
	do {
		forge_pass(fd, fs, real, &c);
		if (c.passes == 1)
			tu_child_write_byte(out, 'r');
	} while (poll(&pf, 1, 0) == 0);
	put_i64(out, c.passes);
	put_i64(out, c.requests);
	put_i64(out, c.forged);
	put_i64(out, c.refused);
}

/* The parent pid of a process (/proc/<pid>/stat), or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	size_t n;
	int ppid = -1;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* One create under the forger: an actor of its own, its process the fork
 * server's child; then killed. */
static void create_real_actor(struct shoal_runtime *rt, pid_t fs, int i)
{
	struct shoal_actor box;
	struct shoal_actor_info info;

	tu_assert_rc(shoal_actor_create(rt, "Box", NULL, NULL, &box), 0, "create %d", i);
	tu_assert_rc(shoal_actor_info(rt, box, &info), 0, "create %d", i);
	cr_assert(info.state == SHOAL_ACTOR_ALIVE ||
		  info.state == SHOAL_ACTOR_STARTING, "create %d: state %u", i,
		  info.state);
	cr_assert_str_eq(info.klass, "Box", "create %d", i);
	cr_assert_gt(info.pid, 0, "create %d: no process", i);
	cr_assert_eq(parent_of(info.pid), fs, "create %d: process %d is not the "
		     "fork server's child", i, (int)info.pid);
	tu_assert_rc(shoal_actor_kill(rt, box, true), 0, "kill %d", i);
}

/*
 * Another user forges the fork server's replies to every requester socket
 * it sees in /proc/net/unix, and sends the fork server create requests,
 * while this process creates and kills actors: every create gets its own
 * actor (alive, of its class, a child of the fork server), and the
 * forger's requests made none: the actor slots' generations add up to
 * this test's creates exactly, and no actor is left.  Before cadf4ed,
 * forged replies were taken (a handle to nothing, or a create answered
 * before the fork server made anything).  As a same user, the forged
 * replies are refused the same way (requesters are connected to the fork
 * server); the requests sent are "replies", which it must refuse.
 */
Test(security, forged_fork_server_replies_are_never_taken)
{
	bool real = other_user();
	struct peer p = attacker(forger, &real);
	struct shoal_registry *reg = box_registry();
	struct shoal_runtime *rt = start_box(reg, NULL);
	struct shoal_runtime_info info;
	struct shoal__actor_slot *slots = rt->v.actors;
	struct forge_counts c;
	uint64_t generations = 0;

	tu_assert_rc(shoal_runtime_info(rt, &info, NULL, 0), 0);
	cr_assert_eq(write(p.to, &info.fork_server_pid, sizeof info.fork_server_pid),
		     (ssize_t)sizeof info.fork_server_pid);
	cr_assert_eq(tu_read_byte(p.from, TU_CHILD_DEADLINE_MS), 'r');
	for (int i = 0; i < FORGED_CREATES; i++)
		create_real_actor(rt, info.fork_server_pid, i);
	tu_write_byte(p.to, 's');
	c.passes = get_i64(p.from);
	c.requests = get_i64(p.from);
	c.forged = get_i64(p.from);
	c.refused = get_i64(p.from);
	attacker_done(&p);
	cr_log_info("forger (%s): %" PRId64 " passes, %" PRId64 " replies forged "
		    "(%" PRId64 " refused by the kernel), %" PRId64 " requests",
		    real ? "another user" : "the same user", c.passes, c.forged,
		    c.refused, c.requests);
	cr_assert_geq(c.passes, 2);
	cr_assert_gt(c.requests, 0, "no request of the forger reached the fork "
		     "server's socket (%" PRId64 " passes)", c.passes);

	for (uint32_t i = 0; i < rt->v.max_actors; i++) {
		struct shoal_actor_info ai;
		struct shoal_actor h = {.index = i,
					.generation = atomic_load(&slots[i].generation),
					.klass = 0, .magic = SHOAL_ACTOR_MAGIC};

		generations += h.generation;
		if (h.generation)
			cr_assert(shoal_actor_info(rt, h, &ai) != 0 ||
				  ai.state == SHOAL_ACTOR_DEAD,
				  "slot %u: an actor nobody asked for", i);
	}
	cr_assert_eq(generations, FORGED_CREATES, "%" PRIu64 " actors made for "
		     "%d creates (forged: %" PRId64 " replies, %" PRId64
		     " refused; %" PRId64 " requests)", generations,
		     FORGED_CREATES, c.forged, c.refused, c.requests);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
	other_gone();
}

/* ------------------------------------------------------------------ */
/* A flood of datagrams at the fork server                             */

/* Waits (bounded) until the kernel shows pid stopped ('T'). */
static void wait_stopped(pid_t pid)
{
	int64_t deadline = tu_now_ms() + TU_CHILD_DEADLINE_MS;
	struct timespec tick = {0, 200000};

	while (tu_proc_state(pid) != 'T') {
		cr_assert_lt(tu_now_ms(), deadline, "process %d did not stop",
			     (int)pid);
		nanosleep(&tick, NULL);
	}
}

/* The fork server's address (/proc/net/unix), as another user finds it;
 * its length, or 0. */
static socklen_t fork_server_address(pid_t fs, struct sockaddr_un *a)
{
	char prefix[32], line[512];
	FILE *f = fopen("/proc/net/unix", "r");
	socklen_t len = 0;

	snprintf(prefix, sizeof prefix, "shoal-fs.%d.", (int)fs);
	while (f && !len && fgets(line, sizeof line, f)) {
		len = abstract_of(line, a);
		if (len && strncmp(a->sun_path + 1, prefix, strlen(prefix)))
			len = 0;
	}
	if (f)
		fclose(f);
	return len;
}

/* The flooder: the fork server's pid, then, once told, `*arg` datagrams
 * of a request's size to its socket, never waiting (a create as another
 * user, a "reply" as the same user); sends how many the kernel took, how
 * many it refused for want of room (EAGAIN), and how many failed
 * otherwise. */
static void flood_fork_server(const void *arg, int in, int out)
{
	int n = *(const int *)arg;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int64_t took = 0, full = 0, failed = 0;
	struct shoal__fs_msg m;
	struct sockaddr_un a;
	socklen_t len;
	pid_t fs;

	if (fd < 0 || read(in, &fs, sizeof fs) != (ssize_t)sizeof fs)
		_exit(TU_EXIT_IO);
	len = fork_server_address(fs, &a);
	if (!len)
		_exit(3);
	memset(&m, 0, sizeof m);
	m.op = other.reaper > 0 ? SHOAL__FS_ACTOR_CREATE : SHOAL__FS_REPLY;
	if (wait_test(in) != 'g')
		_exit(TU_EXIT_IO);
	for (int i = 0; i < n; i++) {
		m.nonce = (uint64_t)i;
		if (sendto(fd, &m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&a,
			   len) == (ssize_t)sizeof m)
			took++;
		else if (errno == EAGAIN)
			full++;
		else
			failed++;
	}
	put_i64(out, took);
	put_i64(out, full);
	put_i64(out, failed);
}

struct creator {
	struct shoal_runtime *rt;
	int tid_w;               /* its thread id goes here first */
	struct shoal_actor actor;
	int rc;
};

static void *create_one(void *arg)
{
	struct creator *c = arg;
	pid_t tid = gettid();

	if (write(c->tid_w, &tid, sizeof tid) != (ssize_t)sizeof tid)
		c->rc = -EIO;
	else
		c->rc = shoal_actor_create(c->rt, "Box", NULL, NULL, &c->actor);
	return NULL;
}

/* The system call thread tid of this process sleeps in, once it sleeps
 * in a send or a poll (bounded wait); -1 if it never did. */
static long sleeping_in(pid_t tid)
{
	int64_t deadline = tu_now_ms() + TU_CHILD_DEADLINE_MS;
	struct timespec tick = {0, 200000};
	char path[64];

	do {
		long nr = -1;
		FILE *f;

		snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
		f = fopen(path, "r");
		if (f && fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		if (f)
			fclose(f);
		if ((nr == SYS_sendto || nr == SYS_poll || nr == SYS_ppoll) &&
		    tu_proc_state(tid) == 'S')
			return nr;
		nanosleep(&tick, NULL);
	} while (tu_now_ms() < deadline);
	return -1;
}

/*
 * Another user floods the fork server's socket while the fork server
 * reads nothing (stopped): the kernel takes every datagram and drops it
 * in the sender's own send (the socket's filter: no request token), so
 * none takes room in the fork server's queue; a create that comes after
 * has its request queued at once (its thread waits in poll for the
 * answer, not in sendto for room), and once the fork server runs again
 * the create gets its actor, the only one made.  Before, the flood filled
 * the queue (max_dgram_qlen datagrams) and every create's send waited
 * for room the flooder kept taking: creates slowed under a flood, one
 * took 5.2 s (bench/flood.c).  The same with a same-user flooder that
 * does not map the segment (it cannot know the token either).
 */
Test(security, a_flood_takes_no_room_from_requests)
{
	bool real = other_user();
	int qlen = 10, n;
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
	struct peer p;
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_runtime_info info;
	struct creator c = {.rc = 1};
	int64_t took, full, failed;
	pthread_t th;
	pid_t tid;
	long nr;
	int t[2];

	if (f) {
		cr_assert_eq(fscanf(f, "%d", &qlen), 1);
		fclose(f);
	}
	n = 4 * (qlen + 1) > 64 ? 4 * (qlen + 1) : 64;
	p = attacker(flood_fork_server, &n);
	reg = box_registry();
	rt = start_box(reg, NULL);
	tu_assert_rc(shoal_runtime_info(rt, &info, NULL, 0), 0);
	cr_assert_eq(write(p.to, &info.fork_server_pid, sizeof info.fork_server_pid),
		     (ssize_t)sizeof info.fork_server_pid);
	cr_assert_eq(kill(info.fork_server_pid, SIGSTOP), 0);
	stopped_fs = info.fork_server_pid;
	wait_stopped(info.fork_server_pid);

	tu_write_byte(p.to, 'g');
	took = get_i64(p.from);
	full = get_i64(p.from);
	failed = get_i64(p.from);
	attacker_done(&p);

	tu_pipe(t);
	c.rt = rt;
	c.tid_w = t[1];
	cr_assert_eq(pthread_create(&th, NULL, create_one, &c), 0);
	cr_assert_eq(read(t[0], &tid, sizeof tid), (ssize_t)sizeof tid);
	nr = sleeping_in(tid);
	continue_fork_server();
	cr_assert_eq(pthread_join(th, NULL), 0);
	close(t[0]);
	close(t[1]);
	cr_assert(nr == SYS_poll || nr == SYS_ppoll,
		  "the create %s (the flood: %" PRId64 " datagrams taken, %" PRId64
		  " refused for room, of %d)",
		  nr == SYS_sendto ? "waited for room in the fork server's queue"
				   : "never waited for its answer",
		  took, full, n);
	cr_assert_eq(took, n, "%" PRId64 " of %d datagrams taken, %" PRId64
		     " refused for room: the flood has room in the queue", took, n,
		     full);
	cr_assert_eq(full, 0);
	cr_assert_eq(failed, 0);
	tu_assert_rc(c.rc, 0, "the create after the flood");
	{
		struct shoal__actor_slot *slots = rt->v.actors;
		uint64_t generations = 0;
		struct shoal_actor_info ai;

		for (uint32_t i = 0; i < rt->v.max_actors; i++)
			generations += atomic_load(&slots[i].generation);
		cr_assert_eq(generations, 1, "%" PRIu64 " actors made (%s flood)",
			     generations, real ? "another user's" : "a same user's");
		tu_assert_rc(shoal_actor_info(rt, c.actor, &ai), 0);
		cr_assert_eq(parent_of(ai.pid), info.fork_server_pid);
	}
	tu_assert_rc(shoal_actor_kill(rt, c.actor, true), 0);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
	other_gone();
}
