/**
 * The fake API server is only useful if it speaks the wire format the real client expects; these tests pin
 * that format with raw HTTP, independent of the client.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';

let fake: FakeApiServer;

beforeEach(async () => {
  fake = await startFakeApiServer();
});
afterEach(async () => {
  await fake.close();
});

async function getJson(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${fake.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Reads watch lines until `count` arrived or the server closed the stream. */
function readWatch(path: string, count: number): Promise<{ status: number; lines: Array<{ type: string; object: Record<string, any> }>; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(`${fake.url}${path}`, (res) => {
      let buffer = '';
      const lines: Array<{ type: string; object: Record<string, any> }> = [];
      const finish = (ended: boolean): void => {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, lines, ended });
      };
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buffer.slice(0, newline)) as { type: string; object: Record<string, any> });
          buffer = buffer.slice(newline + 1);
          if (lines.length >= count) return finish(false);
        }
      });
      res.on('end', () => {
        if (buffer.trim() !== '') lines.push(JSON.parse(buffer) as { type: string; object: Record<string, any> });
        finish(true);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('fake API server wire format', () => {
  it('lists with a resourceVersion and honours spec.nodeName field selectors', async () => {
    fake.upsertPod({ namespace: 'a', name: 'p1', nodeName: 'n1', containers: ['c'] });
    fake.upsertPod({ namespace: 'b', name: 'p2', nodeName: 'n2', containers: ['c'] });
    const { status, body } = await getJson('/api/v1/pods?fieldSelector=spec.nodeName%3Dn1');
    expect(status).toBe(200);
    expect(body).toMatchObject({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: expect.stringMatching(/^[0-9]+$/) } });
    expect((body['items'] as Array<{ metadata: { name: string } }>).map((p) => p.metadata.name)).toEqual(['p1']);
  });

  it('rejects an unsupported field selector with a 400 Status', async () => {
    const { status, body } = await getJson('/api/v1/pods?fieldSelector=status.phase%3DRunning');
    expect(status).toBe(400);
    expect(body).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
  });

  it('answers a missing pod with a 404 NotFound Status', async () => {
    const { status, body } = await getJson('/api/v1/namespaces/a/pods/nope');
    expect(status).toBe(404);
    expect(body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, details: { name: 'nope', kind: 'pods' } });
  });

  it('replays changes after a resourceVersion as newline-delimited events, selector transitions included', async () => {
    const { body } = await getJson('/api/v1/pods');
    const rv = String((body['metadata'] as { resourceVersion: string }).resourceVersion);
    fake.upsertPod({ namespace: 'a', name: 'p1', nodeName: 'n1', containers: ['c'] });
    fake.upsertPod({ namespace: 'a', name: 'p1', nodeName: 'n1', containers: ['c', 'd'] });
    fake.upsertPod({ namespace: 'a', name: 'p1', nodeName: 'n2', containers: ['c', 'd'] });
    fake.upsertPod({ namespace: 'a', name: 'other', nodeName: 'n2', containers: ['c'] });
    const watch = await readWatch(`/api/v1/pods?watch=true&resourceVersion=${rv}&fieldSelector=spec.nodeName%3Dn1`, 3);
    expect(watch.status).toBe(200);
    expect(watch.lines.map((l) => l.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    const versions = watch.lines.map((l) => Number(l.object['metadata'].resourceVersion));
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);
    expect(versions[0]).toBeGreaterThan(Number(rv));
  });

  it('ends a watch after timeoutSeconds', async () => {
    const watch = await readWatch('/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=1', 100);
    expect(watch).toMatchObject({ status: 200, ended: true, lines: [] });
  });

  it('sends bookmarks only to watches that asked and only while enabled', async () => {
    const asked = readWatch('/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=1', 1);
    const silent = readWatch('/api/v1/pods?watch=true&timeoutSeconds=1', 1);
    await new Promise<void>((resolve) => {
      const poll = (): void => (fake.openWatches() === 2 ? resolve() : void setTimeout(poll, 5));
      poll();
    });
    expect(fake.sendBookmarks()).toBe(1);
    const [withBookmark, without] = await Promise.all([asked, silent]);
    expect(withBookmark.lines).toEqual([{ type: 'BOOKMARK', object: { apiVersion: 'v1', kind: 'Pod', metadata: { resourceVersion: expect.any(String) } } }]);
    expect(without.lines).toEqual([]);
    fake.setBookmarksEnabled(false);
    expect(fake.sendBookmarks()).toBe(0);
  });

  it.each([
    ['error-event', 200],
    ['http', 410],
  ] as const)('an expired resourceVersion gets 410 (%s)', async (via, status) => {
    const { body } = await getJson('/api/v1/pods');
    const rv = String((body['metadata'] as { resourceVersion: string }).resourceVersion);
    fake.expireResourceVersions(via);
    const watch = await readWatch(`/api/v1/pods?watch=true&resourceVersion=${rv}`, 1);
    expect(watch.status).toBe(status);
    // Either an ERROR event carrying a 410 Status in a 200 stream, or the 410 Status as the whole body.
    if (status === 200) expect(watch.lines).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    else expect(watch.lines[0]).toMatchObject({ kind: 'Status', code: 410 });
    // A fresh list hands out a version that is not expired.
    const fresh = await getJson('/api/v1/pods');
    expect(Number((fresh.body['metadata'] as { resourceVersion: string }).resourceVersion)).toBeGreaterThan(Number(rv));
  });

  it('records requests by route', async () => {
    await getJson('/api/v1/namespaces/a/pods/x');
    await getJson('/apis/criu.org/v1/checkpointrestoreoperators');
    expect(fake.countRequests('pods:get')).toBe(1);
    expect(fake.countRequests('policies:list')).toBe(1);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
  });
});
