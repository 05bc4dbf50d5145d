// The one errno table: names for the numbers the kernel, libc and libbpf return
// (the system's, from koffi, plus libbpf's own LIBBPF_ERRNO__* codes), and the
// numbers for the names the code tests against.
import koffi from 'koffi';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(koffi.os.errno)) {
  // Aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK, ENOTSUP = EOPNOTSUPP): keep the usual name.
  const known = ERRNO_NAMES.get(value);
  if (known === undefined || ['EWOULDBLOCK', 'EDEADLOCK', 'ENOTSUP'].includes(known)) ERRNO_NAMES.set(value, name);
}

/** libbpf's own codes (LIBBPF_ERRNO__*), beyond the system's errno range. */
const LIBBPF_ERRNO_NAMES: Record<number, string | undefined> = {
  4000: 'LIBBPF_ERRNO__LIBELF',
  4001: 'LIBBPF_ERRNO__FORMAT',
  4002: 'LIBBPF_ERRNO__KVERSION',
  4003: 'LIBBPF_ERRNO__ENDIAN',
  4004: 'LIBBPF_ERRNO__INTERNAL',
  4005: 'LIBBPF_ERRNO__RELOC',
  4006: 'LIBBPF_ERRNO__LOAD',
  4007: 'LIBBPF_ERRNO__VERIFY',
  4008: 'LIBBPF_ERRNO__PROG2BIG',
  4009: 'LIBBPF_ERRNO__KVER',
  4010: 'LIBBPF_ERRNO__PROGTYPE',
  4011: 'LIBBPF_ERRNO__WRNGPID',
  4012: 'LIBBPF_ERRNO__INVSEQ',
  4013: 'LIBBPF_ERRNO__NLPARSE',
};

/** 'EBUSY' for 16; `E<n>` for numbers we have no name for. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? LIBBPF_ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** 16 for 'EBUSY'; throws for a name the system does not have. */
export function errnoValue(name: string): number {
  const v = koffi.os.errno[name] as number | undefined;
  if (v === undefined) throw new Error(`unknown errno name ${name}`);
  return v;
}
