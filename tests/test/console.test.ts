/// <reference lib="dom" />
// Functions passed to page.$eval/evaluate run in the browser: the DOM types are for them only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../src/console/browser.js';
import { ensureConsoleBuilt } from '../src/console/console-build.js';
import { ConsoleStack } from '../src/console/stack.js';
import { waitFor } from '@megaphone/testing';

// The jobs the console shows. JSON is YAML, and keeps the shell escapes readable here.
const JOBS = {
  jobs: [
    {
      name: 'ticker',
      command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'],
      restart: 'always',
    },
    {
      name: 'colors',
      command: [
        'sh',
        '-c',
        "printf '\\033[31mred\\033[0m plain \\033[1;32mbold green\\033[0m \\033[38;5;208morange\\033[0m\\n'; " +
          "printf '<b>not bold</b> <img src=x onerror=\"document.title=1\">\\n'; " +
          "printf 'progress 10%%\\rprogress 100%%\\n'; " +
          "echo 'oops on stderr' >&2",
      ],
    },
    {
      name: 'burst',
      command: ['sh', '-c', 'seq -f "n %g" 1 5200; i=5200; while true; do i=$((i+1)); echo "n $i"; sleep 0.05; done'],
      restart: 'always',
    },
    {
      name: 'flood',
      command: ['sh', '-c', 'seq -f "line %g" 1 300; i=0; while true; do i=$((i+1)); echo "more $i"; sleep 0.25; done'],
      restart: 'always',
    },
  ],
};

interface Line {
  text: string;
  stream: string;
  offset: number;
}

let stack: ConsoleStack;
let browser: Browser;

before(async () => {
  ensureConsoleBuilt();
  stack = await ConsoleStack.start({ jobsYaml: JSON.stringify(JOBS) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

async function open(hash = '', viewport = { width: 1280, height: 800 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('response', (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
  await page.goto(stack.url + hash);
  (page as Page & { errors?: string[] }).errors = errors;
  return page;
}

function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

function lines(page: Page): Promise<Line[]> {
  return page.$$eval('[data-testid="terminal-lines"] .line', (els) =>
    els.map((el) => ({ text: el.textContent ?? '', stream: (el as HTMLElement).dataset['stream'] ?? '', offset: Number((el as HTMLElement).dataset['offset']) })),
  );
}

function ticks(all: Line[]): number[] {
  return all.flatMap((l) => {
    const m = /^tick (\d+)$/.exec(l.text);
    return m ? [Number(m[1])] : [];
  });
}

function attr(page: Page, testId: string, name: string): Promise<string | null> {
  return page.getAttribute(`[data-testid="${testId}"]`, name);
}

test('the page loads cleanly, the uptime counter ticks and the connection shows the gateway node', async () => {
  const page = await open();
  try {
    await waitFor('connection open', async () => (await attr(page, 'connection', 'data-state')) === 'open');
    assert.equal(await attr(page, 'connection', 'data-node'), stack.node);
    assert.match((await page.textContent('[data-testid="connection"]')) ?? '', new RegExp(stack.node));
    // The counter's seconds and its text are read together: a tick between two reads would pair
    // one tick's seconds with the next one's text.
    const uptime = (): Promise<{ seconds: number; text: string }> =>
      page.$eval('[data-testid="uptime"]', (el) => ({
        seconds: Number((el as HTMLElement).dataset['seconds'] ?? NaN),
        text: el.querySelector('[data-testid="uptime-value"]')?.textContent ?? '',
      }));
    const first = await waitFor('first uptime', async () => {
      const u = await uptime();
      return Number.isFinite(u.seconds) ? u : undefined;
    });
    assert.match(first.text, /^\d\d:\d\d:\d\d$/);
    const later = await waitFor('uptime to advance', async () => {
      const u = await uptime();
      return u.seconds > first.seconds ? u : undefined;
    }, { timeoutMs: 5000 });
    assert.notEqual(later.text, first.text);
    assert.deepEqual(pageErrors(page), []);
  } finally {
    await page.close();
  }
});

test('the jobs list shows each job with its state, folded from the jobs channel', async () => {
  const page = await open();
  try {
    const jobs = await waitFor('four jobs, colors finished', async () => {
      const all = await page.$$eval('[data-testid="job"]', (els) => els.map((el) => `${(el as HTMLElement).dataset['job']}:${(el as HTMLElement).dataset['status']}`));
      return all.length === 4 && all.includes('colors:success') ? all : undefined;
    });
    assert.deepEqual(jobs, ['burst:running', 'colors:success', 'flood:running', 'ticker:running']);
    // The first running job is shown when nothing was chosen.
    await waitFor('burst selected', async () => (await page.textContent('[data-testid="output-title"]'))?.includes('burst'));
    await page.click('[data-job="colors"]');
    await waitFor('colors selected', async () => (await page.textContent('[data-testid="output-title"]'))?.includes('colors'));
    assert.equal(new URL(page.url()).hash, '#job=colors');
  } finally {
    await page.close();
  }
});

test("a job's lines appear with stderr distinguished and ANSI colours rendered, never as markup", async () => {
  const page = await open('#job=colors');
  try {
    const all = await waitFor('colors output', async () => {
      const l = await lines(page);
      return l.some((x) => x.stream === 'stderr') && l.some((x) => x.text.includes('red plain')) ? l : undefined;
    });
    const stdout = all.filter((l) => l.stream === 'stdout').map((l) => l.text);
    assert.deepEqual(stdout, ['red plain bold green orange', '<b>not bold</b> <img src=x onerror="document.title=1">', 'progress 100%']);
    assert.deepEqual(all.filter((l) => l.stream === 'stderr').map((l) => l.text), ['oops on stderr']);
    assert.ok(all.some((l) => l.stream === 'meta' && /started/.test(l.text)), 'run start shown');
    assert.ok(all.some((l) => l.stream === 'meta' && /exited with code 0/.test(l.text)), 'run exit shown');

    const colour = (selector: string) => page.$eval(selector, (el) => getComputedStyle(el).color);
    assert.equal(await page.textContent('.line.stdout .ansi-fg-1'), 'red');
    assert.equal(await page.textContent('.line.stdout .ansi-fg-2.ansi-bold'), 'bold green');
    assert.equal(await colour('.line.stdout .ansi-fg-1'), 'rgb(255, 123, 114)');
    const orange = await page.$$eval('.line.stdout span', (els) => els.filter((e) => e.textContent === 'orange').map((e) => getComputedStyle(e).color));
    assert.deepEqual(orange, ['rgb(255, 135, 0)']);
    const plain = await page.$eval('.line.stdout', (el) => getComputedStyle(el).color);
    const stderr = await colour('.line.stderr');
    assert.notEqual(stderr, plain, 'stderr has its own colour');
    assert.notEqual(await page.$eval('.line.stderr', (el) => getComputedStyle(el).borderLeftStyle), 'none');
    // The command's text stayed text.
    assert.equal(await page.$$eval('[data-testid="terminal-lines"] b, [data-testid="terminal-lines"] img', (els) => els.length), 0);
    assert.notEqual(await page.title(), '1');
    await page.screenshot({ path: '/tmp/console.png' });
  } finally {
    await page.close();
  }
});

test('autoscroll follows the output, stops when the reader scrolls up and resumes at the bottom', async () => {
  const page = await open('#job=flood');
  try {
    const screen = '[data-testid="terminal-lines"]';
    await waitFor('flood output', async () => (await lines(page)).some((l) => /^more \d+$/.test(l.text)));
    const gapToBottom = () => page.$eval(screen, (el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await waitFor('at the bottom', async () => (await gapToBottom()) <= 8);
    assert.equal(await attr(page, 'terminal', 'data-follow'), 'true');

    await page.$eval(screen, (el) => {
      el.scrollTop = 100;
    });
    await waitFor('following stops', async () => (await attr(page, 'terminal', 'data-follow')) === 'false');
    const count = (await lines(page)).length;
    await waitFor('more lines while scrolled up', async () => (await lines(page)).length >= count + 3);
    assert.equal(await page.$eval(screen, (el) => el.scrollTop), 100, 'the view did not move');
    assert.ok(await page.isVisible('[data-testid="jump-bottom"]'));

    await page.click('[data-testid="jump-bottom"]');
    await waitFor('following again', async () => (await attr(page, 'terminal', 'data-follow')) === 'true');
    const now = (await lines(page)).length;
    await waitFor('more lines', async () => (await lines(page)).length >= now + 2);
    await waitFor('kept at the bottom', async () => (await gapToBottom()) <= 8);
    assert.equal(await page.isVisible('[data-testid="jump-bottom"]'), false);
  } finally {
    await page.close();
  }
});

test('keeps at most 5000 lines in the page, and a reader scrolled up keeps their place while old lines go', async () => {
  const page = await open('#job=burst');
  try {
    const screen = '[data-testid="terminal-lines"]';
    const count = () => page.$eval(screen, (el) => el.childElementCount);
    const lastText = () => page.$eval(screen, (el) => el.lastElementChild?.textContent ?? '');
    const number = (text: string) => Number(/^n (\d+)$/.exec(text)?.[1] ?? NaN);
    await waitFor('the burst and live lines', async () => number(await lastText()) > 5200, { timeoutMs: 30_000 });
    assert.equal(await count(), 5000);

    // Scroll to the middle and remember which line is at the top of the view.
    const topLine = () =>
      page.$eval(screen, (el) => {
        const box = el.getBoundingClientRect();
        return document.elementFromPoint(box.left + 30, box.top + 20)?.closest('.line')?.textContent ?? '';
      });
    await page.$eval(screen, (el) => {
      el.scrollTop = el.scrollHeight / 2;
    });
    await waitFor('following stops', async () => (await attr(page, 'terminal', 'data-follow')) === 'false');
    const seen = await topLine();
    const last = number(await lastText());
    await waitFor('twenty more lines, each trimming the top', async () => number(await lastText()) >= last + 20);
    assert.equal(await count(), 5000);
    assert.equal(await topLine(), seen, 'the line at the top of the view did not move');
    const texts = await page.$$eval(`${screen} .line.stdout`, (els) => els.map((e) => e.textContent ?? ''));
    const numbers = texts.map(number);
    assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => numbers[0]! + i), 'the newest lines, in order');
  } finally {
    await page.close();
  }
});

test('fits a phone-width screen without horizontal scrolling', async () => {
  const page = await open('#job=ticker', { width: 390, height: 844 });
  try {
    await waitFor('ticker output', async () => ticks(await lines(page)).length >= 2);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await page.screenshot({ path: '/tmp/console-phone.png' });
  } finally {
    await page.close();
  }
});

test('after the gateway restarts on the same port the console reconnects and resumes with no duplicate and no gap', async () => {
  const page = await open('#job=ticker');
  try {
    await waitFor('open', async () => (await attr(page, 'connection', 'data-state')) === 'open');
    const firstNode = stack.node;
    await waitFor('ticks before the restart', async () => ticks(await lines(page)).length >= 5);

    await stack.stopGateway();
    await waitFor('reconnecting shown', async () => (await attr(page, 'connection', 'data-state')) === 'reconnecting', { timeoutMs: 5000 });
    assert.match((await page.textContent('[data-testid="connection"]')) ?? '', /reconnecting/);
    const beforeRestart = ticks(await lines(page));
    // The producer keeps publishing while no gateway is up; history must cover it on resume.
    const published = async (): Promise<number> => (await stack.bus.history('cmd:ticker', { limit: 0 })).offset;
    const atStop = await published();
    await waitFor('ticks published while no gateway is up', async () => (await published()) >= atStop + 8, { timeoutMs: 10_000 });
    await stack.startGateway();
    assert.notEqual(stack.node, firstNode);

    await waitFor('reconnected to the new gateway', async () => (await attr(page, 'connection', 'data-state')) === 'open' && (await attr(page, 'connection', 'data-node')) === stack.node, { timeoutMs: 20_000 });
    const last = beforeRestart.at(-1)!;
    // At least 8 ticks were published while the browser was away.
    const after = await waitFor('ticks after the restart', async () => {
      const t = ticks(await lines(page));
      return t.at(-1)! >= last + 10 ? t : undefined;
    }, { timeoutMs: 10_000 });

    assert.deepEqual(after.slice(0, beforeRestart.length), beforeRestart);
    const first = after[0]!;
    assert.deepEqual(after, Array.from({ length: after.length }, (_, i) => first + i), 'tick lines are consecutive: no duplicate, no gap');

    const offsets = [...new Set((await lines(page)).map((l) => l.offset))];
    assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => offsets[0]! + i), 'publication offsets are consecutive');
    assert.equal(await attr(page, 'terminal', 'data-gaps'), '0');
    assert.equal(await attr(page, 'debug', 'data-gaps'), '0');
    assert.equal(await attr(page, 'debug', 'data-anomalies'), '0');
    assert.equal(await attr(page, 'debug', 'data-opens'), '2');
    assert.deepEqual(pageErrors(page), []);
  } finally {
    await page.close();
  }
});

test('output missed beyond the history is announced in the terminal, never silently skipped', async () => {
  // A gateway that allows less history than the console asks for (it retries with less).
  const small = await ConsoleStack.start({ env: { HISTORY_SIZE: '5', GATEWAY_MAX_HISTORY: '10' } });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    const say = (text: string) => small.bus.publish('cmd:demo', JSON.stringify({ run: 'r1', stream: 'stdout', lines: [text] }));
    await page.goto(`${small.url}#job=demo`);
    await waitFor('open', async () => (await attr(page, 'connection', 'data-state')) === 'open');
    await waitFor('subscribed to cmd:demo', async () => (await attr(page, 'terminal', 'data-epoch')) !== null);
    await say('before 1');
    await say('before 2');
    await waitFor('first lines', async () => (await lines(page)).length === 2);

    await small.stopGateway();
    await waitFor('reconnecting', async () => (await attr(page, 'connection', 'data-state')) === 'reconnecting');
    for (let i = 1; i <= 20; i++) await say(`away ${i}`);
    await small.startGateway();
    await waitFor('open again', async () => (await attr(page, 'connection', 'data-state')) === 'open', { timeoutMs: 20_000 });
    await say('after');

    const all = await waitFor('the line published after the reconnect', async () => {
      const l = await lines(page);
      return l.some((x) => x.text === 'after') ? l : undefined;
    });
    assert.deepEqual(
      all.map((l) => `${l.stream}:${l.text.startsWith('⚠') ? 'notice' : l.text}`),
      ['stdout:before 1', 'stdout:before 2', 'gap:notice', 'stdout:after'],
    );
    assert.match(all[2]!.text, /missed/);
    assert.equal(await attr(page, 'terminal', 'data-gaps'), '1');
    assert.equal(await attr(page, 'debug', 'data-anomalies'), '0');
  } finally {
    await page.close();
    await small.close();
  }
});
