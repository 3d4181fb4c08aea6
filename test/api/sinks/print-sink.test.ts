/** Tests of PrintSink: Flink's line prefixes, value formatting and waiting for a full stream to drain. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { PrintSink, type PrintSinkOptions } from '../../../src/api/sinks/print-sink.ts';
import { sinkContext } from './sink-context.ts';

class FakeStream extends EventEmitter {
  text = '';
  full = false;

  write(chunk: string): boolean {
    this.text += chunk;
    return !this.full;
  }
}

async function print(
  values: unknown[],
  subtaskIndex: number,
  parallelism: number,
  options: PrintSinkOptions = {},
) {
  const stream = new FakeStream();
  const sink = new PrintSink({ ...options, stream });
  const writer = sink.createWriter(sinkContext({ subtaskIndex, parallelism, operatorName: 'print' }));
  for (const value of values) writer.write(value, undefined);
  expect(stream.text).toBe(''); // buffered until flush
  await writer.flush(true);
  await writer.close();
  return stream.text;
}

describe('PrintSink', () => {
  it('prefixes lines like Flink: subtask number only with parallelism above 1, after the identifier', async () => {
    expect(await print(['a', 'b'], 0, 1)).toBe('a\nb\n');
    expect(await print(['a'], 1, 3)).toBe('2> a\n');
    expect(await print(['a'], 0, 1, { prefix: 'out' })).toBe('out> a\n');
    expect(await print(['a'], 2, 3, { prefix: 'out' })).toBe('out:3> a\n');
  });

  it('prints objects as JSON with bigints as numbers, other values through String', async () => {
    expect(
      await print([{ id: 12345678901234567890n, tags: ['x'] }, 42, null, undefined, 7n, true], 0, 1),
    ).toBe('{"id":12345678901234567890,"tags":["x"]}\n42\nnull\nundefined\n7\ntrue\n');
  });

  it('uses a custom format', async () => {
    expect(await print([1, 2], 0, 1, { format: (v) => `<${String(v)}>` })).toBe('<1>\n<2>\n');
  });

  it('waits for drain when the stream is full', async () => {
    const stream = new FakeStream();
    stream.full = true;
    const writer = new PrintSink({ stream }).createWriter(
      sinkContext({
        subtaskIndex: 0,
        parallelism: 1,
        operatorName: 'p',
      }),
    );
    writer.write('x', undefined);
    let flushed = false;
    const flushing = Promise.resolve(writer.flush(false)).then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toBe(false);
    stream.emit('drain');
    await flushing;
    expect(stream.text).toBe('x\n');
  });

  it('accepts process.stdout as its stream type', () => {
    expect(new PrintSink({ stream: process.stderr })).toBeInstanceOf(PrintSink);
  });
});
