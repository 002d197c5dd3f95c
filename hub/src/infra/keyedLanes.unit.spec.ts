import { describe, expect, it } from 'vitest';
import { KeyedLanes } from './keyedLanes.ts';

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
};

describe('KeyedLanes', () => {
  it('runs a key in order and other keys alongside it', async () => {
    const lanes = new KeyedLanes(8);
    const order: string[] = [];
    const a1 = gate();
    await lanes.run('a', async () => {
      await a1.opened;
      order.push('a1');
    });
    await lanes.run('a', async () => {
      order.push('a2');
    });
    await lanes.run('b', async () => {
      order.push('b1');
    });
    // b does not wait for a's first job; a's second does.
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['b1']);
    a1.open();
    await lanes.idle();
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });

  it('holds the producer back at its limit', async () => {
    const lanes = new KeyedLanes(2);
    const g = gate();
    await lanes.run('x', () => g.opened);
    await lanes.run('y', () => g.opened);
    let third = false;
    const queued = lanes.run('z', async () => undefined).then(() => (third = true));
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    g.open();
    await queued;
    expect(third).toBe(true);
    await lanes.idle();
  });

  it('reports a failed job at the next run or idle', async () => {
    const lanes = new KeyedLanes(4);
    await lanes.run('a', () => Promise.reject(new Error('broken')));
    await expect(lanes.idle()).rejects.toThrow('broken');
  });
});
