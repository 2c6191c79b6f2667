; Exercise 05-hide-cpuid-feature: the guest (given; do not edit). It prints what CPUID tells it.
; CPUID always exits in VMX non-root operation (SDM vol. 3C §26.1.2): every answer below comes from the
; hypervisor's CPUID handler — yours, in handlers.js.

        bits 64
        section .text
        global _start
_start:
        ; CPUID.1:ECX feature bits (SDM vol. 2A, CPUID, table 3-10).
        mov eax, 1
        xor ecx, ecx
        cpuid
        mov ebx, ecx
        lea rsi, [rel s_popcnt]         ; bit 23: POPCNT
        mov eax, ebx
        shr eax, 23
        and eax, 1
        call say
        lea rsi, [rel s_cx16]           ; bit 13: CMPXCHG16B
        mov eax, ebx
        shr eax, 13
        and eax, 1
        call say
        lea rsi, [rel s_hv]             ; bit 31: "running under a hypervisor"
        mov eax, ebx
        shr eax, 31
        call say

        ; Count the bits of a value: with POPCNT if CPUID says it exists, else in software.
        mov edx, 0xF00F0001
        bt ebx, 23
        jnc .soft
        lea rsi, [rel s_hw]
        call puts
        popcnt eax, edx
        jmp .count
.soft:  lea rsi, [rel s_sw]
        call puts
        xor eax, eax
.bit:   test edx, edx
        jz .count
        mov ecx, edx
        and ecx, 1
        add eax, ecx
        shr edx, 1
        jmp .bit
.count: lea rsi, [rel s_bits]
        call say

        ; The hypervisor's leaves: 0x40000000 gives the largest one in EAX; then leaf 0x40000002.
        mov eax, 0x40000000
        cpuid
        lea rsi, [rel s_max]
        call say
        mov eax, 0x40000002
        cpuid
        lea rsi, [rel s_leaf]
        call say

        xor eax, eax
        out 0xF4, al                    ; isa-debug-exit: exit code 1
        cli
        hlt
%include "print.inc"

        section .data
s_popcnt: db "CPUID.1:ECX.POPCNT (bit 23) = ", 0
s_cx16:   db "CPUID.1:ECX.CX16 (bit 13) = ", 0
s_hv:     db "CPUID.1:ECX.HYPERVISOR (bit 31) = ", 0
s_hw:     db "counting bits with POPCNT", 10, 0
s_sw:     db "no POPCNT: counting bits in software", 10, 0
s_bits:   db "bits set in 0xf00f0001: ", 0
s_max:    db "largest hypervisor leaf: ", 0
s_leaf:   db "CPUID.40000002H:EAX = ", 0
