/**
 * Every error the product raises on purpose carries a stable `code` from this table. The CLI maps
 * the code's class to an exit code (SPEC section 7); code matches on `code`, never on message text.
 * `permanent` tells a retrying runtime (the replay queue) that trying again cannot help: the job
 * is dead at once. Every code here is raised somewhere and listed in the README (a test checks).
 */
export const ERROR_CODES = {
  USAGE: { exit: 2, meaning: 'bad command-line arguments' },
  CONFIG_INVALID: { exit: 2, meaning: 'a config file is malformed or has an unknown or wrong-typed key' },
  CONFIG_NOT_FOUND: { exit: 2, meaning: 'a required config file or work root is missing' },
  RESCUE_DIR_LOCKED: { exit: 2, meaning: 'another wprescue already owns this rescue directory' },
  SNAPSHOT_CORRUPT: { exit: 3, meaning: 'the queue snapshot and its backup are unreadable, or WAL events between the snapshot and the WAL are missing' },
  JOB_ILLEGAL_TRANSITION: { exit: 3, meaning: 'a job state change not allowed by the transition table' },
  SINK_UNAVAILABLE: { exit: 3, meaning: 'a sink backend is down (connection refused/reset, timeout, 5xx, ENOSPC)' },
  RESCUE_NAME_INVALID: { exit: 2, meaning: 'a rescue file name does not parse as <sink>-<UTC time>-<seq>.dat' },
  RESCUE_WRITE_FAILED: { exit: 3, meaning: 'a rescue file could not be written (disk full, permission)' },
  REPLAY_ROUTE_UNKNOWN: { exit: 1, permanent: true, meaning: 'a rescue file names a group or sink the config does not have' },
  RESCUE_NOT_A_FILE: { exit: 1, permanent: true, meaning: 'a rescue .dat is not a regular file (a FIFO, socket or device): it is quarantined unread' },
  SOURCE_FAILED: { exit: 3, meaning: 'a source could not be read' },
  NATS_INIT_FAILED: { exit: 3, meaning: '`wproj nats init` could not reach the NATS cluster or create a stream' },
  IO_ERROR: { exit: 3, meaning: 'an unexpected file-system error' },
  INTERNAL: { exit: 3, meaning: 'a bug: please report it with the log file' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class WrError extends Error {
  readonly code: ErrorCode;
  override readonly cause: unknown;

  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(message);
    this.name = 'WrError';
    this.code = code;
    this.cause = cause;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

/** True for an error whose code says that retrying cannot help. */
export function isPermanent(err: unknown): boolean {
  return err instanceof WrError && (ERROR_CODES[err.code] as { permanent?: boolean }).permanent === true;
}

export function isWrError(err: unknown, code?: ErrorCode): err is WrError {
  return err instanceof WrError && (code === undefined || err.code === code);
}

/** A one-line description of anything thrown (never `[object Object]`). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/** The errno code of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
