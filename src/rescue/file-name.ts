/**
 * Rescue file names: `<sink>-YYYY-MM-DD_HH:MM:SS-<seq>.dat` (`.dat.lock` while being written), time
 * in UTC. Parsed from the right, so a sink name may itself contain `-`. Anything that does not
 * parse exactly is rejected, never guessed at.
 */
export interface RescueName {
  sink: string;
  /** Epoch ms of the second in the name. */
  time: number;
  seq: number;
  locked: boolean;
}

const RE = /^(.+)-(\d{4})-(\d{2})-(\d{2})_(\d{2}):(\d{2}):(\d{2})-(\d{1,9})\.dat(\.lock)?$/;
const SINK_RE = /^[A-Za-z0-9_.[\]-]+$/;

export function isValidSinkName(name: string): boolean {
  return SINK_RE.test(name) && name !== '.' && !name.includes('..');
}

export function formatRescueTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // 2026-11-22T14:13:50.000Z
  return `${d.slice(0, 10)}_${d.slice(11, 19)}`;
}

export function formatRescueName(n: RescueName): string {
  if (!isValidSinkName(n.sink)) throw new Error(`invalid sink name for a rescue file: ${JSON.stringify(n.sink)}`);
  return `${n.sink}-${formatRescueTime(n.time)}-${n.seq}.dat${n.locked ? '.lock' : ''}`;
}

export function parseRescueName(name: string): RescueName | undefined {
  const m = RE.exec(name);
  if (!m) return undefined;
  const [, sink, y, mo, d, h, mi, s, seq, lock] = m as unknown as string[];
  if (!sink || !isValidSinkName(sink)) return undefined;
  const time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (formatRescueTime(time) !== `${y}-${mo}-${d}_${h}:${mi}:${s}`) return undefined; // e.g. month 13
  return { sink, time, seq: Number(seq), locked: lock !== undefined };
}

/** A rescue job id is the path relative to rescue.path: `<group>/<file>.dat`. */
export interface RescueJobPath {
  group: string;
  name: RescueName;
}

export function parseRescueJobId(id: string): RescueJobPath | undefined {
  const parts = id.split('/');
  if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  const name = parseRescueName(parts[parts.length - 1]!);
  if (!name || name.locked) return undefined;
  return { group: parts.slice(0, -1).join('/'), name };
}

/** Sort key so that string order is (time, seq) order. */
export function rescueRank(n: RescueName): string {
  return `${String(n.time).padStart(15, '0')}-${String(n.seq).padStart(9, '0')}`;
}
