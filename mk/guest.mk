# Programs the lab's tests run inside a guest (test/guest/), built on the host.
# Linked statically: a guest runs them from the repository over 9p whatever its
# C library.

# Fragments are read before the top-level `all:`; keep it the default goal.
.DEFAULT_GOAL := all

# Warnings are fatal here whatever CFLAGS says.
GUEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -static

$(OUT)/bar_poke: test/guest/bar_poke.c | $(OUT)
	$(CC) $(CFLAGS) $(GUEST_CFLAGS) $< -o $@

ALL += $(OUT)/bar_poke

# kvmring.ko's regions mapped as QEMU maps them, and a ring between two of them
# through the ring core (guest-netdev/ringnet_ring.c), as the harness builds it.
KVMRING_MAP_SRC  := test/guest/kvmring_map.c guest-netdev/ringnet_ring.c guest-netdev/ringnet_meta.c
KVMRING_MAP_HDRS := harness/harness.h guest-netdev/ringnet_ring.h guest-netdev/ringnet_shim.h include/kvmring/abi.h include/kvmring/kvmring_ioctl.h

$(OUT)/kvmring_map: $(KVMRING_MAP_SRC) $(KVMRING_MAP_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $(GUEST_CFLAGS) -I include -I guest-netdev -I harness $(KVMRING_MAP_SRC) -o $@

ALL += $(OUT)/kvmring_map
