// Where the guests' time goes: `perf report` lines of a guest's profile, and
// the kernel and user symbols they name grouped into the parts of the path a
// byte or a packet crosses (copies, ring0's driver, virtio, memory, TCP/IP,
// the rest), for scripts/bench/profile.mjs. Pure: tested in
// test/unit/bench-profile.test.ts.

/**
 * `perf report --stdio --no-children --sort sym -q` lines ("  12.34%  [k] memcpy")
 * as { percent, kernel, sym }, in the report's order.
 */
export function parsePerfReport(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([\d.]+)%\s+\[([k.])\]\s+(.+?)\s*$/.exec(line);
    if (m) rows.push({ percent: Number(m[1]), kernel: m[2] === 'k', sym: m[3] });
  }
  return rows;
}

/**
 * The parts a symbol is counted in, first match wins. Each names what a packet
 * or a byte pays for there; `idle` is a CPU with nothing to do.
 */
export const PARTS = [
  ['idle', /^(default_idle|native_safe_halt|cpuidle_|mwait_idle|intel_idle|acpi_idle|poll_idle|do_idle|cpu_idle|arch_cpu_idle)/],
  ['copy', /(memcpy|memmove|copy_user|copy_to_user|copy_from_user|_copy_to_iter|_copy_from_iter|skb_copy_bits|skb_copy_datagram|csum_partial_copy|rep_movs|copy_page|__memset|memset)/],
  ['ring0 driver', /^(ringnet_|kvmring_)/],
  ['virtio', /^(virtnet_|virtqueue_|vring_|virtio_|vp_|detach_buf|receive_buf|add_recvbuf|xmit_skb|free_old_xmit)/],
  ['memory', /^(kmem_cache_|__kmalloc|kmalloc|kfree|__alloc_pages|alloc_pages|get_page_from_freelist|free_unref_page|__free_pages|page_frag_|__napi_alloc|napi_alloc|__alloc_skb|build_skb|skb_release|__kfree_skb|kfree_skb|consume_skb|napi_consume_skb|skb_free_head|rmqueue|__page_pool|page_pool_)/],
  ['TCP/IP', /^(tcp_|__tcp_|ip_|__ip_|ipv6_|ip6_|udp_|__udp|inet_|sock_|sk_|__sk_|skb_|__skb_|dev_gro|napi_gro|gro_|inet_gro|tcp4_gro|__dev_queue_xmit|dev_hard_start_xmit|sch_direct_xmit|__qdisc_run|net_rx_action|__netif_receive|netif_receive|__napi_poll|napi_complete|eth_type_trans|validate_xmit|neigh_|raw_)/],
  ['interrupts, timers, scheduling', /^(__?schedule|schedule|finish_task_switch|pick_next|enqueue_|dequeue_|try_to_wake_up|hrtimer_|__hrtimer|tick_|irq_|handle_irq|__handle_irq|do_IRQ|common_interrupt|apic_|lapic_|__sysvec|sysvec_|native_apic|ktime_get|__do_softirq|do_softirq|__local_bh|_raw_spin|raw_spin|queued_spin|native_queued|finish_wait|prepare_to_wait|__wake_up|update_|load_balance|rcu_)/],
];

/** The part of PARTS that sym belongs to ('other' if none). */
export function partOf(sym) {
  for (const [name, re] of PARTS) if (re.test(sym)) return name;
  return 'other';
}

/**
 * A profile by part: percent of all samples each part took, parts in PARTS order
 * then 'other'; and the busy percent (all but idle).
 */
export function byPart(rows) {
  const parts = new Map([...PARTS.map(([n]) => [n, 0]), ['other', 0]]);
  for (const r of rows) parts.set(partOf(r.sym), parts.get(partOf(r.sym)) + r.percent);
  const busy = [...parts].filter(([n]) => n !== 'idle').reduce((s, [, v]) => s + v, 0);
  return { parts: Object.fromEntries(parts), busy };
}

/**
 * A table of the parts' share of the busy time per profile: columns in the order
 * of `profiles` ({ title: rows }), each part's percent of that profile's busy time.
 */
export function renderParts(profiles) {
  const titles = Object.keys(profiles);
  const summaries = titles.map((t) => byPart(profiles[t]));
  const names = [...PARTS.map(([n]) => n).filter((n) => n !== 'idle'), 'other'];
  const head = ['part of the busy time', ...titles];
  const rows = names.map((n) => [n, ...summaries.map((s) => (s.busy ? `${((100 * s.parts[n]) / s.busy).toFixed(1)}%` : '-'))]);
  rows.push(['busy (of all samples)', ...summaries.map((s) => `${s.busy.toFixed(1)}%`)]);
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')).join('\n');
}
