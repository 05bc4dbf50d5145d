// Runs QEMU (TCG, no disk) with the ivshmem devices given after `--` (ringctl host
// qemu-args), lets SeaBIOS assign their BARs, and reads through the human monitor
// where each device's BAR2 landed and the first 8 bytes there (the region's magic).
// While QEMU runs it also reads kvmring.ko's status, which must list QEMU's pid as
// a mapper. For test/lab/kvmring-host.test.ts, inside a lab guest acting as the
// host; prints one line of JSON with the times in ms since QEMU started.
//
//   node ivshmem_monitor.mjs [--timeout SECONDS] -- QEMU-OPTIONS...
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const sep = process.argv.indexOf('--');
const opts = process.argv.slice(2, sep < 0 ? undefined : sep);
const devices = sep < 0 ? [] : process.argv.slice(sep + 1);
const timeoutS = Number(opts[opts.indexOf('--timeout') + 1] ?? 300) || 300;

const t0 = Date.now();
const ms = () => Date.now() - t0;
const qemu = spawn(
  'qemu-system-x86_64',
  ['-machine', 'q35', '-accel', 'tcg,tb-size=64', '-nodefaults', '-display', 'none', '-m', '64', '-monitor', 'stdio', ...devices],
  { stdio: ['pipe', 'pipe', 'pipe'] },
);
let out = '';
let err = '';
qemu.stdout.on('data', (b) => (out += b.toString()));
qemu.stderr.on('data', (b) => (err += b.toString()));
const exited = new Promise((resolve) => qemu.on('close', (code, signal) => resolve({ code, signal })));

function finish(result) {
  process.stdout.write(`${JSON.stringify({ ...result, stderr: err.trim() })}\n`);
  process.exit(result.ok ? 0 : 1);
}
setTimeout(() => {
  qemu.kill('SIGKILL');
  finish({ ok: false, error: `timed out after ${timeoutS} s`, monitor: out.slice(-4000) });
}, timeoutS * 1000).unref();
let quitting = false;
void exited.then((e) => quitting || finish({ ok: false, error: `QEMU exited early (${JSON.stringify(e)})`, monitor: out.slice(-4000) }));

/** Sends a monitor command (null: none) and resolves with what QEMU printed up to its next prompt. */
let seen = 0;
async function monitor(cmd) {
  if (cmd !== null) qemu.stdin.write(`${cmd}\n`);
  for (;;) {
    const i = out.indexOf('(qemu)', seen);
    if (i >= 0) {
      const text = out.slice(seen, i);
      seen = i + '(qemu)'.length;
      return text;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** ivshmem devices in `info pci`: bus:dev.fn, BAR2's address and end (null while unassigned). */
function ivshmemBars(text) {
  const devs = [];
  for (const block of text.split(/\n(?=\s*Bus\s+\d+, device)/)) {
    const m = /Bus\s+(\d+), device\s+(\d+), function (\d+):[\s\S]*?PCI device 1af4:1110/.exec(block);
    if (!m) continue;
    const bar = /BAR2: 64 bit prefetchable memory at 0x([0-9a-f]+) \[0x([0-9a-f]+)\]/.exec(block);
    const id = /id "([^"]*)"/.exec(block);
    const addr = bar && bar[1] !== 'ffffffffffffffff' ? `0x${bar[1]}` : null;
    devs.push({ bdf: `${m[1]}:${Number(m[2]).toString(16).padStart(2, '0')}.${m[3]}`, id: id?.[1] ?? '', bar2: addr, end: bar ? `0x${bar[2]}` : null });
  }
  return devs;
}

await monitor(null);
const tMonitor = ms();
let devs;
for (;;) {
  devs = ivshmemBars(await monitor('info pci'));
  if (devs.length && devs.every((d) => d.bar2)) break;
  await new Promise((r) => setTimeout(r, 500));
}
const tBars = ms();
for (const d of devs) {
  const line = await monitor(`xp /1gx ${d.bar2}`);
  d.magic = /:\s+(0x[0-9a-f]+)/.exec(line)?.[1] ?? null;
}
const tRead = ms();
let status;
try {
  status = readFileSync('/dev/kvmring/control', 'utf8');
} catch (e) {
  status = `cannot read /dev/kvmring/control: ${e.message}`;
}
const mappedBy = status
  .split('\n')
  .filter((l) => l.startsWith('region ') && l.includes(` ${qemu.pid}:`))
  .map((l) => ({ region: l.split(' ')[1], mapper: l.split(' ').find((w) => w.startsWith(`${qemu.pid}:`)) }));
quitting = true;
qemu.stdin.write('quit\n');
const { code } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'kill' }), 10_000))]);
if (code === 'kill') qemu.kill('SIGKILL');
process.stdout.write(
  `${JSON.stringify({ ok: true, pid: qemu.pid, devices: devs, mappedBy, times: { monitor: tMonitor, barsAssigned: tBars, magicRead: tRead, total: ms() }, stderr: err.trim() })}\n`,
);
process.exit(0);
