; Port-I/O script interpreter, a multiboot (0.6.96 §3.1, a.out kludge) guest for QEMU: runs the op list
; appended after `script` and echoes every value read to port 0xE9 (isa-debugcon), low byte first.
; Op encoding: op(1) port(2) [value(1|2|4) for writes]. Ops: 0 halt, 1/2/3 out b/w/d, 4/5/6 in b/w/d (echoed),
; 7 in b (discarded).
bits 32
org 0x100000
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000
header:
  dd MB_MAGIC
  dd MB_FLAGS
  dd -(MB_MAGIC + MB_FLAGS)
  dd header
  dd header
  dd 0
  dd 0
  dd start
start:
  cli
  mov esi, script
next:
  movzx ebx, byte [esi]
  movzx edx, word [esi + 1]
  add esi, 3
  cmp ebx, 7
  ja halt
  jmp [table + ebx * 4]
table: dd halt, outb, outw, outd, inb, inw, ind, inq
outb:
  mov al, [esi]
  inc esi
  out dx, al
  jmp next
outw:
  mov ax, [esi]
  add esi, 2
  out dx, ax
  jmp next
outd:
  mov eax, [esi]
  add esi, 4
  out dx, eax
  jmp next
inb:
  in al, dx
  out 0xe9, al
  jmp next
inw:
  in ax, dx
  out 0xe9, al
  mov al, ah
  out 0xe9, al
  jmp next
ind:
  in eax, dx
  mov ecx, 4
.l:
  out 0xe9, al
  shr eax, 8
  loop .l
  jmp next
inq:
  in al, dx
  jmp next
halt:
  hlt
  jmp halt
align 4
script:
