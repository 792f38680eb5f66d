/**
 * How text renderers emphasise words. The renderers never import a terminal library:
 * the CLI passes a chalk instance (which has exactly this shape) when colour is wanted,
 * and PLAIN_STYLE otherwise, so a rendering is a pure function of its inputs.
 */
export interface TextStyle {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const identity = (text: string): string => text;

export const PLAIN_STYLE: TextStyle = {
  bold: identity,
  dim: identity,
  red: identity,
  green: identity,
  yellow: identity,
  cyan: identity,
};

/** Width of text as a terminal shows it: escape sequences take no columns. */
export function visibleWidth(text: string): number {
  return [...text.replace(/\u001b\[[0-9;]*m/g, '')].length;
}
