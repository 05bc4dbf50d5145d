// Where the guests' time goes: a guest's instructions by kernel symbol
// (tcgprof.mjs's bySymbol()) grouped into the parts of the path a byte or a
// packet crosses (copies, ring0's driver, virtio, memory, TCP/IP, the rest),
// for scripts/bench/profile.mjs. Pure: tested in test/unit/bench-profile.test.ts.
import { fmt } from './report.mjs';

/**
 * The parts a symbol is counted in, first match wins. Each names what a packet
 * or a byte pays for there; `idle` is a CPU with nothing to do.
 */
export const PARTS = [
  ['idle', /^(default_idle|native_safe_halt|cpuidle_|mwait_idle|intel_idle|acpi_idle|poll_idle|do_idle|cpu_idle|arch_cpu_idle)/],
  // Pages zeroed as they are allocated: Debian's kernel has init_on_alloc on.
  ['zeroing', /(clear_page|clear_user|memset)/],
  ['copy', /(memcpy|memmove|copy_user|copy_to_user|copy_from_user|_copy_to_iter|_copy_from_iter|skb_copy_bits|skb_copy_datagram|csum_partial_copy|rep_movs|copy_page)/],
  ['ring0 driver', /^(ringnet_|kvmring_)/],
  ['virtio', /^(virtnet_|virtqueue_|vring_|virtio_|vp_|detach_buf|receive_buf|add_recvbuf|xmit_skb|free_old_xmit)/],
  ['memory', /^(kmem_cache_|__kmalloc|kmalloc|kfree|__alloc_pages|alloc_pages|get_page_from_freelist|free_unref_page|__free_pages|page_frag_|__napi_alloc|napi_alloc|__alloc_skb|build_skb|skb_release|__kfree_skb|kfree_skb|consume_skb|napi_consume_skb|skb_free_head|rmqueue|__page_pool|page_pool_)/],
  ['TCP/IP', /^(tcp_|__tcp_|ip_|__ip_|ipv6_|ip6_|udp_|__udp|inet_|sock_|sk_|__sk_|skb_|__skb_|dev_gro|napi_gro|gro_|inet_gro|tcp4_gro|__dev_queue_xmit|dev_hard_start_xmit|sch_direct_xmit|__qdisc_run|net_rx_action|__netif_receive|netif_receive|__napi_poll|napi_complete|eth_type_trans|validate_xmit|neigh_|raw_)/],
  ['user space', /^\[user space\]$/],
  ['interrupts, timers, scheduling', /^(__?schedule|schedule|finish_task_switch|pick_next|enqueue_|dequeue_|try_to_wake_up|hrtimer_|__hrtimer|tick_|irq_|handle_irq|__handle_irq|do_IRQ|common_interrupt|apic_|lapic_|__sysvec|sysvec_|native_apic|ktime_get|__do_softirq|do_softirq|__local_bh|_raw_spin|raw_spin|queued_spin|native_queued|finish_wait|prepare_to_wait|__wake_up|update_|load_balance|rcu_)/],
];

/** The part of PARTS that sym belongs to ('other' if none). */
export function partOf(sym) {
  for (const [name, re] of PARTS) if (re.test(sym)) return name;
  return 'other';
}

/**
 * A profile by part: the instructions each part ran, parts in PARTS order then
 * 'other', from rows [{ sym, insns }]; and all of them but idle's (busy).
 */
export function byPart(rows) {
  const parts = new Map([...PARTS.map(([n]) => [n, 0]), ['other', 0]]);
  for (const r of rows) parts.set(partOf(r.sym), parts.get(partOf(r.sym)) + r.insns);
  const busy = [...parts].filter(([n]) => n !== 'idle').reduce((s, [, v]) => s + v, 0);
  return { parts: Object.fromEntries(parts), busy };
}

/**
 * A table of instructions per unit: a column per profile ({ title: { rows, per } },
 * rows as byPart() takes them, per: the units they are divided by, e.g. GB
 * received), a line per part and one for all but idle; `label` names the unit in
 * the first column's head.
 */
export function renderPerUnit(columns, label) {
  const titles = Object.keys(columns);
  const summaries = titles.map((t) => byPart(columns[t].rows));
  const per = titles.map((t) => Math.max(columns[t].per, 1e-12));
  const names = [...PARTS.map(([n]) => n).filter((n) => n !== 'idle'), 'other'];
  const head = [label, ...titles];
  const rows = names.map((n) => [n, ...summaries.map((s, i) => fmt(s.parts[n] / per[i]))]);
  rows.push(['all but idle', ...summaries.map((s, i) => fmt(s.busy / per[i]))]);
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')).join('\n');
}
