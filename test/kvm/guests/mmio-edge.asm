; MMIO edge guest (flat, MODE=32): 2- and 4-byte accesses that straddle the end of 64 MiB of RAM (half RAM, half MMIO); ends with CLI; HLT.
        org 0x100000
        bits 32
RAM_END equ 0x04000000
start:
        mov dword [RAM_END - 2], 0x11223344 ; low half to RAM, high half to MMIO
        mov word [RAM_END - 1], 0x5566      ; low byte to RAM, high byte to MMIO
        mov eax, [RAM_END - 4]              ; all RAM: what the two writes left there
        mov ebx, [RAM_END - 2]              ; straddling read
        movzx ecx, word [RAM_END - 1]       ; straddling read
        cli
        hlt
        jmp $-1
