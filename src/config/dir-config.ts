// The keys of a directory entry (`dir:`, `pattern:`, `recursive:`, `watch:`), as the loader reads
// them; what they mean is dir-entry.ts.
import path from 'node:path';
import { compileGlob } from './glob.js';
import { expandHome } from './home.js';
import { quote } from './text.js';
import type { DbConfig, DirConfig } from './types.js';

/** The loader's typed readers (load.ts), each failing with a ConfigError that names the key. */
export interface FieldReader {
  fail(key: string, message: string): never;
  fsPath(o: Record<string, unknown>, k: string, key: string): string | null;
  text(o: Record<string, unknown>, k: string, key: string): string | null;
  bool(o: Record<string, unknown>, k: string, key: string): boolean | null;
}

export function readDirEntry(o: Record<string, unknown>, key: string, v: FieldReader, template: Omit<DbConfig, 'path'>, env: NodeJS.ProcessEnv): DirConfig {
  const d = v.fsPath(o, 'dir', key);
  if (!d) v.fail(`${key}.dir`, 'must not be empty');
  const pattern = v.text(o, 'pattern', key);
  if (!pattern) v.fail(`${key}.pattern`, 'required with dir: (such as "*.db")');
  if (pattern.includes('/')) v.fail(`${key}.pattern`, `${quote(pattern)} is matched against file names; it cannot hold "/" (use recursive: true for subdirectories)`);
  const glob = compileGlob(pattern);
  if (!glob.ok) v.fail(`${key}.pattern`, `${quote(pattern)} ${glob.problem}`);
  return {
    dir: path.resolve(expandHome(d, env)),
    pattern,
    recursive: v.bool(o, 'recursive', key) ?? false,
    watch: v.bool(o, 'watch', key) ?? false,
    template,
    keyPath: key,
  };
}
