import { isValidChannel, quoteInput } from '@megaphone/protocol';
import { HttpError } from './http-util.js';

export interface PublishItem {
  channel: string;
  dataJson: string;
}

export const MAX_PUBLISH_BATCH = 1000;

/**
 * Validates a `POST /v1/publish` body: one `{"channel","data"}` object or an array of them.
 * All items are checked before any is published, so a bad request publishes nothing.
 */
export function parsePublishBody(body: unknown, maxPublicationBytes: number): { items: PublishItem[]; single: boolean } {
  const single = !Array.isArray(body);
  const list: unknown[] = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new HttpError('bad_request', 'the array is empty; send at least one {"channel","data"}');
  if (list.length > MAX_PUBLISH_BATCH) throw new HttpError('bad_request', `at most ${MAX_PUBLISH_BATCH} publications per request`);
  const items = list.map((item, i) => {
    const where = single ? '' : `[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new HttpError('bad_request', `${where || 'the body'} must be an object {"channel","data"}`);
    }
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== 'channel' && k !== 'data') throw new HttpError('bad_request', `unknown field ${quoteInput(`${where ? `${where}.` : ''}${k}`)}`);
    }
    if (typeof o.channel !== 'string') throw new HttpError('bad_request', `"${where ? `${where}.` : ''}channel" must be a string`);
    if (!isValidChannel(o.channel)) {
      throw new HttpError('bad_request', `"${where ? `${where}.` : ''}channel": channel names are 1–128 characters of A-Z a-z 0-9 _ - . :`);
    }
    if (!('data' in o)) throw new HttpError('bad_request', `"${where ? `${where}.` : ''}data" is missing (any JSON value, including null)`);
    const dataJson = JSON.stringify(o.data);
    const bytes = Buffer.byteLength(dataJson);
    if (bytes > maxPublicationBytes) {
      throw new HttpError('payload_too_large', `${where ? `${where}.` : ''}data is ${bytes} bytes of JSON; the limit is ${maxPublicationBytes} (MAX_PUBLICATION_BYTES)`);
    }
    return { channel: o.channel, dataJson };
  });
  return { items, single };
}
