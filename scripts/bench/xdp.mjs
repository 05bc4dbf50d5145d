#!/usr/bin/env zx
// XDP program cost: ns per packet through BPF_PROG_TEST_RUN with `repeat`, for the
// redirect and the pass paths of xdp_ring (and tc_transparent's redirect).
//
// Two kernel modes are measured:
//   verdict  the plain test run: the program runs on the frame and its verdict is
//            counted; a redirect is decided (devmap lookup, MAC rewrite) but not
//            carried out, so this is the program's own cost.
//   live     BPF_F_TEST_XDP_LIVE_FRAMES: the kernel builds real xdp_frames and
//            carries out the verdict: REDIRECT transmits into the devmap target (a
//            veth in a namespace made here, GRO on its peer), PASS builds an skb
//            for the stack. This is the cost per packet of the whole XDP path.
// Prints a table and writes JSON under bench-results/. Needs root.
import { mkdirSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { $, argv, chalk } from 'zx';
import koffi from 'koffi';

const root = join(import.meta.dirname, '../..');
const dist = (p) => join(root, 'dist/src', p);
const lb = await import(dist('libbpf/index.js'));
const { parseCidrs, parseMac } = await import(dist('xdp/cidr.js'));
const { MAPS, OBJECTS, XDP_STATS } = await import(dist('xdp/codecs.js'));
const { setRingDevice, syncPeers, syncSubnets, readStats } = await import(dist('xdp/maps.js'));
const { bpfDir, openTcObject, openXdpObject } = await import(dist('xdp/programs.js'));
const { ifNameToIndex } = await import(dist('xdp/netdev.js'));

$.verbose = false;
if (process.getuid() !== 0) {
  console.error('bench:xdp needs root (BPF_PROG_TEST_RUN)');
  process.exit(1);
}

const REPEAT = Number(argv.repeat ?? 1_000_000);
const ROUNDS = Number(argv.rounds ?? 5);
const RING_MAC = '02:00:00:00:00:aa';
const PEER_MAC = '02:00:00:00:00:02';

// ---- frames ---------------------------------------------------------------
// Frames go to NIC_MAC, eth1's MAC as xdp_ring is told. The repeated runs of
// BPF_PROG_TEST_RUN share one buffer, and a redirected frame comes back
// readdressed to the peer's ring MAC: with the peer's MAC as the NIC's, every
// run takes the redirect path, not just the first.
const NIC_MAC = PEER_MAC;
function ethHdr(proto, tags = []) {
  const b = Buffer.alloc(14 + 4 * tags.length);
  parseMac(NIC_MAC).copy(b, 0);
  parseMac('02:00:00:00:01:01').copy(b, 6);
  tags.forEach(([tpid, vid], i) => {
    b.writeUInt16BE(tpid, 12 + 4 * i);
    b.writeUInt16BE(vid, 14 + 4 * i);
  });
  b.writeUInt16BE(proto, 12 + 4 * tags.length);
  return b;
}
function ipv4(dst, len) {
  const h = Buffer.alloc(len);
  h[0] = 0x45;
  h.writeUInt16BE(len, 2);
  h[8] = 64;
  h[9] = 17;
  Buffer.from([192, 0, 2, 1]).copy(h, 12);
  Buffer.from(dst.split('.').map(Number)).copy(h, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  h.writeUInt16BE(~sum & 0xffff, 10);
  return h;
}
function ipv6(dstLast, len) {
  const h = Buffer.alloc(len);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(len - 40, 4);
  h[6] = 17;
  h[7] = 64;
  Buffer.from('20010db8000200000000000000000000', 'hex').copy(h, 24);
  h[39] = dstLast;
  return h;
}
const FRAME = 64; // bytes on the wire without FCS, the usual small-packet size
const frames = {
  'redirect IPv4': Buffer.concat([ethHdr(0x0800), ipv4('198.51.100.2', FRAME - 14)]),
  // A peer's address in a VLAN: passed as soon as the tag is seen (ring0 has no VLANs).
  'pass IPv4 802.1Q, a peer\'s': Buffer.concat([ethHdr(0x0800, [[0x8100, 100]]), ipv4('198.51.100.2', FRAME - 18)]),
  'redirect IPv6': Buffer.concat([ethHdr(0x86dd), ipv6(2, 78 - 14)]),
  'pass IPv4 no match': Buffer.concat([ethHdr(0x0800), ipv4('192.0.2.9', FRAME - 14)]),
  'pass IPv4 subnet, no peer': Buffer.concat([ethHdr(0x0800), ipv4('198.51.100.9', FRAME - 14)]),
  'pass ARP': Buffer.concat([ethHdr(0x0806), Buffer.alloc(FRAME - 14)]),
};

// ---- a namespace for live frames -------------------------------------------
const nsName = `rbench-${process.pid}`;
const setns = koffi.load('libc.so.6').func('setns', 'int', ['int', 'int']);
const CLONE_NEWNET = 0x40000000;
let home = -1;
async function enterNamespace() {
  await $`ip netns add ${nsName}`;
  await $`ip -n ${nsName} link add ring0 type veth peer name peer0`;
  await $`ip -n ${nsName} link set ring0 up`;
  await $`ip -n ${nsName} link set peer0 up`;
  await $`ip netns exec ${nsName} ethtool -K peer0 gro on`; // veth takes XDP redirects with GRO on
  // Test runs' frames arrive on lo: it must forward, or xdp_ring passes them (forwarding_off).
  await $`ip netns exec ${nsName} sysctl -qw net.ipv4.conf.lo.forwarding=1 net.ipv6.conf.lo.forwarding=1`;
  home = openSync('/proc/thread-self/ns/net', 'r');
  const fd = openSync(`/run/netns/${nsName}`, 'r');
  if (setns(fd, CLONE_NEWNET) !== 0) throw new Error(`setns: errno ${koffi.errno()}`);
  closeSync(fd);
}
async function leaveNamespace() {
  if (home >= 0) {
    setns(home, CLONE_NEWNET);
    closeSync(home);
    home = -1;
  }
  await $`ip netns del ${nsName}`.nothrow();
}

// ---- measuring -------------------------------------------------------------
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function measure(prog, frame, mode) {
  const opts = { data: frame, repeat: REPEAT };
  if (mode === 'live') Object.assign(opts, { flags: lb.BPF_F_TEST_XDP_LIVE_FRAMES, batchSize: 64 });
  prog.testRun({ ...opts, repeat: Math.min(REPEAT, 10_000) }); // warm up
  const ns = [];
  let retval;
  for (let i = 0; i < ROUNDS; i++) {
    const r = prog.testRun(opts);
    ns.push(r.duration);
    retval = r.retval;
  }
  // In live-frames mode the kernel carries out the verdict and reports none.
  return { ns: median(ns), min: Math.min(...ns), max: Math.max(...ns), retval: mode === 'live' ? null : retval };
}

const VERDICTS = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'];
const rows = [];
const notes = [];
let xdp, tc;
try {
  await enterNamespace();
  const ringIfindex = ifNameToIndex('ring0');
  const cfg = { ringMac: parseMac(RING_MAC), ringIfindex, nicMac: parseMac(NIC_MAC) };
  xdp = openXdpObject(bpfDir(), cfg);
  xdp.load();
  setRingDevice(xdp.map(MAPS.dev).handle, ringIfindex);
  syncSubnets(xdp.map(MAPS.subnets4).handle, xdp.map(MAPS.subnets6).handle, parseCidrs(['198.51.100.0/24', '2001:db8:2::/64']));
  syncPeers(xdp.map(MAPS.peers).handle, [
    { slot: 2, ringMac: PEER_MAC, addresses: ['198.51.100.2', '2001:db8:2::2'], ordinaryAddresses: ['192.0.2.2'] },
  ]);
  const prog = xdp.program(OBJECTS.xdp.program);

  for (const [name, frame] of Object.entries(frames)) {
    const m = measure(prog, frame, 'verdict');
    rows.push({ program: 'xdp_ring', path: name, bytes: frame.length, mode: 'verdict', ...m });
  }
  for (const name of ['redirect IPv4', 'pass IPv4 no match']) {
    const frame = frames[name];
    const before = readStats(xdp.map(MAPS.xdpStats).handle, XDP_STATS);
    try {
      const m = measure(prog, frame, 'live');
      rows.push({ program: 'xdp_ring', path: name, bytes: frame.length, mode: 'live', ...m });
    } catch (err) {
      notes.push(`live frames, ${name}: ${err.message}`);
    }
    const after = readStats(xdp.map(MAPS.xdpStats).handle, XDP_STATS);
    if (name.startsWith('redirect')) {
      const rx = Number((await $`ip netns exec ${nsName} cat /sys/class/net/peer0/statistics/rx_packets`).stdout);
      notes.push(`live redirect: xdp_ring counted ${after.redirect.packets - before.redirect.packets} redirects; the ring stand-in's peer received ${rx} frames`);
    }
  }

  tc = openTcObject(bpfDir(), cfg, xdp.map(MAPS.peers).fd);
  tc.load();
  const tcProg = tc.program(OBJECTS.tc.program);
  const tcFrame = Buffer.concat([ethHdr(0x0800), ipv4('192.0.2.2', FRAME - 14)]);
  rows.push({ program: 'tc_transparent', path: 'redirect IPv4', bytes: tcFrame.length, mode: 'verdict', ...measure(tcProg, tcFrame, 'verdict') });
  const tcPass = Buffer.concat([ethHdr(0x0800), ipv4('192.0.2.9', FRAME - 14)]);
  rows.push({ program: 'tc_transparent', path: 'pass IPv4 no peer', bytes: tcPass.length, mode: 'verdict', ...measure(tcProg, tcPass, 'verdict') });
} finally {
  tc?.close();
  xdp?.close();
  await leaveNamespace();
}

// ---- report ---------------------------------------------------------------
const header = ['program', 'path', 'frame', 'mode', 'verdict', 'ns/pkt', 'min..max', 'Mpps'];
const table = rows.map((r) => [
  r.program,
  r.path,
  `${r.bytes} B`,
  r.mode,
  r.retval === null ? '(carried out)' : r.program === 'xdp_ring' ? VERDICTS[r.retval] : r.retval === 7 ? 'TC_ACT_REDIRECT' : r.retval === 0 ? 'TC_ACT_OK' : String(r.retval),
  String(r.ns),
  `${r.min}..${r.max}`,
  r.ns ? (1000 / r.ns).toFixed(2) : '-',
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const fmt = (r) => r.map((c, i) => (i >= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
console.log(chalk.bold(`xdp bench: BPF_PROG_TEST_RUN, repeat ${REPEAT}, median of ${ROUNDS} rounds; kernel ${release()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`));
console.log(fmt(header));
for (const r of table) console.log(fmt(r));
for (const n of notes) console.log(`note: ${n}`);

const out = join(root, 'bench-results');
mkdirSync(out, { recursive: true });
const file = join(out, `xdp-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ bench: 'xdp', date: new Date().toISOString(), kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model, libbpf: lb.libbpfVersion(), repeat: REPEAT, rounds: ROUNDS, rows, notes }, null, 2)}\n`);
console.log(`wrote ${file}`);
