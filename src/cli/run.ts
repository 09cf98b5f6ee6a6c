import { CommanderError, type Command } from 'commander';
import { ERROR_CODES, WrError, errorMessage } from '../errors.js';

/**
 * The only place that calls process.exit. Maps outcomes to SPEC exit codes: 0 ok, 1 the job ran but
 * failed, 2 usage or config error, 3 runtime error. User errors print one line, never a stack.
 */
export async function runMain(program: Command, argv = process.argv): Promise<void> {
  // addCommand() does not pass these on, so a subcommand's usage error would exit 1 by itself
  const override = (cmd: Command): void => {
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
    code = exitCodeFor(err, program.name());
  }
  process.exit(code);
}

export function exitCodeFor(err: unknown, cmd: string): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
    return 2;
  }
  if (err instanceof WrError) {
    process.stderr.write(`${cmd}: ${err.message}\n`);
    return ERROR_CODES[err.code].exit;
  }
  const message = errorMessage(err);
  process.stderr.write(`${cmd}: internal error: ${message}\n`);
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
