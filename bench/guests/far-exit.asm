; A VM exit 100 million instructions away (long mode): 50 000 000 iterations of DEC/JNZ, then CPUID (the exit), then HLT.
; (It was a million; translated code runs that in about a millisecond, too short to measure breakpoint overhead.)
bits 64
org 0x100000
  mov ecx, 50000000
.l: dec ecx
  jnz .l
  xor eax, eax
  cpuid
  cli
  hlt
