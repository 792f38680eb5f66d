import { describe, expect, it } from 'vitest';
import { pinnedInput } from '../../src/cli/reproduce-command.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('pinnedInput', () => {
  it('pins a Hub input to the recorded commit in place of its branch, tag or default', () => {
    expect(pinnedInput('org/name', SHA)).toBe(`org/name@${SHA}`);
    expect(pinnedInput('org/name@v1.0', SHA)).toBe(`org/name@${SHA}`);
    expect(pinnedInput('org/name@refs/pr/1', SHA)).toBe(`org/name@${SHA}`);
    expect(pinnedInput('hf://org/name@main', SHA)).toBe(`hf://org/name@${SHA}`);
    expect(pinnedInput('legacy-name', SHA)).toBe(`legacy-name@${SHA}`);
  });

  it('leaves local inputs, and anything that is not a repo id, as typed', () => {
    expect(pinnedInput('org/name', null)).toBe('org/name');
    expect(pinnedInput('./models/suspect', SHA)).toBe('./models/suspect');
    expect(pinnedInput('/abs/path/model.safetensors', SHA)).toBe('/abs/path/model.safetensors');
  });
});
