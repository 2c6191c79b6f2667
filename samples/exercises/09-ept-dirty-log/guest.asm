; Exercise 09-ept-dirty-log: the guest (given; do not edit). It writes to a few pages of the buffer at
; guest-physical 0x300000..0x307FFF (identity-mapped, so virtual = guest-physical) and reads one page.
; The hypervisor logs which pages were written ("dirty logging", as KVM does for live migration): it removes
; write permission from the pages in EPT, takes the EPT violation of the first write to each page
; (SDM vol. 3C §29.3.3), logs the page, gives write access back and lets the guest retry the write.

BUF equ 0x300000

        bits 64
        section .text
        global _start
_start:
        mov ebx, BUF
        mov qword [rbx], 1              ; page 0x300000: first write → logged
        mov qword [rbx + 8], 2          ; same page again: no exit any more
        mov qword [rbx + 0x1000], 3     ; page 0x301000
        mov rax, [rbx + 0x2000]         ; page 0x302000: a read, never logged
        mov qword [rbx + 0x5ff8], 4     ; page 0x305000
        mov rax, [rbx]                  ; the writes really landed: 1 + 2 + 3 + 4
        add rax, [rbx + 8]
        add rax, [rbx + 0x1000]
        add rax, [rbx + 0x5ff8]
        lea rsi, [rel s_sum]
        call say
        xor eax, eax
        out 0xF4, al                    ; isa-debug-exit: exit code 1
        cli
        hlt
%include "print.inc"

        section .data
s_sum:  db "sum of what the guest wrote: ", 0
