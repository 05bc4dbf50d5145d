// Native XDP on ring0: each verdict of test/fixtures/bpf/xdp_verdict.bpf.c attached
// to g2's ring0 in turn, with g1 sending to it over the ring.
import assert from 'node:assert/strict';

import { type Lab, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { XDP_VERDICT_OBJ, redirectTo, vethPair } from '../helpers/xdp-verdict.js';

const OBJ = `${REPO}/${XDP_VERDICT_OBJ}`;
const PIN = '/sys/fs/bpf/xdp_verdict';

describe('ring0 native XDP (3 guests)', function () {
  this.timeout(180_000);
  let lab: Lab;

  const stat = async (g: string, name: string) => (await lab.ethtoolStats(g)).get(name) ?? 0;
  const attach = (prog: string) => lab.sh('g2', `ip link set dev ring0 xdpdrv pinned ${PIN}/progs/${prog}`);
  const detach = () => lab.sh('g2', 'ip link set dev ring0 xdpdrv off');
  /** g1's ring0 rx packets from g2, whatever slot g2 has. */
  const g1RxFromG2 = async () => {
    const peer = (await lab.ringPeers('g1')).find((p) => p.ipv4.startsWith('198.51.100.2,'));
    assert.ok(peer, 'g1 does not know g2');
    return stat('g1', `r0_peer${peer.slot}_rx_packets`);
  };

  before(async function () {
    requireTier(this, 'lab');
    lab = await labFixture.get({ guests: 3 });
    await lab.sh('g2', `rm -rf ${PIN} && mkdir -p ${PIN} && bpftool prog loadall ${OBJ} ${PIN}/progs pinmaps ${PIN}/maps`);
    // g1 needs no ARP while g2 reflects or drops everything.
    const g2 = (await lab.ringPeers('g1')).find((p) => p.ipv4.startsWith('198.51.100.2,'));
    assert.ok(g2);
    await lab.sh('g1', `ip neigh replace 198.51.100.2 lladdr ${g2.mac} dev ring0 nud permanent`);
  });

  after(async () => {
    if (!lab) return;
    await lab.exec('g2', ['ip', 'link', 'set', 'dev', 'ring0', 'xdpdrv', 'off']);
    await lab.exec('g2', ['sh', '-c', `ip link del vr0; rm -rf ${PIN}`]);
    await lab.exec('g1', ['ip', 'neigh', 'del', '198.51.100.2', 'dev', 'ring0']);
  });

  it('passes frames up the stack on XDP_PASS', async () => {
    const before = await stat('g2', 'r0_xdp_pass');
    await attach('xdp_pass');
    assert.match(await lab.sh('g1', 'ping -c 3 -i 0.2 -W 3 198.51.100.2'), / 0% packet loss/);
    assert.ok((await stat('g2', 'r0_xdp_pass')) - before >= 3);
    await detach();
  });

  it('drops frames on XDP_DROP, and counts them', async () => {
    const before = await stat('g2', 'r0_xdp_drop');
    await attach('xdp_drop');
    const r = await lab.exec('g1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', '198.51.100.2']);
    assert.equal(r.code, 1, 'pings got through an XDP program that drops everything');
    assert.ok((await stat('g2', 'r0_xdp_drop')) - before >= 3);
    await detach();
  });

  it('sends frames back to the peer they came from on XDP_TX', async () => {
    const before = { tx: await stat('g2', 'r0_xdp_tx'), back: await g1RxFromG2() };
    await attach('xdp_tx');
    await lab.exec('g1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', '198.51.100.2']);
    assert.ok((await stat('g2', 'r0_xdp_tx')) - before.tx >= 3);
    assert.ok((await g1RxFromG2()) - before.back >= 3, 'g1 did not get its reflected frames back from g2');
    await detach();
  });

  it('redirects frames to another device on XDP_REDIRECT', async () => {
    await vethPair(lab, 'g2');
    // A veth takes redirected frames when its peer runs XDP.
    await lab.sh('g2', `ip link set dev vr1 xdpdrv pinned ${PIN}/progs/xdp_pass`);
    await redirectTo(lab, 'g2', PIN, 'vr0');
    const before = { redirect: await stat('g2', 'r0_xdp_redirect'), vr1: await lab.netStat('g2', 'vr1', 'rx_packets') };
    await attach('xdp_redirect');
    await lab.exec('g1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', '198.51.100.2']);
    assert.ok((await stat('g2', 'r0_xdp_redirect')) - before.redirect >= 3);
    assert.ok((await lab.netStat('g2', 'vr1', 'rx_packets')) - before.vr1 >= 3, 'nothing arrived at the veth');
    await detach();
  });

  it('refuses a program while the MTU is too large for one page, saying why', async () => {
    await lab.sh('g2', 'ip link set dev ring0 mtu 9000');
    const r = await lab.exec('g2', ['ip', 'link', 'set', 'dev', 'ring0', 'xdpdrv', 'pinned', `${PIN}/progs/xdp_pass`]);
    await lab.sh('g2', 'ip link set dev ring0 mtu 1500');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /MTU too large for XDP/);
  });

  describe('afterwards', () => {
    it('still carries traffic with no program attached, and the kernel logs are clean', async () => {
      assert.match(await lab.sh('g1', 'ping -c 2 -i 0.2 -W 3 198.51.100.2'), / 0% packet loss/);
      await lab.assertKernelLogsClean();
    });

    it('leaves every ring without resets or bad indices', async () => {
      await lab.assertRingsClean();
    });
  });
});
