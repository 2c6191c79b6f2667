; Two-dimensional walk guest: reads linear 0x40005008, whose page table (set up by the test at guest-physical 0x5FF000) EPT does not map at first.
bits 64
org 0x100000
    mov rax, [0x40005008]
    mov rcx, 0xcafef00d12345678      ; the test placed this at guest-physical 0x300008
    cmp rax, rcx
    jne fail
    mov al, 0x11
    out 0xf4, al
fail:
    mov al, 0x22
    out 0xf4, al
