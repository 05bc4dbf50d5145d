#!/usr/bin/env zx
// `npm run demo`: the main job. Boots a lab of two guests, shows them talking, and
// takes the lab down again, leaving nothing behind. Runs under its own lab name
// (KVMRING_LAB=demo) so a lab you have up is left alone.
import { join } from 'node:path';
import { $, chalk } from 'zx';

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

let failed = false;
try {
  step('Booting two guests (npm run lab -- up --guests 2)');
  process.stdout.write((await lab('up', '--guests', '2')).stdout);

  step('eth1: the ordinary path, through virtio-net, QEMU, a tap and a bridge on the host');
  await show('g1', 'ip -br addr show dev eth1');
  await show('g1', 'ping -c 5 -i 0.2 192.0.2.2 | tail -2');
  await show('g1', 'ping -6 -c 3 -i 0.2 2001:db8:1::2 | tail -1');

  step('iperf3 over eth1 (5 s)');
  await lab('exec', 'g2', '--', 'iperf3', '-s', '-1', '-D', '-B', '192.0.2.2');
  await new Promise((r) => setTimeout(r, 1000));
  const out = await lab('exec', 'g1', '--', 'iperf3', '-c', '192.0.2.2', '-t', '5', '-J');
  const gbps = JSON.parse(out.stdout).end.sum_received.bits_per_second / 1e9;
  console.log(`eth1 TCP throughput g1 -> g2: ${chalk.bold(gbps.toFixed(2))} Gbit/s`);
} catch (err) {
  failed = true;
  console.error(chalk.red(`demo failed: ${err.stderr || err.message}`));
} finally {
  step('Taking the lab down (npm run lab -- down)');
  process.stdout.write((await lab('down')).stdout);
}
process.exit(failed ? 1 : 0);
