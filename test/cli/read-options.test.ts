import { describe, expect, it } from 'vitest';
import { parseReadOptions } from '../../src/cli/read-options.js';
import { UsageError } from '../../src/errors.js';

describe('--map and --floor', () => {
  it('passes rules on as typed and the floor when given', () => {
    expect(parseReadOptions({})).toEqual({});
    expect(parseReadOptions({ map: ['^backbone\\.=model.', 'a=b'], floor: 'all' })).toEqual({ map: ['^backbone\\.=model.', 'a=b'], floor: 'all' });
    expect(parseReadOptions({ floor: 'suspect' })).toEqual({ floor: 'suspect' });
  });

  it('refuses a rule without replacement, a bad regex and an unknown floor, naming the option', () => {
    expect(() => parseReadOptions({ map: ['no-equals'] })).toThrow(UsageError);
    expect(() => parseReadOptions({ map: ['no-equals'] })).toThrow(/--map 'no-equals': expected 'regex=replacement'/);
    expect(() => parseReadOptions({ map: ['(=x'] })).toThrow(/--map '\(=x'/);
    expect(() => parseReadOptions({ floor: 'parents' })).toThrow(/--floor: expected suspect or all, got 'parents'/);
  });
});
