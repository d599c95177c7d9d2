import { MegaphoneClient, type StateChange } from '@megaphone/client';
import { byTestId, h } from './dom.js';
import { subscribeWithHistory } from './history-fallback.js';
import { JobOutput } from './job-output.js';
import { JobsModel } from './jobs.js';
import { JobsView } from './jobs-view.js';
import { StatusView } from './status-view.js';
import { TokenView, forgetToken, storedToken, takeTokenFromHash } from './token.js';
import { UptimeView } from './uptime-view.js';

/** The lifecycle events the jobs list is folded from (SPEC §5: the `jobs` channel). */
const JOBS_HISTORY = 1000;

function gatewayUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

function jobFromHash(): string | undefined {
  const m = /^#job=([a-z0-9-]{1,64})$/.exec(location.hash);
  return m?.[1];
}

function start(root: HTMLElement): void {
  takeTokenFromHash();
  // The token travels only inside the WebSocket (`auth`), read from this tab's sessionStorage.
  const client = new MegaphoneClient({ url: gatewayUrl(), backoff: { initialMs: 500, maxMs: 10_000 }, getToken: storedToken });
  const tokenView = new TokenView(() => {
    if (client.state === 'closed') client.connect();
    else client.refreshToken();
  });
  const status = new StatusView(() => client.reconnectNow());
  const uptime = new UptimeView();
  const output = new JobOutput(client);
  const model = new JobsModel();
  const select = (job: string) => {
    if (location.hash !== `#job=${job}`) history.replaceState(null, '', `#job=${job}`);
    output.show(job);
    jobsView.select(job);
  };
  const jobsView = new JobsView(select);

  // Test and support hooks: counters of what the SDK reported, readable from the DOM.
  const debug = h('div', { 'data-testid': 'debug', hidden: '', 'data-opens': '0', 'data-gaps': '0', 'data-anomalies': '0' });
  const bump = (key: string) => (debug.dataset[key] = String(Number(debug.dataset[key] ?? '0') + 1));

  root.replaceChildren(
    h('header', { class: 'topbar' }, h('h1', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◢'), 'megaphone'), uptime.el, tokenView.el, status.el),
    h('main', { class: 'layout' }, jobsView.el, output.el),
    debug,
  );

  client.on('state', (change: StateChange) => {
    status.update(change);
    // The token was refused twice (the SDK asked once more): forget it and keep showing what is
    // public; a pasted token reconnects with it.
    if (change.state === 'closed' && change.closeCode === 4401 && storedToken() !== undefined) {
      forgetToken();
      client.connect();
      return;
    }
    // Values on screen stop being live while disconnected; the stylesheet dims them.
    root.dataset['connection'] = change.state;
    if (change.state === 'open') bump('opens');
  });
  client.on('gap', () => bump('gaps'));
  client.on('anomaly', (a) => {
    bump('anomalies');
    console.warn('megaphone:', a.message, a);
  });
  client.on('error', (e) => {
    if (e.kind === 'unauthorized') tokenView.refused(e.message);
    console.warn('megaphone:', e.message);
  });

  // The gateway conflates `uptime` for lagging clients: only the latest value matters.
  client.subscribe('uptime', { history: 1, conflated: true, onMessage: (d) => uptime.update(d) });

  // With nothing chosen, show a job once the replayed history is folded (so "running" is current).
  let replayedTo = Infinity;
  const selectDefault = (): void => {
    if (output.selected !== undefined) return;
    const jobs = model.list();
    const job = jobs.find((j) => j.status === 'running') ?? jobs[0];
    if (job !== undefined) select(job.name);
  };

  let jobsDenied = false;
  let unsubscribeJobs = (): void => {};
  const subscribeJobs = (): void => {
    jobsDenied = false;
    const unsubscribe = subscribeWithHistory(client, 'jobs', JOBS_HISTORY, {
      onError: (err) => {
        if (err.code !== 'forbidden' && err.code !== 'unauthorized') return;
        jobsDenied = true;
        jobsView.denied();
      },
      onSubscribed: (info) => {
        jobsView.render(model.list());
        replayedTo = info.offset;
        if (info.offset === 0) selectDefault();
      },
      onMessage: (d, meta) => {
        if (model.apply(d, meta.ts)) jobsView.render(model.list());
        if (meta.offset >= replayedTo) selectDefault();
      },
      onGap: (gap) => {
        // The lifecycle history changed under us: rebuild the list from what history still holds.
        if (gap.kind !== 'reset') return;
        unsubscribe();
        model.clear();
        jobsView.render([]);
        subscribeJobs();
      },
    });
    unsubscribeJobs = unsubscribe;
  };
  subscribeJobs();
  // A new token may cover what the old one (or none) did not.
  client.on('authed', (a) => {
    tokenView.authed(a.sub);
    if (jobsDenied) {
      unsubscribeJobs();
      subscribeJobs();
    }
    output.retry();
  });

  const wanted = jobFromHash();
  if (wanted !== undefined) select(wanted);
  addEventListener('hashchange', () => {
    const job = jobFromHash();
    if (job !== undefined) select(job);
  });
  // Back online, or back to a tab that slept: no reason to wait out the backoff.
  addEventListener('online', () => client.reconnectNow());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') client.reconnectNow();
  });
  client.connect();
}

start(byTestId(document, 'app'));
