// k8s/read-replica.yaml, checked without a cluster beside the rest of k8s/ (the schema and
// field-name checks of k8s-manifests.test.ts cover it too): what a read-replica pod needs, a
// follower of the primary's replica and the app in read-only mode on one emptyDir, the follower's
// /readyz as readiness, and nothing that joins the primary's Service or claims its PVC.
// test/containers/podman-kube.test.ts runs these pods. No Docker needed.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { find, type Obj } from './k8s-load.js';

describe('k8s manifests: the read replicas', () => {
  describe('the read-replica pods', () => {
    const deploy = find('Deployment', 'demo-app-read')!;
    const pod = deploy.spec.template.spec as Obj;
    const containers = pod.containers as Obj[];
    const follower = containers.find((c) => c.name === 'follower')!;
    const app = containers.find((c) => c.name === 'app')!;
    const walshipYml = YAML.parse(find('ConfigMap', 'walship-config')!.data['walship.yml'] as string) as Obj;
    const primary = find('Deployment', 'demo-app')!.spec.template.spec as Obj;
    const sidecar = (primary.initContainers as Obj[]).find((c) => c.name === 'walship')!;

    it('runs a follower of the primary\'s replica and the app in read-only mode, several replicas', () => {
      expect(deploy.spec.replicas).toBeGreaterThanOrEqual(2);
      expect(pod.initContainers).toBeUndefined();
      expect(containers.map((c) => c.name).sort()).toEqual(['app', 'follower']);
      expect(follower.args).toEqual(['restore', '-f', '-if-db-not-exists', '-config', '/etc/walship/walship.yml', walshipYml.dbs[0].path]);
      expect(follower.image).toBe(sidecar.image);
      expect(app.image).toBe((primary.containers as Obj[])[0]!.image);
      expect(app.env).toEqual([{ name: 'READ_ONLY', value: '1' }]);
      // Its Service selects only these pods, and the primary's Service none of them.
      for (const [k, v] of Object.entries(deploy.spec.selector.matchLabels as Obj)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
      const own = find('Service', 'demo-app-read')!;
      for (const [k, v] of Object.entries(own.spec.selector as Obj)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
      const writer = find('Service', 'demo-app')!;
      expect(Object.entries(writer.spec.selector as Obj).every(([k, v]) => deploy.spec.template.metadata.labels[k] === v)).toBe(false);
    });

    it('shares one emptyDir at the database directory, read-only in the app, and no PVC', () => {
      expect((pod.volumes as Obj[]).some((v) => v.persistentVolumeClaim)).toBe(false);
      const data = (pod.volumes as Obj[]).find((v) => v.name === 'data')!;
      expect(data.emptyDir).toBeDefined();
      expect(data.emptyDir.medium).toBeUndefined();
      const dbDir = path.posix.dirname(walshipYml.dbs[0].path as string);
      const mount = (c: Obj): Obj | undefined => (c.volumeMounts as Obj[]).find((m) => m.name === 'data');
      expect(mount(follower)).toEqual({ name: 'data', mountPath: dbDir });
      expect(mount(app)).toEqual({ name: 'data', mountPath: dbDir, readOnly: true });
      // The follower reads the same config, key and known_hosts as the primary's sidecar.
      expect(follower.volumeMounts.filter((m: Obj) => m.name !== 'data')).toEqual(sidecar.volumeMounts.filter((m: Obj) => m.name !== 'data'));
      const volumesOf = (spec: Obj) => (spec.volumes as Obj[]).filter((v) => v.configMap || v.secret);
      expect(volumesOf(pod)).toEqual(volumesOf(primary));
    });

    it('is ready when the follower\'s /readyz is (exec probes), with startup room for the first restore', () => {
      const check = ['node', '/app/healthcheck.mjs'];
      expect(follower.readinessProbe.exec.command).toEqual([...check, '/readyz']);
      expect(follower.livenessProbe.exec.command).toEqual([...check, '/healthz']);
      expect(follower.startupProbe.exec.command).toEqual([...check, '/healthz']);
      expect(follower.startupProbe.periodSeconds * follower.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120);
      const port = Number(String(walshipYml.addr).split(':').pop());
      expect((follower.ports as Obj[]).find((p) => p.containerPort === port)).toBeDefined();
      expect(app.readinessProbe.exec.command[0]).toBe('python3');
    });

    it('runs non-root, read-only, with no capabilities and with resources set', () => {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 });
      for (const c of containers) {
        expect(c.securityContext, c.name).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(c.securityContext.capabilities.add, c.name).toBeUndefined();
        for (const kind of ['requests', 'limits']) expect(Object.keys(c.resources[kind]).sort(), `${c.name} ${kind}`).toEqual(['cpu', 'memory']);
        expect((c.volumeMounts as Obj[]).some((m) => m.mountPath === '/tmp'), c.name).toBe(true);
      }
    });
  });
});
