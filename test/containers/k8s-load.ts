// The manifests of k8s/, read as kubectl reads them (YAML 1.1: 0440 is octal there), for the
// manifest tests (k8s-manifests.test.ts, k8s-read-replica.test.ts). No engine needed.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { repoRoot } from './images.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

export interface Manifest {
  file: string;
  index: number;
  doc: Obj;
}

export const k8sDir = path.join(repoRoot, 'k8s');
export const manifests: Manifest[] = readdirSync(k8sDir)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort()
  .flatMap((file) =>
    YAML.parseAllDocuments(readFileSync(path.join(k8sDir, file), 'utf8'), { version: '1.1' }).map((d, index) => {
      if (d.errors.length > 0) throw new Error(`k8s/${file} document ${index}: ${d.errors[0]!.message}`);
      return { file, index, doc: d.toJS() as Obj };
    }),
  )
  .filter((m) => m.doc !== null);

export const where = (m: Manifest): string => `k8s/${m.file} #${m.index} ${m.doc.kind}/${m.doc.metadata?.name}`;
export const find = (kind: string, name: string): Obj | undefined => manifests.find((m) => m.doc.kind === kind && m.doc.metadata?.name === name)?.doc;
export const byKind = (kind: string): Obj[] => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
