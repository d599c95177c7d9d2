import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { EnvReader } from '@megaphone/runtime';

/**
 * Which `Host` names a public port answers (SPEC §10 "Host and Origin"). A page on an attacker's
 * domain that rebinds its DNS name to this machine still sends the attacker's name in `Host`, so
 * checking it closes DNS rebinding.
 */
export type HostPolicy = { kind: 'any' } | { kind: 'list'; names: readonly string[] };

/** The loopback names and the machine's own: its hostname and the addresses of its interfaces. */
export function defaultHostNames(): string[] {
  const names = new Set(['localhost', '127.0.0.1', '::1']);
  const own = hostname().toLowerCase();
  if (own !== '') {
    names.add(own);
    // `host.local`-style names resolve to the machine too; the short name is what `hostname` says.
    const short = own.split('.')[0];
    if (short !== undefined && short !== '') names.add(short);
  }
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) names.add(a.address.toLowerCase().split('%')[0]!);
  }
  return [...names];
}

const NAME_RE = /^(?:\*\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;

/**
 * Reads a comma-separated host list (`GATEWAY_ALLOWED_HOSTS`, `PRODUCER_ALLOWED_HOSTS`): names,
 * IP addresses, `*.example.com` for subdomains, or `*` for any (which is a warning). Unset means
 * the defaults; the defaults can be kept and extended with the entry `default`.
 */
export function readAllowedHosts(r: EnvReader, name: string, warnings: string[]): HostPolicy {
  const items = r.list(name);
  if (items === undefined || items.length === 0) return { kind: 'list', names: defaultHostNames() };
  if (items.includes('*')) {
    if (items.length > 1) r.problem(`${name}: "*" cannot be combined with other names`);
    warnings.push(`${name}=* answers requests for any Host name, which lets DNS rebinding reach this port from a browser`);
    return { kind: 'any' };
  }
  const names = new Set<string>();
  for (const raw of items) {
    const item = raw.toLowerCase();
    if (item === 'default') {
      for (const n of defaultHostNames()) names.add(n);
      continue;
    }
    const bare = item.startsWith('[') && item.endsWith(']') ? item.slice(1, -1) : item;
    if (isIP(bare) !== 0) names.add(bare);
    else if (NAME_RE.test(item)) names.add(item.replace(/\.$/, ''));
    else r.problem(`${name}: "${raw}" is not a host name (no scheme or port: example.com, *.example.com, 10.0.0.5, default)`);
  }
  return { kind: 'list', names: [...names] };
}

/** The name of a `Host` header without its port or IPv6 brackets, lower case; undefined if malformed. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(1, end);
  }
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(h);
  return m === null ? undefined : m[1]!.replace(/\.$/, '');
}

export function hostAllowed(policy: HostPolicy, host: string | undefined): boolean {
  if (policy.kind === 'any') return true;
  const name = hostnameOf(host);
  if (name === undefined || name === '') return false;
  for (const allowed of policy.names) {
    if (allowed === name) return true;
    if (allowed.startsWith('*.') && name.endsWith(allowed.slice(1))) return true;
  }
  return false;
}

/**
 * True when `origin` is exactly the origin a page served by this request's host would have:
 * same scheme, host and port (default ports normalised), compared as browsers do.
 */
export function isSameOrigin(origin: string, scheme: 'http' | 'https', host: string | undefined): boolean {
  if (host === undefined) return false;
  let self: string;
  let other: string;
  try {
    self = new URL(`${scheme}://${host}`).origin;
    other = new URL(origin).origin;
  } catch {
    return false;
  }
  return other !== 'null' && other === self;
}
