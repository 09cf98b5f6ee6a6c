import path from 'node:path';
import { outputNs } from '../helpers/outputs.js';
import { sinkConformance } from './suite.js';

let out = '';
sinkConformance({
  type: 'test_rescue',
  async start(dir, { failAfter }) {
    out = path.join(dir, 'out.json');
    return { base: dir, file: 'out.json', fmt: 'json', stages: failAfter === undefined ? [{ healthy: 'forever' }] : [{ healthy: `${failAfter} lines` }, { unhealthy: 'forever' }] };
  },
  delivered: async () => outputNs(out),
  // the schedule simulates the backend wparse sees; wprescue writes the file directly
  async up() {},
  async stop() {},
  rejectParams: { reject: '"n":\\d*[05],' },
});
