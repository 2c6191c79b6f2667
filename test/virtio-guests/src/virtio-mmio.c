/* Driver side of virtio-mmio version 2 and split virtqueues, from the virtio 1.2 spec: initialization, queues, buffers, notifications, interrupts. */
#include "virtio.h"

/* ---- Register access ----
 * Every access to the register window is a VM exit that the hypervisor emulates by decoding the
 * instruction, so each one must be a plain MOV. A volatile pointer alone is not enough: gcc may fold
 * a volatile load into `cmp [mem], imm`. These asm statements always emit exactly one MOV. */
static inline u32 mmio_read32(struct virtio_dev *d, u32 off) {
  u32 v;
  __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*(volatile u32 *)(d->base + off)));
  return v;
}
static inline u16 mmio_read16(struct virtio_dev *d, u32 off) {
  u16 v;
  __asm__ volatile("movw %1, %0" : "=r"(v) : "m"(*(volatile u16 *)(d->base + off)));
  return v;
}
static inline u8 mmio_read8(struct virtio_dev *d, u32 off) {
  u8 v;
  __asm__ volatile("movb %1, %0" : "=q"(v) : "m"(*(volatile u8 *)(d->base + off)));
  return v;
}
static inline void mmio_write32(struct virtio_dev *d, u32 off, u32 v) {
  __asm__ volatile("movl %1, %0" : "=m"(*(volatile u32 *)(d->base + off)) : "r"(v) : "memory");
}

/* ---- Memory barriers ----
 * The device (another agent) reads the rings in guest memory. On x86 (SDM vol. 3A §9.2.2) stores are
 * not reordered with other stores and loads not with other loads, so the write and read barriers
 * only have to stop the compiler; a store followed by a load of another location can be reordered,
 * so the full barrier needs a locked instruction. The emulator is sequentially consistent anyway. */
#define virtio_wmb() __asm__ volatile("" ::: "memory")
#define virtio_rmb() __asm__ volatile("" ::: "memory")
#define virtio_mb() __asm__ volatile("lock; addl $0, (%%esp)" ::: "memory", "cc")

const char *virtio_strerror(int e) {
  switch (e) {
  case VIRTIO_OK: return "ok";
  case VIRTIO_E_NO_DEVICE: return "no virtio device in the window";
  case VIRTIO_E_VERSION: return "not virtio-mmio version 2";
  case VIRTIO_E_RESET: return "device did not reset";
  case VIRTIO_E_FEATURES: return "device did not keep FEATURES_OK";
  case VIRTIO_E_QUEUE_MISSING: return "queue not available (QueueNumMax 0)";
  case VIRTIO_E_QUEUE_IN_USE: return "queue already in use";
  case VIRTIO_E_NO_MEMORY: return "out of ring memory";
  case VIRTIO_E_QUEUE_FULL: return "queue full";
  case VIRTIO_E_BAD_USED: return "device returned an unknown buffer id";
  case VIRTIO_E_NEEDS_RESET: return "device needs reset";
  default: return "unknown error";
  }
}

int virtio_probe(struct virtio_dev *d, uptr base, u32 irq) {
  memset(d, 0, sizeof *d);
  d->base = base;
  d->irq = irq;
  if (mmio_read32(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC) return VIRTIO_E_NO_DEVICE; /* e.g. all ones: nothing mapped */
  if (mmio_read32(d, VIRTIO_MMIO_VERSION) != 2) return VIRTIO_E_VERSION;
  d->device_id = mmio_read32(d, VIRTIO_MMIO_DEVICE_ID);
  if (d->device_id == 0) return VIRTIO_E_NO_DEVICE; /* a transport with no device behind it (§4.2.3.1.1) */
  return VIRTIO_OK;
}

u32 virtio_get_status(struct virtio_dev *d) { return mmio_read32(d, VIRTIO_MMIO_STATUS); }
void virtio_set_status(struct virtio_dev *d, u32 status) { mmio_write32(d, VIRTIO_MMIO_STATUS, status); }
void virtio_reset(struct virtio_dev *d) { virtio_set_status(d, 0); }
void virtio_fail(struct virtio_dev *d) { virtio_set_status(d, virtio_get_status(d) | VIRTIO_STATUS_FAILED); }

static u64 read_device_features(struct virtio_dev *d) {
  mmio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  u64 hi = mmio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
  mmio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  u64 lo = mmio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
  return (hi << 32) | lo;
}

static void write_driver_features(struct virtio_dev *d, u64 f) {
  mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(f >> 32));
  mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)f);
}

/* Device initialization, virtio 1.2 §3.1.1 steps 1-6. */
int virtio_begin(struct virtio_dev *d, u64 wanted_features) {
  /* 1. Reset the device, and wait until Status reads 0 (§4.2.3.1.1: reset is complete then). */
  virtio_reset(d);
  int tries = 0;
  while (virtio_get_status(d) != 0)
    if (++tries == 1000) return VIRTIO_E_RESET;
  /* 2. ACKNOWLEDGE: we have noticed the device. 3. DRIVER: we know how to drive it. */
  virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
  virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  /* 4. Read the device's features and write the subset we understand. */
  d->device_features = read_device_features(d);
  d->features = d->device_features & wanted_features;
  write_driver_features(d, d->features);
  /* 5. FEATURES_OK: no more feature changes. 6. Re-read Status: if FEATURES_OK is gone, the device
   * does not support this subset and is unusable. */
  virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
  if (!(virtio_get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
    virtio_fail(d);
    return VIRTIO_E_FEATURES;
  }
  return VIRTIO_OK;
}

/* Ring memory: one zeroed 4 KiB page per queue holds the descriptor table, the available and the used
 * ring (virtio-mmio v2 takes three separate addresses; §2.7 gives the alignments 16, 2 and 4). */
#define RING_PAGES 8
static u8 ring_pool[RING_PAGES][4096] __attribute__((aligned(4096)));
static int ring_pages_used;

/* Virtqueue configuration, §4.2.3.2 (step 7 of §3.1.1). */
int virtio_setup_queue(struct virtio_dev *d, u16 index, u16 max_size) {
  if (index >= VIRTIO_MAX_QUEUES) return VIRTIO_E_QUEUE_MISSING;
  struct virtq *q = &d->vq[index];
  /* 1. Select the queue. 2. It must not be in use yet. */
  mmio_write32(d, VIRTIO_MMIO_QUEUE_SEL, index);
  if (mmio_read32(d, VIRTIO_MMIO_QUEUE_READY) != 0) return VIRTIO_E_QUEUE_IN_USE;
  /* 3. QueueNumMax: 0 means there is no such queue. Our size: a power of 2 (§2.7) not above the
   *    device's maximum, ours, or VIRTQ_MAX_SIZE. */
  u32 max = mmio_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
  if (max == 0) return VIRTIO_E_QUEUE_MISSING;
  if (max > max_size) max = max_size;
  if (max > VIRTQ_MAX_SIZE) max = VIRTQ_MAX_SIZE;
  u16 num = 1;
  while ((u32)num * 2 <= max) num *= 2;
  /* 4. Allocate and zero the queue memory (physically contiguous: paging is off here). */
  if (ring_pages_used == RING_PAGES) return VIRTIO_E_NO_MEMORY;
  u8 *page = ring_pool[ring_pages_used++];
  memset(page, 0, 4096);
  memset(q, 0, sizeof *q);
  q->dev = d;
  q->index = index;
  q->num = num;
  q->desc = (struct virtq_desc *)page;                                              /* 16 * num bytes */
  q->avail = (struct virtq_avail *)(page + 16 * num);                               /* 6 + 2 * num */
  q->used = (struct virtq_used *)(page + ((16 * num + 6 + 2 * num + 3) & ~3u));     /* 6 + 8 * num */
  for (u16 i = 0; i < num; i++) q->desc[i].next = (u16)(i + 1); /* every descriptor free, in a list */
  q->free_head = 0;
  q->num_free = num;
  /* 5. QueueNum. 6. The three areas' guest-physical addresses. 7. QueueReady = 1. */
  mmio_write32(d, VIRTIO_MMIO_QUEUE_NUM, num);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)(uptr)q->desc);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (u32)(uptr)q->avail);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (u32)(uptr)q->used);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
  mmio_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
  return VIRTIO_OK;
}

/* §3.1.1 step 8: the driver is ready; from now on the device may use the queues. */
void virtio_driver_ok(struct virtio_dev *d) { virtio_set_status(d, virtio_get_status(d) | VIRTIO_STATUS_DRIVER_OK); }

/* ---- Configuration space (§4.2.2.2: accesses as wide as the field; §2.5.1: a multi-word field is read
 * again if ConfigGeneration changed meanwhile, because the device may have changed it half-way). */
u8 virtio_config8(struct virtio_dev *d, u32 off) { return mmio_read8(d, VIRTIO_MMIO_CONFIG + off); }
u16 virtio_config16(struct virtio_dev *d, u32 off) { return mmio_read16(d, VIRTIO_MMIO_CONFIG + off); }
u32 virtio_config32(struct virtio_dev *d, u32 off) { return mmio_read32(d, VIRTIO_MMIO_CONFIG + off); }
u64 virtio_config64(struct virtio_dev *d, u32 off) {
  u32 gen, lo, hi, tries = 0;
  do {
    gen = mmio_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
    lo = mmio_read32(d, VIRTIO_MMIO_CONFIG + off);
    hi = mmio_read32(d, VIRTIO_MMIO_CONFIG + off + 4);
  } while (mmio_read32(d, VIRTIO_MMIO_CONFIG_GENERATION) != gen && ++tries < 100);
  return ((u64)hi << 32) | lo;
}

/* ---- Supplying buffers to the device (§2.7.13) ---- */
int virtq_add(struct virtq *q, const struct virtio_buf *out, int n_out, const struct virtio_buf *in, int n_in) {
  int n = n_out + n_in;
  if (n <= 0 || n > q->num_free) return -VIRTIO_E_QUEUE_FULL;
  /* 1. Fill a chain of free descriptors: device-readable ones first, then device-writable (§2.7.4.2). */
  u16 head = q->free_head, i = head, last = head;
  for (int k = 0; k < n; k++) {
    const struct virtio_buf *b = k < n_out ? &out[k] : &in[k - n_out];
    struct virtq_desc *dsc = &q->desc[i];
    dsc->addr = (u64)(uptr)b->addr;
    dsc->len = b->len;
    dsc->flags = (u16)((k < n_out ? 0 : VIRTQ_DESC_F_WRITE) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
    last = i;
    i = dsc->next; /* the free list's link doubles as the chain's link */
  }
  q->free_head = q->desc[last].next;
  q->num_free = (u16)(q->num_free - n);
  q->chain_len[head] = (u8)n;
  /* 2. Put the head in the available ring. 3. The descriptors and ring entry must be visible before
   * the index that publishes them (§2.7.13.3.1). 4. Advance avail->idx. */
  q->avail->ring[q->avail_idx & (q->num - 1)] = head;
  virtio_wmb();
  q->avail_idx++;
  q->avail->idx = q->avail_idx;
  return head;
}

/* Available buffer notification (§2.7.13.4, §4.2.3.3): write the queue index to QueueNotify. The device may
 * ask not to be notified (VIRTQ_USED_F_NO_NOTIFY, §2.7.10): read that only after avail->idx is visible. */
void virtq_kick(struct virtq *q) {
  virtio_mb();
  if (!(q->used->flags & VIRTQ_USED_F_NO_NOTIFY)) mmio_write32(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

int virtq_has_used(struct virtq *q) { return *(volatile u16 *)&q->used->idx != q->last_used; }

/* Take one finished chain off the used ring (§2.7.14) and free its descriptors. The device is not
 * trusted: an id that is not a chain in flight is reported, not followed. */
int virtq_get_used(struct virtq *q, u32 *len) {
  if (!virtq_has_used(q)) return -1;
  virtio_rmb(); /* read the entry only after seeing the index that published it */
  struct virtq_used_elem e = q->used->ring[q->last_used & (q->num - 1)];
  q->last_used++;
  if (e.id >= q->num || q->chain_len[e.id] == 0) return -VIRTIO_E_BAD_USED;
  u16 n = q->chain_len[e.id], i = (u16)e.id;
  q->chain_len[e.id] = 0;
  for (u16 k = 1; k < n; k++) i = q->desc[i].next; /* the chain's last descriptor ... */
  q->desc[i].next = q->free_head;                   /* ... links to the old free list */
  q->free_head = (u16)e.id;
  q->num_free = (u16)(q->num_free + n);
  if (len) *len = e.len;
  return (int)e.id;
}

/* Wait for a used buffer with interrupts: check with IF=0, then STI;HLT, so an interrupt arriving
 * between the check and the HLT still wakes us (see sti_hlt in kernel.h). */
int virtq_wait_used(struct virtq *q, u32 *len) {
  for (;;) {
    cli();
    if (virtq_has_used(q)) break;
    if (virtio_get_status(q->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
      sti();
      return -VIRTIO_E_NEEDS_RESET;
    }
    sti_hlt();
  }
  sti();
  return virtq_get_used(q, len);
}

/* ---- Notifications from the device (§4.2.3.4) ---- */
u32 virtio_ack_interrupt(struct virtio_dev *d) {
  u32 why = mmio_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
  if (why) mmio_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, why); /* the line drops once all bits are acknowledged */
  return why;
}

static void virtio_irq(void *arg) {
  struct virtio_dev *d = arg;
  u32 why = virtio_ack_interrupt(d);
  if (why) d->interrupts++;
  if (why & VIRTIO_MMIO_INT_CONFIG) d->config_changes++;
  /* Used buffers are reaped by the code waiting for them (virtq_wait_used), not here. */
}

void virtio_enable_interrupts(struct virtio_dev *d) { irq_install(d->irq, virtio_irq, d); }

/* Default windows of the vmscope platform (README "Virtio devices"), used when the command line has none. */
#ifndef VIRTIO_MMIO_DEFAULTS
#define VIRTIO_MMIO_DEFAULTS {0xD0000000u, 0x1000, 5}, {0xD0001000u, 0x1000, 9}, {0xD0002000u, 0x1000, 10}
#endif

int virtio_find(struct virtio_dev *d, u32 device_id, const char *cmdline) {
  static const struct mmio_window defaults[] = {VIRTIO_MMIO_DEFAULTS};
  struct mmio_window w[16];
  int n = parse_virtio_cmdline(cmdline, w, 16);
  const struct mmio_window *list = n > 0 ? w : defaults;
  if (n == 0) n = (int)(sizeof defaults / sizeof defaults[0]);
  for (int i = 0; i < n; i++)
    if (virtio_probe(d, list[i].base, list[i].irq) == VIRTIO_OK && d->device_id == device_id) return VIRTIO_OK;
  return VIRTIO_E_NO_DEVICE;
}
