// The command line's grammar, checked before anything runs: a command's
// options and positionals, parsed strictly (node:util parseArgs), every
// mistake a UsageError naming what was wrong (main exits 2 on one).

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VfioTsError } from '../errors.js';

/**
 * Bad usage: main prints the message (and, for a mistake in the grammar,
 * the command's usage line) and exits 2.
 */
export class UsageError extends VfioTsError {
  declare readonly code: 'EINVAL';
  /** The arguments themselves are wrong (missing, extra, unknown): show the usage line. */
  readonly grammar: boolean;
  constructor(message: string, options: { grammar?: boolean } = {}) {
    super('EINVAL', message);
    this.grammar = options.grammar ?? false;
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What a command's `run` gets: the checked options and positionals. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** A subcommand: its help text, its grammar and what it does. */
export interface Subcommand {
  name: string;
  /** One line for `vfio-ts help`: synopsis and what it does. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  options: OptionSpec;
  /** Positional arguments: names for messages, how many are required. */
  positionals: { names: string[]; required: number };
  /** Exit status, or 'running' for a command that exits on its own (a server until a signal). */
  run(args: Parsed): Promise<number | 'running'>;
}

/** Parses `argv` for `cmd`; 'help' when --help/-h was given (anything else is then ignored). */
export function parseCommand(cmd: Subcommand, argv: string[]): Parsed | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${cmd.name}: ${parseArgsProblem(err as Error & { code?: string })}`, { grammar: true });
  }
  const { names, required } = cmd.positionals;
  const p = parsed.positionals;
  if (p.length < required) throw new UsageError(`${cmd.name} needs ${names.slice(p.length, required).join(' and ')}`, { grammar: true });
  if (p.length > names.length) {
    const extra = p
      .slice(names.length)
      .map((x) => `'${x}'`)
      .join(' ');
    throw new UsageError(
      `${cmd.name}: unexpected argument${p.length - names.length > 1 ? 's' : ''} ${extra} (${names.length ? `it takes ${names.join(' ')}` : 'it takes none'})`,
      { grammar: true },
    );
  }
  return { values: parsed.values as Parsed['values'], positionals: p };
}

// parseArgs' messages mention "To specify a positional argument..." hints written for
// programmers; ours name the option and say what it wants.
function parseArgsProblem(err: Error & { code?: string }): string {
  const opt = /'(-[^']*)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt ?? err.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(err.message)
        ? `${opt?.split(' ')[0] ?? 'an option'} needs a value`
        : `${opt?.split(' ')[0] ?? 'an option'} takes no value`;
    default:
      return err.message;
  }
}
