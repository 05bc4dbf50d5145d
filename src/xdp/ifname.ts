// Interface names as the kernel accepts them. Apart from netdev.ts (which loads
// libc through koffi) so that commands can check their arguments without it.

/** The kernel's buffer for an interface name, NUL included. */
export const IFNAMSIZ = 16;

/** True for a name the kernel could accept (1-15 bytes, no '/', ':' or whitespace). */
export function isValidIfname(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) < IFNAMSIZ && !/[/:\s]/.test(name) && name !== '.' && name !== '..';
}
