// Goal: the Docker deployment stays in step with the CLI: the compose files parse, every
// variable they set is one `raftkv start` reads and accepts, every node's cluster list names every
// service, every service's healthcheck is the same working liveness probe (run here for real, as
// the image would run it, against a live node), and the Dockerfile runs the same entry point on
// the same port.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Script } from 'node:vm';
import { parse as parseYaml } from 'yaml';
import { parseEndpoints } from '../../src/cli/addresses.js';
import { defaultEndpoints } from '../../src/cli/kv-commands.js';
import { parseStartCommand, parseStartOptions, startEnvNames } from '../../src/cli/start-options.js';
import { startCluster } from '../support/cluster.js';
import {
  asEnv,
  asMap,
  asStrings,
  dockerRuntimeStage,
  readRepoFile as read,
  type Yaml,
} from '../support/manifests.js';
import { freePorts, LOOPBACK } from '../support/ports.js';

const binPath = 'dist/src/cli/main.js';
const containerPort = 7001;

/** Where the healthcheck looks: the node's own port, inside the container. */
const livezUrl = `http://127.0.0.1:${containerPort}/livez`;

/**
 * A service's healthcheck: `node -e SCRIPT` (the slim image has node, not curl) probing /livez —
 * never /readyz, which fails on every node of a cluster without a leader — with timings Docker
 * accepts. Returns the script.
 */
function healthcheckScript(v: Yaml | undefined, what: string): string {
  const h = asMap(v, `${what}.healthcheck`);
  const cmd = asStrings(h.test, `${what}.healthcheck.test`);
  assert.deepEqual(cmd.slice(0, 3), ['CMD', 'node', '-e'], `${what}: exec form, node -e`);
  assert.equal(cmd.length, 4);
  const script = cmd[3]!;
  assert.equal(script.split(livezUrl).length, 2, `${what}: probes ${livezUrl}, once`);
  assert.doesNotThrow(() => new Script(script), `${what}: the script is valid JavaScript`);
  assert.ok(!script.includes('$'), `${what}: no "$" in the script (compose would interpolate it)`);
  for (const field of ['interval', 'timeout', 'start_period']) {
    assert.match(String(h[field]), /^[0-9]+(ms|s|m)$/, `${what}.healthcheck.${field} is a duration`);
  }
  assert.ok(Number.isInteger(h.retries) && (h.retries as number) >= 1, `${what}.healthcheck.retries`);
  return script;
}

/**
 * The exit code of the healthcheck `script` run as the image runs it, pointed at `port` instead of
 * the container's. Asynchronously: the node it probes may run in this process.
 */
function runHealthcheck(script: string, port: number): Promise<number | null> {
  const local = script.replace(livezUrl, `http://${LOOPBACK}:${port}/livez`);
  const child = spawn(process.execPath, ['-e', local], { stdio: 'ignore', timeout: 15_000 });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

for (const [file, n, project] of [
  ['docker-compose.yml', 3, 'raftkv'],
  ['docker-compose.5.yml', 5, 'raftkv5'],
] as const) {
  test(`${file}: ${n} nodes the CLI accepts, reachable at 127.0.0.1:7001..${7000 + n}`, () => {
    const doc = asMap(parseYaml(read(file)) as Yaml, file);
    assert.deepEqual(Object.keys(doc).sort(), ['name', 'services', 'volumes']);
    assert.equal(doc.name, project, 'each file has its own project, so their volumes never mix');
    const services = asMap(doc.services, 'services');
    const names = Array.from({ length: n }, (_, i) => `node${i + 1}`);
    assert.deepEqual(Object.keys(services), names, 'services node1..nodeN, as in the seed');
    const volumes = asMap(doc.volumes, 'volumes');
    const hostPorts: number[] = [];
    const scripts = new Set<string>();
    for (const [i, name] of names.entries()) {
      const s = asMap(services[name], name);
      assert.equal(s.build, '.');
      assert.equal(s.hostname, name);
      const env = asEnv(s.environment, `${name}.environment`);
      for (const k of Object.keys(env))
        assert.ok(startEnvNames.includes(k), `${name}: raftkv start reads ${k}`);
      // The real parser, on the real environment: the node starts with these options.
      const o = parseStartOptions([], env);
      assert.equal(o.id, name);
      assert.equal(o.dataDir, '/data');
      assert.deepEqual(o.listen, { host: '0.0.0.0', port: containerPort });
      assert.deepEqual(
        o.cluster,
        Object.fromEntries(names.map((m) => [m, { host: m, port: containerPort }])),
        `${name}: the cluster is every service, at its service name`,
      );
      const ports = asStrings(s.ports, `${name}.ports`);
      assert.deepEqual(ports, [`${7001 + i}:${containerPort}`]);
      hostPorts.push(7001 + i);
      const mounts = asStrings(s.volumes, `${name}.volumes`);
      assert.deepEqual(mounts, [`${name}-data:/data`]);
      scripts.add(healthcheckScript(s.healthcheck, name));
      assert.ok(Object.hasOwn(volumes, `${name}-data`), `volume ${name}-data is declared`);
    }
    assert.equal(Object.keys(volumes).length, n);
    assert.equal(scripts.size, 1, 'every node has the same healthcheck');
    if (n === 3) {
      assert.deepEqual(
        parseEndpoints(defaultEndpoints).map((e) => e.label),
        hostPorts.map((p) => `127.0.0.1:${p}`),
        "the client commands' default endpoints are this deployment's",
      );
    }
  });
}

/** The file with the commented-out example service `name` (and its volume) uncommented. */
function withExampleService(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `# ${name}:`);
  assert.ok(start >= 0, `a commented-out ${name}`);
  const out = [...lines];
  // The service: from `# name:` to the end of its comment block.
  for (let i = start; i < lines.length && /^\s*# /.test(lines[i]!); i++) {
    out[i] = lines[i]!.replace(/^(\s*)# /, '$1');
  }
  const volume = lines.findIndex((l) => l.trim() === `# ${name}-data:`);
  assert.ok(volume > start, `a commented-out volume ${name}-data`);
  out[volume] = lines[volume]!.replace(/^(\s*)# /, '$1');
  return out.join('\n');
}

for (const [file, n] of [
  ['docker-compose.yml', 3],
  ['docker-compose.5.yml', 5],
] as const) {
  const name = `node${n + 1}`;
  test(`${file}: the commented-out ${name}, uncommented, joins the cluster through every member`, () => {
    const doc = asMap(parseYaml(withExampleService(read(file), name)) as Yaml, file);
    const services = asMap(doc.services, 'services');
    const names = Array.from({ length: n + 1 }, (_, i) => `node${i + 1}`);
    assert.deepEqual(Object.keys(services), names);
    const s = asMap(services[name], name);
    const env = asEnv(s.environment, `${name}.environment`);
    for (const k of Object.keys(env))
      assert.ok(startEnvNames.includes(k), `${name}: raftkv start reads ${k}`);
    const { options, join } = parseStartCommand([], env);
    assert.equal(options.id, name);
    assert.equal(options.dataDir, '/data');
    assert.deepEqual(options.listen, { host: '0.0.0.0', port: containerPort });
    assert.deepEqual(join?.advertise, { host: name, port: containerPort }, 'reached at its service name');
    assert.deepEqual(
      join?.endpoints.map((e) => e.label),
      names.slice(0, n).map((m) => `${m}:${containerPort}`),
    );
    assert.deepEqual(asStrings(s.ports, `${name}.ports`), [`${7001 + n}:${containerPort}`]);
    assert.deepEqual(asStrings(s.volumes, `${name}.volumes`), [`${name}-data:/data`]);
    assert.ok(Object.hasOwn(asMap(doc.volumes, 'volumes'), `${name}-data`));
    assert.equal(
      healthcheckScript(s.healthcheck, name),
      healthcheckScript(asMap(services.node1, 'node1').healthcheck, 'node1'),
    );
    // The others keep their CLUSTER: it names the cluster, which the new node joins.
    assert.equal(
      asEnv(asMap(services.node1, 'node1').environment, 'node1.environment').CLUSTER?.split(',').length,
      n,
    );
  });
}

test('the healthcheck passes against a live node, and fails on a 503 and on a closed port', async (t) => {
  const doc = asMap(parseYaml(read('docker-compose.yml')) as Yaml, 'docker-compose.yml');
  const script = healthcheckScript(
    asMap(asMap(doc.services, 'services').node1, 'node1').healthcheck,
    'node1',
  );
  for (const doc of ['docs/metrics.md', 'docs/docker.md']) {
    assert.ok(read(doc).includes(script), `${doc} shows the healthcheck as the compose files have it`);
  }
  const c = await startCluster(t, { size: 1 });
  assert.equal(await runHealthcheck(script, c.port(c.ids[0]!)), 0, 'a live node (leader or not) is healthy');

  const unhealthy = createServer((_req, res) => res.writeHead(503).end());
  await new Promise<void>((resolve) => unhealthy.listen(0, LOOPBACK, resolve));
  t.after(() => new Promise<void>((resolve) => unhealthy.close(() => resolve())));
  assert.equal(await runHealthcheck(script, (unhealthy.address() as AddressInfo).port), 1, 'a 503 fails it');

  const [closed] = await freePorts(1, LOOPBACK);
  assert.equal(await runHealthcheck(script, closed!), 1, 'nothing listening fails it');
});

test('Dockerfile: multi-stage, unprivileged, /data volume, EXPOSE 7001, ENTRYPOINT raftkv start', () => {
  const from = read('Dockerfile')
    .split('\n')
    .filter((l) => l.startsWith('FROM '));
  assert.equal(from.length, 2, 'a build stage and a runtime stage');
  assert.match(from[1]!, /^FROM node:20-(slim|alpine)/);
  const runtime = dockerRuntimeStage();
  assert.ok(runtime.includes('USER node'), 'runs as the unprivileged node user');
  assert.ok(
    runtime.some((l) => /^RUN npm ci --omit=dev/.test(l)),
    'production dependencies only',
  );
  assert.ok(runtime.includes(`EXPOSE ${containerPort}`));
  assert.ok(runtime.includes('VOLUME ["/data"]'));
  assert.ok(runtime.includes('ENV DATA_DIR=/data'));
  const entry = runtime.find((l) => l.startsWith('ENTRYPOINT '));
  assert.deepEqual(JSON.parse(entry!.slice('ENTRYPOINT '.length)), ['node', binPath, 'start']);
  const dockerignore = read('.dockerignore').split('\n');
  for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    assert.ok(!dockerignore.includes(needed), `${needed} is in the build context`);
  }
});

const pkg = JSON.parse(read('package.json')) as { bin?: Record<string, string> };
test('package.json bin points at the CLI', {
  skip: pkg.bin === undefined && 'package.json has no "bin" yet',
}, () => {
  assert.equal(pkg.bin?.raftkv, binPath);
});
