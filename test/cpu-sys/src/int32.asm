; Protected-mode (32-bit, paging off) interrupt delivery and IRET guest: gates, privilege changes, and the faults with their error codes; each event prints one line on port 0xE9 (Multiboot 0.6.96 §3.1.3 address fields, flat binary).
        bits 32
        org 0x100000
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000         ; bit 16: the address fields below are valid
DEBUGCON equ 0xE9
DEBUG_EXIT equ 0xF4
STACK0 equ 0x280000             ; ring-0 stack top (kernel)
ESP0 equ 0x2a0000               ; TSS ESP0
USTACK equ 0x2c0000             ; ring-3 stack top
R1BASE equ 0x2e0000             ; ring-1 stack segment base (limit 0xF)
%ifndef ROOM
  %define ROOM 0
%endif

hdr:    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd hdr, hdr, 0, 0, start

%macro putc 1
        mov al, %1
        out DEBUGCON, al
%endmacro
%macro puts 1
  %strlen %%n %1
  %assign %%i 1
  %rep %%n
    %substr %%c %1 %%i
        putc %%c
    %assign %%i %%i+1
  %endrep
%endmacro
; arm label: where the exception stub resumes (kernel state reloaded there)
%macro arm 1
        mov dword [resume_eip], %1
%endmacro
; gate vector, offset label, selector, type/attr byte
%macro setgate 4
        mov eax, %2
        mov [idt + %1*8], ax
        mov word [idt + %1*8 + 2], %3
        mov byte [idt + %1*8 + 4], 0
        mov byte [idt + %1*8 + 5], %4
        shr eax, 16
        mov [idt + %1*8 + 6], ax
%endmacro
; iret_to ss, esp, eflags, cs, eip (pushes an IRET frame and executes IRET; omit ss/esp with 0,0 for same privilege)
%macro frame5 5
        push dword %1
        push dword %2
        push dword %3
        push dword %4
        push dword %5
        iretd
%endmacro
%macro frame3 3
        push dword %1
        push dword %2
        push dword %3
        iretd
%endmacro

start:  cli
        cld
        mov esp, STACK0
        lgdt [gdt_desc]
        jmp 0x08:.cs
.cs:    call kseg
        mov al, 0xff             ; mask both PICs: nothing but our own events
        out 0x21, al
        out 0xa1, al
        mov eax, tss
        mov [gdt + 0x28 + 2], ax
        shr eax, 16
        mov [gdt + 0x28 + 4], al
        mov [gdt + 0x28 + 7], ah
        mov dword [tss + 4], ESP0
        mov dword [tss + 8], 0x10
        mov word [tss + 0x66], 0x68
        mov ax, 0x28
        ltr ax
        mov esi, stubs           ; vectors 0..31: 32-bit interrupt gates to the recording stubs
        mov edi, idt
        xor ecx, ecx
.gate:  mov eax, esi
        mov [edi], ax
        mov word [edi + 2], 0x08
        mov word [edi + 4], 0x8E00
        shr eax, 16
        mov [edi + 6], ax
        add esi, STUB_SIZE
        add edi, 8
        inc ecx
        cmp ecx, 32
        jne .gate
        setgate 0x30, h30, 0x08, 0x8E   ; interrupt gate, DPL 0
        setgate 0x31, h31, 0x08, 0x8F   ; trap gate, DPL 0
        setgate 0x32, h32, 0x08, 0xEE   ; interrupt gate, DPL 3
        setgate 0x34, h30, 0x08, 0x0E   ; not present
        setgate 0x35, h30, 0x00, 0x8E   ; null CS
        setgate 0x36, h30, 0x28, 0x8E   ; CS = a TSS descriptor
        setgate 0x37, h30, 0x40, 0x8E   ; CS not present
        setgate 0x38, h30, 0x08, 0x8C   ; a call gate type in the IDT
        setgate 0x39, h30, 0x51, 0xAE   ; interrupt gate, DPL 1, to ring-1 code
        lidt [idt_desc]
        puts `int32\n`

; --- same privilege: INT 0x30 (interrupt gate) and IRET; CF and IF set before, restored after
        push dword 0x2          ; defined flags to start from
        popfd
        mov [esp_before], esp
        stc
        sti
        int 0x30
after30: pushfd
        pop eax
        and eax, 0xFD5
        puts `after30 fl=`
        call hex32
        puts ` esp=`
        mov eax, esp
        sub eax, [esp_before]
        call hex32
        call nl
        cli
; --- trap gate keeps IF
        sti
        int 0x31
        cli
; --- ring 3 and back: IRET to an outer level nulls DS/FS (DPL 0), keeps ES (DPL 3); INT 0x32 switches to the TSS stack
        mov ax, 0x23
        mov es, ax
        arm next1
        frame5 0x23, USTACK, 0x2, 0x1b, user1
next1:  call kseg
; --- INT n from ring 3 through a DPL-0 gate: #GP(vector*8+2)
        arm next2
        frame5 0x23, USTACK, 0x2, 0x1b, user2
next2:  call kseg
; --- INT n beyond the IDT limit (from ring 3): #GP(vector*8+2)
        arm next3
        frame5 0x23, USTACK, 0x2, 0x1b, user3
next3:  call kseg
; --- gate faults at ring 0
        arm next4
        int 0x34                ; #NP(0x34*8+2)
next4:  call kseg
        arm next5
        int 0x35                ; #GP(0)
next5:  call kseg
        arm next6
        int 0x36                ; #GP(0x28)
next6:  call kseg
        arm next7
        int 0x37                ; #NP(0x40)
next7:  call kseg
        arm next8
        int 0x38                ; #GP(0x38*8+2)
next8:  call kseg
; --- IRET with a bad CS
        arm n9
        frame3 0x2, 0x00, bad   ; null: #GP(0)
n9:     call kseg
        arm n10
        frame3 0x2, 0x10, bad   ; data segment: #GP(0x10)
n10:    call kseg
        arm n11
        frame3 0x2, 0x40, bad   ; not present: #NP(0x40)
n11:    call kseg
        arm n12
        frame3 0x2, 0x78, bad   ; beyond the GDT limit: #GP(0x78)
n12:    call kseg
; --- IRET to ring 3 with a bad SS
        arm n14
        frame5 0x00, USTACK, 0x2, 0x1b, bad  ; null SS: #GP(0)
n14:    call kseg
        arm n15
        frame5 0x13, USTACK, 0x2, 0x1b, bad  ; DPL 0 data: #GP(0x10)
n15:    call kseg
        arm n16
        frame5 0x20, USTACK, 0x2, 0x1b, bad  ; RPL 0 != 3: #GP(0x20)
n16:    call kseg
        arm n17
        frame5 0x1b, USTACK, 0x2, 0x1b, bad  ; code segment: #GP(0x18)
n17:    call kseg
        arm n18
        frame5 0x4b, USTACK, 0x2, 0x1b, bad  ; not present: #SS(0x48)
n18:    call kseg
%if ROOM
; --- same privilege at ring 1 with no room for the frame (SS limit 0xF, ESP 8): #SS(0) with ESP as it was (SDM vol. 2A INT n)
        arm n19
        frame5 0x59, 8, 0x2, 0x51, ring1
n19:    call kseg
%endif
        puts `done\n`
        mov al, 0
        out DEBUG_EXIT, al
        hlt

bad:    puts `no fault\n`
        jmp [resume_eip]

user1:  mov eax, ds
        mov ebx, es
        mov ecx, fs
        mov edx, ss
        int 0x32
        jmp $
user2:  int 0x30
        jmp $
user3:  int 0x40
        jmp $
ring1:  int 0x39
        jmp $

; kernel segments and stack (after an event)
kseg:   pop edi
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, STACK0
        jmp edi

; handlers: INT 0x30 prints the frame (EIP, CS, EFLAGS), its EFLAGS and ESP below the one before; clears CF; IRET
h30:    puts `h30 eip=`
        mov eax, [esp]
        call hex32
        puts ` cs=`
        mov eax, [esp + 4]
        call hex32
        puts ` fl=`
        mov eax, [esp + 8]
        and eax, 0xFD5
        call hex32
        puts ` now=`
        pushfd
        pop eax
        and eax, 0xFD5
        call hex32
        puts ` depth=`
        mov eax, [esp_before]
        sub eax, esp
        call hex32
        call nl
        clc
        iretd
h31:    puts `h31 if=`
        pushfd
        pop eax
        and eax, 0x200
        call hex32
        call nl
        iretd
h32:    mov ebp, eax
        mov ax, 0x10
        mov ds, ax
        puts `h32 ds=`
        mov eax, ebp
        call hex32
        puts ` es=`
        mov eax, ebx
        call hex32
        puts ` fs=`
        mov eax, ecx
        call hex32
        puts ` ss=`
        mov eax, edx
        call hex32
        puts ` frame=`
        xor esi, esi
.f:     mov eax, [esp + esi*4]
        call hex32
        putc ' '
        inc esi
        cmp esi, 5
        jne .f
        puts `depth=`
        mov eax, ESP0
        sub eax, esp
        call hex32
        call nl
        jmp [resume_eip]

; exception stubs: push 0 where the processor pushes no error code, then the vector
%macro stub 1
  %if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17
        push dword %1
  %else
        push dword 0
        push dword %1
  %endif
        jmp stubcommon
        align 16, db 0x90
%endmacro
STUB_SIZE equ 16
        align 16
stubs:
%assign v 0
%rep 32
        stub v
  %assign v v+1
%endrep
stubcommon: mov ax, 0x10
        mov ds, ax
        puts `exc v=`
        mov eax, [esp]
        call hex32
        puts ` e=`
        mov eax, [esp + 4]
        call hex32
        puts ` eip=`
        mov eax, [esp + 8]
        call hex32
        puts ` cs=`
        mov eax, [esp + 12]
        and eax, 0xffff
        call hex32
        puts ` fl=`
        mov eax, [esp + 16]
        and eax, 0xFD5
        call hex32
        test dword [esp + 12], 3
        jz .same
        puts ` esp=`
        mov eax, [esp + 20]
        call hex32
        puts ` ss=`
        mov eax, [esp + 24]
        and eax, 0xffff
        call hex32
        jmp .end
.same:  puts ` depth=`
        mov eax, STACK0
        sub eax, esp
        call hex32
.end:   call nl
        jmp [resume_eip]

hex32:  push ecx
        push edx
        mov edx, eax
        mov ecx, 8
.d:     rol edx, 4
        mov eax, edx
        and eax, 0xf
        mov al, [digits + eax]
        out DEBUGCON, al
        dec ecx
        jnz .d
        pop edx
        pop ecx
        ret
nl:     putc 10
        ret

digits: db '0123456789abcdef'
        align 8
gdt:    dq 0
        dq 0x00cf9b000000ffff   ; 0x08 code, DPL 0
        dq 0x00cf93000000ffff   ; 0x10 data, DPL 0
        dq 0x00cffb000000ffff   ; 0x18 code, DPL 3
        dq 0x00cff3000000ffff   ; 0x20 data, DPL 3
        dq 0x0000890000000067   ; 0x28 TSS (base patched)
        dq 0x00cfbb000000ffff   ; 0x30 code, DPL 1
        dq 0                    ; 0x38
        dq 0x00cf1b000000ffff   ; 0x40 code, DPL 0, not present
        dq 0x00cf73000000ffff   ; 0x48 data, DPL 3, not present
        dq 0x00cfbb000000ffff   ; 0x50 code, DPL 1
        dq 0x0040b32e0000000f   ; 0x58 data, DPL 1, base R1BASE, limit 0xF (byte granular, B=1)
gdt_end:
gdt_desc: dw gdt_end - gdt - 1
        dd gdt
idt_desc: dw 0x3a*8 - 1
        dd idt
resume_eip: dd 0
esp_before: dd 0
        align 8
tss:    times 0x68 db 0
        align 8
idt:    times 0x3a*8 db 0
