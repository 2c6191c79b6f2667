; CPUID exit loop for the benchmark (long mode): the iteration count is the qword at offset 8 (the bench patches it); every CPUID is a VM exit.
bits 64
org 0x100000
  jmp short start
  align 8
count: dq 100000
start:
  mov r8, [rel count]
.l: xor eax, eax
  xor ecx, ecx
  cpuid
  dec r8
  jnz .l
  cli
  hlt
