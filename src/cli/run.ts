import { CommanderError, type Command } from 'commander';
import { ERROR_CODES, WrError, errorMessage } from '../errors.js';
import { VERSION } from '../platform/version.js';
import { jsonDoc } from './context.js';

/**
 * The only place that calls process.exit. Maps outcomes to SPEC exit codes: 0 ok, 1 the job ran but
 * failed, 2 usage or config error, 3 runtime error. User errors print one line, never a stack.
 */
export async function runMain(program: Command, argv = process.argv): Promise<void> {
  // addCommand() does not pass these on, so a subcommand's usage error would exit 1 by itself
  const override = (cmd: Command): void => {
    cmd.version(VERSION, '-V, --version', 'print the version');
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => process.stderr.write(s) });
    cmd.commands.forEach(override);
  };
  override(program);
  let code: number;
  try {
    await program.parseAsync(argv);
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    code = exitCodeFor(err, program.name(), argv.includes('--json') ? commandPath(program.name(), argv) : undefined);
  }
  process.exit(code);
}

/** `wproj rescue stat` from argv: the program and the words before the first option. */
function commandPath(name: string, argv: string[]): string {
  const words = argv.slice(2);
  const end = words.findIndex((w) => w.startsWith('-'));
  return [name, ...(end < 0 ? words : words.slice(0, end))].join(' ');
}

/**
 * Prints the error (one line; a JSON document on stdout as well when `jsonCommand` says `--json`
 * was given) and returns the exit code.
 */
export function exitCodeFor(err: unknown, cmd: string, jsonCommand?: string): number {
  const json = (code: string, message: string): void => {
    if (jsonCommand) process.stdout.write(`${jsonDoc(jsonCommand, { error: { code, message } }, false)}\n`);
  };
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
    json('USAGE', err.message.replace(/^error: /, ''));
    return 2;
  }
  if (err instanceof WrError) {
    process.stderr.write(`${cmd}: ${err.message}\n`);
    json(err.code, err.message);
    return ERROR_CODES[err.code].exit;
  }
  const message = errorMessage(err);
  process.stderr.write(`${cmd}: internal error: ${message}\n`);
  json('INTERNAL', message);
  if (process.env.WR_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
  return 3;
}

/** Parses a non-negative integer option or throws USAGE. */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new WrError('USAGE', `${name} takes a whole number >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
}
