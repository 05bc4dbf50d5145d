# The ring core's userspace builds (harness/): the core as a library, its unit
# tests under AddressSanitizer and UBSan, a libFuzzer target, the driver's
# locking model under ThreadSanitizer and the benchmark.
# The core itself is guest-netdev/ringnet_ring.c and ringnet_meta.c, compiled
# into ringnet.ko too; so is peer membership, guest-netdev/ringnet_member.c,
# with its own unit tests and fuzzer, and the roster (ABI v2),
# guest-netdev/ringnet_roster.c, likewise (membership links it too: the
# roster's prefixes decide which published addresses a peer may claim).
# The benchmark links the static archive by path.

# Fragments are read before the top-level `all:`; keep it the default goal.
.DEFAULT_GOAL := all

RING_CORE   := guest-netdev/ringnet_ring.c guest-netdev/ringnet_meta.c
RING_TEST_SRC := harness/ring_test.c harness/ring_test_ops.c harness/ring_test_join.c \
		 harness/ring_test_split.c harness/ring_test_hostile.c harness/ring_test_meta.c
RING_HDRS   := guest-netdev/ringnet_ring.h guest-netdev/ringnet_meta.h guest-netdev/ringnet_shim.h \
	       include/kvmring/abi.h harness/harness.h harness/check.h harness/cursor.h
MEMBER_SRC  := guest-netdev/ringnet_member.c guest-netdev/ringnet_roster.c
MEMBER_HDRS := guest-netdev/ringnet_member.h guest-netdev/ringnet_roster.h guest-netdev/ringnet_shim.h \
	       include/kvmring/abi.h harness/member_sim.h harness/check.h harness/cursor.h
ROSTER_SRC  := guest-netdev/ringnet_roster.c
ROSTER_HDRS := guest-netdev/ringnet_roster.h guest-netdev/ringnet_shim.h include/kvmring/abi.h \
	       harness/roster_build.h harness/check.h harness/cursor.h
RING_CFLAGS := -std=gnu11 -I include -I guest-netdev
RING_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(OUT)/ringnet_%.o: guest-netdev/ringnet_%.c $(RING_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $(RING_CFLAGS) -c $< -o $@

$(OUT)/libringnet_ring.a: $(OUT)/ringnet_ring.o $(OUT)/ringnet_meta.o
	$(AR) rcs $@ $^

$(OUT)/ring_test: $(RING_TEST_SRC) harness/ring_test.h $(RING_CORE) $(RING_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) $(RING_SAN) $(RING_TEST_SRC) $(RING_CORE) -o $@ -lpthread

$(OUT)/ring_fuzz: harness/ring_fuzz.c $(RING_CORE) $(RING_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		harness/ring_fuzz.c $(RING_CORE) -o $@

$(OUT)/member_test: harness/member_test.c $(MEMBER_SRC) $(MEMBER_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) $(RING_SAN) harness/member_test.c $(MEMBER_SRC) -o $@

$(OUT)/member_fuzz: harness/member_fuzz.c $(MEMBER_SRC) $(MEMBER_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		harness/member_fuzz.c $(MEMBER_SRC) -o $@

$(OUT)/roster_test: harness/roster_test.c $(ROSTER_SRC) $(ROSTER_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) $(RING_SAN) harness/roster_test.c $(ROSTER_SRC) -o $@

$(OUT)/roster_fuzz: harness/roster_fuzz.c $(ROSTER_SRC) $(ROSTER_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		harness/roster_fuzz.c $(ROSTER_SRC) -o $@

# ThreadSanitizer: the driver's locking model around one ring.
$(OUT)/ring_race: harness/ring_race.c $(RING_CORE) $(RING_HDRS) | $(OUT)
	$(CLANG) $(CFLAGS) $(RING_CFLAGS) -fsanitize=thread harness/ring_race.c $(RING_CORE) -o $@ -lpthread

$(OUT)/ring_bench: harness/ring_bench.c $(OUT)/libringnet_ring.a $(RING_HDRS)
	$(CC) $(CFLAGS) $(RING_CFLAGS) harness/ring_bench.c $(OUT)/libringnet_ring.a -lpthread -o $@

ALL += $(OUT)/libringnet_ring.a $(OUT)/ring_test $(OUT)/ring_fuzz $(OUT)/ring_race $(OUT)/ring_bench \
       $(OUT)/member_test $(OUT)/member_fuzz $(OUT)/roster_test $(OUT)/roster_fuzz
