// File-name patterns as Go's filepath.Match reads them (Litestream's `pattern:`), turned into a
// RegExp. Pure. Syntax: `*` (any run of characters but "/"), `?` (one character but "/"),
// `[abc]`, `[a-z]`, `[^a-z]` (a class; "\" escapes inside it), and `\c` for a literal c.

export type GlobResult = { ok: true; re: RegExp } | { ok: false; problem: string };

export function compileGlob(pattern: string): GlobResult {
  let out = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= chars.length) return { ok: false, problem: 'ends with a lone "\\"' };
      out += escapeRe(chars[++i]!);
    } else if (c === '[') {
      const cls = readClass(chars, i + 1);
      if (!cls.ok) return cls;
      out += cls.re;
      i = cls.end;
    } else {
      out += escapeRe(c);
    }
  }
  return { ok: true, re: new RegExp(`^${out}$`, 'u') };
}

type ClassResult = { ok: true; re: string; end: number } | { ok: false; problem: string };

/** Reads a class starting after its "["; `end` is the index of its "]". */
function readClass(chars: string[], start: number): ClassResult {
  let i = start;
  let negate = false;
  if (chars[i] === '^') {
    negate = true;
    i++;
  }
  const ranges: string[] = [];
  const bad: ClassResult = { ok: false, problem: 'has a malformed [...] class' };
  for (;;) {
    if (i >= chars.length) return { ok: false, problem: 'has a "[" with no closing "]"' };
    if (chars[i] === ']' && ranges.length > 0) break;
    const lo = escapedChar(chars, i);
    if (!lo) return bad;
    i = lo.next;
    let hi = lo.c;
    if (chars[i] === '-') {
      const h = escapedChar(chars, i + 1);
      if (!h) return bad;
      hi = h.c;
      i = h.next;
      if (hi.codePointAt(0)! < lo.c.codePointAt(0)!) return bad;
    }
    ranges.push(lo.c === hi ? escapeClass(lo.c) : `${escapeClass(lo.c)}-${escapeClass(hi)}`);
  }
  // Go's classes never match the separator, negated or not.
  const body = ranges.join('');
  return { ok: true, re: negate ? `[^/${body}]` : `(?!/)[${body}]`, end: i };
}

function escapedChar(chars: string[], i: number): { c: string; next: number } | null {
  const c = chars[i];
  if (c === undefined || c === '-' || c === ']') return null;
  if (c === '\\') {
    const e = chars[i + 1];
    return e === undefined ? null : { c: e, next: i + 2 };
  }
  return { c, next: i + 1 };
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClass(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}
