; Integer-loop multiboot kernel for the peers (vmscope, QEMU TCG, v86; Bochs through bochs-boot.asm): the loop of integer.asm in 32-bit protected mode, 5 instructions per iteration.
; Build: nasm -f bin -o mb-integer.elf mb-integer.asm (the ELF32 headers are written out below, so no linker is needed).
; The iteration count is the dword at file offset 0x60 (the bench patches it). At the end the kernel writes 'D' to COM1
; (0x3F8, v86 reports it as a serial byte) and 0 to port 0xF4 (isa-debug-exit: QEMU and vmscope end with status 1; v86 stops),
; then "Shutdown" to port 0x8900 (Bochs ends), then halts.
bits 32
org 0x100000

ehdr:                                ; ELF header (System V gABI, "ELF Header"), 52 bytes
  db 0x7f, 'ELF', 1, 1, 1, 0         ; ELFCLASS32, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE
  times 8 db 0
  dw 2                               ; e_type: ET_EXEC
  dw 3                               ; e_machine: EM_386
  dd 1                               ; e_version
  dd start                           ; e_entry
  dd phdr - ehdr                     ; e_phoff
  dd 0                               ; e_shoff: no section headers
  dd 0                               ; e_flags
  dw 52                              ; e_ehsize
  dw 32                              ; e_phentsize
  dw 1                               ; e_phnum
  dw 40, 0, 0                        ; e_shentsize (sizeof Elf32_Shdr; v86 checks it), e_shnum, e_shstrndx
phdr:                                ; one PT_LOAD: the whole file at 1 MiB
  dd 1                               ; p_type: PT_LOAD
  dd 0                               ; p_offset
  dd ehdr                            ; p_vaddr
  dd ehdr                            ; p_paddr
  dd file_end - ehdr                 ; p_filesz
  dd file_end - ehdr                 ; p_memsz
  dd 5                               ; p_flags: R+X
  dd 0x1000                          ; p_align
  align 4, db 0
mbhdr:                               ; Multiboot 0.6.96 §3.1.1: magic, flags (none required), checksum
  dd 0x1badb002
  dd 0
  dd -(0x1badb002 + 0)
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
