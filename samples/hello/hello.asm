; vmscope's first sample: a 64-bit ELF guest that writes "Hello, world!" to the debug console, one byte per OUT.
;
; Build: node scripts/build-samples.mjs   (nasm -f elf64 -g -F dwarf, ld -Ttext 0x100000)
; The machine starts an ELF64 image in long mode at _start (see README.md).

DEBUGCON equ 0xE9               ; port 0xE9: the Bochs/QEMU debug console, one byte per OUT

        bits 64
        section .text
        global _start
_start:
        mov al, 'H'
        out DEBUGCON, al
        mov al, 'e'
        out DEBUGCON, al
        mov al, 'l'
        out DEBUGCON, al
        mov al, 'l'
        out DEBUGCON, al
        mov al, 'o'
        out DEBUGCON, al
        mov al, ','
        out DEBUGCON, al
        mov al, ' '
        out DEBUGCON, al
        mov al, 'w'
        out DEBUGCON, al
        mov al, 'o'
        out DEBUGCON, al
        mov al, 'r'
        out DEBUGCON, al
        mov al, 'l'
        out DEBUGCON, al
        mov al, 'd'
        out DEBUGCON, al
        mov al, '!'
        out DEBUGCON, al
        mov al, 10              ; '\n'
        out DEBUGCON, al
        cli                     ; interrupts off, so HLT ends the run
        hlt
