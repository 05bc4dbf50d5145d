import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RingctlError } from '../../src/common/errors.js';
import type { DoorbellConfig } from '../../src/host/doorbell.js';
import { checkGroups, groupsProblem, mayTalkInGroups, type Group } from '../../src/host/groups.js';
import { parseHostSpec, planGroups, planHost } from '../../src/host/isolation.js';
import { serverConfig } from '../../src/host/process.js';
import { guestSocket, hostPaths, readState, StateError, type HostPaths, type HostState } from '../../src/host/state.js';
import { requireTier } from '../helpers/tier.js';

const GROUPS: Group[] = [
  { name: 'a', guests: ['g1', 'g2'] },
  { name: 'b', guests: ['g2', 'g3'] },
];

describe('host: the doorbell server configuration and groups', () => {
  let runDir: string;
  let paths: HostPaths;

  before(function () {
    requireTier(this, 'unit');
    runDir = mkdtempSync(join(tmpdir(), 'host-doorbell-config-'));
    paths = hostPaths(runDir, 'db');
    mkdirSync(paths.dir);
  });

  after(() => {
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  /** A doorbell-mode state as `host up --doorbell --guests 3 --group a=g1,g2 --group b=g2,g3 --vectors 2` writes it. */
  const v2 = (o: { doorbell?: boolean } = {}): HostState => {
    let n = 0n;
    const doorbell = o.doorbell ?? true;
    const { spec } = parseHostSpec({ name: 'db', guests: '3', group: ['a=g1,g2', 'b=g2,g3'], doorbell, ...(doorbell ? { vectors: '2' } : {}) });
    const plan = planHost(spec, () => ++n);
    return {
      version: 2,
      name: 'db',
      phase: 'up',
      dir: '/dev/shm',
      createdAt: '2026-01-01T00:00:00.000Z',
      plan,
      ...(doorbell
        ? { doorbell: { log: paths.log, pid: 4242, guests: plan.guests.map((g) => ({ name: g.name, socket: guestSocket(paths, g.name) })), groups: planGroups(plan) } }
        : {}),
    };
  };
  const roundTrip = (s: unknown) => {
    writeFileSync(paths.state, JSON.stringify(s));
    return readState(paths);
  };

  it('lets guests that share a group talk, both ways, and no others', () => {
    const may = mayTalkInGroups(GROUPS);
    const pairs = (['g1', 'g2', 'g3'] as const).flatMap((a) => (['g1', 'g2', 'g3'] as const).filter((b) => a !== b && may(a, b)).map((b) => `${a}-${b}`));
    assert.deepEqual(pairs, ['g1-g2', 'g2-g1', 'g2-g3', 'g3-g2']);
    assert.equal(mayTalkInGroups([])('g1', 'g2'), false, 'no groups: nobody');
  });

  it('names what is wrong with groups', () => {
    const guests = ['g1', 'g2', 'g3'];
    assert.equal(groupsProblem(guests, GROUPS), undefined);
    assert.equal(groupsProblem(guests, [{ name: 'a', guests: ['g1', 'g4'] }]), 'group a names "g4", which is not a guest (guests: g1, g2, g3)');
    assert.equal(groupsProblem(guests, [GROUPS[0], GROUPS[0]]), 'group a is defined twice');
    assert.equal(groupsProblem(guests, [{ name: 'a', guests: ['g1', 'g1'] }]), 'group a names g1 twice');
    assert.match(groupsProblem(guests, [{ name: 'x/y', guests: [] }]) ?? '', /^group name "x\/y" is not 1 to 31 letters/);
    assert.throws(() => checkGroups(guests, [{ name: 'a', guests: ['g9'] }]), (e) => e instanceof RingctlError && /not a guest/.test(e.message));
  });

  it('serves a state with guests on their own sockets, doorbells within its groups', () => {
    const onIds = () => {};
    const c: DoorbellConfig = serverConfig(roundTrip(v2())!, paths, () => {}, onIds);
    assert.deepEqual(v2().doorbell?.groups, GROUPS, 'the groups of the plan, as the server takes them');
    assert.deepEqual(c.guests, [
      { name: 'g1', socket: join(paths.dir, 'doorbell-g1.sock') },
      { name: 'g2', socket: join(paths.dir, 'doorbell-g2.sock') },
      { name: 'g3', socket: join(paths.dir, 'doorbell-g3.sock') },
    ]);
    assert.deepEqual([c.mayTalk('g1', 'g2'), c.mayTalk('g2', 'g3'), c.mayTalk('g1', 'g3'), c.mayTalk('g3', 'g1')], [true, true, false, false]);
    assert.equal(c.onIds, onIds);
    assert.equal(c.vectors, 2);
    assert.equal(c.statusFile, paths.doorbell);
  });

  it('refuses to serve a setup that is not in doorbell mode', () => {
    const s = v2({ doorbell: false });
    assert.ok(roundTrip(s), 'a plain-mode state reads');
    assert.throws(() => serverConfig(s, paths, () => {}), /^RingctlError: kvmring db is not in doorbell mode$/);
  });

  it('takes no state whose guests or groups do not add up', () => {
    const damaged: [string, (s: HostState) => void][] = [
      ['guests without groups', (s) => delete (s.doorbell as Partial<NonNullable<HostState['doorbell']>>).groups],
      ['groups without guests', (s) => delete (s.doorbell as Partial<NonNullable<HostState['doorbell']>>).guests],
      ['no guests', (s) => (s.doorbell!.guests = [])],
      ['more guests than the plan', (s) => s.doorbell!.guests.push({ name: 'g4', socket: '/run/g4.sock' })],
      ['a guest twice', (s) => (s.doorbell!.guests[2].name = 'g1')],
      ['two guests on one socket', (s) => (s.doorbell!.guests[2].socket = s.doorbell!.guests[1].socket)],
      ['a relative socket', (s) => (s.doorbell!.guests[0].socket = 'doorbell-g1.sock')],
      ['a guest name with a slash', (s) => (s.doorbell!.guests[0].name = '../g1')],
      ['a group of a stranger', (s) => s.doorbell!.groups.push({ name: 'c', guests: ['g9'] })],
      ['a group that is not a list', (s) => ((s.doorbell!.groups[0] as unknown as { guests: string }).guests = 'g1,g2')],
      ['a state of ABI v1', (s) => ((s as unknown as { version: number }).version = 1)],
      ['no plan', (s) => delete (s as Partial<HostState>).plan],
      ['a plan of another setup', (s) => (s.plan.name = 'other')],
      ['a region file that is a path', (s) => (s.plan.regions[0].file = '../../etc/passwd')],
      ['a roster file in another directory', (s) => (s.plan.guests[0].roster = 'kvmring-db+g1/../../x.roster')],
      ['a device of a region that is not there', (s) => (s.plan.guests[0].devices[1] = { ...s.plan.guests[0].devices[1], region: 99 } as never)],
      ['an isolation level of no one', (s) => ((s.plan as unknown as { isolation: string }).isolation = 'none')],
      ['a reader beyond the guests', (s) => (s.plan.regions[0].readers = 1 << 5)],
      ['a relative directory', (s) => (s.dir = 'dev/shm')],
      ['a doorbell in plain mode', (s) => (s.plan.mode = 'plain')],
    ];
    assert.ok(roundTrip(v2()), 'the undamaged state reads');
    for (const [what, damage] of damaged) {
      const s = v2();
      damage(s);
      assert.throws(() => roundTrip(s), StateError, what);
    }
  });
});
