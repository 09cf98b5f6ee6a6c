import path from 'node:path';
import { outputNs } from '../helpers/outputs.js';
import { sinkConformance } from './suite.js';

let out = '';
sinkConformance({
  type: 'file',
  async start(dir) {
    out = path.join(dir, 'out.json');
    return { base: dir, file: 'out.json', fmt: 'json' };
  },
  delivered: async () => outputNs(out),
  async stop() {},
});
