; 08-mmio: device registers in memory. Every load or store below goes to a guest-physical address that
; EPT does not map, so it causes an EPT violation (exit reason 48, SDM vol. 3C §29.3.3); the hypervisor
; decodes the faulting MOV, performs the access on the emulated device and resumes the guest after it
; (emulator/vmm/mmio.ts, like KVM's x86 instruction emulator).
;
; Build: node scripts/build-samples.mjs 08-mmio   (ELF64: starts in long mode with 4 GiB identity-mapped,
; so the guest-virtual address of each register equals its guest-physical address)

LAPIC    equ 0xfee00000         ; local APIC, xAPIC mode (SDM vol. 3A §11.4.1, table 11-1)
LAPIC_ID equ 0x020              ;   Local APIC ID register: ID in bits 31:24
LAPIC_VER equ 0x030             ;   Version register: version 7:0, max LVT entry 23:16
LAPIC_TPR equ 0x080             ;   Task Priority register (read/write)
IOAPIC   equ 0xfec00000         ; I/O APIC: an index/data pair (82093AA datasheet §3.1)
IOREGSEL equ 0x00               ;   write the register number here ...
IOWIN    equ 0x10               ;   ... then read or write it here
VIRTIO0  equ 0xd0000000         ; the first virtio-mmio window (virtio 1.2 §4.2.2): the virtio-console
EMPTY    equ 0xd0003000         ; a page of the MMIO hole with no device behind it

DEBUGCON equ 0xe9

        bits 64
        section .text
        global _start
_start:
        ; ---- Local APIC: two 32-bit reads. Each MOV is one EPT violation; the exit qualification
        ;      says "data read", GUEST_PHYSICAL_ADDRESS says 0xfee00020.
        ;      (The base goes in a register: a 32-bit displacement like [0xfee00020] would be
        ;      sign-extended to 0xfffffffffee00020 in 64-bit mode, an address that is not mapped.)
        mov rbx, LAPIC
        mov eax, [rbx + LAPIC_ID]
        mov r12d, eax
        lea rsi, [rel s_lapic_id]
        call emit_str
        mov eax, r12d
        call emit_hex
        lea rsi, [rel s_apic_id]
        call emit_str
        mov eax, r12d
        shr eax, 24                         ; the APIC ID lives in bits 31:24
        call emit_dec
        call emit_nl

        mov eax, [rbx + LAPIC_VER]
        mov r12d, eax
        lea rsi, [rel s_lapic_ver]
        call emit_str
        mov eax, r12d
        call emit_hex
        lea rsi, [rel s_version]
        call emit_str
        movzx eax, r12b                     ; version: 0x1x = integrated APIC
        call emit_hex8
        lea rsi, [rel s_lvts]
        call emit_str
        mov eax, r12d
        shr eax, 16
        and eax, 0xff
        inc eax                             ; "max LVT entry" is the count minus one
        call emit_dec
        call emit_nl

        ; ---- A write, then a read back: the store is a write EPT violation (qualification bit 1),
        ;      emulated as a write to the APIC's TPR. Only bits 7:0 exist.
        mov dword [rbx + LAPIC_TPR], 0x12345620
        mov eax, [rbx + LAPIC_TPR]
        mov r12d, eax
        lea rsi, [rel s_tpr]
        call emit_str
        mov eax, r12d
        call emit_hex
        call emit_nl

        ; ---- I/O APIC: an indirect register. Write the index to IOREGSEL (one exit), read the value
        ;      from IOWIN (another exit). Register 1 is the version register.
        mov rbx, IOAPIC
        mov dword [rbx + IOREGSEL], 1
        mov eax, [rbx + IOWIN]
        mov r12d, eax
        lea rsi, [rel s_ioapic]
        call emit_str
        mov eax, r12d
        call emit_hex
        lea rsi, [rel s_version]
        call emit_str
        movzx eax, r12b
        call emit_hex8
        lea rsi, [rel s_pins]
        call emit_str
        mov eax, r12d
        shr eax, 16
        and eax, 0xff
        inc eax                             ; maximum redirection entry + 1 = number of pins
        call emit_dec
        call emit_nl

        ; ---- virtio-mmio: the identification registers at the start of the window (virtio 1.2 §4.2.2).
        mov rbx, VIRTIO0
        mov eax, [rbx + 0x000]          ; MagicValue: 0x74726976, "virt" in little-endian
        mov [magic], eax
        lea rsi, [rel s_magic]
        call emit_str
        mov eax, [magic]
        call emit_hex
        cmp dword [magic], 0x74726976       ; a virtio-mmio device answers "virt"
        je .is_virtio
        lea rsi, [rel s_no_device]
        call emit_str
        call emit_nl
        jmp .empty
.is_virtio:
        lea rsi, [rel s_quote]
        call emit_str
        lea rsi, [rel magic]                ; the four bytes as text (followed by a zero dword)
        call emit_str
        lea rsi, [rel s_quote_end]
        call emit_str
        call emit_nl

        mov eax, [rbx + 0x004]          ; Version: 2 (1 would be the legacy interface)
        mov r12d, eax
        mov eax, [rbx + 0x008]          ; DeviceID: 3 = console (virtio 1.2 §5)
        mov r13d, eax
        lea rsi, [rel s_vversion]
        call emit_str
        mov eax, r12d
        call emit_dec
        lea rsi, [rel s_devid]
        call emit_str
        mov eax, r13d
        call emit_dec
        lea rsi, [rel s_console]
        call emit_str
        call emit_nl

.empty:
        ; ---- Nothing there: the hypervisor finds no device, so it completes the read with all ones,
        ;      as a PC's bus does (master abort).
        mov rbx, EMPTY
        mov eax, [rbx]
        mov r12d, eax
        lea rsi, [rel s_empty]
        call emit_str
        mov eax, r12d
        call emit_hex
        call emit_nl

        cli
        hlt                                 ; HLT with IF = 0: the run ends

; ------------------------------------------------------------------------------------------------
; Output: text is collected in `line` and written with one REP OUTSB per line, so each line costs a
; single IO_INSTRUCTION exit and the EPT violations above stand out in the exit log.

; emit_str: append the NUL-terminated string at RSI.
emit_str:
        mov rdi, [rel line_end]
.copy:  lodsb
        test al, al
        jz .done
        stosb
        jmp .copy
.done:  mov [rel line_end], rdi
        ret

; emit_hex: append EAX as 0x%08x; emit_hex8: append AL as 0x%02x.
emit_hex:
        mov ecx, 8
        jmp hex_common
emit_hex8:
        shl eax, 24
        mov ecx, 2
hex_common:
        mov rdi, [rel line_end]
        mov word [rdi], '0x'
        add rdi, 2
.digit: rol eax, 4
        mov edx, eax
        and edx, 15
        mov dl, [hexdigits + rdx]
        mov [rdi], dl
        inc rdi
        loop .digit
        mov [rel line_end], rdi
        ret

; emit_dec: append EAX in decimal.
emit_dec:
        lea rdi, [rel decbuf + 15]
        mov byte [rdi], 0
        mov ecx, 10
.div:   xor edx, edx
        div ecx
        add dl, '0'
        dec rdi
        mov [rdi], dl
        test eax, eax
        jnz .div
        mov rsi, rdi
        jmp emit_str

; emit_nl: end the line and send it to the debug console with one REP OUTSB.
emit_nl:
        mov rdi, [rel line_end]
        mov byte [rdi], 10
        inc rdi
        lea rsi, [rel line]
        mov rcx, rdi
        sub rcx, rsi                        ; RCX = length
        mov dx, DEBUGCON
        rep outsb                           ; one VM exit for the whole line (string I/O, SDM vol. 3C table 28-5)
        lea rdi, [rel line]
        mov [rel line_end], rdi
        ret

        section .data
s_lapic_id:  db "LAPIC  0xfee00020 ID       = ", 0
s_apic_id:   db "  APIC ID ", 0
s_lapic_ver: db "LAPIC  0xfee00030 version  = ", 0
s_version:   db "  version ", 0
s_lvts:      db ", LVT entries ", 0
s_tpr:       db "LAPIC  0xfee00080 TPR      = ", 0
s_ioapic:    db "IOAPIC 0xfec00010 reg 1    = ", 0
s_pins:      db ", redirection entries ", 0
s_magic:     db "virtio 0xd0000000 magic    = ", 0
s_quote:     db ' "', 0
s_quote_end: db '"', 0
s_vversion:  db "virtio 0xd0000004 version  = ", 0
s_devid:     db ", DeviceID ", 0
s_console:   db " (console)", 0
s_no_device: db "  no virtio device here", 0
s_empty:     db "empty  0xd0003000          = ", 0
hexdigits:   db "0123456789abcdef"
        align 8
line_end:    dq line

        section .bss
magic:       resd 2
decbuf:      resb 16
line:        resb 256
