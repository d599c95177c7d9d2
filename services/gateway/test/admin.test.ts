import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, httpGet, isOp, startTestGateway } from './helpers.js';

const GATEWAY_METRICS = [
  'megaphone_connections',
  'megaphone_connections_opened_total',
  'megaphone_connections_closed_total',
  'megaphone_subscriptions',
  'megaphone_channels',
  'megaphone_bus_publications_received_total',
  'megaphone_deliveries_total',
  'megaphone_frames_written_total',
  'megaphone_bytes_written_total',
  'megaphone_connections_by_queue_bytes',
  'megaphone_connections_by_state',
  'megaphone_connection_lag_max',
  'megaphone_presence_reports_sent_total',
  'megaphone_presence_resyncs_total',
  'megaphone_presence_peers',
  'megaphone_presence_report_age_seconds',
  'megaphone_outbound_queued_bytes',
  'megaphone_hub_pending_messages',
  'megaphone_slow_consumer_events_total',
  'megaphone_dropped_messages_total',
  'megaphone_delivery_latency_seconds',
  'megaphone_replay_latency_seconds',
  'megaphone_recoveries_total',
  'megaphone_client_errors_total',
  'megaphone_gaps_total',
  'megaphone_epoch_changes_total',
  'megaphone_draining',
  'megaphone_bus_connected',
  'megaphone_bus_reconnects_total',
  'megaphone_bus_resubscribe_duration_seconds',
  'megaphone_nodejs_eventloop_lag_p99_seconds',
  'megaphone_process_resident_memory_bytes',
];

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('/healthz and /readyz answer on the admin port', async () => {
  const t = await startTestGateway();
  try {
    const health = await httpGet(`${t.admin}/healthz`);
    assert.equal(health.status, 200);
    const ready = await httpGet(`${t.admin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { ready: true, reasons: [] });
    await t.bus.close();
    const notReady = await httpGet(`${t.admin}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual((JSON.parse(notReady.body) as { reasons: string[] }).reasons, ['bus not ready']);
    assert.equal((await httpGet(`${t.admin}/healthz`)).status, 200, 'liveness never depends on the bus');
  } finally {
    await t.close();
  }
});

test('/metrics exposes every gateway metric, fed by live traffic', async () => {
  const t = await startTestGateway();
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'subscribe', id: 1, channel: 'cmd:x' });
    await c.next(isOp('subscribed', 1));
    await t.bus.publish('cmd:x', '{"a":1}');
    await c.until(() => c.publications('cmd:x').length === 1);
    c.send('nope');
    await c.next(isOp('error'));
    const { status, body } = await httpGet(`${t.admin}/metrics`);
    assert.equal(status, 200);
    for (const name of GATEWAY_METRICS) assert.match(body, new RegExp(`^# TYPE ${name} `, 'm'), `missing ${name}`);
    assert.equal(sample(body, 'megaphone_connections', 'transport="ws"'), 1);
    assert.equal(sample(body, 'megaphone_subscriptions'), 1);
    assert.equal(sample(body, 'megaphone_channels'), 1);
    assert.equal(sample(body, 'megaphone_bus_publications_received_total', 'namespace="cmd"'), 1);
    assert.equal(sample(body, 'megaphone_deliveries_total', 'namespace="cmd"'), 1);
    assert.equal(sample(body, 'megaphone_client_errors_total', 'code="bad_request"'), 1);
    assert.equal(sample(body, 'megaphone_bus_connected'), 1);
    assert.equal(sample(body, 'megaphone_connections_by_queue_bytes', 'le="+Inf"'), 1);
    assert.equal(sample(body, 'megaphone_connections_by_state', 'state="live"'), 1);
    assert.ok((sample(body, 'megaphone_delivery_latency_seconds_count') ?? 0) >= 1);
    assert.ok((sample(body, 'megaphone_frames_written_total') ?? 0) >= 3);
    assert.doesNotMatch(body, /channel="/, 'no channel labels');
    await c.close();
  } finally {
    await t.close();
  }
});

test('megaphone_connections_by_queue_bytes counts the open connections per bucket, the same at every scrape', async () => {
  const t = await startTestGateway();
  try {
    const a = await TestClient.connect(t.ws);
    const b = await TestClient.connect(t.ws);
    const scrapes = [];
    for (let i = 0; i < 3; i++) scrapes.push((await httpGet(`${t.admin}/metrics`)).body);
    for (const body of scrapes) {
      // Idle connections queue nothing: both are in every bucket, from le="0" up.
      assert.equal(sample(body, 'megaphone_connections_by_queue_bytes', 'le="0"'), 2);
      assert.equal(sample(body, 'megaphone_connections_by_queue_bytes', 'le="+Inf"'), 2);
    }
    await a.close();
    await b.close();
  } finally {
    await t.close();
  }
});
