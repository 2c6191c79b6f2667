// The documented handler-module API for students' exit handlers: validates a loaded module and installs it on the reference hypervisor, wrapping the built-in handlers.
import { EXIT_REASONS, exitReasonByName } from '../vmx/exit-reasons.js';
import type { VmcsFieldName } from '../vmx/fields.js';
import type { ExitHandler, VcpuApi } from './api.js';
import type { ExitOutcome } from './exit-log.js';
import type { Hypervisor } from './hypervisor.js';

/** What setup() receives, before the first VM entry: the VMCS by field name, EPT permissions, a note for the report. */
export interface VmmSetupApi {
  vmread(field: VmcsFieldName): bigint;
  vmwrite(field: VmcsFieldName, value: bigint | number): void;
  /** Set the EPT permissions (R=1, W=2, X=4) of the 4 KiB guest-physical page holding `gpa` (see VcpuApi.eptProtect). */
  eptProtect(gpa: number, perms: number): void;
  eptPermissions(gpa: number): number;
  /** Whether a guest-physical address is RAM. */
  isRam(gpa: number): boolean;
  /** A line for the report ("setup: CPUID leaf 0x40000002 added"). */
  note(text: string): void;
}

/**
 * A student's exit handler: `vcpu` is the handler API (api.ts), `next()` runs the built-in handler for the same
 * exit and returns its outcome. Return what was done ('emulated', 'injected', 'resumed', 'ended') or nothing.
 */
export type UserExitHandler = (vcpu: VcpuApi, next: () => ExitOutcome | void) => ExitOutcome | void;

export interface HandlerModule {
  setup?: (vmm: VmmSetupApi) => void;
  handlers?: Record<string, UserExitHandler>;
}

/** A handler module that does not have the documented shape (the message names what is wrong). */
export class HandlerModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerModuleError';
  }
}

const OUTCOMES: readonly string[] = ['resumed', 'injected', 'emulated', 'ended', 'unhandled'];

/** Check a loaded module (CommonJS exports or an ESM namespace with a default export) and return it typed. */
export function validateHandlerModule(raw: unknown, file = 'the handler module'): HandlerModule {
  let mod = raw;
  if (typeof mod === 'object' && mod !== null && 'default' in mod && !('handlers' in mod) && !('setup' in mod)) mod = (mod as { default: unknown }).default;
  if (typeof mod !== 'object' || mod === null) throw new HandlerModuleError(`${file} must export an object { setup?, handlers }`);
  const m = mod as Record<string, unknown>;
  if (m.setup !== undefined && typeof m.setup !== 'function') throw new HandlerModuleError(`${file}: "setup" must be a function`);
  if (m.handlers !== undefined && (typeof m.handlers !== 'object' || m.handlers === null || Array.isArray(m.handlers))) {
    throw new HandlerModuleError(`${file}: "handlers" must be an object of exit-reason name → function`);
  }
  const handlers = (m.handlers ?? {}) as Record<string, unknown>;
  for (const [name, h] of Object.entries(handlers)) {
    if (exitReasonByName(name) === undefined) {
      throw new HandlerModuleError(`${file}: unknown exit reason "${name}" in handlers; valid names: ${EXIT_REASONS.map((r) => r.name).join(', ')}`);
    }
    if (typeof h !== 'function') throw new HandlerModuleError(`${file}: handlers.${name} must be a function (vcpu, next) => outcome`);
  }
  return { setup: m.setup as HandlerModule['setup'], handlers: handlers as Record<string, UserExitHandler> };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Install a module's handlers on `hv` in place of the built-in ones (each receives the built-in one as `next`),
 * then run its setup(). A handler or setup that throws ends the run with status 'error' ("handler for CPUID
 * threw: …"); nothing a student's code throws escapes into the host.
 */
export function installUserHandlers(hv: Hypervisor, mod: HandlerModule, notes: string[] = []): void {
  for (const [name, user] of Object.entries(mod.handlers ?? {})) {
    const reason = exitReasonByName(name)!.number;
    const builtin: ExitHandler | undefined = hv.handlers.get(reason);
    const wrapped: ExitHandler = (vcpu) => {
      const next = (): ExitOutcome | void => {
        if (builtin === undefined) {
          vcpu.endRun('error', `no built-in handler for ${name} to pass to with next()`);
          return 'ended';
        }
        return builtin(vcpu);
      };
      try {
        const r = user(vcpu, next);
        if (r === undefined || r === null) return 'resumed';
        if (typeof r !== 'string' || !OUTCOMES.includes(r)) {
          vcpu.endRun('error', `handler for ${name} returned ${JSON.stringify(r) ?? String(r)}; return one of ${OUTCOMES.join(', ')} (or nothing)`);
          return 'ended';
        }
        return r;
      } catch (e) {
        vcpu.endRun('error', `handler for ${name} threw: ${message(e)}`);
        return 'ended';
      }
    };
    hv.handlers.set(reason, wrapped);
  }
  if (mod.setup !== undefined) {
    const api: VmmSetupApi = {
      vmread: (field) => hv.vmread(field),
      vmwrite: (field, value) => hv.vmwrite(field, value),
      eptProtect: (gpa, perms) => hv.eptProtect(gpa, perms),
      eptPermissions: (gpa) => hv.eptPermissions(gpa),
      isRam: (gpa) => hv.guest.isRam(gpa),
      note: (text) => { notes.push(String(text)); },
    };
    try {
      mod.setup(api);
    } catch (e) {
      hv.ended = { status: 'error', message: `setup threw: ${message(e)}` };
    }
  }
}
