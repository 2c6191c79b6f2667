; A VM exit a million instructions away (long mode): 500 000 iterations of DEC/JNZ, then CPUID (the exit), then HLT.
bits 64
org 0x100000
  mov ecx, 500000
.l: dec ecx
  jnz .l
  xor eax, eax
  cpuid
  cli
  hlt
