import { describe, expect, it } from 'vitest';
import { expandEnv, missingEnv } from '../../src/sinks/expand-env.js';

describe('${VAR} in sink params', () => {
  const env = { TOKEN: 'abc', EMPTY: '' };
  it('expands set variables and defaults, keeps $${ literal', () => {
    expect(expandEnv('Bearer ${TOKEN}', env)).toBe('Bearer abc');
    expect(expandEnv('${NOPE:-fallback}/${EMPTY:-x}', env)).toBe('fallback/x');
    expect(expandEnv('$${TOKEN} and $TOKEN', env)).toBe('${TOKEN} and $TOKEN');
  });
  it('names unset variables that have no default', () => {
    expect(missingEnv('${TOKEN} ${NOPE} ${ALSO:-d} $${LIT}', env)).toEqual(['NOPE']);
  });
});
