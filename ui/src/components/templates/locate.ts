/**
 * The engine reports a schema problem ("spec.replicas: invalid type …") at the first
 * line of its document. To show it where it is, this finds the field's line in the text
 * by following the path's keys through block-style YAML (`a.b[0].c`). It is a best
 * effort: flow style, quoted keys or anchors make it give up, and the caller keeps the
 * engine's line.
 */

interface Segment {
  key: string;
  indexes: number[];
}

interface LineInfo {
  /** Spaces before the first non-space character. */
  indent: number;
  /** Whether the line starts a list item (`- `). */
  dash: boolean;
  /** Where the line's content (a key) starts: after the indent and any `- `. */
  col: number;
}

const PATH = /^([A-Za-z_$][\w$-]*(?:\[\d+\])*(?:\.[A-Za-z_$][\w$/-]*(?:\[\d+\])*)*)(?=[: ]|$)/;

function info(line: string): LineInfo {
  const m = /^( *)(- +)?/.exec(line)!;
  return { indent: m[1]!.length, dash: m[2] !== undefined, col: m[0].length };
}

function blank(line: string): boolean {
  return /^\s*(#.*)?$/.test(line);
}

function parsePath(path: string): Segment[] {
  return path.split('.').map((part) => {
    const key = part.replace(/\[.*$/, '');
    const indexes = [...part.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
    return { key, indexes };
  });
}

/** The end (exclusive) of the block under a key at column `col` that starts at `from`. */
function blockEnd(lines: string[], from: number, to: number, col: number): number {
  for (let i = from; i < to; i++) {
    const line = lines[i]!;
    if (blank(line)) continue;
    const { indent, dash } = info(line);
    // Less indented, or a sibling key; a `- ` at the key's own column is a compact list.
    if (indent < col || (indent === col && !dash)) return i;
  }
  return to;
}

/** The line of `key` among the direct children of the block [from, to). */
function findKey(lines: string[], from: number, to: number, key: string): number | undefined {
  let childCol: number | undefined;
  for (let i = from; i < to; i++) {
    const line = lines[i]!;
    if (blank(line)) continue;
    const li = info(line);
    // The block's first line sets the children's column (an item line: after its `- `).
    const col = i === from ? li.col : li.indent;
    if (childCol === undefined) childCol = col;
    if (col !== childCol || (i !== from && li.dash)) continue;
    const rest = line.slice(childCol);
    if (rest.startsWith(`${key}:`)) return i;
  }
  return undefined;
}

/** The line of the `index`-th item of the list in the block [from, to), and the item's block. */
function findItem(lines: string[], from: number, to: number, index: number): [number, number] | undefined {
  let itemIndent: number | undefined;
  const items: number[] = [];
  for (let i = from; i < to; i++) {
    const line = lines[i]!;
    if (blank(line)) continue;
    const li = info(line);
    if (itemIndent === undefined) {
      if (!li.dash) return undefined;
      itemIndent = li.indent;
    }
    if (li.dash && li.indent === itemIndent) items.push(i);
  }
  const start = items[index];
  if (start === undefined) return undefined;
  return [start, items[index + 1] ?? to];
}

/**
 * The 1-based line of `path` in the document that starts at `docLine` (1-based), or
 * undefined when it cannot be found.
 */
export function locatePath(text: string, docLine: number, path: string): number | undefined {
  const lines = text.split('\n');
  let from = Math.max(0, docLine - 1);
  if (/^---/.test(lines[from] ?? '')) from += 1;
  let to = lines.findIndex((l, i) => i >= from && /^---(\s|$)/.test(l));
  if (to < 0) to = lines.length;

  let found: number | undefined;
  for (const segment of parsePath(path)) {
    const at = findKey(lines, from, to, segment.key);
    if (at === undefined) return found === undefined ? undefined : found + 1;
    found = at;
    const col = at === from ? info(lines[at]!).col : info(lines[at]!).indent;
    from = at + 1;
    to = blockEnd(lines, from, to, col);
    for (const index of segment.indexes) {
      const item = findItem(lines, from, to, index);
      if (!item) return found + 1;
      [from, to] = item;
      found = from;
    }
  }
  return found === undefined ? undefined : found + 1;
}

/**
 * A better line for an engine message about a document: the field it names, when the
 * message has the shape `document N (line L): Kind name: some.path…`.
 */
export function refineLine(text: string, line: number, message: string): number {
  const body = message
    .replace(/^document \d+ \(line \d+\): /i, '')
    .replace(/^[A-Z][\w]* [^\s:]+: /, '');
  const path = PATH.exec(body)?.[1];
  if (!path) return line;
  return locatePath(text, line, path) ?? line;
}
