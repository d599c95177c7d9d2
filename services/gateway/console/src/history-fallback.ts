import type { MegaphoneClient, SubscribeOptions } from '@megaphone/client';

/**
 * Subscribes with the longest history the gateway accepts. An operator may set
 * GATEWAY_MAX_HISTORY below what the console asks for, and the gateway refuses a larger `history`
 * (`bad_request`) rather than clamping it, so the request shrinks tenfold until it is accepted.
 */
export function subscribeWithHistory(
  client: MegaphoneClient,
  channel: string,
  history: number,
  options: Omit<SubscribeOptions, 'history'>,
): () => void {
  let stopped = false;
  let unsubscribe = (): void => {};
  const attempt = (h: number): void => {
    unsubscribe = client.subscribe(channel, {
      ...options,
      history: h,
      onError: (err) => {
        if (!stopped && err.code === 'bad_request' && h > 0) attempt(Math.floor(h / 10));
        else options.onError?.(err);
      },
    });
  };
  attempt(history);
  return () => {
    stopped = true;
    unsubscribe();
  };
}
