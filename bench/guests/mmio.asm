; MMIO-read exit loop for `npm run bench:instructions -- mmio` (long mode): each MOV reads the local APIC's version register (xAPIC MMIO at 0xFEE00030), an EPT violation the hypervisor emulates; the iteration count is the qword at offset 8.
bits 64
org 0x100000
  jmp short start
  align 8
count: dq 100000
start:
  mov r8, [rel count]
  mov rsi, 0xFEE00030
.l: mov eax, [rsi]
  dec r8
  jnz .l
  cli
  hlt
