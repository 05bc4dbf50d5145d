# tcgprof (scripts/bench/tcgprof/): a TCG plugin for QEMU that counts the guest
# kernel's instructions per block, for bench:profile (`lab up --tcg-profile`).

# Fragments are read before the top-level `all:`; keep it the default goal.
.DEFAULT_GOAL := all

TCGPROF_SRC    := scripts/bench/tcgprof/tcgprof.c
TCGPROF_HDRS   := scripts/bench/tcgprof/qemu_plugin_v1.h
# Warnings are fatal here whatever CFLAGS says.
TCGPROF_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -pthread

$(OUT)/tcgprof.so: $(TCGPROF_SRC) $(TCGPROF_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $(TCGPROF_CFLAGS) $(TCGPROF_SRC) -o $@

ALL += $(OUT)/tcgprof.so
