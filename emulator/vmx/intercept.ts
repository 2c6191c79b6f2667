// Every "does this cause a VM exit?" decision of VMX non-root operation, from the controls loaded at VM entry (SDM vol. 3C ch. 26).
import {
  activateSecondaryControls, descriptorTableExiting, enableRdtscp, extIntExiting, hltExiting, interruptWindowExiting,
  invlpgExiting, monitorTrapFlag, movDrExiting, nmiWindowExiting, pauseExiting, preemptionTimerActive, rdpmcExiting,
  rdtscExiting, unconditionalIoExiting, useIoBitmaps, useMsrBitmaps, useTscOffsetting, wbinvdExiting, cr3LoadExiting,
  cr3StoreExiting, cr8LoadExiting, cr8StoreExiting, useTprShadow, nmiExiting, virtualNmis, unrestrictedGuest, enableEpt, enableVpid,
  mwaitExiting, monitorExiting,
} from './controls.js';

/** The execution controls as loaded at VM entry: the processor reads the VMCS once, as hardware does. */
export interface Controls {
  pin: number;
  proc: number;
  /** Secondary controls as they take effect (0 unless "activate secondary controls"). */
  proc2: number;
  exit: number;
  entry: number;
  exceptionBitmap: number;
  pfErrorCodeMask: number;
  pfErrorCodeMatch: number;
  cr0Mask: number;
  cr0Shadow: number;
  cr4Mask: number;
  cr4Shadow: number;
  cr3TargetCount: number;
  cr3Targets: number[];
  ioBitmapA: number;
  ioBitmapB: number;
  msrBitmap: number;
  tscOffset: number;
  virtualApic: number;
  tprThreshold: number;
}

export function emptyControls(): Controls {
  return {
    pin: 0, proc: 0, proc2: 0, exit: 0, entry: 0, exceptionBitmap: 0, pfErrorCodeMask: 0, pfErrorCodeMatch: 0,
    cr0Mask: 0, cr0Shadow: 0, cr4Mask: 0, cr4Shadow: 0, cr3TargetCount: 0, cr3Targets: [0, 0, 0, 0],
    ioBitmapA: 0, ioBitmapB: 0, msrBitmap: 0, tscOffset: 0, virtualApic: 0, tprThreshold: 0,
  };
}

/** How decisions read bitmaps in host-physical memory. */
export interface BitmapMemory {
  read8(hpa: number): number;
}

/**
 * Exceptions (SDM §26.2): a #PF exits when bit 14 of the exception bitmap equals whether
 * (error code AND mask) == match; any other vector exits when its bitmap bit is set.
 */
export function exceptionExits(c: Controls, vector: number, errorCode: number): boolean {
  if (vector === 14) {
    const matches = ((errorCode & c.pfErrorCodeMask) >>> 0) === (c.pfErrorCodeMatch >>> 0);
    return ((c.exceptionBitmap >>> 14) & 1) === 1 ? matches : !matches;
  }
  if (vector >= 32) return false;
  return ((c.exceptionBitmap >>> vector) & 1) === 1;
}

/** NMIs exit with "NMI exiting" (SDM §26.2). */
export function nmiCausesExit(c: Controls): boolean {
  return nmiExiting(c.pin);
}

/** External interrupts exit with "external-interrupt exiting", regardless of RFLAGS.IF (SDM §26.2). */
export function externalInterruptExits(c: Controls): boolean {
  return extIntExiting(c.pin);
}

export const hltExits = (c: Controls): boolean => hltExiting(c.proc);
export const invlpgExits = (c: Controls): boolean => invlpgExiting(c.proc);
export const rdpmcExits = (c: Controls): boolean => rdpmcExiting(c.proc);
export const rdtscExits = (c: Controls): boolean => rdtscExiting(c.proc);
export const tscOffsetting = (c: Controls): boolean => useTscOffsetting(c.proc);
export const movDrExits = (c: Controls): boolean => movDrExiting(c.proc);
export const pauseExits = (c: Controls): boolean => pauseExiting(c.proc);
export const mwaitExits = (c: Controls): boolean => mwaitExiting(c.proc);
export const monitorExits = (c: Controls): boolean => monitorExiting(c.proc);
export const wbinvdExits = (c: Controls): boolean => wbinvdExiting(c.proc2);
export const descriptorTableExits = (c: Controls): boolean => descriptorTableExiting(c.proc2);
export const mtfActive = (c: Controls): boolean => monitorTrapFlag(c.proc);
export const interruptWindow = (c: Controls): boolean => interruptWindowExiting(c.proc);
export const nmiWindow = (c: Controls): boolean => nmiWindowExiting(c.proc);
export const preemptionTimer = (c: Controls): boolean => preemptionTimerActive(c.pin);
export const tprShadow = (c: Controls): boolean => useTprShadow(c.proc);
export const virtualNmi = (c: Controls): boolean => virtualNmis(c.pin);
export const unrestricted = (c: Controls): boolean => unrestrictedGuest(c.proc2);
export const eptEnabled = (c: Controls): boolean => enableEpt(c.proc2);
export const vpidEnabled = (c: Controls): boolean => enableVpid(c.proc2);

/** RDTSCP: #UD unless "enable RDTSCP"; then it exits when RDTSC exiting is set (SDM §26.1.3, §26.3). */
export function rdtscpAllowed(c: Controls): boolean {
  return activateSecondaryControls(c.proc) && enableRdtscp(c.proc2);
}

/**
 * I/O instructions (SDM §26.1.3): with I/O bitmaps, the access exits if any byte's bit is set
 * in bitmap A (ports 0–7FFFH) or B (8000H–FFFFH), or if it wraps past FFFFH; otherwise
 * "unconditional I/O exiting" decides.
 */
export function ioExits(c: Controls, mem: BitmapMemory, port: number, size: number): boolean {
  if (!useIoBitmaps(c.proc)) return unconditionalIoExiting(c.proc);
  for (let k = 0; k < size; k++) {
    const p = port + k;
    if (p > 0xffff) return true;
    const base = p < 0x8000 ? c.ioBitmapA : c.ioBitmapB;
    const bit = p & 0x7fff;
    if (((mem.read8(base + (bit >>> 3)) >>> (bit & 7)) & 1) !== 0) return true;
  }
  return false;
}

/**
 * RDMSR/WRMSR (SDM §26.1.3, §25.6.9): without MSR bitmaps every access exits; with them, MSRs
 * 0–1FFFH and C0000000H–C0001FFFH consult the read/write bitmaps, all others exit.
 */
export function msrExits(c: Controls, mem: BitmapMemory, msr: number, write: boolean): boolean {
  if (!useMsrBitmaps(c.proc)) return true;
  let offset: number;
  let bit: number;
  if (msr <= 0x1fff) { offset = 0; bit = msr; }
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) { offset = 1024; bit = msr - 0xc0000000; }
  else return true;
  if (write) offset += 2048;
  return ((mem.read8(c.msrBitmap + offset + (bit >>> 3)) >>> (bit & 7)) & 1) !== 0;
}

/**
 * MOV to CR0/CR4 (SDM §26.1.3): exits if, for a bit set in the guest/host mask, the new value
 * differs from the read shadow.
 */
export function crWriteExits(c: Controls, cr: number, value: number, maxPhysAddr: number): boolean {
  switch (cr) {
    case 0: return (((value ^ c.cr0Shadow) & c.cr0Mask) >>> 0) !== 0;
    case 4: return (((value ^ c.cr4Shadow) & c.cr4Mask) >>> 0) !== 0;
    case 3: {
      if (!cr3LoadExiting(c.proc)) return false;
      // The CR3-target values let the guest load those CR3s without an exit.
      for (let k = 0; k < Math.min(c.cr3TargetCount, 4); k++) if (c.cr3Targets[k] === value) return false;
      void maxPhysAddr;
      return true;
    }
    case 8: return cr8LoadExiting(c.proc);
    default: return false;
  }
}

export function crReadExits(c: Controls, cr: number): boolean {
  if (cr === 3) return cr3StoreExiting(c.proc);
  if (cr === 8) return cr8StoreExiting(c.proc);
  return false;
}

/** The guest's view of CR0/CR4 on a read: host-owned bits come from the read shadow (SDM §26.3). */
export function crReadValue(c: Controls, cr: number, actual: number): number {
  if (cr === 0) return ((actual & ~c.cr0Mask) | (c.cr0Shadow & c.cr0Mask)) >>> 0;
  if (cr === 4) return ((actual & ~c.cr4Mask) | (c.cr4Shadow & c.cr4Mask)) >>> 0;
  return actual;
}

/** A MOV to CR0/CR4 that does not exit leaves host-owned bits unmodified (SDM §26.3). */
export function crWriteValue(c: Controls, cr: number, actual: number, value: number): number {
  if (cr === 0) return ((value & ~c.cr0Mask) | (actual & c.cr0Mask)) >>> 0;
  if (cr === 4) return ((value & ~c.cr4Mask) | (actual & c.cr4Mask)) >>> 0;
  return value;
}

/** CLTS exits if CR0.TS is host-owned and its read shadow is 1 (SDM §26.1.3). */
export function cltsExits(c: Controls): boolean {
  return (c.cr0Mask & 8) !== 0 && (c.cr0Shadow & 8) !== 0;
}

/**
 * LMSW exits if it would set a host-owned PE whose shadow is 0, or change a host-owned MP, EM
 * or TS from its shadow (SDM §26.1.3).
 */
export function lmswExits(c: Controls, source: number): boolean {
  const m = c.cr0Mask, s = c.cr0Shadow;
  if ((m & 1) !== 0 && (s & 1) === 0 && (source & 1) !== 0) return true;
  return (((source ^ s) & m & 0xe) >>> 0) !== 0;
}

void [descriptorTableExiting, rdpmcExiting];
