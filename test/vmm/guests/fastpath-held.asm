; A CPUID loop that switches CR3 between two copies of its top-level page table before each CPUID: every exit the
; fastpath takes follows a change of held state (CR3), so the entry after it is not the mode switch alone
; (Vmx.resumeQuiet declines) and goes the full way, with the VM-entry checks. Long mode, flat at 0x100000; prints 'h'
; and exits through isa-debug-exit with code 0 (exit status 1).
bits 64
org 0x100000

start:
    mov rax, cr3
    mov r12, rax                ; the loader's PML4
    mov rsi, r12
    and rsi, ~0xfff
    mov rdi, 0x300000
    mov rcx, 512
    rep movsq                   ; a copy of it at 0x300000
    mov r13, 0x300000
    mov r8, 2000
.l: mov cr3, r13
    xor eax, eax
    cpuid
    mov cr3, r12
    xor eax, eax
    cpuid
    dec r8
    jnz .l
    mov al, 'h'
    out 0xe9, al
    xor eax, eax
    out 0xf4, al
    hlt
