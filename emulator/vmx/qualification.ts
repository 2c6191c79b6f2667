// Decoders of exit qualifications and VM-exit instruction information into named fields for views and logs (SDM vol. 3C §28.2.1, §28.2.5).

export interface DecodedField {
  readonly name: string;
  readonly value: number | boolean | string;
}

export interface Decoded {
  /** One line, e.g. "out 0xe9, 1 byte" or "mov cr3 <- rax". */
  readonly summary: string;
  readonly fields: DecodedField[];
}

/** General-purpose registers as the 4-bit fields of qualifications encode them (SDM vol. 3C table 28-3). */
export const GPR_NAMES: readonly string[] = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
];
const SEGMENT_NAMES: readonly string[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'seg6?', 'seg7?'];
const addressSize = (v: number): string => ['16-bit', '32-bit', '64-bit'][(v >>> 7) & 7] ?? 'reserved'; // bits 9:7

const lo32 = (q: number | bigint): number => (typeof q === 'bigint' ? Number(BigInt.asUintN(32, q)) : q >>> 0);
const hex = (v: number | bigint, digits = 0): string => '0x' + v.toString(16).padStart(digits, '0');
const bit = (v: number, b: number): boolean => ((v >>> b) & 1) === 1;
const f = (name: string, value: number | boolean | string): DecodedField => ({ name, value });

// CR access types (table 28-3, bits 5:4).
export const CR_ACCESS_MOV_TO_CR = 0, CR_ACCESS_MOV_FROM_CR = 1, CR_ACCESS_CLTS = 2, CR_ACCESS_LMSW = 3;

/** Control-register accesses (SDM vol. 3C table 28-3). */
export function decodeCrAccess(q: number | bigint): Decoded {
  const v = lo32(q);
  const cr = v & 0xf, type = (v >>> 4) & 3, lmswMem = bit(v, 6), gpr = (v >>> 8) & 0xf, lmswData = (v >>> 16) & 0xffff;
  const typeName = ['MOV to CR', 'MOV from CR', 'CLTS', 'LMSW'][type];
  const fields = [f('controlRegister', cr), f('accessType', typeName)];
  let summary: string;
  if (type === CR_ACCESS_MOV_TO_CR || type === CR_ACCESS_MOV_FROM_CR) {
    fields.push(f('register', GPR_NAMES[gpr]));
    summary = type === CR_ACCESS_MOV_TO_CR ? `mov cr${cr} <- ${GPR_NAMES[gpr]}` : `mov ${GPR_NAMES[gpr]} <- cr${cr}`;
  } else if (type === CR_ACCESS_CLTS) {
    summary = 'clts';
  } else {
    fields.push(f('lmswOperandType', lmswMem ? 'memory' : 'register'), f('lmswSourceData', lmswData));
    summary = `lmsw ${hex(lmswData, 4)} (${lmswMem ? 'memory' : 'register'} operand)`;
  }
  return { summary, fields };
}

/** MOV DR (SDM vol. 3C table 28-4). */
export function decodeMovDr(q: number | bigint): Decoded {
  const v = lo32(q);
  const dr = v & 7, fromDr = bit(v, 4), gpr = (v >>> 8) & 0xf;
  return {
    summary: fromDr ? `mov ${GPR_NAMES[gpr]} <- dr${dr}` : `mov dr${dr} <- ${GPR_NAMES[gpr]}`,
    fields: [f('debugRegister', dr), f('direction', fromDr ? 'MOV from DR' : 'MOV to DR'), f('register', GPR_NAMES[gpr])],
  };
}

/** I/O instructions (SDM vol. 3C table 28-5). */
export function decodeIoInstruction(q: number | bigint): Decoded {
  const v = lo32(q);
  const size = (v & 7) + 1, input = bit(v, 3), str = bit(v, 4), rep = bit(v, 5), imm = bit(v, 6), port = (v >>> 16) & 0xffff;
  const mnemonic = `${rep ? 'rep ' : ''}${input ? 'in' : 'out'}${str ? 's' : ''}`;
  return {
    summary: `${mnemonic} ${hex(port)}, ${size} byte${size === 1 ? '' : 's'}`,
    fields: [
      f('size', size), f('direction', input ? 'IN' : 'OUT'), f('string', str), f('rep', rep),
      f('operandEncoding', imm ? 'immediate' : 'DX'), f('port', port),
    ],
  };
}

/** EPT violations (SDM vol. 3C table 28-7). */
export function decodeEptViolation(q: number | bigint): Decoded {
  const v = lo32(q);
  const read = bit(v, 0), write = bit(v, 1), fetch = bit(v, 2);
  const r = bit(v, 3), w = bit(v, 4), x = bit(v, 5), xu = bit(v, 6), laValid = bit(v, 7), translation = bit(v, 8);
  const fields = [
    f('read', read), f('write', write), f('fetch', fetch),
    f('entryReadable', r), f('entryWritable', w), f('entryExecutable', x), f('entryUserExecutable', xu),
    f('linearAddressValid', laValid),
  ];
  if (laValid) {
    fields.push(f('linearTranslation', translation));
    // Bits 9-11 are defined only with "advanced VM-exit information for EPT violations"; we report them as stored.
    fields.push(f('userModeLinear', bit(v, 9)), f('writableLinear', bit(v, 10)), f('executeDisableLinear', bit(v, 11)));
  }
  fields.push(f('nmiUnblocking', bit(v, 12)), f('shadowStack', bit(v, 13)), f('asynchronous', bit(v, 16)));
  const access = [read && 'read', write && 'write', fetch && 'fetch'].filter(Boolean).join('+') || 'no access';
  const perms = `${r ? 'r' : '-'}${w ? 'w' : '-'}${x ? 'x' : '-'}`;
  const where = !laValid ? 'no linear address' : translation ? 'linear-address translation' : 'paging-structure access';
  return { summary: `EPT violation: ${access}, entry ${perms}, ${where}`, fields };
}

/** Debug exceptions (SDM vol. 3C table 28-1). */
export function decodeDebugExceptions(q: number | bigint): Decoded {
  const v = lo32(q);
  const names: string[] = [];
  for (let i = 0; i < 4; i++) if (bit(v, i)) names.push(`B${i}`);
  if (bit(v, 11)) names.push('BLD');
  if (bit(v, 13)) names.push('BD');
  if (bit(v, 14)) names.push('BS');
  if (bit(v, 16)) names.push('RTM');
  return {
    summary: names.length ? `#DB ${names.join(' ')}` : '#DB (no condition)',
    fields: [
      f('B0', bit(v, 0)), f('B1', bit(v, 1)), f('B2', bit(v, 2)), f('B3', bit(v, 3)),
      f('BLD', bit(v, 11)), f('BD', bit(v, 13)), f('BS', bit(v, 14)), f('RTM', bit(v, 16)),
    ],
  };
}

/** Task switch (SDM vol. 3C table 28-2). */
export function decodeTaskSwitch(q: number | bigint): Decoded {
  const v = lo32(q);
  const sel = v & 0xffff, src = (v >>> 30) & 3;
  const source = ['CALL', 'IRET', 'JMP', 'task gate in IDT'][src];
  return { summary: `task switch via ${source} to TSS ${hex(sel, 4)}`, fields: [f('selector', sel), f('source', source)] };
}

/** INVLPG (SDM vol. 3C §28.2.1): the qualification is the linear-address operand. */
export function decodeInvlpg(q: number | bigint): Decoded {
  const la = typeof q === 'bigint' ? BigInt.asUintN(64, q) : BigInt(q >>> 0);
  return { summary: `invlpg ${hex(la)}`, fields: [f('linearAddress', hex(la))] };
}

/** APIC access (SDM vol. 3C table 28-6). */
export function decodeApicAccess(q: number | bigint): Decoded {
  const v = lo32(q);
  const offset = v & 0xfff, type = (v >>> 12) & 0xf, async = bit(v, 16);
  const typeName = ({
    0: 'linear access for a data read', 1: 'linear access for a data write', 2: 'linear access for an instruction fetch',
    3: 'linear access during event delivery', 10: 'guest-physical access during event delivery',
    15: 'guest-physical access for an instruction fetch or during instruction execution',
  } as Record<number, string>)[type] ?? `reserved type ${type}`;
  const fields = [f('accessType', typeName), f('asynchronous', async)];
  const linear = type <= 3;
  if (linear) fields.unshift(f('offset', offset));
  return { summary: linear ? `APIC ${typeName} at offset ${hex(offset, 3)}` : `APIC ${typeName}`, fields };
}

function memoryOperand(v: number, fields: DecodedField[]): string {
  const scale = 1 << (v & 3), addrSize = addressSize(v), seg = SEGMENT_NAMES[(v >>> 15) & 7];
  const index = (v >>> 18) & 0xf, indexInvalid = bit(v, 22), base = (v >>> 23) & 0xf, baseInvalid = bit(v, 27);
  fields.push(f('scaling', scale), f('addressSize', addrSize), f('segment', seg),
    f('indexReg', indexInvalid ? 'none' : GPR_NAMES[index]), f('baseReg', baseInvalid ? 'none' : GPR_NAMES[base]));
  const parts: string[] = [];
  if (!baseInvalid) parts.push(GPR_NAMES[base]);
  if (!indexInvalid) parts.push(scale === 1 ? GPR_NAMES[index] : `${GPR_NAMES[index]}*${scale}`);
  parts.push('disp');
  return `${seg}:[${parts.join('+')}]`;
}

/** VM-exit instruction information for INS/OUTS (SDM vol. 3C §28.2.5, table 28-8). */
export function decodeInsOutsInfo(info: number): Decoded {
  const v = info >>> 0;
  const addrSize = addressSize(v), seg = SEGMENT_NAMES[(v >>> 15) & 7];
  return { summary: `${addrSize} address, segment ${seg}`, fields: [f('addressSize', addrSize), f('segment', seg)] };
}

/** VM-exit instruction information for INVEPT, INVPCID and INVVPID (SDM vol. 3C table 28-9). */
export function decodeInvInfo(info: number): Decoded {
  const v = info >>> 0;
  const fields: DecodedField[] = [];
  const mem = memoryOperand(v, fields);
  const reg2 = GPR_NAMES[(v >>> 28) & 0xf];
  fields.push(f('reg2', reg2));
  return { summary: `type in ${reg2}, descriptor ${mem}`, fields };
}

/** VM-exit instruction information for LIDT, LGDT, SIDT, SGDT (SDM vol. 3C table 28-10). */
export function decodeGdtrIdtrInfo(info: number): Decoded {
  const v = info >>> 0;
  const fields: DecodedField[] = [];
  const mem = memoryOperand(v, fields);
  const insn = ['sgdt', 'sidt', 'lgdt', 'lidt'][(v >>> 28) & 3];
  fields.push(f('operandSize', bit(v, 11) ? '32-bit' : '16-bit'), f('instruction', insn));
  return { summary: `${insn} ${mem}`, fields };
}

/** VM-exit instruction information for LLDT, LTR, SLDT, STR (SDM vol. 3C table 28-11). */
export function decodeLdtrTrInfo(info: number): Decoded {
  const v = info >>> 0;
  const insn = ['sldt', 'str', 'lldt', 'ltr'][(v >>> 28) & 3];
  const fields: DecodedField[] = [];
  let operand: string;
  if (bit(v, 10)) {
    operand = GPR_NAMES[(v >>> 3) & 0xf];
    fields.push(f('operand', 'register'), f('reg1', operand));
  } else {
    fields.push(f('operand', 'memory'));
    operand = memoryOperand(v, fields);
  }
  fields.push(f('instruction', insn));
  return { summary: `${insn} ${operand}`, fields };
}

/** VM-exit instruction information for VMREAD and VMWRITE (SDM vol. 3C table 28-14). */
export function decodeVmreadVmwriteInfo(info: number): Decoded {
  const v = info >>> 0;
  const fields: DecodedField[] = [];
  let operand: string;
  if (bit(v, 10)) {
    operand = GPR_NAMES[(v >>> 3) & 0xf];
    fields.push(f('operand', 'register'), f('reg1', operand));
  } else {
    fields.push(f('operand', 'memory'));
    operand = memoryOperand(v, fields);
  }
  const reg2 = GPR_NAMES[(v >>> 28) & 0xf];
  fields.push(f('reg2', reg2));
  return { summary: `field encoding in ${reg2}, value operand ${operand}`, fields };
}

/**
 * Decode the exit qualification that goes with a basic exit reason; undefined where we have no decoder. Exception
 * exits (reason 0) need the interruption information first: use decodeDebugExceptions for #DB (#PF's is the address).
 */
export function decodeExitQualification(basicReason: number, q: number | bigint): Decoded | undefined {
  switch (basicReason & 0xffff) {
    case 9: return decodeTaskSwitch(q);
    case 14: return decodeInvlpg(q);
    case 28: return decodeCrAccess(q);
    case 29: return decodeMovDr(q);
    case 30: return decodeIoInstruction(q);
    case 44: return decodeApicAccess(q);
    case 48: return decodeEptViolation(q);
    default: return undefined;
  }
}
