; 02-port-io: port I/O under VT-x. Every IN/OUT/INS/OUTS here is a VM exit with reason 30 (IO_INSTRUCTION).
;
; The hypervisor's I/O bitmaps (VMCS fields IO_BITMAP_A/B, one bit per port) have every bit set, so
; every port access exits (SDM vol. 3C §26.1.3 "Instructions That Cause VM Exits Conditionally",
; §25.6.4 "I/O-Bitmap Addresses"). The exit qualification tells the hypervisor what the guest tried
; (SDM vol. 3C §28.2.1, table 28-5 "Exit Qualification for I/O Instructions"):
;   bits 2:0  size of access: 0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes
;   bit 3     direction: 0 = OUT, 1 = IN
;   bit 4     string instruction (INS/OUTS)
;   bit 5     REP prefix
;   bit 6     operand encoding: 0 = port in DX, 1 = immediate
;   bits 31:16 port number
; The handler then does the access on the emulated device and advances the guest's RIP.
;
; Five ways to say hello: OUT imm8 to the debug console, the COM1 16550 UART (poll LSR, write THR),
; REP OUTSB (one exit for a whole string), OUTSB without REP (one exit per byte), and accesses of
; 1, 2 and 4 bytes whose results the guest prints.

DEBUGCON   equ 0xE9             ; Bochs/QEMU debug console: OUT writes a byte, IN reads back 0xE9
COM1       equ 0x3F8            ; 16550 UART base port
UART_THR   equ COM1 + 0         ; transmit holding register (write; DLAB = 0)
UART_DLL   equ COM1 + 0         ; divisor latch low (DLAB = 1)
UART_IER   equ COM1 + 1         ; interrupt enable (DLAB = 0), divisor latch high (DLAB = 1)
UART_LCR   equ COM1 + 3         ; line control: bit 7 = DLAB, bits 1:0 = word length
UART_LSR   equ COM1 + 5         ; line status: bit 5 = THRE (transmit holding register empty)
LSR_THRE   equ 0x20
PCI_ADDR   equ 0xCF8            ; PCI configuration address (32-bit port)
PCI_DATA   equ 0xCFC            ; PCI configuration data

        bits 64
        section .text
        global _start
_start:
; ---- 1. OUT imm8, AL: one exit per byte. Qualification: size 1, OUT, not string, not REP,
;         immediate operand (bit 6), port 0xE9 -> 0x00E90040.
        lea rsi, [rel msg_out]
.next:
        lodsb
        test al, al
        jz .done
        out DEBUGCON, al                ; <- VM exit (IO_INSTRUCTION), qualification 0xe90040
        jmp .next
.done:

; ---- 2. The COM1 16550 UART. Program it (each OUT is an exit): 115200 baud (divisor 1), 8N1, no
;         interrupts. Then per byte: poll LSR until THRE = 1, then write THR: two exits per byte.
        mov dx, UART_IER
        xor al, al
        out dx, al                      ; IER = 0: no UART interrupts
        mov dx, UART_LCR
        mov al, 0x80
        out dx, al                      ; LCR.DLAB = 1: ports 0x3F8/0x3F9 become the divisor latch
        mov dx, UART_DLL
        mov al, 1
        out dx, al                      ; divisor = 1 (115200 baud)
        mov dx, UART_IER
        xor al, al
        out dx, al                      ; divisor high byte = 0
        mov dx, UART_LCR
        mov al, 0x03
        out dx, al                      ; 8 data bits, no parity, 1 stop bit; DLAB = 0
        lea rsi, [rel msg_uart]
uart_next:
        lodsb
        test al, al
        jz uart_done
        mov bl, al
        mov dx, UART_LSR
uart_wait:
        in al, dx                       ; <- VM exit: IN, port in DX (bit 6 = 0), qualification 0x3fd0008
        test al, LSR_THRE               ; transmitter ready? (the emulated UART sends at once: always 1)
        jz uart_wait
        mov dx, UART_THR
        mov al, bl
        out dx, al                      ; <- VM exit: OUT to THR, qualification 0x3f80000
        jmp uart_next
uart_done:

; ---- 3. REP OUTSB: the whole string with ONE instruction. The exit has string = 1 and rep = 1;
;         this hypervisor moves every element (up to 4096) in one exit, decrementing RCX and
;         advancing RSI as the processor would, then skips the instruction.
        lea rsi, [rel msg_rep]
        mov ecx, msg_rep_len
        mov dx, DEBUGCON
        cld
        rep outsb                       ; <- ONE VM exit for msg_rep_len bytes, qualification 0xe90030

; ---- 4. OUTSB without REP: one exit per element (string = 1, rep = 0).
        lea rsi, [rel msg_outs]
        mov ecx, msg_outs_len
outs_next:
        outsb                           ; <- VM exit per byte, qualification 0xe90010
        loop outs_next

; ---- 5. Sizes and directions. The guest prints what each access returned.
        mov dx, DEBUGCON
        in al, dx                       ; 1-byte IN: debugcon answers 0xE9 (QEMU's "readback")
        movzx eax, al
        lea rsi, [rel txt_in8]
        mov ecx, 2
        call report
        xor eax, eax
        in ax, dx                       ; 2-byte IN: debugcon is byte-wide; the access is invalid and reads 0
        movzx eax, ax
        lea rsi, [rel txt_in16]
        mov ecx, 4
        call report
        mov eax, 0x80000000             ; PCI config address: enable, bus 0, device 0, function 0, register 0
        mov dx, PCI_ADDR
        out dx, eax                     ; 4-byte OUT (size field 3)
        mov dx, PCI_DATA
        in eax, dx                      ; 4-byte IN: vendor/device ID of 00:00.0
        lea rsi, [rel txt_pci]
        mov ecx, 8
        call report

        cli
        hlt                             ; <- VM exit (HLT): the run ends

; report: print the NUL-terminated label at RSI, then EAX as ECX hex digits and '\n', as one line
; written with a single REP OUTSB (one exit per line).
report:
        lea rdi, [rel line]
.copy:
        movsb                           ; (a memory-to-memory MOVSB: no exit)
        cmp byte [rsi], 0
        jne .copy
        mov word [rdi], '0x'
        add rdi, 2
.digit:
        dec ecx
        mov edx, eax
        push rcx
        shl ecx, 2
        shr edx, cl
        pop rcx
        and edx, 15
        mov dl, [rel hexdigits + rdx]
        mov [rdi], dl
        inc rdi
        test ecx, ecx
        jnz .digit
        mov byte [rdi], 10
        inc rdi
        lea rsi, [rel line]
        mov rcx, rdi
        sub rcx, rsi                    ; RCX = line length
        mov dx, DEBUGCON
        rep outsb                       ; one VM exit for the whole line
        ret

        section .rodata
msg_out:  db "1. hello from OUT 0xE9, one exit per byte", 10, 0
msg_uart: db "2. hello from COM1: IN LSR + OUT THR per byte", 10, 0
msg_rep:  db "3. hello from REP OUTSB: the whole line in one exit", 10
msg_rep_len equ $ - msg_rep
msg_outs: db "4. hello from OUTSB, no REP", 10
msg_outs_len equ $ - msg_outs
txt_in8:  db "5. IN AL, DX from 0xE9 (1 byte)   = ", 0
txt_in16: db "   IN AX, DX from 0xE9 (2 bytes)  = ", 0
txt_pci:  db "   IN EAX from 0xCFC (PCI 00:00.0) = ", 0
hexdigits: db "0123456789abcdef"

        section .bss
line:     resb 128
