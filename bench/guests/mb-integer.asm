; Integer-loop multiboot kernel for the peers (vmscope, QEMU TCG, v86; Bochs through bochs-boot.asm): the loop of integer.asm in 32-bit protected mode, 5 instructions per iteration.
; Build: nasm -f bin -i bench/guests/ -o mb-integer.elf mb-integer.asm (ELF32 headers from mb-elf32.inc, so no linker is needed).
; The iteration count is the dword at file offset 0x60 (the bench patches it). At the end the kernel writes 'D' to COM1
; (0x3F8, v86 reports it as a serial byte) and 0 to port 0xF4 (isa-debug-exit: QEMU and vmscope end with status 1; v86 stops),
; then "Shutdown" to port 0x8900 (Bochs ends), then halts.
%include "mb-elf32.inc"
  times 0x60 - ($ - $$) db 0         ; (assembly fails here if the headers grow past 0x60)
count: dd 10000000
start:
  mov ecx, [count]
  xor eax, eax
  xor edx, edx
.l: add eax, ecx
  xor edx, eax
  rol edx, 3
  sub ecx, 1
  jnz .l
  mov dx, 0x3f8
  mov al, 'D'
  out dx, al
  mov dx, 0xf4
  xor eax, eax
  out dx, al
  mov dx, 0x8900                     ; Bochs ends on the string "Shutdown" written to port 0x8900 (the others stopped at 0xF4)
  mov esi, shutdown
  mov ecx, 8
  rep outsb
.h: cli
  hlt
  jmp .h
shutdown: db 'Shutdown'
file_end:
