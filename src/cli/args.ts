// Flag parsing shared by every subcommand: `--name value`, `--name=value`, boolean `--name`,
// `--` ending the flags, `-h`/`--help`, and one-line usage errors. Pure: no process access.

/** A command line the user got wrong: one line on stderr, the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** One flag of a subcommand; the same table drives parsing, the usage text and docs/cli.md. */
export interface FlagDef {
  readonly name: string;
  /** Placeholder for the flag's value in the usage; absent for a boolean flag. */
  readonly value?: string;
  readonly help: string;
  /** Environment variable with the same effect (the flag wins). */
  readonly env?: string;
  /** Default, as shown in the usage. */
  readonly default?: string;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly flags: ReadonlyMap<string, string | true>;
  /** `-h` or `--help` was given (parsing stops there). */
  readonly help: boolean;
}

/** Environment as the parsers see it (process.env, or a literal in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

export function parseArgs(argv: readonly string[], defs: readonly FlagDef[]): ParsedArgs {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') return { positionals, flags, help: true };
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const def = byName.get(name);
      if (!def) throw new UsageError(`unknown flag --${name}`);
      if (def.value === undefined) {
        if (eq >= 0) throw new UsageError(`--${name} takes no value`);
        flags.set(name, true);
      } else if (eq >= 0) {
        flags.set(name, arg.slice(eq + 1));
      } else {
        const next = argv[i + 1];
        if (next === undefined) throw new UsageError(`--${name} needs a value (${def.value})`);
        flags.set(name, next);
        i++;
      }
      continue;
    }
    // "-5" or "-" are values; "-x" is a flag we do not have.
    if (/^-[A-Za-z]/.test(arg)) throw new UsageError(`unknown flag ${arg}`);
    positionals.push(arg);
  }
  return { positionals, flags, help: false };
}

/** True when the command line asks for help (a parse error means it does not). */
export function wantsHelp(argv: readonly string[], defs: readonly FlagDef[]): boolean {
  try {
    return parseArgs(argv, defs).help;
  } catch {
    return false;
  }
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
