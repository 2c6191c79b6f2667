// The VMCS region's layout in host-physical memory and VMREAD/VMWRITE/VMCLEAR semantics over a memory accessor (SDM vol. 3C §25.2, §25.11, ch. 31).
import { VMCS_REGION_SIZE, VMCS_REVISION_ID, VMWRITE_ANY_FIELD } from './caps.js';
import {
  VMXERR_UNSUPPORTED_VMCS_COMPONENT, VMXERR_VMWRITE_READ_ONLY_VMCS_COMPONENT, vmxInstrError, type VmxInstrError,
} from './errors.js';
import { type VmcsField, type VmcsFieldName, VMCS_SLOT_COUNT, vmcsField, vmcsFieldByEncoding } from './fields.js';

export { VMCS_REVISION_ID, VMCS_REGION_SIZE };

/** How the VMX code reaches host-physical memory (4-byte aligned little-endian accesses; values are unsigned). */
export interface VmcsMemory {
  read32(hpa: number): number;
  write32(hpa: number, value: number): void;
}

/*
 * VMCS region format. The SDM fixes only the first 8 bytes (§25.2: bits 30:0 revision identifier, bit 31
 * shadow-VMCS indicator; then the 32-bit VMX-abort indicator); the rest is "implementation-specific". Ours:
 *   offset 0   revision identifier (bit 31: shadow-VMCS indicator)
 *   offset 4   VMX-abort indicator
 *   offset 8   launch state: 0 = clear, 1 = launched (4 bytes), then 4 reserved bytes
 *   offset 16 + 8*slot   field `slot` of fields.ts, little-endian, always 8 bytes whatever its width
 * The 181 fields end at byte 1464, well inside the 4 KiB region. Software must not rely on this layout (the SDM says
 * so); vmscope's views do, to show the VMCS of any region.
 */
export const VMCS_OFFSET_REVISION = 0;
export const VMCS_OFFSET_ABORT = 4;
export const VMCS_OFFSET_LAUNCH_STATE = 8;
export const VMCS_OFFSET_FIELDS = 16;
export const VMCS_SHADOW_INDICATOR = 0x80000000;
if (VMCS_OFFSET_FIELDS + 8 * VMCS_SLOT_COUNT > VMCS_REGION_SIZE) throw new Error('VMCS fields do not fit the region');

export type LaunchState = 'clear' | 'launched';

/** Byte offset of a field inside the region. */
export function vmcsFieldOffset(field: VmcsField): number {
  return VMCS_OFFSET_FIELDS + 8 * field.slot;
}

/** Bits of a field's value that exist (16-bit fields keep 16 bits, 32-bit fields 32, others 64). */
function widthMask(field: VmcsField): bigint {
  return field.width === '16' ? 0xffffn : field.width === '32' ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
}

function load64(mem: VmcsMemory, hpa: number): bigint {
  return BigInt(mem.read32(hpa) >>> 0) | (BigInt(mem.read32(hpa + 4) >>> 0) << 32n);
}

function store64(mem: VmcsMemory, hpa: number, v: bigint): void {
  mem.write32(hpa, Number(v & 0xffff_ffffn));
  mem.write32(hpa + 4, Number((v >> 32n) & 0xffff_ffffn));
}

/**
 * VMREAD (SDM vol. 3C ch. 31 "VMREAD"): the value of the field an encoding designates, zero-extended; the high access
 * of a 64-bit field reads bits 63:32. Unsupported encoding → error 12. Truncation to a 32-bit operand outside
 * 64-bit mode is the caller's.
 */
export function vmcsReadField(mem: VmcsMemory, regionHpa: number, encoding: number | bigint): bigint | VmxInstrError {
  const hit = vmcsFieldByEncoding(encoding);
  if (!hit) return vmxInstrError(VMXERR_UNSUPPORTED_VMCS_COMPONENT);
  const v = load64(mem, regionHpa + vmcsFieldOffset(hit.field)) & widthMask(hit.field);
  return hit.high ? v >> 32n : v;
}

/**
 * VMWRITE (SDM vol. 3C ch. 31 "VMWRITE"): unsupported encoding → error 12; a VM-exit information field → error 13
 * (IA32_VMX_MISC bit 29 is 0 in our caps). 16- and 32-bit fields keep the low bits of the value; the high access of
 * a 64-bit field writes bits 63:32 from the value's bits 31:0 and keeps bits 31:0; natural width is 64 bits here.
 */
export function vmcsWriteField(mem: VmcsMemory, regionHpa: number, encoding: number | bigint, value: bigint): VmxInstrError | undefined {
  const hit = vmcsFieldByEncoding(encoding);
  if (!hit) return vmxInstrError(VMXERR_UNSUPPORTED_VMCS_COMPONENT);
  if (hit.field.type === 'exit-info' && !VMWRITE_ANY_FIELD) return vmxInstrError(VMXERR_VMWRITE_READ_ONLY_VMCS_COMPONENT);
  writeHit(mem, regionHpa, hit.field, hit.high, value);
  return undefined;
}

function writeHit(mem: VmcsMemory, regionHpa: number, field: VmcsField, high: boolean, value: bigint): void {
  const at = regionHpa + vmcsFieldOffset(field);
  if (high) {
    mem.write32(at + 4, Number(BigInt.asUintN(32, value)));
    return;
  }
  store64(mem, at, BigInt.asUintN(64, value) & widthMask(field));
}

/** Read a field by name (processor-internal access: views, VM entry, the VMX core). */
export function vmcsGet(mem: VmcsMemory, regionHpa: number, name: VmcsFieldName): bigint {
  const f = vmcsField(name);
  return load64(mem, regionHpa + vmcsFieldOffset(f)) & widthMask(f);
}

/**
 * Write a field by name as the processor does (e.g. saving exit information on a VM exit): no read-only check,
 * the value is truncated to the field's width.
 */
export function vmcsSet(mem: VmcsMemory, regionHpa: number, name: VmcsFieldName, value: bigint | number): void {
  const f = vmcsField(name);
  const v = typeof value === 'number' ? (Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n) : value;
  writeHit(mem, regionHpa, f, false, v);
}

/** The revision identifier in the first 4 bytes, bits 30:0. */
export function vmcsRevisionId(mem: VmcsMemory, regionHpa: number): number {
  return mem.read32(regionHpa + VMCS_OFFSET_REVISION) & 0x7fffffff;
}

/** Whether bit 31 of the first 4 bytes (shadow-VMCS indicator) is set. */
export function vmcsIsShadow(mem: VmcsMemory, regionHpa: number): boolean {
  return (mem.read32(regionHpa + VMCS_OFFSET_REVISION) & VMCS_SHADOW_INDICATOR) !== 0;
}

export function vmcsAbortIndicator(mem: VmcsMemory, regionHpa: number): number {
  return mem.read32(regionHpa + VMCS_OFFSET_ABORT) >>> 0;
}

/** Record a VMX abort (SDM vol. 3C §28.7): the processor writes a nonzero indicator and enters shutdown. */
export function vmcsSetAbortIndicator(mem: VmcsMemory, regionHpa: number, indicator: number): void {
  mem.write32(regionHpa + VMCS_OFFSET_ABORT, indicator >>> 0);
}

export function vmcsLaunchState(mem: VmcsMemory, regionHpa: number): LaunchState {
  return (mem.read32(regionHpa + VMCS_OFFSET_LAUNCH_STATE) & 1) === 1 ? 'launched' : 'clear';
}

/** Set by a successful VMLAUNCH (SDM vol. 3C §27.11: "the launch state of the VMCS is set to launched"). */
export function vmcsSetLaunchState(mem: VmcsMemory, regionHpa: number, state: LaunchState): void {
  mem.write32(regionHpa + VMCS_OFFSET_LAUNCH_STATE, state === 'launched' ? 1 : 0);
  mem.write32(regionHpa + VMCS_OFFSET_LAUNCH_STATE + 4, 0);
}

/**
 * VMCLEAR's effect on the region (SDM vol. 3C ch. 31 "VMCLEAR"): the VMCS data is already in the region (we keep no
 * cache), and the launch state becomes "clear". Field contents are kept. The caller checks the operand (alignment,
 * MAXPHYADDR, VMXON pointer) and clears the current-VMCS pointer when it matches.
 */
export function vmcsClear(mem: VmcsMemory, regionHpa: number): void {
  vmcsSetLaunchState(mem, regionHpa, 'clear');
}
