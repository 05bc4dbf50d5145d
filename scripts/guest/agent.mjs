#!/usr/bin/env node
// The lab's guest agent: runs commands for `lab exec`, many at once, over the
// virtio-serial port named kvmring.agent. Plain Node: it runs from the host's root,
// shared read-only over 9p, with nothing installed in the guest.
import { spawn } from 'node:child_process';
import { existsSync, openSync, read, readFileSync, readdirSync, write } from 'node:fs';
import { hostname, release, uptime } from 'node:os';

import { FRAME, FrameDecoder, encodeData, encodeFrame, jsonOf } from '../lib/agent-proto.mjs';

const PORT_NAME = 'kvmring.agent';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HIGH_WATER = 4 << 20;
const LOW_WATER = 1 << 20;

function findPort() {
  const dir = '/sys/class/virtio-ports';
  for (const port of existsSync(dir) ? readdirSync(dir) : []) {
    if (readFileSync(`${dir}/${port}/name`, 'utf8').trim() === PORT_NAME) return `/dev/${port}`;
  }
  throw new Error(`no virtio-serial port named ${PORT_NAME}`);
}

const fd = openSync(findPort(), 'r+');

// Every frame goes out through one queue, in order, so a command's output always
// precedes its EXIT frame and frames never interleave.
const queue = [];
let queued = 0;
let writing = false;
const paused = new Set();

function send(buf) {
  queue.push(buf);
  queued += buf.length;
  if (queued > HIGH_WATER) for (const job of jobs.values()) pauseJob(job);
  if (!writing) flush();
}

function flush() {
  const buf = queue.shift();
  if (!buf) {
    writing = false;
    return;
  }
  writing = true;
  write(fd, buf, 0, buf.length, null, (err, n) => {
    if (err) {
      // The host side is gone (ENOTCONN, EPIPE): what it would have read is lost.
      queued -= buf.length;
    } else if (n < buf.length) {
      queue.unshift(buf.subarray(n));
      queued -= n;
    } else {
      queued -= n;
    }
    if (queued < LOW_WATER) for (const job of paused) resumeJob(job);
    flush();
  });
}

const jobs = new Map();

function pauseJob(job) {
  job.child.stdout?.pause();
  job.child.stderr?.pause();
  paused.add(job);
}

function resumeJob(job) {
  paused.delete(job);
  job.child.stdout?.resume();
  job.child.stderr?.resume();
}

function startJob(channel, req) {
  const cwd = req.cwd && existsSync(req.cwd) ? req.cwd : '/';
  const env = { PATH, HOME: '/root', TERM: 'dumb', LANG: 'C.UTF-8', ...(req.env ?? {}) };
  let child;
  try {
    child = spawn(req.argv[0], req.argv.slice(1), { cwd, env, stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (err) {
    send(encodeFrame(FRAME.ERROR, channel, { message: err.message }));
    return;
  }
  const job = { child, channel };
  jobs.set(channel, job);
  child.stdout.on('data', (b) => send(encodeData(FRAME.STDOUT, channel, b)));
  child.stderr.on('data', (b) => send(encodeData(FRAME.STDERR, channel, b)));
  child.stdin?.on('error', () => {}); // the command may exit before reading its input
  child.on('error', (err) => {
    // A command that cannot start ends as a shell's would: 127 not found, 126 not runnable.
    jobs.delete(channel);
    paused.delete(job);
    const code = err.code === 'ENOENT' ? 127 : 126;
    const why = err.code === 'ENOENT' ? 'command not found' : err.message;
    send(encodeFrame(FRAME.STDERR, channel, `${req.argv[0]}: ${why}\n`));
    send(encodeFrame(FRAME.EXIT, channel, { code, signal: null }));
  });
  child.on('close', (code, signal) => {
    if (!jobs.has(channel)) return;
    jobs.delete(channel);
    paused.delete(job);
    send(encodeFrame(FRAME.EXIT, channel, { code, signal }));
  });
}

function onFrame(frame) {
  const job = jobs.get(frame.channel);
  switch (frame.type) {
    case FRAME.PING:
      send(
        encodeFrame(FRAME.PONG, frame.channel, {
          ...jsonOf(frame),
          hostname: hostname(),
          kernel: release(),
          uptime: uptime(),
        }),
      );
      break;
    case FRAME.EXEC:
      startJob(frame.channel, jsonOf(frame));
      break;
    case FRAME.STDIN:
      job?.child.stdin?.write(frame.payload);
      break;
    case FRAME.STDIN_EOF:
      job?.child.stdin?.end();
      break;
    case FRAME.KILL:
      job?.child.kill(jsonOf(frame).signal ?? 'SIGTERM');
      break;
    default:
      break;
  }
}

let decoder;
function resync() {
  // After garbage (the host reconnected mid-frame), start over on the next read.
  decoder = new FrameDecoder(onFrame, () => setImmediate(resync));
}
resync();

// read() on a virtio-serial port returns 0 while no host is connected: wait and retry.
const buf = Buffer.alloc(256 << 10);
function readLoop() {
  read(fd, buf, 0, buf.length, null, (err, n) => {
    if (err || n === 0) {
      setTimeout(readLoop, 200);
      return;
    }
    decoder.push(Buffer.from(buf.subarray(0, n)));
    readLoop();
  });
}
readLoop();
