import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  frontMatterOf,
  MAX_DECLARATION_BYTES,
  parseDeclaredProvenance,
  readLocalDeclaredProvenance,
} from '../../src/format/declared-provenance.js';

const card = (yaml: string): { modelCard: { name: string; text: string }; mergekitConfig: null } => ({
  modelCard: { name: 'README.md', text: `---\n${yaml}---\n\n# A model\n` },
  mergekitConfig: null,
});

describe('frontMatterOf', () => {
  it('takes the YAML between the first two --- lines, with a BOM or CRLF line ends', () => {
    expect(frontMatterOf('---\na: 1\n---\ntext')).toEqual({ yaml: 'a: 1\n' });
    expect(frontMatterOf('\uFEFF---\r\na: 1\r\n---\r\n')).toEqual({ yaml: 'a: 1\n' });
  });

  it('finds none when the card does not start with --- or never closes it', () => {
    expect(frontMatterOf('# Title\n---\na: 1\n---\n')).toBeNull();
    expect(frontMatterOf('---\na: 1\n')).toBeNull();
    expect(frontMatterOf('---\na: 1\n----\n')).toBeNull();
  });
});

describe('parseDeclaredProvenance', () => {
  it('reads base_model as one id or a list, the relation and the tags', () => {
    expect(parseDeclaredProvenance(card('base_model: Qwen/Qwen3-8B\nbase_model_relation: finetune\ntags: [chat, merge]\n'))).toEqual({
      files: ['README.md'],
      baseModels: ['Qwen/Qwen3-8B'],
      relation: 'finetune',
      tags: ['chat', 'merge'],
      mergekit: null,
      problems: [],
    });
    expect(parseDeclaredProvenance(card('base_model:\n- org/a\n- org/b\n')).baseModels).toEqual(['org/a', 'org/b']);
  });

  it('keeps going past a malformed front matter, naming the file in the problem', () => {
    const declared = parseDeclaredProvenance(card('base_model: [unclosed\n'));
    expect(declared.baseModels).toEqual([]);
    expect(declared.problems).toHaveLength(1);
    expect(declared.problems[0]).toMatch(/^README\.md: front matter is not valid YAML \(/);
  });

  it('reports fields of the wrong type instead of guessing', () => {
    const declared = parseDeclaredProvenance(card('base_model: {a: 1}\nbase_model_relation: [merge]\ntags: [ok, 3]\n'));
    expect(declared.baseModels).toEqual([]);
    expect(declared.relation).toBeNull();
    expect(declared.tags).toEqual(['ok']);
    expect(declared.problems).toEqual([
      'README.md: base_model: expected text or a list of text',
      'README.md: base_model_relation: expected text',
      'README.md: tags: entries that are not text were ignored',
    ]);
  });

  it("reads mergekit's recipe: method, base model, dtype, models and their weights", () => {
    const text = [
      'merge_method: ties',
      'base_model: org/base',
      'dtype: bfloat16',
      'models:',
      '  - model: org/a',
      '    parameters: { weight: 0.7, density: 0.5 }',
      '  - model: org/b',
      '    parameters:',
      '      weight: [0.1, 0.9]',
      '',
    ].join('\n');
    expect(parseDeclaredProvenance({ modelCard: null, mergekitConfig: { name: 'mergekit_config.yml', text } })).toEqual({
      files: ['mergekit_config.yml'],
      baseModels: [],
      relation: null,
      tags: [],
      mergekit: {
        method: 'ties',
        baseModel: 'org/base',
        dtype: 'bfloat16',
        models: [
          { model: 'org/a', weight: 0.7 },
          { model: 'org/b', weight: null },
        ],
      },
      problems: [],
    });
  });

  it('lists the models of a slice recipe (layer stacking) without weights', () => {
    const text = 'merge_method: passthrough\nslices:\n  - sources:\n    - model: org/a\n      layer_range: [0, 8]\n  - sources:\n    - model: org/b\n      layer_range: [4, 12]\n';
    const declared = parseDeclaredProvenance({ modelCard: null, mergekitConfig: { name: 'mergekit_config.yml', text } });
    expect(declared.mergekit?.models).toEqual([
      { model: 'org/a', weight: null },
      { model: 'org/b', weight: null },
    ]);
  });
});

describe('readLocalDeclaredProvenance', () => {
  const folder = mkdtempSync(join(tmpdir(), 'provcheck-card-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('declares nothing for a folder without a card, and notes a card too large to read', async () => {
    expect(await readLocalDeclaredProvenance(folder)).toEqual({
      files: [],
      baseModels: [],
      relation: null,
      tags: [],
      mergekit: null,
      problems: [],
    });
    writeFileSync(join(folder, 'README.md'), `---\nbase_model: a\n---\n${'x'.repeat(MAX_DECLARATION_BYTES)}`);
    const declared = await readLocalDeclaredProvenance(folder);
    expect(declared.baseModels).toEqual([]);
    expect(declared.problems).toEqual([
      `README.md: ${MAX_DECLARATION_BYTES + 22} bytes, more than the ${MAX_DECLARATION_BYTES}-byte limit for a declaration; not read`,
    ]);
  });
});
