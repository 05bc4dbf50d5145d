#!/usr/bin/env node
// Installs what a fresh machine lacks: Debian packages with apt-get, npm packages
// with `npm ci`. Idempotent, and silent when everything is already there.
// Plain Node on purpose: it runs before `npm ci` has brought zx.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages the build, the lab and the tests use, each with why. */
export const DEBIAN_PACKAGES = {
  clang: 'compiles the BPF programs and the ring harness',
  lld: "wasm-ld, which links the host's formatter (kmod/kvmring_format.c) into WebAssembly for ringctl",
  llvm: 'llvm-strip and llvm-objdump for BPF objects',
  'libbpf-dev': 'libbpf headers for the BPF programs and the binding test',
  libbpf1: 'libbpf.so.1, loaded by ringctl',
  bpftool: 'inspecting programs and maps',
  'libclang-rt-14-dev': 'libFuzzer and the sanitizers for the ring harness',
  gcc: 'builds the kernel modules',
  make: 'kbuild',
  'libc6-dev': 'C headers for the harness and layout checks',
  kmod: 'modprobe/insmod, and module dependency lists for the initramfs',
  'qemu-system-x86': 'runs the lab guests',
  'linux-image-amd64': 'the kernel the lab guests boot',
  'linux-headers-amd64': 'headers to build the modules for that kernel',
  dkms: 'builds the modules from packaging/dkms/dkms.conf, as a KVM host or guest installs them (test/host/dkms)',
  'busybox-static': 'the guests\' initramfs',
  cpio: 'packs the initramfs',
  iperf3: 'throughput tests and benchmarks',
  sockperf: 'TCP request/response latency percentiles in bench:lab (a C tool, so the client adds little of its own under TCG)',
  iproute2: 'ip, bridge and namespaces',
  'iputils-ping': 'ping inside the guests',
  ethtool: 'driver statistics',
  procps: 'ps, sysctl',
  prometheus: 'promtool checks the metrics endpoint',
  systemd: 'systemd-analyze verifies the units in packaging/systemd (test/host/systemd)',
  'libvirt-clients': 'virt-xml-validate checks the libvirt domain XML ringctl writes for a guest',
  'libxml2-utils': 'xmllint, which virt-xml-validate runs',
  'python3-grpcio': 'a second-language gRPC client in the tests',
  'python3-grpc-tools': 'compiles the .proto for that client',
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${r.status}`);
  return r;
}

function missingDebianPackages(names) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...names], { encoding: 'utf8' });
  const installed = new Set(
    (r.stdout ?? '')
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, status]) => status === 'ii')
      .map(([pkg]) => pkg.split(':')[0]),
  );
  return names.filter((n) => !installed.has(n));
}

function ensureDebianPackages() {
  const missing = missingDebianPackages(Object.keys(DEBIAN_PACKAGES));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages: ${missing.join(' ')}\n` +
        `  install them as root: apt-get install -y ${missing.join(' ')}`,
    );
  }
  console.log(`setup: installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { env });
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
  const still = missingDebianPackages(missing);
  if (still.length) throw new Error(`apt-get did not install: ${still.join(' ')}`);
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.kvmring-lock-hash');
  const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return;
  console.log('setup: installing npm packages (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root });
  writeFileSync(stamp, want + '\n');
}

try {
  ensureDebianPackages();
  ensureNodeModules();
} catch (err) {
  console.error(`setup: ${err.message}`);
  process.exit(1);
}
