// bench:lab's measurements in a running lab of two guests, g1 sending to g2, for
// scripts/bench/lab.mjs and scripts/demo.mjs: throughput with the host's work
// sampled from /proc meanwhile, and sockperf's TCP request/response latency.
import { setTimeout as sleep } from 'node:timers/promises';
import { $ } from 'zx';
import { aboveIdle, busyFraction, hostWork, parseCpuLine, parseIpLink, parseSockperf, perUnit } from './hostwork.mjs';
import { CLK_TCK, sampleHost } from './proc-sample.mjs';

export const SOCKPERF_PORT = 11111;
/** net.core.busy_read and net.core.busy_poll while busy polling, in µs: the usual value on KVM. */
export const BUSY_POLL_US = 50;
/**
 * The same under TCG, where a round trip takes 200-450 µs: a 50 µs window ends before
 * any answer can arrive, so the socket sleeps as if it did not poll at all.
 */
export const BUSY_POLL_US_TCG = 1000;

/** The busy-polling window for guests running under `accel` (lab status's tcg or kvm). */
export function busyPollUsFor(accel) {
  return accel === 'tcg' ? BUSY_POLL_US_TCG : BUSY_POLL_US;
}
/** Seconds an iperf3 client may take beyond its run before it counts as stuck. */
export const IPERF_GRACE_S = 30;

export class LabBench {
  /** root: the repository; seconds: per throughput or latency run; busyPollUs: net.core.busy_read/busy_poll while busy polling. */
  constructor({ root, seconds, busyPollUs = BUSY_POLL_US }) {
    this.root = root;
    this.seconds = seconds;
    this.busyPollUs = busyPollUs;
    this.qemus = null;
    this.idle = null;
    /** Why throughput runs were made a second time, in order. */
    this.retries = [];
  }

  lab(...args) {
    return $({ cwd: this.root, quiet: true, stdio: ['ignore', 'pipe', 'pipe'] })`node scripts/lab.mjs ${args}`;
  }

  async inGuest(g, ...cmd) {
    return (await this.lab('exec', '--timeout', String(this.seconds + 120), g, '--', ...cmd)).stdout;
  }

  sh(g, script) {
    return this.inGuest(g, 'sh', '-c', script);
  }

  /**
   * Runs a guest setting's command (`sh -c`) in g1 and g2; a failure names the
   * setting, the guest, the command and what it wrote to stderr.
   */
  async applySetting(cmd, label = 'the setting') {
    for (const g of ['g1', 'g2']) {
      try {
        await this.sh(g, cmd);
      } catch (err) {
        const stderr = (err.stderr ?? '').trim();
        const stdout = (err.stdout ?? '').trim();
        const why = stderr || (stdout ? `(nothing on stderr; stdout: ${stdout})` : err.message.trim());
        throw new Error(`${label} failed in ${g}: \`${cmd}\` exited ${err.exitCode ?? '?'}: ${why}`, { cause: err });
      }
    }
  }

  /**
   * Boots g1 and g2 in plain or doorbell mode and finds their QEMUs afresh:
   * { accel, qemu: [{ guest, pid, vcpuTids }] } for the results.
   */
  async boot(mode) {
    await this.lab('up', '--guests', '2', ...(mode === 'doorbell' ? ['--doorbell'] : []));
    const st = JSON.parse((await this.lab('status', '--json')).stdout);
    const qemus = await this.findQemus(st);
    return { accel: st.accel ?? st.guests?.[0]?.accel ?? null, qemu: qemus.map((q) => ({ guest: q.guest, pid: q.pid, vcpuTids: [...q.vcpuTids] })) };
  }

  /** The lab's QEMU processes (from `lab status --json`, or st if read already) and their vCPU threads (QMP query-cpus-fast). */
  async findQemus(st) {
    st ??= JSON.parse((await this.lab('status', '--json')).stdout);
    this.qemus = [];
    for (const g of st.guests.filter((x) => ['g1', 'g2'].includes(x.guest))) {
      if (!g.pid) throw new Error(`${g.guest} has no QEMU pid in lab status`);
      const cpus = JSON.parse((await this.lab('qmp', g.guest, 'query-cpus-fast')).stdout);
      this.qemus.push({ guest: g.guest, pid: g.pid, vcpuTids: new Set(cpus.map((c) => c['thread-id'])) });
    }
    return this.qemus;
  }

  /** Runs fn() between two host samples: { result, work } (work: hostwork.mjs's hostWork()). */
  async hostWindow(fn) {
    if (!this.qemus) await this.findQemus();
    const before = sampleHost(this.qemus);
    const result = await fn();
    const after = sampleHost(this.qemus);
    return { result, work: hostWork(before, after, CLK_TCK) };
  }

  /**
   * The host's work with the guests idle, over one run's length, that aboveIdle()
   * takes away; and how busy each guest's CPUs were meanwhile (guestBusy: in plain
   * mode what ring0's poll timers cost with nothing to receive).
   */
  async measureIdle() {
    const stat = async () => Object.fromEntries(await Promise.all(['g1', 'g2'].map(async (g) => [g, parseCpuLine(await this.sh(g, 'head -1 /proc/stat'))])));
    const before = await stat();
    this.idle = (await this.hostWindow(() => sleep(this.seconds * 1e3))).work;
    const after = await stat();
    this.idleGuestBusy = Object.fromEntries(['g1', 'g2'].map((g) => [g, busyFraction(before[g], after[g])]));
    return this.idle;
  }

  /** g2's received packets and bytes on eth1 and ring0 together (either path may carry the run). */
  async received() {
    const out = { packets: 0, bytes: 0, ring0Bytes: 0 };
    for (const dev of ['eth1', 'ring0']) {
      const c = parseIpLink(await this.inGuest('g2', 'ip', '-s', '-j', 'link', 'show', 'dev', dev));
      out.packets += c.rxPackets;
      out.bytes += c.rxBytes;
      if (dev === 'ring0') out.ring0Bytes = c.rxBytes;
    }
    return out;
  }

  /**
   * A throughput run: iperf3's JSON, and the host's work per what g2 received.
   * An iperf3 that has not finished IPERF_GRACE_S after its run (a UDP flood
   * under TCG can leave the client waiting for the server's results) is killed,
   * g2's server restarted and the run made once more; `retried` says why.
   */
  async throughput(iperfArgs) {
    const run = async () => {
      const c0 = await this.received();
      const { result, work } = await this.hostWindow(() =>
        this.inGuest('g1', 'timeout', '-s', 'KILL', String(this.seconds + IPERF_GRACE_S), 'iperf3', ...iperfArgs, '-t', String(this.seconds), '-J'));
      const c1 = await this.received();
      const rx = { packets: c1.packets - c0.packets, bytes: c1.bytes - c0.bytes, ring0Bytes: c1.ring0Bytes - c0.ring0Bytes };
      const net = this.idle ? aboveIdle(work, this.idle) : work;
      return { iperf: JSON.parse(result), rx, work, net, host: perUnit(net, rx) };
    };
    try {
      return await run();
    } catch (err) {
      const why = `iperf3 ${iperfArgs.join(' ')}: ${(err.stderr || err.message).trim().split('\n').pop()}`;
      this.retries.push(why);
      await this.sh('g2', 'pkill -KILL -x iperf3; sleep 1; iperf3 -s -D');
      await sleep(1000);
      return { ...(await run()), retried: why };
    }
  }

  async tcp(peer, streams = 1) {
    const r = await this.throughput(['-c', peer, '-P', String(streams)]);
    return { gbps: r.iperf.end.sum_received.bits_per_second / 1e9, rx: r.rx, work: r.work, net: r.net, host: r.host };
  }

  async udp64(peer) {
    const r = await this.throughput(['-c', peer, '-u', '-b', '0', '-l', '64']);
    const s = r.iperf.end.sum;
    // kpps: what iperf3's server read; deviceKpps: what g2's eth1 and ring0 took in,
    // the difference being what g2 dropped on the way (a full socket buffer).
    return {
      kpps: (s.packets - s.lost_packets) / s.seconds / 1e3,
      deviceKpps: r.rx.packets / s.seconds / 1e3,
      lostPercent: s.lost_percent,
      rx: r.rx, work: r.work, net: r.net, host: r.host,
    };
  }

  async startServers() {
    await this.sh('g2', `(pgrep -x iperf3 >/dev/null || iperf3 -s -D) && (pgrep -x sockperf >/dev/null || (sockperf server --tcp -i 0.0.0.0 -p ${SOCKPERF_PORT} >/tmp/sockperf-server.log 2>&1 &))`);
    await sleep(1000);
  }

  /**
   * TCP request/response with sockperf (round trip times, µs), and how busy g1's
   * CPU was meanwhile. busyPoll sets net.core.busy_read/busy_poll in both guests
   * for the run and puts back what was there.
   */
  async rr(peer, { busyPoll = false } = {}) {
    const keys = ['net.core.busy_read', 'net.core.busy_poll'];
    const saved = {};
    if (busyPoll) {
      for (const g of ['g1', 'g2']) {
        saved[g] = (await this.inGuest(g, 'sysctl', '-n', ...keys)).trim().split(/\s+/);
        await this.inGuest(g, 'sysctl', '-q', ...keys.map((k) => `${k}=${this.busyPollUs}`));
      }
    }
    try {
      const out = await this.sh(
        'g1',
        `head -1 /proc/stat; sockperf ping-pong --tcp --full-rtt -i ${peer} -p ${SOCKPERF_PORT} -t ${this.seconds} 2>&1; head -1 /proc/stat`,
      );
      const lines = out.trim().split('\n');
      const cpu0 = parseCpuLine(lines[0]);
      const cpu1 = parseCpuLine(lines[lines.length - 1]);
      return { ...parseSockperf(out), guestBusy: busyFraction(cpu0, cpu1), busyPoll };
    } finally {
      for (const [g, vals] of Object.entries(saved)) {
        await this.inGuest(g, 'sysctl', '-q', ...keys.map((k, i) => `${k}=${vals[i]}`));
      }
    }
  }

  /** Everything bench:lab measures over one path (peer: g2's address). */
  async path(peer, log = () => {}) {
    log('TCP, 1 stream');
    const tcp1 = await this.tcp(peer, 1);
    log('TCP, 4 streams');
    const tcp4 = await this.tcp(peer, 4);
    log('UDP, 64 B');
    const udp = await this.udp64(peer);
    log('TCP request/response');
    const rr = await this.rr(peer);
    log('TCP request/response, busy polling');
    const rrBusy = await this.rr(peer, { busyPoll: true });
    return { peer, tcp1, tcp4, udp, rr, rrBusy };
  }

  /** Transparent mode: eth1 addresses steered into ring0 by ringctl's XDP and TC programs in both guests. */
  async transparentOn() {
    for (const g of ['g1', 'g2']) {
      await this.inGuest(g, 'node', 'bin/ringctl.js', 'attach', 'eth1', '--subnet', '198.51.100.0/24', '--transparent');
    }
  }

  async transparentOff() {
    for (const g of ['g1', 'g2']) await this.inGuest(g, 'node', 'bin/ringctl.js', 'detach', 'eth1');
  }
}
