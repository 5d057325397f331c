/**
 * Small helpers the Templates screens share: origins in words, sizes, resource names,
 * field values and the line an error points at.
 */
import type { Diagnostic, Origin, ResourceId, Value } from '../../lib/backend';
import type { EditorDiagnostic } from '../../lib/codemirror';
import { describe, isAppError } from '../../lib/errors';
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

/** 1234 → "1.2 KB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** "1 object" / "3 objects". */
export function objects(n: number): string {
  return n === 1 ? '1 object' : `${n} objects`;
}

/** `Deployment/web`, with ` (namespace ns)` when the document names one. */
export function resourceName(id: ResourceId): string {
  return `${id.kind}/${id.name}${id.namespace ? ` (namespace ${id.namespace})` : ''}`;
}

/** A stable key for a resource. */
export function resourceKey(id: ResourceId): string {
  return `${id.apiVersion}|${id.kind}|${id.namespace ?? ''}|${id.name}`;
}

/** A field value in one line: strings as they are, anything else as compact JSON. */
export function formatValue(value: Value | null | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  const json = JSON.stringify(value);
  return json.length > 200 ? `${json.slice(0, 199)}…` : json;
}

/** Error messages from the engine start in lower case; a sentence starts with a capital. */
export function sentence(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}

/** The message of whatever a call threw, as a sentence (with its full stop). */
export function errorText(e: unknown): string {
  const text = sentence(describe(e).replace(/^document (\d+) \(line \d+\): /i, 'document $1: '));
  return /[.!?)]$/.test(text) ? text : `${text}.`;
}

/** The line (and column) an error's details point at, when they do. */
export function errorLocation(e: unknown): { line: number; column?: number } | undefined {
  if (!isAppError(e) || typeof e.details !== 'object' || e.details === null) return undefined;
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
  return sentence(message.replace(/^document (\d+) \(line \d+\): /i, 'document $1: '));
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

/** DNS label rules, as the engine checks template names. */
export function nameProblem(name: string, taken: readonly string[]): string | undefined {
  if (!name) return 'Enter a name.';
  if (name.length > 63) return 'Use at most 63 characters.';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    return 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit.';
  }
  if (taken.includes(name)) return `A template named “${name}” already exists. Choose another name.`;
  return undefined;
}
