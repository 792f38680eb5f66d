import { describe, expect, it } from 'vitest';
import type { DeclaredProvenance, ModelVerdict } from '../../src/report-schema.js';
import { checkClaims, namesSameModel } from '../../src/verdict/claims.js';

const NOTHING: DeclaredProvenance = { files: [], baseModels: [], relation: null, tags: [], mergekit: null, problems: [] };
const PARENTS = ['models/Nex-N2-Pro', 'Qwen/Qwen3.5'];
const BLEND: Pick<ModelVerdict, 'kind' | 'weights' | 'parent'> = { kind: 'blend', weights: [0.6, 0.4], parent: null };
const DERIVED: Pick<ModelVerdict, 'kind' | 'weights' | 'parent'> = { kind: 'derived', weights: [0, 1], parent: 1 };

const check = (declared: Partial<DeclaredProvenance>, verdict = BLEND) =>
  checkClaims({ declared: { ...NOTHING, ...declared }, verdict, parentSources: PARENTS, minWeight: 0.02 });

describe('checkClaims', () => {
  it('finds the undisclosed merge of the issue: declared a fine-tune of Qwen3.5, measured a 0.6/0.4 blend', () => {
    const claims = check({ files: ['README.md'], baseModels: ['Qwen/Qwen3.5'], relation: 'finetune' });
    expect(claims.declaredAs).toBe('finetune');
    expect(claims.measuredAs).toBe('merge');
    expect(claims.parentsDeclared).toEqual([false, true]);
    expect(claims.findings).toEqual([{ kind: 'undisclosed-merge' }, { kind: 'parent-not-declared', parent: 0 }]);
    expect(claims.status).toBe('inconsistent');
    expect(claims.undisclosedMerge).toBe(true);
  });

  it('counts a blend without any declaration as undisclosed too', () => {
    const claims = check({});
    expect(claims.declaredAs).toBe('nothing');
    expect(claims.findings).toEqual([{ kind: 'undisclosed-merge' }]);
    expect(claims.undisclosedMerge).toBe(true);
  });

  it('accepts a merge declared by relation, by tag or by a mergekit recipe', () => {
    for (const declared of [
      { baseModels: PARENTS, relation: 'merge' },
      { baseModels: PARENTS, tags: ['mergekit'] },
      { mergekit: { method: 'linear', baseModel: null, dtype: null, models: PARENTS.map((model) => ({ model, weight: null })) } },
    ]) {
      const claims = check(declared);
      expect(claims.declaredAs).toBe('merge');
      expect(claims.findings).toEqual([]);
      expect(claims.status).toBe('consistent');
      expect(claims.undisclosedMerge).toBe(false);
    }
  });

  it("normalises mergekit's weights as its linear merge does, and flags one more than 0.02 off", () => {
    const recipe = (a: number, b: number): Partial<DeclaredProvenance> => ({
      mergekit: { method: 'linear', baseModel: null, dtype: null, models: [{ model: 'org/Nex-N2-Pro', weight: a }, { model: 'Qwen3.5', weight: b }] },
    });
    const agreeing = check(recipe(3, 2));
    expect(agreeing.declaredWeights).toEqual([0.6, 0.4]);
    expect(agreeing.findings).toEqual([]);
    const differing = check(recipe(1, 1));
    expect(differing.declaredWeights).toEqual([0.5, 0.5]);
    expect(differing.findings).toEqual([
      { kind: 'declared-weight-differs', parent: 0, declared: 0.5, measured: 0.6 },
      { kind: 'declared-weight-differs', parent: 1, declared: 0.5, measured: 0.4 },
    ]);
  });

  it('flags a declared merge whose weights are one parent plus training', () => {
    const claims = check({ baseModels: PARENTS, relation: 'merge' }, DERIVED);
    expect(claims.measuredAs).toBe('finetune');
    expect(claims.findings).toEqual([{ kind: 'merge-not-measured' }]);
  });

  it('agrees with a true fine-tune declaration, and is silent when nothing is declared or measured', () => {
    expect(check({ baseModels: ['Qwen/Qwen3.5'], relation: 'finetune' }, DERIVED).status).toBe('consistent');
    expect(check({}, DERIVED).status).toBe('no-declaration');
    expect(check({ baseModels: ['Qwen/Qwen3.5'] }, { kind: 'mixed', weights: null, parent: null }).status).toBe('not-comparable');
  });
});

describe('namesSameModel', () => {
  it('matches a Hub id with a local download by repository name, case-insensitively', () => {
    expect(namesSameModel('Qwen/Qwen3.5', 'Qwen/Qwen3.5')).toBe(true);
    expect(namesSameModel('Qwen/Qwen3.5', '/data/models/qwen3.5/')).toBe(true);
    expect(namesSameModel('Qwen/Qwen3.5', 'downloads/Qwen3.5/model.safetensors')).toBe(true);
    expect(namesSameModel('https://huggingface.co/Qwen/Qwen3.5', 'Qwen3.5')).toBe(true);
    expect(namesSameModel('Qwen/Qwen3.5', 'Qwen/Qwen3.5-Instruct')).toBe(false);
    expect(namesSameModel('', 'a')).toBe(false);
  });
});
