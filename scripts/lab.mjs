#!/usr/bin/env zx
// The lab: real Linux guests under QEMU on this host, each with eth1 on a bridge in
// a network namespace of the lab's own, and ring0's roster and regions (ABI v2,
// `ringctl host up`) behind ivshmem devices.
//
//   lab up [--guests N] [--isolation owner|pair] [--group NAME=gA,gB,...]... [--doorbell]
//          [--no-ring] [--accel auto|kvm|tcg] [--memory MiB] [--cpus N] [--queues N] [--ring-size SIZE]
//          [--slots N] [--kernel standard|debug] [--probe-bars] [--foreign-bars] [--tcg-profile]
//   lab exec [-i] [--timeout SECONDS] gN -- CMD [ARG...]
//   lab status [--json]
//   lab console gN [--follow]
//   lab kill gN        (SIGKILL its QEMU, as a crash would)
//   lab boot gN        (start a stopped guest again)
//   lab qmp gN COMMAND [JSON-ARGUMENTS]   (a QMP command to its QEMU: stop, cont, ...)
//   lab down
//
// KVMRING_LAB=NAME runs a second, independent lab beside the default one.
// --kernel debug (or KVMRING_LAB_KERNEL=debug) boots the debug kernel tier's kernel
// (scripts/debug-kernel.mjs: KASAN, lockdep) with build/debug/ringnet.ko.
// --probe-bars gives every guest two small extra ivshmem devices that no driver
// takes, one over a file mapped read-only, one read-write (lab-config.mjs PROBE_BARS).
// --foreign-bars gives every guest ivshmem devices of another program, zeros and
// random bytes, that ringnet must leave unbound (lab-config.mjs FOREIGN_BARS).
// --tcg-profile (TCG only) loads build/native/tcgprof.so into every guest's QEMU:
// it counts the guest kernel's instructions per code block, snapshot on request
// (guestPaths().tcgprof; scripts/bench/lib/tcgprof.mjs reads it), for bench:profile.
// Every guest gN of the setup may claim its ring0 and eth1 addresses (addr=);
// guests past --guests (up to --slots) have their files but no QEMU: room for a
// peer played from the host.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { $, minimist } from 'zx';

import { FRAME, FrameDecoder, encodeData, encodeFrame, jsonOf } from './lib/agent-proto.mjs';
import { debugKernel } from './lib/debug-kernel.mjs';
import { buildInitramfs } from './lib/initramfs.mjs';
import { guestKernel } from './lib/kernel.mjs';
import {
  LabError,
  MAX_GUESTS,
  REPO,
  foreignBars,
  guestAddresses,
  guestPrefixes,
  guestPaths,
  labPaths,
  parseGuest,
  probeBars,
  processAlive,
  processIsOurs,
  readState,
} from './lib/lab-config.mjs';
import { Supervisor } from './lib/lab-supervisor.mjs';

$.verbose = false;
$.quiet = true;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const RINGCTL = join(REPO, 'bin/ringctl.js');
const RINGNET_KO = 'guest-netdev/ringnet.ko';
const TCGPROF_SO = 'build/native/tcgprof.so';

/** Runs `ringctl ARGS...` from this repository's build; its stdout. */
async function ringctl(...args) {
  if (!existsSync(join(REPO, 'dist/src/cli.js'))) throw new LabError('ringctl is not built: run `npm run build`');
  const r = await $({ nothrow: true })`${process.execPath} ${RINGCTL} ${args}`;
  if (r.exitCode !== 0) throw new LabError(`ringctl ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function requireRoot() {
  if (process.getuid() !== 0) throw new LabError('the lab needs root (network namespaces, tap devices, /run)');
}

function requireTools() {
  const missing = ['qemu-system-x86_64', 'busybox', 'ip', 'modprobe', 'cpio'].filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0,
  );
  if (missing.length) throw new LabError(`missing ${missing.join(', ')}: run \`npm run setup\``);
}

function supervisorRunning(paths, state = readState(paths)) {
  return state && processIsOurs(state.supervisorPid, paths.state);
}

async function control(paths, req) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(paths.control);
    let buf = '';
    sock.on('error', (err) => reject(new LabError(`${paths.label} does not answer (${err.code}); is it up?`)));
    sock.on('data', (b) => {
      buf += b;
      if (buf.includes('\n')) {
        sock.end();
        const reply = JSON.parse(buf.slice(0, buf.indexOf('\n')));
        if (reply.error) reject(new LabError(reply.error));
        else resolve(reply);
      }
    });
    sock.write(JSON.stringify(req) + '\n');
  });
}

function tail(file, lines = 30) {
  if (!existsSync(file)) return '(no output)';
  const text = readFileSync(file, 'utf8').replace(/\r/g, '');
  return text.split('\n').slice(-lines).join('\n');
}

/** Is KVM usable for a standard kernel here? A one-second boot of the probe initramfs says. */
async function kvmWorks(kernel, initramfs) {
  try {
    const fd = openSync('/dev/kvm', 'r+');
    closeSync(fd);
  } catch {
    return false;
  }
  const r = await $({ nothrow: true, timeout: '20s' })`qemu-system-x86_64 -M q35 -accel kvm -cpu host -m 256 -nodefaults -nographic -no-reboot -kernel ${kernel.vmlinuz} -initrd ${initramfs} -append ${'console=ttyS0 kvmring.probe=1'} -serial stdio`;
  return r.stdout.includes('KVMRING-PROBE-OK');
}

// ---------------------------------------------------------------------------- down

/** Removes everything the lab called `paths.name` left on the host; safe to repeat. */
async function teardown(paths) {
  const state = readState(paths);
  let removed = false;
  if (supervisorRunning(paths, state)) {
    removed = true;
    await control(paths, { op: 'shutdown' }).catch(() => process.kill(state.supervisorPid, 'SIGTERM'));
    for (let i = 0; i < 100 && processAlive(state.supervisorPid); i++) await sleep(100);
    if (processAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGKILL');
  }
  // QEMUs that outlived a crashed supervisor: ours only, recognised by the marker.
  for (const pid of Object.values(state?.qemuPids ?? {})) {
    if (processIsOurs(pid, paths.marker)) {
      removed = true;
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(100);
    }
  }
  const netns = await $({ nothrow: true })`ip netns list`;
  if (netns.stdout.split('\n').some((l) => l.split(' ')[0] === paths.netns)) {
    removed = true;
    await $`ip netns delete ${paths.netns}`;
  }
  const hostFiles = () => readdirSync(paths.hostDir).filter((f) => f.startsWith(paths.hostPrefix));
  if (existsSync(`/run/kvmring/host/${paths.name}`) || hostFiles().length) {
    removed = true;
    // The rosters, regions and doorbell server belong to `ringctl host`; it removes them,
    // and finds its files by their names even when its state is gone.
    await ringctl('host', 'down', '--name', paths.name).catch(() => {});
    for (const f of hostFiles()) rmSync(join(paths.hostDir, f), { force: true });
  }
  if (existsSync(paths.state)) {
    removed = true;
    rmSync(paths.state, { recursive: true, force: true });
  }
  return removed;
}

async function down() {
  requireRoot();
  const paths = labPaths();
  const removed = await teardown(paths);
  console.log(removed ? `${paths.label} is down` : `${paths.label} is not up: nothing to do`);
}

// ------------------------------------------------------------------------------ up

async function up(args) {
  requireRoot();
  requireTools();
  const spec = {
    string: ['guests', 'accel', 'memory', 'cpus', 'queues', 'ring-size', 'slots', 'kernel', 'isolation', 'group'],
    boolean: ['doorbell', 'ring', 'probe-bars', 'foreign-bars', 'tcg-profile'],
  };
  const opts = minimist(args, {
    ...spec,
    default: { guests: '2', accel: 'auto', cpus: '1', isolation: 'owner', ring: true, kernel: process.env.KVMRING_LAB_KERNEL || 'standard' },
  });
  const unknown = Object.keys(opts).filter((k) => k !== '_' && ![...spec.string, ...spec.boolean].includes(k));
  if (unknown.length || opts._.length) throw new LabError(`lab up: unknown ${unknown.length ? `option --${unknown[0]}` : `argument ${opts._[0]}`}\n${USAGE}`);
  if (!['standard', 'debug'].includes(opts.kernel)) throw new LabError(`--kernel ${opts.kernel}: use standard or debug`);
  const debug = opts.kernel === 'debug';
  // KASAN's shadow takes an eighth of the memory, lockdep its own tables.
  opts.memory ??= debug ? '1536' : '1024';
  let kernel;
  try {
    kernel = debug ? debugKernel() : guestKernel();
  } catch (err) {
    throw new LabError(err.message);
  }
  const ringnetKo = kernel.ringnet ?? RINGNET_KO;
  if (opts.ring && !existsSync(join(REPO, ringnetKo))) {
    throw new LabError(`${ringnetKo} is not built: run \`npm run build\`, or \`lab up --no-ring\` for a lab without ring0`);
  }
  const guests = Number(opts.guests);
  if (!Number.isInteger(guests) || guests < 1 || guests > MAX_GUESTS) {
    throw new LabError(`--guests ${opts.guests}: give a number from 1 to ${MAX_GUESTS}`);
  }
  // A setup has at least two guests, so a lone guest has a peer to be joined by hand;
  // more leave room for peers that are not lab guests (a hostile one from the host).
  const slots = Number(opts.slots ?? Math.max(guests, 2));
  if (!Number.isInteger(slots) || slots < Math.max(guests, 2) || slots > 16) {
    throw new LabError(`--slots ${opts.slots}: give a number from ${Math.max(guests, 2)} (the guests) to 16`);
  }
  if (!['owner', 'pair'].includes(opts.isolation)) throw new LabError(`--isolation ${opts.isolation}: use owner or pair`);
  const groups = [opts.group ?? []].flat();
  const cpus = Number(opts.cpus);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) throw new LabError(`--cpus ${opts.cpus}: give a number from 1 to 8`);
  if (opts['tcg-profile'] && cpus > 1) {
    // Its counters are TCG's inline adds: two vCPUs in one block at once can lose a count.
    throw new LabError(`--tcg-profile counts exactly with one vCPU per guest only: drop --cpus ${cpus}`);
  }
  // Queue pairs per pair of guests (ringctl host up checks the range); in doorbell mode a vector each.
  const queues = opts.queues === undefined ? undefined : String(opts.queues);
  if (!['auto', 'kvm', 'tcg'].includes(opts.accel)) throw new LabError(`--accel ${opts.accel}: use auto, kvm or tcg`);

  const paths = labPaths();
  if (supervisorRunning(paths)) {
    throw new LabError(`${paths.label} is already up; run \`npm run lab -- down\` first, or set KVMRING_LAB=NAME for a second lab`);
  }
  // Leftovers of a lab that crashed: clean them before building anew.
  if (await teardown(paths)) console.log(`${paths.label}: cleaned up the leftovers of an earlier run`);

  const initramfs = buildInitramfs(kernel);
  let accel = opts.accel;
  if (accel === 'auto') accel = (await kvmWorks(kernel, initramfs)) ? 'kvm' : 'tcg';
  if (opts['tcg-profile'] && accel !== 'tcg') {
    throw new LabError('--tcg-profile counts what TCG runs, and this lab would run under KVM: add --accel tcg');
  }
  if (opts['tcg-profile'] && !existsSync(join(REPO, TCGPROF_SO))) {
    throw new LabError(`${TCGPROF_SO} is not built: run \`npm run build\``);
  }

  mkdirSync(paths.state, { recursive: true });
  try {
    await $`ip netns add ${paths.netns}`;
    await $`ip -n ${paths.netns} link set lo up`;
    await $`ip -n ${paths.netns} link add ${paths.bridge} type bridge`;
    await $`ip -n ${paths.netns} link set ${paths.bridge} up`;
    for (let n = 1; n <= guests; n++) {
      const { tap } = guestAddresses(n);
      await $`ip -n ${paths.netns} tuntap add dev ${tap} mode tap`;
      await $`ip -n ${paths.netns} link set ${tap} master ${paths.bridge} up`;
    }
    const mode = opts.doorbell ? 'doorbell' : 'plain';
    // Guest gN may claim its ring0 and its eth1 addresses (transparent mode sends the latter over ring0).
    const guestOpts = Array.from({ length: slots }, (_, i) => ['--guest', [`g${i + 1}`, ...guestPrefixes(i + 1).map((p) => `addr=${p}`)].join(',')]).flat();
    await ringctl('host', 'up', '--name', paths.name, '--isolation', opts.isolation, ...guestOpts,
      ...groups.flatMap((g) => ['--group', g]),
      ...(opts['ring-size'] ? ['--ring-size', opts['ring-size']] : []),
      ...(queues ? ['--queues', queues] : []),
      ...(opts.doorbell ? ['--doorbell', ...(queues ? ['--vectors', queues] : [])] : []));
    const qemuArgs = {};
    for (let n = 1; n <= guests; n++) {
      qemuArgs[n] = JSON.parse(await ringctl('host', 'qemu-args', `g${n}`, '--name', paths.name, '--json'));
    }
    // Each lab guest's peers that have a QEMU: whom its ring0 must see up.
    const setup = JSON.parse(await ringctl('host', 'status', '--name', paths.name, '--json'));
    const peers = {};
    for (const g of setup.guests.slice(0, guests)) {
      peers[g.slot + 1] = setup.guests.filter((o) => o.slot !== g.slot && o.slot < guests && o.groups.some((x) => g.groups.includes(x))).map((o) => o.slot + 1);
    }
    const probe = opts['probe-bars'] ? await makeExtraBars(paths, guests, 'probe', probeBars) : undefined;
    const foreign = opts['foreign-bars'] ? await makeExtraBars(paths, guests, 'foreign', foreignBars) : undefined;

    const state = {
      name: paths.name,
      marker: paths.marker,
      guests,
      accel,
      memory: Number(opts.memory),
      cpus,
      repo: REPO,
      kernel,
      ringnetKo,
      initramfs,
      host: { name: paths.name, isolation: opts.isolation, groups, slots, mode, qemuArgs, peers },
      ring: opts.ring,
      ...(opts['tcg-profile'] ? { tcgProfile: join(REPO, TCGPROF_SO) } : {}),
      ...(probe ? { probeBars: probe } : {}),
      ...(foreign ? { foreignBars: foreign } : {}),
      startedAt: new Date().toISOString(),
    };
    writeFileSync(paths.stateFile, JSON.stringify(state, null, 2));

    const log = openSync(paths.supervisorLog, 'a');
    const sup = spawn(process.execPath, [new URL(import.meta.url).pathname, '_supervise', paths.state], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, KVMRING_LAB: paths.name },
    });
    sup.unref();
    closeSync(log);

    await waitReady(paths, guests, (60 + 30 * guests) * slowdown(state));
    if (opts.ring) await ringUp(paths, guests);
  } catch (err) {
    await teardown(paths);
    throw err;
  }
  await status(['--brief']);
}

/**
 * lab up --probe-bars and --foreign-bars: every guest's extra devices of one kind
 * (barsOf: probeBars or foreignBars), each file filled (zeros, or random bytes where
 * the entry says fill: 'random') and the QEMU options that map it (ivshmemPlainArgs,
 * the controller's own; read-only where the entry says so). Guest name -> devices.
 */
async function makeExtraBars(paths, guests, kind, barsOf) {
  const { ivshmemPlainArgs } = await import(pathToFileURL(join(REPO, 'dist/src/host/qemu.js')).href);
  const all = {};
  for (let n = 1; n <= guests; n++) {
    all[`g${n}`] = barsOf(paths, n).map((b) => {
      writeFileSync(b.path, b.fill === 'random' ? randomBytes(b.size) : Buffer.alloc(b.size));
      const args = ivshmemPlainArgs({ id: `${kind}-${b.name}`, path: b.path, size: b.size, readonly: b.readonly ?? false, addr: b.slot });
      return { ...b, qemuArgs: args };
    });
  }
  return all;
}

/** Boot timeouts stretch for the debug kernel: KASAN and lockdep make it several times slower. */
function slowdown(state) {
  return state.kernel.debug ? 4 : 1;
}

async function waitReady(paths, guests, seconds, only) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const state = readState(paths);
    if (!supervisorRunning(paths, state)) {
      if (state?.supervisorPid === undefined && Date.now() < deadline) {
        await sleep(200);
        continue;
      }
      throw new LabError(`lab supervisor exited:\n${tail(paths.supervisorLog)}`);
    }
    let st;
    try {
      st = await control(paths, { op: 'status' });
    } catch {
      await sleep(200);
      continue;
    }
    const waiting = st.guests.filter((g) => (!only || only.includes(g.guest)) && g.state !== 'ready');
    if (!waiting.length) return st;
    const dead = waiting.find((g) => g.state === 'stopped');
    if (dead || Date.now() > deadline) {
      const g = dead ?? waiting[0];
      const n = parseGuest(g.guest);
      const gp = guestPaths(paths, n);
      const why = dead ? `its QEMU exited (${JSON.stringify(g.exit)})` : `not up after ${seconds} s`;
      throw new LabError(
        `guest ${g.guest} did not come up: ${why}\n--- QEMU ---\n${tail(gp.qemuLog, 10)}\n--- console (last lines) ---\n${tail(gp.console)}`,
      );
    }
    await sleep(300);
  }
}

// -------------------------------------------------------------------------- status

function runningLab() {
  const paths = labPaths();
  const state = readState(paths);
  if (!supervisorRunning(paths, state)) {
    throw new LabError(`${paths.label} is not up; start it with \`npm run lab -- up\``);
  }
  return { paths, state };
}

async function status(args) {
  const opts = minimist(args, { boolean: ['json', 'brief'] });
  const paths = labPaths();
  const state = readState(paths);
  if (!supervisorRunning(paths, state)) {
    if (opts.json) console.log(JSON.stringify({ name: paths.name, up: false }));
    else console.log(`${paths.label} is down`);
    return;
  }
  const st = await control(paths, { op: 'status' });
  if (opts.json) {
    console.log(JSON.stringify({ up: true, ...st, netns: paths.netns, host: state.host, probeBars: state.probeBars, foreignBars: state.foreignBars }, null, 2));
    return;
  }
  const h = state.host;
  console.log(
    `${paths.label}: ${st.guests.length} guests, ${st.accel.toUpperCase()}, netns ${paths.netns}, ` +
      `isolation ${h.isolation}${h.groups.length ? ` (groups ${h.groups.join(' ')})` : ''}, ${h.mode} mode` +
      `${h.slots > st.guests.length ? `, ${h.slots} slots` : ''} (ringctl host status --name ${h.name})`,
  );
  const rows = [['GUEST', 'STATE', 'PID', 'BOOT', 'ETH1', 'RING0', 'KERNEL']];
  for (const g of st.guests) {
    rows.push([
      g.guest,
      g.state,
      String(g.pid ?? '-'),
      g.bootSeconds === null ? '-' : `${g.bootSeconds.toFixed(1)}s`,
      `${g.eth1} ${g.eth1v6}`,
      state.ring ? `${g.ring0} ${g.ring0v6}` : '-',
      g.kernel ?? '-',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  const probe = Object.values(state.probeBars ?? {})[0];
  if (probe) {
    const devs = probe.map((b) => `${b.name} ${b.bdf} (${b.size >> 10} KiB, ${b.readonly ? 'read-only' : 'read-write'})`);
    console.log(`probe BARs in every guest: ${devs.join(', ')}; files ${paths.state}/gN.probe-*.bar`);
  }
  const foreign = Object.values(state.foreignBars ?? {})[0];
  if (foreign) console.log(`foreign ivshmem devices in every guest: ${foreign.map((b) => `${b.name} ${b.bdf}`).join(', ')}`);
  if (!opts.brief) console.log(`logs: ${paths.state}/gN.console.log`);
}

// ---------------------------------------------------------------------------- exec

function execArgs(args) {
  const dash = args.indexOf('--');
  const head = dash >= 0 ? args.slice(0, dash) : args.slice(0, 1);
  const cmd = dash >= 0 ? args.slice(dash + 1) : args.slice(1);
  const opts = minimist(head, { boolean: ['i'], string: ['timeout'], alias: { i: 'interactive' } });
  if (opts._.length !== 1 || cmd.length === 0) {
    throw new LabError('usage: lab exec [-i] [--timeout SECONDS] gN -- CMD [ARG...]');
  }
  return { guest: opts._[0], argv: cmd, stdin: opts.i, timeout: opts.timeout ? Number(opts.timeout) : 0 };
}

/**
 * Runs argv in guest n; output goes to the callbacks as it comes. Resolves to the
 * command's exit code (128+N for a signal); rejects with a LabError when the lab
 * itself fails. `control` receives a kill(signal) function.
 */
function guestExec(paths, n, argv, { onStdout, onStderr, stdin, timeout = 0, control } = {}) {
  const sock = createConnection(guestPaths(paths, n).exec);
  const channel = 1;
  const kill = (signal) => sock.write(encodeFrame(FRAME.KILL, channel, { signal }));
  control?.(kill);
  let timer;
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder((f) => {
      if (f.type === FRAME.STDOUT) onStdout?.(f.payload);
      else if (f.type === FRAME.STDERR) onStderr?.(f.payload);
      else if (f.type === FRAME.EXIT) {
        const { code, signal } = jsonOf(f);
        resolve(signal ? 128 + (osSignal(signal) ?? 0) : code);
      } else if (f.type === FRAME.ERROR) {
        reject(new LabError(`g${n}: ${jsonOf(f).message}`));
      }
    }, reject);
    sock.on('error', (err) => reject(new LabError(`g${n}: cannot reach the lab (${err.code})`)));
    sock.on('close', () => reject(new LabError(`g${n}: the lab closed the connection`)));
    sock.on('data', (b) => decoder.push(b));
    sock.on('connect', () => {
      sock.write(encodeFrame(FRAME.EXEC, channel, { argv, cwd: process.cwd(), stdin: Boolean(stdin) }));
      if (stdin) {
        stdin.on('data', (b) => sock.write(encodeData(FRAME.STDIN, channel, b)));
        stdin.on('end', () => sock.write(encodeFrame(FRAME.STDIN_EOF, channel)));
      }
    });
    if (timeout > 0) {
      timer = setTimeout(() => {
        kill('SIGKILL');
        reject(new LabError(`g${n}: ${argv.join(' ')} did not finish within ${timeout} s (killed)`));
      }, timeout * 1000);
    }
  }).finally(() => {
    clearTimeout(timer);
    sock.destroy();
  });
}

/** Runs argv in guest n and collects its output as text. */
async function guestRun(paths, n, argv, timeout = 120) {
  const out = [];
  const err = [];
  const code = await guestExec(paths, n, argv, { onStdout: (b) => out.push(b), onStderr: (b) => err.push(b), timeout });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/**
 * Loads ringnet.ko in the guests `only` (default: all) and waits until every guest
 * sees up every other lab guest it shares a group with (state.host.peers).
 */
async function ringUp(paths, guests, only) {
  const names = only ?? Array.from({ length: guests }, (_, i) => i + 1);
  await Promise.all(
    names.map(async (n) => {
      const r = await guestRun(paths, n, [join(REPO, 'scripts/guest/ring-up.sh')], 120 * slowdown(readState(paths)));
      if (r.code !== 0) throw new LabError(`g${n}: ring0 did not come up: ${(r.stderr || r.stdout).trim()}`);
    }),
  );
  // Every guest, not just the ones we loaded: the others must see a newcomer too.
  const state = readState(paths);
  const wait = 15 * slowdown(state);
  const deadline = Date.now() + wait * 1000;
  for (let n = 1; n <= guests; n++) {
    const want = state.host.peers[n].length;
    for (;;) {
      const r = await guestRun(paths, n, ['cat', '/sys/kernel/debug/ringnet/ring0/peers']);
      const up = r.stdout.split('\n').filter((l) => / up /.test(l)).length;
      if (up >= want) break;
      if (Date.now() > deadline) {
        throw new LabError(`g${n}: ring0 sees ${up} of its ${want} peers (${state.host.peers[n].map((p) => `g${p}`).join(', ') || 'none'}) up after ${wait} s:\n${r.stdout}`);
      }
      await sleep(300);
    }
  }
}

async function exec(args) {
  const { paths, state } = runningLab();
  const req = execArgs(args);
  const n = parseGuest(req.guest, state.guests);
  // The first SIGINT/SIGTERM goes to the command; a second one leaves at once.
  let kill;
  let signalled = false;
  const onSignal = (signal) => {
    if (signalled) process.exit(128 + osSignal(signal));
    signalled = true;
    kill?.(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    process.exitCode = await guestExec(paths, n, req.argv, {
      onStdout: (b) => process.stdout.write(b),
      onStderr: (b) => process.stderr.write(b),
      stdin: req.stdin ? process.stdin : undefined,
      timeout: req.timeout,
      control: (k) => (kill = k),
    });
  } catch (err) {
    // The lab failed us, not the command: 255, as ssh does.
    console.error(`lab: ${err.message}`);
    process.exitCode = 255;
  } finally {
    process.stdin.destroy();
    // Let stdout drain before leaving: piped output must arrive whole.
    await new Promise((r) => process.stdout.write('', r));
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function osSignal(name) {
  return (
    { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 }[name]
  );
}

// ------------------------------------------------------------- console, kill, boot

async function consoleCmd(args) {
  const opts = minimist(args, { boolean: ['follow'], alias: { f: 'follow' } });
  const paths = labPaths();
  const state = readState(paths);
  if (!state) throw new LabError(`${paths.label} is not up`);
  const n = parseGuest(opts._[0] ?? '', state.guests);
  const file = guestPaths(paths, n).console;
  if (opts.follow) {
    const t = spawn('tail', ['-n', '+1', '-f', file], { stdio: 'inherit' });
    await new Promise((r) => t.on('exit', r));
  } else {
    process.stdout.write(readFileSync(file));
  }
}

async function killGuest(args) {
  const { paths, state } = runningLab();
  const n = parseGuest(args[0] ?? '', state.guests);
  await control(paths, { op: 'kill', guest: `g${n}` });
  for (let i = 0; i < 100; i++) {
    const st = await control(paths, { op: 'status' });
    if (st.guests[n - 1].state === 'stopped') break;
    await sleep(100);
  }
  console.log(`g${n}: killed`);
}

async function bootGuest(args) {
  const { paths, state } = runningLab();
  const n = parseGuest(args[0] ?? '', state.guests);
  await control(paths, { op: 'boot', guest: `g${n}` });
  const st = await waitReady(paths, state.guests, 90 * slowdown(state), [`g${n}`]);
  if (state.ring) await ringUp(paths, state.guests, [n]);
  console.log(`g${n}: up in ${st.guests[n - 1].bootSeconds.toFixed(1)} s`);
}

/**
 * Runs one QMP command on guest n's QEMU (its -qmp socket): the greeting, then
 * qmp_capabilities, then the command. Resolves to the command's return value.
 */
function qmpCommand(paths, n, execute, args) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(guestPaths(paths, n).qmp);
    const requests = [{ execute: 'qmp_capabilities' }, { execute, ...(args ? { arguments: args } : {}) }];
    let buf = '';
    let greeted = false;
    sock.on('error', (err) => reject(new LabError(`g${n}: QMP does not answer (${err.code}); is the guest running?`)));
    sock.on('close', () => reject(new LabError(`g${n}: QMP closed the connection`)));
    sock.on('data', (b) => {
      buf += b;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (msg.event) continue;
        if (!greeted) {
          greeted = true;
        } else if (msg.error) {
          sock.destroy();
          reject(new LabError(`g${n}: QMP ${requests[0].execute}: ${msg.error.desc}`));
          return;
        } else {
          requests.shift();
          if (!requests.length) {
            sock.destroy();
            resolve(msg.return);
            return;
          }
        }
        sock.write(JSON.stringify(requests[0]) + '\n');
      }
    });
  });
}

async function qmp(args) {
  const { paths, state } = runningLab();
  const [guest, execute, json] = args;
  if (!guest || !execute) throw new LabError('usage: lab qmp gN COMMAND [JSON-ARGUMENTS]');
  const n = parseGuest(guest, state.guests);
  let cmdArgs;
  try {
    cmdArgs = json === undefined ? undefined : JSON.parse(json);
  } catch {
    throw new LabError(`lab qmp: ${json} is not JSON`);
  }
  console.log(JSON.stringify(await qmpCommand(paths, n, execute, cmdArgs)));
}

// ---------------------------------------------------------------------------- main

const USAGE = `usage: lab up [--guests N] [--isolation owner|pair] [--group NAME=gA,gB,...]... [--doorbell] [--no-ring]
              [--accel auto|kvm|tcg] [--memory MiB] [--cpus N] [--queues N] [--ring-size SIZE] [--slots N]
              [--kernel standard|debug] [--probe-bars] [--foreign-bars] [--tcg-profile]
       lab exec [-i] [--timeout SECONDS] gN -- CMD [ARG...]
       lab status [--json]
       lab console gN [--follow]
       lab kill gN | lab boot gN
       lab qmp gN COMMAND [JSON-ARGUMENTS]
       lab down`;

const [verb, ...rest] = process.argv.slice(2);
const verbs = { up, down, status, exec, console: consoleCmd, kill: killGuest, boot: bootGuest, qmp };
try {
  if (verb === '_supervise') {
    await new Supervisor(labPaths().name).start();
  } else if (verbs[verb]) {
    await verbs[verb](rest);
  } else {
    console.error(verb && verb !== 'help' && verb !== '--help' ? `lab: unknown verb ${verb}\n${USAGE}` : USAGE);
    process.exitCode = verb && verb !== 'help' && verb !== '--help' ? 2 : 0;
  }
} catch (err) {
  if (err instanceof LabError || err?.code === 'ENOENT') console.error(`lab: ${err.message}`);
  else console.error(err);
  process.exitCode = 1;
}
