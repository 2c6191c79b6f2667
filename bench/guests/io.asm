; Port-output exit loop for the benchmark (long mode): OUT DX, AL to the debug console 0xE9 (output discarded); the iteration count is the qword at offset 8 (the bench patches it).
; Build: nasm -f bin -i bench/guests/ -o bench/guests/io.bin bench/guests/io.asm
%include "exit-loop.inc"
  mov edx, 0xE9
  mov al, '.'
.l: out dx, al
  dec r8
  jnz .l
  cli
  hlt
