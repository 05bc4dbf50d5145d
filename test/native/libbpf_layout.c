// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints the size of every struct the TypeScript libbpf binding declares
 * (src/libbpf/types.ts), each member's offset and size, and the constants it
 * copies, all from libbpf's and the kernel's headers. The unit test
 * test/unit/libbpf-layout.test.ts compares the output with koffi's view.
 *
 *   struct <name> <size>
 *   member <struct> <member> <offset> <size>
 *   const <name> <value>
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define S(t) printf("struct %s %zu\n", #t, sizeof(struct t))
#define MA(t, label, f) \
	printf("member %s %s %zu %zu\n", #t, label, offsetof(struct t, f), sizeof(((struct t *)0)->f))
#define M(t, f) MA(t, #f, f)
#define C(name) printf("const %s %lld\n", #name, (long long)(name))

int main(void)
{
	S(bpf_object_open_opts);
	M(bpf_object_open_opts, sz);
	M(bpf_object_open_opts, object_name);
	M(bpf_object_open_opts, relaxed_maps);
	M(bpf_object_open_opts, pin_root_path);
	M(bpf_object_open_opts, kconfig);
	M(bpf_object_open_opts, btf_custom_path);
	M(bpf_object_open_opts, kernel_log_buf);
	M(bpf_object_open_opts, kernel_log_size);
	M(bpf_object_open_opts, kernel_log_level);

	S(bpf_xdp_attach_opts);
	M(bpf_xdp_attach_opts, sz);
	M(bpf_xdp_attach_opts, old_prog_fd);

	S(bpf_xdp_query_opts);
	M(bpf_xdp_query_opts, sz);
	M(bpf_xdp_query_opts, prog_id);
	M(bpf_xdp_query_opts, drv_prog_id);
	M(bpf_xdp_query_opts, hw_prog_id);
	M(bpf_xdp_query_opts, skb_prog_id);
	M(bpf_xdp_query_opts, attach_mode);

	S(bpf_tc_hook);
	M(bpf_tc_hook, sz);
	M(bpf_tc_hook, ifindex);
	M(bpf_tc_hook, attach_point);
	M(bpf_tc_hook, parent);

	S(bpf_tc_opts);
	M(bpf_tc_opts, sz);
	M(bpf_tc_opts, prog_fd);
	M(bpf_tc_opts, flags);
	M(bpf_tc_opts, prog_id);
	M(bpf_tc_opts, handle);
	M(bpf_tc_opts, priority);

	S(bpf_test_run_opts);
	M(bpf_test_run_opts, sz);
	M(bpf_test_run_opts, data_in);
	M(bpf_test_run_opts, data_out);
	M(bpf_test_run_opts, data_size_in);
	M(bpf_test_run_opts, data_size_out);
	M(bpf_test_run_opts, ctx_in);
	M(bpf_test_run_opts, ctx_out);
	M(bpf_test_run_opts, ctx_size_in);
	M(bpf_test_run_opts, ctx_size_out);
	M(bpf_test_run_opts, retval);
	M(bpf_test_run_opts, repeat);
	M(bpf_test_run_opts, duration);
	M(bpf_test_run_opts, flags);
	M(bpf_test_run_opts, cpu);
	M(bpf_test_run_opts, batch_size);

	S(bpf_link_create_opts);
	M(bpf_link_create_opts, sz);
	M(bpf_link_create_opts, flags);
	M(bpf_link_create_opts, iter_info);
	M(bpf_link_create_opts, iter_info_len);
	M(bpf_link_create_opts, target_btf_id);

	S(bpf_obj_get_opts);
	M(bpf_obj_get_opts, sz);
	M(bpf_obj_get_opts, file_flags);

	S(bpf_prog_info);
	M(bpf_prog_info, type);
	M(bpf_prog_info, id);
	M(bpf_prog_info, tag);
	M(bpf_prog_info, jited_prog_len);
	M(bpf_prog_info, xlated_prog_len);
	M(bpf_prog_info, jited_prog_insns);
	M(bpf_prog_info, xlated_prog_insns);
	M(bpf_prog_info, load_time);
	M(bpf_prog_info, created_by_uid);
	M(bpf_prog_info, nr_map_ids);
	M(bpf_prog_info, map_ids);
	M(bpf_prog_info, name);
	M(bpf_prog_info, ifindex);
	M(bpf_prog_info, netns_dev);
	M(bpf_prog_info, netns_ino);
	M(bpf_prog_info, nr_jited_ksyms);
	M(bpf_prog_info, nr_jited_func_lens);
	M(bpf_prog_info, jited_ksyms);
	M(bpf_prog_info, jited_func_lens);
	M(bpf_prog_info, btf_id);
	M(bpf_prog_info, func_info_rec_size);
	M(bpf_prog_info, func_info);
	M(bpf_prog_info, nr_func_info);
	M(bpf_prog_info, nr_line_info);
	M(bpf_prog_info, line_info);
	M(bpf_prog_info, jited_line_info);
	M(bpf_prog_info, nr_jited_line_info);
	M(bpf_prog_info, line_info_rec_size);
	M(bpf_prog_info, jited_line_info_rec_size);
	M(bpf_prog_info, nr_prog_tags);
	M(bpf_prog_info, prog_tags);
	M(bpf_prog_info, run_time_ns);
	M(bpf_prog_info, run_cnt);
	M(bpf_prog_info, recursion_misses);
	M(bpf_prog_info, verified_insns);
	M(bpf_prog_info, attach_btf_obj_id);
	M(bpf_prog_info, attach_btf_id);

	S(bpf_map_info);
	M(bpf_map_info, type);
	M(bpf_map_info, id);
	M(bpf_map_info, key_size);
	M(bpf_map_info, value_size);
	M(bpf_map_info, max_entries);
	M(bpf_map_info, map_flags);
	M(bpf_map_info, name);
	M(bpf_map_info, ifindex);
	M(bpf_map_info, btf_vmlinux_value_type_id);
	M(bpf_map_info, netns_dev);
	M(bpf_map_info, netns_ino);
	M(bpf_map_info, btf_id);
	M(bpf_map_info, btf_key_type_id);
	M(bpf_map_info, btf_value_type_id);
	M(bpf_map_info, map_extra);

	S(bpf_link_info);
	M(bpf_link_info, type);
	M(bpf_link_info, id);
	M(bpf_link_info, prog_id);
	MA(bpf_link_info, "xdp_ifindex", xdp.ifindex);

	S(btf_type);
	M(btf_type, name_off);
	M(btf_type, info);
	M(btf_type, size);

	S(btf_var_secinfo);
	M(btf_var_secinfo, type);
	M(btf_var_secinfo, offset);
	M(btf_var_secinfo, size);

	S(xdp_md);
	M(xdp_md, data);
	M(xdp_md, data_end);
	M(xdp_md, data_meta);
	M(xdp_md, ingress_ifindex);
	M(xdp_md, rx_queue_index);
	M(xdp_md, egress_ifindex);

	/* Declared up to ifindex (a test run's context may be shorter). */
	S(__sk_buff);
	M(__sk_buff, len);
	M(__sk_buff, pkt_type);
	M(__sk_buff, mark);
	M(__sk_buff, queue_mapping);
	M(__sk_buff, protocol);
	M(__sk_buff, vlan_present);
	M(__sk_buff, vlan_tci);
	M(__sk_buff, vlan_proto);
	M(__sk_buff, priority);
	M(__sk_buff, ingress_ifindex);
	M(__sk_buff, ifindex);

	C(BPF_ANY);
	C(BPF_NOEXIST);
	C(BPF_EXIST);
	C(BPF_F_NO_PREALLOC);
	C(BPF_F_TEST_XDP_LIVE_FRAMES);
	C(BPF_OBJ_NAME_LEN);
	C(BPF_XDP);
	C(BPF_LINK_TYPE_XDP);
	C(BPF_MAP_TYPE_HASH);
	C(BPF_MAP_TYPE_ARRAY);
	C(BPF_MAP_TYPE_PERCPU_HASH);
	C(BPF_MAP_TYPE_PERCPU_ARRAY);
	C(BPF_MAP_TYPE_LRU_PERCPU_HASH);
	C(BPF_MAP_TYPE_LPM_TRIE);
	C(BPF_MAP_TYPE_DEVMAP);
	C(BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
	C(BPF_PROG_TYPE_SCHED_CLS);
	C(BPF_PROG_TYPE_XDP);
	C(BPF_TC_INGRESS);
	C(BPF_TC_EGRESS);
	C(BPF_TC_CUSTOM);
	C(BPF_TC_F_REPLACE);
	C(BTF_KIND_VAR);
	C(BTF_KIND_DATASEC);
	C(XDP_FLAGS_UPDATE_IF_NOEXIST);
	C(XDP_FLAGS_SKB_MODE);
	C(XDP_FLAGS_DRV_MODE);
	C(XDP_FLAGS_HW_MODE);
	C(XDP_FLAGS_REPLACE);
	C(XDP_ATTACHED_NONE);
	C(XDP_ATTACHED_DRV);
	C(XDP_ATTACHED_SKB);
	C(XDP_ATTACHED_HW);
	C(XDP_ATTACHED_MULTI);
	C(XDP_ABORTED);
	C(XDP_DROP);
	C(XDP_PASS);
	C(XDP_TX);
	C(XDP_REDIRECT);
	C(TC_ACT_OK);
	C(TC_ACT_SHOT);
	C(TC_ACT_REDIRECT);
	C(LIBBPF_WARN);
	C(LIBBPF_INFO);
	C(LIBBPF_DEBUG);
	return 0;
}
