import { h } from './dom.js';

/**
 * The console's token (SPEC §10): given once in the URL as `#token=…` (a fragment never reaches a
 * server), kept in this tab's sessionStorage, removed from the address bar at once, and sent to
 * the gateway only inside the WebSocket (`{"op":"auth"}`), never in a URL.
 */
const KEY = 'megaphone.token';

/** Moves `token` out of the URL fragment into sessionStorage; other fragment parameters stay. */
export function takeTokenFromHash(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token === null) return;
  params.delete('token');
  if (token.trim() !== '') saveToken(token.trim());
  const rest = params.toString().replace(/%3A/gi, ':');
  history.replaceState(null, '', `${location.pathname}${location.search}${rest === '' ? '' : `#${rest}`}`);
}

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled: anonymous
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled: nothing kept
  }
}

export function saveToken(token: string): void {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // storage disabled: the token lasts as long as the connection
  }
}

/** The "token" control in the top bar: who the console reads as, and a box to paste a token into. */
export class TokenView {
  readonly el: HTMLElement;
  private readonly who: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly input: HTMLInputElement;

  constructor(onToken: (token: string) => void) {
    this.who = h('button', { type: 'button', class: 'token-who', 'data-testid': 'token-status', 'aria-expanded': 'false' }, 'no token');
    this.input = h('input', { type: 'password', class: 'token-input', 'data-testid': 'token-input', placeholder: 'paste a token', autocomplete: 'off', 'aria-label': 'Token' });
    this.form = h('form', { class: 'token-form', hidden: '' }, this.input, h('button', { type: 'submit', 'data-testid': 'token-save' }, 'use'));
    this.who.addEventListener('click', () => {
      this.form.hidden = !this.form.hidden;
      this.who.setAttribute('aria-expanded', String(!this.form.hidden));
      if (!this.form.hidden) this.input.focus();
    });
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = this.input.value.trim();
      if (token === '') return;
      this.input.value = '';
      this.form.hidden = true;
      saveToken(token);
      onToken(token);
    });
    this.el = h('div', { class: 'token', 'data-testid': 'token' }, this.who, this.form);
  }

  /** The gateway accepted a token for `sub`. */
  authed(sub: string): void {
    this.who.textContent = `as ${sub}`;
    this.el.dataset['sub'] = sub;
  }

  /** The gateway refused the token (it closed with 4401). */
  refused(message: string): void {
    this.who.textContent = 'token refused';
    this.who.title = message;
    delete this.el.dataset['sub'];
  }
}
