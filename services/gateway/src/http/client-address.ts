import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, extra] = text.trim().split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const v = isIP(addr);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address: addr, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) as plain IPv4. */
export function normaliseAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/**
 * Where a request comes from (SPEC §10 "Limits per client address"): the socket's peer, or, when
 * that peer is one of `GATEWAY_TRUSTED_PROXIES`, the rightmost `X-Forwarded-For` entry that is not
 * itself a trusted proxy. Entries left of it are whatever the client wrote and are never believed.
 */
export class ClientAddresses {
  private readonly trusted: BlockList | undefined;

  constructor(cidrs: readonly string[]) {
    if (cidrs.length === 0) return;
    this.trusted = new BlockList();
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (c !== undefined) this.trusted.addSubnet(c.address, c.prefix, c.family);
    }
  }

  private isTrusted(address: string): boolean {
    const v = isIP(address);
    return v !== 0 && this.trusted !== undefined && this.trusted.check(address, v === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client's address (normalised); `unknown` when the socket has already gone. */
  of(req: IncomingMessage): string {
    const peer = normaliseAddress(req.socket.remoteAddress ?? 'unknown');
    if (!this.isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    if (header === undefined) return peer;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normaliseAddress(hops[i]!.trim());
      if (isIP(hop) === 0) return peer; // a proxy that writes garbage is not believed at all
      if (!this.isTrusted(hop)) return hop;
    }
    // Every hop is a trusted proxy: the leftmost is as close to the client as we can know.
    return normaliseAddress(hops[0]!.trim());
  }

  /** The scheme the client used: `X-Forwarded-Proto` from a trusted proxy, else the socket's. */
  scheme(req: IncomingMessage): 'http' | 'https' {
    const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
    const peer = normaliseAddress(req.socket.remoteAddress ?? '');
    if (this.isTrusted(peer)) {
      const proto = req.headers['x-forwarded-proto'];
      const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase();
      if (first === 'https' || first === 'http') return first;
    }
    return encrypted ? 'https' : 'http';
  }
}

/**
 * The key per-address limits count under: an IPv4 address, or an IPv6 address's /64 (one
 * subscriber is routinely given a whole /64, so single IPv6 addresses would be free to rotate).
 */
export function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
