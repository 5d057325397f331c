/**
 * Small helpers the Templates screens share: origins in words, error messages as sentences,
 * the line an error points at, and the template name rule. Sizes, counts and objects are
 * worded by ../../lib/format.
 */
import type { Diagnostic, Origin } from '../../lib/backend';
import type { EditorDiagnostic } from '../../lib/codemirror';
import { describe, isErrorBody } from '../../lib/errors';
import { capitalise, dnsLabelProblem, sentence } from '../../lib/format';
import { refineLine } from './locate';

/** How each origin reads in the UI: a short label and what it means. */
export const ORIGINS: Record<Origin, { label: string; hint: string }> = {
  import: { label: 'Import', hint: 'The first version, as the template was created' },
  edit: { label: 'Edit', hint: 'Saved by a person' },
  patch: { label: 'Trigger patch', hint: 'Made by a patch: a trigger call’s body or `tripline template patch`' },
  'image-update': { label: 'Image update', hint: 'Made by an image trigger after a registry push' },
  scale: { label: 'Scale', hint: 'Made by a scale trigger, so the next deploy keeps the replica count' },
  rollback: { label: 'Rollback', hint: 'A copy of an older version' },
};

/** The origin's label; unknown origins (a newer engine) show as they are. */
export function originLabel(origin: Origin | string): string {
  return ORIGINS[origin as Origin]?.label ?? origin;
}

/** The message of whatever a call threw, as a sentence (with its full stop). */
export function errorText(e: unknown): string {
  return sentence(describe(e).replace(/^document (\d+) \(line \d+\): /i, 'document $1: '));
}

/** The line (and column) an error's details point at, when they do. */
export function errorLocation(e: unknown): { line: number; column?: number } | undefined {
  if (!isErrorBody(e) || typeof e.details !== 'object' || e.details === null) return undefined;
  const details = e.details as { line?: unknown; column?: unknown };
  if (typeof details.line !== 'number') return undefined;
  return { line: details.line, column: typeof details.column === 'number' ? details.column : undefined };
}

/**
 * The line to show a problem at. A problem without a column is about a whole document
 * (the engine gives the document's first line); when its message names a field, the
 * field's line in `text` is better.
 */
function lineFor(text: string, line: number, column: number | undefined, message: string): number {
  return column === undefined ? refineLine(text, line, message) : line;
}

/** A diagnostic's own line is shown beside it, so "(line 1)" in its text only confuses. */
function withoutLine(message: string): string {
  return capitalise(message.replace(/^document (\d+) \(line \d+\): /i, 'document $1: '));
}

/** An error with a line as an editor diagnostic on `text`, so it shows where it is. */
export function errorDiagnostic(e: unknown, text: string): EditorDiagnostic | undefined {
  const at = errorLocation(e);
  if (!at) return undefined;
  const message = describe(e);
  return { line: lineFor(text, at.line, at.column, message), column: at.column, severity: 'error', message: withoutLine(message) };
}

/** The engine's diagnostics on `text` as the editor takes them. */
export function toEditorDiagnostics(list: readonly Diagnostic[], text: string): EditorDiagnostic[] {
  return list.map((d) => ({
    line: lineFor(text, d.line, d.column ?? undefined, d.message),
    column: d.column ?? undefined,
    message: withoutLine(d.message),
    severity: 'error',
  }));
}

/** What is wrong with a new template's name: the DNS-label rule, or a name already taken. */
export function nameProblem(name: string, taken: readonly string[]): string | undefined {
  if (taken.includes(name)) return `A template named “${name}” already exists. Choose another name.`;
  return dnsLabelProblem(name);
}
