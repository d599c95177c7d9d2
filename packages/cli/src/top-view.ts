import { formatDuration } from './describe.js';
import { renderTable, type Cell } from './table.js';
import type { Style } from './terminal.js';

/** One row of the gateway's `GET /v1/connections` (SPEC §11). */
export interface ConnectionInfo {
  id: string;
  remote: string;
  sub: string | null;
  transport: 'ws' | 'sse';
  /** ms since the Unix epoch (what the gateway sends), or an ISO 8601 string. */
  connectedAt: number | string;
  queueBytes: number;
  state: 'live' | 'catching_up' | 'paused';
  channels: { channel: string; offset: number; lag: number }[];
}

/** One row of `GET /v1/channels` (SPEC §11). */
export interface ChannelInfo {
  channel: string;
  subscribers: number;
  nodes: Record<string, number>;
}

export type SortKey = 'queue' | 'lag' | 'age';
export const SORT_KEYS: readonly SortKey[] = ['queue', 'lag', 'age'];

export interface TopSnapshot {
  connections: ConnectionInfo[];
  channels: ChannelInfo[];
  /** When it was fetched (ms). */
  at: number;
}

export interface TopViewOptions {
  admin: string;
  sort: SortKey;
  width: number;
  height: number;
  paint: (text: string, ...styles: Style[]) => string;
  now: number;
  /** The last fetch failed: shown above the (older) data. */
  error?: string | undefined;
  /** Interactive: the key help is shown. */
  keys: boolean;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const STATE_STYLE: Readonly<Record<string, Style[]>> = { live: ['green'], catching_up: ['yellow'], paused: ['red'] };

function connectionRows(list: readonly ConnectionInfo[], now: number): Cell[][] {
  return list.map((c) => {
    const lag = c.channels.reduce((m, ch) => Math.max(m, ch.lag), 0);
    const age = now - (typeof c.connectedAt === 'number' ? c.connectedAt : Date.parse(c.connectedAt));
    return [
      { text: c.id },
      { text: c.sub ?? '-', style: c.sub === null ? ['dim'] : [] },
      { text: c.remote },
      { text: c.transport },
      { text: Number.isFinite(age) ? formatDuration(Math.max(0, age)) : '?', right: true },
      { text: formatBytes(c.queueBytes), right: true, style: c.queueBytes > 0 ? ['yellow'] : [] },
      { text: c.state, style: STATE_STYLE[c.state] ?? [] },
      { text: String(lag), right: true, style: lag > 0 ? ['yellow'] : [] },
      { text: c.channels.map((ch) => (ch.lag > 0 ? `${ch.channel}(-${ch.lag})` : ch.channel)).join(' ') },
    ];
  });
}

function channelRows(list: readonly ChannelInfo[]): Cell[][] {
  return list.map((c) => [
    { text: c.channel, style: ['bold'] },
    { text: String(c.subscribers), right: true },
    {
      text: Object.entries(c.nodes)
        .sort((a, b) => b[1] - a[1])
        .map(([node, n]) => `${node}:${n}`)
        .join(' '),
    },
  ]);
}

/**
 * The whole `top` screen as lines no wider than `width`, at most `height` of them: a header, the
 * slowest connections (this gateway), the busiest channels (cluster-wide).
 */
export function renderTop(snapshot: TopSnapshot | undefined, o: TopViewOptions): string[] {
  const clock = new Date(snapshot?.at ?? o.now).toISOString().slice(11, 19);
  const keys = o.keys ? `   ${o.paint('s', 'bold')} sort  ${o.paint('q', 'bold')} quit` : '';
  const lines: string[] = [`${o.paint('megaphone top', 'bold')}  ${o.admin}  ${clock}  sort: ${o.sort}${keys}`];
  if (o.error !== undefined) lines.push(...wrap(o.error, o.width).map((l) => o.paint(l, 'red')));
  if (snapshot === undefined) return lines.map((l) => clip(l, o.width)).slice(0, o.height);
  const room = Math.max(0, o.height - lines.length - 5);
  const channelRoom = Math.min(snapshot.channels.length, Math.max(3, Math.floor(room / 3)));
  const connectionRoom = Math.max(1, room - channelRoom);
  lines.push('', o.paint(`connections on this gateway (${snapshot.connections.length} shown, worst first by ${o.sort})`, 'dim'));
  const conn = snapshot.connections.slice(0, connectionRoom);
  lines.push(...renderTable(['ID', 'SUB', 'REMOTE', 'VIA', 'AGE', 'QUEUE', 'STATE', 'LAG', 'CHANNELS'], connectionRows(conn, o.now), o.paint, o.width));
  if (snapshot.connections.length === 0) lines.push(o.paint('  (none)', 'dim'));
  lines.push('', o.paint('busiest channels (cluster-wide)', 'dim'));
  lines.push(...renderTable(['CHANNEL', 'SUBSCRIBERS', 'NODES'], channelRows(snapshot.channels.slice(0, channelRoom)), o.paint, o.width));
  if (snapshot.channels.length === 0) lines.push(o.paint('  (none)', 'dim'));
  return lines.slice(0, o.height).map((l) => clip(l, o.width));
}

/** Breaks text into lines of at most `width` columns, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if ([...candidate].length <= width) {
      line = candidate;
      continue;
    }
    if (line !== '') out.push(line);
    line = word;
    while ([...line].length > width) {
      out.push([...line].slice(0, width).join(''));
      line = [...line].slice(width).join('');
    }
  }
  if (line !== '') out.push(line);
  return out;
}

/** Cuts a line to `width` visible columns, keeping escape sequences intact. */
export function clip(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; ) {
    if (line[i] === '\u001b') {
      const m = /^\u001b\[[0-9;]*m/.exec(line.slice(i));
      if (m !== null) {
        out += m[0];
        i += m[0].length;
        continue;
      }
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    if (visible >= width) break;
    out += ch;
    visible++;
    i += ch.length;
  }
  return visible >= width && out.includes('\u001b[') ? `${out}\u001b[0m` : out;
}
