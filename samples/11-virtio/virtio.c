/* 11-virtio: a virtio-mmio driver in one file — a line out through virtio-console, sector 0 in through virtio-blk.
 *
 * Everything a virtio driver does happens in two places:
 *   - registers in the device's 4 KiB MMIO window (virtio 1.2 §4.2.2). Each access is an EPT violation
 *     the hypervisor emulates: watch them in the VM exits view;
 *   - virtqueues in guest RAM (§2.7, "split virtqueues"): a descriptor table saying where buffers are,
 *     an available ring where the driver lists buffers for the device, a used ring where the device
 *     returns them. The device reads and writes these directly; only the doorbell (QueueNotify) exits.
 *
 * The devices (README "Virtio devices"): virtio-console at 0xD0000000, virtio-blk at 0xD0001000.
 * The driver polls the used ring instead of taking interrupts, to keep the code short.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

/* ---------------------------------------------------------------------------------------------
 * Debug console (port 0xE9): the driver's own commentary, one REP OUTSB (one I/O exit) per string. */
static void log_str(const char *s)
{
    u64 n = 0;
    while (s[n] != 0) n++;
    __asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"((u16)0xe9) : "memory");
}

static void log_num(const char *label, u64 v, int hex)
{
    char buf[24];
    int i = sizeof buf - 1;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v % (hex ? 16 : 10)];
        v /= hex ? 16 : 10;
    } while (v != 0);
    if (hex) { buf[--i] = 'x'; buf[--i] = '0'; }
    log_str(label);
    log_str(&buf[i]);
    log_str("\n");
}

/* ---------------------------------------------------------------------------------------------
 * virtio-mmio registers (virtio 1.2 §4.2.2, table "MMIO Device Register Layout"). */
#define CONSOLE_BASE 0xd0000000ul
#define BLK_BASE 0xd0001000ul

#define REG_MAGIC 0x000             /* "virt" = 0x74726976 */
#define REG_VERSION 0x004           /* 2 */
#define REG_DEVICE_ID 0x008         /* 3 console, 2 block (§5) */
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_CONFIG 0x100            /* device-specific configuration (virtio-blk: capacity, §5.2.4) */

/* Device status bits (§2.1). */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8

static u32 reg_read(u64 base, u32 off) { return *(volatile u32 *)(base + off); }
static void reg_write(u64 base, u32 off, u32 v) { *(volatile u32 *)(base + off) = v; }

/* ---------------------------------------------------------------------------------------------
 * A split virtqueue (§2.7) of QSIZE entries: three areas in guest RAM, each with its own alignment. */
#define QSIZE 8

struct virtq_desc {            /* §2.7.5: one buffer */
    u64 addr;                  /* guest-physical address */
    u32 len;
    u16 flags;
    u16 next;                  /* next descriptor of the chain, if flags has NEXT */
};
#define DESC_F_NEXT 1          /* the chain continues at `next` */
#define DESC_F_WRITE 2         /* the device writes this buffer (else it only reads it) */

struct virtq_avail {           /* §2.7.6: the driver → device ring ("Driver Area") */
    u16 flags;
    u16 idx;                   /* where the driver will put the next entry (counts forever, mod 2^16) */
    u16 ring[QSIZE];           /* heads of descriptor chains */
};

struct virtq_used_elem { u32 id; u32 len; };
struct virtq_used {            /* §2.7.8: the device → driver ring ("Device Area") */
    u16 flags;
    u16 idx;
    struct virtq_used_elem ring[QSIZE];   /* id = head of the finished chain, len = bytes written */
};

struct virtq {
    u64 base;                  /* the device's register window */
    u16 index;                 /* queue number on the device */
    u16 last_used;             /* how many used entries we have consumed */
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
};

/* The rings of both devices (alignment from §2.7: descriptors 16, available ring 2, used ring 4). */
static struct virtq_desc console_desc[QSIZE] __attribute__((aligned(16)));
static struct virtq_avail console_avail __attribute__((aligned(2)));
static struct virtq_used console_used __attribute__((aligned(4)));
static struct virtq_desc blk_desc[QSIZE] __attribute__((aligned(16)));
static struct virtq_avail blk_avail __attribute__((aligned(2)));
static struct virtq_used blk_used __attribute__((aligned(4)));

/* A compiler barrier: stores to the ring must not be moved past the store that publishes them.
 * (A real SMP driver needs a memory barrier here too, §2.7.13; this emulator is sequentially consistent.) */
#define barrier() __asm__ volatile("" ::: "memory")

/* ---------------------------------------------------------------------------------------------
 * Device initialization (§3.1.1), steps 1-6: returns 0 if the device accepted our features. */
static int device_begin(u64 base, u32 want_device_id, const char *name)
{
    log_str("== ");
    log_str(name);
    log_str(" ==\n");
    if (reg_read(base, REG_MAGIC) != 0x74726976 || reg_read(base, REG_VERSION) != 2) {
        log_str("no virtio-mmio version 2 device here\n");
        return -1;
    }
    u32 id = reg_read(base, REG_DEVICE_ID);
    log_num("DeviceID: ", id, 0);
    if (id != want_device_id) return -1;

    reg_write(base, REG_STATUS, 0);                           /* 1. reset */
    reg_write(base, REG_STATUS, STATUS_ACKNOWLEDGE);          /* 2. we saw it */
    reg_write(base, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER); /* 3. we can drive it */

    /* 4. Features: 64 bits read 32 at a time through a selector. We accept only VIRTIO_F_VERSION_1
     *    (bit 32: "this is a virtio 1.x device/driver", §6), nothing device-specific. */
    reg_write(base, REG_DEVICE_FEATURES_SEL, 0);
    u64 offered = reg_read(base, REG_DEVICE_FEATURES);
    reg_write(base, REG_DEVICE_FEATURES_SEL, 1);
    offered |= (u64)reg_read(base, REG_DEVICE_FEATURES) << 32;
    log_num("device offers features ", offered, 1);
    u64 accepted = offered & (1ul << 32);
    reg_write(base, REG_DRIVER_FEATURES_SEL, 0);
    reg_write(base, REG_DRIVER_FEATURES, (u32)accepted);
    reg_write(base, REG_DRIVER_FEATURES_SEL, 1);
    reg_write(base, REG_DRIVER_FEATURES, (u32)(accepted >> 32));
    log_num("driver accepts features ", accepted, 1);

    /* 5-6. FEATURES_OK, then read it back: a device that cannot work with our subset clears it. */
    reg_write(base, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if ((reg_read(base, REG_STATUS) & STATUS_FEATURES_OK) == 0) {
        log_str("device refused the features\n");
        return -1;
    }
    return 0;
}

/* Step 7: set up one virtqueue (§4.2.3.2, "Virtqueue Configuration"). */
static int queue_setup(struct virtq *q, u64 base, u16 index, struct virtq_desc *desc,
                       struct virtq_avail *avail, struct virtq_used *used)
{
    q->base = base;
    q->index = index;
    q->last_used = 0;
    q->desc = desc;
    q->avail = avail;
    q->used = used;

    reg_write(base, REG_QUEUE_SEL, index);                    /* the Queue* registers now mean this queue */
    u32 max = reg_read(base, REG_QUEUE_NUM_MAX);
    log_num("QueueNumMax: ", max, 0);
    if (max < QSIZE || reg_read(base, REG_QUEUE_READY) != 0) return -1;
    reg_write(base, REG_QUEUE_NUM, QSIZE);                    /* our queue is smaller: fine */
    u64 d = (u64)desc, a = (u64)avail, u = (u64)used;         /* identity-mapped: virtual = guest-physical */
    reg_write(base, REG_QUEUE_DESC_LOW, (u32)d);
    reg_write(base, REG_QUEUE_DESC_HIGH, (u32)(d >> 32));
    reg_write(base, REG_QUEUE_DRIVER_LOW, (u32)a);
    reg_write(base, REG_QUEUE_DRIVER_HIGH, (u32)(a >> 32));
    reg_write(base, REG_QUEUE_DEVICE_LOW, (u32)u);
    reg_write(base, REG_QUEUE_DEVICE_HIGH, (u32)(u >> 32));
    reg_write(base, REG_QUEUE_READY, 1);
    log_num("queue ready, descriptors at ", d, 1);
    return 0;
}

/* Step 8: the driver is ready; from now on the device may use the queues. */
static void device_ready(u64 base)
{
    reg_write(base, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

/* Offer the chain starting at descriptor `head` to the device (§2.7.13) and ring the doorbell. */
static void queue_submit(struct virtq *q, u16 head)
{
    q->avail->ring[q->avail->idx % QSIZE] = head;             /* 1. put the head in the next ring slot */
    barrier();                                                /* 2. the slot before the index */
    q->avail->idx = q->avail->idx + 1;                        /* 3. publish: idx counts entries made available */
    barrier();
    reg_write(q->base, REG_QUEUE_NOTIFY, q->index);           /* 4. doorbell → EPT violation → the device runs */
}

/* Wait for the device to return a chain: used->idx moves past what we have consumed (§2.7.14). */
static u32 queue_wait(struct virtq *q)
{
    while (q->used->idx == q->last_used)
        __asm__ volatile("pause");
    barrier();
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % QSIZE];
    q->last_used++;
    log_num("used ring: chain head ", e->id, 0);
    log_num("used ring: bytes written by the device ", e->len, 0);
    /* The device also raised its interrupt line; acknowledge it in the device (§4.2.3.4). */
    u32 why = reg_read(q->base, REG_INTERRUPT_STATUS);
    reg_write(q->base, REG_INTERRUPT_ACK, why);
    return e->len;
}

/* ---------------------------------------------------------------------------------------------
 * virtio-console (§5.3): queue 0 is receiveq (input), queue 1 is transmitq (output of port 0). */
static struct virtq console_tx;

static void console_write(const char *s, u32 len)
{
    console_tx.desc[0].addr = (u64)s;                         /* one device-readable buffer */
    console_tx.desc[0].len = len;
    console_tx.desc[0].flags = 0;
    queue_submit(&console_tx, 0);
    queue_wait(&console_tx);
}

/* ---------------------------------------------------------------------------------------------
 * virtio-blk (§5.2): one request queue; a request is a chain header → data → status (§5.2.6). */
struct virtio_blk_req_header {
    u32 type;                  /* 0 = IN (read from the disk), 1 = OUT (write) */
    u32 reserved;
    u64 sector;                /* in 512-byte units, whatever the disk's block size */
};
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_S_OK 0

static struct virtq blk_q;
static struct virtio_blk_req_header blk_header;
static char sector[512];
static volatile u8 blk_status;

static int blk_read(u64 lba)
{
    blk_header.type = VIRTIO_BLK_T_IN;
    blk_header.reserved = 0;
    blk_header.sector = lba;
    blk_status = 0xff;

    blk_q.desc[0].addr = (u64)&blk_header;                    /* the device reads the header ... */
    blk_q.desc[0].len = sizeof blk_header;
    blk_q.desc[0].flags = DESC_F_NEXT;
    blk_q.desc[0].next = 1;
    blk_q.desc[1].addr = (u64)sector;                         /* ... writes the data ... */
    blk_q.desc[1].len = sizeof sector;
    blk_q.desc[1].flags = DESC_F_WRITE | DESC_F_NEXT;
    blk_q.desc[1].next = 2;
    blk_q.desc[2].addr = (u64)&blk_status;                    /* ... and writes one status byte */
    blk_q.desc[2].len = 1;
    blk_q.desc[2].flags = DESC_F_WRITE;
    queue_submit(&blk_q, 0);
    queue_wait(&blk_q);
    log_num("request status: ", blk_status, 0);
    return blk_status == VIRTIO_BLK_S_OK ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------------*/
static const char hello[] = "Hello through virtio-console: this line went down a virtqueue.\n";

int main(void)
{
    /* --- virtio-console: initialize, set up transmitq, send a line. */
    if (device_begin(CONSOLE_BASE, 3, "virtio-console at 0xd0000000") != 0) return 1;
    if (queue_setup(&console_tx, CONSOLE_BASE, 1, console_desc, &console_avail, &console_used) != 0) return 1;
    device_ready(CONSOLE_BASE);
    console_write(hello, sizeof hello - 1);

    /* --- virtio-blk: initialize, read the capacity from the configuration space, read sector 0. */
    if (device_begin(BLK_BASE, 2, "virtio-blk at 0xd0001000") != 0) return 1;
    u64 capacity = reg_read(BLK_BASE, REG_CONFIG) | (u64)reg_read(BLK_BASE, REG_CONFIG + 4) << 32;
    log_num("capacity (512-byte sectors): ", capacity, 0);
    if (queue_setup(&blk_q, BLK_BASE, 0, blk_desc, &blk_avail, &blk_used) != 0) return 1;
    device_ready(BLK_BASE);
    if (blk_read(0) != 0) return 1;

    /* --- the disk's message (NUL-terminated text in sector 0), printed through the console. */
    u32 len = 0;
    while (len < sizeof sector && sector[len] != 0) len++;
    log_str("\n== sector 0, through virtio-console ==\n");
    console_write(sector, len);
    return 0;
}
