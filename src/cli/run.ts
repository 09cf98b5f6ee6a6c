import { CommanderError, type Command } from 'commander';
import { ERROR_CODES, WrError, errorMessage } from '../errors.js';
import { VERSION } from '../platform/version.js';
import { jsonDoc, workRootOption } from './context.js';

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
  // SPEC section 1: every command takes -w, so also before its subcommand (`wproj -w DIR check`);
  // the program's option takes -w wherever it stands, and the command that runs gets its value
  program.addOption(workRootOption());
  program.hook('preAction', (_program, action) => {
    const given = program.getOptionValue('workRoot') as string | undefined;
    if (given !== undefined && action.getOptionValue('workRoot') === undefined) action.setOptionValue('workRoot', given);
  });
  let code: number;
  try {
    await program.parseAsync(argv);
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    code = exitCodeFor(err, program.name(), argv.includes('--json') ? commandPath(program.name(), argv) : undefined);
  }
  process.exit(code);
}

/** `wproj rescue stat` from argv: the program and the words before the first option but `-w`. */
function commandPath(name: string, argv: string[]): string {
  const words: string[] = [];
  const rest = argv.slice(2);
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    // `-w DIR` may stand anywhere among the words, any number of times, in any of its spellings
    if (w === '-w' || w === '--work-root') i++;
    else if (w.startsWith('-w') || w.startsWith('--work-root=')) continue;
    else if (w.startsWith('-')) break;
    else words.push(w);
  }
  return [name, ...words].join(' ');
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
    // SPEC section 1 names the code a missing work root exits with: the terminal line shows it too
    const code = err.code === 'CONFIG_NOT_FOUND' ? `${err.code}: ` : '';
    process.stderr.write(`${cmd}: ${code}${err.message}\n`);
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
