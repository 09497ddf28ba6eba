/* SPDX-License-Identifier: MIT */
/*
 * attach - a separate program joins a named runtime (Ray's
 * ray.init(address=...) from a second program on the same machine).
 *
 * Concept.  A runtime started with a name can be reached by any program
 * of the same user: shoal_runtime_attach maps its segment, shoal_function
 * finds a function the driver registered by its name, and the program
 * submits tasks, gets results and puts objects with no daemon in between.
 * Only 16-byte IDs cross between the programs; the objects stay in shared
 * memory.
 *
 * One binary, two roles:
 *   driver  (no argument)  starts a runtime named /shoal-attach-<pid> with
 *           one function, mul(a, b), then runs this same binary again
 *           (fork, then exec of /proc/self/exe: argv[0] need not be a
 *           path) in the client role, with the runtime's name;
 *   client  (--client NAME) attaches, submits mul(6, 7) by the function's
 *           name, gets 42, puts an object and prints its ID on stdout,
 *           then waits until the driver has taken its own hold on it
 *           (the driver closes the client's stdin), detaches and exits.
 * The driver reads the ID from the client's stdout, holds the object,
 * lets the client go, waits for it to exit 0, then reads the object by
 * its ID (still there: the driver's hold keeps it after the client's
 * went with its detach), checks its bytes, drops it and shuts down.
 *
 * Run: build/examples/attach.  Exit status 0 if every step gave what it
 * should, 1 otherwise (the reason on stderr).  `meson test -C build
 * --suite examples attach` runs it.
 *
 * Nothing is left behind, on any path: the driver's shutdown stops every
 * process of the runtime and unlinks the segment (it runs after every
 * failure, after the client was killed and reaped); if the driver dies,
 * the runtime's fork server does the same, and the client, which asked
 * for SIGKILL at its parent's death (PR_SET_PDEATHSIG), dies too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal/shoal.h>

#define TIMEOUT_MS 10000
#define GREETING_MAX 64

/* mul(a, b) -> a * b, two int64 arguments by value. */
static int mul(struct shoal_task *t, void *user)
{
	int64_t v[2], product;

	(void)user;
	for (uint32_t i = 0; i < 2; i++) {
		const void *data;
		size_t size;
		int rc = shoal_task_arg(t, i, &data, &size);

		if (rc)
			return rc;
		if (size != sizeof v[i])
			return shoal_task_fail(t, SHOAL_ETASK, "mul: argument %u "
					       "is not an int64", i);
		memcpy(&v[i], data, sizeof v[i]);
	}
	product = v[0] * v[1];
	return shoal_task_return(t, 0, &product, sizeof product);
}

/* ------------------------------------------------------------------ */
/* The client                                                         */

/* mul(6, 7) through the function's name, as a program that never saw
 * the driver's registry does it. */
static int client_mul(struct shoal_runtime *rt)
{
	struct shoal_store *st = shoal_runtime_store(rt);
	const int64_t a = 6, b = 7;
	struct shoal_args args;
	struct shoal_view v;
	int64_t product = 0;
	shoal_id ref;
	int fn = shoal_function(rt, "mul");
	int rc;

	if (fn < 0) {
		fprintf(stderr, "attach: client: no function mul: %s\n",
			shoal_strerror(fn));
		return 1;
	}
	shoal_args_init(&args);
	shoal_args_bytes(&args, &a, sizeof a);
	shoal_args_bytes(&args, &b, sizeof b);
	rc = shoal_submit(rt, fn, &args, 1, &ref);
	if (rc) {
		fprintf(stderr, "attach: client: submit: %s\n", shoal_strerror(rc));
		return 1;
	}
	rc = shoal_get(st, ref, TIMEOUT_MS, &v);
	if (!rc) {
		if (v.size == sizeof product)
			memcpy(&product, v.data, sizeof product);
		shoal_release(st, &v);
	}
	shoal_drop(st, ref);
	if (rc || product != 42) {
		fprintf(stderr, "attach: client: mul(6, 7): %s, %" PRId64 "\n",
			shoal_strerror(rc), product);
		return 1;
	}
	fprintf(stderr, "attach: client %d: mul(6, 7) = 42, run by the "
		"driver's workers\n", (int)getpid());
	return 0;
}

static int client(const char *name)
{
	struct shoal_runtime *rt;
	char greeting[GREETING_MAX], hex[SHOAL_ID_HEX_LEN + 1], c;
	shoal_id id;
	int rc;

	rc = shoal_runtime_attach(name, &rt);
	if (rc) {
		fprintf(stderr, "attach: client: attach %s: %s\n", name,
			shoal_strerror(rc));
		return 1;
	}
	rc = client_mul(rt);
	if (!rc) {
		snprintf(greeting, sizeof greeting, "hello from client %d",
			 (int)getpid());
		rc = shoal_put(shoal_runtime_store(rt), greeting,
			       strlen(greeting) + 1, TIMEOUT_MS, &id);
		if (rc)
			fprintf(stderr, "attach: client: put: %s\n",
				shoal_strerror(rc));
	}
	if (!rc) {
		/* The ID, then wait for the driver's word (EOF on stdin): until
		 * then this program's hold keeps the object. */
		shoal_id_format(id, hex);
		printf("%s\n", hex);
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
	}
	/* Detach drops this program's holds (the put's among them). */
	if (shoal_runtime_detach(rt))
		rc = 1;
	return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* The driver                                                         */

struct child {
	pid_t pid;
	int to;    /* its stdin, or -1 */
	int from;  /* its stdout, or -1 */
};

/* Runs this binary again in the client role, its stdin and stdout piped
 * to us.  The child asks for SIGKILL when we die, and checks that we had
 * not died already before it asked. */
static int start_client(const char *name, struct child *c)
{
	char self[PATH_MAX];
	int in[2], out[2];
	pid_t parent = getpid();
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);

	if (len < 0)
		return -errno;
	self[len] = '\0';
	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(self, self, "--client", name, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (c->pid < 0) {
		close(in[1]);
		close(out[0]);
		return -errno;
	}
	c->to = in[1];
	c->from = out[0];
	return 0;
}

/* Waits for the child; its exit status, or 128 + its signal. */
static int reap(struct child *c)
{
	int st;

	if (c->to >= 0)
		close(c->to);
	if (c->from >= 0)
		close(c->from);
	c->to = c->from = -1;
	while (waitpid(c->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	c->pid = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The client's one line: the ID of the object it put. */
static int read_id(int fd, shoal_id *id)
{
	char line[SHOAL_ID_HEX_LEN + 2];
	size_t n = 0;

	while (n < sizeof line - 1) {
		ssize_t r = read(fd, &line[n], 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return shoal_id_parse(line, id);
}

/* Reads the client's object by ID and checks its bytes. */
static int check_object(struct shoal_store *st, shoal_id id, pid_t client)
{
	char want[GREETING_MAX];
	struct shoal_view v;
	int rc = shoal_get(st, id, TIMEOUT_MS, &v);

	if (rc) {
		fprintf(stderr, "attach: driver: get: %s\n", shoal_strerror(rc));
		return 1;
	}
	snprintf(want, sizeof want, "hello from client %d", (int)client);
	rc = v.size == strlen(want) + 1 && !memcmp(v.data, want, v.size) ? 0 : 1;
	if (rc)
		fprintf(stderr, "attach: driver: the object's bytes are not "
			"\"%s\"\n", want);
	else
		printf("attach: driver: read \"%s\" by its ID, after the client "
		       "detached\n", (const char *)v.data);
	shoal_release(st, &v);
	return rc;
}

static int drive(struct shoal_runtime *rt, const char *name)
{
	struct shoal_store *st = shoal_runtime_store(rt);
	struct child c = {-1, -1, -1};
	shoal_id id;
	pid_t client_pid;
	int rc, status;

	rc = start_client(name, &c);
	if (rc) {
		fprintf(stderr, "attach: driver: start the client: %s\n",
			strerror(-rc));
		return 1;
	}
	client_pid = c.pid;
	printf("attach: driver: started client %d\n", (int)client_pid);
	rc = read_id(c.from, &id);
	if (!rc)
		rc = shoal_hold(st, id);
	if (rc) {
		fprintf(stderr, "attach: driver: no object from the client: %s\n",
			shoal_strerror(rc));
		kill(c.pid, SIGKILL);
		reap(&c);
		return 1;
	}
	status = reap(&c); /* EOF on its stdin: it detaches and exits */
	if (status != 0) {
		fprintf(stderr, "attach: driver: the client exited with %d\n",
			status);
		shoal_drop(st, id);
		return 1;
	}
	rc = check_object(st, id, client_pid);
	shoal_drop(st, id);
	return rc;
}

static int driver(void)
{
	struct shoal_runtime_options opts;
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	char name[64];
	int rc;

	snprintf(name, sizeof name, "/shoal-attach-%d", (int)getpid());
	rc = shoal_registry_open(&reg);
	if (!rc)
		rc = shoal_register_task(reg, "mul", mul, NULL);
	if (rc) {
		fprintf(stderr, "attach: registry: %s\n", shoal_strerror(rc));
		shoal_registry_close(reg);
		return 1;
	}
	shoal_runtime_options_init(&opts);
	opts.name = name;
	opts.num_workers = 1;
	opts.store.capacity = 16u << 20;
	rc = shoal_runtime_start(reg, &opts, &rt);
	shoal_registry_close(reg);
	if (rc) {
		fprintf(stderr, "attach: start %s: %s\n", name, shoal_strerror(rc));
		return 1;
	}
	printf("attach: driver %d: runtime %s started\n", (int)getpid(), name);
	rc = drive(rt, name);
	/* Stops the workers and unlinks the segment, whatever happened. */
	if (shoal_runtime_shutdown(rt)) {
		fprintf(stderr, "attach: shutdown failed\n");
		rc = 1;
	}
	printf("attach: %s\n", rc ? "FAILED" : "ok, runtime stopped and "
	       "its segment removed");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--client"))
		return client(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: %s  (the client role, --client NAME, is "
			"for the driver to start)\n", argv[0]);
		return 2;
	}
	return driver();
}
