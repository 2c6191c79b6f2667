; Memory-copy loop for the benchmark: 64 KiB copied 8 bytes at a time, repeated; 6 instructions per 8 bytes.
bits 64
org 0x100000
  mov r8d, 200
.outer:
  mov esi, 0x200000
  mov edi, 0x300000
  mov ecx, 8192
.l: mov rax, [rsi]
  mov [rdi], rax
  add rsi, 8
  add rdi, 8
  dec ecx
  jnz .l
  dec r8d
  jnz .outer
  cli
  hlt
