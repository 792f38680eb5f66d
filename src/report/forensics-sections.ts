import type { Report } from '../report-schema.js';
import { forensicsFindings } from './text-forensics-section.js';

/** "### Recipe" with one bullet per finding (the text report's Recipe lines); empty without findings. */
export function forensicsMarkdownSection(report: Report, escapeText: (text: string) => string): string {
  const findings = forensicsFindings(report);
  if (findings.length === 0) return '';
  return ['### Recipe', findings.map((finding) => `- ${escapeText(finding)}`).join('\n')].join('\n\n');
}

/** <section id="recipe"> with one item per finding; empty without findings. */
export function forensicsHtmlSection(report: Report, esc: (text: string) => string): string {
  const findings = forensicsFindings(report);
  if (findings.length === 0) return '';
  return `<section id="recipe">
<h2>Recipe</h2>
<ul>${findings.map((finding) => `<li>${esc(finding)}</li>`).join('')}</ul>
</section>`;
}
