// Config text to a plain value: YAML syntax errors, duplicate keys and alias bombs each become one
// ConfigError naming the file, the line and (for a duplicate) the full key path.
import YAML, { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node } from 'yaml';
import { ConfigError } from './config-error.js';
import { quote } from './text.js';

// A config needs few aliases; past this many expanded nodes a document is an attack, not a config.
const MAX_ALIAS_COUNT = 100;

/** The document as plain JS. `source` starts every message ("config /etc/walship.yml"). */
export function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  // uniqueKeys off: the walk below finds duplicates itself, so the message can name the key.
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${source}${line ? ` line ${line}` : ''}: invalid YAML: ${what}`);
  }
  if (doc.contents) findDuplicateKey(doc.contents as Node, '', (key, offset) => {
    throw new ConfigError(`${source} line ${lineCounter.linePos(offset).line}: ${key}: duplicate key (each key may appear once per mapping)`);
  });
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // The yaml library's only refusal here is the alias count (a "billion laughs" document).
    throw new ConfigError(`${source}: invalid YAML: aliases expand to too many nodes (${(err as Error).message})`);
  }
}

/** Walks the tree as written (aliases are not followed) and reports the first repeated key. */
function findDuplicateKey(node: Node, at: string, report: (key: string, offset: number) => never): void {
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const keyPath = at ? `${at}.${keyLabel(name)}` : keyLabel(name);
      if (seen.has(name)) report(keyPath, keyNode?.range?.[0] ?? 0);
      seen.add(name);
      if (pair.value && !isAlias(pair.value)) findDuplicateKey(pair.value as Node, keyPath, report);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (item && !isAlias(item)) findDuplicateKey(item as Node, `${at || '(top level)'}[${i}]`, report);
    });
  }
}

function keyLabel(name: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : quote(name);
}
