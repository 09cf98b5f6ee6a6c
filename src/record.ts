/**
 * The data model every layer shares, at the bottom of the import graph: a record is an ordered map
 * of field name to scalar, and a sink entry is one record (or one unparsed line) on its way to a
 * sink, carrying the id that keyed sinks and replay deduplicate on.
 */
export type Scalar = string | number | boolean | null;
export type FieldValue = Scalar;
export type Rec = Record<string, FieldValue>;

export interface SinkEntry {
  /** `<source key>:<position>` of the input line; stable across re-reads. */
  id: string;
  kind: 'record' | 'raw';
  record?: Rec;
  raw?: string;
  /**
   * The record's JSON text exactly as JSON.stringify writes it, when it is already at hand (replay
   * reads it from the rescue line; the pipeline serialises once and shares it between the sink and
   * the rescue line): the json formatter then writes it as is instead of stringifying again.
   */
  json?: string;
  /**
   * Every string of `record` is a piece of an input line with no `"`, `\\` or control character
   * (a regex rule's record of a line `plainLines` passed): its JSON text needs no escaping scan.
   */
  plain?: boolean;
}
