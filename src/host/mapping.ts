// A file mapped MAP_SHARED into this process, as the guests map it. Reads go
// through copies (copy()); writes through use(), whose view of the mapping ends
// with it, so no view outlives close().
import { closeSync, fstatSync, openSync, statfsSync } from 'node:fs';
import koffi from 'koffi';

import { RingctlError } from '../common/errors.js';
import { fsCall } from '../common/sys-error.js';
import { mmap, munmap, PROT_READ, PROT_WRITE } from '../common/libc.js';

export class Mapping {
  #closed = false;

  private constructor(
    readonly path: string,
    readonly fd: number,
    /** Address of the first mapped byte. */
    readonly ptr: bigint,
    /** Bytes mapped. */
    readonly length: number,
    /** Bytes of the file when it was mapped. */
    readonly fileSize: number,
    /** Bytes actually mapped: `length` rounded up to the filesystem's page (huge pages on hugetlbfs). */
    readonly mappedLength: number,
  ) {}

  /**
   * Maps the first `length` bytes of `path` (all of it by default; never more
   * than the file has, so a read cannot fault past its end). A character
   * device (a region of kvmring.ko) has no size in fstat(): `deviceSize` gives it.
   */
  static open(path: string, opts: { writable?: boolean; length?: number; deviceSize?: number } = {}): Mapping {
    const fd = fsCall(`open(${path})`, () => openSync(path, opts.writable ? 'r+' : 'r'));
    try {
      const st = fsCall(`fstat(${path})`, () => fstatSync(fd));
      const size = st.isFile() ? st.size : st.isCharacterDevice() ? opts.deviceSize : undefined;
      if (size === undefined) throw new RingctlError(`${path} is not a regular file`);
      const length = Math.min(opts.length ?? size, size);
      if (length <= 0) return new Mapping(path, fd, 0n, 0, size, 0);
      // munmap() of part of a huge page fails: map whole pages (the file has whole pages).
      const page = Math.max(fsCall(`statfs(${path})`, () => statfsSync(path)).bsize, 4096);
      const mapped = Math.min(Math.ceil(length / page) * page, size);
      const ptr = mmap(fd, mapped, PROT_READ | (opts.writable ? PROT_WRITE : 0), path);
      return new Mapping(path, fd, ptr, length, size, mapped);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  #check(offset: number, len: number): void {
    if (this.#closed) throw new Error(`${this.path}: mapping used after close`);
    if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0 || offset + len > this.length) {
      throw new RangeError(`${this.path}: bytes ${offset}..${offset + len} are outside the ${this.length} mapped`);
    }
  }

  /** A private copy of `len` bytes at `offset`. */
  copy(offset: number, len: number): Buffer {
    this.#check(offset, len);
    if (len === 0) return Buffer.alloc(0);
    return Buffer.from(new Uint8Array(koffi.view(this.ptr + BigInt(offset), len)));
  }

  /**
   * Runs `fn` on a Buffer over the mapped bytes themselves, not a copy: what
   * it writes (if the mapping is writable) every other mapping of the file
   * sees at once. The Buffer must not outlive `fn`: close() unmaps it.
   */
  use<T>(fn: (mem: Buffer) => T): T {
    this.#check(0, this.length);
    if (this.length === 0) return fn(Buffer.alloc(0));
    return fn(Buffer.from(koffi.view(this.ptr, this.length)));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.mappedLength) munmap(this.ptr, this.mappedLength, this.path);
    } finally {
      closeSync(this.fd);
    }
  }
}
