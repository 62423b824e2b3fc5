// How config values appear in error messages: quoted, on one line, and never more than a short
// excerpt, so a 10 MB scalar cannot flood stderr or a log.

const MAX_ECHO_CHARS = 100;

/** A value as JSON, cut to about 100 characters with a note of its full length. */
export function quote(v: unknown): string {
  // JSON has no Infinity or NaN (a YAML number of 400 digits is Infinity): show those as they are.
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return excerpt(JSON.stringify(v) ?? String(v));
}

/** Text cut to about 100 characters, with a note of its full length. */
export function excerpt(text: string): string {
  if (text.length <= MAX_ECHO_CHARS) return text;
  return `${text.slice(0, MAX_ECHO_CHARS)}… (${text.length} characters)`;
}

/** What kind of value a key holds, for "expected X, got Y". */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${quote(v)}`;
}
