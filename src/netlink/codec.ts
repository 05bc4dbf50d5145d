// Netlink messages and attributes as bytes: building requests and reading what
// the kernel sends back, for generic netlink (genetlink). Pure functions, no
// sockets (those are in socket.ts), so that the unit tests can feed them bytes.
//
// Everything here is host byte order (little-endian: kvmring runs on x86_64 and
// arm64). Attribute payloads the kernel fills from other guests (MACs,
// addresses) are hostile: decoding checks every length against its buffer and
// never reads past it; a malformed message is an error, never a crash.

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;
export const NLA_HDRLEN = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** On an NLMSG_ERROR: the original message was cut; extended-ack TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** The generic netlink controller ("nlctrl") and the parts of it we use. */
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

/** NLMSGERR_ATTR_MSG: the extended ack's text. */
const NLMSGERR_ATTR_MSG = 1;

export const align4 = (n: number) => (n + 3) & ~3;

export interface Attr {
  type: number;
  nested: boolean;
  data: Buffer;
}

export class NetlinkDecodeError extends Error {
  override name = 'NetlinkDecodeError';
}

// ---- encoding -------------------------------------------------------------

/** One attribute: its header, the payload and padding to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = NLA_HDRLEN + payload.length;
  if (len > 0xffff) throw new RangeError(`attribute ${type}: ${payload.length} bytes do not fit`);
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, NLA_HDRLEN);
  return b;
}

export function attrU32(type: number, v: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32LE(v >>> 0);
  return attr(type, p);
}

/** A NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING alike). */
export function attrString(type: number, s: string): Buffer {
  return attr(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]));
}

export interface GenlRequest {
  family: number;
  cmd: number;
  version: number;
  flags: number;
  seq: number;
  attrs?: readonly Buffer[];
}

/** nlmsghdr + genlmsghdr + attributes. The port id is left 0 (the kernel fills it in). */
export function genlMessage(r: GenlRequest): Buffer {
  const body = Buffer.concat([...(r.attrs ?? [])]);
  const b = Buffer.alloc(NLMSG_HDRLEN + GENL_HDRLEN + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(r.family, 4);
  b.writeUInt16LE(r.flags, 6);
  b.writeUInt32LE(r.seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt8(r.cmd, 16);
  b.writeUInt8(r.version, 17);
  body.copy(b, NLMSG_HDRLEN + GENL_HDRLEN);
  return b;
}

// ---- decoding -------------------------------------------------------------

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the nlmsghdr. */
  payload: Buffer;
}

/** The messages of one datagram. Throws NetlinkDecodeError on a length that does not fit. */
export function parseMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NetlinkDecodeError(`netlink message at ${off}: length ${len} does not fit ${buf.length - off} bytes`);
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** The attributes of a buffer, in order. Throws NetlinkDecodeError on one that does not fit. */
export function parseAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > buf.length) {
      throw new NetlinkDecodeError(`attribute at ${off}: length ${len} does not fit ${buf.length - off} bytes`);
    }
    out.push({ type: type & NLA_TYPE_MASK, nested: (type & NLA_F_NESTED) !== 0, data: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

export interface GenlMessage {
  cmd: number;
  version: number;
  attrs: Attr[];
}

/** A generic netlink message's header and attributes, from an NlMessage payload. */
export function parseGenl(payload: Buffer): GenlMessage {
  if (payload.length < GENL_HDRLEN) throw new NetlinkDecodeError(`generic netlink message of ${payload.length} bytes`);
  return { cmd: payload.readUInt8(0), version: payload.readUInt8(1), attrs: parseAttrs(payload.subarray(GENL_HDRLEN)) };
}

/** An NLMSG_ERROR's errno (positive; 0 is an ack) and its extended-ack message, if any. */
export function parseError(m: NlMessage): { errno: number; message?: string } {
  if (m.payload.length < 4) throw new NetlinkDecodeError('NLMSG_ERROR without an error code');
  const errno = -m.payload.readInt32LE(0) || 0;
  let message: string | undefined;
  if (m.flags & NLM_F_ACK_TLVS && m.payload.length >= 4 + NLMSG_HDRLEN) {
    // The request's header follows, and its payload too unless capped.
    const inner = m.payload.readUInt32LE(4);
    const skip = 4 + (m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(inner));
    try {
      const msg = parseAttrs(m.payload.subarray(skip)).find((a) => a.type === NLMSGERR_ATTR_MSG);
      if (msg) message = asString(msg.data);
    } catch {
      message = undefined;
    }
  }
  return { errno, message };
}

/** An NLMSG_DONE's status: 0, or the positive errno a dump ended with. */
export function parseDone(m: NlMessage): number {
  return m.payload.length >= 4 ? -m.payload.readInt32LE(0) || 0 : 0;
}

// ---- attribute values -----------------------------------------------------

export function asU32(a: Attr): number {
  if (a.data.length !== 4) throw new NetlinkDecodeError(`attribute ${a.type}: ${a.data.length} bytes for a u32`);
  return a.data.readUInt32LE(0);
}

export function asU64(a: Attr): bigint {
  if (a.data.length !== 8) throw new NetlinkDecodeError(`attribute ${a.type}: ${a.data.length} bytes for a u64`);
  return a.data.readBigUInt64LE(0);
}

/** Up to the first NUL. */
export function asString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** The first attribute of each type, and every one of each type (multi-attr). */
export function byType(attrs: readonly Attr[]): { one: Map<number, Attr>; all: Map<number, Attr[]> } {
  const one = new Map<number, Attr>();
  const all = new Map<number, Attr[]>();
  for (const a of attrs) {
    if (!one.has(a.type)) one.set(a.type, a);
    let l = all.get(a.type);
    if (!l) all.set(a.type, (l = []));
    l.push(a);
  }
  return { one, all };
}

// ---- the controller -------------------------------------------------------

export interface GenlFamily {
  name: string;
  id: number;
  version: number;
  /** Multicast group name -> id. */
  groups: Map<string, number>;
}

/** CTRL_CMD_GETFAMILY for `name`. */
export function getFamilyRequest(name: string, seq: number): Buffer {
  return genlMessage({
    family: GENL_ID_CTRL,
    cmd: CTRL_CMD_GETFAMILY,
    version: 1,
    flags: NLM_F_REQUEST | NLM_F_ACK,
    seq,
    attrs: [attrString(CTRL_ATTR_FAMILY_NAME, name)],
  });
}

/** The controller's answer about a family. */
export function parseFamily(g: GenlMessage): GenlFamily {
  const { one } = byType(g.attrs);
  const id = one.get(CTRL_ATTR_FAMILY_ID);
  const name = one.get(CTRL_ATTR_FAMILY_NAME);
  if (!id || !name) throw new NetlinkDecodeError('controller reply without a family id or name');
  const version = one.get(CTRL_ATTR_VERSION);
  const groups = new Map<string, number>();
  const list = one.get(CTRL_ATTR_MCAST_GROUPS);
  if (list) {
    for (const g1 of parseAttrs(list.data)) {
      const f = byType(parseAttrs(g1.data)).one;
      const n = f.get(CTRL_ATTR_MCAST_GRP_NAME);
      const i = f.get(CTRL_ATTR_MCAST_GRP_ID);
      if (n && i) groups.set(asString(n.data), asU32(i));
    }
  }
  return { name: asString(name.data), id: id.data.length >= 2 ? id.data.readUInt16LE(0) : 0, version: version ? asU32(version) : 0, groups };
}
