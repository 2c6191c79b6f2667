; CPUID exit loop for the benchmark (long mode): the iteration count is the qword at offset 8 (the bench patches it); every CPUID is a VM exit.
; Build: nasm -f bin -i bench/guests/ -o bench/guests/cpuid.bin bench/guests/cpuid.asm
%include "exit-loop.inc"
.l: xor eax, eax
  xor ecx, ecx
  cpuid
  dec r8
  jnz .l
  cli
  hlt
