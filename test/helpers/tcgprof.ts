// The shapes of scripts/bench/lib/tcgprof.mjs (tcgprof's snapshots, their
// difference, kallsyms naming), for the tests that import it.

/** A code block's counts: instructions run, and how often it started. */
export interface Block {
  insns: number;
  execs: number;
}

/** One snapshot: the request's tag, the writing QEMU's pid, counts by block address. */
export interface Snapshot {
  tag: string;
  pid: number;
  blocks: Map<string, Block>;
}

/** Code symbols, ascending, as parseKallsyms() gives them. */
export interface Syms {
  addrs: bigint[];
  names: string[];
}

/** Instructions by symbol (bySymbol()), or rows a test builds for byPart(). */
export interface Row {
  sym: string;
  insns: number;
  kernel?: boolean;
  percent?: number;
}

export interface Tcgprof {
  USER: string;
  parseSnapshot(text: string): Snapshot;
  diffSnapshots(earlier: Snapshot, later: Snapshot): Map<string, Block>;
  parseKallsyms(text: string): Syms;
  symbolOf(syms: Syms, vaddr: string): string;
  bySymbol(diff: Map<string, Block>, syms: Syms): Required<Row>[];
  requestSnapshot(file: string, timeoutMs?: number): Promise<Snapshot>;
}
