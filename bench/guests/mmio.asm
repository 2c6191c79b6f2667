; MMIO-read exit loop for `npm run bench:instructions -- mmio` (long mode): each MOV reads the local APIC's version register (xAPIC MMIO at 0xFEE00030), an EPT violation the hypervisor emulates; the iteration count is the qword at offset 8.
; Build: nasm -f bin -i bench/guests/ -o bench/guests/mmio.bin bench/guests/mmio.asm
%include "exit-loop.inc"
  mov rsi, 0xFEE00030
.l: mov eax, [rsi]
  dec r8
  jnz .l
  cli
  hlt
