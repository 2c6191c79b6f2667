; Floppy boot sector that loads mb-integer.elf for Bochs (which has no multiboot loader): the kernel's 512-byte sector follows this one on the disk.
; Build: nasm -f bin -o bochs-boot.bin bochs-boot.asm. bench/peers.ts writes the floppy image: this sector, then the kernel.
; It reads sector 2 to 0x10000 (INT 13h AH=02h), enables A20 (port 0x92), enters 32-bit protected mode with flat segments,
; copies the ELF's first PT_LOAD (p_offset, p_filesz) to p_paddr and jumps to e_entry with EAX = 0x2BADB002 and EBX = an
; empty boot information structure, as Multiboot 0.6.96 §3.2 describes the machine state (paging off, IF clear).
bits 16
org 0x7c00
  cli
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7c00
  mov ax, 0x1000                     ; ES:BX = 0x1000:0 = 0x10000
  mov es, ax
  xor bx, bx
  mov ax, 0x0201                     ; AH=02h read, AL=1 sector
  mov cx, 0x0002                     ; cylinder 0, sector 2
  xor dh, dh                         ; head 0 (DL = the boot drive, from the BIOS)
  int 0x13
  jc fail
  in al, 0x92                        ; fast A20
  or al, 2
  and al, 0xfe
  out 0x92, al
  lgdt [gdtr]
  mov eax, cr0
  or al, 1                           ; CR0.PE
  mov cr0, eax
  jmp 0x08:pm
fail:
  hlt
  jmp fail

bits 32
pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  mov esp, 0x7c00
  mov ebx, 0x10000                   ; the ELF file
  mov eax, [ebx + 28]                ; e_phoff
  lea edx, [ebx + eax]               ; the first program header (PT_LOAD)
  mov esi, [edx + 4]                 ; p_offset
  add esi, ebx
  mov edi, [edx + 12]                ; p_paddr
  mov ecx, [edx + 16]                ; p_filesz
  cld
  rep movsb
  mov edx, [ebx + 24]                ; e_entry
  mov edi, 0x9000                    ; boot information: flags = 0 (§3.3), nothing else
  xor eax, eax
  mov ecx, 32
  rep stosb
  mov ebx, 0x9000
  mov eax, 0x2badb002
  jmp edx

align 8
gdt:
  dq 0
  dq 0x00cf9a000000ffff              ; 0x08: flat 32-bit code
  dq 0x00cf92000000ffff              ; 0x10: flat data
gdtr:
  dw gdtr - gdt - 1
  dd gdt
  times 510 - ($ - $$) db 0
  dw 0xaa55
