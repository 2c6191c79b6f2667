/* virtio-rng guest: reads 64 bytes from the entropy device's requestq and prints them in hex (same seed, same bytes). */
#include "virtio.h"

#define REQUESTQ 0 /* virtio 1.2 §5.4.2: the only queue */
#define WANT 64

static struct virtio_dev rng;
static u8 entropy[WANT];
static u8 chunk[WANT];

int kmain(u32 magic, u32 info) {
  interrupts_init();
  int err = virtio_find(&rng, VIRTIO_ID_RNG, multiboot_cmdline(magic, info));
  if (!err) err = virtio_begin(&rng, VIRTIO_BIT(VIRTIO_F_VERSION_1));
  if (!err) err = virtio_setup_queue(&rng, REQUESTQ, 8);
  if (err) {
    puts_("virtio-rng: FAIL ");
    puts_(virtio_strerror(err));
    putc_('\n');
    return 1;
  }
  virtio_enable_interrupts(&rng);
  virtio_driver_ok(&rng);
  sti();

  /* §5.4.6: the device fills a device-writable buffer with as many random bytes as it likes (used len);
   * ask again for the rest. Bounded: a device that never gives anything does not hang us. */
  u32 have = 0;
  for (int round = 0; have < WANT && round < 4 * WANT; round++) {
    struct virtio_buf b = {chunk, WANT - have};
    struct virtq *q = &rng.vq[REQUESTQ];
    if (virtq_add(q, NULL, 0, &b, 1) < 0) break;
    virtq_kick(q);
    u32 len = 0;
    if (virtq_wait_used(q, &len) < 0) break;
    if (len > WANT - have) len = WANT - have; /* never trust the device's length */
    memcpy(entropy + have, chunk, len);
    have += len;
  }
  puts_("virtio-rng: ");
  put_dec(have);
  puts_(" bytes of entropy\n");
  for (u32 i = 0; i < have; i++) {
    put_hex(entropy[i], 2);
    putc_(i % 16 == 15 || i + 1 == have ? '\n' : ' ');
  }
  puts_("virtio-rng: interrupts ");
  put_dec(rng.interrupts);
  putc_('\n');
  virtio_reset(&rng);
  return have == WANT ? 0 : 1;
}
