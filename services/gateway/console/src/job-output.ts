import type { GapEvent, MegaphoneClient, MessageMeta } from '@megaphone/client';
import { h, replaceChildren } from './dom.js';
import { subscribeWithHistory } from './history-fallback.js';
import { formatDuration, isLifecycleEvent } from './jobs.js';
import { Terminal, type TerminalLine } from './terminal.js';
import { WatchingView } from './watching.js';

/** Publications kept by the gateway are replayed on open, so a late reader sees recent output. */
const HISTORY = 1000;

interface OutputChunk {
  run: string;
  stream: 'stdout' | 'stderr';
  lines: string[];
  truncated?: boolean;
}

function isOutputChunk(data: unknown): data is OutputChunk {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Partial<OutputChunk>;
  return (d.stream === 'stdout' || d.stream === 'stderr') && Array.isArray(d.lines);
}

/** The selected job's output (`cmd:<job>`) in a terminal view. */
export class JobOutput {
  readonly el: HTMLElement;
  readonly terminal = new Terminal();
  private readonly title: HTMLElement;
  private readonly watching: WatchingView;
  private unsubscribe: (() => void) | undefined;
  private job: string | undefined;
  /** The gateway refused the selected job's channel (not covered by the token, or no token). */
  private denied = false;

  constructor(private readonly client: MegaphoneClient) {
    this.title = h('h2', { class: 'output-title', 'data-testid': 'output-title' }, 'Select a job');
    this.watching = new WatchingView(client);
    this.el = h('section', { class: 'output', 'aria-label': 'Job output' }, h('header', { class: 'output-header' }, this.title, this.watching.el), this.terminal.el);
  }

  get selected(): string | undefined {
    return this.job;
  }

  show(job: string): void {
    if (job === this.job) return;
    this.unsubscribe?.();
    this.job = job;
    this.denied = false;
    this.terminal.clear();
    const channel = `cmd:${job}`;
    const data = this.terminal.el.dataset;
    data['channel'] = channel;
    delete data['access'];
    delete data['epoch'];
    delete data['lastOffset'];
    data['gaps'] = '0';
    replaceChildren(this.title, h('span', { class: 'prompt' }, '$ '), job);
    this.watching.show(channel);
    this.unsubscribe = subscribeWithHistory(this.client, channel, HISTORY, {
      onMessage: (d, meta) => this.onMessage(d, meta),
      onGap: (gap) => this.onGap(gap),
      onSubscribed: (info) => {
        data['epoch'] = info.epoch;
      },
      onError: (err) => {
        if (err.code === 'forbidden' || err.code === 'unauthorized') this.deny(channel);
        else this.terminal.write([{ kind: 'gap', text: `⚠ cannot subscribe to ${channel}: ${err.message}` }]);
      },
      onUnsubscribed: (reason) => {
        if (reason === 'forbidden') this.deny(channel);
      },
    });
  }

  /** Subscribes again if the channel was refused (a new token may cover it now). */
  retry(): void {
    const job = this.job;
    if (!this.denied || job === undefined) return;
    this.job = undefined;
    this.show(job);
  }

  private deny(channel: string): void {
    this.denied = true;
    this.terminal.el.dataset['access'] = 'denied';
    this.terminal.write([{ kind: 'gap', text: `⛔ not allowed: your token does not let you read ${channel}` }]);
  }

  private onMessage(d: unknown, meta: MessageMeta): void {
    const data = this.terminal.el.dataset;
    data['lastOffset'] = String(meta.offset);
    data['epoch'] = meta.epoch;
    if (isOutputChunk(d)) {
      const lines: TerminalLine[] = d.lines.map((text) => ({ kind: d.stream, text: String(text), offset: meta.offset, source: d.run }));
      if (d.truncated === true && lines.length > 0) lines[lines.length - 1] = { ...lines[lines.length - 1]!, truncated: true };
      this.terminal.write(lines);
    } else if (isLifecycleEvent(d)) {
      this.terminal.write([{ kind: 'meta', text: describeLifecycle(d), offset: meta.offset }]);
    }
  }

  private onGap(gap: GapEvent): void {
    const data = this.terminal.el.dataset;
    data['gaps'] = String(Number(data['gaps'] ?? '0') + 1);
    data['epoch'] = gap.epoch;
    data['lastOffset'] = String(gap.to);
    this.terminal.write([{ kind: 'gap', text: describeGap(gap), offset: gap.to }]);
  }
}

function describeLifecycle(d: Record<string, unknown>): string {
  const run = typeof d['run'] === 'string' ? d['run'] : '?';
  if (d['event'] === 'started') {
    const trigger = typeof d['trigger'] === 'string' ? ` (${d['trigger']})` : '';
    return `▶ run ${run} started${trigger}`;
  }
  const parts: string[] = [`■ run ${run}`];
  if (typeof d['error'] === 'string') parts.push(`failed to start: ${d['error']}`);
  else if (d['outcome'] === 'lost') parts.push(`lost with its producer${typeof d['producer'] === 'string' ? ` ${d['producer']}` : ''}`);
  else if (d['timedOut'] === true) parts.push('timed out');
  else if (typeof d['signal'] === 'string') parts.push(`killed by ${d['signal']}`);
  else parts.push(`exited with code ${typeof d['code'] === 'number' ? d['code'] : '?'}`);
  if (typeof d['durationMs'] === 'number') parts.push(`after ${formatDuration(d['durationMs'])}`);
  return parts.join(' ');
}

function describeGap(gap: GapEvent): string {
  if (gap.kind === 'reset') {
    return gap.reason === 'epoch_changed'
      ? '⚠ the channel was reset: earlier output is gone, continuing with new output'
      : '⚠ output published while disconnected is no longer in history: some lines were missed';
  }
  const from = gap.from !== undefined && gap.from.epoch === gap.epoch ? gap.from.offset : undefined;
  const count = from === undefined ? '' : `${gap.to - from} publication${gap.to - from === 1 ? '' : 's'} `;
  return gap.kind === 'lost'
    ? `⚠ ${count}lost (${gap.reason.replace('_', ' ')})`
    : `⚠ ${count}missing (unexpected offset)`;
}
