; Sparse-memory multiboot kernel for memory.sparse4GiBMiB: writes one byte in every 4 KiB page of the 16 MiB from 16 MiB to 32 MiB, then exits.
; Build: nasm -f bin -i bench/guests/ -o sparse.elf sparse.asm (ELF32 headers from mb-elf32.inc, so no linker is needed).
; Run with a large guest RAM (vmscope run sparse.elf --memory 4096): only the touched pages should cost host memory.
; At the end it writes 0 to port 0xF4 (isa-debug-exit: vmscope ends with status 1), then halts.
%include "mb-elf32.inc"
start:
  mov edi, 0x1000000                 ; 16 MiB (paging is off at multiboot entry, §3.2: physical = linear)
  mov ecx, 4096                      ; 16 MiB / 4 KiB pages
.l: mov byte [edi], 0xa5
  add edi, 4096
  dec ecx
  jnz .l
  mov dx, 0xf4
  xor eax, eax
  out dx, al
.h: cli
  hlt
  jmp .h
file_end:
