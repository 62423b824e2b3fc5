// The Kubernetes manifests in k8s/, checked without a cluster:
//   - JSON schema: every document against the Kubernetes OpenAPI schema of its kind, with the
//     ajv validators that kubernetes-models compiles from it (types, required fields, formats);
//   - field names: every document as a typed object literal of kubernetes-types, through the
//     TypeScript compiler, whose excess-property check rejects a misspelt or misplaced field the
//     way `kubectl apply` (strict field validation) does; the schema check alone lets those pass;
//   - what the walship pod needs: init restore, native sidecar, probes on the addr port, the
//     shared /data PVC, security settings, resources, and references that resolve;
//   - walship's own config loader accepts the shipped walship.yml files with no warning.
// No Docker needed. YAML is read as YAML 1.1, as kubectl reads it (0400 is octal there).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parseConfig } from '../../src/config/load.js';
import { repoRoot } from './docker.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

interface Manifest {
  file: string;
  index: number;
  doc: Obj;
}

/** The kinds k8s/ uses, with their schema-validating models. */
const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

const k8sDir = path.join(repoRoot, 'k8s');
const manifests: Manifest[] = readdirSync(k8sDir)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort()
  .flatMap((file) =>
    YAML.parseAllDocuments(readFileSync(path.join(k8sDir, file), 'utf8'), { version: '1.1' }).map((d, index) => {
      if (d.errors.length > 0) throw new Error(`k8s/${file} document ${index}: ${d.errors[0]!.message}`);
      return { file, index, doc: d.toJS() as Obj };
    }),
  )
  .filter((m) => m.doc !== null);

const where = (m: Manifest): string => `k8s/${m.file} #${m.index} ${m.doc.kind}/${m.doc.metadata?.name}`;
const find = (kind: string, name: string): Obj | undefined => manifests.find((m) => m.doc.kind === kind && m.doc.metadata?.name === name)?.doc;
const byKind = (kind: string): Obj[] => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);

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
      'Deployment/walship-sftp',
      'PersistentVolumeClaim/demo-app-data',
      'PersistentVolumeClaim/walship-sftp-data',
      'Secret/walship-sftp-keys',
      'Secret/walship-ssh',
      'Service/demo-app',
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

    it('probes /healthz and /readyz on the port of addr', () => {
      const port = Number(String(walshipYml.addr).split(':').pop());
      const named = (sidecar!.ports as Obj[]).find((p) => p.containerPort === port);
      expect(named, `a container port ${port}`).toBeDefined();
      for (const probe of ['livenessProbe', 'startupProbe']) {
        expect(sidecar![probe].httpGet.path).toBe('/healthz');
        expect([named!.name, port]).toContain(sidecar![probe].httpGet.port);
      }
      expect(sidecar!.readinessProbe.httpGet.path).toBe('/readyz');
      expect([named!.name, port]).toContain(sidecar!.readinessProbe.httpGet.port);
      expect(app.readinessProbe).toBeDefined();
      expect(app.livenessProbe).toBeDefined();
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
});
