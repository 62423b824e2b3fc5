// The Kubernetes manifests in k8s/, checked without a cluster:
//   - JSON schema: every document against the Kubernetes OpenAPI schema of its kind, with the
//     ajv validators that kubernetes-models compiles from it (types, required fields, formats);
//   - field names: every document as a typed object literal of kubernetes-types, through the
//     TypeScript compiler, whose excess-property check rejects a misspelt or misplaced field the
//     way `kubectl apply` (strict field validation) does; the schema check alone lets those pass;
//   - what the walship pod needs: init restore, native sidecar, exec probes on the addr port, the
//     shared /data PVC, security settings, resources, and references that resolve;
//   - (what a read-replica pod needs is in k8s-read-replica.test.ts);
//   - walship's own config loader accepts the shipped walship.yml files with no warning;
//   - scripts/k8s-to-podman.mjs derives the Podman pods from these manifests, change by change
//     (test/containers/podman-kube.test.ts runs what it writes).
// No Docker needed. YAML is read as YAML 1.1, as kubectl reads it (0400 is octal there).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parseConfig } from '../../src/config/load.js';
import { repoRoot } from './docker.js';
import { byKind, find, k8sDir, manifests, where, type Obj } from './k8s-load.js';
// @ts-expect-error: plain ESM script, no types
import { readManifests, toPodman } from '../../scripts/k8s-to-podman.mjs';

/** The kinds k8s/ uses, with their schema-validating models. */
const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

/** kubernetes-types module for an apiVersion: "v1" -> core/v1, "apps/v1" -> apps/v1. */
function typesModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  return `kubernetes-types/${group!.replace(/\.k8s\.io$/, '')}/${version}`;
}

describe('k8s manifests', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'walship-k8s-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('has the expected objects', () => {
    expect(manifests.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`).sort()).toEqual([
      'ConfigMap/walship-config',
      'Deployment/demo-app',
      'Deployment/demo-app-read',
      'Deployment/walship-sftp',
      'PersistentVolumeClaim/demo-app-data',
      'PersistentVolumeClaim/walship-sftp-data',
      'Secret/walship-sftp-keys',
      'Secret/walship-ssh',
      'Service/demo-app',
      'Service/demo-app-read',
      'Service/walship-sftp',
    ]);
  });

  it.each(manifests.map((m) => [where(m), m] as const))('%s matches the Kubernetes JSON schema', (_name, m) => {
    const Model = MODELS[`${m.doc.apiVersion}/${m.doc.kind}`];
    expect(Model, `no schema model for ${m.doc.apiVersion} ${m.doc.kind}: add it to MODELS`).toBeDefined();
    expect(() => new Model!(m.doc).validate()).not.toThrow();
  });

  it('uses only field names Kubernetes knows (TypeScript excess-property check against kubernetes-types)', () => {
    const file = path.join(repoRoot, 'test', 'containers', '__k8s_manifests_check__.ts');
    const imports = new Map<string, Set<string>>();
    const decls: string[] = [];
    manifests.forEach((m, i) => {
      const mod = typesModule(m.doc.apiVersion);
      if (!imports.has(mod)) imports.set(mod, new Set());
      imports.get(mod)!.add(m.doc.kind);
      decls.push(`// ${where(m)}\nexport const doc${i}: ${m.doc.kind} = ${JSON.stringify(m.doc, null, 2)};`);
    });
    const source = [...[...imports].map(([mod, kinds]) => `import type { ${[...kinds].join(', ')} } from '${mod}';`), ...decls].join('\n');
    const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, types: [], skipLibCheck: true };
    const host = ts.createCompilerHost(options);
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const getSourceFile = host.getSourceFile.bind(host);
    host.readFile = (f) => (f === file ? source : readFile(f));
    host.fileExists = (f) => f === file || fileExists(f);
    host.getSourceFile = (f, lang, ...rest) => (f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest));
    const program = ts.createProgram([file], options, host);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return text;
      const before = d.file.text.slice(0, d.start);
      const doc = [...before.matchAll(/^\/\/ (k8s\/.*)$/gm)].pop()?.[1] ?? '?';
      return `${doc}: ${text}`;
    });
    expect(problems).toEqual([]);
  });

  it('rejects a misspelt field (the check above can fail)', () => {
    // A guard on the guard: the same compiler setup must flag an unknown container field.
    const source = `import type { Container } from 'kubernetes-types/core/v1';\nexport const c: Container = { name: 'x', image: 'y', readinessprobe: {} };`;
    const file = path.join(repoRoot, 'test', 'containers', '__k8s_negative_check__.ts');
    const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, types: [], skipLibCheck: true };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (f) => f === file || fileExists(f);
    host.getSourceFile = (f, lang, ...rest) => (f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest));
    const diags = ts.getPreEmitDiagnostics(ts.createProgram([file], options, host)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diags.join('\n')).toMatch(/readinessprobe/);
  });

  describe('the demo-app pod', () => {
    const deploy = find('Deployment', 'demo-app')!;
    const pod = deploy.spec.template.spec as Obj;
    const [restore, sidecar] = pod.initContainers as Obj[];
    const app = (pod.containers as Obj[])[0]!;
    const config = find('ConfigMap', 'walship-config')!;
    const walshipYml = YAML.parse(config.data['walship.yml'] as string) as Obj;

    it('is one replica, replaced with Recreate', () => {
      expect(deploy.spec.replicas).toBe(1);
      expect(deploy.spec.strategy).toEqual({ type: 'Recreate' });
      for (const [k, v] of Object.entries(deploy.spec.selector.matchLabels as Obj)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
      const service = find('Service', 'demo-app')!;
      for (const [k, v] of Object.entries(service.spec.selector as Obj)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
    });

    it('restores first, then runs walship as a native sidecar beside the app', () => {
      expect(pod.initContainers).toHaveLength(2);
      expect(restore!.name).toBe('restore');
      expect(restore!.restartPolicy).toBeUndefined();
      expect(restore!.args.slice(0, 1)).toEqual(['restore']);
      expect(restore!.args).toEqual(expect.arrayContaining(['-if-db-not-exists', '-if-replica-exists', '-config', '/etc/walship/walship.yml']));
      expect(restore!.args.at(-1)).toBe(walshipYml.dbs[0].path);
      expect(sidecar!.name).toBe('walship');
      expect(sidecar!.restartPolicy).toBe('Always');
      expect(sidecar!.args).toEqual(['replicate', '-config', '/etc/walship/walship.yml']);
      expect(restore!.image).toBe(sidecar!.image);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    });

    it('probes /healthz and /readyz with exec probes (the images have no curl)', () => {
      const port = Number(String(walshipYml.addr).split(':').pop());
      // The check reads addr from the config itself; the port is declared for scraping.
      expect((sidecar!.ports as Obj[]).find((p) => p.containerPort === port), `a container port ${port}`).toBeDefined();
      expect(deploy.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(port));
      const check = ['node', '/app/healthcheck.mjs'];
      expect(sidecar!.startupProbe.exec.command).toEqual([...check, '/healthz']);
      expect(sidecar!.livenessProbe.exec.command).toEqual([...check, '/healthz']);
      expect(sidecar!.readinessProbe.exec.command).toEqual([...check, '/readyz']);
      expect(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/^COPY images\/walship\/healthcheck\.mjs \.\/healthcheck\.mjs$/m);
      expect(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/^WORKDIR \/app$/m);
      expect(app.readinessProbe.exec.command[0]).toBe('python3');
      expect(app.livenessProbe.exec.command[0]).toBe('python3');
    });

    it('has only exec probes in every pod (Podman runs httpGet and tcpSocket probes with curl)', () => {
      for (const d of byKind('Deployment')) {
        const spec = d.spec.template.spec as Obj;
        for (const c of [...((spec.initContainers as Obj[]) ?? []), ...(spec.containers as Obj[])]) {
          for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
            if (c[kind]) expect(Object.keys(c[kind]).filter((k) => ['exec', 'httpGet', 'tcpSocket', 'grpc'].includes(k)), `${d.metadata.name}/${c.name} ${kind}`).toEqual(['exec']);
          }
        }
      }
    });

    it('shares one PVC at the database directory between all three containers', () => {
      const dataVolume = (pod.volumes as Obj[]).find((v) => v.persistentVolumeClaim)!;
      expect(find('PersistentVolumeClaim', dataVolume.persistentVolumeClaim.claimName)).toBeDefined();
      const dbDir = path.posix.dirname(walshipYml.dbs[0].path as string);
      for (const c of [restore!, sidecar!, app]) {
        expect((c.volumeMounts as Obj[]).find((m) => m.name === dataVolume.name)?.mountPath, c.name).toBe(dbDir);
      }
    });

    it('runs non-root, read-only, with no capabilities and with resources set', () => {
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBe(10001);
      expect(pod.securityContext.fsGroup).toBe(10001);
      for (const c of [restore!, sidecar!, app]) {
        expect(c.securityContext.readOnlyRootFilesystem, c.name).toBe(true);
        expect(c.securityContext.allowPrivilegeEscalation, c.name).toBe(false);
        expect(c.securityContext.capabilities.drop, c.name).toEqual(['ALL']);
        expect(c.securityContext.capabilities.add, c.name).toBeUndefined();
        for (const kind of ['requests', 'limits']) {
          expect(Object.keys(c.resources[kind]).sort(), `${c.name} ${kind}`).toEqual(['cpu', 'memory']);
        }
        // A writable /tmp (the root filesystem is read-only).
        expect((c.volumeMounts as Obj[]).some((m) => m.mountPath === '/tmp'), c.name).toBe(true);
      }
    });

    it('points walship at files its volumes provide and at the SFTP Service', () => {
      const mounts = new Map((sidecar!.volumeMounts as Obj[]).map((m) => [m.name, m.mountPath]));
      const fileIn = (volumeName: string, key: string): string => {
        const v = (pod.volumes as Obj[]).find((x) => x.name === volumeName)!;
        const src = v.configMap ?? v.secret;
        const item = (src.items as Obj[] | undefined)?.find((i) => i.key === key);
        return path.posix.join(mounts.get(volumeName) as string, item ? item.path : key);
      };
      const configVolume = (pod.volumes as Obj[]).find((v) => v.configMap)!;
      const sshVolume = (pod.volumes as Obj[]).find((v) => v.secret)!;
      expect(configVolume.configMap.name).toBe('walship-config');
      expect(fileIn(configVolume.name, 'walship.yml')).toBe('/etc/walship/walship.yml');
      const replica = walshipYml.dbs[0].replicas[0] as Obj;
      expect(fileIn(configVolume.name, 'known_hosts')).toBe(replica['known-hosts-path']);
      expect(fileIn(sshVolume.name, 'id_ed25519')).toBe(replica['key-path']);
      const secret = find('Secret', sshVolume.secret.secretName)!;
      expect(Object.keys(secret.stringData ?? secret.data)).toContain('id_ed25519');
      // 0440 with fsGroup: the key belongs to root, readable through the group.
      expect(sshVolume.secret.defaultMode).toBe(0o440);

      const url = new URL(replica.url as string);
      const service = find('Service', url.hostname)!;
      expect(service, `a Service named ${url.hostname}`).toBeDefined();
      expect((service.spec.ports as Obj[]).map((p) => p.port)).toContain(Number(url.port || 22));
      expect(url.pathname.startsWith('/replica/')).toBe(true);
    });
  });

  describe('the SFTP replica', () => {
    const deploy = find('Deployment', 'walship-sftp')!;
    const pod = deploy.spec.template.spec as Obj;
    const c = (pod.containers as Obj[])[0]!;

    it('is selected by its Service and keeps its data and keys on the PVC and Secret', () => {
      const service = find('Service', 'walship-sftp')!;
      for (const [k, v] of Object.entries(service.spec.selector as Obj)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
      expect(deploy.spec.strategy).toEqual({ type: 'Recreate' });
      const pvc = (pod.volumes as Obj[]).find((v) => v.persistentVolumeClaim)!;
      expect(find('PersistentVolumeClaim', pvc.persistentVolumeClaim.claimName)).toBeDefined();
      expect((c.volumeMounts as Obj[]).find((m) => m.name === pvc.name)?.mountPath).toBe('/var/lib/sftp');
      const keys = (pod.volumes as Obj[]).find((v) => v.secret)!;
      const secret = find('Secret', keys.secret.secretName)!;
      const env = new Map((c.env as Obj[]).map((e) => [e.name, e.value]));
      const keyDir = (c.volumeMounts as Obj[]).find((m) => m.name === keys.name)!.mountPath as string;
      for (const [name, key] of [['HOST_KEY_FILE', 'ssh_host_ed25519_key'], ['AUTHORIZED_KEYS_FILE', 'authorized_keys']]) {
        expect(env.get(name)).toBe(path.posix.join(keyDir, key!));
        expect(Object.keys(secret.stringData ?? secret.data)).toContain(key);
      }
    });

    it('runs with a read-only root and only the capabilities sshd needs', () => {
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
      expect((c.volumeMounts as Obj[]).some((m) => m.mountPath === '/run')).toBe(true);
      expect(c.resources.requests).toBeDefined();
      expect(c.resources.limits).toBeDefined();
      expect(c.readinessProbe).toBeDefined();
      expect(c.livenessProbe).toBeDefined();
    });
  });

  describe("walship's own config loader", () => {
    const configs: [string, string][] = [
      ['k8s/walship-config.yaml (walship.yml)', find('ConfigMap', 'walship-config')!.data['walship.yml'] as string],
      ['images/walship/walship.yml (compose)', readFileSync(path.join(repoRoot, 'images', 'walship', 'walship.yml'), 'utf8')],
    ];
    it.each(configs)('accepts %s without a warning', (_name, text) => {
      // key-path and known-hosts-path must exist when a config loads: point them at scratch files.
      const parsed = YAML.parse(text) as Obj;
      let patched = text;
      for (const key of ['key-path', 'known-hosts-path']) {
        const p = parsed.dbs[0].replicas[0][key] as string;
        const stand = path.join(scratch, path.basename(p));
        writeFileSync(stand, '');
        patched = patched.split(p).join(stand);
      }
      const { config, warnings } = parseConfig(patched, 'walship.yml', { env: {} });
      expect(warnings).toEqual([]);
      expect(config.addr).toBe(':9090');
      expect(config.dbs[0]!.path).toBe('/data/cache.db');
      expect(config.dbs[0]!.replicas[0]!.type).toBe('sftp');
    });
  });

  describe("walship's own config loader, compose's s3 profile", () => {
    it('accepts images/walship/walship-s3.yml without a warning, credentials from the environment only', () => {
      const text = readFileSync(path.join(repoRoot, 'images', 'walship', 'walship-s3.yml'), 'utf8');
      expect(text).not.toMatch(/access-key-id|secret-access-key/);
      const { config, warnings } = parseConfig(text, 'walship-s3.yml', { env: { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' } });
      expect(warnings).toEqual([]);
      expect(config.addr).toBe(':9090');
      expect(config.dbs[0]!.path).toBe('/data/cache.db');
      expect(config.dbs[0]!.replicas[0]!.type).toBe('s3');
    });
  });

  describe('scripts/k8s-to-podman.mjs', () => {
    const keys = { id_ed25519: 'CLIENT KEY\n', ssh_host_ed25519_key: 'HOST KEY\n', authorized_keys: 'ssh-ed25519 AAAA walship\n', known_hosts: 'walship-sftp ssh-ed25519 AAAA\n' };
    const convert = (opts: Obj = {}): { pods: { file: string; pod: Obj }[]; configMaps: Obj[] } =>
      (toPodman as (m: unknown, o: Obj) => { pods: { file: string; pod: Obj }[]; configMaps: Obj[] })(readManifests(k8sDir), { keys, ...opts });

    it('turns each Deployment into a Pod of that name, with the sidecar last and OnFailure', () => {
      const { pods } = convert();
      expect(pods.map((p) => [p.file, p.pod.kind, p.pod.metadata.name])).toEqual([
        ['demo-app.yaml', 'Pod', 'demo-app'],
        ['read-replica-1.yaml', 'Pod', 'demo-app-read-1'],
        ['read-replica-2.yaml', 'Pod', 'demo-app-read-2'],
        ['sftp-replica.yaml', 'Pod', 'walship-sftp'],
      ]);
      const demo = pods[0]!.pod.spec as Obj;
      const original = find('Deployment', 'demo-app')!.spec.template.spec as Obj;
      expect((demo.initContainers as Obj[]).map((c) => c.name)).toEqual(['restore']);
      expect((demo.containers as Obj[]).map((c) => c.name)).toEqual(['app', 'walship']);
      // The sidecar as it is, less restartPolicy and its unpublished port (change 8).
      const { restartPolicy: _, ports: _ports, ...sidecarWithout } = (original.initContainers as Obj[])[1]!;
      expect((demo.containers as Obj[])[1]).toEqual(sidecarWithout);
      expect(demo.restartPolicy).toBe('OnFailure');
      expect(pods.every((p) => p.pod.spec.restartPolicy === 'OnFailure')).toBe(true);
      // Everything else is the manifest's own.
      expect(demo.securityContext).toEqual(original.securityContext);
      expect((demo.initContainers as Obj[])[0]).toEqual((original.initContainers as Obj[])[0]);
    });

    it('feeds Secret volumes from ConfigMaps holding the keys, and publishes a Service only when asked', () => {
      const { pods, configMaps } = convert({ publish: { 'demo-app': '127.0.0.1:18080' }, volumePrefix: 't1-' });
      const demo = pods[0]!.pod.spec as Obj;
      const ssh = (demo.volumes as Obj[]).find((v) => v.name === 'ssh')!;
      expect(ssh.secret).toBeUndefined();
      expect(ssh.configMap).toEqual({ name: 't1-walship-ssh', defaultMode: 0o440, items: [{ key: 'id_ed25519', path: 'id_ed25519' }] });
      expect((demo.volumes as Obj[]).find((v) => v.name === 'data')!.persistentVolumeClaim.claimName).toBe('t1-demo-app-data');
      const byName = new Map(configMaps.map((c) => [c.metadata.name, c.data]));
      expect(byName.get('t1-walship-ssh')).toEqual({ id_ed25519: keys.id_ed25519 });
      expect(byName.get('t1-walship-sftp-keys')).toEqual({ ssh_host_ed25519_key: keys.ssh_host_ed25519_key, authorized_keys: keys.authorized_keys });
      expect(byName.get('t1-walship-config')!.known_hosts).toBe(keys.known_hosts);
      expect(byName.get('t1-walship-config')!['walship.yml']).toBe(find('ConfigMap', 'walship-config')!.data['walship.yml']);
      // Podman keeps emptyDirs as named volumes too: prefixed, with the mounts that use them.
      expect((demo.volumes as Obj[]).find((v) => v.emptyDir)!.name).toBe('t1-tmp');
      for (const c of [...(demo.initContainers as Obj[]), ...(demo.containers as Obj[])]) {
        expect((c.volumeMounts as Obj[]).find((m) => m.mountPath === '/tmp')?.name, c.name).toBe('t1-tmp');
      }
      const appPort = ((demo.containers as Obj[])[0]!.ports as Obj[])[0];
      expect(appPort).toEqual({ name: 'http', containerPort: 8080, protocol: 'TCP', hostIP: '127.0.0.1', hostPort: 18080 });
      // Unpublished ports are dropped: Podman 4.3.1 would publish each on the host at its own number.
      for (const x of pods) {
        for (const c of x.pod.spec.containers as Obj[]) {
          const expected = x.pod.metadata.name === 'demo-app' && c.name === 'app' ? [appPort] : undefined;
          expect(c.ports, `${x.pod.metadata.name}/${c.name}`).toEqual(expected);
        }
      }
    });

    it('makes N pods of a Deployment with replicas N, each with its own emptyDirs and published port', () => {
      const { pods } = convert({ volumePrefix: 't2-', publish: { 'demo-app-read': '127.0.0.1:18081,127.0.0.1:18082' } });
      const read = pods.filter((x) => x.pod.metadata.name.startsWith('demo-app-read-'));
      expect(read).toHaveLength(find('Deployment', 'demo-app-read')!.spec.replicas as number);
      const emptyDirs = read.map((x) => (x.pod.spec.volumes as Obj[]).filter((v) => v.emptyDir).map((v) => v.name as string).sort());
      expect(emptyDirs).toEqual([['t2-demo-app-read-1-data', 't2-demo-app-read-1-tmp'], ['t2-demo-app-read-2-data', 't2-demo-app-read-2-tmp']]);
      for (const [i, x] of read.entries()) {
        for (const c of x.pod.spec.containers as Obj[]) {
          expect((c.volumeMounts as Obj[]).find((m) => m.mountPath === '/data')?.name, `${x.pod.metadata.name}/${c.name}`).toBe(`t2-demo-app-read-${i + 1}-data`);
        }
        const app = (x.pod.spec.containers as Obj[]).find((c) => c.name === 'app')!;
        expect((app.ports as Obj[])[0]).toMatchObject({ hostIP: '127.0.0.1', hostPort: 18081 + i });
      }
    });

    it('refuses a Deployment of several replicas that holds a PVC (one writer per database)', () => {
      const scaled = readManifests(k8sDir) as { file: string; doc: Obj }[];
      scaled.find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.name === 'demo-app')!.doc.spec.replicas = 2;
      expect(() => (toPodman as (m: unknown, o: Obj) => unknown)(scaled, { keys })).toThrow(/demo-app has replicas 2 and a PersistentVolumeClaim/);
    });

    it('refuses what Podman cannot run: a missing key, a port probe, a Service named apart from its pod', () => {
      const { authorized_keys: _, ...fewer } = keys;
      expect(() => (toPodman as (m: unknown, o: Obj) => unknown)(readManifests(k8sDir), { keys: fewer })).toThrow(/authorized_keys/);
      const withHttp = readManifests(k8sDir) as { file: string; doc: Obj }[];
      const sftpDeploy = withHttp.find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.name === 'walship-sftp')!;
      sftpDeploy.doc.spec.template.spec.containers[0].livenessProbe = { tcpSocket: { port: 'ssh' } };
      expect(() => (toPodman as (m: unknown, o: Obj) => unknown)(withHttp, { keys })).toThrow(/livenessProbe is not an exec probe/);
      const renamed = readManifests(k8sDir) as { file: string; doc: Obj }[];
      renamed.find((m) => m.doc.kind === 'Service' && m.doc.metadata.name === 'walship-sftp')!.doc.metadata.name = 'sftp';
      expect(() => (toPodman as (m: unknown, o: Obj) => unknown)(renamed, { keys })).toThrow(/Service sftp selects pod walship-sftp/);
    });
  });
});
