; Multiboot 1 entry that switches to long mode (GDT, PAE 4-level tables identity-mapping 1 GiB, EFER.LME, CR0.PG) and calls kmain64(magic, info).
%include "common.inc"

MB_MAGIC equ 0x1BADB002         ; Multiboot 0.6.96 §3.1.1
MB_FLAGS equ 0x00000003         ; bit 0: align modules, bit 1: provide mem_* (ELF kernel: no address fields)
EFER equ 0xC0000080             ; IA32_EFER (SDM vol. 4, table 2-2)

        extern kmain64
        global _start, mb_magic, mb_info, boot_pml4, boot_pdpt, boot_pd, gdt64, stack_top

        section .text
        bits 32
        align 4
mb_header:                      ; must lie in the first 8192 bytes, 32-bit aligned (§3.1.1)
        dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:                         ; Multiboot state (§3.2): protected mode, paging off, EAX=magic, EBX=info, GDT undefined
        cli
        cld
        mov esp, stack_top
        mov [mb_magic], eax
        mov [mb_info], ebx
        mov edi, boot_pml4      ; zero PML4, PDPT, PD (do not rely on the loader zeroing .bss)
        mov ecx, 3 * 4096 / 4
        xor eax, eax
        rep stosd
        mov dword [boot_pml4], boot_pdpt + 3 ; P|RW (SDM vol. 3A §4.5, table 4-15)
        mov dword [boot_pdpt], boot_pd + 3
        mov edi, boot_pd        ; 512 PDEs with PS=1: 2 MiB pages identity-mapping 0..1 GiB (table 4-17)
        mov eax, 0x83           ; P|RW|PS
        mov ecx, 512
.pde:   mov [edi], eax
        add eax, 0x200000
        add edi, 8
        loop .pde
        mov eax, boot_pml4
        mov cr3, eax
        mov eax, cr4
        or eax, 1 << 5          ; CR4.PAE
        mov cr4, eax
        mov ecx, EFER
        rdmsr
        or eax, 1 << 8          ; EFER.LME (SDM vol. 3A §10.8.5: PAE, LME, then CR0.PG)
        wrmsr
        lgdt [gdt64_desc]
        mov eax, cr0
        or eax, 0x80000001      ; PG|PE
        mov cr0, eax
        jmp 0x08:long_entry     ; loads the L=1 code segment: IA-32e 64-bit mode

        bits 64
long_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov rsp, stack_top
        mov edi, [mb_magic]
        mov esi, [mb_info]
        call kmain64
        out DEBUG_EXIT, al      ; exit code (result<<1)|1
        cli
        hlt
        jmp $-1

        section .data
        align 16
gdt64:  dq 0
        dq 0x00AF9A000000FFFF   ; 0x08: 64-bit code, DPL 0 (L=1, D=0)
        dq 0x00CF92000000FFFF   ; 0x10: data, DPL 0
gdt64_end:
gdt64_desc:
        dw gdt64_end - gdt64 - 1
        dq gdt64
mb_magic: dd 0
mb_info: dd 0

        section .bss
        alignb 4096
boot_pml4: resb 4096
boot_pdpt: resb 4096
boot_pd: resb 4096
        alignb 16
        resb 32768
stack_top:
