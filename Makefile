# Host-side C programs: the ring harness, layout checks, fuzzers. Each part adds its
# targets to ALL in its own fragment under mk/. `npm run build` runs `make`.
CC      ?= cc
CLANG   ?= clang
CFLAGS  ?= -O2 -g -Wall -Wextra -Werror
OUT     := build/native
ALL     :=

# The first rule is the default goal: `all`, before any fragment's rules.
all:

include $(sort $(wildcard mk/*.mk))

all: $(ALL)

$(OUT):
	mkdir -p $@

clean:
	rm -rf $(OUT)

.PHONY: all clean
