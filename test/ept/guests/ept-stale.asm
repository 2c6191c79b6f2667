; EPT cache guest: writes a page, exits (port 0xE9), writes again after the hypervisor made it read-only without INVEPT, exits, writes after INVEPT.
bits 64
org 0x100000
    mov qword [0x400000], 1          ; writable: fills the translation caches
    mov al, 'a'
    out 0xe9, al                     ; the handler makes the EPT entry read-only, no INVEPT
    mov qword [0x400000], 2          ; stale cached mapping: the write still lands
    mov al, 'b'
    out 0xe9, al                     ; the handler executes INVEPT
    mov qword [0x400000], 3          ; EPT violation now
    mov al, 0x12
    out 0xf4, al
