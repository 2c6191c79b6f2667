// The vmscope DAP dialect, typed once: launch arguments, exception-filter ids and the custom requests (shared with the extension).
import type {
  EptAccess, EptMappingsView, EptTableView, EptTranslateView, ExitStatsView, ExitsView, PageWalkView, VirtioView, VmcsView,
} from '../emulator/debug/views.js';
import type { HistoryView } from '../emulator/debug/api.js';

/** `launch` arguments of a `vmscope` configuration (the CLI's fields plus the debugger's). */
export interface VmscopeLaunchArguments {
  program: string;
  format?: 'auto' | 'elf' | 'multiboot' | 'flat';
  loadAddress?: number | string;
  entry?: number | string;
  cpuMode?: 'real' | 'protected' | 'paged32' | 'long';
  memoryMiB?: number | string;
  devices?: unknown[];
  args?: string;
  maxInstructions?: number | string;
  /** Stop at the first instruction (stopped event reason `entry`). */
  stopOnEntry?: boolean;
  /** Log the DAP traffic (to the adapter's stderr). */
  trace?: boolean;
  disassemblySyntax?: DisassemblySyntax;
  /** Stop at a VM exit before the hypervisor handles it, after, or both (default "before"). */
  exitStage?: 'before' | 'after' | 'both';
  /** Base folder of relative paths (program, disk images). */
  cwd?: string;
}

export type DisassemblySyntax = 'nasm' | 'intel' | 'gas';

/** The exit reasons offered as exception-breakpoint filters `vmexit.<REASON>` (names as in Linux uapi/asm/vmx.h). */
export const EXIT_FILTER_REASONS = [
  'CPUID', 'HLT', 'IO_INSTRUCTION', 'MSR_READ', 'MSR_WRITE', 'CR_ACCESS', 'RDTSC', 'EPT_VIOLATION', 'EPT_MISCONFIG', 'VMCALL',
  'EXCEPTION_NMI', 'EXTERNAL_INTERRUPT', 'INTERRUPT_WINDOW', 'TRIPLE_FAULT', 'PREEMPTION_TIMER', 'INVALID_STATE',
] as const;
export type ExitFilterReason = (typeof EXIT_FILTER_REASONS)[number];

/** Names of the custom requests. */
export const CUSTOM_REQUESTS = {
  vmcs: 'vmscope/vmcs',
  ept: 'vmscope/ept',
  pageWalk: 'vmscope/pageWalk',
  virtio: 'vmscope/virtio',
  exits: 'vmscope/exits',
  stepToExit: 'vmscope/stepToExit',
  gotoExit: 'vmscope/gotoExit',
  history: 'vmscope/history',
} as const;

// ---- vmscope/gotoExit: restore the machine to the moment exit `index` (the exit log's number) happened, before its
// handler ran; then a `stopped` event with reason 'goto'.
export interface GotoExitArguments { index: number }
export interface GotoExitResponseBody { icount: number; rip: number }

// ---- vmscope/history: how far the run's history reaches (instruction counts) and what it holds, for the timeline cursor.
export type HistoryResponseBody = HistoryView;


// ---- vmscope/vmcs: every VMCS field, grouped as SDM Vol. 3C §25.3-25.9 groups them, controls decoded (views.ts vmcsView).
export interface VmcsArguments { field?: string }
export type VmcsResponseBody = VmcsView & { text: string };

// ---- vmscope/ept: with `gpa`, the EPT walk of that guest-physical address; with `table` (a host-physical address,
// optional `level` 4..1), the EPTP and the 512 entries of that paging structure; with neither, every mapping
// (coalesced) and the EPTP's PML4 table.
export interface EptArguments { gpa?: number | string; access?: EptAccess; table?: number | string; level?: number }
export interface EptResponseBody { translate?: EptTranslateView; mappings?: EptMappingsView; table?: EptTableView; text: string }

// ---- vmscope/pageWalk: the guest's page walk of one guest-virtual address, each entry through EPT.
export interface PageWalkArguments { gva: number | string; access?: EptAccess }
export type PageWalkResponseBody = PageWalkView & { text: string };

// ---- vmscope/virtio: the virtio devices, their queues, rings and recent events.
export type VirtioArguments = Record<string, never>;
export type VirtioResponseBody = VirtioView & { text: string };

// ---- vmscope/exits: a window of the exit log (start ≤ 0: the most recent `count`) and statistics by reason.
export interface ExitsArguments { start?: number; count?: number }
export type ExitsResponseBody = ExitsView & { stats: ExitStatsView; text: string };

// ---- vmscope/stepToExit: run to the next VM exit and stop before it is handled (a stopped event follows).
export interface StepToExitArguments { threadId?: number }
export type StepToExitResponseBody = undefined;
