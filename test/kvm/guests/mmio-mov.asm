; MMIO MOV guest (flat, MODE=16|32|64): every MOV form a hypervisor's MMIO emulator must handle (r/m<-r, r<-r/m, imm, moffs, MOVZX/MOVSX, high-byte and REX registers, 8 bytes in long mode) above the end of RAM; folds every value read; ends with CLI; HLT.
; RAM is 64 MiB in protected/long mode (MMIO at 0x04000000), 1 MiB in real mode (MMIO at FFFF:0010 = 0x100000).
%if MODE == 16
        org 0x7C00
%else
        org 0x100000
%endif
        bits MODE

%macro fold 0
        rol ebp, 9
        xor ebp, eax
%endmacro

start:
        cld
        xor ebp, ebp
%if MODE == 16
        mov ax, 0xFFFF
        mov fs, ax
  %define M(x) fs:0x10 + (x)
%else
  %define M(x) 0x04000000 + (x)
%endif
        ; ---- writes: MOV r/m, imm (C6/C7) and MOV r/m, r (88/89) of 1/2/4 bytes (SDM vol. 2B "MOV")
        mov byte [M(0)], 0x11
        mov word [M(2)], 0x2233
        mov dword [M(4)], 0x44556677
        mov eax, 0x89ABCDEF
        mov ebx, 0x10203040
        mov [M(8)], al
        mov [M(9)], ah          ; high-byte register (no REX)
        mov [M(10)], ax
        mov [M(12)], eax
        mov [M(0x11)], bh
        mov [M(0x13)], ebx      ; unaligned
        ; ---- moffs forms (A0-A3)
%if MODE == 16
        mov [fs:0x10 + 0x20], al
        mov [fs:0x10 + 0x22], ax
        mov al, [fs:0x10 + 0x24]
        fold
        mov ax, [fs:0x10 + 0x26]
        fold
%elif MODE == 32
        mov [0x04000020], al
        mov [0x04000022], eax
        mov al, [0x04000024]
        fold
        mov eax, [0x04000026]
        fold
%else
        mov [qword 0x04000020], al
        mov [qword 0x04000022], eax
        mov al, [qword 0x04000024]
        fold
        mov eax, [qword 0x04000026]
        fold
%endif
        ; ---- reads: MOV r, r/m (8A/8B), MOVZX/MOVSX (0F B6/B7/BE/BF)
        xor eax, eax
        mov al, [M(0x30)]
        fold
        mov ah, [M(0x31)]
        fold
        mov ax, [M(0x32)]
        fold
        mov eax, [M(0x35)]
        fold
        mov ecx, 0x12345678
        mov cl, [M(0x3A)]
        mov eax, ecx
        fold
        movzx eax, byte [M(0x40)]
        fold
        movzx eax, word [M(0x42)]
        fold
        movsx eax, byte [M(0x44)]
        fold
        movsx eax, word [M(0x46)]
        fold
        movsx ax, byte [M(0x48)]
        fold
%if MODE == 64
        ; ---- long mode: 8-byte accesses (one KVM exit, two 4-byte accesses on vmscope's bus) and REX registers
        mov rax, 0x0102030405060708
        mov [M(0x100)], rax
        mov qword [M(0x108)], -2 ; C7 with REX.W: imm32 sign-extended to 64 bits
        mov r11, 0x55AA
        mov [M(0x110)], r11b
        mov [M(0x112)], r11w
        mov rbx, [M(0x118)]
        mov rax, rbx
        fold
        mov r9d, [M(0x120)]
        mov eax, r9d
        fold
        mov r10, -1
        mov r10w, [M(0x124)]
        mov rax, r10
        fold
        movsx r12, word [M(0x126)]
        mov rax, r12
        fold
        mov sil, [M(0x128)]
        movzx eax, sil
        fold
%endif
        mov eax, ebp
        cli
        hlt
        jmp $-1
