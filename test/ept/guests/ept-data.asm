; EPT violation guest: reads a page the hypervisor's EPT maps read-only, then writes it through an alias (linear 0x7FE00000 -> guest-physical 0x400000).
bits 64
org 0x100000
start:
    mov rax, [0x400010]              ; a read through the read-only EPT mapping succeeds
    mov rcx, 0x1122334455667788      ; the test placed this value at guest-physical 0x400010
    cmp rax, rcx
    jne fail
    ; Map linear 0x7FE00000 to guest-physical 0x400000: PDE 511 of the second GiB's page directory (0xD000), 2 MiB page.
    mov qword [0xD000 + 511*8], 0x400000 | 0x83
    invlpg [0x7FE00000]
    mov qword [0x7FE00010], 0x5a5a   ; EPT violation: a write to a read-only guest-physical page
    mov rax, [0x400010]
    cmp rax, rcx                     ; the write never reached memory
    jne fail
    mov al, 0x10
    out 0xf4, al
fail:
    mov al, 0x20
    out 0xf4, al
