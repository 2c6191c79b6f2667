; Port-output exit loop for the benchmark (long mode): OUT DX, AL to the debug console 0xE9 (output discarded); the iteration count is the qword at offset 8 (the bench patches it).
bits 64
org 0x100000
  jmp short start
  align 8
count: dq 100000
start:
  mov r8, [rel count]
  mov edx, 0xE9
  mov al, '.'
.l: out dx, al
  dec r8
  jnz .l
  cli
  hlt
