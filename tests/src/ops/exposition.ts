/**
 * Series names a Prometheus text exposition defines: each `# TYPE` family plus the series a
 * histogram or summary family expands to (`_bucket`, `_sum`, `_count`).
 */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (m) {
      const [, name, type] = m;
      names.add(name!);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s);
    } else if (line && !line.startsWith('#')) {
      names.add(line.split(/[{ ]/)[0]!);
    }
  }
  return names;
}

/** Label names used by the samples of one series name. */
export function labelNamesOf(text: string, series: string): Set<string> {
  const labels = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${series}{`)) continue;
    const body = line.slice(series.length + 1, line.indexOf('}'));
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(m[1]!);
  }
  return labels;
}
