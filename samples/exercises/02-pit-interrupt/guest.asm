; Exercise 02-pit-interrupt (starter): program the 8254 PIT and the 8259 PIC, handle IRQ 0 as vector 0x20, count 3 ticks.
;
; The PIT and PIC are emulated by the hypervisor (each OUT below is an IO_INSTRUCTION exit). A tick
; reaches the guest by event injection at VM entry (VM-entry interruption-information field, SDM vol.
; 3C §27.6); while the guest waits in HLT (an HLT exit), the hypervisor idles the virtual clock to the
; PIT's next deadline. Read samples/09-interrupts/interrupts.asm first.

DEBUGCON    equ 0xE9
DEBUGEXIT   equ 0xF4
PIC1_CMD    equ 0x20        ; master 8259: command / data ports
PIC1_DATA   equ 0x21
PIC2_CMD    equ 0xA0        ; slave 8259
PIC2_DATA   equ 0xA1
PIT_CH0     equ 0x40        ; 8254 channel 0 counter (its output is IRQ 0)
PIT_CMD     equ 0x43        ; 8254 mode/command register
PIT_DIVISOR equ 11932       ; 1 193 182 Hz / 11932 ≈ 100 Hz
TIMER_VEC   equ 0x20        ; IRQ 0 once the PIC is remapped
TICKS       equ 3

        bits 64
        section .text
        global _start
_start:
        ; ---- The IDT (given): every vector to `unexpected`, vector 0x20 to `timer_isr` (SDM vol. 3A §6.14.1).
        xor ecx, ecx
.fill:  lea rax, [rel unexpected]
        call set_gate
        inc ecx
        cmp ecx, 48
        jne .fill
        mov ecx, TIMER_VEC
        lea rax, [rel timer_isr]
        call set_gate
        lidt [rel idtr]

        ; TODO 1: initialize the master and slave 8259 PIC (ICW1..ICW4) so that IRQ 0 arrives as
        ;         vector TIMER_VEC (0x20), and mask every line except IRQ 0 (OCW1).
        ; TODO 2: program PIT channel 0 as a rate generator (mode 2, lobyte/hibyte, binary) with
        ;         PIT_DIVISOR: the control word to PIT_CMD, then the divisor's low and high bytes to PIT_CH0.

        ; ---- Wait for the ticks (given): STI; HLT until the ISR has counted TICKS of them.
        sti
.wait:  hlt
        cmp dword [rel ticks], TICKS
        jb .wait
        cli
        lea rsi, [rel s_done]
        call puts
        xor eax, eax
        out DEBUGEXIT, al           ; exit code 1

; timer_isr: vector 0x20 (the CPU pushed SS, RSP, RFLAGS, CS, RIP and cleared IF).
timer_isr:
        push rax
        push rsi
        inc dword [rel ticks]
        lea rsi, [rel s_tick]
        call puts
        mov eax, [rel ticks]
        add al, '0'
        out DEBUGCON, al
        mov al, 10
        out DEBUGCON, al
        mov al, 0x20                ; OCW2: non-specific EOI, or the PIC never delivers IRQ 0 again
        out PIC1_CMD, al
        pop rsi
        pop rax
        iretq

unexpected:
        lea rsi, [rel s_unexpected]
        call puts
        mov al, 1
        out DEBUGEXIT, al           ; exit code 3

; set_gate: IDT entry ECX → handler RAX (64-bit interrupt gate, the current CS).
set_gate:
        push rdi
        mov rdi, rcx
        shl rdi, 4
        lea rdx, [rel idt]
        add rdi, rdx
        mov [rdi], ax
        mov dx, cs
        mov [rdi + 2], dx
        mov word [rdi + 4], 0x8e00  ; P=1, DPL=0, type 0xE
        shr rax, 16
        mov [rdi + 6], ax
        shr rax, 16
        mov [rdi + 8], eax
        mov dword [rdi + 12], 0
        pop rdi
        ret

; puts: the NUL-terminated string at RSI to the debug console.
puts:
        push rax
.next:  lodsb
        test al, al
        jz .done
        out DEBUGCON, al
        jmp .next
.done:  pop rax
        ret

        section .data
idtr:           dw 48 * 16 - 1
                dq idt
s_tick:         db "tick ", 0
s_done:         db "3 ticks counted", 10, 0
s_unexpected:   db "unexpected exception", 10, 0

        section .bss
        alignb 16
idt:            resb 48 * 16
ticks:          resd 1
