; Integer loop for the benchmark: ALU, rotate and a conditional branch, 5 instructions per iteration.
bits 64
org 0x100000
  mov ecx, 10000000
  xor eax, eax
  xor edx, edx
.l: add eax, ecx
  xor edx, eax
  rol edx, 3
  sub ecx, 1
  jnz .l
  cli
  hlt
