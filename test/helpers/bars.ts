// What a lab guest can read through its BARs: a marker sent over ring0 between
// two guests, searched for in every ivshmem BAR of a third (as root, with
// ringnet unloaded: what a guest that wants to read others' traffic can map). Under pair isolation
// a guest maps only the regions of the pairs it is in, so traffic between two
// others must be in none of them (test/lab/ring.test.ts, test/lab/groups.test.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { type Lab, REPO } from './lab.js';

/**
 * In a guest without ringnet: every ivshmem function's BAR2 (the shared memory
 * of the roster, the regions and the doorbell device) mapped read-only through
 * sysfs and searched for the hex string argv[1]. A kernel with IO_STRICT_DEVMEM
 * (Debian's) lets nobody map a BAR a driver holds, so the caller unloads
 * ringnet first, as a guest that wants to read what it can would; an unbound
 * device is enabled for the scan (so that its BARs decode) and disabled again.
 * Prints one JSON line: each BAR and whether it holds the bytes.
 */
const SCAN_BARS = `
import json, mmap, os, sys
marker = bytes.fromhex(sys.argv[1])
out = []
for bdf in sorted(os.listdir('/sys/bus/pci/devices')):
    d = '/sys/bus/pci/devices/' + bdf
    ids = open(d + '/vendor').read().strip(), open(d + '/device').read().strip()
    if ids != ('0x1af4', '0x1110') or not os.path.exists(d + '/resource2'):
        continue
    enabled = open(d + '/enable').read().strip() != '0'
    if not enabled:
        open(d + '/enable', 'w').write('1')
    fd = os.open(d + '/resource2', os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        out.append({'bdf': bdf, 'size': size, 'found': m.find(marker) >= 0})
        m.close()
    finally:
        os.close(fd)
        if not enabled:
            open(d + '/enable', 'w').write('0')
print(json.dumps(out))
`;

export interface BarScan {
  bdf: string;
  size: number;
  found: boolean;
}

/**
 * The BAR2s of every ivshmem function of `guest`, and which of them hold
 * `marker`: with ringnet unloaded for the scan and loaded again after it.
 */
export async function scanBars(lab: Lab, guest: string, marker: Buffer): Promise<BarScan[]> {
  const script = `rmmod ringnet || exit 1; python3 -c "$1" "$2"; rc=$?; bash ${REPO}/scripts/guest/ring-up.sh >&2 || exit 1; exit $rc`;
  const out = await lab.exec(guest, ['sh', '-c', script, 'scan', SCAN_BARS, marker.toString('hex')], { timeoutMs: 180_000 });
  assert.equal(out.code, 0, `${guest}: scanning its BARs failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as BarScan[];
}

/**
 * Sends `marker` from `from` to `to` over ring0 in UDP datagrams (to the discard
 * port: nobody needs to listen), often enough that it sits in the ring's data.
 */
export async function sendMarker(lab: Lab, from: string, toAddr: string, marker: Buffer): Promise<void> {
  await lab.sh(
    from,
    `python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(50):
    s.sendto(bytes.fromhex('${marker.toString('hex')}') * 8, ('${toAddr}', 9))
    time.sleep(0.01)
"`,
  );
}


/**
 * Sends a fresh marker from guest `from` to guest `to` (gN, at 198.51.100.N) over
 * ring0 and scans the BARs of `watcher`: the BARs of it that hold the marker.
 * Fails unless `to` finds it in its own (the control: the marker is there to
 * find) and the watcher's scan covered every device the host gave it.
 */
export async function markerSeen(lab: Lab, from: string, to: string, watcher: string): Promise<BarScan[]> {
  const marker = randomBytes(32);
  await sendMarker(lab, from, `198.51.100.${to.slice(1)}`, marker);
  const scan = await scanBars(lab, watcher, marker);
  // Every ivshmem function the host gave the watcher: its roster, its regions and those it reads, the doorbell device.
  const devices = (await lab.plan()).guests.find((g) => g.name === watcher)?.devices ?? [];
  assert.equal(scan.length, devices.length, `${watcher}'s ivshmem BARs ${JSON.stringify(scan)}, its devices in the plan ${JSON.stringify(devices)}`);
  const received = to === watcher ? scan : await scanBars(lab, to, marker);
  assert.ok(received.some((b) => b.found), `what ${from} sent ${to} is in none of ${to}'s BARs: ${JSON.stringify(received)}`);
  return scan.filter((b) => b.found);
}
