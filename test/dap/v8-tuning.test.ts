// debug-adapter/v8-tuning.ts: the inlining budget vmscope's own processes set, and the switch back to V8's defaults.
import { afterEach, describe, expect, it } from 'vitest';
import { INLINING_BUDGET, tuneV8 } from '../../debug-adapter/v8-tuning.js';

describe('tuneV8', () => {
  const saved = process.env.VMSCOPE_V8_DEFAULTS;
  afterEach(() => {
    if (saved === undefined) delete process.env.VMSCOPE_V8_DEFAULTS;
    else process.env.VMSCOPE_V8_DEFAULTS = saved;
  });

  it('raises the cumulative inlining budget above V8\'s 920 bytes', () => {
    delete process.env.VMSCOPE_V8_DEFAULTS;
    expect(INLINING_BUDGET).toBeGreaterThan(920);
    expect(tuneV8()).toEqual([`--max-inlined-bytecode-size-cumulative=${INLINING_BUDGET}`]);
  });

  it('sets nothing with VMSCOPE_V8_DEFAULTS=1 (to compare against V8\'s defaults)', () => {
    process.env.VMSCOPE_V8_DEFAULTS = '1';
    expect(tuneV8()).toEqual([]);
  });
});
