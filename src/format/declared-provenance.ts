import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { DeclaredProvenance } from '../report-schema.js';
import type { HubSession, RepoFile } from '../source/hub/hub-session.js';
import { hubListing, readHubFile, type HubLocation } from './hub-files.js';

/** The model card; its YAML front matter holds the Hub's metadata. */
export const MODEL_CARD_FILE = 'README.md';
/** mergekit writes the recipe it ran under this name into every merged model it saves. */
export const MERGEKIT_CONFIG_FILES = ['mergekit_config.yml', 'mergekit_config.yaml'] as const;

/**
 * Model cards with long benchmark tables run to a few hundred kB; a recipe to a few kB.
 * A file larger than this is not a card anyone wrote by hand, and reading it whole into
 * memory to look for metadata is not worth it: it is reported as unread.
 */
export const MAX_DECLARATION_BYTES = 1_000_000;

/** The texts a declaration is read from; null: the file is not there. */
export interface DeclarationFiles {
  readonly modelCard: { readonly name: string; readonly text: string } | null;
  readonly mergekitConfig: { readonly name: string; readonly text: string } | null;
  /** Files that exist but could not be read (too large, unreadable): one line each. */
  readonly problems?: readonly string[];
}

/**
 * What the files say about the model's origin. Never throws on a bad card or recipe: a
 * malformed declaration is itself a finding (recorded in `problems`), and the weights
 * are analysed all the same. Reading the weights is what the tool is for; the card is
 * what it checks.
 */
export function parseDeclaredProvenance(files: DeclarationFiles): DeclaredProvenance {
  const declared: DeclaredProvenance = {
    files: [],
    baseModels: [],
    relation: null,
    tags: [],
    mergekit: null,
    problems: [...(files.problems ?? [])],
  };
  if (files.modelCard !== null) {
    const { name, text } = files.modelCard;
    const frontMatter = frontMatterOf(text);
    if (frontMatter !== null) {
      declared.files.push(name);
      const metadata = parseYamlMapping(frontMatter.yaml, `${name}: front matter`, declared.problems);
      if (metadata !== null) {
        declared.baseModels = stringList(metadata.base_model, `${name}: base_model`, declared.problems);
        declared.relation = singleString(metadata.base_model_relation, `${name}: base_model_relation`, declared.problems);
        declared.tags = stringList(metadata.tags, `${name}: tags`, declared.problems);
      }
    }
  }
  if (files.mergekitConfig !== null) {
    const { name, text } = files.mergekitConfig;
    declared.files.push(name);
    const config = parseYamlMapping(text, name, declared.problems);
    if (config !== null) declared.mergekit = mergekitRecipe(config, name, declared.problems);
  }
  return declared;
}

/**
 * Reads the declaration from a local model folder. A missing file is no declaration; a
 * file too large or unreadable is a problem noted in the result.
 */
export async function readLocalDeclaredProvenance(folder: string): Promise<DeclaredProvenance> {
  const problems: string[] = [];
  const modelCard = await readSmallText(folder, MODEL_CARD_FILE, problems);
  let mergekitConfig: DeclarationFiles['mergekitConfig'] = null;
  for (const name of MERGEKIT_CONFIG_FILES) {
    mergekitConfig = await readSmallText(folder, name, problems);
    if (mergekitConfig !== null) break;
  }
  return parseDeclaredProvenance({ modelCard, mergekitConfig, problems });
}

/**
 * Reads the declaration of a Hub input from its repo at the input's sha, with the same
 * rules as a local folder: a missing file is no declaration, one too large or that
 * cannot be fetched is a problem noted in the result.
 */
export async function readHubDeclaredProvenance(location: HubLocation, hub: HubSession): Promise<DeclaredProvenance> {
  const listed = new Map((await hubListing(location, hub)).map((file) => [file.path, file]));
  const problems: string[] = [];
  const read = async (name: string): Promise<{ name: string; text: string } | null> => {
    const file = listed.get(name);
    return file === undefined ? null : readSmallHubText(location, hub, file, problems);
  };
  const modelCard = await read(MODEL_CARD_FILE);
  let mergekitConfig: DeclarationFiles['mergekitConfig'] = null;
  for (const name of MERGEKIT_CONFIG_FILES) {
    mergekitConfig = await read(name);
    if (mergekitConfig !== null) break;
  }
  return parseDeclaredProvenance({ modelCard, mergekitConfig, problems });
}

async function readSmallHubText(
  location: HubLocation,
  hub: HubSession,
  file: RepoFile,
  problems: string[],
): Promise<{ name: string; text: string } | null> {
  const name = file.path;
  if (file.size > MAX_DECLARATION_BYTES) {
    problems.push(`${name}: ${file.size} bytes, more than the ${MAX_DECLARATION_BYTES}-byte limit for a declaration; not read`);
    return null;
  }
  try {
    return { name, text: new TextDecoder().decode(await readHubFile(location, hub, file)) };
  } catch (error) {
    problems.push(`${name}: cannot be read (${error instanceof Error ? error.message : String(error)})`);
    return null;
  }
}

async function readSmallText(
  folder: string,
  name: string,
  problems: string[],
): Promise<{ name: string; text: string } | null> {
  const path = join(folder, name);
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) return null;
  if (info.size > MAX_DECLARATION_BYTES) {
    problems.push(`${name}: ${info.size} bytes, more than the ${MAX_DECLARATION_BYTES}-byte limit for a declaration; not read`);
    return null;
  }
  try {
    return { name, text: await readFile(path, 'utf8') };
  } catch (error) {
    problems.push(`${name}: cannot be read (${error instanceof Error ? error.message : String(error)})`);
    return null;
  }
}

/**
 * The YAML between a first line `---` and the next line `---`, as the Hub reads model
 * cards. A byte-order mark and Windows line ends are tolerated; anything else before the
 * first `---` means the card has no metadata.
 */
export function frontMatterOf(text: string): { yaml: string } | null {
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (!normalised.startsWith('---\n')) return null;
  const end = normalised.indexOf('\n---', 3);
  if (end < 0) return null;
  const after = normalised.charAt(end + 4);
  if (after !== '' && after !== '\n' && after !== ' ' && after !== '\t') return null;
  return { yaml: normalised.slice(4, end + 1) };
}

function parseYamlMapping(text: string, where: string, problems: string[]): Record<string, unknown> | null {
  let value: unknown;
  try {
    // Model cards are data: no custom tags, and aliases capped against billion-laughs input.
    value = parseYaml(text, { maxAliasCount: 100, prettyErrors: false, uniqueKeys: false });
  } catch (error) {
    const why = error instanceof YAMLParseError ? firstLine(error.message) : String(error);
    problems.push(`${where} is not valid YAML (${why})`);
    return null;
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${where} is not a mapping of keys to values`);
    return null;
  }
  return value as Record<string, unknown>;
}

function stringList(value: unknown, where: string, problems: string[]): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.trim() === '' ? [] : [value.trim()];
  if (Array.isArray(value)) {
    const strings = value.filter((item): item is string => typeof item === 'string').map((item) => item.trim());
    if (strings.length !== value.length) problems.push(`${where}: entries that are not text were ignored`);
    return strings.filter((item) => item !== '');
  }
  problems.push(`${where}: expected text or a list of text`);
  return [];
}

function singleString(value: unknown, where: string, problems: string[]): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim();
  problems.push(`${where}: expected text`);
  return null;
}

/**
 * mergekit's recipe: `merge_method`, `base_model`, `dtype`, and `models: [{ model,
 * parameters: { weight } }]`. Slice-based recipes (`slices: [{ sources: [...] }]`, for
 * layer stacking) name their models inside the slices; those are listed without weights.
 */
function mergekitRecipe(
  config: Record<string, unknown>,
  where: string,
  problems: string[],
): NonNullable<DeclaredProvenance['mergekit']> {
  const models: { model: string; weight: number | null }[] = [];
  const addModel = (entry: unknown, withWeight: boolean): void => {
    if (typeof entry === 'string') {
      models.push({ model: entry, weight: null });
      return;
    }
    if (!isMapping(entry) || typeof entry.model !== 'string') {
      problems.push(`${where}: a model entry without a model name was ignored`);
      return;
    }
    const parameters = isMapping(entry.parameters) ? entry.parameters : {};
    // A per-layer weight gradient (a list) is a recipe, not one number: no single weight.
    const weight = withWeight && typeof parameters.weight === 'number' ? parameters.weight : null;
    if (!models.some((known) => known.model === entry.model)) models.push({ model: entry.model, weight });
  };
  if (Array.isArray(config.models)) for (const entry of config.models) addModel(entry, true);
  if (Array.isArray(config.slices)) {
    for (const slice of config.slices) {
      if (isMapping(slice) && Array.isArray(slice.sources)) for (const source of slice.sources) addModel(source, false);
    }
  }
  return {
    method: singleString(config.merge_method, `${where}: merge_method`, problems),
    baseModel: singleString(config.base_model, `${where}: base_model`, problems),
    dtype: singleString(config.dtype, `${where}: dtype`, problems),
    models,
  };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text;
}
