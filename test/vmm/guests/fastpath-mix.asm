; The exit fastpath's exits in a translated loop, with timer interrupts arriving in between: CPUID with a changing leaf,
; IN/OUT at unassigned ports (quiet) of sizes 1, 2 and 4, debugcon output, and a PIT + PIC timer whose interrupts make
; the hypervisor take the generic path. The PIC's ports are not quiet: every 64th iteration masks IRQ 0, spins while a
; tick comes pending and unmasks it, so the unmasking OUT's entry injects the tick (the fastpath's full evaluation).
; 32-bit protected mode without paging, flat at 0x100000. Output: one letter per 256 iterations, then "T" and the
; tick count as a letter ('A' + ticks, capped), then HLT with interrupts off.
bits 32
org 0x100000

ITERATIONS equ 6000
UNASSIGNED equ 0x3e0

start:
    ; IDT gate 0x20 (IRQ 0 after the remap): a 32-bit interrupt gate with this code segment.
    mov eax, timer
    mov [idt + 0x20 * 8], ax
    shr eax, 16
    mov [idt + 0x20 * 8 + 6], ax
    mov ax, cs
    mov [idt + 0x20 * 8 + 2], ax
    mov byte [idt + 0x20 * 8 + 5], 0x8e
    lidt [idtr]
    ; PIC: vectors 0x20-0x2f, only IRQ 0 unmasked; PIT channel 0 in mode 2 at ~149 kHz (divisor 8: a tick every few thousand instructions).
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov al, 0x34
    out 0x43, al
    mov al, 8
    out 0x40, al
    xor al, al
    out 0x40, al
    sti

    xor edi, edi                ; the iteration (CPUID writes EAX, EBX, ECX and EDX)
    xor esi, esi
.loop:
    mov eax, edi
    and eax, 3                  ; leaves 0..3 in turn (the CPUID answer's memo changes)
    xor ecx, ecx
    cpuid
    add esi, ebx                ; CPUID's answer feeds the checksum
    mov edx, UNASSIGNED
    in eax, dx                  ; unassigned: all ones
    add esi, eax
    in al, 0xe0                 ; size 1, immediate port: AL only
    out dx, ax                  ; size 2, dropped
    out 0xe2, eax               ; size 4, immediate port
    add esi, eax
    test edi, 63
    jnz .unmasked
    mov al, 0xff
    out 0x21, al                ; mask IRQ 0 (the PIC latches a tick in IRR all the same)
    mov ecx, 3000
.spin:
    dec ecx
    jnz .spin
    mov al, 0xfe
    out 0x21, al                ; unmask it: the pending tick is injected at this exit's entry
.unmasked:
    test edi, 255
    jnz .next
    mov eax, edi
    shr eax, 8
    add al, 'a'
    out 0xe9, al                ; debugcon
.next:
    inc edi
    cmp edi, ITERATIONS
    jne .loop

    cli
    mov al, 'T'
    out 0xe9, al
    mov eax, [ticks]
    cmp eax, 25
    jbe .print
    mov eax, 25
.print:
    add al, 'A'
    out 0xe9, al
    mov [checksum], esi
    hlt

timer:
    push eax
    inc dword [ticks]
    mov al, 0x20
    out 0x20, al                ; EOI
    pop eax
    iretd

align 8
idtr:
    dw 0x30 * 8 - 1
    dd idt
ticks: dd 0
checksum: dd 0
align 8
idt: times 0x30 * 8 db 0
