#!/usr/bin/env zx
// `npm run demo`: the main job. Boots a lab of two guests under the default
// isolation level (owner: each guest writes only its own region, mapped read-only
// into the other), shows them talking over eth1 and over ring0 side by side, and
// takes the lab down again, leaving nothing behind. Runs under its own lab name
// (KVMRING_LAB=demo) so a lab you have up is left alone.
import { join } from 'node:path';
import { $, chalk } from 'zx';
import { LabBench } from './bench/lib/measure.mjs';
import { renderShort } from './bench/lib/report.mjs';

const root = join(import.meta.dirname, '..');
process.env.KVMRING_LAB = process.env.KVMRING_LAB || 'demo';
$.cwd = root;
$.verbose = false;

const lab = (...args) => $({ stdio: ['ignore', 'pipe', 'pipe'] })`node scripts/lab.mjs ${args}`;

function step(title) {
  console.log(`\n${chalk.bold(`== ${title}`)}`);
}

async function show(guest, cmd) {
  console.log(chalk.dim(`${guest}$ ${cmd}`));
  const r = await lab('exec', guest, '--', 'sh', '-c', cmd);
  process.stdout.write(r.stdout);
  return r.stdout;
}

async function inGuest(guest, ...cmd) {
  return (await lab('exec', guest, '--', ...cmd)).stdout;
}

async function pingSummary(addr) {
  const out = await inGuest('g1', 'ping', '-c', '20', '-i', '0.05', addr);
  const [min, avg] = /= ([\d.]+)\/([\d.]+)\//.exec(out).slice(1).map(Number);
  return { min, avg };
}

async function iperf(addr) {
  const out = JSON.parse(await inGuest('g1', 'iperf3', '-c', addr, '-t', '5', '-J'));
  return out.end.sum_received.bits_per_second / 1e9;
}

/** The isolation level the demo runs under: ringctl's default. */
const ISOLATION = 'owner';

let failed = false;
try {
  step(`Booting two guests with ring0, doorbell mode, isolation ${ISOLATION} (npm run lab -- up --guests 2 --doorbell)`);
  console.log(
    chalk.dim(
      `  isolation ${ISOLATION}, the default: each guest writes only its own region; QEMU maps it read-only into the\n` +
        '  other guest, so the hypervisor drops any write a guest makes to memory it does not own\n' +
        '  (--isolation pair: a region per ordered pair, so no guest can read traffic that is not its own either)',
    ),
  );
  process.stdout.write((await lab('up', '--guests', '2', '--doorbell', '--isolation', ISOLATION)).stdout);

  step(`The setup on the host: isolation ${ISOLATION}, each guest's roster and region, and the entry each owner writes`);
  const host = await $`node bin/ringctl.js host status --name ${process.env.KVMRING_LAB}`;
  process.stdout.write(host.stdout);

  step('Inside g1: eth1 goes through QEMU and a host bridge, ring0 through shared memory');
  await show('g1', 'ip -br addr show dev eth1; ip -br addr show dev ring0');
  await show('g1', 'cat /sys/kernel/debug/ringnet/ring0/peers');

  step('Ping, 20 each way (ms)');
  const pe = await pingSummary('192.0.2.2');
  const pr = await pingSummary('198.51.100.2');
  console.log(`  eth1   g1 -> 192.0.2.2      min ${pe.min.toFixed(3)}  avg ${pe.avg.toFixed(3)}`);
  console.log(`  ring0  g1 -> 198.51.100.2   min ${pr.min.toFixed(3)}  avg ${pr.avg.toFixed(3)}`);

  step('eth1 against ring0: iperf3 TCP and sockperf TCP round trips, 5 s each, and the host\'s work meanwhile');
  // bench:lab's measurements, short: the QEMU threads that are not vCPUs (plus
  // ksoftirqd and vhost) above their idle rate, per GB and per packet g2 received.
  const bench = new LabBench({ root, seconds: 5 });
  await bench.startServers();
  await bench.measureIdle();
  const paths = {};
  for (const [name, addr] of [['eth1', '192.0.2.2'], ['ring0', '198.51.100.2']]) {
    paths[name] = { tcp1: await bench.tcp(addr, 1), rr: await bench.rr(addr) };
  }
  console.log(renderShort({ mode: 'doorbell', paths }).replace(/^/gm, '  '));
  console.log(
    chalk.dim(
      '  (the lab runs under TCG: the guests\' own copies are emulated while QEMU\'s are native, so the\n' +
        '   throughput and latency ratios understate the ring; the host\'s work per packet is what TCG does not\n' +
        '   distort. npm run bench:lab measures all of it in both modes, npm run bench:ring the ring on the real CPU)',
    ),
  );

  step('ringctl attach: XDP and transparent mode on eth1, so eth1 addresses take the ring');
  for (const g of ['g1', 'g2']) {
    await show(g, 'node bin/ringctl.js attach eth1 --subnet 198.51.100.0/24 --transparent');
  }
  const counters = async () => ({
    ring: Number(await inGuest('g1', 'cat', '/sys/class/net/ring0/statistics/tx_bytes')),
    eth1: Number(await inGuest('g1', 'cat', '/sys/class/net/eth1/statistics/tx_bytes')),
  });
  const c0 = await counters();
  const tt = await iperf('192.0.2.2');
  const c1 = await counters();
  console.log(`  iperf3 g1 -> 192.0.2.2 (an eth1 address): ${chalk.bold(tt.toFixed(2))} Gbit/s`);
  console.log(`  bytes sent meanwhile: ring0 ${c1.ring - c0.ring}, eth1 ${c1.eth1 - c0.eth1}`);

  step('ringctl stats in g1: ring0 per peer and the peer table');
  await show('g1', 'node bin/ringctl.js stats');

  step('Ring resets and bad indices (ethtool -S ring0): none on an honest run');
  const trouble = [];
  for (const g of ['g1', 'g2']) {
    for (const m of (await inGuest(g, 'ethtool', '-S', 'ring0')).matchAll(/^\s+(\S+_ring_(?:tx|rx)_(?:resets|bad_index)): (\d+)$/gm)) {
      console.log(`  ${g}  ${m[1].padEnd(30)} ${Number(m[2]) ? chalk.red(m[2]) : m[2]}`);
      if (Number(m[2])) trouble.push(`${g}: ${m[1]} = ${m[2]}`);
    }
  }
  if (trouble.length) throw new Error(`rings were reset on an honest run:\n  ${trouble.join('\n  ')}`);
} catch (err) {
  failed = true;
  console.error(chalk.red(`demo failed: ${err.stderr || err.message}`));
} finally {
  step('Taking the lab down (npm run lab -- down)');
  process.stdout.write((await lab('down')).stdout);
}
process.exit(failed ? 1 : 0);
