/**
 * What a subcommand of `ibt` is (its operands, options, help and example, in one
 * definition), and how its command line is read.
 *
 * The help is generated from the definition, so an option cannot be documented without being
 * accepted, nor accepted without being documented. Reading refuses an option the subcommand
 * does not take instead of ignoring it: `ibt backup SRC --storage DIR` quietly starting a new
 * chain without the storage is worse than an error. An option that another subcommand takes
 * is named as such (the user probably meant that subcommand or misplaced the option); any
 * other is unknown. Both are `ESYNTAX` (exit 101, rdiff's usage error).
 */
import { parseArgs } from 'node:util';
import { BackupError } from '../errors.js';

/** One option of a subcommand. */
export interface OptionSpec {
  /** `string` options take a value; `boolean` ones are flags. */
  type: 'string' | 'boolean';
  /** The option may be repeated; its values are collected in order. */
  multiple?: boolean;
  /** The placeholder of the value in the help, e.g. `DIR`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/** A subcommand's arguments, once read. */
export class CommandLine {
  constructor(
    /** The operands (positional arguments), in order; as many as the subcommand's `operands`. */
    readonly operands: readonly string[],
    private readonly values: Readonly<Record<string, unknown>>,
  ) {}

  /** The value of a `string` option, if given. */
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  /** The values of a repeatable option, if given. */
  strings(name: string): string[] | undefined {
    const v = this.values[name];
    return Array.isArray(v) ? v.map(String) : undefined;
  }

  /** True when a flag was given, else undefined (so the API's default applies). */
  flag(name: string): true | undefined {
    return this.values[name] === true ? true : undefined;
  }
}

/** A subcommand of `ibt`: everything its help and its reading need, and what it does. */
export interface Subcommand {
  /** The word after `ibt`. */
  name: string;
  /** Names of its operands, for the usage line (`SOURCE`, `NAME TARGET`). */
  operands: readonly string[];
  /** One line for `ibt --help`. */
  summary: string;
  /** What it does, for its own help. */
  description: string;
  /** Its options, by long name (without `--`). */
  options: Readonly<Record<string, OptionSpec>>;
  /** A typical command line, shown at the end of the help. */
  example: string;
  /**
   * The operation can be stopped cleanly: SIGINT and SIGTERM abort `signal` rather than
   * killing the process (see `signals.ts`).
   */
  abortable: boolean;
  /**
   * Do the work and print its output. Failures are thrown as {@link BackupError}s, which the
   * caller prints as `ibt: CODE: message`.
   */
  run(line: CommandLine, signal: AbortSignal | undefined): Promise<void>;
}

/** `--work-dir`, as every subcommand takes it. */
export const WORK_DIR: OptionSpec = { type: 'string', value: 'DIR', help: 'the repository when there is no --repo, else where its cache lives (default: $TMP, else the OS temp dir)' };

/** `--repo`: the repository, by URI. */
export const REPO: OptionSpec = {
  type: 'string',
  value: 'URI',
  help: 'repository: a path, s3:BUCKET/PREFIX, b2:BUCKET/PREFIX (default: $IBT_REPOSITORY, else the work directory)',
};

const HELP: OptionSpec = { type: 'boolean', help: 'show this help' };

/** The help of `cmd`: usage, description, options and example. */
export function helpOf(cmd: Subcommand): string {
  const lines = [`Usage: ibt ${[cmd.name, ...cmd.operands].join(' ')} [options]`, '', cmd.description, '', 'Options:'];
  for (const [name, spec] of Object.entries(cmd.options)) lines.push(optionLine(`    --${name}`, spec));
  lines.push(optionLine('-h, --help', HELP), '', 'Example:', `  ${cmd.example}`, '');
  return lines.join('\n');
}

function optionLine(flag: string, spec: OptionSpec): string {
  const left = spec.value === undefined ? flag : `${flag} ${spec.value}`;
  return `  ${left.padEnd(28)} ${spec.help}${spec.multiple ? ' (repeatable)' : ''}`;
}

/**
 * Read `args` as the command line of `cmd`; `all` is every subcommand, to name the ones that
 * take an option `cmd` does not. Returns undefined when `--help` was asked for.
 *
 * @throws {@link BackupError} `ESYNTAX` for an option `cmd` does not take, a missing or
 *   unexpected value, or the wrong number of operands.
 */
export function readCommandLine(cmd: Subcommand, all: readonly Subcommand[], args: string[]): CommandLine | undefined {
  // First pass, with every subcommand's options so a foreign option's value is not taken for
  // an operand: find options that are not this subcommand's.
  const known: Record<string, OptionSpec> = {};
  for (const c of all) Object.assign(known, c.options);
  const { tokens } = parseArgs({ args, options: config(known), strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === 'help' || Object.hasOwn(cmd.options, t.name)) continue;
    const takers = all.filter((c) => c !== cmd && Object.hasOwn(c.options, t.name)).map((c) => c.name);
    if (takers.length === 0) throw usage(`unknown option ${t.rawName}`);
    const verb = takers.length === 1 ? 'takes' : 'take';
    throw usage(`${t.rawName} is not an option of ${cmd.name} (${listed(takers)} ${verb} it)`);
  }
  // Second pass, strict, with this subcommand's options: values missing or given to a flag.
  let parsed;
  try {
    parsed = parseArgs({ args, options: config(cmd.options), strict: true, allowPositionals: true });
  } catch (e) {
    throw usage((e as Error).message.replace(/\s*\n\s*/g, ' '));
  }
  if (parsed.values.help) return undefined;
  const want = cmd.operands.length;
  if (parsed.positionals.length !== want) {
    const got = parsed.positionals.length;
    throw usage(`expects ${cmd.operands.join(' ')}, got ${got === 0 ? 'no operand' : `${got} operand${got === 1 ? '' : 's'}`}`);
  }
  return new CommandLine(parsed.positionals, parsed.values);
}

function config(options: Readonly<Record<string, OptionSpec>>) {
  const out: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, { type, multiple }] of Object.entries(options)) out[name] = multiple ? { type, multiple } : { type };
  return out;
}

function usage(message: string): BackupError {
  return new BackupError('ESYNTAX', message);
}

function listed(names: string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
