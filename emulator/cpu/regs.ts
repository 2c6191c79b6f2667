// Architectural constants of the x86 processor: RFLAGS, CR0/CR4/EFER bits, MSR numbers, exception vectors (SDM vol. 3A).

// RFLAGS (SDM vol. 1 §3.4.3)
export const CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9,
  DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18,
  VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
/** The six status flags. */
export const STATUS_FLAGS = CF | PF | AF | ZF | SF | OF;
/** Bit 1 of RFLAGS always reads 1. */
export const FLAGS_FIXED1 = 1 << 1;

// CR0 (SDM vol. 3A §2.5)
export const CR0_PE = 1 << 0, CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_ET = 1 << 4, CR0_NE = 1 << 5,
  CR0_WP = 1 << 16, CR0_AM = 1 << 18, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 1 << 31;
// CR4
export const CR4_VME = 1 << 0, CR4_PVI = 1 << 1, CR4_TSD = 1 << 2, CR4_DE = 1 << 3, CR4_PSE = 1 << 4, CR4_PAE = 1 << 5,
  CR4_MCE = 1 << 6, CR4_PGE = 1 << 7, CR4_PCE = 1 << 8, CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10,
  CR4_UMIP = 1 << 11, CR4_VMXE = 1 << 13, CR4_FSGSBASE = 1 << 16, CR4_PCIDE = 1 << 17, CR4_OSXSAVE = 1 << 18,
  CR4_SMEP = 1 << 20, CR4_SMAP = 1 << 21;
/** CR4 bits this processor model implements; setting any other bit is #GP(0). */
export const CR4_SUPPORTED = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE |
  CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP | CR4_VMXE | CR4_FSGSBASE | CR4_OSXSAVE;

// IA32_EFER (SDM vol. 3A §2.2.1)
export const EFER_SCE = 1 << 0, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;

// MSR numbers (SDM vol. 4, table 2-2)
export const MSR_IA32_TSC = 0x10, MSR_IA32_APIC_BASE = 0x1b, MSR_IA32_FEATURE_CONTROL = 0x3a,
  MSR_IA32_TSC_ADJUST = 0x3b, MSR_IA32_SYSENTER_CS = 0x174, MSR_IA32_SYSENTER_ESP = 0x175,
  MSR_IA32_SYSENTER_EIP = 0x176, MSR_IA32_MISC_ENABLE = 0x1a0, MSR_IA32_PAT = 0x277,
  MSR_IA32_TSC_DEADLINE = 0x6e0, MSR_IA32_EFER = 0xc0000080, MSR_IA32_STAR = 0xc0000081,
  MSR_IA32_LSTAR = 0xc0000082, MSR_IA32_CSTAR = 0xc0000083, MSR_IA32_FMASK = 0xc0000084,
  MSR_IA32_FS_BASE = 0xc0000100, MSR_IA32_GS_BASE = 0xc0000101, MSR_IA32_KERNEL_GS_BASE = 0xc0000102,
  MSR_IA32_TSC_AUX = 0xc0000103, MSR_IA32_MTRRCAP = 0xfe, MSR_IA32_MTRR_DEF_TYPE = 0x2ff;

// Exception vectors (SDM vol. 3A §6.3.1, table 6-1)
export const EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6, EXC_NM = 7,
  EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17,
  EXC_MC = 18, EXC_XM = 19;

export const EXCEPTION_MNEMONICS: readonly string[] = [
  '#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'CSO', '#TS', '#NP', '#SS', '#GP', '#PF', '(15)',
  '#MF', '#AC', '#MC', '#XM', '#VE', '#CP',
];

/** Exceptions that push an error code (SDM vol. 3A table 6-1). */
export function exceptionHasErrorCode(vector: number): boolean {
  return vector === EXC_DF || (vector >= EXC_TS && vector <= EXC_PF) || vector === EXC_AC || vector === 21;
}

/** Class of an exception for double-fault decisions (SDM vol. 3A §6.15, table 6-5). */
export function exceptionClass(vector: number): 'benign' | 'contributory' | 'pagefault' {
  if (vector === EXC_PF) return 'pagefault';
  if (vector === EXC_DE || (vector >= EXC_TS && vector <= EXC_GP)) return 'contributory';
  return 'benign';
}

/** Whether exception `second`, met while delivering exception `first`, makes a double fault (SDM vol. 3A §6.15, table 6-5). */
export function makesDoubleFault(first: number, second: number): boolean {
  const a = exceptionClass(first), b = exceptionClass(second);
  return (a === 'contributory' && b === 'contributory') || (a === 'pagefault' && b !== 'benign');
}

/** Segment access rights in the VMCS access-rights layout (SDM vol. 3C §25.4.1): also our descriptor-cache format. */
export const AR_TYPE_MASK = 0xf, AR_S = 1 << 4, AR_DPL_SHIFT = 5, AR_P = 1 << 7, AR_AVL = 1 << 12, AR_L = 1 << 13,
  AR_DB = 1 << 14, AR_G = 1 << 15, AR_UNUSABLE = 1 << 16;
