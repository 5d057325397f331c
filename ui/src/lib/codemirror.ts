/**
 * What CodeEditor and DiffView share: the app-coloured light theme, the dark theme,
 * sizing, and turning our line-based diagnostics into CodeMirror's offset-based ones.
 */
import { StateField, type EditorState, type Extension, type Text } from '@codemirror/state';
import { Decoration, EditorView, WidgetType, type DecorationSet } from '@codemirror/view';
import { setDiagnosticsEffect, type Diagnostic } from '@codemirror/lint';
import { oneDark } from '@codemirror/theme-one-dark';

/**
 * A problem at a place in a YAML document, as the engine reports it.
 * `line` and `column` count from 1 (as serde_yaml's `Location` does). Without a column
 * the whole line is marked; with one, the line from that column to its end.
 */
export interface EditorDiagnostic {
  line: number;
  column?: number;
  message: string;
  severity: 'error' | 'warning';
}

/** Layout shared by both themes: app fonts, our focus ring, inline messages. */
const base = EditorView.theme({
  '&': {
    fontSize: '12.5px',
  },
  '&.cm-focused': {
    outline: '2px solid var(--focus)',
    outlineOffset: '-2px',
  },
  '.cm-scroller': {
    fontFamily: 'var(--font-mono)',
    lineHeight: '1.55',
    overflow: 'auto',
  },
  '.cm-gutters': {
    borderRight: '1px solid var(--border)',
  },
  // @codemirror/merge frames this with U+299A, which many Linux fonts lack.
  '.cm-collapsedLines': {
    fontFamily: 'var(--font-sans)',
    fontSize: '11.5px',
  },
  '.cm-collapsedLines:before': { content: '"↕"' },
  '.cm-collapsedLines:after': { content: 'none' },
  '.cm-inline-diagnostic': {
    marginLeft: '2.5em',
    padding: '0 6px',
    borderRadius: '3px',
    fontFamily: 'var(--font-sans)',
    fontSize: '11.5px',
    whiteSpace: 'pre',
  },
  '.cm-inline-diagnostic-error': {
    color: 'var(--danger)',
    backgroundColor: 'var(--danger-soft)',
  },
  '.cm-inline-diagnostic-warning': {
    color: 'var(--warning)',
    backgroundColor: 'var(--warning-soft)',
  },
});

/** Light theme: CodeMirror's default look on the app's own surface colours. */
const light = EditorView.theme(
  {
    '&': { backgroundColor: 'var(--surface)', color: 'var(--text)' },
    '.cm-gutters': { backgroundColor: 'var(--surface-2)', color: 'var(--text-muted)' },
    '.cm-activeLineGutter': { backgroundColor: 'var(--surface-active)', color: 'var(--text)' },
    '.cm-activeLine': { backgroundColor: 'rgba(9, 105, 218, 0.05)' },
  },
  { dark: false },
);

/** Dark theme: One Dark. */
const dark = oneDark;

/** The base look plus the theme for the current mode; put it in a Compartment. */
export function editorTheme(isDark: boolean): Extension {
  return isDark ? dark : light;
}

export const editorBase: Extension = base;

/** Makes a standalone editor as tall as its parent, scrolling inside. */
export const fillParent: Extension = EditorView.theme({ '&': { height: '100%' } });

/** Converts engine diagnostics to CodeMirror ranges, clamping lines that no longer exist. */
export function toCmDiagnostics(doc: Text, diagnostics: readonly EditorDiagnostic[]): Diagnostic[] {
  return diagnostics.map((d) => {
    const line = doc.line(Math.min(Math.max(1, Math.floor(d.line)), doc.lines));
    const from =
      d.column === undefined ? line.from : Math.min(line.from + Math.max(0, Math.floor(d.column) - 1), line.to);
    const to = Math.max(from, line.to);
    return { from, to, severity: d.severity, message: d.message, source: 'tripline' };
  });
}

class InlineMessage extends WidgetType {
  constructor(
    readonly message: string,
    readonly severity: Diagnostic['severity'],
  ) {
    super();
  }

  override eq(other: InlineMessage) {
    return other.message === this.message && other.severity === this.severity;
  }

  toDOM() {
    const span = document.createElement('span');
    span.className = `cm-inline-diagnostic cm-inline-diagnostic-${this.severity}`;
    // The lint extension already exposes the message to assistive tech (tooltip,
    // panel via Ctrl-Shift-m); this copy is for sighted readers at a glance.
    span.setAttribute('aria-hidden', 'true');
    span.textContent = this.message.split('\n', 1)[0] ?? '';
    return span;
  }

  override ignoreEvent() {
    return false;
  }
}

function inlineDecorations(state: EditorState, diagnostics: readonly Diagnostic[]): DecorationSet {
  // One message per line (the first), shown at the end of the line.
  const byLine = new Map<number, Diagnostic>();
  for (const d of diagnostics) {
    const line = state.doc.lineAt(d.from);
    if (!byLine.has(line.number)) byLine.set(line.number, d);
  }
  const widgets = [...byLine.entries()]
    .sort(([a], [b]) => a - b)
    .map(([n, d]) =>
      Decoration.widget({ widget: new InlineMessage(d.message, d.severity), side: 1 }).range(state.doc.line(n).to),
    );
  return Decoration.set(widgets);
}

/**
 * Shows each line's diagnostic message at the end of that line, so a reader sees what
 * is wrong without hovering. It follows whatever `setDiagnostics` sets.
 */
export const inlineDiagnostics: Extension = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    for (const effect of tr.effects) {
      if (effect.is(setDiagnosticsEffect)) return inlineDecorations(tr.state, effect.value);
    }
    return value.map(tr.changes);
  },
  provide: (field) => EditorView.decorations.from(field),
});

/**
 * The change that turns `from` into `to`, trimmed to the span that differs, so an
 * outside update leaves the cursor and scroll where they were when they are outside
 * that span. (A common prefix/suffix trim, not a diff.)
 */
export function minimalChange(from: string, to: string): { from: number; to: number; insert: string } {
  let start = 0;
  const max = Math.min(from.length, to.length);
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  let endFrom = from.length;
  let endTo = to.length;
  while (endFrom > start && endTo > start && from.charCodeAt(endFrom - 1) === to.charCodeAt(endTo - 1)) {
    endFrom--;
    endTo--;
  }
  return { from: start, to: endFrom, insert: to.slice(start, endTo) };
}
