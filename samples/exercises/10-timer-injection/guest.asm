; Exercise 10-timer-injection: the guest (given; do not edit). It installs a handler for vector 0x30, enables
; interrupts and executes CPUID 12 times (each one a VM exit). Nothing on the platform is programmed to
; interrupt it: the ticks must come from the hypervisor, by event injection at VM entry (VM-entry
; interruption-information field, SDM vol. 3C §25.8.3 and §27.6).

TICK_VEC equ 0x30

        bits 64
        section .text
        global _start
_start:
        ; IDT: every vector to `unexpected`, 0x30 to `tick_isr` (64-bit interrupt gates, SDM vol. 3A §6.14.1).
        xor ecx, ecx
.fill:  lea rax, [rel unexpected]
        call set_gate
        inc ecx
        cmp ecx, 64
        jne .fill
        mov ecx, TICK_VEC
        lea rax, [rel tick_isr]
        call set_gate
        lidt [rel idtr]

        xor r13d, r13d                  ; CPUIDs executed
        sti
.loop:  inc r13d
        xor eax, eax
        cpuid                           ; <- VM exit (CPUID)
        cmp r13d, 12
        jb .loop
        cli
        mov eax, [rel ticks]
        mov r12d, eax                   ; kept for the register check
        lea rsi, [rel s_total]
        call say
        xor eax, eax
        out 0xF4, al                    ; isa-debug-exit: exit code 1
        hlt

tick_isr:                               ; vector 0x30: count and report
        push rax
        push rsi
        inc dword [rel ticks]
        lea rsi, [rel s_tick]
        mov eax, r13d
        call say
        pop rsi
        pop rax
        iretq

unexpected:
        lea rsi, [rel s_unexpected]
        call puts
        mov al, 1
        out 0xF4, al                    ; exit code 3
        hlt

set_gate:                               ; IDT entry ECX → handler RAX
        push rdi
        mov rdi, rcx
        shl rdi, 4
        lea rdx, [rel idt]
        add rdi, rdx
        mov [rdi], ax
        mov dx, cs
        mov [rdi + 2], dx
        mov word [rdi + 4], 0x8e00      ; P=1, DPL=0, 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax
        shr rax, 16
        mov [rdi + 8], eax
        mov dword [rdi + 12], 0
        pop rdi
        ret
%include "print.inc"

        section .data
idtr:         dw 64 * 16 - 1
              dq idt
s_tick:       db "tick after CPUID #", 0
s_total:      db "ticks: ", 0
s_unexpected: db "unexpected exception", 10, 0

        section .bss
        alignb 16
idt:    resb 64 * 16
ticks:  resd 1
