/* Feature-negotiation guest: offers every virtio device a driver without VERSION_1, reports whether FEATURES_OK was kept, then negotiates properly. */
#include "virtio.h"

static const char *name(u32 id) {
  switch (id) {
  case VIRTIO_ID_BLOCK: return "virtio-blk";
  case VIRTIO_ID_CONSOLE: return "virtio-console";
  case VIRTIO_ID_RNG: return "virtio-rng";
  default: return "virtio device";
  }
}

#ifndef VIRTIO_MMIO_DEFAULTS
#define VIRTIO_MMIO_DEFAULTS {0xD0000000u, 0x1000, 5}, {0xD0001000u, 0x1000, 9}, {0xD0002000u, 0x1000, 10}
#endif

int kmain(u32 magic, u32 info) {
  static const struct mmio_window defaults[] = {VIRTIO_MMIO_DEFAULTS};
  struct mmio_window w[16];
  int n = parse_virtio_cmdline(multiboot_cmdline(magic, info), w, 16);
  const struct mmio_window *list = n > 0 ? w : defaults;
  if (n == 0) n = (int)(sizeof defaults / sizeof defaults[0]);
  int devices = 0, kept = 0, broken = 0;
  for (int i = 0; i < n; i++) {
    struct virtio_dev d;
    if (virtio_probe(&d, list[i].base, list[i].irq) != VIRTIO_OK) continue;
    devices++;
    puts_(name(d.device_id));
    puts_(" at 0x");
    put_hex(d.base, 8);
    putc_('\n');
    /* §3.1.1 step 4 accepting no feature at all, so not VERSION_1 either (a legacy driver would do
     * that). A virtio 1.x device "MAY fail to operate further if VIRTIO_F_VERSION_1 is not accepted"
     * (§6.1); it says so by not keeping FEATURES_OK (step 6). */
    int err = virtio_begin(&d, 0);
    puts_("  without VERSION_1: ");
    if (err == VIRTIO_E_FEATURES) {
      puts_("FEATURES_OK was not kept by the device\n");
    } else if (err == VIRTIO_OK) {
      puts_("FEATURES_OK was kept by the device\n");
      kept++;
    } else {
      puts_(virtio_strerror(err));
      putc_('\n');
      broken++;
    }
    /* A reset makes the device forget the failed negotiation; then do it right. */
    err = virtio_begin(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
    puts_("  with VERSION_1: ");
    puts_(err == VIRTIO_OK ? "FEATURES_OK kept\n" : virtio_strerror(err));
    if (err != VIRTIO_OK) {
      putc_('\n');
      broken++;
    }
    virtio_reset(&d);
  }
  puts_("devices ");
  put_dec((u32)devices);
  puts_(", FEATURES_OK kept without VERSION_1 by ");
  put_dec((u32)kept);
  putc_('\n');
  if (devices == 0 || broken) return 2;
  return kept ? 1 : 0;
}
