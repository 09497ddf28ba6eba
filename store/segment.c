/* SPDX-License-Identifier: MIT */
/*
 * store/segment.c - creating, attaching to and validating a segment.
 *
 * The layout is a pure function of four parameters (max_procs, max_objects,
 * ledger_slots, capacity): shoal__plan() computes every region's offset and
 * size from them.  The creator writes the plan into the header and
 * publishes it with `ready` (SEG-R0, release); an attacher loads `ready`
 * (SEG-A0, acquire), recomputes the plan from the header's parameters and
 * refuses the segment unless every offset and size agrees and the file is
 * large enough.  So a foreign or corrupt file is refused before any offset
 * in it is followed, and no later code needs to re-check region bounds.
 *
 * A new segment is all zeroes (ftruncate of a fresh tmpfs file or memfd),
 * which is the initial state of every region but the header and the heap:
 * EMPTY directory entries, FREE process slots, empty ledgers, free stripes.
 *
 * Its memory is reserved at create (fallocate): a tmpfs only promises the
 * pages of a file that was just sized, and the first process to touch a
 * page past its free space would die of SIGBUS, whoever it is.  All but
 * the ledger_ext region: its tables (a ledger's larger levels) are
 * reserved one at a time by the process that grows into one (ledger.c),
 * which fails that growth with SHOAL_ENOSHM instead, and nobody touches
 * a table before it is reserved; so a segment costs only the ledger
 * tables its processes have needed.  A store
 * larger than what is free fails its create with SHOAL_ENOSHM instead,
 * checked first against the free space of the file's filesystem and the
 * machine's available memory (so that a private store cannot take the
 * machine's last page before it fails).  A private store's memfd is then
 * sealed against shrinking and growing: no process that has its fd can
 * truncate it under the others.  A named one cannot be sealed (README:
 * what a truncation does).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mem.h"
#include "resv.h"

#define SHOAL__MAX_PROCS 4096u /* slots, the claim's reserve among them */
#define SHOAL__MAX_OBJECTS (1u << 22)
#define SHOAL__MAX_LEDGER (1u << 20)
/* The largest ledger table: twice the option, or max_objects (option 0). */
#define SHOAL__MAX_LEDGER_TABLE (2u * SHOAL__MAX_OBJECTS)
/* A ledger key (layout.h) names every directory slot, index + 1. */
static_assert(4ull * SHOAL__MAX_OBJECTS < (1ull << SHOAL__LEDGER_KEY_BITS),
	      "ledger keys too narrow for the directory");
#define SHOAL__MAX_CAPACITY (1ull << 40)
#define SHOAL__MAX_SPIN (1u << 20) /* pauses: about 35 ms of spinning */

SHOAL_API void shoal_store_options_init(struct shoal_store_options *opts)
{
	if (opts)
		*opts = (struct shoal_store_options)SHOAL_STORE_OPTIONS_INIT;
}

static uint64_t shoal__align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t shoal__pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static uint64_t shoal__place(uint64_t *cursor, uint64_t size, uint64_t align,
			     struct shoal__region *r)
{
	r->off = shoal__align(*cursor, align);
	r->size = size;
	*cursor = r->off + size;
	return r->off;
}

/* Fills every derived field of h from its four parameters. */
static void shoal__plan(struct shoal__seg_hdr *h)
{
	uint64_t cur = SHOAL__HDR_SIZE;

	/* Four slots per object: linear probing at load 1/2 grows runs of
	 * ~60 slots in a 128 Ki-slot table (the longest run is about
	 * ln(n) / -ln(a e^(1-a)) at load a), which fills the 64-slot probe
	 * window; at load 1/4 the longest run is ~20. */
	h->dir_slots = shoal__pow2(h->max_objects * 4 < SHOAL__STRIPE_SLOTS
					   ? SHOAL__STRIPE_SLOTS
					   : h->max_objects * 4);
	h->nstripes = h->dir_slots / SHOAL__STRIPE_SLOTS;
	h->proc_size = sizeof(struct shoal__proc);
	h->entry_size = sizeof(struct shoal__entry);
	h->hdr_size = sizeof(struct shoal__seg_hdr);
	shoal__place(&cur, (uint64_t)h->max_procs * h->proc_size, 64, &h->procs);
	shoal__place(&cur, (uint64_t)h->max_procs * shoal__ledger_base(h->ledger_slots) * 8,
		     64, &h->ledgers);
	shoal__place(&cur, (uint64_t)h->nstripes * 4, 64, &h->stripes);
	shoal__place(&cur, h->dir_slots, 64, &h->probe);
	shoal__place(&cur, (uint64_t)h->dir_slots * h->entry_size, 64, &h->dir);
	shoal__place(&cur, shoal__heap_meta_size(h->capacity), SHOAL__PAGE_SIZE,
		     &h->heap_meta);
	shoal__place(&cur, h->ext.size, SHOAL__PAGE_SIZE, &h->ext);
	shoal__place(&cur, h->capacity, SHOAL__SLAB_SIZE, &h->arena);
	/* Last, page aligned: its tables are reserved page by page. */
	shoal__place(&cur, (uint64_t)h->max_procs *
				   shoal__ledger_ext_slots(h->ledger_slots) * 8,
		     SHOAL__PAGE_SIZE, &h->ledger_ext);
	h->seg_size = shoal__align(cur, SHOAL__PAGE_SIZE);
}

/* A field of a later release takes a reserved word: never the size. */
static_assert(sizeof(void *) != 8 || sizeof(struct shoal_store_options) == 72,
	      "ABI: shoal_store_options");

static int shoal__check_options(const struct shoal_store_options *o)
{
	if (!SHOAL__RESV_ZERO(*o))
		return -EINVAL;
	if (o->max_procs < 1 || o->max_procs > SHOAL__MAX_PROCS - SHOAL__PROC_RESERVE)
		return -EINVAL;
	if (o->max_objects < 1 || o->max_objects > SHOAL__MAX_OBJECTS)
		return -EINVAL;
	if (o->ledger_slots > SHOAL__MAX_LEDGER) /* 0: sized by need */
		return -EINVAL;
	if (o->capacity < 1 || o->capacity > SHOAL__MAX_CAPACITY)
		return -EINVAL;
	if (o->spin_budget > SHOAL__MAX_SPIN)
		return -EINVAL;
	return 0;
}

static void shoal__hdr_from_options(struct shoal__seg_hdr *h,
				    const struct shoal_store_options *o,
				    uint64_t ext_bytes)
{
	memset(h, 0, sizeof *h);
	h->ext.size = shoal__align(ext_bytes, SHOAL__PAGE_SIZE);
	h->magic = SHOAL__MAGIC;
	h->layout_version = SHOAL__LAYOUT_VERSION;
	h->max_procs = o->max_procs + SHOAL__PROC_RESERVE; /* layout.h */
	h->max_objects = o->max_objects;
	/* Kept at most half full (ledger.c): twice the option, rounded; 0:
	 * room for max_objects records, more than a process can need while
	 * the directory holds max_objects live objects. */
	h->ledger_slots = o->ledger_slots
				  ? shoal__pow2(2 * (o->ledger_slots < 8 ? 8
									 : o->ledger_slots))
				  : shoal__pow2(2 * (o->max_objects < 8 ? 8
									: o->max_objects));
	h->spin_budget = o->spin_budget;
	h->capacity = shoal__align(o->capacity, SHOAL__SLAB_SIZE);
	h->creator_pid = getpid();
	h->features = SHOAL__FEATURES;
	h->compat_features = SHOAL__COMPAT_FEATURES;
	shoal__plan(h);
}

static bool shoal__region_eq(const struct shoal__region *a,
			     const struct shoal__region *b)
{
	return a->off == b->off && a->size == b->size;
}

static bool shoal__plan_matches(const struct shoal__seg_hdr *h,
				const struct shoal__seg_hdr *p)
{
	return h->hdr_size == p->hdr_size && h->seg_size == p->seg_size &&
	       h->dir_slots == p->dir_slots && h->nstripes == p->nstripes &&
	       h->proc_size == p->proc_size && h->entry_size == p->entry_size &&
	       shoal__region_eq(&h->procs, &p->procs) &&
	       shoal__region_eq(&h->ledgers, &p->ledgers) &&
	       shoal__region_eq(&h->stripes, &p->stripes) &&
	       shoal__region_eq(&h->probe, &p->probe) &&
	       shoal__region_eq(&h->dir, &p->dir) &&
	       shoal__region_eq(&h->heap_meta, &p->heap_meta) &&
	       shoal__region_eq(&h->ext, &p->ext) &&
	       shoal__region_eq(&h->arena, &p->arena) &&
	       shoal__region_eq(&h->ledger_ext, &p->ledger_ext);
}

int shoal__seg_validate(const struct shoal__seg_hdr *h, uint64_t file_size)
{
	struct shoal__seg_hdr p;

	if (h->magic != SHOAL__MAGIC)
		return SHOAL_EBADSEGMENT;
	if (h->layout_version != SHOAL__LAYOUT_VERSION)
		return SHOAL_EVERSION;
	/* A required feature we do not know may change what any field
	 * means: refused before the geometry is read (layout.h). */
	if (h->features & ~SHOAL__FEATURES_KNOWN)
		return SHOAL_EVERSION;
	if (h->max_procs <= SHOAL__PROC_RESERVE ||
	    h->max_procs > SHOAL__MAX_PROCS ||
	    h->max_objects < 1 || h->max_objects > SHOAL__MAX_OBJECTS ||
	    h->ledger_slots < 16 || h->ledger_slots > SHOAL__MAX_LEDGER_TABLE ||
	    (h->ledger_slots & (h->ledger_slots - 1)) ||
	    h->capacity < SHOAL__SLAB_SIZE || h->capacity > SHOAL__MAX_CAPACITY ||
	    h->capacity % SHOAL__SLAB_SIZE || h->ext.size > SHOAL__MAX_CAPACITY ||
	    h->ext.size % SHOAL__PAGE_SIZE || h->spin_budget > SHOAL__MAX_SPIN)
		return SHOAL_EBADSEGMENT;
	p = *h;
	shoal__plan(&p);
	if (!shoal__plan_matches(h, &p) || h->seg_size > file_size)
		return SHOAL_EBADSEGMENT;
	return 0;
}

static struct shoal_store *shoal__store_alloc(void)
{
	unsigned arena;
	struct shoal_store *s = shoal__mem_new(sizeof *s, &arena);

	if (!s)
		return NULL;
	s->arena = arena;
	s->fd = -1;
	s->slot = UINT32_MAX;
	shoal__crash_from_env(&s->crash);
	return s;
}

/* Takes the geometry from a validated header h (a private copy, or the
 * creator's own plan) and derives the handle's pointers from it alone. */
static void shoal__store_bind(struct shoal_store *s,
			      const struct shoal__seg_hdr *h)
{
	uint8_t *b = s->map.base;

	s->geo = (struct shoal__geo){
		.seg_size = h->seg_size,
		.capacity = h->capacity,
		.max_procs = h->max_procs,
		.max_objects = h->max_objects,
		.dir_slots = h->dir_slots,
		.ledger_slots = h->ledger_slots,
		.ledger_base = shoal__ledger_base(h->ledger_slots),
		.ledger_levels = shoal__ledger_levels(h->ledger_slots),
		.ledger_ext = h->ledger_ext,
		.spin_budget = h->spin_budget,
		.nstripes = h->nstripes,
		.ext = h->ext,
		.features = h->features,
		.compat_features = h->compat_features,
	};
	s->procs = (struct shoal__proc *)(b + h->procs.off);
	s->ledgers = (_Atomic uint64_t *)(b + h->ledgers.off);
	s->ledger_ext = (_Atomic uint64_t *)(b + h->ledger_ext.off);
	s->stripes = (_Atomic uint32_t *)(b + h->stripes.off);
	s->probe = (_Atomic uint8_t *)(b + h->probe.off);
	s->dir = (struct shoal__entry *)(b + h->dir.off);
	s->dir_mask = h->dir_slots - 1;
	s->heap = (struct shoal__heap_view){
		.map = s->map,
		.meta_off = h->heap_meta.off,
		.meta_size = h->heap_meta.size,
		.arena_off = h->arena.off,
		.arena_size = h->arena.size,
		.crash = &s->crash,
	};
}

static int shoal__map(struct shoal_store *s, uint64_t size)
{
	int prot = s->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *p = mmap(NULL, size, prot, MAP_SHARED, s->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	s->map.base = p;
	s->map.size = size;
	s->hdr = p;
	return 0;
}

static void shoal__store_free(struct shoal_store *s)
{
	unsigned arena = s->arena;

	if (s->map.base)
		munmap(s->map.base, s->map.size);
	if (s->fd >= 0)
		close(s->fd);
	shoal__evict_plan_free(s);
	shoal__mem_delete(s, arena);
}

static int shoal__create_fd(const char *name, struct shoal_store *s)
{
	int rc;

	if (!name) {
		s->fd = memfd_create("shoal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		return s->fd < 0 ? -errno : 0;
	}
	rc = shoal__shm_name(name, s->name, sizeof s->name);
	if (rc)
		return rc;
	rc = shoal__shm_create(s->name, &s->linked); /* unnamed: name.c */
	s->fd = rc < 0 ? -1 : rc;
	return rc < 0 ? rc : 0;
}

/* A failing create's one line of detail, into the caller's errbuf. */
static void shoal__say(const struct shoal_store_options *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->errbuf || !o->errbuf_size)
		return;
	va_start(ap, fmt);
	vsnprintf(o->errbuf, o->errbuf_size, fmt, ap);
	va_end(ap);
}

/* Who holds a name that create found taken. */
static void shoal__say_holder(const struct shoal_store_options *o,
			      const char *name)
{
	char path[sizeof "/dev/shm" + 256];
	struct stat st;

	snprintf(path, sizeof path, "/dev/shm%s", name);
	if (stat(path, &st))
		shoal__say(o, "%s exists (and is gone again: %s)", path,
			   strerror(errno));
	else
		shoal__say(o, "%s exists: it belongs to uid %u (we are %u), mode "
			   "%04o, %llu bytes", path, (unsigned)st.st_uid,
			   (unsigned)geteuid(), (unsigned)(st.st_mode & 07777),
			   (unsigned long long)st.st_size);
}

/* Bytes the filesystem of fd has free for us (UINT64_MAX: no limit). */
static uint64_t shoal__fs_free(int fd)
{
	struct statvfs v;

	if (fstatvfs(fd, &v) || v.f_blocks == 0)
		return UINT64_MAX;
	return (uint64_t)v.f_bavail * v.f_frsize;
}

/* The machine's available memory (MemAvailable; free pages if the kernel
 * does not say). */
static uint64_t shoal__mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long long kb;
	long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			fclose(f);
			return (uint64_t)kb * 1024;
		}
	if (f)
		fclose(f);
	return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : UINT64_MAX;
}

/* Reserves the segment's size bytes (the file's header comment). */
static int shoal__reserve(struct shoal_store *s, uint64_t size,
			  const struct shoal_store_options *o)
{
	uint64_t fs = shoal__fs_free(s->fd), mem = shoal__mem_available();
	int rc = ENOSPC;

	if (size <= fs && size <= mem) {
		do
			rc = fallocate(s->fd, 0, 0, (off_t)size) ? errno : 0;
		while (rc == EINTR);
		if (rc == 0 || rc == EOPNOTSUPP) /* cannot reserve: as sized */
			return 0;
		if (rc != ENOSPC && rc != ENOMEM)
			return -rc;
	}
	shoal__say(o, "the store needs %llu bytes of shared memory (capacity "
		   "%llu and metadata); %s has %llu free, the machine %llu "
		   "available",
		   (unsigned long long)size, (unsigned long long)o->capacity,
		   s->name[0] ? "/dev/shm" : "the private segment's filesystem",
		   (unsigned long long)(fs == UINT64_MAX ? mem : fs),
		   (unsigned long long)mem);
	return SHOAL_ENOSHM;
}

/* A private segment can be sealed: nobody shrinks or grows it. */
static int shoal__seal(struct shoal_store *s)
{
	if (s->name[0])
		return 0;
	return fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
		       ? -errno
		       : 0;
}

static int shoal__create_layout(struct shoal_store *s,
				const struct shoal_store_options *o,
				uint64_t ext_bytes)
{
	struct shoal__seg_hdr plan;
	int rc;

	shoal__hdr_from_options(&plan, o, ext_bytes);
	if (ftruncate(s->fd, (off_t)plan.seg_size))
		return errno == EFBIG || errno == ENOSPC ? -ENOSPC : -errno;
	/* Everything before the ledgers' larger tables (the last region). */
	rc = shoal__reserve(s, plan.ledger_ext.off, o);
	if (!rc)
		rc = shoal__seal(s);
	if (rc)
		return rc;
	rc = shoal__map(s, plan.seg_size);
	if (rc)
		return rc;
	memcpy(s->hdr, &plan, sizeof plan);
	shoal__store_bind(s, &plan);
	rc = shoal__heap_init(&s->heap);
	if (rc)
		return rc;
	/* SEG-R0: publishes the header and the initialised heap to attachers. */
	atomic_store_explicit(&s->hdr->ready, 1, memory_order_release);
	return 0;
}

/* The segment is made unnamed (name.c), whole, with this process's slot
 * claimed; the name comes last, and once it is there nothing fails. */
SHOAL_API int shoal_store_create(const char *name,
				 const struct shoal_store_options *opts,
				 struct shoal_store **out)
{
	struct shoal_store *s;
	int rc;

	if (!out)
		return -EINVAL;
	rc = shoal__store_create_ext(name, opts, 0, &s);
	if (rc)
		return rc;
	rc = shoal__store_publish(s, opts);
	if (rc) {
		shoal_store_close(s); /* unnamed: it goes with us */
		return rc;
	}
	*out = s;
	return 0;
}

int shoal__store_publish(struct shoal_store *s,
			 const struct shoal_store_options *opts)
{
	int rc;

	if (!s->name[0] || s->linked)
		return 0;
	rc = shoal__shm_link(s->fd, s->name);
	if (rc == -EEXIST && opts)
		shoal__say_holder(opts, s->name);
	if (rc)
		return rc;
	s->linked = true;
	SHOAL__CRASH(s, SEG_NAMED);
	return 0;
}

int shoal__store_create_ext(const char *name,
			    const struct shoal_store_options *opts,
			    uint64_t ext_bytes, struct shoal_store **out)
{
	struct shoal_store_options o = SHOAL_STORE_OPTIONS_INIT;
	struct shoal_store *s;
	int rc;

	if (!out)
		return -EINVAL;
	if (opts)
		o = *opts;
	rc = shoal__check_options(&o);
	if (rc)
		return rc;
	s = shoal__store_alloc();
	if (!s)
		return -ENOMEM;
	rc = shoal__create_fd(name, s);
	if (rc == -EEXIST)
		shoal__say_holder(&o, s->name);
	if (!rc) {
		SHOAL__CRASH(s, SEG_MADE);
		rc = shoal__create_layout(s, &o, ext_bytes);
	}
	if (!rc)
		rc = shoal__proc_claim(s);
	if (rc) {
		if (s->linked && s->fd >= 0) /* made under its name: name.c */
			shm_unlink(s->name);
		shoal__store_free(s);
		return rc;
	}
	SHOAL__CRASH(s, SEG_LAID);
	*out = s;
	return 0;
}

/* The creator publishes `ready` right after sizing the file; an attacher
 * that races with it waits up to a second for SEG-A0 before refusing. */
/* A private copy of the header: the read-only fields above `ready` and
 * the feature words and ledger_ext after it; nothing else is used from
 * it. */
static void shoal__hdr_copy(struct shoal__seg_hdr *dst,
			    const struct shoal__seg_hdr *src)
{
	memset(dst, 0, sizeof *dst);
	memcpy(dst, (const void *)src, offsetof(struct shoal__seg_hdr, ready));
	dst->features = src->features;
	dst->compat_features = src->compat_features;
	dst->ledger_ext = src->ledger_ext;
}

static int shoal__wait_ready(const struct shoal__seg_hdr *h)
{
	struct shoal__deadline d = shoal__deadline_in(1000);

	while (!atomic_load_explicit(&h->ready, memory_order_acquire)) { /* SEG-A0 */
		if (shoal__deadline_passed(d))
			return SHOAL_EBADSEGMENT;
		sched_yield();
	}
	return 0;
}

static int shoal__attach_mapped(struct shoal_store *s)
{
	struct shoal__seg_hdr *h, copy;
	struct stat st;
	uint64_t size;
	int rc;

	if (fstat(s->fd, &st))
		return -errno;
	if ((uint64_t)st.st_size < SHOAL__HDR_SIZE)
		return SHOAL_EBADSEGMENT;
	rc = shoal__map(s, SHOAL__HDR_SIZE);
	if (rc)
		return rc;
	h = s->hdr;
	rc = h->magic != SHOAL__MAGIC ? SHOAL_EBADSEGMENT : shoal__wait_ready(h);
	shoal__hdr_copy(&copy, h);
	if (!rc)
		rc = shoal__seg_validate(&copy, (uint64_t)st.st_size);
	size = copy.seg_size;
	munmap(s->map.base, s->map.size);
	s->map.base = NULL;
	if (rc)
		return rc;
	rc = shoal__map(s, size);
	if (rc)
		return rc;
	/* The file could have been rewritten between the two maps, and can be
	 * at any time after: one copy is checked, and only it is used. */
	shoal__hdr_copy(&copy, s->hdr);
	rc = shoal__seg_validate(&copy, size);
	if (rc)
		return rc;
	shoal__store_bind(s, &copy);
	rc = shoal__heap_check(&s->heap);
	if (rc || s->readonly) /* an inspect handle takes no slot, reaps nothing */
		return rc;
	rc = shoal__proc_claim(s);
	if (rc)
		return rc;
	shoal__lock(s);
	shoal__proc_reap_all(s);
	shoal__unlock(s);
	return 0;
}

static int shoal__attach(struct shoal_store *s, struct shoal_store **out)
{
	int rc = shoal__attach_mapped(s);

	if (rc) {
		shoal__store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* A named segment is ours only if this user owns it and nobody else may
 * open it (what create makes: mode 0600).  Anything else was made or
 * opened up by someone who could change it under us. */
static int shoal__owned(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	return st.st_uid != geteuid() || (st.st_mode & 077) ? SHOAL_ENOTMINE : 0;
}

/* Attach by name; readonly: an inspect handle (shoal_store_inspect). */
static int shoal__attach_named(const char *name, bool readonly,
			       struct shoal_store **out)
{
	struct shoal_store *s;
	int rc;

	if (!out)
		return -EINVAL;
	s = shoal__store_alloc();
	if (!s)
		return -ENOMEM;
	s->readonly = readonly;
	rc = shoal__shm_name(name, s->name, sizeof s->name);
	if (!rc) {
		s->fd = shm_open(s->name, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
		rc = s->fd < 0 ? -errno : shoal__owned(s->fd);
	}
	if (rc) {
		shoal__store_free(s);
		return rc;
	}
	return shoal__attach(s, out);
}

SHOAL_API int shoal_store_attach(const char *name, struct shoal_store **out)
{
	return shoal__attach_named(name, false, out);
}

/* The file is opened O_RDONLY and mapped PROT_READ: whatever this handle
 * is asked, it cannot write the segment (a write would fault). */
SHOAL_API int shoal_store_inspect(const char *name, struct shoal_store **out)
{
	return shoal__attach_named(name, true, out);
}

SHOAL_API int shoal_store_attach_fd(int fd, struct shoal_store **out)
{
	struct shoal_store *s;

	if (!out || fd < 0)
		return -EINVAL;
	s = shoal__store_alloc();
	if (!s)
		return -ENOMEM;
	s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (s->fd < 0) {
		int rc = -errno;
		shoal__store_free(s);
		return rc;
	}
	return shoal__attach(s, out);
}

void *shoal__store_ext(const struct shoal_store *s, uint64_t *size)
{
	*size = s->geo.ext.size;
	return s->geo.ext.size ? s->map.base + s->geo.ext.off : NULL;
}

const char *shoal__store_name(const struct shoal_store *s)
{
	return s->name;
}

SHOAL_API int shoal_store_fd(const struct shoal_store *store)
{
	if (shoal__ro(store))
		return SHOAL_EREADONLY;
	return store ? store->fd : -EINVAL;
}

SHOAL_API void shoal_store_close(struct shoal_store *store)
{
	if (!store)
		return;
	if (!store->readonly) {
		shoal__lock(store);
		shoal__proc_release(store);
		shoal__unlock(store);
	}
	shoal__store_free(store);
}
