// A strict parser of the Prometheus text exposition format (version 0.0.4), for the tests: it
// fails, naming the line, on anything Prometheus would reject or that breaks the format's rules —
// a bad metric or label name, a bad escape, a value that is not a float, a family without its
// TYPE first, a family split in two, a series given twice, a counter below zero, a histogram whose
// buckets are not cumulative or whose +Inf bucket is not its count.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (for a histogram: the family name plus _bucket, _sum or _count). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string | null;
  readonly samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** The families of an exposition, by name; throws an Error naming the first line that is wrong. */
export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const help = new Map<string, string>();
  let current: Family | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const where = `line ${i + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, keyword, name, rest = ''] = m;
      if (!metricName.test(name!)) throw new Error(`${where}: bad metric name`);
      if (keyword === 'HELP') {
        if (help.has(name!)) throw new Error(`${where}: a second HELP for ${name}`);
        help.set(name!, unescapeHelp(rest, where));
        continue;
      }
      if (families.has(name!)) throw new Error(`${where}: a second TYPE for ${name}`);
      if (!types.has(rest.trim() as MetricType)) throw new Error(`${where}: unknown type "${rest}"`);
      current = { name: name!, type: rest.trim() as MetricType, help: null, samples: [] };
      families.set(name!, current);
      continue;
    }
    const sample = parseSample(line, where);
    if (current === null || familyOf(sample.name, current) === null) {
      throw new Error(`${where}: sample outside its family (no TYPE line just before its family)`);
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: the same series twice`);
    series.add(key);
    if (current.type === 'counter' && !(sample.value >= 0)) throw new Error(`${where}: a counter below 0`);
    current.samples.push(sample);
  }
  for (const f of families.values()) {
    const h = help.get(f.name);
    if (h !== undefined) families.set(f.name, { ...f, help: h });
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

/** The family a sample belongs to, or null: its suffix must fit the family's type. */
function familyOf(sampleName: string, f: Family): Family | null {
  if (sampleName === f.name) return f.type === 'histogram' ? null : f;
  const suffixes =
    f.type === 'histogram' ? ['_bucket', '_sum', '_count'] : f.type === 'summary' ? ['_sum', '_count'] : [];
  return suffixes.some((s) => sampleName === f.name + s) ? f : null;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?[0-9]+))?$/.exec(line);
  if (m === null) throw new Error(`${where}: not a sample line`);
  const [, name, labelText, valueText] = m;
  return { name: name!, labels: parseLabels(labelText ?? '', where), value: parseValue(valueText!, where) };
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === '') return labels;
  let i = 1; // past '{'
  const end = text.length - 1; // at '}'
  while (i < end) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: a label without "="`);
    const name = text.slice(i, eq).trim();
    if (!labelName.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name "${name}"`);
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label ${name}'s value is not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < end && text[j] !== '"'; j++) {
      if (text[j] !== '\\') {
        value += text[j];
        continue;
      }
      const escaped = text[++j];
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else throw new Error(`${where}: bad escape \\${escaped} in label ${name}`);
    }
    if (text[j] !== '"') throw new Error(`${where}: label ${name}'s value is not closed`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i !== end) throw new Error(`${where}: labels not separated by ","`);
  }
  return labels;
}

/** As Prometheus reads it (Go's ParseFloat): NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(text: string, where: string): number {
  if (/^nan$/i.test(text)) return Number.NaN;
  const inf = /^([+-]?)inf(inity)?$/i.exec(text);
  if (inf !== null) return inf[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (!/^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text)) {
    throw new Error(`${where}: value "${text}" is not a float`);
  }
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\') return '\\';
    throw new Error(`${where}: bad escape \\${c} in HELP`);
  });
}

/** Per series: buckets with rising bounds and cumulative counts, a +Inf bucket equal to _count, a _sum. */
function checkHistogram(f: Family): void {
  const bySeries = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = bySeries.get(key);
    if (entry === undefined) {
      entry = { buckets: [] };
      bySeries.set(key, entry);
    }
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without "le"`);
      entry.buckets.push([parseValue(le, `${f.name} le`), s.value]);
    } else if (s.name.endsWith('_sum')) entry.sum = s.value;
    else entry.count = s.value;
  }
  for (const [key, e] of bySeries) {
    const what = `${f.name}${key === '[]' ? '' : ` ${key}`}`;
    if (e.sum === undefined || e.count === undefined) throw new Error(`${what}: no _sum or _count`);
    let previous: [number, number] = [Number.NEGATIVE_INFINITY, 0];
    for (const b of e.buckets) {
      if (!(b[0] > previous[0])) throw new Error(`${what}: bucket bounds not rising`);
      if (b[1] < previous[1]) throw new Error(`${what}: bucket counts not cumulative`);
      previous = b;
    }
    if (previous[0] !== Number.POSITIVE_INFINITY) throw new Error(`${what}: no +Inf bucket`);
    if (previous[1] !== e.count)
      throw new Error(`${what}: +Inf bucket ${previous[1]} is not _count ${e.count}`);
  }
}

/** Every name a query may use for these families: each family's own, and its samples' suffixed names. */
export function exportedNames(families: ReadonlyMap<string, Family>): Set<string> {
  const names = new Set<string>();
  for (const f of families.values()) {
    names.add(f.name);
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(f.name + s);
    if (f.type === 'summary') for (const s of ['_sum', '_count']) names.add(f.name + s);
  }
  return names;
}

/** The value of one series of family `name` whose labels include `labels`; throws if none or several. */
export function seriesValue(
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
  sampleName = name,
): number {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no family ${name}`);
  const matching = f.samples.filter(
    (s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matching.length !== 1) {
    throw new Error(`${matching.length} series of ${sampleName} match ${JSON.stringify(labels)}`);
  }
  return matching[0]!.value;
}
