; Protected-mode exception guest (Multiboot ELF32): #DE #UD #BP #GP(selector) #GP(IDT limit) #PF(3 kinds, ring 3); DF=1: #GP through a not-present gate → #DF; TRIPLE=1: no IDT → triple fault.
%include "common.inc"
        bits 32
%ifndef DF
  %define DF 0
%endif
%ifndef TRIPLE
  %define TRIPLE 0
%endif

MB_MAGIC equ 0x1BADB002         ; Multiboot 0.6.96 §3.1.1
MB_FLAGS equ 0x00000003

NP_ADDR equ 0x00410123          ; 4 KiB page 0x410000: PTE not present
RO_ADDR equ 0x00411ABC          ; 4 KiB page 0x411000: PTE read-only
SV_ADDR equ 0x00400010          ; supervisor page (PTE U/S=0) that ring 3 reads

        global _start
        global fault_de, fault_ud, fault_bp, fault_gp, fault_gp0, fault_pf_np, fault_pf_ro, fault_pf_user, user_code

%macro arm 1
        mov dword [resume_eip], %1
        mov [resume_esp], esp
%endmacro

        section .text
        align 4
        dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
_start:                         ; Multiboot state: protected mode, paging off, GDT undefined (§3.2)
        cli
        cld
        mov esp, stack_top
        lgdt [gdt_desc]
        jmp 0x08:.cs
.cs:    mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        puts `exceptions, protected mode\n`
%if TRIPLE
        lidt [idt_null]         ; IDT limit 0 (SDM vol. 3A §6.10)
        puts `triple fault next\n`
        ud2                     ; #UD → #GP → #DF → shutdown (§6.15, interrupt 8)
        puts `still running\n`
        exit_with 1
%else
        mov eax, tss            ; TSS descriptor base (SDM vol. 3A §8.2.2, fig. 8-3)
        mov [gdt + 0x28 + 2], ax
        shr eax, 16
        mov [gdt + 0x28 + 4], al
        mov [gdt + 0x28 + 7], ah
        mov dword [tss + 4], rsp0_top ; ESP0
        mov dword [tss + 8], 0x10     ; SS0
        mov word [tss + 0x66], 0x68   ; I/O map base beyond the limit: no I/O bitmap
        mov ax, 0x28
        ltr ax

        mov esi, stubs          ; IDT: 32-bit interrupt gates (type 0xE), §6.11 fig. 6-2
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
        lidt [idt_desc]

  %if DF
        mov byte [idt + 13*8 + 5], 0x0E ; #GP gate not present
        puts `#GP through a not-present gate\n`
        arm never
        mov ax, 0x4B
        mov ds, ax              ; #GP(0x48) → #NP(13*8+2) while delivering it → #DF (SDM vol. 3A table 6-5)
never:  puts `no double fault\n`
        exit_with 1
  %else
        arm r_de
        xor edx, edx
        xor ecx, ecx
        mov eax, 1
fault_de:
        div ecx                 ; #DE (fault: saved EIP = the DIV)
r_de:
        arm r_ud
fault_ud:
        ud2
r_ud:
        arm r_bp
fault_bp:
        int3                    ; #BP (trap: saved EIP = next instruction)
r_bp:
        arm r_gp
        mov ax, 0x4B            ; index 9 beyond the GDT limit: #GP(selector & 0xFFFC) (§6.13)
fault_gp:
        mov ds, ax
r_gp:
        arm r_gp0
fault_gp0:
        int 0x40                ; vector beyond the IDT limit: #GP(vector*8 + 2), the IDT bit set (§6.13)
r_gp0:

        ; 32-bit paging (SDM vol. 3A §4.3): PDE 0 = 4 MiB user page (the kernel), PDE 1 → a page table, PDE 2..15 4 MiB pages
        mov edi, page_dir
        mov ecx, 2 * 4096 / 4
        xor eax, eax
        rep stosd
        mov dword [page_dir], 0x87          ; P|RW|US|PS
        mov dword [page_dir + 4], page_table + 7 ; P|RW|US, so the PTE decides U/S
        mov eax, 0x800083
        mov edi, page_dir + 8
.pde:   mov [edi], eax
        add eax, 0x400000
        add edi, 4
        cmp edi, page_dir + 16 * 4
        jne .pde
        mov eax, 0x400003       ; PTEs: P|RW, supervisor
        mov edi, page_table
.pte:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        cmp edi, page_table + 4096
        jne .pte
        mov dword [page_table + 4 * ((NP_ADDR >> 12) & 0x3FF)], 0
        mov dword [page_table + 4 * ((RO_ADDR >> 12) & 0x3FF)], (RO_ADDR & ~0xFFF) | 1 ; P, R/W=0
        mov eax, cr4
        or eax, 1 << 4          ; CR4.PSE
        mov cr4, eax
        mov eax, page_dir
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000      ; PG|WP
        mov cr0, eax

        arm r_np
fault_pf_np:
        mov ebx, [NP_ADDR]      ; read, not present: error 0
r_np:
        arm r_ro
fault_pf_ro:
        mov dword [RO_ADDR], 1  ; supervisor write to read-only with WP=1: error P|W = 3
r_ro:
        arm r_user
        push 0x23               ; SS = user data | RPL 3
        push user_stack_top
        push 0x002              ; EFLAGS
        push 0x1B               ; CS = user code | RPL 3
        push user_code
        iretd
r_user:
        puts `all exceptions handled\n`
        exit_with 0
  %endif
%endif
        cli
        hlt

user_code:                      ; ring 3 (DS was nulled by IRET to the outer level: reload it, §6.12.1)
        mov ax, 0x23
        mov ds, ax
fault_pf_user:
        mov eax, [SV_ADDR]      ; user read of a supervisor page: error P|U = 5
        jmp $

%macro stub 1
  %%s:
  %if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17 || %1 == 21
        nop
        nop
  %else
        push 0
  %endif
        push %1
        jmp near exc_common
        times STUB_SIZE - ($ - %%s) int3
%endmacro
STUB_SIZE equ 16
        align 16
stubs:
%assign v 0
%rep 32
        stub v
%assign v v+1
%endrep

; Frame: [esp]=vector [4]=error [8]=EIP [12]=CS [16]=EFLAGS (+ [20]=ESP [24]=SS from ring 3), §6.12.1 fig. 6-4
exc_common:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ebx, esp
        puts "vector="
        mov eax, [ebx]
        mov ecx, 2
        call print_hex
        puts " error="
        mov eax, [ebx + 4]
        mov ecx, 8
        call print_hex
        cmp dword [ebx], 8
        je .df
        puts " cr2="
        mov eax, cr2
        mov ecx, 8
        call print_hex
        puts " eip="
        mov eax, [ebx + 8]
        mov ecx, 8
        call print_hex
        puts " cs="
        mov eax, [ebx + 12]
        mov ecx, 4
        call print_hex
        putc 10
        mov esp, [resume_esp]   ; resume in ring 0 with a fresh same-privilege IRET frame
        push 0x002
        push 0x08
        push dword [resume_eip]
        iretd
.df:    puts ` double fault\n`  ; saved EIP of #DF is undefined (§6.15, interrupt 8)
        exit_with 0x08
        cli
        hlt

; print_hex: EAX in ECX hex digits (clobbers EAX, ECX, EDX)
print_hex:
        mov edx, eax
.d:     mov eax, edx
        push ecx
        lea ecx, [ecx * 4 - 4]
        shr eax, cl
        pop ecx
        and eax, 15
        cmp al, 10
        jb .dig
        add al, 'a' - '0' - 10
.dig:   add al, '0'
        out DEBUGCON, al
        loop .d
        ret

        section .data
        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF   ; 0x08 code DPL0
        dq 0x00CF92000000FFFF   ; 0x10 data DPL0
        dq 0x00CFFA000000FFFF   ; 0x18 code DPL3
        dq 0x00CFF2000000FFFF   ; 0x20 data DPL3
        dq 0x0000890000000067   ; 0x28 32-bit TSS (available), limit 0x67
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt
idt_desc:
        dw 32 * 8 - 1
        dd idt
idt_null:
        dw 0
        dd 0
resume_eip: dd 0
resume_esp: dd 0

        section .bss
        alignb 4096
page_dir: resb 4096
page_table: resb 4096
tss:    resb 0x68
        alignb 8
idt:    resb 32 * 8
        alignb 16
        resb 4096
user_stack_top:
        resb 4096
rsp0_top:
        resb 16384
stack_top:
