// Goal: the Kubernetes manifests (deploy/kubernetes/) stay in step with the CLI and the image,
// without a Kubernetes engine: the files parse; the StatefulSet, its Services, budget and probes
// agree on names, labels, ports and paths; every environment variable is one that raftkv start or
// the start script reads; and the start script, run under sh for pods of each kind (initial
// member, scaled-up member, restart, lost volume), starts raftkv with flags the real CLI parser
// accepts — the id from the pod, the stable DNS names, --cluster or --join — or refuses.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseStartCommand, startEnvNames, startFlags } from '../../src/cli/start-options.js';
import {
  asList,
  asMap,
  asStrings,
  dockerRuntimeStage,
  readRepoFile,
  type Yaml,
} from '../support/manifests.js';

const dir = 'deploy/kubernetes/';
const scriptText = readRepoFile(`${dir}start.sh`);

type Doc = { [key: string]: Yaml };

/** Every document of a YAML file, parsed; a file with a syntax error fails here. */
function docs(file: string): Doc[] {
  return parseAllDocuments(readRepoFile(`${dir}${file}`)).map((d, i) => {
    assert.deepEqual(d.errors, [], `${file}, document ${i + 1} parses`);
    return asMap(d.toJS() as Yaml, `${file}, document ${i + 1}`);
  });
}

const kustomization = docs('kustomization.yaml')[0]!;
const resourceFiles = asStrings(kustomization.resources, 'kustomization resources');
const resources = resourceFiles.flatMap(docs);
const bootstrap = docs('bootstrap.yaml')[0]!;

function only(kind: string, name?: string): Doc {
  const found = resources.filter(
    (r) => r.kind === kind && (name === undefined || asMap(r.metadata, kind).name === name),
  );
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!;
}

const statefulSet = only('StatefulSet');
const sts = asMap(statefulSet.spec, 'StatefulSet spec');
const pod = asMap(asMap(sts.template, 'template').spec, 'pod spec');
const container = asMap(asList(pod.containers, 'containers')[0], 'container');
const containerEnv = asList(container.env, 'env').map((e) => asMap(e, 'env entry'));
const mounts = asList(container.volumeMounts, 'volumeMounts').map((m) => asMap(m, 'volumeMount'));
const podLabels = asMap(
  asMap(asMap(sts.template, 'template').metadata, 'template metadata').labels,
  'labels',
);

/** The env entries with a literal value, as the container sees them. */
const literalEnv: Record<string, string> = Object.fromEntries(
  containerEnv.filter((e) => typeof e.value === 'string').map((e) => [e.name as string, e.value as string]),
);

/** The port the script gives raftkv, the one members are reached at. */
const scriptPort = Number(/^port=(\d+)$/m.exec(scriptText)?.[1]);

test('every file parses; the kustomization lists every manifest but the bootstrap switch', () => {
  const files = readdirSync(new URL(`../../../${dir}`, import.meta.url));
  const yamlFiles = files.filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(
    [...resourceFiles, 'bootstrap.yaml', 'kustomization.yaml'].sort(),
    yamlFiles.sort(),
    'every manifest is either a resource of the kustomization or the bootstrap switch',
  );
  for (const r of [...resources, bootstrap]) {
    assert.equal(typeof r.apiVersion, 'string');
    assert.equal(typeof r.kind, 'string');
    assert.equal(typeof asMap(r.metadata, String(r.kind)).name, 'string');
  }
  const generated = asList(kustomization.configMapGenerator, 'configMapGenerator').map((g) =>
    asMap(g, 'generator'),
  );
  assert.deepEqual(
    generated.map((g) => [g.name, asStrings(g.files, 'files')]),
    [['raftkv-start', ['start.sh']]],
  );
  assert.equal(bootstrap.kind, 'ConfigMap');
  assert.deepEqual(bootstrap.data, { 'initial-cluster-state': 'new' });
});

test('the StatefulSet: 3 members in parallel, the image the Dockerfile builds, the start script', () => {
  assert.equal(sts.replicas, 3);
  assert.equal(sts.podManagementPolicy, 'Parallel', 'no member can be ready before a majority runs');
  assert.deepEqual(asMap(sts.selector, 'selector').matchLabels, podLabels);
  // The same image as Compose: the Dockerfile's, named as docs/docker.md builds it.
  const images = asList(kustomization.images, 'images').map((i) => asMap(i, 'image'));
  assert.equal(container.image, 'raftkv');
  assert.deepEqual(
    images.map((i) => i.name),
    ['raftkv'],
  );
  assert.match(readRepoFile('docs/docker.md'), /docker build -t raftkv \./);
  // The start script from its ConfigMap, which runs the image's own entry point.
  const command = asStrings(container.command, 'command');
  assert.deepEqual(command.slice(0, 1), ['/bin/sh']);
  const startMount = mounts.find((m) => command[1] === `${m.mountPath}/start.sh`);
  assert.ok(startMount, 'the script is on a mounted volume');
  const volumes = asList(pod.volumes, 'volumes').map((v) => asMap(v, 'volume'));
  const startVolume = volumes.find((v) => v.name === startMount.name);
  assert.equal(asMap(startVolume?.configMap, 'configMap volume').name, 'raftkv-start');
  const runtime = dockerRuntimeStage();
  const workdir = runtime.find((l) => l.startsWith('WORKDIR '))!.slice('WORKDIR '.length);
  const entry = JSON.parse(runtime.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length));
  assert.deepEqual(entry, ['node', 'dist/src/cli/main.js', 'start']);
  const cliMain = /cli="\$\{CLI_MAIN:-([^}]+)\}"/.exec(scriptText)?.[1];
  assert.equal(cliMain, path.posix.join(workdir, entry[1]), "the script runs the image's entry point");
  assert.match(scriptText, /exec node "\$cli" start /);
  // The image runs as its unprivileged `node` user (uid 1000 in the node images).
  assert.ok(runtime.includes('USER node'));
  assert.equal(asMap(pod.securityContext, 'securityContext').runAsUser, 1000);
  assert.equal(asMap(pod.securityContext, 'securityContext').fsGroup, 1000, 'the volume is writable by it');
  // No member is ever removed by a hook: a restart would remove it.
  assert.equal(asMap(container, 'container').lifecycle, undefined, 'no preStop hook');
  assert.ok(asMap(container.resources, 'resources').requests, 'resource requests');
});

test('ports agree: the script, the container, the probes, both Services, the image', () => {
  assert.equal(scriptPort, 7001);
  const ports = asList(container.ports, 'ports').map((p) => asMap(p, 'port'));
  assert.deepEqual(
    ports.map((p) => [p.name, p.containerPort]),
    [['raftkv', scriptPort]],
  );
  assert.ok(dockerRuntimeStage().includes(`EXPOSE ${scriptPort}`));
  const probes = {
    startupProbe: '/livez',
    readinessProbe: '/readyz',
    livenessProbe: '/livez',
  };
  for (const [probe, route] of Object.entries(probes)) {
    const get = asMap(asMap(container[probe], probe).httpGet, `${probe}.httpGet`);
    assert.equal(get.path, route, `${probe} asks ${route}`);
    assert.equal(get.port, 'raftkv', `${probe} asks the container's port`);
  }
  const headless = asMap(only('Service', String(sts.serviceName)).spec, 'headless Service');
  const client = asMap(only('Service', 'raftkv-client').spec, 'client Service');
  assert.equal(headless.clusterIP, 'None');
  assert.equal(headless.publishNotReadyAddresses, true, 'peers resolve each other before they are ready');
  assert.equal(client.clusterIP, undefined, 'clients get a virtual IP over the ready members');
  for (const spec of [headless, client]) {
    assert.deepEqual(spec.selector, podLabels);
    const [port] = asList(spec.ports, 'Service ports').map((p) => asMap(p, 'Service port'));
    assert.equal(port?.port, scriptPort);
    assert.equal(port?.targetPort, 'raftkv');
  }
  assert.equal(
    literalEnv.HEADLESS_SERVICE,
    sts.serviceName,
    'the script names members through the headless Service',
  );
});

test('the data dir is on the volume of each member; the disruption budget allows one down', () => {
  const [claim] = asList(sts.volumeClaimTemplates, 'volumeClaimTemplates').map((c) => asMap(c, 'claim'));
  const claimName = asMap(claim?.metadata, 'claim metadata').name;
  const dataMount = mounts.find((m) => m.name === claimName);
  assert.ok(dataMount, 'the claim is mounted');
  assert.equal(literalEnv.VOLUME_DIR, dataMount.mountPath, 'the script keeps the member id on the volume');
  const dataDir = literalEnv.DATA_DIR!;
  const inside = path.posix.relative(String(dataMount.mountPath), dataDir);
  assert.ok(inside !== '' && !inside.startsWith('..'), `${dataDir} is a directory on the volume`);
  assert.deepEqual(asMap(claim?.spec, 'claim spec').accessModes, ['ReadWriteOnce']);

  const pdb = asMap(only('PodDisruptionBudget').spec, 'PodDisruptionBudget spec');
  assert.equal(pdb.maxUnavailable, 1);
  assert.deepEqual(asMap(pdb.selector, 'PDB selector').matchLabels, podLabels);
});

/** The variables the start script reads. */
const scriptVars = new Set([...scriptText.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
/** Those it requires (`: "${NAME:?...}"`). */
const requiredVars = [...scriptText.matchAll(/^: "\$\{([A-Z][A-Z0-9_]*):\?/gm)].map((m) => m[1]!);

test('every variable and flag is one raftkv start or the start script reads', () => {
  for (const e of containerEnv) {
    const name = String(e.name);
    assert.ok(
      startEnvNames.includes(name) || scriptVars.has(name),
      `${name} is read by raftkv start (docs/cli.md) or by start.sh`,
    );
  }
  const set = new Set(containerEnv.map((e) => String(e.name)));
  for (const name of requiredVars) {
    assert.ok(set.has(name) || name === 'HOSTNAME', `start.sh requires ${name}: the StatefulSet sets it`);
  }
  const bootstrapRef = containerEnv.find((e) => e.name === 'INITIAL_CLUSTER_STATE');
  const ref = asMap(asMap(bootstrapRef?.valueFrom, 'valueFrom').configMapKeyRef, 'configMapKeyRef');
  assert.equal(ref.name, asMap(bootstrap.metadata, 'bootstrap metadata').name);
  assert.equal(ref.key, Object.keys(asMap(bootstrap.data, 'bootstrap data'))[0]);
  assert.equal(ref.optional, true, 'without the bootstrap switch, pods start (as existing members)');
  const flagNames = new Set(startFlags.map((f) => f.name));
  const used = [...scriptText.matchAll(/^\s*exec node .*$/gm)].flatMap((m) =>
    [...m[0].matchAll(/\s--([a-z][a-z-]*)/g)].map((f) => f[1]!),
  );
  assert.ok(used.length >= 6, `the script's flags: ${used.join(' ')}`);
  for (const f of used) assert.ok(flagNames.has(f), `raftkv start has --${f}`);
  // The CLI's own variables are valid for it: the real parser accepts them (below, with the
  // script's flags) — here, that they are the documented kind.
  assert.equal(literalEnv.RAFTKV_LOG_FORMAT, 'json');
});

// --- the start script, run ---------------------------------------------------------------------

interface Pod {
  readonly root: string;
  readonly volume: string;
  readonly dataDir: string;
  readonly argvFile: string;
  /** Runs start.sh as pod `hostname` would, on this volume. */
  run(
    hostname: string,
    extraEnv?: Readonly<Record<string, string>>,
  ): { status: number | null; stderr: string; argv: string[] | null };
}

/**
 * A pod's volume in a temp dir, laid out as the manifests lay it out, and a stand-in for the
 * image's entry point that records the arguments it was started with (the script's decision is
 * what is tested; the arguments then go through the real parser).
 */
function podVolume(t: { after: (fn: () => void) => void }): Pod {
  const root = mkdtempSync(path.join(tmpdir(), 'raftkv-k8s-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const mountPath = String(mounts.find((m) => m.name === 'data')?.mountPath);
  const volume = path.join(root, mountPath);
  const dataDir = path.join(root, literalEnv.DATA_DIR!);
  mkdirSync(volume, { recursive: true });
  const argvFile = path.join(root, 'argv.json');
  const recorder = path.join(root, 'record-argv.mjs');
  writeFileSync(
    recorder,
    "import { writeFileSync } from 'node:fs';\nwriteFileSync(process.env.ARGV_FILE, JSON.stringify(process.argv.slice(2)));\n",
  );
  const script = path.join(root, 'start.sh');
  writeFileSync(script, scriptText);
  return {
    root,
    volume,
    dataDir,
    argvFile,
    run(hostname, extraEnv = {}) {
      rmSync(argvFile, { force: true });
      const env = {
        PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
        ...literalEnv,
        HOSTNAME: hostname,
        POD_NAMESPACE: 'prod',
        VOLUME_DIR: volume,
        DATA_DIR: dataDir,
        CLI_MAIN: recorder,
        ARGV_FILE: argvFile,
        ...extraEnv,
      };
      const r = spawnSync('sh', [script], { env, encoding: 'utf8', timeout: 10_000 });
      let argv: string[] | null = null;
      try {
        argv = JSON.parse(readFileSync(argvFile, 'utf8')) as string[];
      } catch {
        argv = null;
      }
      return { status: r.status, stderr: r.stderr, argv };
    },
  };
}

const creating = { INITIAL_CLUSTER_STATE: 'new' };
const dns = (i: number): string => `raftkv-${i}.raftkv.prod.svc`;
const initialCluster = Object.fromEntries(
  [0, 1, 2].map((i) => [`raftkv-${i}`, { host: dns(i), port: 7001 }]),
);

/** The arguments through the real parser, with the container's environment for the data dir. */
function parsed(pod: Pod, argv: readonly string[] | null) {
  assert.ok(argv, 'the script started raftkv');
  assert.equal(argv[0], 'start');
  return parseStartCommand(argv.slice(1), { ...literalEnv, DATA_DIR: pod.dataDir });
}

test('start.sh: an initial member bootstraps with --cluster, and restarts the same way on its data', (t) => {
  const pod = podVolume(t);
  const first = pod.run('raftkv-1', creating);
  assert.equal(first.status, 0, first.stderr);
  const { options, join } = parsed(pod, first.argv);
  assert.equal(join, undefined);
  assert.equal(options.id, 'raftkv-1');
  assert.deepEqual(options.cluster, initialCluster, 'every initial member at its stable DNS name');
  assert.deepEqual(options.listen, { host: '0.0.0.0', port: 7001 });
  assert.equal(options.dataDir, pod.dataDir);
  assert.equal(readFileSync(path.join(pod.volume, 'member-id'), 'utf8'), 'raftkv-1\n');

  // The node wrote its data; the bootstrap switch is gone: the same member starts the same way.
  mkdirSync(pod.dataDir, { recursive: true });
  writeFileSync(path.join(pod.dataDir, 'IDENTITY'), 'x');
  const again = pod.run('raftkv-1');
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(again.argv, first.argv, 'idempotent: a restart is the same command');
});

test('start.sh: a member added by scaling up joins under a new id through the initial members', (t) => {
  const pod = podVolume(t);
  for (const env of [creating, {}]) {
    rmSync(path.join(pod.volume, 'member-id'), { force: true });
    const r = pod.run('raftkv-4', env);
    assert.equal(r.status, 0, r.stderr);
    const { options, join } = parsed(pod, r.argv);
    assert.match(options.id, /^raftkv-4-[0-9a-f]{8}$/, 'the pod name and a suffix of its own');
    assert.deepEqual(
      join?.endpoints.map((e) => e.label),
      [0, 1, 2].map((i) => `${dns(i)}:7001`),
    );
    assert.deepEqual(join?.advertise, { host: dns(4), port: 7001 }, 'reached at its stable DNS name');
    assert.equal(join?.learner, false, 'promoted to voter once caught up');
    assert.deepEqual(options.listen, { host: '0.0.0.0', port: 7001 });
  }
  // It started and wrote its data dir: a restart is the same member.
  mkdirSync(pod.dataDir, { recursive: true });
  writeFileSync(path.join(pod.dataDir, 'IDENTITY'), 'x');
  const id = readFileSync(path.join(pod.volume, 'member-id'), 'utf8').trim();
  const restart = pod.run('raftkv-4');
  assert.equal(parsed(pod, restart.argv).options.id, id, 'a restart is the same member');
});

test('start.sh: an empty data dir never starts under the id of a member that had data', (t) => {
  // An initial member's pod on a fresh volume, the cluster created: it joins as a new member.
  const fresh = podVolume(t);
  const r = fresh.run('raftkv-1');
  assert.equal(r.status, 0, r.stderr);
  const { options, join } = parsed(fresh, r.argv);
  assert.match(options.id, /^raftkv-1-[0-9a-f]{8}$/);
  assert.deepEqual(join?.advertise, { host: dns(1), port: 7001 });

  // An initial member's id on the volume, its data dir emptied: a new member too.
  const emptied = podVolume(t);
  writeFileSync(path.join(emptied.volume, 'member-id'), 'raftkv-2\n');
  const again = emptied.run('raftkv-2');
  assert.equal(again.status, 0, again.stderr);
  assert.match(parsed(emptied, again.argv).options.id, /^raftkv-2-[0-9a-f]{8}$/);
  assert.notEqual(readFileSync(path.join(emptied.volume, 'member-id'), 'utf8'), 'raftkv-2\n');

  // A member's data without its id: refused, rather than guessed.
  const orphan = podVolume(t);
  mkdirSync(orphan.dataDir, { recursive: true });
  writeFileSync(path.join(orphan.dataDir, 'IDENTITY'), 'x');
  const refused = orphan.run('raftkv-3');
  assert.equal(refused.status, 1);
  assert.equal(refused.argv, null, 'raftkv was not started');
  assert.match(refused.stderr, /holds a member's data but .*member-id is missing/);
});

test('start.sh: creation switched on late still creates the cluster', (t) => {
  // bootstrap.yaml forgotten: the initial pods find no cluster to join, and start again ...
  const pod = podVolume(t);
  const lost = pod.run('raftkv-0');
  assert.equal(lost.status, 0, lost.stderr);
  assert.ok(parsed(pod, lost.argv).join, 'without the switch, a fresh volume only joins');
  // ... with the switch: their data dirs are still empty, so they create it.
  const created = pod.run('raftkv-0', creating);
  const { options, join } = parsed(pod, created.argv);
  assert.equal(join, undefined);
  assert.equal(options.id, 'raftkv-0');
  assert.deepEqual(options.cluster, initialCluster);
});

test('start.sh: a pod name without an ordinal is refused', (t) => {
  const pod = podVolume(t);
  const r = pod.run('raftkv', creating);
  assert.equal(r.status, 1);
  assert.equal(r.argv, null);
  assert.match(r.stderr, /does not end in an ordinal/);
});

test('kubectl kustomize renders the manifests (where kubectl is installed)', (t) => {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    t.skip('kubectl is not installed');
    return;
  }
  const r = spawnSync('kubectl', ['kustomize', new URL(`../../../${dir}`, import.meta.url).pathname], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const rendered = parseAllDocuments(r.stdout).map((d) => asMap(d.toJS() as Yaml, 'rendered'));
  const configMap = rendered.find((d) => d.kind === 'ConfigMap');
  const name = String(asMap(configMap?.metadata, 'ConfigMap metadata').name);
  assert.match(name, /^raftkv-start-/, 'the generated ConfigMap');
  assert.equal(asMap(configMap?.data, 'data')['start.sh'], scriptText);
  const renderedSts = rendered.find((d) => d.kind === 'StatefulSet');
  assert.ok(
    JSON.stringify(renderedSts).includes(`"name":"${name}"`),
    'the StatefulSet mounts it by its new name',
  );
  assert.deepEqual(rendered.map((d) => d.kind).sort(), [
    'ConfigMap',
    'PodDisruptionBudget',
    'Service',
    'Service',
    'StatefulSet',
  ]);
});
