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
