; Port-I/O pattern guest (flat, MODE=16|32|64): IN/OUT imm8 and DX, INS/OUTS single and REP (DF=0 and DF=1) of sizes 1/2/4, platform device reads, a UART session; folds every value read into registers; ends with CLI; HLT.
%if MODE == 16
        org 0x7C00
  BUF equ 0                     ; ES:0 with ES = 0x2000 (physical 0x20000)
%else
        org 0x100000
  BUF equ 0x20000
%endif
        bits MODE

DEBUGCON equ 0xE9
DEBUG_EXIT equ 0xF4
COM1 equ 0x3F8
NOBODY equ 0x80                 ; no device on vmscope's platform: reads all ones (SDM vol. 1 §19.3; ISA bus floats high)
NOBODY_DX equ 0x1234
BIG equ 6000                    ; REP INSB across page boundaries: KVM groups it, the comparison expands it

; fold: mix the value just read (EAX) into EBP, so the final registers depend on every read
%macro fold 0
        rol ebp, 5
        xor ebp, eax
%endmacro

start:
        cld
        xor ebp, ebp
%if MODE == 16
        mov ax, 0x2000
        mov es, ax
%endif
        ; ---- OUT imm8 and DX, sizes 1/2/4 (SDM vol. 2B "OUT")
        mov eax, 0x11223344
        out NOBODY, al
        out NOBODY, ax
        out NOBODY, eax
        mov dx, NOBODY_DX
        out dx, al
        out dx, ax
        out dx, eax
        ; ---- IN imm8 and DX, sizes 1/2/4 (SDM vol. 2A "IN")
        xor eax, eax
        in al, NOBODY
        fold
        in ax, NOBODY
        fold
        in eax, NOBODY
        fold
        in al, dx
        fold
        in ax, dx
        fold
        in eax, dx
        fold
        ; ---- platform devices: debugcon readback (1 byte only), debug-exit reads 0, routing by the first port
        xor eax, eax
        in al, DEBUGCON
        fold
        in ax, DEBUGCON
        fold
        mov dx, DEBUGCON
        in eax, dx
        fold
        mov dx, DEBUGCON - 1    ; a 2-byte read starting at an unassigned port
        in ax, dx
        fold
        in al, DEBUG_EXIT
        fold
        in ax, DEBUG_EXIT + 1
        fold
        in eax, DEBUG_EXIT + 2
        fold
        out DEBUGCON, ax        ; a 2-byte debugcon write is dropped (only its event is seen)
        ; ---- 16550A UART on COM1: 115200 8N1, FIFOs on, registers read back (PC16550D table II)
        mov dx, COM1 + 3
        mov al, 0x80            ; LCR.DLAB
        out dx, al
        mov dx, COM1
        mov al, 1               ; DLL
        out dx, al
        inc dx
        mov al, 0               ; DLM
        out dx, al
        mov dx, COM1
        in al, dx               ; DLL while DLAB = 1
        fold
        mov dx, COM1 + 3
        mov al, 0x03            ; 8N1, DLAB = 0
        out dx, al
        mov dx, COM1 + 2
        mov al, 0xC7            ; FCR: enable, clear RX/TX, trigger 14
        out dx, al
        mov dx, COM1 + 4
        mov al, 0x0B            ; MCR: DTR RTS OUT2
        out dx, al
        mov dx, COM1 + 7
        mov al, 0x5A            ; SCR
        out dx, al
        mov dx, COM1
.regs:  in al, dx               ; RBR IER IIR LCR MCR LSR MSR SCR
        fold
        inc dx
        cmp dx, COM1 + 8
        jne .regs
        mov dx, COM1 + 1
        mov al, 0x02            ; IER.ETBEI: THR empty raises the THRE interrupt
        out dx, al
        inc dx
        in al, dx               ; IIR: THRE (reading it clears it)
        fold
        in al, dx               ; IIR: none
        fold
        mov dx, COM1 + 4
        in eax, dx              ; MCR LSR MSR SCR in one 4-byte access (split into bytes)
        fold
        mov dx, COM1 + 7
        in ax, dx               ; SCR and the byte past the last register
        fold
        mov dx, COM1 + 6
        mov ax, 0xA55A
        out dx, ax              ; MSR (ignored) and SCR = 0xA5
        mov dx, COM1 + 7
        in al, dx
        fold
        mov esi, uart_msg
.tx:    mov dx, COM1 + 5
.poll:  in al, dx               ; LSR.THRE
        test al, 0x20
        jz .poll
        mov dx, COM1
        mov al, [esi]
        out dx, al
        inc esi
        cmp esi, uart_msg_end
        jne .tx
        ; ---- string output (SDM vol. 2B "OUTS"): single, REP, sizes 1/2/4, forwards and backwards
        mov esi, msg
        mov dx, DEBUGCON
        outsb
        mov ecx, msg_end - msg - 1
        rep outsb
        mov dx, NOBODY_DX
        mov esi, words
        mov ecx, 8
        rep outsw
        mov esi, words
        mov ecx, 4
        rep outsd
        outsd
        std
        mov esi, words + 12
        mov ecx, 4
        rep outsd
        mov esi, words + 14
        mov ecx, 3
        rep outsw
        cld
        ; ---- string input (SDM vol. 2A "INS") into BUF: ones, debugcon readback, UART registers
        mov edi, BUF
        mov dx, NOBODY_DX
        insb
        mov ecx, 7
        rep insb
        mov ecx, 4
        rep insw
        mov ecx, 4
        rep insd
        mov dx, DEBUGCON
        mov ecx, 16
        rep insb
        mov dx, COM1 + 4
        mov ecx, 4
        rep insw                ; MCR|LSR, four times
        std
        mov edi, BUF + 0x100
        mov ecx, 3
        rep insd                ; MCR LSR MSR SCR, backwards
        cld
        mov edi, BUF + 0x200
        mov dx, NOBODY_DX
        mov ecx, BIG
        rep insb
        ; ---- checksums: this code's bytes (ECX), the input buffer (EBX)
        xor ebx, ebx
        xor ecx, ecx
        mov esi, start
.sum:   movzx eax, byte [esi]
        add ecx, eax
        rol ecx, 1
        inc esi
        cmp esi, code_end
        jne .sum
%if MODE == 16
        mov ax, 0x2000
        mov ds, ax
%endif
        mov esi, BUF
.sum2:  mov eax, [esi]
        add ebx, eax
        rol ebx, 3
        add esi, 4
        cmp esi, BUF + 0x200 + BIG
        jb .sum2
%if MODE == 64
        mov r8, rbx
        shl r8, 32
        or r8, rbp
        mov r9, 0x0123456789ABCDEF
        xor r9, r8
%endif
        mov eax, ebp
        cli
        hlt
        jmp $-1
code_end:

msg:    db 'string I/O', 10
msg_end:
uart_msg: db 'uart', 10
uart_msg_end:
        align 4
words:  dw 0x0101, 0x0202, 0x0303, 0x0404, 0x0505, 0x0606, 0x0707, 0x0808
