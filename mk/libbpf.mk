# Layout checks for the controller's views of C structs: the libbpf binding's
# option structs (src/libbpf/types.ts) and the BPF maps' keys and values
# (bpf/ring_maps.h, src/xdp/codecs.ts). The unit tests run these programs.
# The Makefile includes fragments before its `all:` rule, so the first rule here
# would become the default goal; keep `make` meaning `make all`.

ALL += $(OUT)/libbpf-layout $(OUT)/ring-maps-layout

$(OUT)/libbpf-layout: test/native/libbpf_layout.c | $(OUT)
	$(CC) $(CFLAGS) -o $@ $<

$(OUT)/ring-maps-layout: test/native/ring_maps_layout.c bpf/ring_maps.h | $(OUT)
	$(CC) $(CFLAGS) -I bpf -o $@ $<
