// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile_bars.c - kvmring_hostile's helpers and the PCI functions it maps:
 * the roster (read by the rules ringnet.ko reads it with, ringnet_roster.c),
 * every region the roster lists and, in doorbell mode, the doorbell
 * device's registers; and every raw write through them, with what each
 * write read back.
 *
 * Every BAR2 is mapped read-write when the file lets us, the regions of
 * other guests included: keeping those writes out is the hypervisor's job
 * (a read-only memory backend), not ours. A file we may only open for
 * reading (the host tests' stand-ins for BARs) is mapped PROT_READ, and a
 * write into it faults; raw writes catch the fault and count it.
 */
#define _GNU_SOURCE
#include "hostile.h"
#include "roster_build.h"

/* ---- helpers ---------------------------------------------------------------- */

static __attribute__((format(printf, 1, 0))) void vsay(const char *fmt, va_list ap)
{
	fputs("kvmring_hostile: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(1);
}

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* xorshift64*: fast, seeded, good enough for garbage. */
u64 rnd(struct hostile *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dULL;
}

void rnd_fill(struct hostile *h, u8 *p, u64 n)
{
	u64 i, v;

	for (i = 0; i + 8 <= n; i += 8) {
		v = rnd(h);
		memcpy(p + i, &v, 8);
	}
	for (v = rnd(h); i < n; i++, v >>= 8)
		p[i] = (u8)v;
}

bool mac_valid(const u8 *mac)
{
	static const u8 zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

void put_be16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

u16 ip_csum(const u8 *p, u32 n)
{
	u32 sum = 0, i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

/* "00:11.0": a function on the root bus, as lspci and the roster's devfn name it. */
const char *devfn_str(u16 devfn)
{
	static char s[4][16];
	static unsigned int n;
	char *out = s[n++ % 4];

	snprintf(out, sizeof(s[0]), "00:%02x.%u", (devfn >> 3) & 0x1f, devfn & 7);
	return out;
}

/* ---- raw writes ------------------------------------------------------------- */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (!fault_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(fault_jmp, 1);
}

static void fault_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* One store through a PROT_READ mapping: false when it faulted (it always should). */
static bool guarded_store(volatile u64 *p, u64 v)
{
	if (sigsetjmp(fault_jmp, 0)) {
		fault_armed = 0;
		return false;
	}
	fault_armed = 1;
	*p = v;
	fault_armed = 0;
	return true;
}

/*
 * Writes n 64-bit words at off of b, each read before and after its store,
 * and counts them in *w and b's own tally. Word by word through volatile
 * pointers: every access reaches the BAR, in order, as one 8-byte access.
 */
void poke(struct hbar *b, u64 off, const u64 *words, u32 n, struct hwrites *w)
{
	volatile u64 *p = (volatile u64 *)(b->mem + off);
	u64 before, after;
	u32 i;

	for (i = 0; i < n; i++) {
		before = p[i];
		w->words++;
		b->w.words++;
		if (!b->writable) {
			if (!guarded_store(&p[i], words[i])) {
				w->faults++;
				b->w.faults++;
				continue;
			}
		} else {
			p[i] = words[i];
		}
		__sync_synchronize();
		after = p[i];
		w->last[0] = b->w.last[0] = before;
		w->last[1] = b->w.last[1] = words[i];
		w->last[2] = b->w.last[2] = after;
		if (after == words[i] && after != before) {
			w->stuck++;
			b->w.stuck++;
		}
	}
}

/*
 * scribble: random bytes over up to `budget` bytes of b from where the last
 * call stopped (wrapping at its end), HOSTILE_CHUNK at a time, each chunk
 * read before, written and read back; stops early at the deadline.
 */
void bar_scribble(struct hostile *h, struct hbar *b, u64 budget, u64 deadline)
{
	u64 *before = (u64 *)h->chunk[0], *wrote = (u64 *)h->chunk[1], *after = (u64 *)h->chunk[2];
	u64 done, n, i;

	for (done = 0; done < budget && !hostile_stop; done += n) {
		volatile u64 *p;

		if (b->cursor >= b->size)
			b->cursor = 0;
		if (!(done & 0xffff) && now_ns() >= deadline)
			break;
		p = (volatile u64 *)(b->mem + b->cursor);
		n = b->size - b->cursor < HOSTILE_CHUNK ? b->size - b->cursor : HOSTILE_CHUNK;
		b->cursor += n;
		for (i = 0; i < n / 8; i++)
			before[i] = p[i];
		rnd_fill(h, (u8 *)wrote, n);
		b->w.words += n / 8;
		h->stats.scribbled += n;
		if (!b->writable) {
			/* The first store faults; the rest would too. */
			if (!guarded_store(p, wrote[0])) {
				b->w.faults += n / 8;
				continue;
			}
		}
		for (i = 0; i < n / 8; i++)
			p[i] = wrote[i];
		__sync_synchronize();
		for (i = 0; i < n / 8; i++)
			after[i] = p[i];
		for (i = 0; i < n / 8; i++)
			if (after[i] == wrote[i] && wrote[i] != before[i])
				b->w.stuck++;
		b->w.last[0] = before[n / 8 - 1];
		b->w.last[1] = wrote[n / 8 - 1];
		b->w.last[2] = after[n / 8 - 1];
	}
}

void doorbell_ring(struct hostile *h, u32 id, u32 vector)
{
	volatile u32 *reg = (volatile u32 *)(h->doorbell->mem + IVSHMEM_REG_DOORBELL);

	*reg = id << 16 | (vector & 0xffff);
	h->doorbell->w.words++;
	h->stats.doorbells++;
}

u32 doorbell_ivposition(struct hostile *h)
{
	return *(volatile u32 *)(h->doorbell->mem + IVSHMEM_REG_IVPOSITION);
}

/* ---- the PCI functions -------------------------------------------------------- */

static void fn_path(char *out, size_t size, const struct hostile *h, u16 devfn, const char *file)
{
	snprintf(out, size, "%s/0000:%s/%s", h->pci, devfn_str(devfn), file);
}

/*
 * A function no driver may hold while we write its BARs: one bound is an
 * error (ringnet would be writing our slot too). driver_override keeps
 * drivers off it from now on, and an unbound device is enabled (as a
 * driver's pci_enable_device() would) so that its BARs decode. Where the
 * files are missing (the host tests' stand-ins), there is nothing to do.
 */
static void fn_prepare(const struct hostile *h, u16 devfn)
{
	char path[512], link[256], state = '0';
	ssize_t n;
	int fd;

	fn_path(path, sizeof(path), h, devfn, "driver");
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		die("%s is bound to %s: the hostile peer runs in a guest whose ivshmem devices no driver holds (no ringnet: lab up --no-ring, or unbind it)",
		    devfn_str(devfn), strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	}
	fn_path(path, sizeof(path), h, devfn, "driver_override");
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, HOSTILE_OVERRIDE, strlen(HOSTILE_OVERRIDE)) < 0)
			say("cannot keep drivers off %s: %s", devfn_str(devfn), strerror(errno));
		close(fd);
	}
	fn_path(path, sizeof(path), h, devfn, "enable");
	fd = open(path, O_RDWR);
	if (fd < 0)
		return;
	if (read(fd, &state, 1) != 1)
		die("cannot read %s: %s", path, strerror(errno));
	if (state == '0' && pwrite(fd, "1", 1, 0) != 1)
		die("cannot enable %s: %s", devfn_str(devfn), strerror(errno));
	close(fd);
}

/* Maps BAR bar_no of devfn read-write if we may open it so, else read-only. */
static struct hbar *bar_map(struct hostile *h, enum hbar_kind kind, u16 devfn, int bar_no)
{
	struct hbar *b;
	struct stat st;
	char path[512], file[16];
	int fd, prot = PROT_READ | PROT_WRITE;

	if (h->nbars == HOSTILE_MAX_BARS)
		die("more PCI functions than %d", HOSTILE_MAX_BARS);
	fn_prepare(h, devfn);
	snprintf(file, sizeof(file), "resource%d", bar_no);
	fn_path(path, sizeof(path), h, devfn, file);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
		prot = PROT_READ;
		fd = open(path, O_RDONLY | O_SYNC);
	}
	if (fd < 0)
		die("open %s: %s (is there an ivshmem device at %s?)", path, strerror(errno), devfn_str(devfn));
	if (fstat(fd, &st))
		die("fstat %s: %s", path, strerror(errno));
	b = &h->bars[h->nbars++];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->devfn = devfn;
	b->region = -1;
	b->size = (u64)st.st_size;
	b->writable = prot & PROT_WRITE;
	if (!b->size)
		die("%s is empty", path);
	b->mem = mmap(NULL, b->size, prot, MAP_SHARED, fd, 0);
	if (b->mem == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
	return b;
}

/* The roster, as ringnet reads it: retried while the host rewrites it. */
static void roster_read(struct hostile *h)
{
	int err, tries;

	for (tries = 0;; tries++) {
		err = ringnet_roster_read(h->roster->mem, h->roster->size, h->roster_devfn, &h->ro, &h->why);
		if (err != -EAGAIN || tries == 50)
			break;
		usleep(100000);
	}
	if (err)
		die("the roster at %s is refused (%s): %s", devfn_str(h->roster_devfn), strerror(-err),
		    h->why.msg);
	memcpy(h->roster_raw, h->roster->mem, sizeof(h->roster_raw));
}

/* Whether the roster still holds the bytes we read at the start, and still validates. */
bool roster_intact(struct hostile *h)
{
	struct ringnet_roster *again = malloc(sizeof(*again));
	bool ok;

	if (!again)
		die("out of memory");
	ok = !memcmp(h->roster_raw, h->roster->mem, sizeof(h->roster_raw)) &&
	     !ringnet_roster_read(h->roster->mem, h->roster->size, h->roster_devfn, again, &h->why);
	free(again);
	return ok;
}

/*
 * A region of ours whose header an earlier run scribbled over: written again
 * as the host formats it (harness/roster_build.h: every field from the
 * roster we read at the start, then the magic), so that this run can use
 * the region. Only its owner can, and only its owner's lanes depend on it.
 */
static void own_header_restore(struct hostile *h, struct hbar *b)
{
	struct kvmring_owned_hdr *hdr = (struct kvmring_owned_hdr *)b->mem, fresh;

	say("region %d at %s is ours but its header is not what the host wrote (%s): writing it again",
	    b->region, devfn_str(b->devfn), h->why.msg);
	rb_format(&fresh, h->roster_raw, (u32)b->region);
	memcpy((u8 *)hdr + sizeof(hdr->magic), (u8 *)&fresh + sizeof(fresh.magic),
	       sizeof(fresh) - sizeof(fresh.magic));
	__atomic_store_n(&hdr->magic, fresh.magic, __ATOMIC_RELEASE);
}

/*
 * The roster, every region it lists (checked as ringnet checks them; one of
 * ours that an earlier scribble left garbled is formatted again) and, in
 * doorbell mode, the doorbell device's registers.
 */
void bars_map(struct hostile *h)
{
	u32 i;
	int err, tries;

	fault_handlers();
	h->roster = bar_map(h, HBAR_ROSTER, h->roster_devfn, 2);
	roster_read(h);
	h->self = h->ro.self;
	memcpy(h->mac, h->ro.slots[h->self].mac, 6);
	if (h->victim >= 0 && ((u32)h->victim >= h->ro.max_peers || (u32)h->victim == h->self))
		die("--victim %d: our slot is %u, the roster's %u", h->victim, h->self, h->ro.max_peers);

	for (i = 0; i < h->ro.nregions; i++) {
		const struct ringnet_roster_region *e = &h->ro.regions[i];
		struct hbar *b = bar_map(h, HBAR_REGION, e->devfn, 2);

		b->region = (int)i;
		b->owner = e->owner;
		b->readers = e->readers;
		b->mine = e->owner == h->self;
		h->by_region[i] = b;
		for (tries = 0;; tries++) {
			err = ringnet_owned_check(b->mem, b->size, &h->ro, i, &h->why);
			if (err && err != -EMSGSIZE && b->mine && b->writable && !tries) {
				own_header_restore(h, b);
				continue;
			}
			if (err != -EAGAIN || tries == 50)
				break;
			usleep(100000);
		}
		if (err)
			die("region %u at %s is refused (%s): %s", i, devfn_str(e->devfn), strerror(-err),
			    h->why.msg);
		if (b->mine && !b->writable)
			die("region %u at %s is ours by the roster, but we may only read it", i,
			    devfn_str(e->devfn));
		if (b->mine)
			h->mine[h->nmine++] = (struct kvmring_peer *)(b->mem + KVMRING_OWNED_ENTRY_OFF);
	}
	if (!h->nmine)
		die("the roster gives us (slot %u) no region of our own: we talk to nobody", h->self);

	h->ivposition = KVMRING_DOORBELL_NONE;
	if (h->ro.flags & KVMRING_ROSTER_F_DOORBELL) {
		h->doorbell = bar_map(h, HBAR_DOORBELL, h->ro.doorbell_devfn, 0);
		if (h->doorbell->size < IVSHMEM_BAR0_SIZE)
			die("the doorbell device at %s has %llu bytes of registers, not %d",
			    devfn_str(h->ro.doorbell_devfn), (unsigned long long)h->doorbell->size,
			    IVSHMEM_BAR0_SIZE);
		h->ivposition = doorbell_ivposition(h);
	}
	say("slot %u (%s) of %u, %s isolation, %u region(s), %u ours%s", h->self,
	    h->ro.slots[h->self].name, h->ro.max_peers,
	    h->ro.isolation == KVMRING_ISOLATION_PAIR ? "pair" : "owner", h->ro.nregions, h->nmine,
	    h->doorbell ? ", doorbell mode" : "");
}
