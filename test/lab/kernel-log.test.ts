// The kernel-log check the lab tests end with: what KERNEL_TROUBLE catches, on
// sample lines as the guests' kernel prints them. Needs no lab.
import assert from 'node:assert/strict';

import { KERNEL_TROUBLE, RING_TROUBLE, kernelTrouble, troubleInContext } from '../helpers/lab.js';

const TROUBLE: [string, string][] = [
  ['an oops', 'Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI'],
  ['a warning', 'WARNING: CPU: 0 PID: 12 at net/core/dev.c:3370 skb_warn_bad_offload+0x7a/0xe0'],
  ['a BUG', 'BUG: unable to handle page fault for address: ffffc90000a01000'],
  ['a kernel BUG', 'kernel BUG at net/core/skbuff.c:4540!'],
  ['a panic', 'Kernel panic - not syncing: panic_on_warn set ...'],
  ['a soft lockup', 'watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [ksoftirqd/1:21]'],
  ['a soft lockup (short form)', 'soft lockup - CPU#0 stuck for 26s! [swapper/0:0]'],
  ['an RCU stall', 'rcu: INFO: rcu_preempt self-detected stall on CPU'],
  ['an RCU stall (rcu_sched)', 'INFO: rcu_sched self-detected stall on CPU { 1}  (t=21002 jiffies g=1201 q=77)'],
  ['an RCU stall (detected stall)', 'rcu: INFO: rcu_sched detected stalls on CPUs/tasks:'],
  ['an expedited RCU stall', 'rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 0-... }'],
  ['a hung task', 'INFO: task kworker/0:1:34 blocked for more than 120 seconds.'],
  ['a call trace', 'Call Trace:'],
];

const HONEST = [
  'ringnet 0000:00:10.0 ring0: peer 1 (g2, 52:54:00:12:34:56) joined, generation 1',
  'ringnet 0000:00:10.0 ring0: peer 2 (g3) stopped its heartbeat 2104 ms ago: marked dead',
  "ringnet 0000:00:10.0 ring0: the host decides ring0's MAC (02:8e:11:4c:2a:01): run `ringctl host up --guest gN,mac=...` on the host instead",
  'Kernel command line: console=ttyS0 panic=-1 panic_on_warn=1 loglevel=6',
  'rcu: Hierarchical RCU implementation.',
  'rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=2.',
  'NMI watchdog: Perf NMI watchdog permanently disabled',
  'virtio_net virtio0 eth1: renamed from eth0',
];

describe('kernel-log check (KERNEL_TROUBLE)', () => {
  for (const [what, line] of TROUBLE) {
    it(`catches ${what}`, () => {
      assert.match(line, KERNEL_TROUBLE);
    });
  }

  it('passes the lines of an honest boot and ring0 run', () => {
    assert.deepEqual(kernelTrouble(HONEST.join('\n')), []);
  });

  it('returns exactly the offending lines of a log', () => {
    const lockup = TROUBLE[5][1];
    const hung = TROUBLE[TROUBLE.length - 2][1];
    const log = [HONEST[0], lockup, HONEST[1], hung].join('\n');
    assert.deepEqual(kernelTrouble(log), [lockup, hung]);
  });

  it('shows each splat with the lines after it, where a call trace names its functions', () => {
    const trace = [' <IRQ>', ' ? napi_complete_done+0x9b/0x190', ' net_rx_action+0x144/0x2c0'];
    const log = [HONEST[0], TROUBLE[5][1], ...trace, HONEST[1]].join('\n');
    assert.equal(troubleInContext(log, 4), [TROUBLE[5][1], ...trace].join('\n'));
    assert.equal(troubleInContext(HONEST.join('\n')), '');
  });
});

describe('ring-counter check (RING_TROUBLE)', () => {
  it('covers the resets and bad indices of both ring ends, per peer', () => {
    for (const name of ['r0_peer1_ring_tx_resets', 'r0_peer2_ring_rx_resets', 'r0_peer0_ring_tx_bad_index', 'r0_peer7_ring_rx_bad_index']) {
      assert.match(name, RING_TROUBLE);
    }
  });

  it('leaves traffic counters, follows and drops alone', () => {
    for (const name of ['r0_peer1_ring_tx_frames', 'r0_peer1_ring_rx_reset_follows', 'r0_peer1_ring_rx_bad_meta', 'r0_peer1_tx_dropped', 'r0_rx_bad_meta']) {
      assert.doesNotMatch(name, RING_TROUBLE);
    }
  });
});
