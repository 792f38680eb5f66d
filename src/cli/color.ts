import { Chalk } from 'chalk';
import { PLAIN_STYLE, type TextStyle } from '../report/text-style.js';

export interface ColorContext {
  /** false when --no-color was given. */
  readonly flag: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether the stream the text goes to is a terminal. */
  readonly isTTY: boolean;
}

/**
 * Colour only on a terminal, by default. --no-color always wins; then FORCE_COLOR
 * (as Node and chalk read it: "0"/"false" disable, anything else enables), then
 * NO_COLOR (https://no-color.org: any non-empty value disables), then a dumb terminal.
 */
export function wantsColor({ flag, env, isTTY }: ColorContext): boolean {
  if (!flag) return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return isTTY;
}

/**
 * A chalk instance of its own (never chalk's global one, which decides colour from the
 * process at import time): basic 16 colours are all the renderers use.
 */
export function textStyle(color: boolean): TextStyle {
  return color ? new Chalk({ level: 1 }) : PLAIN_STYLE;
}
