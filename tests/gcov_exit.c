/* SPDX-License-Identifier: MIT */
/*
 * tests/gcov_exit.c - for coverage builds only (tools/coverage.sh): an
 * LD_PRELOAD shim whose _exit() writes the process's coverage counters
 * before it exits.
 *
 * Why: gcc's coverage counters are written by a destructor at exit(), and
 * every shoal process but the driver leaves with _exit() (the fork server,
 * workers, actors: DESIGN.md, "Processes"), so without this the code that
 * only they run (forkserver.c, worker.c, exec.c, actorproc.c, ...) counts
 * as never run.  A process killed by SIGKILL still writes nothing.
 *
 * How: the main program's libgcov has a __gcov_dump() that writes every
 * instrumented object of the process (its own code, and the shared
 * libraries chained on the same __gcov_master).  It is not in the dynamic
 * symbol table, so it is looked up in the executable's ELF .symtab
 * (/proc/self/exe) and called at its load address.  libgcov.a links it
 * only into programs that reference it (gcc's wrappers of execv() and its
 * kin do); the others have __gcov_dump_one(), called on the main
 * program's __gcov_root instead (without this, the fork servers, workers
 * and actors of a suite that never execs wrote nothing).  A program that
 * is not instrumented (meson, python, sh) has neither: its _exit() just
 * exits.  The counters a child inherited through fork() are written again
 * by it: counts inflate, whether a line ran does not change.
 *
 * Built by tools/coverage.sh with the system compiler, never installed,
 * never part of a release or test build.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef void (*dump_fn)(void);
typedef void (*dump_one_fn)(void *root);

static int main_base(struct dl_phdr_info *info, size_t size, void *out)
{
	(void)size;
	*(uintptr_t *)out = (uintptr_t)info->dlpi_addr;
	return 1; /* the first object is the main program */
}

/* The value of symbol `name` of ELF type `type` (STT_FUNC, STT_OBJECT) in
 * the ELF image img[0..len), or 0. */
static uint64_t symtab_value(const uint8_t *img, size_t len, const char *name,
			     unsigned type)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh;

	if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff > len ||
	    eh->e_shnum > (len - eh->e_shoff) / sizeof *sh)
		return 0;
	sh = (const void *)(img + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *st = &sh[i], *str;
		const Elf64_Sym *sym;

		if (st->sh_type != SHT_SYMTAB || st->sh_link >= eh->e_shnum)
			continue;
		str = &sh[st->sh_link];
		if (st->sh_offset > len || st->sh_size > len - st->sh_offset ||
		    str->sh_offset > len || str->sh_size > len - str->sh_offset)
			return 0;
		sym = (const void *)(img + st->sh_offset);
		for (size_t k = 0; k < st->sh_size / sizeof *sym; k++) {
			if (sym[k].st_name >= str->sh_size ||
			    ELF64_ST_TYPE(sym[k].st_info) != type)
				continue;
			if (!strncmp((const char *)img + str->sh_offset + sym[k].st_name,
				     name, str->sh_size - sym[k].st_name))
				return sym[k].st_value;
		}
	}
	return 0;
}

/*
 * Writes the counters of the main program, if it has any.  __gcov_dump is
 * linked from libgcov.a only when something references it (the exec*
 * wrappers gcc puts around execv() calls do): a test program that never
 * execs has only __gcov_dump_one, which writes one root; the main
 * program's is __gcov_root.  Both are looked up, __gcov_dump first.
 */
static void dump_counters(void)
{
	struct stat stb;
	uintptr_t base = 0;
	uint64_t dump = 0, dump_one = 0, root = 0;
	void *img;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &stb) == 0 && stb.st_size > 0) {
		img = mmap(NULL, (size_t)stb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img != MAP_FAILED) {
			dump = symtab_value(img, (size_t)stb.st_size,
					    "__gcov_dump", STT_FUNC);
			dump_one = symtab_value(img, (size_t)stb.st_size,
						"__gcov_dump_one", STT_FUNC);
			root = symtab_value(img, (size_t)stb.st_size,
					    "__gcov_root", STT_OBJECT);
			munmap(img, (size_t)stb.st_size);
		}
	}
	close(fd);
	if (!dump && !(dump_one && root))
		return;
	dl_iterate_phdr(main_base, &base);
	if (dump)
		((dump_fn)(base + dump))();
	else
		((dump_one_fn)(base + dump_one))((void *)(base + root));
}

void _exit(int status)
{
	dump_counters();
	for (;;)
		syscall(SYS_exit_group, status);
}
