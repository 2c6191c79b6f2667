; Exercise 01-port-hello (reference solution): print a line through the debug console and exit through isa-debug-exit.
;
; Every OUT is a VM exit with reason 30, IO_INSTRUCTION (the hypervisor's I/O bitmaps have every bit
; set; SDM vol. 3C §26.1.3 and §25.6.4). The handler sends the byte to the device behind the port.

DEBUGCON  equ 0xE9              ; debug console: OUT writes one byte to the console
DEBUGEXIT equ 0xF4              ; isa-debug-exit: OUT of v ends the run with exit status (v << 1) | 1

        bits 64
        section .text
        global _start
_start:
        lea rsi, [rel msg]
.next:
        lodsb                   ; AL = [RSI], RSI += 1
        test al, al
        jz .done                ; the NUL terminator: the whole line is out
        out DEBUGCON, al        ; <- VM exit (IO_INSTRUCTION), one per byte
        jmp .next
.done:
        xor eax, eax
        out DEBUGEXIT, al       ; <- VM exit: the run ends with status debug-exit, exit code (0 << 1) | 1 = 1
        cli
        hlt                     ; never reached

        section .data
msg:    db "Hello from the guest!", 10, 0
