; A guest that ends through isa-debug-exit from the exit fastpath: CPUID (its entry is quiet), then OUT 0xF4, which
; the fastpath takes (any port) and whose device ends the run. 32-bit protected mode without paging, flat at 0x100000.
bits 32
org 0x100000

start:
    xor eax, eax
    cpuid
    mov al, 'k'
    out 0xe9, al
    mov al, 3
    out 0xf4, al                ; isa-debug-exit: exit code (3 << 1) | 1 = 7
    hlt
