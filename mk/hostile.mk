# The hostile peer (test/hostile/): a program that runs inside a lab guest (ABI v2),
# maps the roster and every region through the guest's BARs and misbehaves there,
# for test/lab/hostile.test.ts and bench:hostile. Linked statically, like the other
# guest programs (mk/guest.mk): a guest runs it from the repository over 9p whatever
# its C library. Honest ring I/O through the ring core the guests run, the roster
# read by ringnet's own reader: both compiled in from guest-netdev/; an owned
# region's header as the harness's roster builder lays it out (harness/).

# Fragments are read before the top-level `all:`; keep it the default goal.
.DEFAULT_GOAL := all

HOSTILE_SRC    := test/hostile/kvmring_hostile.c test/hostile/hostile_bars.c \
		  test/hostile/hostile_region.c test/hostile/hostile_scenarios.c \
		  guest-netdev/ringnet_ring.c guest-netdev/ringnet_meta.c guest-netdev/ringnet_roster.c
HOSTILE_HDRS   := test/hostile/hostile.h guest-netdev/ringnet_ring.h guest-netdev/ringnet_meta.h \
		  guest-netdev/ringnet_roster.h guest-netdev/ringnet_shim.h include/kvmring/abi.h \
		  harness/roster_build.h
# Warnings are fatal here whatever CFLAGS says.
HOSTILE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -static -I include -I guest-netdev -I harness

$(OUT)/kvmring_hostile: $(HOSTILE_SRC) $(HOSTILE_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $(HOSTILE_CFLAGS) $(HOSTILE_SRC) -o $@

ALL += $(OUT)/kvmring_hostile
