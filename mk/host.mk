# The ring core as a shared library for the controller: `ringctl host up` formats
# and checks a region with the very code the guest driver runs
# (src/host/ring-core.ts loads it with koffi). Same sources and include flags as
# the harness builds in mk/ring.mk; -fPIC so it can be a shared object.

# Fragments are read before the top-level `all:`; keep it the default goal.
.DEFAULT_GOAL := all

HOST_RING_SRC   := guest-netdev/ringnet_ring.c
HOST_RING_HDRS  := guest-netdev/ringnet_ring.h guest-netdev/ringnet_shim.h include/kvmring/abi.h
HOST_RING_FLAGS := -std=gnu11 -I include -I guest-netdev

$(OUT)/libringnet_ring.so: $(HOST_RING_SRC) $(HOST_RING_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $(HOST_RING_FLAGS) -fPIC -shared -o $@ $(HOST_RING_SRC)

ALL += $(OUT)/libringnet_ring.so
