import path from 'node:path';
import { LINES, benchWorkRoot, scratch, writeInput } from './lib.mjs';
const dir = scratch('prof2');
const input = path.join(dir, 'input.log');
writeInput(input, LINES);
const root = benchWorkRoot(path.join(dir, 'wr'), { input, connector: '    type: file\n    params: { file: out.json, fmt: json }' });
console.log(root);
