; MMIO guest (flat, MODE=16|32|64): writes and reads of 1/2/4 (and 8 in long mode) bytes above the end of RAM, unaligned, read-modify-write and string forms; folds every value read into registers; ends with CLI; HLT.
; RAM is 64 MiB in protected/long mode (MMIO at 0x04000000 and 0xD0000000), 1 MiB in real mode (MMIO at FFFF:0010 = 0x100000).
%if MODE == 16
        org 0x7C00
%else
        org 0x100000
%endif
        bits MODE

%macro fold 0
        rol ebp, 7
        xor ebp, eax
%endmacro

start:
        cld
        xor ebp, ebp
%if MODE == 16
        mov ax, 0xFFFF
        mov fs, ax
  %define M(x) fs:0x10 + (x)    ; physical 0x100000 + x: above 1 MiB of RAM (no A20 gate on either side)
%elif MODE == 32
  %define M(x) 0x04000000 + (x) ; first byte above 64 MiB of RAM
%else
  %define M(x) 0x04000000 + (x)
%endif
        mov eax, 0x89ABCDEF
        mov byte [M(0)], 0x11
        mov word [M(2)], 0x2233
        mov dword [M(4)], 0x44556677
        mov [M(8)], al
        mov [M(10)], ax
        mov [M(12)], eax
        mov dword [M(0x11)], 0xCAFEF00D ; unaligned
        xor eax, eax
        mov al, [M(0)]
        fold
        mov ax, [M(2)]
        fold
        mov eax, [M(4)]
        fold
        mov eax, [M(0x21)]      ; unaligned read
        fold
        movzx eax, byte [M(0x30)]
        fold
        movsx eax, word [M(0x32)]
        fold
        add dword [M(0x40)], 5  ; read-modify-write: a read, then a write
        inc byte [M(0x44)]
        xor eax, eax
        cmp dword [M(0x48)], eax
        setne al
        fold
%if MODE != 16
        mov edx, 0xD0000000     ; far above RAM, below the end of the 4 GiB identity map (a register base:
        mov dword [edx], 0x600DF00D ; in 64-bit mode a disp32 of 0xD0000000 would sign-extend)
        mov eax, [edx + 0xABC]
        fold
        ; string forms: STOSD to MMIO, MOVSD MMIO -> RAM
        mov edi, M(0x100)
        mov eax, 0x5A5AA5A5
        mov ecx, 3
        rep stosd
        mov esi, M(0x200)
        mov edi, 0x20000
        mov ecx, 2
        rep movsd
        mov eax, [0x20000]
        fold
        mov eax, [0x20004]
        fold
%endif
%if MODE == 64
        mov rax, 0x0102030405060708
        mov [M(0x300)], rax     ; 8-byte write: one KVM exit, two 4-byte accesses on vmscope's bus
        mov rbx, [M(0x308)]
        mov r10, rbx
        mov rax, rbx
        fold
%endif
        mov eax, ebp
        cli
        hlt
        jmp $-1
