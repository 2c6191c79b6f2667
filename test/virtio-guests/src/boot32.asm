; Multiboot 1 entry of the virtio guests: flat GDT, stack, zeroed .bss, interrupt stubs (exceptions 0-31, PIC IRQs 0x20-0x2F, up to the LAPIC spurious 0x3F), kmain, exit through port 0xF4.
MB_MAGIC   equ 0x1BADB002       ; Multiboot 0.6.96 §3.1.1
MB_FLAGS   equ 0x00000003       ; bit 0: align modules, bit 1: give mem_* (an ELF kernel needs no address fields)
DEBUG_EXIT equ 0xF4             ; isa-debug-exit: writing v ends the run with exit code (v<<1)|1

        extern kmain, trap_dispatch, __bss_start, _end
        global _start, isr_table

        section .text
        bits 32
        align 4
mb_header:                      ; within the first 8 KiB, 32-bit aligned (§3.1.1)
        dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:                         ; §3.2: protected mode, paging off, EAX = magic, EBX = info; GDTR and IDTR undefined
        cli
        cld
        mov esi, eax            ; keep magic and info while .bss is zeroed
        mov ebp, ebx
        lgdt [gdt_desc]         ; our own GDT: an interrupt gate's selector 0x08 must mean something
        jmp 0x08:.flat
.flat:  mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov edi, __bss_start    ; zero .bss (RAM, so a string instruction is fine here)
        mov ecx, _end
        sub ecx, edi
        xor eax, eax
        rep stosb
        mov esp, stack_top
        push ebp                ; kmain(magic, info) — cdecl
        push esi
        call kmain
        out DEBUG_EXIT, al      ; exit status = kmain's result
.halt:  cli
        hlt
        jmp .halt

; Every vector pushes an error code (the CPU's, or 0) and its number, then shares one path into C
; (SDM vol. 3A §6.12.1: the CPU pushes EFLAGS, CS, EIP and, for some exceptions, an error code).
%macro VEC 1
vec%1:
  %if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17 || %1 == 21 || %1 == 29 || %1 == 30
        push dword %1           ; the CPU pushed an error code (SDM vol. 3A table 6-1)
  %else
        push dword 0
        push dword %1
  %endif
        jmp trap_common
%endmacro

%assign v 0
%rep 64
        VEC v
%assign v v+1
%endrep

trap_common:                    ; stack: vector, error, EIP, CS, EFLAGS
        pushad
        push esp                ; struct trap_frame *
        call trap_dispatch
        add esp, 4
        popad
        add esp, 8              ; vector and error code
        iretd

        section .rodata
        align 4
isr_table:                      ; entry points for vectors 0..63, read by interrupts_init()
%assign v 0
%rep 64
        dd vec %+ v
%assign v v+1
%endrep

        section .data
        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF   ; 0x08: code, base 0, limit 4 GiB, 32-bit (SDM vol. 3A §3.4.5)
        dq 0x00CF92000000FFFF   ; 0x10: data, base 0, limit 4 GiB
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

        section .bss
        alignb 16
        resb 16384
stack_top:
