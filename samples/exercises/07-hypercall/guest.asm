; Exercise 07-hypercall: the guest (given; do not edit). It calls hypercall 0x100, "ADD", which your VMCALL
; handler must implement: RAX = RBX + RCX (64-bit, wrapping). VMCALL always exits (SDM vol. 3C §26.1.2);
; the ABI is vmscope's (RAX = function, RBX, RCX, RDX = arguments, result in RAX; samples/10-hypercalls).

HC_ADD equ 0x100

        bits 64
        section .text
        global _start
_start:
        lea rsi, [rel s_sum]
        mov eax, HC_ADD
        mov ebx, 2
        mov ecx, 3
        vmcall                          ; 5
        call say
        mov eax, HC_ADD
        mov ebx, 0x7fffffff
        mov ecx, 1
        vmcall                          ; 0x80000000 (no 32-bit signed overflow in 64-bit arithmetic)
        call say
        mov eax, HC_ADD
        mov rbx, 0x1111111100000000
        mov rcx, 0x2222222200000005
        vmcall                          ; 0x3333333300000005: a 64-bit result
        mov r12, rax                    ; kept for the register check
        shr rax, 32
        lea rsi, [rel s_high]
        call say
        mov eax, 3                      ; the built-in TIME hypercall must still work
        vmcall
        test rax, rax
        lea rsi, [rel s_time_ok]
        jnz .time
        lea rsi, [rel s_time_bad]
.time:  call puts
        mov eax, 2                      ; EXIT hypercall, status RBX = 0
        xor ebx, ebx
        vmcall
        cli
        hlt
%include "print.inc"

        section .data
s_sum:      db "ADD returned ", 0
s_high:     db "ADD of 64-bit values, high half: ", 0
s_time_ok:  db "TIME still works", 10, 0
s_time_bad: db "TIME returned 0", 10, 0
