// The lab supervisor: one detached process per lab that starts the guests' QEMUs in
// the lab's network namespace, holds each guest's agent port, and serves
//   control.sock  JSON lines: status | kill gN | boot gN | shutdown
//   gN.sock       the exec protocol (agent-proto.mjs) for `lab exec`, many clients
//                 at once, their channels mapped onto the one port of the guest.
import { spawn } from 'node:child_process';
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

import { FRAME, FrameDecoder, encodeFrame, jsonOf } from './agent-proto.mjs';
import { guestAddresses, guestPaths, labPaths, readState } from './lab-config.mjs';

/** The QEMU command line of guest n, as an argv. */
export function qemuArgv(state, n) {
  const g = guestPaths(labPaths(state.name), n);
  const a = guestAddresses(n);
  // Under TCG the guests see no ERMS or FSRM: TCG runs a `rep movsb` (or stosb) one
  // emulated iteration per byte, so with them every copy and page clear in a guest
  // kernel costs eight times what its `rep movsq` variant does, while on hardware
  // ERMS is the fast one. Without them the copies keep the share of a guest's work
  // they have on hardware (bench:profile counts the instructions either way).
  const accel = state.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max,-erms,-fsrm'];
  // lab up --probe-bars: extra ivshmem devices that no driver (ringnet above all) may take.
  const probe = state.probeBars?.[`g${n}`] ?? [];
  // lab up --foreign-bars: another program's ivshmem devices, which ringnet must leave alone.
  const foreign = state.foreignBars?.[`g${n}`] ?? [];
  const cmdline = [
    'console=ttyS0',
    'panic=-1',
    // A warning is a bug the tests must see: stop the guest at the first one.
    'panic_on_warn=1',
    'loglevel=6',
    `kvmring.guest=${n}`,
    `kvmring.repo=${state.repo}`,
    `kvmring.init=${state.repo}/scripts/guest/init.sh`,
    // ring-up.sh loads this ringnet.ko (relative to the repository).
    ...(state.ringnetKo ? [`kvmring.ringnet=${state.ringnetKo}`] : []),
    ...(probe.length ? [`kvmring.nodriver=${probe.map((b) => b.bdf).join(',')}`] : []),
    // The debug kernel reports every KASAN finding, not just the first. And it keeps
    // 4-level paging: TCG's -cpu max offers LA57, and 6.1 with KASAN takes an
    // interrupt during identify_boot_cpu() (LA57 cleared for a moment) for a
    // wild-memory-access, an endless storm of them on the console.
    ...(state.kernel.debug ? ['kasan_multi_shot', 'no5lvl'] : []),
  ].join(' ');
  return [
    'qemu-system-x86_64',
    '-name', `${state.marker}-g${n},process=${state.marker}-g${n}`,
    '-M', 'q35',
    ...accel,
    '-m', String(state.memory),
    '-smp', String(state.cpus),
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', state.kernel.vmlinuz,
    '-initrd', state.initramfs,
    '-append', cmdline,
    '-chardev', `file,id=console,path=${g.console}`,
    '-serial', 'chardev:console',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-netdev', `tap,id=eth1,ifname=${a.tap},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=eth1,mac=${a.eth1Mac},romfile=`,
    ...state.host.qemuArgs[n],
    ...probe.flatMap((b) => b.qemuArgs),
    ...foreign.flatMap((b) => b.qemuArgs),
    '-device', 'virtio-serial-pci',
    '-chardev', `socket,id=agent,path=${g.qemuAgent},server=on,wait=off`,
    '-device', 'virtserialport,chardev=agent,name=kvmring.agent',
    '-qmp', `unix:${g.qmp},server=on,wait=off`,
    // QEMU's option syntax: a comma in a value is written twice.
    ...(state.tcgProfile ? ['-plugin', `${state.tcgProfile.replaceAll(',', ',,')},out=${g.tcgprof.replaceAll(',', ',,')}`] : []),
  ];
}

class Guest {
  constructor(sup, n) {
    this.sup = sup;
    this.n = n;
    this.paths = guestPaths(sup.paths, n);
    this.state = 'stopped';
    this.qemu = undefined;
    this.link = undefined;
    this.channels = new Map(); // guest channel -> { client, channel }
    this.nextChannel = 1;
    this.bootedAt = 0;
    this.readyAfter = undefined;
    this.info = undefined;
    this.exit = undefined;
  }

  boot() {
    if (this.qemu) return;
    rmSync(this.paths.qemuAgent, { force: true });
    rmSync(this.paths.qmp, { force: true });
    writeFileSync(this.paths.console, '');
    const argv = qemuArgv(this.sup.config, this.n);
    const log = createWriteStream(this.paths.qemuLog);
    const qemu = spawn('ip', ['netns', 'exec', this.sup.paths.netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    qemu.stdout.pipe(log);
    qemu.stderr.pipe(log);
    this.qemu = qemu;
    this.state = 'booting';
    this.bootedAt = Date.now();
    this.readyAfter = undefined;
    this.exit = undefined;
    this.sup.recordPids();
    qemu.on('exit', (code, signal) => {
      this.qemu = undefined;
      this.exit = { code, signal };
      this.state = 'stopped';
      this.dropLink(`guest g${this.n} went away (QEMU exited with ${signal ?? code})`);
      this.sup.recordPids();
    });
    this.connect();
  }

  kill(signal = 'SIGKILL') {
    this.qemu?.kill(signal);
  }

  // QEMU creates its agent socket a moment after it starts: retry until then.
  connect() {
    if (!this.qemu) return;
    const sock = createConnection(this.paths.qemuAgent);
    sock.on('error', () => {
      sock.destroy();
      if (!this.link) setTimeout(() => this.connect(), 200);
    });
    sock.on('connect', () => {
      this.link = sock;
      const decoder = new FrameDecoder(
        (f) => this.fromGuest(f),
        (err) => this.dropLink(`guest g${this.n}: ${err.message}`),
      );
      sock.on('data', (b) => decoder.push(b));
      sock.on('close', () => {
        if (this.link === sock) this.dropLink(`guest g${this.n}: agent port closed`);
      });
      const ping = () => {
        if (this.link !== sock || this.state === 'ready') return;
        sock.write(encodeFrame(FRAME.PING, 0, { nonce: Date.now() }));
        setTimeout(ping, 500);
      };
      ping();
    });
  }

  dropLink(reason) {
    const link = this.link;
    this.link = undefined;
    link?.destroy();
    if (this.state === 'ready') this.state = this.qemu ? 'booting' : 'stopped';
    for (const [, { client, channel }] of this.channels) {
      client.write(encodeFrame(FRAME.ERROR, channel, { message: reason }));
    }
    this.channels.clear();
    if (this.qemu) setTimeout(() => this.connect(), 500);
  }

  fromGuest(frame) {
    if (frame.type === FRAME.PONG) {
      if (this.state !== 'ready') {
        this.state = 'ready';
        this.readyAfter = (Date.now() - this.bootedAt) / 1000;
        this.info = jsonOf(frame);
      }
      return;
    }
    const route = this.channels.get(frame.channel);
    if (!route) return;
    route.client.write(encodeFrame(frame.type, route.channel, frame.payload));
    if (frame.type === FRAME.EXIT || frame.type === FRAME.ERROR) this.channels.delete(frame.channel);
  }

  // One `lab exec` client: its channel numbers are its own; ours are per guest.
  serveClient(client) {
    const mine = new Map(); // client channel -> guest channel
    const decoder = new FrameDecoder(
      (f) => {
        if (f.type === FRAME.EXEC) {
          if (this.state !== 'ready' || !this.link) {
            client.write(encodeFrame(FRAME.ERROR, f.channel, { message: `guest g${this.n} is not up (${this.state})` }));
            return;
          }
          const ch = this.nextChannel++;
          mine.set(f.channel, ch);
          this.channels.set(ch, { client, channel: f.channel });
          this.link.write(encodeFrame(FRAME.EXEC, ch, f.payload));
          return;
        }
        const ch = mine.get(f.channel);
        if (ch !== undefined && this.channels.has(ch)) this.link?.write(encodeFrame(f.type, ch, f.payload));
      },
      () => client.destroy(),
    );
    client.on('data', (b) => decoder.push(b));
    client.on('error', () => {});
    client.on('close', () => {
      // A client that goes away takes its commands with it.
      for (const ch of mine.values()) {
        if (this.channels.delete(ch)) this.link?.write(encodeFrame(FRAME.KILL, ch, { signal: 'SIGKILL' }));
      }
    });
  }

  status() {
    return {
      guest: `g${this.n}`,
      state: this.state,
      pid: this.qemu?.pid ?? null,
      bootSeconds: this.readyAfter ?? null,
      kernel: this.info?.kernel ?? null,
      exit: this.exit ?? null,
      ...guestAddresses(this.n),
    };
  }
}

export class Supervisor {
  constructor(name) {
    this.paths = labPaths(name);
    this.config = readState(this.paths);
    if (!this.config) throw new Error(`no lab state in ${this.paths.stateFile}`);
    this.guests = [];
    for (let n = 1; n <= this.config.guests; n++) this.guests.push(new Guest(this, n));
    this.servers = [];
  }

  recordPids() {
    const qemuPids = Object.fromEntries(this.guests.filter((g) => g.qemu).map((g) => [`g${g.n}`, g.qemu.pid]));
    this.config = { ...this.config, supervisorPid: process.pid, qemuPids };
    writeFileSync(this.paths.stateFile, JSON.stringify(this.config, null, 2));
  }

  async start() {
    this.recordPids();
    for (const g of this.guests) {
      rmSync(g.paths.exec, { force: true });
      this.servers.push(await listen(g.paths.exec, (c) => g.serveClient(c)));
    }
    rmSync(this.paths.control, { force: true });
    this.servers.push(await listen(this.paths.control, (c) => this.serveControl(c)));
    for (const g of this.guests) g.boot();
    process.on('SIGTERM', () => this.shutdown());
    process.on('SIGINT', () => this.shutdown());
  }

  serveControl(client) {
    let buf = '';
    client.on('error', () => {});
    client.on('data', (b) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let reply;
        try {
          reply = this.command(JSON.parse(line));
        } catch (err) {
          reply = { error: err.message };
        }
        client.write(JSON.stringify(reply) + '\n');
      }
    });
  }

  command(req) {
    const guest = () => {
      const g = this.guests[Number(String(req.guest).replace(/^g/, '')) - 1];
      if (!g) throw new Error(`no guest ${req.guest} in this lab`);
      return g;
    };
    switch (req.op) {
      case 'status':
        return { name: this.config.name, accel: this.config.accel, guests: this.guests.map((g) => g.status()) };
      case 'kill':
        guest().kill();
        return { ok: true };
      case 'boot':
        guest().boot();
        return { ok: true };
      case 'shutdown':
        setImmediate(() => this.shutdown());
        return { ok: true };
      default:
        throw new Error(`unknown op ${req.op}`);
    }
  }

  async shutdown() {
    if (this.stopping) return;
    this.stopping = true;
    for (const s of this.servers) s.close();
    const running = this.guests.filter((g) => g.qemu);
    for (const g of running) g.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (this.guests.some((g) => g.qemu) && Date.now() < deadline) await sleep(100);
    for (const g of this.guests) g.kill('SIGKILL');
    while (this.guests.some((g) => g.qemu) && Date.now() < deadline + 2000) await sleep(100);
    process.exit(0);
  }
}

function listen(path, onClient) {
  return new Promise((resolve, reject) => {
    const server = createServer(onClient);
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
