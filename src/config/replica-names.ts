// The names unnamed replicas get, so -replica NAME, logs and metrics can tell them apart.
import type { ReplicaConfig } from './types.js';

/** Unnamed replicas are named by type, with an index when two share a type: "file", "sftp0", "sftp1". */
export function nameReplicas(replicas: ReplicaConfig[]): void {
  const byType = new Map<string, number>();
  for (const r of replicas) if (!r.name) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
  const next = new Map<string, number>();
  for (const r of replicas) {
    if (r.name) continue;
    if ((byType.get(r.type) ?? 0) > 1) {
      const i = next.get(r.type) ?? 0;
      next.set(r.type, i + 1);
      r.name = `${r.type}${i}`;
    } else {
      r.name = r.type;
    }
  }
}
