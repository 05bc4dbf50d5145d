// A thin, typed binding over libbpf.so.1 (libbpf 1.1) with koffi. Every failure is
// a LibbpfError (errno, its name, the operation, libbpf's message and log).
export { errnoName, errnoValue } from '../common/errno.js';
export { LibbpfError, libbpfStrerror } from './errors.js';
export { setLogSink, type LogLevel, type LogSink } from './log.js';
export { BpfObject, BpfProgram, BpfMap, type OpenOptions, type GlobalVar } from './object.js';
export { BpfMapFd, mapInfoByFd, numPossibleCpus, type MapInfo } from './map.js';
export { BpfLink } from './link.js';
export {
  closeFd,
  linkFdById,
  linkIds,
  linkInfoByFd,
  mapFdById,
  objGet,
  objPin,
  progFdById,
  progInfoByFd,
  unpin,
  type LinkInfo,
  type ProgInfo,
} from './info.js';
export { xdpAttach, xdpDetach, xdpQuery, type XdpAttachMode, type XdpQuery } from './xdp.js';
export { tcAttach, tcDetach, tcHookCreate, tcHookDestroy, tcQuery, type TcDirection, type TcFilter, type TcHook } from './tc.js';
export { testRun, type TestRunOptions, type TestRunResult } from './test-run.js';
export * from './types.js';

import { native } from './native.js';

/** libbpf's version, e.g. 'v1.1'. */
export function libbpfVersion(): string {
  return native().libbpf_version_string();
}
