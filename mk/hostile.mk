# The hostile peer (test/hostile/): a host-side program that joins a lab's region
# and misbehaves in it, for test/lab/hostile.test.ts. Honest ring I/O through the
# ring core the guests run, linked as mk/ring.mk links the benchmark.

# Fragments are read before the top-level `all:`; keep it the default goal.
.DEFAULT_GOAL := all

HOSTILE_SRC    := test/hostile/kvmring_hostile.c test/hostile/hostile_region.c \
		  test/hostile/hostile_scenarios.c
HOSTILE_HDRS   := test/hostile/hostile.h guest-netdev/ringnet_ring.h guest-netdev/ringnet_shim.h include/kvmring/abi.h
# Warnings are fatal here whatever CFLAGS says.
HOSTILE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -I include -I guest-netdev

$(OUT)/kvmring_hostile: $(HOSTILE_SRC) $(OUT)/libringnet_ring.a $(HOSTILE_HDRS)
	$(CC) $(CFLAGS) $(HOSTILE_CFLAGS) $(HOSTILE_SRC) $(OUT)/libringnet_ring.a -o $@

ALL += $(OUT)/kvmring_hostile
