/* virtio-blk benchmark guest: REQUESTS reads of BYTES each through one queue, one in flight, interrupts on; says "blkbench: start" before the first request (the host times from there), exits through port 0xF4. */
#include "virtio.h"

#ifndef REQUESTS
#define REQUESTS 1000
#endif
#ifndef BYTES
#define BYTES 4096
#endif
#define VIRTIO_BLK_T_IN 0
#define BLK_CFG_CAPACITY 0
#define REQUESTQ 0
#define SECTOR 512

struct virtio_blk_req_header {
  u32 type;
  u32 reserved;
  u64 sector;
};

static struct virtio_dev blk;
static struct virtio_blk_req_header hdr;
static u8 status;
static u8 buf[BYTES];

int kmain(u32 magic, u32 info) {
  interrupts_init();
  int err = virtio_find(&blk, VIRTIO_ID_BLOCK, multiboot_cmdline(magic, info));
  if (!err) err = virtio_begin(&blk, VIRTIO_BIT(VIRTIO_F_VERSION_1));
  if (!err) err = virtio_setup_queue(&blk, REQUESTQ, 16);
  if (err) { puts_("blkbench: setup failed\n"); return 1; }
  virtio_enable_interrupts(&blk);
  virtio_driver_ok(&blk);
  sti();
  u32 per = BYTES / SECTOR;
  u32 span = (u32)virtio_config64(&blk, BLK_CFG_CAPACITY) / per;
  if (span == 0) { puts_("blkbench: disk too small\n"); return 1; }
  puts_("blkbench: start\n");
  for (u32 k = 0; k < REQUESTS; k++) {
    hdr = (struct virtio_blk_req_header){VIRTIO_BLK_T_IN, 0, (u64)(k % span) * per};
    status = 0xFF;
    struct virtio_buf out[1] = {{&hdr, sizeof hdr}};
    struct virtio_buf in[2] = {{buf, BYTES}, {&status, 1}};
    if (virtq_add(&blk.vq[REQUESTQ], out, 1, in, 2) < 0) return 2;
    virtq_kick(&blk.vq[REQUESTQ]);
    if (virtq_wait_used(&blk.vq[REQUESTQ], NULL) < 0 || status != 0) return 3;
  }
  puts_("blkbench: done\n");
  return 0;
}
