; 07-ept: two levels of address translation. The guest's own page tables turn a guest-virtual address
; (GVA) into a guest-physical address (GPA); the hypervisor's EPT tables turn that GPA into a
; host-physical address (HPA) (SDM vol. 3C §29.3, "The Extended Page Table Mechanism").
;
; The guest here builds its own 4-level page tables (below, in .data) with:
;   - an identity map of the first 2 MiB (code, data, stack), one 2 MiB page;
;   - GVA 0x40000000 → the GPA of `page_b` (an alias: two virtual addresses, one physical page);
;   - GVA 0x40001000 → GPA 0x01800000 (24 MiB). With "memoryMiB": 16 that is beyond guest RAM: EPT has
;     no entry for it, so the access is an EPT violation, and the hypervisor treats it as a device-less
;     address (reads all ones, writes dropped).
;
; Build: node scripts/build-samples.mjs 07-ept  (ELF64: the machine starts it in long mode at _start)

DEBUGCON   equ 0xe9
ALIAS_GVA  equ 0x40000000       ; PML4[0] → PDPT[1] → PD[0] → PT[0]
HOLE_GVA   equ 0x40001000       ;                                PT[1]
HOLE_GPA   equ 0x01800000       ; 24 MiB

        bits 64
        section .text
        global _start
_start:
        ; ---- 1. Switch to our page tables: MOV to CR3 (SDM vol. 3A §4.5). With EPT on, this does not
        ;         exit (CR3-load exiting is off): the guest owns its page tables entirely.
        lea rax, [rel pml4]
        mov cr3, rax
        lea rsi, [rel s_cr3]
        call emit_str
        mov rax, cr3
        call emit_hex
        call emit_nl

        ; ---- 2. Read page_b through its identity address: GVA = GPA.
        lea rsi, [rel s_ident]
        call emit_str
        lea rax, [rel page_b]
        call emit_hex
        lea rsi, [rel s_arrow]
        call emit_str
        lea rax, [rel page_b]
        call emit_hex
        lea rsi, [rel s_colon]
        call emit_str
        lea rsi, [rel page_b]               ; the string in page_b
        call emit_str
        lea rsi, [rel s_q]
        call emit_str
        call emit_nl

        ; ---- 3. Read the same page through the alias: another GVA, the same GPA (and so the same HPA).
        ;         The page-walk view shows both walks: guest tables, then EPT, for every level.
        lea rsi, [rel s_alias]
        call emit_str
        mov rax, ALIAS_GVA
        call emit_hex
        lea rsi, [rel s_arrow]
        call emit_str
        lea rax, [rel page_b]
        call emit_hex
        lea rsi, [rel s_colon]
        call emit_str
        mov rsi, ALIAS_GVA
        call emit_str
        lea rsi, [rel s_q]
        call emit_str
        call emit_nl

        ; ---- 4. Write through the alias, read through the identity map: one page, two names.
        mov rdi, ALIAS_GVA + 8              ; overwrite the word after "page_b: "
        mov rax, 'cherry!'
        mov [rdi], rax
        lea rsi, [rel s_wrote]
        call emit_str
        lea rsi, [rel page_b]
        call emit_str
        lea rsi, [rel s_q]
        call emit_str
        call emit_nl

        ; ---- 5. GVA 0x40001000 → GPA 0x01800000. The guest's page walk succeeds; the EPT walk for
        ;         the GPA finds no entry → EPT violation (qualification: data write/read, "entry ---",
        ;         linear address valid). The hypervisor emulates the MOV as an access to nothing.
        mov rbx, HOLE_GVA
        mov dword [rbx], 0x12345678         ; write → EPT violation (if not RAM)
        mov eax, [rbx]                      ; read  → EPT violation (if not RAM)
        mov r12d, eax
        lea rsi, [rel s_hole]
        call emit_str
        mov rax, HOLE_GVA
        call emit_hex
        lea rsi, [rel s_arrow]
        call emit_str
        mov rax, HOLE_GPA
        call emit_hex
        lea rsi, [rel s_hole2]
        call emit_str
        mov eax, r12d
        call emit_hex
        cmp r12d, 0x12345678
        lea rsi, [rel s_is_ram]
        je .ram
        lea rsi, [rel s_not_ram]
.ram:   call emit_str
        call emit_nl

        cli
        hlt                                 ; IF = 0: the run ends

; ------------------------------------------------------------------------------------------------
; Output: text collects in `line`; emit_nl sends it with one REP OUTSB (one I/O exit per line).

emit_str:                                   ; append the NUL-terminated string at RSI
        mov rdi, [rel line_end]
.copy:  lodsb
        test al, al
        jz .done
        stosb
        jmp .copy
.done:  mov [rel line_end], rdi
        ret

emit_hex:                                   ; append RAX as 0x… without leading zeros
        mov rdi, [rel line_end]
        mov word [rdi], '0x'
        add rdi, 2
        mov ecx, 16
        xor r8d, r8d                        ; r8 = 1 once a nonzero digit was written
.digit: rol rax, 4
        mov edx, eax
        and edx, 15
        or r8d, edx
        jnz .put
        cmp ecx, 1                          ; always write the last digit
        jne .skip
.put:   mov dl, [hexdigits + rdx]
        mov [rdi], dl
        inc rdi
        mov r8d, 1
.skip:  loop .digit
        mov [rel line_end], rdi
        ret

emit_nl:                                    ; end the line, write it to the debug console
        mov rdi, [rel line_end]
        mov byte [rdi], 10
        inc rdi
        lea rsi, [rel line]
        mov rcx, rdi
        sub rcx, rsi
        mov dx, DEBUGCON
        rep outsb
        lea rdi, [rel line]
        mov [rel line_end], rdi
        ret

; ------------------------------------------------------------------------------------------------
        section .data
s_cr3:     db "guest page tables: CR3 = ", 0
s_ident:   db "identity GVA ", 0
s_alias:   db "alias    GVA ", 0
s_arrow:   db " -> GPA ", 0
s_colon:   db ': "', 0
s_q:       db '"', 0
s_wrote:   db 'wrote "cherry!" through the alias; identity map now reads "', 0
s_hole:    db "hole     GVA ", 0
s_hole2:   db ": wrote 0x12345678, read back ", 0
s_is_ram:  db " (RAM: no EPT violation)", 0
s_not_ram: db " (not RAM: EPT violation, write dropped, reads all ones)", 0
hexdigits: db "0123456789abcdef"
           align 8
line_end:  dq line

; The guest's page tables (SDM vol. 3A §4.5, 4-level paging). Bit 0 = present, bit 1 = writable,
; bit 7 (in a PD entry) = 2 MiB page. Each table is one 4 KiB-aligned page of 512 8-byte entries.
        align 4096
pml4:   dq pdpt + 0x003                     ; [0] 0 – 512 GiB
        times 511 dq 0
pdpt:   dq pd_low + 0x003                   ; [0] 0 – 1 GiB
        dq pd_alias + 0x003                 ; [1] 1 – 2 GiB
        times 510 dq 0
pd_low: dq 0x000000 + 0x083                 ; [0] GVA 0 – 2 MiB → GPA 0 (2 MiB page, identity)
        times 511 dq 0
pd_alias:
        dq pt_alias + 0x003                 ; [0] GVA 0x40000000 – 0x401fffff, 4 KiB pages
        times 511 dq 0
pt_alias:
        dq page_b + 0x003                   ; [0] GVA 0x40000000 → GPA of page_b
        dq HOLE_GPA + 0x003                 ; [1] GVA 0x40001000 → GPA 0x01800000
        times 510 dq 0

page_b: db "page_b: banana", 0              ; a page of data reachable under two virtual addresses
        align 4096, db 0

        section .bss
line:   resb 256
