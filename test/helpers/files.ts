// Small file-system helpers for tests.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file under `root` with its size and mtime, sorted, for before/after comparisons. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${path.relative(root, p)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(root);
  return out.sort();
}

export function ltxFiles(replica: string, level: number): string[] {
  try {
    return readdirSync(path.join(replica, 'ltx', String(level)))
      .filter((n) => n.endsWith('.ltx'))
      .sort()
      .map((n) => path.join(replica, 'ltx', String(level), n));
  } catch {
    return [];
  }
}
