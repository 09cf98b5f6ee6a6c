import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Publishes lines to a subject with their index as `Nats-Msg-Id`, `lanes` awaiting acks at once;
 * a publish that fails (a node killed, a leader election) is retried with the same id, so the
 * stream holds each line once, as a careful producer would do it.
 */
export async function publishLines(nc: NatsConnection, subject: string, lines: string[], lanes = 128): Promise<void> {
  const js = jetstream(nc, { timeout: 5000 });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < lines.length) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        try {
          await js.publish(subject, lines[i], { msgID: `line-${i}`, timeout: 5000 });
          break;
        } catch (err) {
          if (attempt > 100) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/**
 * A producer that keeps publishing `line(i)` for i = 0, 1, 2, … (id `line-<i>`, retried like
 * `publishLines`) until `stop()`, which resolves to how many lines were published. A test that
 * needs a consumer caught with messages in hand drives it with this: the flow never runs dry.
 */
export function steadyProducer(nc: NatsConnection, subject: string, line: (i: number) => string, lanes = 8): { published: () => number; stop: () => Promise<number> } {
  const js = jetstream(nc, { timeout: 5000 });
  let next = 0;
  let done = 0;
  let stopped = false;
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        try {
          await js.publish(subject, line(i), { msgID: `line-${i}`, timeout: 5000 });
          break;
        } catch (err) {
          if (attempt > 100) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      done++;
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  return {
    published: () => done,
    stop: async () => {
      stopped = true;
      await running;
      return next;
    },
  };
}

/** Every message of a stream, in order, as text (an ordered consumer, so the stream is not changed). */
export async function readStream(nc: NatsConnection, stream: string): Promise<string[]> {
  const js = jetstream(nc);
  const c = await js.consumers.get(stream);
  const total = (await c.info()).num_pending;
  const out: string[] = [];
  while (out.length < total) {
    const it = await c.fetch({ max_messages: Math.min(1000, total - out.length), expires: 2000 });
    for await (const m of it) out.push(m.string());
  }
  return out;
}
