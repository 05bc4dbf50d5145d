// test/fixtures/bpf/xdp_verdict.bpf.c in a lab guest: its redirect target, and the
// veth pair the lab tests redirect through.
import type { Lab } from './lab.js';

/** The object the build makes of xdp_verdict.bpf.c. */
export const XDP_VERDICT_OBJ = 'build/test/bpf/xdp_verdict.bpf.o';

/** A veth pair vr0 <-> vr1 in guest g, both up. */
export async function vethPair(lab: Lab, g: string): Promise<void> {
  await lab.sh(g, 'ip link add vr0 type veth peer name vr1 && ip link set vr0 up && ip link set vr1 up');
}

/** Points xdp_redirect (its programs and maps pinned under `pin`) at dev in guest g. */
export async function redirectTo(lab: Lab, g: string, pin: string, dev: string): Promise<void> {
  const ifindex = Number((await lab.sh(g, `cat /sys/class/net/${dev}/ifindex`)).trim());
  const value = [0, 8, 16, 24].map((s) => (ifindex >> s) & 0xff).join(' ');
  await lab.sh(g, `bpftool map update pinned ${pin}/maps/redirect_to key 0 0 0 0 value ${value}`);
}
