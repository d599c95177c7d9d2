export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Reads an event stream until `until` matches an event (then cancels it); rejects on timeout. */
export async function readSse(url: string, until: (e: SseEvent) => boolean, timeoutMs = 15_000, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const e: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const [field, ...rest] = line.split(':');
          const v = rest.join(':').replace(/^ /, '');
          if (field === 'event') e.event = v;
          else if (field === 'id') e.id = v;
          else if (field === 'data') data.push(v);
        }
        if (data.length === 0) continue;
        e.data = data.join('\n');
        events.push(e);
        if (until(e)) {
          await reader.cancel().catch(() => undefined);
          return events;
        }
      }
    }
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`timed out reading ${url}; got ${events.length} events`);
    throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
