#!/usr/bin/env node
// Moves bytes over TCP and says what arrived, for lab tests of a link:
//   xfer.mjs recv PORT            prints "<sha256> <bytes>" when the sender closes
//   xfer.mjs send HOST PORT BYTES sends BYTES of random data, prints "<sha256> <bytes>"
// The data is made on the fly, so no file of that size is needed in the guest.
import { createHash, randomFillSync } from 'node:crypto';
import { createConnection, createServer } from 'node:net';

const [verb, ...args] = process.argv.slice(2);
const CHUNK = 1 << 20;

if (verb === 'recv') {
  const server = createServer((sock) => {
    const hash = createHash('sha256');
    let bytes = 0;
    sock.on('data', (b) => {
      hash.update(b);
      bytes += b.length;
    });
    sock.on('end', () => {
      console.log(`${hash.digest('hex')} ${bytes}`);
      server.close();
    });
    sock.on('error', (err) => {
      console.error(`xfer recv: ${err.message} after ${bytes} bytes`);
      process.exit(1);
    });
  });
  server.listen(Number(args[0]), () => console.error(`xfer: listening on ${args[0]}`));
} else if (verb === 'send') {
  const [host, port, total] = [args[0], Number(args[1]), Number(args[2])];
  const hash = createHash('sha256');
  const sock = createConnection({ host, port });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(CHUNK, total - sent);
      const buf = randomFillSync(Buffer.allocUnsafe(n));
      hash.update(buf);
      sent += n;
      if (!sock.write(buf)) return sock.once('drain', pump);
    }
    sock.end(() => console.log(`${hash.digest('hex')} ${sent}`));
  };
  sock.on('connect', pump);
  sock.on('error', (err) => {
    console.error(`xfer send: ${err.message} after ${sent} bytes`);
    process.exit(1);
  });
} else {
  console.error('usage: xfer.mjs recv PORT | xfer.mjs send HOST PORT BYTES');
  process.exit(2);
}
