// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcgprof.c - a TCG plugin that counts the guest instructions each block of
 * guest kernel code runs, for bench:profile. perf's cpu-clock does not sample
 * a TCG guest usefully (its samples land in the idle loop while the guest is
 * busy); this counts what TCG emulates: every execution of a translated
 * block adds the block's instruction count to the block's counter. Under
 * TCG a guest's time follows its instruction count (a `rep movs` runs one
 * iteration per block execution, so a copy counts one instruction per
 * element moved).
 *
 *   qemu-system-x86_64 ... -plugin build/native/tcgprof.so,out=FILE
 *
 * Snapshot: write a tag (letters and digits) into FILE.req; within a few
 * milliseconds the plugin writes FILE (through FILE.tmp and a rename) and
 * removes FILE.req. FILE holds a line "tcgprof 1 TAG PID" (the request's
 * tag, QEMU's pid), then a line "VADDR INSNS EXECS" per block start (hex,
 * decimal, decimal) with the counts since QEMU started; the difference of
 * two snapshots of one QEMU is what ran between them. Blocks in user space
 * (below the kernel's half of the address space) are added up as VADDR 0,
 * blocks that found the table full as VADDR 1.
 *
 * Translation runs on the vCPU threads at once: lookups and inserts under
 * tbl_lock. The counters are added to by TCG's inline code, not atomically:
 * in a guest with several vCPUs, two of them running the same block at the
 * same moment may lose a count, so the lab allows --tcg-profile with one
 * vCPU only. A block counts all its instructions when it starts: one cut
 * short by an exception (a page fault inside it) counts them again when it
 * runs anew, a small excess.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qemu_plugin_v1.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define KERNEL_HALF	0xffff800000000000ULL
#define TABLE_SIZE	(1u << 18)	/* block starts, a power of two */
#define CHUNK		4096		/* blocks allocated at once */

/* A block start's counters: TCG's inline code adds to insns and execs. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t execs;
};

static pthread_mutex_t tbl_lock = PTHREAD_MUTEX_INITIALIZER;
/* Under tbl_lock: the open-addressed table, its fill, the current chunk. */
static struct block **table;
static unsigned int used;
static struct block *chunk;
static unsigned int chunk_used = CHUNK;
/* Never freed: translated code points into them for QEMU's lifetime. */
static struct block user_block = { .vaddr = 0 };
static struct block full_block = { .vaddr = 1 };

static char *out_path, *tmp_path, *req_path;

static unsigned int slot_of(uint64_t vaddr)
{
	return (unsigned int)((vaddr * 0x9e3779b97f4a7c15ULL) >> 40) & (TABLE_SIZE - 1);
}

/* The block of vaddr, made on first sight. Under tbl_lock. */
static struct block *block_get(uint64_t vaddr)
{
	unsigned int i;

	if (vaddr < KERNEL_HALF)
		return &user_block;
	for (i = slot_of(vaddr); table[i]; i = (i + 1) & (TABLE_SIZE - 1))
		if (table[i]->vaddr == vaddr)
			return table[i];
	if (used >= TABLE_SIZE / 4 * 3)
		return &full_block;
	if (chunk_used == CHUNK) {
		chunk = calloc(CHUNK, sizeof(*chunk));
		if (!chunk) {
			chunk_used = CHUNK;
			return &full_block;
		}
		chunk_used = 0;
	}
	table[i] = &chunk[chunk_used++];
	table[i]->vaddr = vaddr;
	used++;
	return table[i];
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t n = qemu_plugin_tb_n_insns(tb);
	struct block *b;

	(void)id;
	pthread_mutex_lock(&tbl_lock);
	b = block_get(qemu_plugin_tb_vaddr(tb));
	pthread_mutex_unlock(&tbl_lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->insns, n);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->execs, 1);
}

static void put_block(FILE *f, const struct block *b)
{
	/* Written by the vCPUs meanwhile: one aligned 64-bit load each. */
	uint64_t insns = __atomic_load_n(&b->insns, __ATOMIC_RELAXED);
	uint64_t execs = __atomic_load_n(&b->execs, __ATOMIC_RELAXED);

	if (insns)
		fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
			(unsigned long long)insns, (unsigned long long)execs);
}

/*
 * Writes a snapshot answering the request tag (what FILE.req held, echoed so
 * the reader knows the file is the one it asked for). The table's entries
 * are copied under tbl_lock and written without it: vCPUs that translate
 * meanwhile wait for the copy only.
 */
static int snapshot(const char *tag)
{
	struct block **blocks;
	unsigned int i, n = 0;
	FILE *f;
	int err;

	blocks = malloc(sizeof(*blocks) * TABLE_SIZE);
	if (!blocks)
		return -ENOMEM;
	pthread_mutex_lock(&tbl_lock);
	for (i = 0; i < TABLE_SIZE; i++)
		if (table[i])
			blocks[n++] = table[i];
	pthread_mutex_unlock(&tbl_lock);

	f = fopen(tmp_path, "w");
	if (!f) {
		err = -errno;
		free(blocks);
		return err;
	}
	fprintf(f, "tcgprof 1 %s %ld\n", tag, (long)getpid());
	put_block(f, &user_block);
	put_block(f, &full_block);
	for (i = 0; i < n; i++)
		put_block(f, blocks[i]);
	free(blocks);
	err = ferror(f);
	if (fclose(f) || err) {
		unlink(tmp_path);
		return -EIO;
	}
	if (rename(tmp_path, out_path)) {
		err = -errno;
		unlink(tmp_path);
		return err;
	}
	return 0;
}

/* The request's tag: FILE.req's first word, letters and digits, or "-". */
static void read_tag(char *tag, size_t size)
{
	FILE *f = fopen(req_path, "r");
	size_t n = 0;
	int c;

	while (f && n + 1 < size && (c = fgetc(f)) != EOF && ((c >= '0' && c <= '9') ||
	       (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		tag[n++] = (char)c;
	if (f)
		fclose(f);
	if (!n)
		tag[n++] = '-';
	tag[n] = 0;
}

/*
 * Answers FILE.req with a snapshot, until QEMU exits. A snapshot that could
 * not be written leaves FILE as it was: the reader sees that its tag is not
 * there, and QEMU's standard error says why.
 */
static void *watcher(void *arg)
{
	const struct timespec tick = { .tv_nsec = 5 * 1000 * 1000 };
	char tag[33], msg[128];
	int err;

	(void)arg;
	for (;;) {
		nanosleep(&tick, NULL);
		if (access(req_path, F_OK))
			continue;
		read_tag(tag, sizeof(tag));
		err = snapshot(tag);
		if (err) {
			if (strerror_r(-err, msg, sizeof(msg)))
				snprintf(msg, sizeof(msg), "error %d", -err);
			fprintf(stderr, "tcgprof: cannot write %s: %s\n", out_path, msg);
		}
		unlink(req_path);
	}
	return NULL;
}

static char *suffixed(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s", path, suffix);
	return s;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	pthread_t thread;
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4) && argv[i][4])
			out_path = argv[i] + 4;
	if (!out_path) {
		fputs("tcgprof: give the snapshot file: -plugin tcgprof.so,out=FILE\n", stderr);
		return -1;
	}
	if (!info->system_emulation) {
		fputs("tcgprof: counts a guest kernel: use it with qemu-system-*, not qemu-user\n", stderr);
		return -1;
	}
	table = calloc(TABLE_SIZE, sizeof(*table));
	tmp_path = suffixed(out_path, ".tmp");
	req_path = suffixed(out_path, ".req");
	if (!table || !tmp_path || !req_path || pthread_create(&thread, NULL, watcher, NULL)) {
		fputs("tcgprof: out of memory or threads\n", stderr);
		return -1;
	}
	pthread_detach(thread);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	return 0;
}
