; Real-mode exception guest (flat at 0x7C00, also a boot sector): IVT handlers for #DE (÷0 and overflow), #UD, #BP and INT n print vector and saved CS:IP.
%include "common.inc"
        bits 16
        global _start, fault_de, fault_de2, fault_ud, fault_bp, fault_int

%macro arm 1
        mov word [resume_ip], %1
        mov [resume_sp], sp
%endmacro
%macro vec 2                    ; IVT entry (SDM vol. 3A §21.1.4, fig. 21-2): offset, then segment 0
        mov word [%1 * 4], %2
        mov word [%1 * 4 + 2], 0
%endmacro

        section .text
_start:
        cli
        cld
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7000
        jmp 0:.cs               ; CS=0 also under a BIOS that enters at 07C0:0000
.cs:    puts `exceptions, real mode\n`
        vec 0, stub0
        vec 3, stub3
        vec 6, stub6
        vec 0x30, stub30

        arm r_de
        xor cl, cl
        mov ax, 1
fault_de:
        div cl                  ; #DE: divide by zero (fault: saved IP = the DIV)
r_de:
        arm r_de2
        mov ax, 0x1000
        mov cl, 1
fault_de2:
        div cl                  ; #DE: quotient 0x1000 does not fit AL
r_de2:
        arm r_ud
fault_ud:
        ud2
r_ud:
        arm r_bp
fault_bp:
        int3                    ; trap: saved IP = next instruction
r_bp:
        arm r_int
fault_int:
        int 0x30
r_int:
        puts `all exceptions handled\n`
        exit_with 0
        cli
        hlt

stub0:  push 0
        jmp exc_common
stub3:  push 3
        jmp exc_common
stub6:  push 6
        jmp exc_common
stub30: push 0x30
; frame: [sp]=vector [2]=IP [4]=CS [6]=FLAGS (SDM vol. 3A §21.1.4)
exc_common:
        mov bp, sp
        puts "vector="
        mov ax, [bp]
        mov cx, 2
        call print_hex
        puts " ip="
        mov ax, [bp + 2]
        mov cx, 4
        call print_hex
        puts " cs="
        mov ax, [bp + 4]
        mov cx, 4
        call print_hex
        putc 10
        mov sp, [resume_sp]
        pushf
        push 0
        push word [resume_ip]
        iret

print_hex:                      ; AX in CX hex digits
        mov dx, ax
.d:     mov ax, dx
        push cx
        dec cx
        shl cx, 2
        shr ax, cl
        pop cx
        and al, 15
        cmp al, 10
        jb .dig
        add al, 'a' - '0' - 10
.dig:   add al, '0'
        out DEBUGCON, al
        loop .d
        ret

resume_ip: dw 0
resume_sp: dw 0
        times 510 - ($ - $$) db 0
        dw 0xAA55
