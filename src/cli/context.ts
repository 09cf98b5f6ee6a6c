import { existsSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { WrError } from '../errors.js';
import { VERSION } from '../platform/version.js';

/** `-w`: defaults to $WPR_WORK_ROOT, else the current directory (SPEC section 1). */
export function workRootOption(): Option {
  return new Option('-w, --work-root <dir>', 'work root (default: $WPR_WORK_ROOT, else the current directory)');
}

/** The files that make a directory a work root; without them every command but `wproj init` refuses. */
export const WORK_ROOT_FILES = ['conf/wparse.yaml', 'conf/wpsrc.yaml'] as const;

/**
 * Resolves `-w` (or $WPR_WORK_ROOT, or the cwd) and checks that it is a work root, before anything
 * is created: a wrong directory is CONFIG_NOT_FOUND naming what is missing, never an empty success.
 */
export function resolveWorkRoot(opt: string | undefined): string {
  const root = path.resolve(opt ?? (process.env.WPR_WORK_ROOT || '.'));
  if (!existsSync(root)) throw new WrError('CONFIG_NOT_FOUND', `work root ${root} does not exist`);
  const missing = WORK_ROOT_FILES.filter((f) => !existsSync(path.join(root, f)));
  if (missing.length) {
    throw new WrError('CONFIG_NOT_FOUND', `${root} is not a work root: missing ${missing.join(' and ')} (pass -w DIR or set WPR_WORK_ROOT; \`wproj init\` creates one)`);
  }
  return root;
}

/** The work root as given, without the check (`wproj init`). */
export function workRootPath(opt: string | undefined): string {
  return path.resolve(opt ?? (process.env.WPR_WORK_ROOT || '.'));
}

export function addCommonHelp(cmd: Command): Command {
  return cmd.addHelpText('after', '\nExit codes: 0 success, 1 the job ran but failed, 2 usage or config error, 3 runtime error.');
}

/** The daemons' help footer: signals and where logs go. */
export function addDaemonHelp(cmd: Command): Command {
  return addCommonHelp(cmd).addHelpText(
    'after',
    'Signals: SIGTERM / SIGINT stop gracefully; SIGHUP reloads the config (daemon) and reopens the log file; SIGUSR1 reopens the log file.\nLogs: JSON lines in log.file (conf/wparse.yaml), default ./data/logs/<command>.log; /dev/stderr for containers.',
  );
}

/** `--json` output: every document has `version`, `command` and `ok`, then the command's own keys. */
export function jsonDoc(command: string, payload: object, ok = true): string {
  return JSON.stringify({ version: VERSION, command, ok, ...payload });
}
