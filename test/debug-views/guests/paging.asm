; Views guest: switches to the 4-level page tables the test built at guest-physical 0x200000, then loops on port writes.
bits 64
org 0x100000
start:
    mov rax, 0x200000
    mov cr3, rax
.loop:
    out 0x80, al
    jmp .loop
