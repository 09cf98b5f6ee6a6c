import { startCollector, type Collector } from '../helpers/http-collector.js';
import { sinkConformance } from './suite.js';

/**
 * A real NDJSON collector. With `failAfter` it answers 503 once it has taken that many lines, until
 * `up()`; records whose `n` is a multiple of 5 can be refused with a 400 (a request holding one is
 * rejected whole, so the sink is run with one line per POST for that case).
 */
let collector: Collector | undefined;
let down = false;
let failAfter: number | undefined;

const n = (line: string): number => (JSON.parse(line) as { n: number }).n;

sinkConformance({
  type: 'http',
  async start(_dir, opts) {
    down = false;
    failAfter = opts.failAfter;
    collector = await startCollector((req) => {
      if (down || (failAfter !== undefined && collector!.delivered.length >= failAfter)) {
        down = true;
        return { status: 503 };
      }
      if (req.lines.some((l) => n(l) % 5 === 0 && l.includes('"reject-me"'))) return { status: 400, body: 'bad record' };
      return { status: 200 };
    });
    return { url: collector.url };
  },
  delivered: async () => collector!.delivered.map(n),
  async up() {
    down = false;
    failAfter = undefined;
  },
  async stop() {
    await collector?.close();
    collector = undefined;
  },
  // the receiver refuses records marked by the id_field below, one line per request
  rejectParams: { max_lines: 1, id_field: 'reject-me' },
});
