; Exercise 06-port-device: the guest (given; do not edit). It talks to a counter device at port 0x700
; that does not exist on the platform: your IO_INSTRUCTION handler must emulate it.
;   OUT 0x700 (32-bit): set the counter.   IN 0x700 (32-bit): read the counter, which then increments.
; Every IN/OUT exits (I/O bitmaps all ones, SDM vol. 3C §26.1.3); the qualification says which port,
; which direction and what size (SDM vol. 3C §28.2.1, table 28-5).

COUNTER equ 0x700

        bits 64
        section .text
        global _start
_start:
        mov dx, COUNTER
        mov eax, 40
        out dx, eax                     ; counter = 40
        lea rsi, [rel s_read]
        in eax, dx                      ; 40 (then 41)
        call say
        in eax, dx                      ; 41
        call say
        in eax, dx                      ; 42
        call say
        mov eax, 0x1000
        out dx, eax                     ; counter = 0x1000
        in eax, dx
        mov r12d, eax                   ; kept for the register check: 0x1000
        call say
        mov al, 0x55                    ; the debug console still works: other ports go to next()
        out 0xE9, al
        mov al, 10
        out 0xE9, al
        xor eax, eax
        out 0xF4, al                    ; isa-debug-exit: exit code 1
        cli
        hlt
%include "print.inc"

        section .data
s_read:   db "counter: ", 0
