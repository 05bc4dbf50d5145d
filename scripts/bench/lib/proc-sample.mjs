// Reads /proc on the host for bench:lab: every thread of the lab's QEMU processes
// and the kernel's network workers (ksoftirqd/N, vhost-*), as samples that
// hostwork.mjs's hostWork() subtracts.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { classifyThread, isKernelWorker, parseStat, parseStatus } from './hostwork.mjs';

/** Clock ticks per second, the unit of utime and stime. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readThread(dir) {
  const stat = parseStat(readFileSync(`${dir}/stat`, 'utf8'));
  const { ctx } = parseStatus(readFileSync(`${dir}/status`, 'utf8'));
  return { comm: stat.comm, ticks: stat.ticks, ctx };
}

/**
 * One sample. qemus: [{ guest, pid, vcpuTids: Set }]. A thread that ends while it
 * is read is skipped.
 */
export function sampleHost(qemus) {
  const t = performance.now() / 1e3;
  const threads = [];
  for (const { guest, pid, vcpuTids } of qemus) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const th = readThread(`/proc/${pid}/task/${tid}`);
        threads.push({ key: `${pid}/${tid}`, guest, tid: Number(tid), kind: classifyThread(th.comm, tid, vcpuTids), ...th });
      } catch {
        /* ended meanwhile */
      }
    }
  }
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!isKernelWorker(comm)) continue;
      threads.push({ key: `${pid}/${pid}`, guest: null, tid: Number(pid), kind: 'kernel', ...readThread(`/proc/${pid}`) });
    } catch {
      /* ended meanwhile */
    }
  }
  return { t, threads };
}
