; A guest for the DAP tests: a CPUID exit whose result it prints, a call with a frame, a long tight loop, a data write, HLT.
        bits 64
        section .text
        global _start, compute, spin

_start:
        mov eax, 0x40000000     ; hypervisor leaf: EAX = highest hypervisor leaf (0x40000001)
        cpuid
        out 0xe9, al            ; prints AL of the CPUID result (0x01 unless a debugger changed RAX)
        mov al, 'A'
        out 0xe9, al
        call compute
        out 0xe9, al            ; prints compute's result
        mov al, 10
        out 0xe9, al
        mov rcx, [rel spins]
spin:
        dec rcx                 ; the tight loop: `pause` must answer within 100 ms
        jnz spin
        mov qword [rel counter], 7
        mov al, 'Z'
        out 0xe9, al
        cli
        hlt

compute:
        push rbp
        mov rbp, rsp
        mov al, 'B'
        pop rbp
        ret

        section .data
spins:  dq 4000000000
counter: dq 0
