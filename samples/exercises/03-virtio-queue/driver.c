/* Exercise 03-virtio-queue: a virtio-console driver over virtio-mmio; send one line down transmitq.
 *
 * Given: device initialization (virtio 1.2 §3.1.1), queue setup (§4.2.3.2) and waiting for the used
 * ring (§2.7.14). Your part is console_write(): describe the buffer in a descriptor (§2.7.5), offer it in
 * the available ring (§2.7.6, §2.7.13) and ring the doorbell (QueueNotify). Read samples/11-virtio first.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

static void log_str(const char *s)               /* debug console (port 0xE9): one REP OUTSB */
{
    u64 n = 0;
    while (s[n] != 0) n++;
    __asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"((u16)0xe9) : "memory");
}

#define CONSOLE_BASE 0xd0000000ul                 /* virtio-console's MMIO window (README "Virtio devices") */
#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DEVICE_FEATURES 0x010
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4

static u32 reg_read(u32 off) { return *(volatile u32 *)(CONSOLE_BASE + off); }
static void reg_write(u32 off, u32 v) { *(volatile u32 *)(CONSOLE_BASE + off) = v; }

#define QSIZE 8
#define TRANSMITQ 1                                /* virtio-console: queue 0 receiveq, queue 1 transmitq (§5.3.2) */
struct virtq_desc { u64 addr; u32 len; u16 flags; u16 next; };                 /* §2.7.5 */
struct virtq_avail { u16 flags; u16 idx; u16 ring[QSIZE]; };                    /* §2.7.6 */
struct virtq_used_elem { u32 id; u32 len; };
struct virtq_used { u16 flags; u16 idx; struct virtq_used_elem ring[QSIZE]; };  /* §2.7.8 */

static volatile struct virtq_desc desc[QSIZE] __attribute__((aligned(16)));
static volatile struct virtq_avail avail __attribute__((aligned(2)));
static volatile struct virtq_used used __attribute__((aligned(4)));
static u16 last_used;

#define barrier() __asm__ volatile("" ::: "memory")

static int console_init(void)
{
    if (reg_read(REG_MAGIC) != 0x74726976 || reg_read(REG_VERSION) != 2 || reg_read(REG_DEVICE_ID) != 3) return -1;
    reg_write(REG_STATUS, 0);                      /* reset, ACKNOWLEDGE, DRIVER (§3.1.1 steps 1-3) */
    reg_write(REG_STATUS, 1);
    reg_write(REG_STATUS, 1 | 2);
    reg_write(REG_DRIVER_FEATURES_SEL, 0);         /* accept only VIRTIO_F_VERSION_1 (bit 32) */
    reg_write(REG_DRIVER_FEATURES, 0);
    reg_write(REG_DRIVER_FEATURES_SEL, 1);
    reg_write(REG_DRIVER_FEATURES, 1);
    reg_write(REG_STATUS, 1 | 2 | 8);              /* FEATURES_OK, read back */
    if ((reg_read(REG_STATUS) & 8) == 0) return -1;
    reg_write(REG_QUEUE_SEL, TRANSMITQ);           /* transmitq: size and the three areas (§4.2.3.2) */
    if (reg_read(REG_QUEUE_NUM_MAX) < QSIZE) return -1;
    reg_write(REG_QUEUE_NUM, QSIZE);
    reg_write(REG_QUEUE_DESC_LOW, (u32)(u64)desc);
    reg_write(REG_QUEUE_DESC_HIGH, 0);
    reg_write(REG_QUEUE_DRIVER_LOW, (u32)(u64)&avail);
    reg_write(REG_QUEUE_DRIVER_HIGH, 0);
    reg_write(REG_QUEUE_DEVICE_LOW, (u32)(u64)&used);
    reg_write(REG_QUEUE_DEVICE_HIGH, 0);
    reg_write(REG_QUEUE_READY, 1);
    reg_write(REG_STATUS, 1 | 2 | 8 | 4);          /* DRIVER_OK (§3.1.1 step 8) */
    return 0;
}

/* Wait (boundedly) until the device returns a buffer in the used ring (§2.7.14). */
static int wait_used(void)
{
    for (u32 spins = 0; used.idx == last_used; spins++) {
        if (spins > 20000) return -1;
        __asm__ volatile("pause");
    }
    last_used++;
    return 0;
}

/* Send `len` bytes at `s` through transmitq. */
static void console_write(const char *s, u32 len)
{
    /* TODO 1: describe the buffer in descriptor 0: its guest-physical address (identity-mapped: the
     *         pointer itself), its length, and flags 0 (the device only reads it).
     * TODO 2: put the chain's head (descriptor 0) in avail.ring[avail.idx % QSIZE], then publish it by
     *         incrementing avail.idx (barrier() between the two stores).
     * TODO 3: ring the doorbell: write the queue's number (TRANSMITQ) to REG_QUEUE_NOTIFY. */
    (void)s;
    (void)len;
}

static const char line[] = "Hello down a virtqueue!\n";

int main(void)
{
    if (console_init() != 0) { log_str("virtio-console: initialization failed\n"); return 2; }
    log_str("virtio-console ready, transmitq set up\n");
    console_write(line, sizeof line - 1);
    if (wait_used() != 0) { log_str("transmitq: the device never returned the buffer (used.idx did not move)\n"); return 1; }
    log_str("transmitq: the device returned the buffer\n");
    return 0;
}
