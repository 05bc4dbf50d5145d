// SPDX-License-Identifier: GPL-2.0-only
/*
 * bar_poke.c - writes through a PCI BAR from inside a lab guest and says what
 * the guest read before and after.
 *
 *   bar_poke [--bar N] BDF HEX OFFSET...
 *
 * Maps BAR N (default 2, ivshmem's shared memory) of the PCI device BDF
 * (0000:00:10.0) through /sys/bus/pci/devices/BDF/resourceN and, at each
 * OFFSET (decimal or 0x hex), reads as many bytes as HEX has, writes HEX
 * there and reads them back. Prints one JSON line:
 *
 *   {"bdf":"0000:00:10.0","bar":2,"size":65536,"pokes":[
 *     {"offset":0,"before":"a5a5","wrote":"5a5a","after":"a5a5"}, ...]}
 *
 * "after" equal to "before" means the write did not stick (a read-only
 * mapping); whether it reached the memory behind the BAR only the host can
 * tell. The device needs no driver: an unbound device is enabled first (as a
 * driver's pci_enable_device() would) so its BARs decode.
 *
 * Built statically (mk/guest.mk) so that it runs in any lab guest.
 * Exit status: 0 done, 1 a system call failed, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PATTERN 256
#define MAX_POKES 64

static void usage(const char *why)
{
	fprintf(stderr, "bar_poke: %s\nusage: bar_poke [--bar N] BDF HEX OFFSET...\n", why);
	exit(2);
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "bar_poke: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* HEX into pat; its length in bytes, or 0 if it is not an even run of hex digits. */
static size_t parse_hex(const char *hex, uint8_t *pat)
{
	size_t n = strlen(hex), i;

	if (n == 0 || n % 2 || n / 2 > MAX_PATTERN)
		return 0;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		pat[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

/* A device without a driver may not decode its BARs yet: enable it. */
static void enable_device(const char *bdf)
{
	char path[256], state = '0';
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/enable", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fail("cannot open", path);
	if (read(fd, &state, 1) != 1)
		fail("cannot read", path);
	if (state == '0' && pwrite(fd, "1", 1, 0) != 1)
		fail("cannot write", path);
	close(fd);
}

/* Byte by byte through volatile pointers: every access reaches the BAR, in order. */
static void copy_from_bar(uint8_t *dst, const volatile uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

static void copy_to_bar(volatile uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

static void print_hex(const char *key, const uint8_t *b, size_t n)
{
	size_t i;

	printf("\"%s\":\"", key);
	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\"");
}

int main(int argc, char **argv)
{
	uint8_t pat[MAX_PATTERN], before[MAX_PATTERN], after[MAX_PATTERN];
	unsigned long long offsets[MAX_POKES];
	char path[256], *end;
	volatile uint8_t *bar;
	const char *bdf;
	struct stat st;
	size_t len, size;
	int bar_no = 2, nr, i, fd;

	argv++;
	argc--;
	if (argc >= 2 && strcmp(argv[0], "--bar") == 0) {
		bar_no = (int)strtol(argv[1], &end, 10);
		if (*end || end == argv[1] || bar_no < 0 || bar_no > 5)
			usage("--bar takes 0 to 5");
		argv += 2;
		argc -= 2;
	}
	if (argc < 3)
		usage("give a device, a pattern and at least one offset");
	bdf = argv[0];
	if (!*bdf || strlen(bdf) > 32 || bdf[strspn(bdf, "0123456789abcdefABCDEF:.")])
		usage("BDF is a PCI address such as 0000:00:10.0");
	len = parse_hex(argv[1], pat);
	if (!len)
		usage("HEX is an even number of hex digits, at most 512");
	nr = argc - 2;
	if (nr > MAX_POKES)
		usage("at most 64 offsets");

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf, bar_no);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		fail("cannot open", path);
	if (fstat(fd, &st))
		fail("cannot stat", path);
	size = (size_t)st.st_size;
	for (i = 0; i < nr; i++) {
		offsets[i] = strtoull(argv[2 + i], &end, 0);
		if (*end || end == argv[2 + i] || offsets[i] > size || size - offsets[i] < len) {
			fprintf(stderr, "bar_poke: offset %s: %zu bytes there do not fit in the BAR's %zu\n",
				argv[2 + i], len, size);
			exit(2);
		}
	}
	enable_device(bdf);
	bar = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED)
		fail("cannot map", path);

	printf("{\"bdf\":\"%s\",\"bar\":%d,\"size\":%zu,\"pokes\":[", bdf, bar_no, size);
	for (i = 0; i < nr; i++) {
		copy_from_bar(before, bar + offsets[i], len);
		copy_to_bar(bar + offsets[i], pat, len);
		__sync_synchronize();
		copy_from_bar(after, bar + offsets[i], len);
		printf("%s{\"offset\":%llu,", i ? "," : "", offsets[i]);
		print_hex("before", before, len);
		printf(",");
		print_hex("wrote", pat, len);
		printf(",");
		print_hex("after", after, len);
		printf("}");
	}
	printf("]}\n");
	munmap((void *)bar, size);
	close(fd);
	return 0;
}
