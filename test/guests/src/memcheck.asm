; Memory check guest (flat, MODE=16|32|64): byte/word/dword/qword, unaligned, page-crossing, RMW and string accesses; PASS/FAIL lines; exit code = failures.
%include "common.inc"

%if MODE == 16
        org 0x7C00
  %define PR di                 ; pointer register (16-bit addressing)
  B equ 0x1000                  ; boundary offset in DS=ES=0x2000 (physical 0x21000, a 4 KiB page boundary)
%else
        org 0x100000
  %if MODE == 32
    %define PR edi
  %else
    %define PR rdi
  %endif
  B equ 0x400000                ; a 4 MiB (paged32) and 2 MiB (long mode) page boundary, inside 64 MiB
%endif
        bits MODE

; TEST "name" ... ENDTEST: checks jump to the test's fail label; prints PASS/FAIL name, counts failures in EBP.
%macro TEST 1
  %push t
  %define %$name %1
%endmacro
%macro CHECK 3                  ; size, address, expected
        cmp %1 [%2], %3
        jne %$fail
%endmacro
%macro CHECKR 2                 ; register, expected
        cmp %1, %2
        jne %$fail
%endmacro
%macro ENDTEST 0
        puts "PASS "
        puts %$name
        putc 10
        jmp %$done
%$fail:
        puts "FAIL "
        puts %$name
        putc 10
        inc ebp
%$done:
  %pop
%endmacro

%if MODE == 32
        ; The 32-bit image doubles as a Multiboot kernel (a.out kludge, Multiboot 0.6.96 §3.1.3) so QEMU -kernel
        ; can run the very same bytes: the flat entry jumps over the header.
        jmp start
        align 4
mb_header:
        dd 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
        dd mb_header            ; header_addr
        dd $$                   ; load_addr
        dd 0                    ; load_end_addr: the whole file
        dd 0                    ; bss_end_addr: none
        dd start                ; entry_addr
%endif
start:
        cld
        xor ebp, ebp            ; failure count
%if MODE == 16
        mov ax, 0x2000
        mov ds, ax
        mov es, ax
%endif

        TEST "byte"             ; 256 byte stores straddling B, then 256 byte loads
        mov PR, B-128
        xor ecx, ecx
.wb:    mov al, cl
        xor al, 0x5A
        mov [PR], al
        inc PR
        inc ecx
        cmp ecx, 256
        jne .wb
        mov PR, B-128
        xor ecx, ecx
.rb:    mov al, cl
        xor al, 0x5A
        cmp [PR], al
        jne %$fail
        inc PR
        inc ecx
        cmp ecx, 256
        jne .rb
        CHECK word, B-2, ((127 ^ 0x5A) << 8) | (126 ^ 0x5A) ; bytes i=126,127 read as one little-endian word
        ENDTEST

        TEST "word"             ; little-endian (SDM vol. 1 §1.3.1), unaligned across the boundary
        mov word [B-1], 0xBEEF
        CHECK byte, B-1, 0xEF
        CHECK byte, B, 0xBE
        CHECK word, B-1, 0xBEEF
        mov word [B-4], 0x1234
        CHECK byte, B-4, 0x34
        CHECK byte, B-3, 0x12
        ENDTEST

        TEST "dword"
        mov dword [B-2], 0x11223344
        CHECK byte, B-2, 0x44
        CHECK byte, B-1, 0x33
        CHECK byte, B, 0x22
        CHECK byte, B+1, 0x11
        CHECK word, B-1, 0x2233
        mov byte [B-3], 0x99
        CHECK dword, B-3, 0x22334499
        ENDTEST

%if MODE == 64
        TEST "qword"
        mov rax, 0x0102030405060708
        mov [B-3], rax
        CHECK dword, B-3, 0x05060708
        CHECK dword, B+1, 0x01020304
        CHECK byte, B, 0x05
        mov rbx, [B-3]
        CHECKR rbx, rax
        mov qword [B-8], -2     ; imm32 sign-extended to 64 bits
        CHECK dword, B-4, 0xFFFFFFFF
        CHECK byte, B-8, 0xFE
        ENDTEST
%endif

        TEST "rmw"              ; read-modify-write instructions whose operand straddles the boundary
        mov dword [B-2], 0x00FFFFFF
        add dword [B-2], 1
        CHECK byte, B+1, 0x01
        CHECK byte, B, 0x00
        CHECK byte, B-2, 0x00
        mov word [B-1], 0xFFFF
        inc word [B-1]
        jnz %$fail              ; 0xFFFF+1 = 0 sets ZF
        CHECK word, B-1, 0
        mov eax, 0xCAFEF00D
        mov dword [B-3], 0x600DD00D
        xchg [B-3], eax
        CHECKR eax, 0x600DD00D
        CHECK dword, B-3, 0xCAFEF00D
        ENDTEST

        TEST "string"           ; REP STOSD / MOVSB / CMPSB across boundaries (SDM vol. 2B, MOVS/STOS/CMPS)
        mov PR, B-64
        mov ecx, 32
        mov eax, 0xA5A5A5A5
        rep stosd
        CHECKR ecx, 0
        CHECK dword, B-4, 0xA5A5A5A5
        CHECK dword, B+60, 0xA5A5A5A5
        CHECK byte, B+64, 0x5A ^ 192 ; first byte after the fill: pattern byte i=192 from test "byte"
        mov PR, B-128           ; re-create the byte pattern
        xor ecx, ecx
.wp:    mov al, cl
        xor al, 0x5A
        mov [PR], al
        inc PR
        inc ecx
        cmp ecx, 256
        jne .wp
%if MODE == 16
        mov si, B-128
%elif MODE == 32
        mov esi, B-128
%else
        mov rsi, B-128
%endif
        mov PR, B+0x1000-7      ; unaligned destination that straddles the next page boundary
        mov ecx, 256
        rep movsb
        CHECKR ecx, 0
        CHECK byte, B+0x1000-7, 0x5A ^ 0
        CHECK byte, B+0x1000, 0x5A ^ 7
        CHECK dword, B+0x1000-7+252, 0xA5A4A7A6 ; bytes 252..255 ^ 0x5A = A6 A7 A4 A5
%if MODE == 16
        mov si, B-128
%elif MODE == 32
        mov esi, B-128
%else
        mov rsi, B-128
%endif
        mov PR, B+0x1000-7
        mov ecx, 256
        repe cmpsb
        jne %$fail
        CHECKR ecx, 0
        ENDTEST

%if MODE == 16
        TEST "alias"            ; real mode: linear = selector*16 + offset, so 0x2100:0 is 0x2000:0x1000
        mov ax, 0x2100
        mov fs, ax
        mov byte [fs:0], 0x77
        CHECK byte, B, 0x77
        mov dword [B+4], 0x89ABCDEF
        cmp dword [fs:4], 0x89ABCDEF
        jne %$fail
        ENDTEST
%endif

        mov eax, ebp
        out DEBUG_EXIT, al      ; exit code (failures<<1)|1
        cli
        hlt
