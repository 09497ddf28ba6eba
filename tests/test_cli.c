/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli.c - the shoal command (build/tools/shoal, run as a child
 * process): each command's text against a runtime in a known state
 * (inspect_scene.h), its --json parsed back by python3 with asserts on
 * the fields, --watch with --count and with SIGTERM, --help and --version
 * (stdout, exit 0), usage errors (stderr, exit 2), and a missing name, a
 * foreign file, another version and a store without a runtime (one line
 * with shoal_strerror's text, exit 1); and that it works with every
 * process slot of the store taken.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <shoal/shoal.h>

#include "inspect_scene.h"
#include "layout.h"
#include "testutil.h"

TestSuite(cli, .init = tu_setup, .fini = tu_teardown);

#define OUT_MAX (256 * 1024)

struct run {
	int status;      /* exit code, or -1 for a signal or a hang */
	char out[OUT_MAX];
	char err[8192];
};

/* Drains fd into buf (NUL-terminated) until EOF; false at EOF. */
static bool drain(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n = read(fd, buf + *len, cap - 1 - *len);

	if (n <= 0)
		return false;
	*len += (size_t)n;
	buf[*len] = '\0';
	return *len < cap - 1;
}

/* Runs argv[0] with argv, input (may be NULL) on its stdin; collects
 * stdout and stderr until both close, then its exit status (bounded). */
static void run(struct run *r, const char *const *argv, const char *input)
{
	int in[2], out[2], err[2], st;
	size_t no = 0, ne = 0;
	bool oo = true, eo = true;
	pid_t pid;

	tu_pipe(in);
	tu_pipe(out);
	tu_pipe(err);
	r->out[0] = r->err[0] = '\0';
	pid = tu_fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (input)
		cr_assert_eq(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	while (oo || eo) {
		struct pollfd p[2] = {{.fd = oo ? out[0] : -1, .events = POLLIN},
				      {.fd = eo ? err[0] : -1, .events = POLLIN}};

		cr_assert_gt(poll(p, 2, TU_CHILD_DEADLINE_MS), 0, "%s hangs", argv[0]);
		if (p[0].revents)
			oo = drain(out[0], r->out, sizeof r->out, &no);
		if (p[1].revents)
			eo = drain(err[0], r->err, sizeof r->err, &ne);
	}
	close(out[0]);
	close(err[0]);
	st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);
	r->status = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void shoal_cmd(struct run *r, const char *a1, const char *a2,
		      const char *a3, const char *a4)
{
	const char *argv[] = {SHOAL_CLI, a1, a2, a3, a4, NULL};

	run(r, argv, NULL);
}

/* Pipes json into python3 running `script` (with argv[1..] = args);
 * asserts it exits 0, showing its complaint otherwise. */
static void check_json(const char *json, const char *script, const char *a1,
		       const char *a2, const char *a3)
{
	static struct run p;
	const char *argv[] = {PYTHON3, "-c", script, a1, a2, a3, NULL};

	run(&p, argv, json);
	cr_assert_eq(p.status, 0, "python3 says: %s\non: %.2000s", p.err, json);
}

Test(cli, help_and_version_go_to_stdout_and_exit_0)
{
	static struct run r;
	char want[64];

	shoal_cmd(&r, "--help", NULL, NULL, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "usage: shoal [OPTIONS] COMMAND NAME"), "%s", r.out);
	for (const char *const *c = (const char *const[]){"status", "objects",
				"tasks", "actors", "--json", "--watch", "--count", NULL};
	     *c; c++)
		cr_assert(strstr(r.out, *c), "--help does not name %s", *c);
	cr_assert_str_eq(r.err, "");
	shoal_cmd(&r, "--version", NULL, NULL, NULL);
	cr_assert_eq(r.status, 0);
	snprintf(want, sizeof want, "shoal %s\n", shoal_version());
	cr_assert_str_eq(r.out, want);
	cr_assert_str_eq(r.err, "");
}

Test(cli, usage_errors_go_to_stderr_and_exit_2)
{
	static struct run r;
	const char *cases[][4] = {
		{NULL}, {"bogus", "x"}, {"status"}, {"status", "a", "b"},
		{"--watch=zero", "status", "x"}, {"--count=0", "status", "x"},
		{"--frobnicate", "status", "x"}, {"--count"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		shoal_cmd(&r, cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
		cr_assert_eq(r.status, 2, "case %zu: %d", i, r.status);
		cr_assert_str_eq(r.out, "", "case %zu", i);
		cr_assert(!strncmp(r.err, "shoal: ", 7), "case %zu: %s", i, r.err);
	}
}

/* One line, "shoal: NAME...: <strerror(code)>", exit 1. */
static void assert_fails(const char *cmd, const char *name, int code)
{
	static struct run r;
	const char *msg = shoal_strerror(code);
	char *nl;

	shoal_cmd(&r, cmd, name, NULL, NULL);
	cr_assert_eq(r.status, 1, "%s %s: %d", cmd, name, r.status);
	cr_assert_str_eq(r.out, "");
	nl = strchr(r.err, '\n');
	cr_assert(nl && nl[1] == '\0', "one line: %s", r.err);
	cr_assert(strstr(r.err, name) && strstr(r.err, msg), "%s", r.err);
}

Test(cli, unreadable_names_exit_1_with_the_reason)
{
	const char *missing = tu_shm_name("missing"), *junk = tu_shm_name("junk");
	const char *plain = tu_shm_name("plain");
	struct shoal_store_options o;
	struct shoal_store *s;
	char path[TU_NAME_LEN], buf[8192];
	void *map;
	int fd;

	assert_fails("status", missing, -ENOENT);
	assert_fails("tasks", missing, -ENOENT);
	tu_shm_path(junk, path, sizeof path);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	memset(buf, 'x', sizeof buf);
	cr_assert_eq(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	close(fd);
	assert_fails("status", junk, SHOAL_EBADSEGMENT);
	assert_fails("objects", junk, SHOAL_EBADSEGMENT);
	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	o.max_objects = 64;
	o.max_procs = 4;
	tu_assert_rc(shoal_store_create(plain, &o, &s), 0);
	shoal_store_close(s);
	assert_fails("tasks", plain, SHOAL_EBADSEGMENT);
	assert_fails("actors", plain, SHOAL_EBADSEGMENT);
	tu_shm_path(plain, path, sizeof path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	((struct shoal__seg_hdr *)map)->layout_version += 1;
	munmap(map, 4096);
	close(fd);
	assert_fails("status", plain, SHOAL_EVERSION);
}

Test(cli, a_store_with_every_slot_taken)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o;
	struct shoal_store *s;
	static struct run r;
	char pid[16];
	shoal_id id;

	snprintf(pid, sizeof pid, "%d", (int)getpid());
	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	o.max_objects = 64;
	o.max_procs = 1;
	o.ledger_slots = 64;
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_assert_rc(shoal_put(s, "a \"quoted\"\n name", 17, 0, &id), 0);
	shoal_cmd(&r, "status", name, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "processes     1 of 1"), "%s", r.out);
	shoal_cmd(&r, "--json", "status", name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, "import json, sys\n"
		   "d = json.load(sys.stdin)\n"
		   "assert d['name'] == sys.argv[1], d\n"
		   "assert d['runtime'] is None\n"
		   "s = d['store']\n"
		   "assert s['processes'] == 1 and s['max_procs'] == 1, s\n"
		   "assert s['objects'] == 1 and s['bytes_used'] >= 17, s\n",
		   name, NULL, NULL);
	shoal_cmd(&r, "--json", "objects", name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, "import json, sys\n"
		   "d = json.load(sys.stdin)\n"
		   "[o] = d['objects']\n"
		   "assert o['data_size'] == 17 and o['state'] == 'sealed', o\n"
		   "assert o['creator_pid'] == int(sys.argv[1]), o\n",
		   pid, NULL, NULL);
	shoal_store_close(s);
}

static const char *const py_tasks =
	"import json, sys\n"
	"name, waitid, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
	"d = json.load(sys.stdin)\n"
	"assert d['name'] == name, d\n"
	"t = {x['state']: x for x in d['tasks']}\n"
	"assert len(d['tasks']) == 2 and set(t) == {'waiting', 'running'}, d\n"
	"w, r = t['waiting'], t['running']\n"
	"assert w['function'] == 'add' and w['wait_arg'] == 0, w\n"
	"assert w['wait_id'] == waitid and w['worker'] is None, w\n"
	"assert w['submitter_pid'] == pid and w['nargs'] == 1, w\n"
	"assert r['function'] == 'gate' and r['wait_id'] is None, r\n"
	"assert r['worker'] >= 0 and r['worker_pid'] > 0, r\n"
	"assert r['running_ns'] > 0 and r['pending_ns'] >= r['running_ns'], r\n";

static const char *const py_actors =
	"import json, sys\n"
	"pid, first = int(sys.argv[1]), sys.argv[2]\n"
	"d = json.load(sys.stdin)\n"
	"a = {x['name']: x for x in d['actors']}\n"
	"assert set(a) == {'busy', 'doomed'}, d\n"
	"b, k = a['busy'], a['doomed']\n"
	"assert b['class'] == 'Gate' and b['state'] == 'alive', b\n"
	"assert b['calls_queued'] == 3 and b['last_death'] == '', b\n"
	"[l] = b['lanes']\n"
	"assert l['caller_pid'] == pid and l['queued'] == 3, l\n"
	"assert l['running'] is True and l['calls_run'] == 0, l\n"
	"assert k['state'] == 'dead' and k['restarts'] == 1, k\n"
	"assert 'killed' in k['why'] and k['last_death'] == k['why'], k\n"
	"assert k['lanes'] == [] and k['pid'] == 0, k\n";

static const char *const py_status =
	"import json, sys\n"
	"d = json.load(sys.stdin)\n"
	"r = d['runtime']\n"
	"assert r['num_workers'] == 1 and r['fork_server_pid'] > 0, r\n"
	"assert r['tasks'] == {'building': 0, 'waiting': 1, 'queued': 0,\n"
	"                      'running': 1}, r\n"
	"assert r['actors']['alive'] == 1 and r['actors']['dead'] == 1, r\n"
	"assert d['store']['objects'] >= 1, d\n";

/* --watch --count=N --json: N documents, one per line, each parses. */
static const char *const py_lines =
	"import json, sys\n"
	"lines = sys.stdin.read().splitlines()\n"
	"assert len(lines) == int(sys.argv[1]), lines\n"
	"for x in lines:\n"
	"    assert json.loads(x)['name'] == sys.argv[2]\n";

Test(cli, every_command_shows_a_known_runtime, .timeout = 90)
{
	static struct run r;
	struct scene sc;
	char wait_hex[SHOAL_ID_HEX_LEN + 1], pid[16], first[16];

	scene_start(&sc, tu_shm_name(NULL));
	shoal_id_format(sc.unsealed, wait_hex);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(first, sizeof first, "%d", (int)sc.doomed_first_pid);

	shoal_cmd(&r, "tasks", sc.name, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "waiting") && strstr(r.out, "running") &&
		  strstr(r.out, wait_hex) && strstr(r.out, "worker 0"), "%s", r.out);
	shoal_cmd(&r, "--json", "tasks", sc.name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, py_tasks, sc.name, wait_hex, pid);

	shoal_cmd(&r, "actors", sc.name, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "busy") && strstr(r.out, "doomed") &&
		  strstr(r.out, "killed") && strstr(r.out, "3 queued (1 running)"),
		  "%s", r.out);
	shoal_cmd(&r, "--json", "actors", sc.name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, py_actors, pid, first, NULL);

	shoal_cmd(&r, "status", sc.name, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "1 waiting, 0 queued, 1 running"), "%s", r.out);
	shoal_cmd(&r, "--json", "status", sc.name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, py_status, NULL, NULL, NULL);

	shoal_cmd(&r, "--json", "objects", sc.name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, "import json, sys\n"
		   "d = json.load(sys.stdin)\n"
		   "assert sys.argv[1] in [o['id'] for o in d['objects']], d\n",
		   wait_hex, NULL, NULL);

	shoal_cmd(&r, "--json", "--watch=0.01", "--count=3", NULL);
	cr_assert_eq(r.status, 2, "no command: a usage error");
	{
		const char *argv[] = {SHOAL_CLI, "--json", "--watch=0.01",
				      "--count=3", "actors", sc.name, NULL};

		run(&r, argv, NULL);
		cr_assert_eq(r.status, 0, "%s", r.err);
		check_json(r.out, py_lines, "3", sc.name, NULL);
	}
	scene_end(&sc);
}

/* The trace: rows for the driver and the busy actor; argv[1] the pid. */
static const char *const py_trace =
	"import json, sys\n"
	"d = json.load(sys.stdin)\n"
	"rows = {e['pid']: e['args']['name'] for e in d['traceEvents'] if e['ph'] == 'M'}\n"
	"assert rows.get(int(sys.argv[1])) == 'driver', rows\n"
	"assert any(n.startswith('worker ') for n in rows.values()), rows\n"
	"assert any(n.startswith('Gate#') for n in rows.values()), rows\n";

/* The metrics as JSON: the pool's size and each actor's state. */
static const char *const py_metrics =
	"import json, sys\n"
	"m = json.load(sys.stdin)['metrics']\n"
	"v = {(x['name'], tuple(sorted(x['labels'].items()))): x['value'] for x in m}\n"
	"assert v[('shoal_workers', ())] >= 1, v\n"
	"st = [x for x in m if x['name'] == 'shoal_actor_state']\n"
	"assert {x['labels']['name']: x['labels']['state'] for x in st}.get('busy') == 'alive', st\n"
	"inf = [x for x in m if x['name'] == 'shoal_task_run_seconds_bucket'\n"
	"       and x['labels'].get('le') == '+Inf']\n"
	"cnt = [x for x in m if x['name'] == 'shoal_task_run_seconds_count']\n"
	"assert len(inf) == 1 and len(cnt) == 1 and inf[0]['value'] == cnt[0]['value'], m\n";

Test(cli, timeline_and_metrics_of_a_known_runtime, .timeout = 90)
{
	static struct run r;
	struct scene sc;
	char pid[16], path[128], body[4096];
	FILE *f;
	size_t n;

	scene_start(&sc, tu_shm_name(NULL));
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(path, sizeof path, "/tmp/shoal-cli-%d.json", (int)getpid());

	shoal_cmd(&r, "timeline", sc.name, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, py_trace, pid, NULL, NULL);

	shoal_cmd(&r, "--json", "-o", path, "timeline");
	cr_assert_eq(r.status, 2, "no NAME: a usage error");
	{
		/* options after the name too, as in `shoal timeline NAME -o F` */
		const char *argv[] = {SHOAL_CLI, "timeline", sc.name, "-o", path,
				      "--json", NULL};

		run(&r, argv, NULL);
	}
	f = fopen(path, "r");
	n = f ? fread(body, 1, sizeof body - 1, f) : 0;
	if (f)
		fclose(f);
	unlink(path);
	body[n] = '\0';
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"output\"") && strstr(body, "\"traceEvents\""),
		  "stdout %s, file %.200s", r.out, body);

	shoal_cmd(&r, "metrics", sc.name, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "# TYPE shoal_task_run_seconds histogram\n") &&
		  strstr(r.out, "shoal_actor_state{class="), "%s", r.out);
	shoal_cmd(&r, "--json", "metrics", sc.name, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json(r.out, py_metrics, NULL, NULL, NULL);

	shoal_cmd(&r, "-o", path, "tasks", sc.name);
	cr_assert_eq(r.status, 2, "--output is for timeline and metrics only");
	scene_end(&sc);
}

Test(cli, watch_stops_on_sigterm_and_when_the_name_goes)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o;
	struct shoal_store *s;
	char buf[4096];
	int out[2], st;
	pid_t pid;

	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	o.max_objects = 64;
	o.max_procs = 4;
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_pipe(out);
	pid = tu_fork();
	if (pid == 0) {
		dup2(out[1], 1);
		execl(SHOAL_CLI, SHOAL_CLI, "--json", "--watch=0.02", "status", name,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* the first document has come: it is in its wait */
	cr_assert_gt(read(out[0], buf, sizeof buf), 0);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "SIGTERM ends the watch cleanly: %d", st);
	close(out[0]);

	/* a watch whose store goes away ends with exit 1 */
	tu_pipe(out);
	pid = tu_fork();
	if (pid == 0) {
		dup2(out[1], 1);
		execl(SHOAL_CLI, SHOAL_CLI, "--watch=0.02", "objects", name,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	cr_assert_gt(read(out[0], buf, sizeof buf), 0);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
	st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "%d", st);
	close(out[0]);
}
