import { h } from './dom.js';

interface Uptime {
  uptimeSeconds: number;
  startedAt?: string;
  producer?: string;
}

function isUptime(data: unknown): data is Uptime {
  return typeof data === 'object' && data !== null && typeof (data as Uptime).uptimeSeconds === 'number';
}

/** "3d 04:05:06" / "04:05:06". */
export function formatUptime(total: number): string {
  const s = Math.max(0, Math.floor(total));
  const days = Math.floor(s / 86_400);
  const hms = [Math.floor((s % 86_400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, '0')).join(':');
  return days > 0 ? `${days}d ${hms}` : hms;
}

/** The producer's uptime counter, from the `uptime` channel. */
export class UptimeView {
  readonly el: HTMLElement;
  private readonly value: HTMLElement;
  private readonly producer: HTMLElement;

  constructor() {
    this.value = h('span', { class: 'uptime-value', 'data-testid': 'uptime-value' }, '--:--:--');
    this.producer = h('span', { class: 'uptime-producer' });
    this.el = h('div', { class: 'uptime', 'data-testid': 'uptime', title: 'Producer uptime' }, h('span', { class: 'label' }, 'uptime'), this.value, this.producer);
  }

  update(data: unknown): void {
    if (!isUptime(data)) return;
    this.value.textContent = formatUptime(data.uptimeSeconds);
    this.el.dataset['seconds'] = String(data.uptimeSeconds);
    this.producer.textContent = data.producer ?? '';
    if (data.startedAt !== undefined) this.el.title = `Producer ${data.producer ?? ''} up since ${new Date(data.startedAt).toLocaleString()}`;
  }
}
