; Exercise 04-long-mode-paging (reference solution): from 32-bit protected mode (paging off) to 64-bit long mode, the way a
; kernel starts. To reach 64-bit mode (SDM vol. 3A §10.8.5, "Initializing IA-32e Mode"):
;   1. build 4-level page tables (PML4 → PDPT → PD; 2 MiB pages identity-mapping the first 1 GiB),
;   2. enable PAE (CR4.PAE = 1) and load CR3 with the PML4's address,
;   3. set EFER.LME (MSR 0xC0000080 bit 8),
;   4. enable paging (CR0.PG = 1): the processor activates IA-32e mode and sets EFER.LMA,
;   5. far-jump to a code segment with L = 1 (given below).
; Read samples/12-long-mode-boot/boot.asm first. build.json: bits 32 (nasm -f elf32, ld -m elf_i386).

DEBUGCON      equ 0xe9
MB_MAGIC      equ 0x1badb002            ; Multiboot 1 header magic (Multiboot 0.6.96 §3.1.1)
MB_FLAGS      equ 0                     ; no requirements: the image is an ELF, the loader knows where to put it
MB_BOOTED     equ 0x2badb002            ; what a Multiboot loader leaves in EAX
EFER          equ 0xc0000080
EFER_LME      equ 1 << 8
EFER_LMA      equ 1 << 10
CR0_PG        equ 1 << 31
CR4_PAE       equ 1 << 5

; ------------------------------------------------------------------------------------------------
        section .text
        align 4
multiboot_header:                       ; must lie in the first 8 KiB of the image
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)       ; checksum: the three fields sum to 0

        bits 32
        global _start
_start:
        mov esp, stack_top
        mov [boot_eax], eax             ; remember how we were started
        mov [boot_ebx], ebx

        mov esi, s_hello32
        call print32

        ; ---- 1. Page tables. PML4[0] → PDPT, PDPT[0] → PD, PD[0..511] = 2 MiB pages at 0, 2, 4 ... MiB.
        ;         Entry bits: 0 present, 1 writable, 7 page size (in a PD entry: a 2 MiB page).
        ;         In PAE/4-level paging entries are 8 bytes; the high dwords stay 0 (.bss is zeroed).
        mov dword [pml4], pdpt + 0x003
        mov dword [pdpt], pd + 0x003
        mov ecx, 0
.pde:   mov eax, ecx
        shl eax, 21                     ; 2 MiB * index
        or eax, 0x083                   ; present, writable, PS
        mov [pd + ecx * 8], eax
        inc ecx
        cmp ecx, 512
        jne .pde

        ; ---- 2. PAE on, CR3 = PML4.
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, pml4
        mov cr3, eax

        ; ---- 3. EFER.LME = 1 ("long mode enable"; not active yet: EFER.LMA is still 0).
        mov ecx, EFER
        rdmsr
        or eax, EFER_LME
        wrmsr

        ; ---- 4. Paging on. With PAE and LME set, this activates IA-32e mode: EFER.LMA becomes 1 and we
        ;         are now in compatibility mode (still 32-bit code, CS is a 32-bit segment).
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax


        ; ---- 5. A GDT with a 64-bit code segment (L = 1, D = 0), then a far jump to reload CS.
        lgdt [gdtr]
        jmp CODE64:long_mode

; print32: the NUL-terminated string at ESI to the debug console, one REP OUTSB (one I/O exit).
print32:
        mov edi, esi
        xor eax, eax
        mov ecx, -1
        repne scasb                     ; find the NUL
        not ecx
        dec ecx                         ; ECX = length
        mov dx, DEBUGCON
        rep outsb
        ret

; ------------------------------------------------------------------------------------------------
        bits 64
long_mode:
        ; 64-bit mode. Data segment registers are mostly ignored here (SDM vol. 3A §3.4.4), but SS
        ; must hold a valid selector or 0 for IRET and interrupts later: load the data segment.
        mov ax, DATA64
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, stack_top               ; a 32-bit move zero-extends into RSP (the stack is below 4 GiB)

        lea rsi, [rel s_hello64]
        call print64

        ; Show that it is really long mode: EFER.LMA = 1, and a 64-bit register holds a 64-bit value.
        mov ecx, EFER
        rdmsr
        test eax, EFER_LMA
        jz .no_lma
        lea rsi, [rel s_lma]
        call print64
.no_lma:
        mov rax, 0x0123456789abcdef     ; a 64-bit register holds a 64-bit value
        call print_hex64
        lea rsi, [rel s_done]
        call print64
        mov al, 0
        out 0xf4, al                    ; isa-debug-exit: the run ends with status (0 << 1) | 1 = 1

print64:
        mov rdi, rsi
        xor eax, eax
        mov rcx, -1
        repne scasb
        not rcx
        dec rcx
        mov dx, DEBUGCON
        rep outsb
        ret

print_hex64:                            ; "rax = 0x%016x\n"
        lea rdi, [rel hexbuf + 8]
        mov ecx, 16
.digit: rol rax, 4
        mov edx, eax
        and edx, 15
        mov dl, [hexdigits + rdx]
        mov [rdi], dl
        inc rdi
        loop .digit
        lea rsi, [rel hexbuf]
        jmp print64

; ------------------------------------------------------------------------------------------------
        section .data
s_hello32:        db "32-bit protected mode, paging off", 10, 0
s_hello64:        db "64-bit long mode, paging on (PML4 -> PDPT -> PD, 2 MiB pages)", 10, 0
s_lma:            db "EFER.LMA = 1", 10, 0
s_done:           db "done", 10, 0
hexbuf:           db "rax = 0x0000000000000000", 10, 0
hexdigits:        db "0123456789abcdef"

        align 8
gdt:    dq 0                            ; null descriptor
CODE64 equ $ - gdt
        dq 0x00209a0000000000           ; code: present, DPL 0, execute/read, L = 1 (64-bit)
DATA64 equ $ - gdt
        dq 0x0000920000000000           ; data: present, read/write
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

        section .bss
        alignb 4096
pml4:   resb 4096
pdpt:   resb 4096
pd:     resb 4096
boot_eax: resd 1
boot_ebx: resd 1
        alignb 16
stack:  resb 4096
stack_top:
