// The Kubernetes manifests: every overlay renders, every object passes its API schema, and what
// the manifests promise about the services (ports, probes, env, drain timing) is what the
// services' own config parsers and admin server do. No cluster here: the behaviour they rely on
// (drain, readiness) is tested on real processes in ops-drain.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { GATEWAY_ENV_NAMES, readGatewayConfig } from '@megaphone/gateway';
import { PRODUCER_ENV_NAMES, parseJobsFile, readProducerConfig } from '@megaphone/producer';
import { OVERLAYS, containersOf, envOf, generated, kustomize, named, probePort, schemaProblem, type Container } from '../src/ops/k8s.js';
import { repoPath } from '../src/ops/paths.js';
import { at, type Obj } from '../src/ops/yaml-docs.js';

/** Env values a container would see; secret and downward-API values become plausible stand-ins. */
function envValues(c: Container, objects: Obj[], extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of envOf(c, objects)) out[k] = v ?? (k === 'REDIS_URL' ? 'redis://redis.example:6379' : k === 'AUTH_JWT_SECRET' ? 'a-stand-in-secret-of-at-least-32-bytes' : `${k.toLowerCase()}-value`);
  return { ...out, ...extra };
}

function configMapData(objects: Obj[], prefix: string): Record<string, string> {
  const cm = generated(objects, 'ConfigMap', prefix) ?? objects.find((o) => o.kind === 'ConfigMap' && String(at(o, 'metadata', 'name')).startsWith(`${prefix}-`));
  assert.ok(cm, `ConfigMap ${prefix}`);
  return cm.data as Record<string, string>;
}

for (const overlay of OVERLAYS) {
  describe(`k8s/overlays/${overlay}`, () => {
    const objects = kustomize(`k8s/overlays/${overlay}`);
    const gateway = named(objects, 'Deployment', 'megaphone-gateway');
    const producer = named(objects, 'Deployment', 'megaphone-producer');
    const [gw] = containersOf(gateway) as [Container];
    const [pr] = containersOf(producer) as [Container];

    test('renders with kubectl kustomize and every object passes its Kubernetes API schema', () => {
      assert.ok(objects.length >= 10, `rendered ${objects.length} objects`);
      const problems = objects.map((o) => [`${String(o.kind)}/${String(at(o, 'metadata', 'name'))}`, schemaProblem(o)] as const).filter(([, p]) => p !== undefined);
      assert.deepEqual(problems, []);
      const namespaces = new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => at(o, 'metadata', 'namespace')));
      assert.equal(namespaces.size, 1, `one namespace, got ${[...namespaces].join(', ')}`);
    });

    test('the gateway gets only environment variables its config parser knows, and they parse', () => {
      const env = envOf(gw, objects);
      const unknown = [...env.keys()].filter((k) => !GATEWAY_ENV_NAMES.includes(k));
      assert.deepEqual(unknown, []);
      assert.doesNotThrow(() => readGatewayConfig(envValues(gw, objects)));
    });

    test('the producer gets only environment variables its config parser knows, and they parse with the mounted jobs file', () => {
      const env = envOf(pr, objects);
      const unknown = [...env.keys()].filter((k) => !PRODUCER_ENV_NAMES.includes(k));
      assert.deepEqual(unknown, []);
      // The jobs file comes from the ConfigMap mounted where PRODUCER_JOBS_FILE points.
      const jobsPath = env.get('PRODUCER_JOBS_FILE');
      assert.ok(jobsPath, 'PRODUCER_JOBS_FILE is set');
      const mounts = (at(pr, 'volumeMounts') as { name: string; mountPath: string }[] | undefined) ?? [];
      const mount = mounts.find((m) => jobsPath.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `a volume is mounted at ${jobsPath}'s directory`);
      const volume = (at(producer, 'spec', 'template', 'spec', 'volumes') as { name: string; configMap?: { name: string } }[]).find((v) => v.name === mount.name);
      const cmName = volume?.configMap?.name;
      assert.ok(cmName, 'the jobs volume is a ConfigMap');
      const key = jobsPath.slice(mount.mountPath.length + 1);
      const text = (generated(objects, 'ConfigMap', cmName)?.data as Record<string, string> | undefined)?.[key];
      assert.ok(text, `ConfigMap ${cmName} has ${key}`);
      assert.deepEqual(parseJobsFile(text, key).problems, []);
      const dir = mkdtempSync(join(tmpdir(), 'ops-k8s-'));
      try {
        writeFileSync(join(dir, key), text);
        assert.doesNotThrow(() => readProducerConfig(envValues(pr, objects, { PRODUCER_JOBS_FILE: join(dir, key) })));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('container ports and probes match the ports and paths the services serve', () => {
      const gcfg = readGatewayConfig(envValues(gw, objects));
      const port = (c: Container, name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
      assert.equal(port(gw, 'http'), gcfg.port);
      assert.equal(port(gw, 'admin'), gcfg.adminPort);
      const pcfg = readProducerConfig(envValues(pr, objects, { PRODUCER_JOBS_FILE: repoPath('deploy/jobs.yaml') }));
      assert.equal(port(pr, 'http'), pcfg.port);
      assert.equal(port(pr, 'admin'), pcfg.adminPort);
      for (const [c, adminPort] of [[gw, gcfg.adminPort], [pr, pcfg.adminPort]] as const) {
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${c.name} readiness`);
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${c.name} liveness`);
        assert.equal(c.startupProbe?.httpGet?.path, '/healthz', `${c.name} startup`);
        for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe]) assert.equal(probePort(c, p), adminPort, `${c.name} probes the admin port`);
      }
    });

    test('services, ingress and network policy point at ports the pods have', () => {
      const svc = named(objects, 'Service', 'megaphone-gateway');
      const ports = at(svc, 'spec', 'ports') as { targetPort: string }[];
      for (const p of ports) assert.ok(gw.ports?.some((cp) => cp.name === p.targetPort), `gateway Service targets ${p.targetPort}`);
      const psvc = named(objects, 'Service', 'megaphone-producer');
      for (const p of at(psvc, 'spec', 'ports') as { targetPort: string }[]) assert.ok(pr.ports?.some((cp) => cp.name === p.targetPort), `producer Service targets ${p.targetPort}`);
      const ingress = named(objects, 'Ingress', 'megaphone');
      const backend = at(ingress, 'spec', 'rules', 0, 'http', 'paths', 0, 'backend', 'service') as { name: string; port: { name: string } };
      assert.equal(backend.name, 'megaphone-gateway');
      assert.ok(ports.some((p) => (p as unknown as { name: string }).name === backend.port.name));
      const annotations = at(ingress, 'metadata', 'annotations') as Record<string, string>;
      assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600, 'long read timeout for WebSocket/SSE');
      assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 3600);
      assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-buffering'], 'off', 'SSE is not buffered');
      const np = named(objects, 'NetworkPolicy', 'megaphone-gateway');
      const allowed = (at(np, 'spec', 'ingress') as { ports: { port: string }[] }[]).flatMap((r) => r.ports.map((p) => p.port));
      assert.deepEqual(allowed.sort(), ['admin', 'http']);
    });

    test('gateway rollouts keep capacity and the grace period covers preStop plus the drain', () => {
      assert.equal(at(gateway, 'spec', 'replicas'), 3);
      assert.equal(at(gateway, 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable'), 0);
      const cfg = readGatewayConfig(envValues(gw, objects));
      const preStop = gw.lifecycle?.preStop?.exec?.command ?? [];
      assert.equal(preStop[0], 'sleep');
      const preStopMs = Number(preStop[1]) * 1000;
      const graceMs = Number(at(gateway, 'spec', 'template', 'spec', 'terminationGracePeriodSeconds')) * 1000;
      assert.ok(preStopMs >= 1000, 'preStop gives endpoints time to drop the pod');
      assert.ok(graceMs >= preStopMs + cfg.drainMs + 5000, `grace ${graceMs} ms > preStop ${preStopMs} + drain ${cfg.drainMs} + 5 s margin`);
      const hpa = named(objects, 'HorizontalPodAutoscaler', 'megaphone-gateway');
      assert.equal(hpa.apiVersion, 'autoscaling/v2');
      assert.equal(at(hpa, 'spec', 'scaleTargetRef', 'name'), 'megaphone-gateway');
      assert.ok(Number(at(hpa, 'spec', 'minReplicas')) >= 3);
      const pdb = named(objects, 'PodDisruptionBudget', 'megaphone-gateway');
      assert.deepEqual(at(pdb, 'spec', 'selector', 'matchLabels'), at(gateway, 'spec', 'selector', 'matchLabels'));
    });

    test('two producers (one leads, SPEC §12), rolled one at a time, spread over nodes, with a PodDisruptionBudget', () => {
      assert.equal(at(producer, 'spec', 'replicas'), 2);
      assert.equal(at(producer, 'spec', 'strategy', 'type'), 'RollingUpdate');
      assert.equal(at(producer, 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable'), 0, 'a new producer is ready before an old one stops');
      const anti = at(producer, 'spec', 'template', 'spec', 'affinity', 'podAntiAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', 0, 'podAffinityTerm') as Obj;
      assert.equal(at(anti, 'topologyKey'), 'kubernetes.io/hostname');
      assert.deepEqual(at(anti, 'labelSelector', 'matchLabels'), at(producer, 'spec', 'selector', 'matchLabels'));
      const pdb = named(objects, 'PodDisruptionBudget', 'megaphone-producer');
      assert.deepEqual(at(pdb, 'spec', 'selector', 'matchLabels'), at(producer, 'spec', 'selector', 'matchLabels'));
      assert.equal(at(pdb, 'spec', 'maxUnavailable'), 1, 'a drain never takes both');
      const env = (containersOf(producer)[0] as Container).env ?? [];
      assert.ok(env.some((e) => e.name === 'PRODUCER_LEASE_MS'), 'the lease length is explicit');
      assert.ok(Number(at(producer, 'spec', 'template', 'spec', 'terminationGracePeriodSeconds')) * 1000 > 5000 + 5000, 'room to stop the runs and flush before the lease is released');
      assert.equal(objects.some((o) => o.kind === 'HorizontalPodAutoscaler' && at(o, 'spec', 'scaleTargetRef', 'name') === 'megaphone-producer'), false, 'no autoscaling: more standbys add nothing');
    });

    test('every pod meets the restricted Pod Security Standard and sets requests and limits', () => {
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        const spec = at(d, 'spec', 'template', 'spec') as Obj;
        const name = String(at(d, 'metadata', 'name'));
        assert.equal(at(spec, 'securityContext', 'runAsNonRoot'), true, `${name} runAsNonRoot`);
        assert.equal(at(spec, 'securityContext', 'seccompProfile', 'type'), 'RuntimeDefault', `${name} seccomp`);
        for (const c of containersOf(d)) {
          assert.equal(at(c, 'securityContext', 'allowPrivilegeEscalation'), false, `${name}/${c.name}`);
          assert.deepEqual(at(c, 'securityContext', 'capabilities', 'drop'), ['ALL'], `${name}/${c.name}`);
          assert.equal(at(c, 'securityContext', 'readOnlyRootFilesystem'), true, `${name}/${c.name}`);
          assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${name}/${c.name} requests`);
          assert.ok(c.resources?.limits?.memory, `${name}/${c.name} memory limit`);
        }
      }
      const ns = objects.find((o) => o.kind === 'Namespace');
      assert.equal(at(ns, 'metadata', 'labels', 'pod-security.kubernetes.io/enforce'), 'restricted');
    });
  });
}

describe('overlay differences', () => {
  test('dev runs its own Redis and points REDIS_URL at it; prod runs none and expects its Secrets from outside', () => {
    const dev = kustomize('k8s/overlays/dev');
    const redisSvc = named(dev, 'Service', 'megaphone-redis');
    assert.equal(at(redisSvc, 'spec', 'ports', 0, 'port'), 6379);
    named(dev, 'Deployment', 'megaphone-redis');
    const secret = dev.find((o) => o.kind === 'Secret' && String(at(o, 'metadata', 'name')).startsWith('megaphone-redis-'));
    assert.ok(secret, 'generated REDIS_URL Secret');
    assert.equal(Buffer.from(String(at(secret, 'data', 'REDIS_URL')), 'base64').toString(), 'redis://megaphone-redis:6379');

    const prod = kustomize('k8s/overlays/prod');
    assert.equal(prod.some((o) => String(at(o, 'metadata', 'name')).startsWith('megaphone-redis') && o.kind !== 'NetworkPolicy'), false);
    assert.equal(prod.some((o) => o.kind === 'Secret'), false, 'no secret values in git for prod');
  });

  test('the monitoring component scrapes the admin ports and carries the alert rules and dashboards from monitoring/', () => {
    const prod = kustomize('k8s/overlays/prod');
    const pm = named(prod, 'PodMonitor', 'megaphone');
    assert.equal(at(pm, 'spec', 'podMetricsEndpoints', 0, 'port'), 'admin');
    assert.deepEqual((at(pm, 'spec', 'selector', 'matchExpressions', 0, 'values') as string[]).sort(), ['megaphone-gateway', 'megaphone-producer']);
    assert.equal(at(pm, 'spec', 'jobLabel'), 'app.kubernetes.io/name', 'job label = megaphone-gateway/-producer, as the alerts expect');
    const rule = named(prod, 'PrometheusRule', 'megaphone');
    const source = parse(readFileSync(repoPath('monitoring/prometheus/alerts.yml'), 'utf8')) as { groups: unknown };
    assert.deepEqual(at(rule, 'spec', 'groups'), source.groups);
    const dashboards = named(prod, 'ConfigMap', 'megaphone-dashboards');
    assert.equal(at(dashboards, 'metadata', 'labels', 'grafana_dashboard'), '1');
    const data = dashboards.data as Record<string, string>;
    for (const file of ['megaphone-cluster.json', 'megaphone-producer.json']) {
      assert.equal(data[file], readFileSync(repoPath('monitoring/grafana/dashboards', file), 'utf8'), file);
    }
    assert.equal(kustomize('k8s/overlays/dev').some((o) => o.kind === 'PodMonitor'), false, 'dev works without the operator CRDs');
  });

  test('prod runs with tokens on (key from a Secret, only uptime public); dev stays anonymous; admin ports open only where set', () => {
    const prod = kustomize('k8s/overlays/prod');
    const dev = kustomize('k8s/overlays/dev');
    for (const name of ['megaphone-gateway', 'megaphone-producer']) {
      const [c] = containersOf(named(prod, 'Deployment', name)) as [Container];
      const ref = (c as unknown as { env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }).env.find((e) => e.name === 'AUTH_JWT_SECRET');
      assert.deepEqual(ref?.valueFrom?.secretKeyRef, { name: 'megaphone-auth', key: 'AUTH_JWT_SECRET' }, name);
      const [d] = containersOf(named(dev, 'Deployment', name)) as [Container];
      assert.equal(envOf(d, dev).has('AUTH_JWT_SECRET'), false, `${name} in dev has no key`);
    }
    const [pgw] = containersOf(named(prod, 'Deployment', 'megaphone-gateway')) as [Container];
    const prodCfg = readGatewayConfig(envValues(pgw, prod));
    assert.deepEqual(prodCfg.auth.publicChannels, ['uptime']);
    assert.ok(prodCfg.auth.secret !== undefined);
    assert.deepEqual(prodCfg.trustedProxies, ['10.0.0.0/8']);
    assert.deepEqual(prodCfg.allowedHosts, { kind: 'list', names: ['megaphone.example.com', 'megaphone-gateway', '*.svc', '*.svc.cluster.local'] });
    const ingressHost = String(at(named(prod, 'Ingress', 'megaphone'), 'spec', 'rules', 0, 'host'));
    assert.ok(prodCfg.allowedHosts.names.includes(ingressHost), 'the gateways answer the Ingress host');
    assert.equal(prodCfg.adminHost, '0.0.0.0');
    const [dgw] = containersOf(named(dev, 'Deployment', 'megaphone-gateway')) as [Container];
    const devCfg = readGatewayConfig(envValues(dgw, dev));
    assert.equal(devCfg.auth.secret, undefined);
    assert.ok(devCfg.warnings.some((w) => /every channel is readable/.test(w)));
    assert.ok(devCfg.allowedHosts.kind === 'list' && devCfg.allowedHosts.names.includes('megaphone.localtest.me'));
  });

  test('shared settings come from generated ConfigMaps the overlays can merge into', () => {
    for (const overlay of OVERLAYS) {
      const objects = kustomize(`k8s/overlays/${overlay}`);
      assert.ok(configMapData(objects, 'megaphone-common').LOG_LEVEL);
    }
  });
});
