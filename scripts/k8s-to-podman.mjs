#!/usr/bin/env node
// Derives from the Kubernetes manifests in k8s/ what `podman kube play` (Podman 4.3.1, Debian 12)
// can run, so the manifests stay the one source of truth. Each change below works around one
// thing Podman 4.3.1 does differently from a cluster, found by running the pod:
//   1. Deployment -> Pod, named after the Deployment; Podman has no controller. A Deployment of
//      N > 1 replicas (the read replicas: no PVC, so no shared writer) becomes N pods NAME-1 ..
//      NAME-N, one file each; one with a PersistentVolumeClaim must have 1 (one writer per
//      database, and a ReadWriteOnce claim is one pod's anyway).
//   2. Native sidecars (init containers with restartPolicy: Always) move to the end of
//      `containers:`, without restartPolicy: Podman refuses them with probes and, without, waits
//      for them to exit before starting the app. This is the layout the manifests describe for
//      clusters older than 1.29; stop the app before the sidecar (see k8s/README.md).
//   3. The pod's restartPolicy becomes OnFailure: Podman gives init containers the pod's policy,
//      and under Always restarts the restore container after every successful run. (A Deployment
//      in Kubernetes allows only Always, and Kubernetes runs init containers once regardless.)
//   4. Secret volumes become ConfigMap volumes of the same name (Podman 4.3.1 panics on a secret
//      volume without `optional:`, and with it writes base64 text into the files); the Secrets'
//      keys are read from --keys DIR and written as ConfigMaps for `--configmap`. The ConfigMaps
//      from k8s/ are written there too, with their keys from DIR where DIR has a file of that
//      name (known_hosts).
//   5. Services are ignored by Podman, and a pod is reached on its network by its own name: a
//      Service's name must be the name of the Deployment it selects (checked; its pods are NAME,
//      or NAME-1 .. NAME-N), and --publish SERVICE=IP:PORT[,IP:PORT...] publishes the Service's
//      first port on the host, one address per pod in order.
//   6. Podman keeps every volume of a pod as a named volume: a PersistentVolumeClaim as one named
//      after its claim, and also each ConfigMap (by the ConfigMap's name) and each emptyDir (by
//      the pod's volume name), which outlive the pod. --volume-prefix P puts P before all those
//      names, so a test's volumes are its own and never meet another run's stale keys. The
//      emptyDirs of a Deployment's N > 1 pods are named after each pod too (P + NAME-i- + volume):
//      on a cluster every pod has its own, and two followers must never share one database file.
//   8. Container ports that no --publish names are dropped: Podman 4.3.1 publishes every declared
//      containerPort on the host at the same number, on all addresses (later Podman releases
//      need --publish-all for that), so two pods declaring the same port (the two read replicas'
//      9090) cannot both start, and a pod's ports would be open beyond the loopback. Pods reach
//      each other on the network by pod name and any port, declared or not.
//   7. Probes must be exec probes: Podman turns httpGet and tcpSocket probes into `curl`
//      healthchecks, and the images carry no curl. A non-exec probe is an error here, not a
//      silent change: fix the manifest.
//
//   node scripts/k8s-to-podman.mjs --keys DIR --out DIR [--volume-prefix P] [--publish SVC=IP:PORT[,IP:PORT...]]...
//
// DIR for --keys is what `k8s/make-keys.sh --out DIR` writes. In --out it writes, for each
// k8s/*.yaml holding a Deployment, a file of the same name with the Pod (FILE-i.yaml for each of
// N > 1 replicas), and configmaps/NAME.yaml
// for each ConfigMap (one per file: Podman 4.3.1 reads only a file's first document). It prints
// the command for each pod; the SFTP pod first:
//   podman kube play --network NET --configmap OUT/configmaps/A.yaml ... OUT/sftp-replica.yaml
//   podman kube play --network NET --configmap OUT/configmaps/A.yaml ... OUT/demo-app.yaml
//   podman kube play --network NET --configmap OUT/configmaps/A.yaml ... OUT/read-replica-1.yaml (and -2)
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const k8sDir = path.resolve(here, '..', 'k8s');

/** Reads every document of every k8s/*.yaml, as kubectl does (YAML 1.1: 0440 is octal). */
export function readManifests(dir = k8sDir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) =>
      YAML.parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'), { version: '1.1' })
        .map((d) => {
          if (d.errors.length > 0) throw new Error(`k8s/${file}: ${d.errors[0].message}`);
          return { file, doc: d.toJS() };
        })
        .filter((m) => m.doc !== null),
    );
}

const fail = (msg) => {
  throw new Error(`k8s-to-podman: ${msg}`);
};

const selects = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

function checkProbes(podName, container) {
  for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const probe = container[kind];
    if (probe && !probe.exec) {
      fail(`${podName}/${container.name} ${kind} is not an exec probe: Podman runs httpGet/tcpSocket probes with curl, which the images do not have`);
    }
  }
}

/**
 * The pods and ConfigMaps for Podman. `keys` maps a file name to its text (from --keys DIR);
 * `publish` maps a Service name to "IP:PORT", or a comma-separated list of them, one per pod.
 */
export function toPodman(manifests, { keys, publish = {}, volumePrefix = '' }) {
  const services = manifests.filter((m) => m.doc.kind === 'Service').map((m) => m.doc);
  const secrets = new Map(manifests.filter((m) => m.doc.kind === 'Secret').map((m) => [m.doc.metadata.name, m.doc]));
  const configMaps = [];

  const keyText = (owner, key) => {
    if (!(key in keys)) fail(`${owner} needs the key ${key}: no file ${key} in --keys`);
    return keys[key];
  };
  for (const m of manifests.filter((x) => x.doc.kind === 'ConfigMap')) {
    const data = Object.fromEntries(Object.entries(m.doc.data ?? {}).map(([k, v]) => [k, k in keys ? keys[k] : v]));
    configMaps.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: volumePrefix + m.doc.metadata.name }, data });
  }
  for (const s of secrets.values()) {
    const names = Object.keys({ ...(s.data ?? {}), ...(s.stringData ?? {}) });
    const data = Object.fromEntries(names.map((k) => [k, keyText(`Secret ${s.metadata.name}`, k)]));
    configMaps.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: volumePrefix + s.metadata.name }, data });
  }

  const pods = [];
  for (const m of manifests.filter((x) => x.doc.kind === 'Deployment')) {
    const deploy = m.doc;
    const name = deploy.metadata.name;
    const replicas = deploy.spec.replicas ?? 1;
    const template = structuredClone(deploy.spec.template);
    const spec = template.spec;
    // 1. replicas
    if (!Number.isInteger(replicas) || replicas < 1) fail(`Deployment ${name} has replicas ${replicas}; give at least 1`);
    if (replicas > 1 && (spec.volumes ?? []).some((v) => v.persistentVolumeClaim)) {
      fail(`Deployment ${name} has replicas ${replicas} and a PersistentVolumeClaim: one writer per database, so 1`);
    }

    // 2. native sidecars to the end of containers
    const init = spec.initContainers ?? [];
    const sidecars = init.filter((c) => c.restartPolicy === 'Always').map(({ restartPolicy: _, ...c }) => c);
    spec.initContainers = init.filter((c) => c.restartPolicy !== 'Always');
    if (spec.initContainers.length === 0) delete spec.initContainers;
    spec.containers = [...spec.containers, ...sidecars];
    // 3. restart policy
    spec.restartPolicy = 'OnFailure';
    // 4. secret volumes -> configMap volumes
    spec.volumes = (spec.volumes ?? []).map((v) => {
      if (!v.secret) return v;
      if (!secrets.has(v.secret.secretName)) fail(`${name} volume ${v.name} names Secret ${v.secret.secretName}, which k8s/ does not define`);
      const { secretName, ...rest } = v.secret;
      return { name: v.name, configMap: { name: secretName, ...rest } };
    });
    // 6. volume names shared by all of the Deployment's pods
    for (const v of spec.volumes) {
      if (v.persistentVolumeClaim) v.persistentVolumeClaim = { ...v.persistentVolumeClaim, claimName: volumePrefix + v.persistentVolumeClaim.claimName };
      if (v.configMap) v.configMap = { ...v.configMap, name: volumePrefix + v.configMap.name };
    }
    // 7. probes
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) checkProbes(name, c);
    // 5. Services
    const selecting = services.filter((s) => selects(s.spec.selector, template.metadata.labels));
    for (const svc of selecting) {
      if (svc.metadata.name !== name) fail(`Service ${svc.metadata.name} selects pod ${name}; on Podman the pod is reached by its own name, so they must be the same`);
    }

    for (let i = 1; i <= replicas; i++) {
      const podName = replicas === 1 ? name : `${name}-${i}`;
      const podSpec = structuredClone(spec);
      // 6. emptyDir names: one set per pod
      const emptyDirPrefix = volumePrefix + (replicas === 1 ? '' : `${podName}-`);
      for (const v of podSpec.volumes) {
        if (!v.emptyDir || !emptyDirPrefix) continue;
        const old = v.name;
        v.name = emptyDirPrefix + old;
        for (const c of [...(podSpec.initContainers ?? []), ...podSpec.containers]) {
          c.volumeMounts = (c.volumeMounts ?? []).map((vm) => (vm.name === old ? { ...vm, name: v.name } : vm));
        }
      }
      // 5. published ports: the i-th address of the Service's list
      for (const svc of selecting) {
        const hostAddr = (publish[svc.metadata.name] ?? '').split(',').filter(Boolean)[i - 1];
        if (!hostAddr) continue;
        const [hostIP, hostPort] = [hostAddr.slice(0, hostAddr.lastIndexOf(':')), Number(hostAddr.slice(hostAddr.lastIndexOf(':') + 1))];
        const target = svc.spec.ports[0].targetPort ?? svc.spec.ports[0].port;
        const port = podSpec.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === target || p.containerPort === target);
        if (!port) fail(`Service ${svc.metadata.name} targets port ${target}, which no container of ${name} declares`);
        Object.assign(port, { hostIP, hostPort });
      }
      // 8. only published ports stay
      for (const c of podSpec.containers) {
        const published = (c.ports ?? []).filter((p) => p.hostPort);
        if (published.length > 0) c.ports = published;
        else delete c.ports;
      }
      pods.push({
        file: replicas === 1 ? m.file : m.file.replace(/\.yaml$/, `-${i}.yaml`),
        pod: { apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, labels: template.metadata.labels, annotations: template.metadata.annotations }, spec: podSpec },
      });
    }
  }
  for (const p of Object.keys(publish)) {
    if (!services.some((s) => s.metadata.name === p)) fail(`--publish ${p}: no Service of that name`);
  }
  return { pods, configMaps };
}

function main() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string' },
      out: { type: 'string' },
      'volume-prefix': { type: 'string', default: '' },
      publish: { type: 'string', multiple: true, default: [] },
    },
  });
  if (!values.keys || !values.out) fail('usage: k8s-to-podman.mjs --keys DIR --out DIR [--volume-prefix P] [--publish SERVICE=IP:PORT[,IP:PORT...]]...');
  if (!existsSync(values.keys)) fail(`--keys ${values.keys} does not exist (k8s/make-keys.sh --out DIR makes it)`);
  const keys = Object.fromEntries(readdirSync(values.keys).map((f) => [f, readFileSync(path.join(values.keys, f), 'utf8')]));
  const publish = Object.fromEntries(
    values.publish.map((p) => {
      const i = p.indexOf('=');
      if (i < 0 || !p.slice(i + 1).split(',').every((a) => /^.+:\d+$/.test(a))) fail(`--publish ${p}: expected SERVICE=IP:PORT[,IP:PORT...]`);
      return [p.slice(0, i), p.slice(i + 1)];
    }),
  );
  const { pods, configMaps } = toPodman(readManifests(), { keys, publish, volumePrefix: values['volume-prefix'] });
  mkdirSync(values.out, { recursive: true });
  const header = (src) => `# Generated by scripts/k8s-to-podman.mjs from ${src}: do not edit, change k8s/ instead.\n`;
  for (const { file, pod } of pods) writeFileSync(path.join(values.out, file), header(`k8s/${file}`) + YAML.stringify(pod, { aliasDuplicateObjects: false }));
  // One file per ConfigMap: Podman 4.3.1 reads only the first document of a --configmap file.
  const cmDir = path.join(values.out, 'configmaps');
  mkdirSync(cmDir, { recursive: true });
  for (const c of configMaps) {
    writeFileSync(path.join(cmDir, `${c.metadata.name}.yaml`), header('the ConfigMaps and Secrets of k8s/ and the keys in --keys') + YAML.stringify(c));
  }
  const cmFlags = configMaps.map((c) => `--configmap ${path.join(cmDir, `${c.metadata.name}.yaml`)}`).join(' ');
  for (const { file, pod } of pods) {
    console.log(`pod ${pod.metadata.name} (${pod.spec.containers.map((c) => c.name).join(', ')}): podman kube play --network NET ${cmFlags} ${path.join(values.out, file)}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
