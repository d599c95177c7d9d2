import type { StateChange } from '@megaphone/client';
import { CloseCode } from '@megaphone/protocol';
import { h } from './dom.js';

/** The connection badge: state, gateway node, and the countdown while reconnecting. */
export class StatusView {
  readonly el: HTMLElement;
  private readonly text: HTMLElement;
  private countdown: ReturnType<typeof setInterval> | undefined;

  private readonly retry: HTMLButtonElement;

  constructor(reconnectNow: () => void) {
    this.text = h('span', { class: 'status-text' }, 'connecting…');
    this.retry = h('button', { type: 'button', class: 'retry', 'data-testid': 'reconnect-now', hidden: '' }, 'retry now');
    this.retry.addEventListener('click', reconnectNow);
    this.el = h(
      'div',
      { class: 'status', 'data-testid': 'connection', 'data-state': 'connecting', role: 'status' },
      h('span', { class: 'status-dot', 'aria-hidden': 'true' }),
      this.text,
      this.retry,
    );
  }

  update(change: StateChange): void {
    if (this.countdown !== undefined) clearInterval(this.countdown);
    this.countdown = undefined;
    this.el.dataset['state'] = change.state;
    this.retry.hidden = !(change.state === 'reconnecting' && (change.delayMs ?? 0) > 1000);
    if (change.node !== undefined) this.el.dataset['node'] = change.node;
    else delete this.el.dataset['node'];
    switch (change.state) {
      case 'idle':
      case 'connecting':
        this.text.textContent = 'connecting…';
        return;
      case 'open':
        this.text.textContent = change.node ? `live · ${change.node}` : 'live';
        return;
      case 'closed':
        // 4403: an operator cut this client off; the SDK does not reconnect, and says so here.
        this.text.textContent = change.closeCode === CloseCode.OperatorDisconnect ? 'disconnected by an operator' : 'disconnected';
        if (change.closeCode !== undefined) this.el.dataset['closeCode'] = String(change.closeCode);
        return;
      case 'reconnecting': {
        if (change.delayMs === undefined) {
          this.text.textContent = 'reconnecting…';
          return;
        }
        const at = Date.now() + change.delayMs;
        const tick = () => {
          const left = Math.max(0, at - Date.now());
          this.text.textContent = left > 0 ? `reconnecting in ${(left / 1000).toFixed(1)}s` : 'reconnecting…';
          if (left === 0) {
            this.retry.hidden = true;
            if (this.countdown !== undefined) clearInterval(this.countdown);
          }
        };
        tick();
        this.countdown = setInterval(tick, 100);
      }
    }
  }
}
