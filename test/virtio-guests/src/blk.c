/* virtio-blk guest: capacity and GET_ID, writes a pattern to sectors 0-15, FLUSH, reads them back with four requests in flight, compares; PASS/FAIL lines, exit status = failures. */
#include "virtio.h"

/* virtio-blk (virtio 1.2 §5.2) */
#define VIRTIO_BLK_F_RO 5     /* read-only device */
#define VIRTIO_BLK_F_FLUSH 9  /* VIRTIO_BLK_T_FLUSH is supported */
#define BLK_CFG_CAPACITY 0    /* §5.2.4: le64 capacity, in 512-byte sectors */
#define VIRTIO_BLK_T_IN 0     /* §5.2.6: request types */
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0     /* status byte the device writes last */
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR 512
#define SECTORS 16
#define REQUESTQ 0

/* A request is a chain: this header (device-readable), the data, a status byte (device-writable). */
struct virtio_blk_req_header {
  u32 type;
  u32 reserved;
  u64 sector;
};

struct request {
  struct virtio_blk_req_header hdr;
  u8 status;
};

static struct virtio_dev blk;
static struct request req[4];
static u8 wbuf[SECTORS * SECTOR];
static u8 rbuf[SECTORS * SECTOR];
static char id[VIRTIO_BLK_ID_BYTES + 1];
static int failures;

/* Queue one request (not yet notified). `data` is device-writable for IN and GET_ID, readable for OUT. */
static int submit(struct request *r, u32 type, u64 sector, void *data, u32 len) {
  r->hdr = (struct virtio_blk_req_header){type, 0, sector};
  r->status = 0xFF; /* not a valid status: shows whether the device wrote it */
  struct virtio_buf out[2] = {{&r->hdr, sizeof r->hdr}, {data, len}};
  struct virtio_buf in[2] = {{data, len}, {&r->status, 1}};
  if (type == VIRTIO_BLK_T_OUT) return virtq_add(&blk.vq[REQUESTQ], out, len ? 2 : 1, &in[1], 1);
  return virtq_add(&blk.vq[REQUESTQ], out, 1, len ? in : &in[1], len ? 2 : 1);
}

/* Submit one request, notify, sleep until it is used; returns its status byte (or 0x100 + error). */
static u32 do_request(u32 type, u64 sector, void *data, u32 len) {
  int head = submit(&req[0], type, sector, data, len);
  if (head < 0) return 0x100 - head;
  virtq_kick(&blk.vq[REQUESTQ]);
  int done = virtq_wait_used(&blk.vq[REQUESTQ], NULL);
  if (done < 0) return 0x100 - done;
  if (done != head) return 0x100 + VIRTIO_E_BAD_USED;
  return req[0].status;
}

static void result(int ok, const char *what) {
  puts_(ok ? "PASS " : "FAIL ");
  puts_(what);
  putc_('\n');
  if (!ok) failures++;
}

static void status_line(u32 status, u32 want, const char *what) {
  result(status == want, what);
  if (status != want) {
    puts_("  status ");
    put_hex(status, 2);
    putc_('\n');
  }
}

/* The pattern of sector s: a readable label, then bytes that differ in every sector and position. */
static void fill_sector(u8 *p, u32 s) {
  static const char label[] = "vmscope virtio-blk sector ";
  u32 i = 0;
  for (; label[i]; i++) p[i] = (u8)label[i];
  p[i++] = (u8)('0' + s / 10);
  p[i++] = (u8)('0' + s % 10);
  p[i++] = '\n';
  for (; i < SECTOR; i++) p[i] = (u8)(s * 37 + i);
}

int kmain(u32 magic, u32 info) {
  interrupts_init();
  int err = virtio_find(&blk, VIRTIO_ID_BLOCK, multiboot_cmdline(magic, info));
  if (!err) err = virtio_begin(&blk, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_RO));
  if (!err) err = virtio_setup_queue(&blk, REQUESTQ, 16);
  if (err) {
    puts_("FAIL virtio-blk setup: ");
    puts_(virtio_strerror(err));
    putc_('\n');
    return 1;
  }
  virtio_enable_interrupts(&blk);
  virtio_driver_ok(&blk);
  sti();

  u64 capacity = virtio_config64(&blk, BLK_CFG_CAPACITY);
  puts_("virtio-blk: capacity ");
  put_dec((u32)capacity);
  puts_(" sectors");
  if (blk.features & VIRTIO_BIT(VIRTIO_BLK_F_RO)) puts_(", read-only");
  putc_('\n');

  /* GET_ID (§5.2.6): up to 20 bytes, NUL-terminated only if shorter. */
  u32 st = do_request(VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES);
  if (st == VIRTIO_BLK_S_OK) {
    puts_("virtio-blk: id \"");
    for (int i = 0; i < VIRTIO_BLK_ID_BYTES && id[i]; i++) putc_(id[i] >= 0x20 && id[i] < 0x7F ? id[i] : '?');
    puts_("\"\n");
  } else status_line(st, VIRTIO_BLK_S_OK, "get id");

  result(capacity > SECTORS, "capacity holds the test sectors");
  if (capacity <= SECTORS) return failures;

  /* Write sectors 0..15 with one request of 8 KiB. */
  for (u32 s = 0; s < SECTORS; s++) fill_sector(wbuf + s * SECTOR, s);
  status_line(do_request(VIRTIO_BLK_T_OUT, 0, wbuf, sizeof wbuf), VIRTIO_BLK_S_OK, "write sectors 0-15");

  if (blk.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)) status_line(do_request(VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK, "flush");
  else puts_("SKIP flush (VIRTIO_BLK_F_FLUSH not offered)\n");

  /* Read them back with four requests of four sectors in flight at once, reaped in any order. */
  memset(rbuf, 0, sizeof rbuf);
  int heads[4];
  for (int r = 0; r < 4; r++) heads[r] = submit(&req[r], VIRTIO_BLK_T_IN, (u64)r * 4, rbuf + r * 4 * SECTOR, 4 * SECTOR);
  virtq_kick(&blk.vq[REQUESTQ]);
  int reaped = 0, bad = 0;
  for (int k = 0; k < 4; k++) {
    int h = virtq_wait_used(&blk.vq[REQUESTQ], NULL);
    int r = 0;
    while (r < 4 && heads[r] != h) r++;
    if (h < 0 || r == 4) bad++;
    else if (req[r].status != VIRTIO_BLK_S_OK) bad++;
    else reaped++;
  }
  result(reaped == 4 && bad == 0, "read sectors 0-15 (4 requests in flight)");
  int diff = -1;
  for (u32 i = 0; i < sizeof rbuf && diff < 0; i++)
    if (rbuf[i] != wbuf[i]) diff = (int)i;
  result(diff < 0, "read back equals written");
  if (diff >= 0) {
    puts_("  first difference at byte ");
    put_dec((u32)diff);
    putc_('\n');
  }

  /* A read past the end is a driver error (§5.2.6.1: "A driver MUST NOT submit a request which would
   * cause a read or write beyond capacity"): a robust device answers IOERR, or asks for a reset. */
  st = do_request(VIRTIO_BLK_T_IN, capacity, rbuf, SECTOR);
  result(st == VIRTIO_BLK_S_IOERR || st == 0x100 + VIRTIO_E_NEEDS_RESET, "read past the end refused");
  if (st != VIRTIO_BLK_S_IOERR) {
    puts_("  status ");
    put_hex(st, 3);
    putc_('\n');
  }

  puts_("virtio-blk: interrupts ");
  put_dec(blk.interrupts);
  putc_('\n');
  virtio_reset(&blk);
  puts_(failures ? "virtio-blk: FAIL\n" : "virtio-blk: all PASS\n");
  return failures;
}
