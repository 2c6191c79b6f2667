; A flat long-mode guest for the DAP tests: an MMIO read of an unassigned address (a hypervisor note), then HLT.
        bits 64
        org 0x100000
        mov ebx, 0xd0008000
        mov eax, [rbx]          ; nothing is mapped there: an EPT violation the hypervisor answers with all ones
        out 0xe9, al
        cli
        hlt
