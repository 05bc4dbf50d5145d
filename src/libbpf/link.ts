// BPF links by fd: created with bpf_link_create (e.g. XDP with mode flags),
// pinned, opened from a pin, detached. A link keeps its program attached while
// any fd or pin refers to it; detach() cuts it loose even then.
import koffi from 'koffi';

import { callInt } from './call.js';
import { closeFd, linkFdById, linkInfoByFd, objGet, objPin, unpin, type LinkInfo } from './info.js';
import { native } from './native.js';
import { BPF_XDP, bpf_link_create_opts } from './types.js';

export class BpfLink implements Disposable {
  #fd: number;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** bpf_link_create(): attach `progFd` to `targetFd` (an ifindex for XDP). */
  static create(progFd: number, targetFd: number, attachType: number, flags = 0, what = `link type ${attachType}`): BpfLink {
    const opts = { sz: koffi.sizeof(bpf_link_create_opts), flags };
    return new BpfLink(callInt(`bpf_link_create(${what})`, () => native().bpf_link_create(progFd, targetFd, attachType, opts)));
  }

  /** An XDP link on `ifindex`; `flags` picks the mode (XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE). */
  static attachXdp(progFd: number, ifindex: number, flags = 0): BpfLink {
    return BpfLink.create(progFd, ifindex, BPF_XDP, flags, `xdp, ifindex ${ifindex}`);
  }

  /** Opens a pinned link. */
  static openPinned(path: string): BpfLink {
    return new BpfLink(objGet(path));
  }

  static fromId(id: number): BpfLink {
    return new BpfLink(linkFdById(id));
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error('BPF link is closed');
    return this.#fd;
  }

  info(): LinkInfo {
    return linkInfoByFd(this.fd);
  }

  pin(path: string): void {
    objPin(this.fd, path);
  }

  /** Removes the pin at `path` (the link stays while this fd is open). */
  static unpin(path: string): void {
    unpin(path);
  }

  /** Detaches the program now, whoever else holds the link (bpf_link_detach). */
  detach(): void {
    callInt(`bpf_link_detach(link ${this.#fd})`, () => native().bpf_link_detach(this.fd));
  }

  /** Drops our fd; the attachment stays if the link is pinned. */
  close(): void {
    closeFd(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
