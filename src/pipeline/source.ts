/**
 * What the pipeline needs of a source, whatever it reads (files, stdin, a JetStream consumer): a
 * stream of line batches, each of which the pipeline commits, in order, once every record of it is
 * delivered or durable in rescue. Committing is the source's business: a file source moves its
 * checkpoint, a NATS source acks its messages. A batch never committed (crash) is read again.
 */
export interface SourceBatch {
  lines: string[];
  /** The record id of line i is `${idPrefix}${positions[i]}` (SPEC section 4: stable across re-reads). */
  idPrefix: string;
  positions: number[];
  /** `plain[i]` is 1 when line i has no `"`, `\\` or control character (platform/plain-lines.ts); absent: unknown. */
  plain?: Uint8Array;
  /**
   * Marks the first `count` lines (default all) as done; called at most once, in batch order, and
   * detached from the batch (a function property, not a method using `this`).
   */
  commit: (count?: number) => void;
  /**
   * The commit of the first `count` lines, prepared now, while the batch's bytes are at hand (a
   * file source hashes the bytes before line `count` for its checkpoint's `tail`); absent, a
   * partial commit is `commit(count)`. The pipeline asks it when a line budget (`-n`) cuts a batch.
   */
  commitPart?: (count: number) => () => void;
}

export interface Source {
  readonly key: string;
  batches(signal: AbortSignal): AsyncIterable<SourceBatch>;
  /** Releases what the source holds (descriptors, connections); pending work is not committed. */
  close(): Promise<void>;
}
