/** A table of figures a command returns; only `src/cli/` draws it (as text or JSON). */
export interface StatTable {
  title: string;
  headers: string[];
  rows: Array<Array<string | number>>;
}

/** Progress of a run with a known total, for a terminal bar drawn by the CLI. */
export interface Progress {
  done: number;
  total: number;
}
