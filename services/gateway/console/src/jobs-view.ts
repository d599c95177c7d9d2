import { h, replaceChildren } from './dom.js';
import { formatDuration, type JobState, type JobStatus } from './jobs.js';

const STATUS_LABEL: Readonly<Record<JobStatus, string>> = {
  running: 'running',
  success: 'ok',
  failure: 'failed',
  timeout: 'timed out',
  killed: 'stopped',
  lost: 'lost',
};

/** The list of jobs with their state; choosing one shows its output. */
export class JobsView {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private selected: string | undefined;
  private jobs: JobState[] = [];

  constructor(private readonly onSelect: (job: string) => void) {
    this.list = h('ul', { class: 'job-list', 'data-testid': 'jobs' });
    this.el = h('nav', { class: 'jobs', 'aria-label': 'Jobs' }, h('h2', {}, 'Jobs'), this.list);
    this.renderEmpty();
  }

  select(job: string | undefined): void {
    this.selected = job;
    this.render(this.jobs);
  }

  render(jobs: JobState[]): void {
    this.jobs = jobs;
    if (jobs.length === 0) return this.renderEmpty();
    replaceChildren(this.list, ...jobs.map((job) => this.item(job)));
  }

  /** The `jobs` channel is not readable with the current token. */
  denied(): void {
    this.jobs = [];
    this.list.dataset['access'] = 'denied';
    replaceChildren(this.list, h('li', { class: 'empty denied', 'data-testid': 'jobs-denied' }, 'Not allowed: your token does not let you read the jobs list.'));
  }

  private renderEmpty(): void {
    delete this.list.dataset['access'];
    replaceChildren(this.list, h('li', { class: 'empty' }, 'No job has run yet.'));
  }

  private item(job: JobState): HTMLElement {
    const at = clock(job.since);
    const detail =
      job.status === 'running'
        ? `since ${at}`
        : [job.error ?? (job.signal ? job.signal : job.code !== null && job.code !== undefined ? `exit ${job.code}` : ''), job.durationMs ? formatDuration(job.durationMs) : '', at]
            .filter((s) => s !== '')
            .join(' · ');
    const button = h(
      'button',
      {
        type: 'button',
        class: 'job',
        'data-testid': 'job',
        'data-job': job.name,
        'data-status': job.status,
        'aria-current': job.name === this.selected ? 'true' : undefined,
      },
      h('span', { class: `dot ${job.status}`, 'aria-hidden': 'true' }),
      h('span', { class: 'job-name' }, job.name),
      h('span', { class: `job-status ${job.status}` }, STATUS_LABEL[job.status]),
      h('span', { class: 'job-detail' }, detail),
    );
    button.addEventListener('click', () => this.onSelect(job.name));
    return h('li', {}, button);
  }
}

/** Local wall-clock time of a publication, `HH:MM:SS`. */
function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}
