// The lab's exec protocol, spoken over a guest's virtio-serial port (guest agent <->
// host supervisor) and over the supervisor's UNIX sockets (supervisor <-> `lab exec`).
// Plain Node, no dependencies: the guest agent imports it from the 9p root.
//
// A frame is a 9-byte header, then the payload:
//   u32 BE payload length | u32 BE channel | u8 type
// Channel 0 is the link itself (PING/PONG); every exec has a channel of its own, so
// many commands run at once over one port, their bytes passed through untouched.

export const FRAME = Object.freeze({
  EXEC: 1, //      -> guest: JSON { argv, cwd, env, stdin }
  STDIN: 2, //     -> guest: bytes
  STDIN_EOF: 3, // -> guest
  STDOUT: 4, //    <- guest: bytes
  STDERR: 5, //    <- guest: bytes
  EXIT: 6, //      <- guest: JSON { code, signal }
  ERROR: 7, //     <- guest or supervisor: JSON { message }
  KILL: 8, //      -> guest: JSON { signal }
  PING: 9, //      -> guest: JSON { nonce }
  PONG: 10, //     <- guest: JSON { nonce, hostname, kernel, uptime }
});

export const HEADER_SIZE = 9;
export const MAX_PAYLOAD = 1 << 20;

/** One frame as bytes; `payload` is a Buffer, a string or an object sent as JSON. */
export function encodeFrame(type, channel, payload = Buffer.alloc(0)) {
  const body = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  if (body.length > MAX_PAYLOAD) throw new Error(`frame payload of ${body.length} bytes exceeds ${MAX_PAYLOAD}`);
  const head = Buffer.alloc(HEADER_SIZE);
  head.writeUInt32BE(body.length, 0);
  head.writeUInt32BE(channel >>> 0, 4);
  head.writeUInt8(type, 8);
  return Buffer.concat([head, body]);
}

/** Splits payloads larger than a frame allows into several frames of one type. */
export function encodeData(type, channel, data) {
  if (data.length <= MAX_PAYLOAD) return encodeFrame(type, channel, data);
  const parts = [];
  for (let off = 0; off < data.length; off += MAX_PAYLOAD) {
    parts.push(encodeFrame(type, channel, data.subarray(off, off + MAX_PAYLOAD)));
  }
  return Buffer.concat(parts);
}

/**
 * Feeds a byte stream in, calls onFrame({ type, channel, payload }) per whole frame.
 * A length beyond MAX_PAYLOAD means the stream lost sync: onError is called once and
 * the rest is dropped.
 */
export class FrameDecoder {
  #buf = Buffer.alloc(0);
  #broken = false;

  constructor(onFrame, onError = (err) => { throw err; }) {
    this.onFrame = onFrame;
    this.onError = onError;
  }

  push(chunk) {
    if (this.#broken) return;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    while (this.#buf.length >= HEADER_SIZE) {
      const len = this.#buf.readUInt32BE(0);
      if (len > MAX_PAYLOAD) {
        this.#broken = true;
        this.onError(new Error(`frame length ${len} exceeds ${MAX_PAYLOAD}: stream out of sync`));
        return;
      }
      if (this.#buf.length < HEADER_SIZE + len) break;
      const frame = {
        channel: this.#buf.readUInt32BE(4),
        type: this.#buf.readUInt8(8),
        payload: this.#buf.subarray(HEADER_SIZE, HEADER_SIZE + len),
      };
      this.#buf = this.#buf.subarray(HEADER_SIZE + len);
      this.onFrame(frame);
    }
  }
}

export function jsonOf(frame) {
  return JSON.parse(frame.payload.toString('utf8'));
}
