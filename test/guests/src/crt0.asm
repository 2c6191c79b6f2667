; C runtime start for flat/ELF test guests (MODE=32|64): own stack, zeroed .bss, call main, exit through port 0xF4 with its result.
%include "common.inc"
        bits MODE
        extern main
        extern __bss_start, _end
        global _start

        section .text
_start:
        cli
        cld
%if MODE == 32
        mov esp, stack_top
        mov edi, __bss_start    ; zero .bss (a flat image has none of it)
        mov ecx, _end
        sub ecx, edi
        xor eax, eax
        rep stosb
        mov esp, stack_top      ; stack_top is in .bss but below this point nothing was pushed
        call main
%else
        mov rsp, stack_top
        mov rdi, __bss_start
        mov rcx, _end
        sub rcx, rdi
        xor eax, eax
        rep stosb
        call main
%endif
        out DEBUG_EXIT, al      ; exit code (main's result<<1)|1
        cli
        hlt
        jmp $-1

        section .bss
        alignb 16
        resb 16384
stack_top:
