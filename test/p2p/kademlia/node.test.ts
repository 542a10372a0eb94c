/**
 * DhtNode over real UDP on loopback: two nodes find each other, state is saved and loaded
 * (same id, contacts pinged back), and routing-table gauges reach the observer.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Observer } from '../../../src/monitoring/observer.js';
import { idToHex } from '../../../src/p2p/kademlia/id.js';
import { DhtNode } from '../../../src/p2p/kademlia/node.js';

const dir = mkdtempSync(join(tmpdir(), 'ghostnet-dht-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('DhtNode', () => {
  it('joins over UDP, reports gauges, saves its table and reloads its id', async () => {
    const gauges = new Map<string, number>();
    const observer: Observer = {
      connectionOpened() {},
      connectionClosed() {},
      bytesReceived() {},
      bytesSent() {},
      requestFinished() {},
      error() {},
      gauge(name, value, labels) {
        gauges.set(`${name}${labels ? JSON.stringify(labels) : ''}`, value);
      },
    };
    const a = await DhtNode.start({ maintenanceIntervalMs: 1000 });
    const state = join(dir, 'b.json');
    const b = await DhtNode.start({
      bootstrap: [{ address: '127.0.0.1', port: a.address.port }],
      statePath: state,
      maintenanceIntervalMs: 1000,
      observer,
    });
    try {
      await once(b, 'ready'); // the bootstrap lookup finished
      const r = await b.findNode(a.id);
      expect(r.closest.map((n) => idToHex(n.id))).toContain(idToHex(a.id));
      await new Promise((resolve) => setTimeout(resolve, 1300));
      expect(gauges.get('dht_routing_table_nodes{"family":"ipv4"}')).toBeGreaterThanOrEqual(1);
      expect(gauges.get('dht_queries{"direction":"out"}')).toBeGreaterThan(0);
    } finally {
      await b.close();
    }
    const saved = JSON.parse(readFileSync(state, 'utf8')) as {
      id: string;
      nodes: { port: number }[];
    };
    expect(saved.id).toBe(idToHex(b.id));
    expect(saved.nodes.map((n) => n.port)).toContain(a.address.port);
    // Restarted from the file: the same id, and the saved contact is asked again.
    const again = await DhtNode.start({ statePath: state });
    try {
      expect(idToHex(again.id)).toBe(idToHex(b.id));
      await once(again, 'ready');
      const r = await again.findNode(a.id);
      expect(r.closest.map((n) => idToHex(n.id))).toContain(idToHex(a.id));
    } finally {
      await again.close();
      await a.close();
    }
  });
});
