/** Packaging checks: docker-compose config, Kubernetes manifests, example configs against the schema, Prometheus config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfigText, resolveConfig } from '../../proxy/config/config.js';
import { CidrSet } from '../../proxy/protocol/ip-address.js';
import { specOf } from '../../proxy/cli/command-specs.js';
import { parseCommand, stringValue } from '../../proxy/cli/options.js';
import { loadTunnelConfig } from '../../proxy/cli/tunnel-config.js';

// dist/test/integration/packaging.test.js → project root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
type Obj = Record<string, unknown>;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` });
    });
  });
}

function requireTool(path: string, t: { diagnostic(s: string): void }): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI === 'true') assert.fail(`${path} is required under CI=true`);
  t.diagnostic(`${path} not installed; this check did not run`);
  return false;
}

const at = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((n, k) => (typeof n === 'object' && n !== null ? (n as Obj)[k] : undefined), o);

function manifests(): Map<string, Obj> {
  const dir = join(root, 'deploy', 'kubernetes');
  const out = new Map<string, Obj>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, name), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${name} parses`);
      const obj = doc.toJS() as Obj;
      assert.equal(typeof obj.apiVersion, 'string', `${name}: apiVersion`);
      assert.equal(typeof obj.kind, 'string', `${name}: kind`);
      assert.equal(typeof at(obj, 'metadata.name'), 'string', `${name}: metadata.name`);
      assert.equal(at(obj, 'metadata.namespace'), 'rsproxy', `${name}: metadata.namespace`);
      // The headless peer Service is the second Service; key it apart from the load balancer's.
      out.set(obj.kind === 'Service' && at(obj, 'spec.clusterIP') === 'None' ? 'Service (headless)' : String(obj.kind), obj);
    }
  }
  return out;
}

test('docker-compose.yml is valid for docker-compose', async (t) => {
  if (!requireTool('/usr/bin/docker-compose', t)) return;
  const r = await run('/usr/bin/docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
  assert.equal(r.code, 0, r.out);
});

test('the compose stack wires rsproxy, postgres, the emulator and prometheus', () => {
  const compose = parseConfigText(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as Obj;
  const services = compose.services as Obj;
  for (const s of ['rsproxy', 'postgres', 'emulator', 'prometheus']) assert.ok(s in services, s);
  assert.match(JSON.stringify(at(services, 'postgres.environment')), /scram-sha-256/);
  assert.match(JSON.stringify(at(services, 'emulator.command')), /startEmulator/);
  assert.ok(existsSync(join(root, 'dist', 'emulator', 'index.js')), 'the emulator command imports dist/emulator/index.js');
  const prom = parseConfigText(readFileSync(join(root, 'deploy', 'prometheus.yml'), 'utf8'));
  assert.deepEqual(at(prom, 'scrape_configs'), [{ job_name: 'rsproxy', metrics_path: '/metrics', static_configs: [{ targets: ['rsproxy:9187'] }] }]);
});

test('deploy/prometheus.yml passes promtool check config', async (t) => {
  if (!requireTool('/usr/bin/promtool', t)) return;
  const r = await run('/usr/bin/promtool', ['check', 'config', 'deploy/prometheus.yml']);
  assert.equal(r.code, 0, r.out);
});

// The fleet configs leave cluster.self to its default, $POD_IP and the listen port, as each replica's environment sets it.
const podEnv = { env: { POD_IP: '10.0.1.23' } };

test('example and compose configs pass the schema; only the compose stand-in warns, about its unverified upstream TLS', () => {
  // The compose upstream is a stock postgres image with a snakeoil certificate, so it can only use
  // `require`; check-config must say so, and nothing else.
  const expectedWarnings: Record<string, string[]> = {
    'deploy/rsproxy.example.yaml': [],
    'deploy/compose/rsproxy.yaml': [
      "databases.dev.upstreamTls.mode: require encrypts without verifying the upstream's certificate (tests only); use verify-full in production",
    ],
    'deploy/compose/rsproxy-fleet.yaml': [
      "databases.dev.upstreamTls.mode: require encrypts without verifying the upstream's certificate (tests only); use verify-full in production",
    ],
  };
  for (const [file, warnings] of Object.entries(expectedWarnings)) {
    const r = resolveConfig(parseConfigText(readFileSync(join(root, file), 'utf8'), file), podEnv);
    assert.ok(r.ok, `${file}:\n${r.ok ? '' : r.errors.join('\n')}`);
    assert.deepEqual(r.warnings, warnings, file);
  }
});

test('Kubernetes manifests have their required fields and agree with each other', () => {
  const m = manifests();
  assert.deepEqual([...m.keys()].sort(), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'PodMonitor', 'PrometheusRule', 'Service', 'Service (headless)', 'ServiceAccount']);
  const dep = m.get('Deployment') as Obj;
  assert.equal(dep.apiVersion, 'apps/v1');
  const labels = at(dep, 'spec.template.metadata.labels');
  assert.deepEqual(at(dep, 'spec.selector.matchLabels'), labels);
  const containers = at(dep, 'spec.template.spec.containers') as Obj[];
  const c = containers[0] as Obj;
  assert.equal(typeof c.image, 'string');
  const ports = c.ports as Obj[];
  assert.deepEqual(ports.map((p) => [p.name, p.containerPort]), [['postgres', 5439], ['admin', 9187]]);
  assert.equal(at(c, 'startupProbe.httpGet.path'), '/startupz');
  assert.equal(at(c, 'livenessProbe.httpGet.path'), '/livez');
  assert.equal(at(c, 'readinessProbe.httpGet.path'), '/readyz');
  for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) assert.equal(at(c, `${p}.httpGet.port`), 'admin', p);
  assert.equal(typeof at(c, 'resources.requests.cpu'), 'string');
  assert.equal(typeof at(c, 'resources.limits.memory'), 'string');
  assert.equal(at(dep, 'spec.template.spec.securityContext.runAsNonRoot'), true);
  assert.notEqual(at(dep, 'spec.template.spec.securityContext.runAsUser'), 0);
  assert.equal(at(c, 'securityContext.allowPrivilegeEscalation'), false);
  assert.equal(at(c, 'securityContext.readOnlyRootFilesystem'), true);
  assert.equal(at(dep, 'spec.template.spec.serviceAccountName'), at(m.get('ServiceAccount'), 'metadata.name'));
  const annotations = at(m.get('ServiceAccount'), 'metadata.annotations') as Obj;
  assert.match(String(annotations['eks.amazonaws.com/role-arn']), /^arn:aws:iam::\d{12}:role\//, 'IRSA annotation');

  const svc = m.get('Service') as Obj;
  assert.equal(at(svc, 'spec.type'), 'LoadBalancer');
  assert.deepEqual(at(svc, 'spec.selector'), labels);
  assert.deepEqual((at(svc, 'spec.ports') as Obj[]).map((p) => [p.protocol, p.port, p.targetPort]), [['TCP', 5439, 'postgres']]);
  const pdb = m.get('PodDisruptionBudget') as Obj;
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.deepEqual(at(pdb, 'spec.selector.matchLabels'), labels);

  // The config the pods read is the ConfigMap's, at the path the args name, and it is valid.
  const cm = m.get('ConfigMap') as Obj;
  const volumes = at(dep, 'spec.template.spec.volumes') as Obj[];
  const configVolume = volumes.find((v) => at(v, 'configMap.name') === at(cm, 'metadata.name'));
  assert.ok(configVolume, 'a volume mounts the ConfigMap');
  const mount = (c.volumeMounts as Obj[]).find((v) => v.name === configVolume.name);
  const args = c.args as string[];
  assert.equal(args[args.indexOf('--config') + 1], `${String(mount?.mountPath)}/rsproxy.yaml`);
  const r = resolveConfig(parseConfigText(String((cm.data as Obj)['rsproxy.yaml']), 'configmap'), podEnv);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.warnings, []);
  assert.equal(r.config.admin.listen.split(':').pop(), '9187', 'probes reach the admin port');
  assert.ok(r.config.admin.listen.startsWith('0.0.0.0:'), 'kubelet probes come from outside the pod');
  assert.ok(Number(at(dep, 'spec.template.spec.terminationGracePeriodSeconds')) > r.config.shutdown.drainSeconds, 'grace period covers the drain');
  const tlsMount = (c.volumeMounts as Obj[]).find((v) => v.name === 'tls');
  assert.ok(r.config.tls.certFile.startsWith(`${String(tlsMount?.mountPath)}/`));
});

test('Dockerfile: multi-stage, production deps, non-root, ports, health check', () => {
  const d = readFileSync(join(root, 'Dockerfile'), 'utf8');
  assert.equal((d.match(/^FROM /gm) ?? []).length, 2);
  assert.match(d, /^FROM node:24-slim AS runtime$/m);
  assert.match(d, /npm ci --omit=dev/);
  assert.match(d, /^USER 1000:1000$/m);
  assert.match(d, /^EXPOSE 5439 9187$/m);
  assert.match(d, /^HEALTHCHECK .*\n?.*\/livez/m);
  assert.match(readFileSync(join(root, '.dockerignore'), 'utf8'), /^node_modules$/m);
});

test('Kubernetes fleet shape: NLB with PROXY v2 and ip targets, trusted CIDR, headless peer Service, POD_IP (issue 13)', () => {
  const m = manifests();
  const svc = m.get('Service') as Obj;
  const annotations = at(svc, 'metadata.annotations') as Obj;
  assert.equal(annotations['service.beta.kubernetes.io/aws-load-balancer-proxy-protocol'], '*');
  assert.equal(annotations['service.beta.kubernetes.io/aws-load-balancer-nlb-target-type'], 'ip');
  const peers = m.get('Service (headless)') as Obj;
  const dep = m.get('Deployment') as Obj;
  assert.equal(at(peers, 'spec.clusterIP'), 'None');
  assert.equal(at(peers, 'spec.publishNotReadyAddresses'), true, 'a draining replica stays resolvable for its sessions\' cancels');
  assert.deepEqual(at(peers, 'spec.selector'), at(dep, 'spec.template.metadata.labels'));
  assert.deepEqual((at(peers, 'spec.ports') as Obj[]).map((p) => [p.port, p.targetPort]), [[5439, 'postgres']]);

  const r = resolveConfig(parseConfigText(String((at(m.get('ConfigMap'), 'data') as Obj)['rsproxy.yaml']), 'configmap'), podEnv);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.equal(r.config.cluster.peerDns, `${String(at(peers, 'metadata.name'))}.${String(at(peers, 'metadata.namespace'))}.svc.cluster.local:${r.config.listen.split(':').pop()}`);
  assert.equal(r.config.cluster.self, '10.0.1.23:5439', 'self comes from $POD_IP and the listen port');
  assert.ok(r.config.proxyProtocol.trustedSources.length > 0, 'trustedSources set: the NLB sends PROXY v2');
  const c = (at(dep, 'spec.template.spec.containers') as Obj[])[0] as Obj;
  const podIp = (c.env as Obj[]).find((e) => e.name === 'POD_IP');
  assert.equal(at(podIp, 'valueFrom.fieldRef.fieldPath'), 'status.podIP');
  assert.equal(at(m.get('PodDisruptionBudget'), 'spec.maxUnavailable'), 1);
});

test('compose fleet profile: two replicas behind HAProxy with PROXY v2, trusted subnet covers HAProxy and peers', async (t) => {
  const compose = parseConfigText(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as Obj;
  const services = compose.services as Obj;
  for (const s of ['rsproxy-a', 'rsproxy-b', 'haproxy']) assert.deepEqual(at(services, `${s}.profiles`), ['fleet'], s);
  const fleet = resolveConfig(parseConfigText(readFileSync(join(root, 'deploy', 'compose', 'rsproxy-fleet.yaml'), 'utf8'), 'fleet'), podEnv);
  assert.ok(fleet.ok, fleet.ok ? '' : fleet.errors.join('\n'));
  const trusted = new CidrSet(fleet.config.proxyProtocol.trustedSources);
  const ipOf = (s: string): string => String(at(services, `${s}.networks.fleet.ipv4_address`));
  for (const s of ['haproxy', 'rsproxy-a', 'rsproxy-b']) assert.ok(trusted.has(ipOf(s)), `${s} (${ipOf(s)}) is trusted`);
  for (const s of ['rsproxy-a', 'rsproxy-b']) {
    assert.equal(at(services, `${s}.environment.POD_IP`), ipOf(s), `${s}: POD_IP is its own address`);
    assert.deepEqual(at(services, `${s}.networks.fleet.aliases`), [fleet.config.cluster.peerDns.split(':')[0]], `${s}: answers the peer name`);
  }
  const cfg = readFileSync(join(root, 'deploy', 'compose', 'haproxy.cfg'), 'utf8');
  for (const s of ['rsproxy-a', 'rsproxy-b']) assert.match(cfg, new RegExp(`server ${s} ${ipOf(s).replace(/\./g, '\\.')}:5439 send-proxy-v2 `));
  if (requireTool('/usr/sbin/haproxy', t)) {
    const r = await run('/usr/sbin/haproxy', ['-c', '-f', 'deploy/compose/haproxy.cfg']);
    assert.equal(r.code, 0, r.out);
  }
  if (requireTool('/usr/bin/docker-compose', t)) {
    const r = await run('/usr/bin/docker-compose', ['-f', 'docker-compose.yml', '--profile', 'fleet', 'config', '-q']);
    assert.equal(r.code, 0, r.out);
  }
});

test('deploy/kubernetes/examples/tunnel-sidecar.yaml: a native sidecar tunnel gated on /readyz, and a Job whose step ends its tunnel with POST /quitquitquit', () => {
  const docs = parseAllDocuments(readFileSync(join(root, 'deploy', 'kubernetes', 'examples', 'tunnel-sidecar.yaml'), 'utf8'));
  const objs = docs.map((d) => {
    assert.deepEqual(d.errors, [], 'tunnel-sidecar.yaml parses');
    return d.toJS() as Obj;
  });
  assert.deepEqual(objs.map((o) => o.kind), ['ServiceAccount', 'Deployment', 'Job']);
  const [sa, dep, job] = objs as [Obj, Obj, Obj];
  /** The tunnel's args, accepted by the tunnel's own option table, with its --admin address (loopback). */
  const tunnelArgs = (c: Obj): { flag: (name: string) => string | undefined; admin: string } => {
    const args = c.args as string[];
    assert.equal(args[0], 'tunnel');
    const parsed = parseCommand(specOf('tunnel'), args.slice(1));
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    assert.equal(flag('--listen'), '127.0.0.1:5439');
    for (const f of ['--host', '--audience', '--region', '--user', '--dbname']) assert.ok(args.includes(f), f);
    const admin = stringValue(parsed, 'admin') ?? '';
    assert.match(admin, /^127\.0\.0\.1:\d+$/, '--admin on loopback');
    assert.equal(at(c, 'securityContext.readOnlyRootFilesystem'), true);
    return { flag, admin };
  };
  const assertAppEnv = (app: Obj, flag: (name: string) => string | undefined): void => {
    const env = new Map((app.env as Obj[]).map((e) => [e.name, e.value]));
    assert.equal(env.get('PGHOST'), '127.0.0.1');
    assert.equal(env.get('PGPORT'), '5439');
    assert.equal(env.get('PGSSLMODE'), 'disable');
    assert.equal(env.has('PGPASSWORD'), false, 'no password anywhere');
    assert.equal(env.get('PGUSER'), flag('--user'));
    assert.equal(env.get('PGDATABASE'), flag('--dbname'));
  };

  assert.equal(at(dep, 'spec.template.spec.serviceAccountName'), at(sa, 'metadata.name'));
  assert.deepEqual(at(dep, 'spec.selector.matchLabels'), at(dep, 'spec.template.metadata.labels'));
  const sidecar = (at(dep, 'spec.template.spec.initContainers') as Obj[])[0] as Obj;
  assert.equal(sidecar.restartPolicy, 'Always', 'a native sidecar');
  const { flag, admin } = tunnelArgs(sidecar);
  for (const probe of ['startupProbe', 'readinessProbe']) {
    const command = (at(sidecar, `${probe}.exec.command`) as string[] | undefined)?.join(' ') ?? '';
    assert.ok(command.includes(`http://${admin}/readyz`), `${probe} asks /readyz on the admin address: ${command}`);
  }
  assertAppEnv((at(dep, 'spec.template.spec.containers') as Obj[])[0] as Obj, flag);

  assert.equal(at(job, 'spec.template.spec.restartPolicy'), 'Never');
  assert.equal(at(job, 'spec.template.spec.serviceAccountName'), at(sa, 'metadata.name'));
  const containers = at(job, 'spec.template.spec.containers') as Obj[];
  const jobTunnel = containers.find((c) => (c.args as string[] | undefined)?.[0] === 'tunnel');
  const step = containers.find((c) => c !== jobTunnel);
  assert.ok(jobTunnel !== undefined && step !== undefined, 'the Job runs a step and a tunnel');
  const jt = tunnelArgs(jobTunnel);
  const script = (step.args as string[]).join('\n');
  const waits = script.indexOf(`http://${jt.admin}/readyz`);
  const quits = script.indexOf(`--post-data '' http://${jt.admin}/quitquitquit`);
  assert.ok(waits >= 0 && quits > waits, `the step waits for /readyz, then POSTs /quitquitquit: ${script}`);
  assert.match(script, /exit \$status\s*$/, 'the step keeps its own exit status');
  assertAppEnv(step, jt.flag);
});

test('deploy/launchd/com.example.rsproxy-tunnel.plist: a LaunchAgent that plistlib reads, running the tunnel from the tunnels file with loopback --admin', async (t) => {
  const file = join(root, 'deploy', 'launchd', 'com.example.rsproxy-tunnel.plist');
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN"/);
  assert.match(text, /UNTESTED HERE/, 'says what is not tested on macOS');
  // plutil is macOS-only; Python's plistlib is a real plist reader (expat underneath).
  if (!requireTool('/usr/bin/python3', t)) return;
  const r = await run('/usr/bin/python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file]);
  assert.equal(r.code, 0, r.out);
  const plist = JSON.parse(r.out) as Obj;
  assert.equal(plist.Label, 'com.example.rsproxy-tunnel');
  const args = plist.ProgramArguments as string[];
  assert.equal(args[0], '/usr/local/bin/rsproxy');
  assert.equal(args[1], 'tunnel');
  const parsed = parseCommand(specOf('tunnel'), args.slice(2));
  assert.ok(stringValue(parsed, 'config')?.endsWith('tunnels.yaml'));
  assert.match(stringValue(parsed, 'admin') ?? '', /^127\.0\.0\.1:\d+$/);
  assert.equal(plist.RunAtLoad, true);
  assert.deepEqual(plist.KeepAlive, { SuccessfulExit: false }, 'restarts after exit 2 (credentials), stays stopped after exit 0');
  assert.ok(typeof plist.ThrottleInterval === 'number' && plist.ThrottleInterval >= 10);
});

test('deploy/tunnels.example.yaml: every entry passes the tunnel\'s own checks, each on its own loopback port', () => {
  const plans = loadTunnelConfig(join(root, 'deploy', 'tunnels.example.yaml'), {});
  assert.ok(plans.length >= 2);
  const ports = plans.map((p) => (p.listen.kind === 'tcp' ? `${p.listen.host}:${p.listen.port}` : ''));
  assert.equal(new Set(ports).size, plans.length);
  for (const p of plans) assert.equal(p.listen.kind === 'tcp' && p.listen.host, '127.0.0.1');
});

test('deploy/systemd/rsproxy-tunnel.service: systemd-analyze verify accepts it; it runs the tunnel on loopback', async (t) => {
  const file = join(root, 'deploy', 'systemd', 'rsproxy-tunnel.service');
  const unit = readFileSync(file, 'utf8');
  const execStart = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)?.[1]?.replace(/\\\n\s*/g, ' ') ?? '';
  assert.match(execStart, /^\/usr\/local\/bin\/rsproxy tunnel /);
  assert.match(execStart, / --listen 127\.0\.0\.1:5439 /);
  for (const f of ['--host', '--audience', '--region', '--user', '--dbname']) assert.ok(execStart.includes(` ${f} `), f);
  assert.match(unit, /^Restart=on-failure$/m);
  if (!requireTool('/usr/bin/systemd-analyze', t)) return;
  // verify needs the ExecStart binary to exist: check a copy that runs /bin/true instead.
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-unit-'));
  try {
    const copy = join(dir, 'rsproxy-tunnel.service');
    writeFileSync(copy, unit.replaceAll('/usr/local/bin/rsproxy', '/bin/true'));
    const r = await run('/usr/bin/systemd-analyze', ['verify', copy]);
    assert.equal(r.code, 0, r.out);
    // It exits 0 on lines it ignores (an unknown key, a bad value) but names them.
    assert.equal(r.out.trim(), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
