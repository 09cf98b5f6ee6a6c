import type { SinkTypeSpec } from '../contract.js';
import { BlackholeSink } from './blackhole-sink.js';

export const blackholeSinkType: SinkTypeSpec = { params: {}, create: () => new BlackholeSink() };
