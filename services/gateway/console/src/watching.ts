import type { MegaphoneClient } from '@megaphone/client';
import { h } from './dom.js';

/** How often the count is asked for: the gateways' own reporting interval (PRESENCE_INTERVAL_MS default). */
const REFRESH_MS = 2000;

/**
 * "N watching": how many subscribers the selected job's channel has across the cluster (this tab
 * included), from the `presence` command, refreshed while connected.
 */
export class WatchingView {
  readonly el: HTMLElement;
  private channel: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly client: MegaphoneClient) {
    this.el = h('span', { class: 'watching', 'data-testid': 'watching', hidden: '' });
  }

  show(channel: string): void {
    this.channel = channel;
    this.el.hidden = true;
    if (this.timer === undefined) this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.refresh();
  }

  private refresh(): void {
    const channel = this.channel;
    if (channel === undefined || this.client.state !== 'open') return;
    this.client.presence(channel).then(
      (n) => {
        if (channel !== this.channel) return;
        this.el.textContent = `${n} watching`;
        this.el.dataset['count'] = String(n);
        this.el.hidden = false;
      },
      () => {
        // Not connected or not allowed: the count is simply not shown.
        if (channel === this.channel) this.el.hidden = true;
      },
    );
  }
}
