// BPF_PROG_TEST_RUN (bpf_prog_test_run_opts): run a program on a crafted frame,
// `repeat` times, and read back its verdict, the frame as it left, and the mean
// time per run.
import koffi from 'koffi';

import { callInt } from './call.js';
import { native } from './native.js';
import { bpf_test_run_opts } from './types.js';

export interface TestRunOptions {
  /** The packet (XDP: at least an Ethernet header). */
  data: Uint8Array;
  /** Room for the packet as it leaves (default: data.length + 256). */
  dataOutSize?: number;
  /** Context in (e.g. struct xdp_md or __sk_buff), optional. */
  ctx?: Uint8Array;
  ctxOutSize?: number;
  /** Runs (the kernel reports the mean duration); default 1. */
  repeat?: number;
  /** BPF_F_TEST_* flags, e.g. BPF_F_TEST_XDP_LIVE_FRAMES. */
  flags?: number;
  cpu?: number;
  /** Live-frames mode: frames per batch. */
  batchSize?: number;
}

export interface TestRunResult {
  /** The program's return value (XDP action, TC action). */
  retval: number;
  /** Mean ns per run, as measured by the kernel. */
  duration: number;
  /** The packet after the program (absent in live-frames mode). */
  dataOut: Buffer;
  ctxOut?: Buffer;
}

export function testRun(progFd: number, opts: TestRunOptions, name = `prog fd ${progFd}`): TestRunResult {
  const live = !!opts.flags && (opts.flags & 2) !== 0; // BPF_F_TEST_XDP_LIVE_FRAMES: no data_out
  const dataOut = Buffer.alloc(live ? 0 : (opts.dataOutSize ?? opts.data.length + 256));
  const ctxOut = opts.ctxOutSize ? Buffer.alloc(opts.ctxOutSize) : undefined;
  const o = {
    sz: koffi.sizeof(bpf_test_run_opts),
    data_in: opts.data,
    data_out: live ? null : dataOut,
    data_size_in: opts.data.length,
    data_size_out: dataOut.length,
    ctx_in: opts.ctx ?? null,
    ctx_out: ctxOut ?? null,
    ctx_size_in: opts.ctx?.length ?? 0,
    ctx_size_out: ctxOut?.length ?? 0,
    retval: 0,
    repeat: opts.repeat ?? 1,
    duration: 0,
    flags: opts.flags ?? 0,
    cpu: opts.cpu ?? 0,
    batch_size: opts.batchSize ?? 0,
  };
  callInt(`BPF_PROG_TEST_RUN(${name})`, () => native().bpf_prog_test_run_opts(progFd, o));
  return {
    retval: o.retval,
    duration: o.duration,
    dataOut: dataOut.subarray(0, o.data_size_out),
    ctxOut: ctxOut?.subarray(0, o.ctx_size_out),
  };
}
