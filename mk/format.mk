# The host module's userspace side. Its formatter, kmod/kvmring_format.c (owned
# region headers, rosters and the order they are written in), is compiled into
# kvmring.ko by Kbuild and here into WebAssembly for ringctl (src/host/format.ts):
# one implementation of the bytes the host writes. Needs clang's wasm32 target and
# wasm-ld (Debian's lld).

.DEFAULT_GOAL := all

FORMAT_SRC  := kmod/kvmring_format.c harness/format_wasm.c
FORMAT_HDRS := kmod/kvmring_format.h kmod/kvmring_shim.h include/kvmring/abi.h
WASM_FLAGS  := --target=wasm32 -nostdlib -O2 -Wall -Wextra -Werror -std=gnu11 -DKVMRING_WASM \
	       -I include -I kmod -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all

$(OUT)/kvmring_format.wasm: $(FORMAT_SRC) $(FORMAT_HDRS) | $(OUT)
	$(CLANG) $(WASM_FLAGS) $(FORMAT_SRC) -o $@

ALL += $(OUT)/kvmring_format.wasm

# The module's ioctl structs and numbers, for test/unit/host-kvmring.test.ts.
$(OUT)/kvmring-ioctl-layout: test/native/kvmring_ioctl_layout.c include/kvmring/kvmring_ioctl.h | $(OUT)
	$(CC) $(CFLAGS) -I include -o $@ $<

ALL += $(OUT)/kvmring-ioctl-layout
