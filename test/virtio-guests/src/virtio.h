/* Driver side of virtio-mmio version 2 and split virtqueues (virtio 1.2 §2, §3.1, §4.2), for the virtio test guests. */
#ifndef VIRTIO_H
#define VIRTIO_H
#include "kernel.h"

/* ---- virtio-mmio register layout (virtio 1.2 §4.2.2, "MMIO Device Register Layout") ---- */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000 /* R: 0x74726976, "virt" in little-endian */
#define VIRTIO_MMIO_VERSION 0x004     /* R: 2 (version 1 is the legacy interface) */
#define VIRTIO_MMIO_DEVICE_ID 0x008   /* R: virtio device type (§5), 0 = no device here */
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010     /* R: 32 feature bits, the word chosen by ... */
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014 /* W: ... this selector (0: bits 0-31, 1: bits 32-63) */
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030     /* W: the queue the Queue* registers below refer to */
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034 /* R: largest queue size the device supports; 0 = no such queue */
#define VIRTIO_MMIO_QUEUE_NUM 0x038     /* W: the queue size the driver chose */
#define VIRTIO_MMIO_QUEUE_READY 0x044   /* RW: 1 once the queue's addresses are set */
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050  /* W: queue index: "there are new buffers" (the doorbell) */
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060 /* R: why the device interrupted (bits below) */
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064    /* W: the bits the driver has handled */
#define VIRTIO_MMIO_STATUS 0x070           /* RW: device status (§2.1); writing 0 resets the device */
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080   /* W: Descriptor Area address, low/high 32 bits */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090 /* W: Driver Area (the available ring) */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0 /* W: Device Area (the used ring) */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc /* R: changes when the device changes its config space */
#define VIRTIO_MMIO_CONFIG 0x100            /* device-specific configuration space (§5.x.4) */

#define VIRTIO_MMIO_MAGIC 0x74726976u

#define VIRTIO_MMIO_INT_VRING (1u << 0)  /* Used Buffer Notification */
#define VIRTIO_MMIO_INT_CONFIG (1u << 1) /* Configuration Change Notification */

/* ---- Device status field (§2.1) ---- */
#define VIRTIO_STATUS_ACKNOWLEDGE 1 /* the guest has noticed the device */
#define VIRTIO_STATUS_DRIVER 2      /* the guest knows how to drive it */
#define VIRTIO_STATUS_DRIVER_OK 4   /* the driver is set up and ready */
#define VIRTIO_STATUS_FEATURES_OK 8 /* feature negotiation is complete */
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128 /* the driver gave up on the device */

/* ---- Reserved feature bits (§6) ---- */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32 /* a virtio 1.x device; a modern device may refuse a driver without it */
#define VIRTIO_BIT(n) (1ull << (n))

/* Device IDs (§5) */
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* ---- Split virtqueue (§2.7), all fields little-endian ---- */
struct virtq_desc { /* §2.7.5 */
  u64 addr;         /* guest-physical address of the buffer */
  u32 len;
  u16 flags;
  u16 next;         /* the next descriptor of the chain when flags has NEXT */
};
#define VIRTQ_DESC_F_NEXT 1     /* the chain continues in `next` */
#define VIRTQ_DESC_F_WRITE 2    /* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4 /* not used here */

struct virtq_avail { /* §2.7.6: the Driver Area */
  u16 flags;
  u16 idx;           /* where the driver puts the next ring entry (free-running, wraps at 2^16) */
  u16 ring[];        /* heads of descriptor chains; then u16 used_event (EVENT_IDX only) */
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
  u32 id;  /* head of the chain the device has finished with */
  u32 len; /* bytes the device wrote into the chain's device-writable buffers */
};
struct virtq_used { /* §2.7.8: the Device Area */
  u16 flags;
  u16 idx;
  struct virtq_used_elem ring[]; /* then u16 avail_event (EVENT_IDX only) */
};
#define VIRTQ_USED_F_NO_NOTIFY 1

/* ---- The driver ---- */
#define VIRTQ_MAX_SIZE 64 /* this driver's queues are at most this big (a ring fits in one 4 KiB page) */
#define VIRTIO_MAX_QUEUES 2

struct virtio_dev;
struct virtq {
  struct virtio_dev *dev;
  u16 index;     /* queue number on the device */
  u16 num;       /* queue size, a power of 2 */
  u16 free_head; /* free descriptors form a list through `next` */
  u16 num_free;
  u16 avail_idx; /* our copy of avail->idx */
  u16 last_used; /* how far we have consumed used->idx */
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;
  u8 chain_len[VIRTQ_MAX_SIZE]; /* per head in flight: descriptors in its chain (0: not in flight) */
};

struct virtio_dev {
  uptr base; /* the 4 KiB register window */
  u32 irq;
  u32 device_id;
  u64 device_features; /* offered by the device */
  u64 features;        /* accepted by the driver (and kept by the device) */
  struct virtq vq[VIRTIO_MAX_QUEUES];
  volatile u32 interrupts;         /* interrupts handled */
  volatile u32 config_changes;     /* of which Configuration Change Notifications */
};

enum virtio_error {
  VIRTIO_OK = 0,
  VIRTIO_E_NO_DEVICE,       /* bad magic, or DeviceID 0 (an empty transport) */
  VIRTIO_E_VERSION,         /* not virtio-mmio version 2 */
  VIRTIO_E_RESET,           /* Status did not read 0 after the reset */
  VIRTIO_E_FEATURES,        /* the device cleared FEATURES_OK: it refuses our feature subset (§3.1.1 step 6) */
  VIRTIO_E_QUEUE_MISSING,   /* QueueNumMax is 0 */
  VIRTIO_E_QUEUE_IN_USE,    /* QueueReady already 1 */
  VIRTIO_E_NO_MEMORY,       /* the static ring pool is used up */
  VIRTIO_E_QUEUE_FULL,      /* not enough free descriptors */
  VIRTIO_E_BAD_USED,        /* the device returned an id that is not a chain in flight */
  VIRTIO_E_NEEDS_RESET,     /* the device set DEVICE_NEEDS_RESET */
};
const char *virtio_strerror(int e);

/* Device initialization (§3.1.1) in three calls: begin (steps 1-6), set up queues (step 7), driver_ok (step 8). */
int virtio_probe(struct virtio_dev *d, uptr base, u32 irq);
int virtio_begin(struct virtio_dev *d, u64 wanted_features); /* accepts wanted & offered */
int virtio_setup_queue(struct virtio_dev *d, u16 index, u16 max_size);
void virtio_driver_ok(struct virtio_dev *d);
void virtio_fail(struct virtio_dev *d); /* set FAILED: the driver gives up */
void virtio_reset(struct virtio_dev *d);
u32 virtio_get_status(struct virtio_dev *d);
void virtio_set_status(struct virtio_dev *d, u32 status);

/* Device-specific configuration space (§4.2.2.2: access width = field width; 64-bit fields as two
 * 32-bit reads made consistent with ConfigGeneration, §2.5.1). */
u8 virtio_config8(struct virtio_dev *d, u32 offset);
u16 virtio_config16(struct virtio_dev *d, u32 offset);
u32 virtio_config32(struct virtio_dev *d, u32 offset);
u64 virtio_config64(struct virtio_dev *d, u32 offset);

/* Buffers: `out` ones the device reads, then `in` ones it writes (§2.7.4.2 keeps that order). */
struct virtio_buf {
  void *addr;
  u32 len;
};
int virtq_add(struct virtq *q, const struct virtio_buf *out, int n_out, const struct virtio_buf *in, int n_in);
void virtq_kick(struct virtq *q);      /* QueueNotify, unless the device asked for no notifications */
int virtq_has_used(struct virtq *q);
int virtq_get_used(struct virtq *q, u32 *len); /* head of a finished chain, -1 if none, or -VIRTIO_E_BAD_USED */
int virtq_wait_used(struct virtq *q, u32 *len); /* as virtq_get_used, sleeping in HLT until one arrives */

/* Interrupts (§4.2.3.4): read InterruptStatus, write the bits handled to InterruptACK. */
u32 virtio_ack_interrupt(struct virtio_dev *d);
void virtio_enable_interrupts(struct virtio_dev *d); /* install the handler on the device's IRQ line */

/* Find a device: the `virtio_mmio.device=` windows of the command line, else the compile-time defaults. */
int virtio_find(struct virtio_dev *d, u32 device_id, const char *cmdline);

#endif
