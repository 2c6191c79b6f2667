; Exercise 01-port-hello: print a line through the debug console and exit through isa-debug-exit.
;
; Every OUT is a VM exit with reason 30, IO_INSTRUCTION (the hypervisor's I/O bitmaps have every bit
; set; SDM vol. 3C §26.1.3 and §25.6.4). The handler sends the byte to the device behind the port.
; Read samples/02-port-io/port-io.asm first.

DEBUGCON  equ 0xE9              ; debug console: OUT writes one byte to the console
DEBUGEXIT equ 0xF4              ; isa-debug-exit: OUT of v ends the run with exit status (v << 1) | 1

        bits 64
        section .text
        global _start
_start:
        lea rsi, [rel msg]

        ; TODO 1: print the NUL-terminated string at RSI, one byte at a time, with OUT DEBUGCON, AL.
        ;         (LODSB loads AL from [RSI] and advances RSI.)

        ; TODO 2: end the run through port DEBUGEXIT so that the exit code is 1.

        cli
        hlt                     ; the run ends here as "halted" until you do TODO 2

        section .data
msg:    db "Hello from the guest!", 10, 0
