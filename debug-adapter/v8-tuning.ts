// V8 settings for the Node processes vmscope owns (the CLI, the adapter run as its own process, the benchmarks), set before a guest runs.
import { setFlagsFromString } from 'node:v8';

/** The inlining budget set, in bytes of bytecode (V8's default is 920). */
export const INLINING_BUDGET = 3000;

/**
 * TurboFan inlines at most 920 bytes of bytecode into one optimized function (--max-inlined-bytecode-size-cumulative),
 * a budget made for web pages. A VM exit's round trip is a chain of small methods across the processor, the VMX unit,
 * the hypervisor and the exit log: with the default the hypervisor's exit fastpath calls the log's record, which
 * takes its arguments as tagged values and checks every object again; with 3000 it is inlined. Measured with
 * bench/instructions.mjs (host instructions, valgrind), defaults → 3000 on one build: a CPUID exit 2894 → 2606, an OUT
 * exit 3451 → 2824, a virtio-blk request 127.6 k → 113.6 k; guest MIPS unchanged. On the build after the exit-path
 * changes of the same day (VMCS offsets as numbers, the log's bytes key): CPUID 2718-3022 → 2218-2374 (the spread is
 * V8's write barrier, taken or not by how old its objects happen to be). Only in processes of vmscope's own: the adapter inside
 * VS Code's extension host (adapter mode 'inline') leaves that shared V8 as it is. VMSCOPE_V8_DEFAULTS=1 keeps V8's
 * defaults (to compare). Returns the flags set.
 */
export function tuneV8(): string[] {
  if (process.env.VMSCOPE_V8_DEFAULTS === '1') return [];
  const flags = [`--max-inlined-bytecode-size-cumulative=${INLINING_BUDGET}`];
  for (const f of flags) setFlagsFromString(f);
  return flags;
}
