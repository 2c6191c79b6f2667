; Hello guest: prints "Hello, world!\n" with exactly 14 OUT 0xE9 (one per byte), then CLI; HLT. MODE=16|32|64, ELF=0|1.
%include "common.inc"

%ifndef ELF
  %define ELF 0
%endif

%if ELF
        bits MODE
        section .text
        global _start
_start:
%else
  %if MODE == 16
        org 0x7C00              ; the flat real-mode load address (and a BIOS boot sector)
  %else
        org 0x100000            ; the flat protected/long-mode load address
  %endif
        bits MODE
_start:
%endif
        puts `Hello, world!\n`
        cli
        hlt                     ; HLT with IF=0: the run ends ('halted')
        jmp $-1                 ; (a real CPU leaves HLT on NMI/SMI: stay halted)

%if ELF == 0 && MODE == 16
        times 510-($-$$) db 0   ; boot signature so QEMU can boot the same image from a floppy
        dw 0xAA55
%endif
