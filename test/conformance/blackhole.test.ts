import { sinkConformance } from './suite.js';

sinkConformance({
  type: 'blackhole',
  start: async () => ({}),
  async stop() {},
});
