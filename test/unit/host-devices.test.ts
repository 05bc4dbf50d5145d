import assert from 'node:assert/strict';

import { parseHostSpec, planHost, type HostPlan, type IsolationOptions } from '../../src/host/isolation.js';
import { guestQemuArgs, ivshmemDoorbellArgs, qemuArgs } from '../../src/host/qemu.js';
import { requireTier } from '../helpers/tier.js';

const SOCKET = '/run/kvmring/host/kvmring/doorbell.sock';

function plan(o: IsolationOptions): HostPlan {
  let n = 0n;
  return planHost(parseHostSpec(o).spec, () => ++n);
}

/** Pairs of -object/-device options, each backend's options as a map. */
function backends(args: string[]): { object: Record<string, string>; device: string }[] {
  const out: { object: Record<string, string>; device: string }[] = [];
  for (let i = 0; i < args.length; i += 4) {
    assert.equal(args[i], '-object');
    assert.equal(args[i + 2], '-device');
    const [, ...opts] = args[i + 1].replace(/,,/g, '\0').split(',');
    out.push({ object: Object.fromEntries(opts.map((o) => o.replace(/\0/g, ',').split('=') as [string, string])), device: args[i + 3] });
  }
  return out;
}

describe('host: a v2 guest\'s QEMU options', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  describe('QEMU options', () => {
    it('maps the roster read-only, the guest\'s own region read-write and the others read-only, each at its slot', () => {
      const p = plan({ guests: '3' });
      const b = backends(guestQemuArgs(p, 1, { dir: '/dev/shm' }));
      assert.deepEqual(
        b.map((x) => [x.object.id, x.object['mem-path'], x.object.size, x.object.readonly, x.device]),
        [
          ['kvmring-roster', '/dev/shm/kvmring-kvmring+g2.roster', '8K', 'on', 'ivshmem-plain,memdev=kvmring-roster,addr=10.0'],
          ['kvmring-r1', '/dev/shm/kvmring-kvmring+g2.owned', '8M', undefined, 'ivshmem-plain,memdev=kvmring-r1,addr=11.0'],
          ['kvmring-r0', '/dev/shm/kvmring-kvmring+g1.owned', '8M', 'on', 'ivshmem-plain,memdev=kvmring-r0,addr=12.0'],
          ['kvmring-r2', '/dev/shm/kvmring-kvmring+g3.owned', '8M', 'on', 'ivshmem-plain,memdev=kvmring-r2,addr=13.0'],
        ],
      );
      assert.ok(b.every((x) => x.object.share === 'on'));
    });

    it('gives every device of a pair-mode guest an id of its own, and the doorbell its slot', () => {
      const p = plan({ guests: '4', isolation: 'pair', doorbell: true, vectors: '3' });
      const args = guestQemuArgs(p, 0, { dir: '/srv/kv', doorbell: SOCKET }, 'ring1');
      const doorbell = args.slice(-4);
      assert.deepEqual(doorbell, ['-chardev', `socket,path=${SOCKET},id=ring1-doorbell`, '-device', 'ivshmem-doorbell,chardev=ring1-doorbell,vectors=3,addr=0f.0']);
      const b = backends(args.slice(0, -4));
      const ids = b.map((x) => x.object.id);
      assert.deepEqual(ids, ['ring1-roster', 'ring1-r0-1', 'ring1-r0-2', 'ring1-r0-3', 'ring1-r1-0', 'ring1-r2-0', 'ring1-r3-0']);
      assert.deepEqual(b.map((x) => x.object.readonly ?? 'off'), ['on', 'off', 'off', 'off', 'on', 'on', 'on']);
      assert.equal(b[1].object['mem-path'], '/srv/kv/kvmring-kvmring+g1+g2.owned');
      assert.throws(() => guestQemuArgs(p, 0, { dir: '/srv/kv' }), /needs the doorbell socket/);
      assert.throws(() => guestQemuArgs(p, 4, { dir: '/srv/kv' }), /no guest in slot 4/);
    });

    it('leaves v1\'s doorbell options as they were', () => {
      assert.deepEqual(qemuArgs({ mode: 'doorbell', path: '', size: 0, vectors: 2, doorbell: { socket: SOCKET, log: '' } }, 'k'), [
        '-chardev',
        `socket,path=${SOCKET},id=k`,
        '-device',
        'ivshmem-doorbell,chardev=k,vectors=2',
      ]);
      assert.equal(ivshmemDoorbellArgs({ id: 'k', socket: '/a,b', vectors: 1 })[1], 'socket,path=/a,,b,id=k');
    });
  });
});
