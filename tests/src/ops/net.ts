export { freePort, portIsFree, waitFor } from '@megaphone/testing';

export async function getText(url: string, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}
