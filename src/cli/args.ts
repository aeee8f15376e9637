// Flag parsing for every command line of the project (raftkv's subcommands, the Jepsen runner, the
// simulators): a `FlagDef` table drives node:util's parseArgs (strict), the usage text and
// docs/cli.md. `--name value`, `--name=value`, boolean `--name`, `--` ending the flags, `-h`/`--help`,
// and one-line usage errors that name the flag. Following parseArgs, a value that starts with "-"
// is given as `--name=-value`, and a positional that does after `--`. Pure: no process access.

import { parseArgs as parseArgv } from 'node:util';

/** A command line the user got wrong: one line on stderr, the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** One flag of a command; the same table drives parsing, the usage text and docs/cli.md. */
export interface FlagDef {
  readonly name: string;
  /** Placeholder for the flag's value in the usage; absent for a boolean flag. */
  readonly value?: string;
  readonly help: string;
  /** Environment variable with the same effect (the flag wins). */
  readonly env?: string;
  /** Default, as shown in the usage. */
  readonly default?: string;
  /** May be given more than once; every value is kept (see listOption). Value flags only. */
  readonly multiple?: boolean;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  /** By flag name: the value (the last one given), true for a boolean, all values if `multiple`. */
  readonly flags: ReadonlyMap<string, string | true | readonly string[]>;
  /** `-h` or `--help` was given where a flag may stand (the arguments after it are not read). */
  readonly help: boolean;
}

/** Environment as the parsers see it (process.env, or a literal in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

type Options = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
type Token = NonNullable<ReturnType<typeof parseArgv>['tokens']>[number];

function optionsOf(defs: readonly FlagDef[]): Options {
  const options: Options = { help: { type: 'boolean', short: 'h' } };
  for (const d of defs) {
    options[d.name] =
      d.value === undefined ? { type: 'boolean' } : { type: 'string', multiple: d.multiple === true };
  }
  return options;
}

/**
 * parseArgs, strict: it decides what is wrong; the error is worded from `tokens` (the same
 * arguments, parsed leniently) as one line naming the flag, or is its own first line otherwise.
 */
function strictParse(args: string[], defs: readonly FlagDef[], tokens: () => readonly Token[]) {
  try {
    return parseArgv({ args, options: optionsOf(defs), strict: true, allowPositionals: true });
  } catch (e) {
    if (!(e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) throw e;
    throw usageError(e, tokens(), defs);
  }
}

function usageError(e: Error, tokens: readonly Token[], defs: readonly FlagDef[]): UsageError {
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const def = defs.find((d) => d.name === t.name);
    if (def === undefined) {
      const hint = /^-[^-A-Za-z]/.test(t.rawName) ? ' (put "--" before arguments that start with "-")' : '';
      return new UsageError(`unknown flag ${t.rawName}${hint}`);
    }
    if (def.value === undefined) {
      if (t.value !== undefined) return new UsageError(`${t.rawName} takes no value`);
    } else if (t.value === undefined) {
      return new UsageError(`${t.rawName} needs a value (${def.value})`);
    } else if (!t.inlineValue && t.value.length > 1 && t.value.startsWith('-')) {
      return new UsageError(
        `${t.rawName} needs a value (${def.value}), got the flag-like "${t.value}"; ` +
          `write ${t.rawName}=${t.value} if that is the value`,
      );
    }
  }
  return new UsageError(e.message.split('\n')[0]!);
}

export function parseArgs(argv: readonly string[], defs: readonly FlagDef[]): ParsedArgs {
  const all = [...argv];
  // Where -h/--help stands as a flag (not as a value, not after --), the arguments before it must
  // parse and the ones after it are not read: `--help --nope` is help, `--nope --help` an error.
  const { tokens } = parseArgv({
    args: all,
    options: optionsOf(defs),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const help = tokens.find((t) => t.kind === 'option' && t.name === 'help');
  const args = help === undefined ? all : all.slice(0, help.index);
  const parsed = strictParse(args, defs, () => tokens.filter((t) => t.index < args.length));
  const flags = new Map<string, string | true | readonly string[]>();
  for (const d of defs) {
    const v = parsed.values[d.name];
    if (typeof v === 'string' || v === true) flags.set(d.name, v);
    else if (Array.isArray(v)) flags.set(d.name, v.map(String));
  }
  return { positionals: parsed.positionals, flags, help: help !== undefined };
}

/** True when the command line asks for help (a parse error before it means it does not). */
export function wantsHelp(argv: readonly string[], defs: readonly FlagDef[]): boolean {
  try {
    return parseArgs(argv, defs).help;
  } catch {
    return false;
  }
}

export function flagLabel(f: FlagDef): string {
  return f.value === undefined ? `--${f.name}` : `--${f.name} ${f.value}`;
}

/** The flags' lines of a usage text: label, help, then default and environment variable. */
export function flagLines(defs: readonly FlagDef[]): string[] {
  const width = Math.max(0, ...defs.map((f) => flagLabel(f).length));
  const lines: string[] = [];
  for (const f of defs) {
    const extra = [f.default !== undefined && `default ${f.default}`, f.env !== undefined && `env ${f.env}`]
      .filter((x): x is string => typeof x === 'string')
      .join('; ');
    const line = `  ${flagLabel(f).padEnd(width)}  ${f.help}`;
    if (!extra) lines.push(line);
    else if (line.length + extra.length + 3 <= 100) lines.push(`${line} (${extra})`);
    else lines.push(line, `  ${''.padEnd(width)}    (${extra})`);
  }
  return lines;
}

/** A string flag's value, or the environment variable's (empty counts as unset), or undefined. */
export function stringOption(
  args: ParsedArgs,
  name: string,
  env: Env = {},
  envName?: string,
): string | undefined {
  const v = args.flags.get(name);
  if (typeof v === 'string') return v;
  if (envName === undefined) return undefined;
  const e = env[envName];
  return e === undefined || e === '' ? undefined : e;
}

export function booleanOption(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/** Every value of a `multiple` flag, in the order given. */
export function listOption(args: ParsedArgs, name: string): readonly string[] {
  const v = args.flags.get(name);
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** Where a value came from, for error messages: `--name` or `NAME`. */
export function sourceOf(args: ParsedArgs, name: string, envName?: string): string {
  return typeof args.flags.get(name) === 'string' || envName === undefined ? `--${name}` : envName;
}

/** A whole number in [min, max]; `what` names the flag in the error. */
export function parseInteger(raw: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw)) throw new UsageError(`${what} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) {
    throw new UsageError(
      max === Number.MAX_SAFE_INTEGER
        ? `${what} must be at least ${min}, got ${raw}`
        : `${what} must be between ${min} and ${max}, got ${raw}`,
    );
  }
  return n;
}

/** Milliseconds: `250`, `250ms` or `2s`. */
export function parseDurationMs(raw: string, what: string, min = 1): number {
  const m = /^(\d+)(ms|s)?$/.exec(raw);
  if (!m)
    throw new UsageError(`${what} must be a duration in milliseconds (e.g. 500, 500ms or 2s), got "${raw}"`);
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  if (ms < min) throw new UsageError(`${what} must be at least ${min} ms, got ${raw}`);
  return ms;
}

export function parseChoice<T extends string>(raw: string, what: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === raw);
  if (found === undefined) throw new UsageError(`${what} must be one of ${choices.join(', ')}, got "${raw}"`);
  return found;
}

/** Rejects leftover positional arguments. */
export function noMorePositionals(args: ParsedArgs, from: number): void {
  const extra = args.positionals[from];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
}
