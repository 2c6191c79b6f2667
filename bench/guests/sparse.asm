; Sparse-memory multiboot kernel for memory.sparse4GiBMiB: writes one byte in every 4 KiB page of the 16 MiB from 16 MiB to 32 MiB, then exits.
; Build: nasm -f bin -o sparse.elf sparse.asm (the ELF32 headers are written out below, so no linker is needed).
; Run with a large guest RAM (vmscope run sparse.elf --memory 4096): only the touched pages should cost host memory.
; At the end it writes 0 to port 0xF4 (isa-debug-exit: vmscope ends with status 1), then halts.
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
