import path from 'node:path';
import { LINES, benchWorkRoot, scratch, writeInput, timeCli, bareReadSplitWrite, clean } from './lib.mjs';
const dir = scratch('prof');
const input = path.join(dir, 'input.log');
writeInput(input, LINES);
for (let i = 0; i < 3; i++) {
  const root = benchWorkRoot(path.join(dir, `wr-${i}`), { input, connector: '    type: file\n    params: { file: out.json, fmt: json }' });
  const { seconds } = await timeCli('wparse', ['batch', '-w', root]);
  const b = await bareReadSplitWrite(input, path.join(dir, 'bare.log'));
  console.log('wparse', seconds.toFixed(3), 'bare', b.seconds.toFixed(3), 'ratio', (b.seconds / seconds).toFixed(3));
  clean(root);
}
console.log(dir);
