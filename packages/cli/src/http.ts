/** A failed request to the producer or admin API, with the server's error code when it sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** `{"error":{"code"}}` of the reply (e.g. `conflict`, `unauthorized`), if any. */
    readonly code: string | undefined,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  token?: string | undefined;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * One JSON request. Errors are `ApiError`s whose message says what to do: an unreachable server
 * names the URL and the flag that sets it; `{"error":{"code","message"}}` replies keep the server's words.
 */
export async function requestJson<T>(base: string, path: string, opts: RequestOptions & { flag: string }): Promise<T> {
  const url = `${base}${path}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers,
      ...(body === undefined ? {} : { body }),
      signal: opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]),
    });
  } catch (err) {
    if (opts.signal?.aborted === true) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = timeout.aborted ? 'timed out' : (cause?.code ?? cause?.message ?? String(err));
    throw new ApiError(`cannot reach ${url} (${why}); is it running? (${opts.flag} sets the address)`, 0, undefined);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? error.code : undefined;
    const message = typeof error?.message === 'string' ? error.message : text.slice(0, 200) || res.statusText;
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new ApiError(`${opts.method ?? 'GET'} ${path}: ${res.status} ${code ?? ''}${code ? ': ' : ''}${message}`, res.status, code,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
  }
  if (parsed === undefined && text.length > 0) throw new ApiError(`${url}: the reply is not JSON`, res.status, undefined);
  return parsed as T;
}

/** What to add to an authorization failure so the user knows which setting to fix. */
export function authHint(err: ApiError, flag: string, env: string): string {
  return err.status === 401 ? ` (pass a token with ${flag} or ${env})` : '';
}
