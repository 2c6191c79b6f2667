// The adapter's `initialize` answer: capabilities and the VM-exit exception filters with the fields their conditions may use.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { EXIT_FIELD_DOCS } from '../emulator/debug/exit-fields.js';
import { EXIT_FILTER_REASONS } from './protocol.js';

/** Field names a condition on `reason`'s exits may use (exit-fields.ts, from the SDM's qualification tables). */
function fieldNames(reason: string): string {
  const own = EXIT_FIELD_DOCS[reason] ?? [];
  return own.length > 0 ? own.map((f) => f.name).join(', ') : 'no exit-specific fields';
}

function conditionDescription(reason: string): string {
  const common = (EXIT_FIELD_DOCS['*'] ?? []).map((f) => f.name).join(', ');
  const own = (EXIT_FIELD_DOCS[reason] ?? []).map((f) => `${f.name}: ${f.doc}`);
  return [`Condition over the exit's fields and the registers (rax, rip, ...). Common fields: ${common}.`, ...own, `Example: ${EXAMPLES[reason] ?? 'rax == 0'}`].join('\n');
}

const EXAMPLES: Record<string, string> = {
  IO_INSTRUCTION: 'port == 0xe9 && out',
  CPUID: 'leaf == 0x40000000',
  MSR_READ: 'msr == 0x1b',
  MSR_WRITE: 'msr == 0x6e0',
  CR_ACCESS: 'cr == 3',
  EPT_VIOLATION: 'gpa >= 0xd0000000 && write',
  EXCEPTION_NMI: 'vector == 14',
};

export function exceptionFilters(): DebugProtocol.ExceptionBreakpointsFilter[] {
  return [
    {
      filter: 'vmexit',
      label: 'Every VM exit',
      description: 'Stop at every VM exit (before the hypervisor handles it, unless exitStage says otherwise).',
      default: false,
      supportsCondition: true,
      conditionDescription: `Condition over the exit's common fields (${(EXIT_FIELD_DOCS['*'] ?? []).map((f) => f.name).join(', ')}) and the registers. Example: reason == "HLT" || number == 30`,
    },
    ...EXIT_FILTER_REASONS.map((r) => ({
      filter: `vmexit.${r}`,
      label: `VM exit: ${r}`,
      description: `Stop at ${r} exits. Fields: ${fieldNames(r)}.`,
      default: false,
      supportsCondition: true,
      conditionDescription: conditionDescription(r),
    })),
  ];
}

export function capabilities(): DebugProtocol.Capabilities {
  return {
    supportsConfigurationDoneRequest: true,
    supportsConditionalBreakpoints: true,
    supportsHitConditionalBreakpoints: true,
    supportsLogPoints: true,
    supportsFunctionBreakpoints: true,
    supportsInstructionBreakpoints: true,
    supportsDataBreakpoints: true,
    supportsSetVariable: true,
    supportsSteppingGranularity: true,
    supportsStepBack: true,
    supportsGotoTargetsRequest: true,
    supportsReadMemoryRequest: true,
    supportsWriteMemoryRequest: true,
    supportsDisassembleRequest: true,
    supportsEvaluateForHovers: true,
    supportsExceptionInfoRequest: true,
    supportsExceptionFilterOptions: true,
    supportsTerminateRequest: true,
    supportsRestartRequest: true,
    supportsValueFormattingOptions: false,
    supportsDelayedStackTraceLoading: false,
    exceptionBreakpointFilters: exceptionFilters(),
  };
}
