/* virtio-console guest: greets through the transmitq (one buffer, a chain of three, a batch of five), then exits through port 0xF4. */
#include "virtio.h"

/* virtio-console (virtio 1.2 §5.3): queue 0 = receiveq of port 0, queue 1 = transmitq of port 0.
 * Without VIRTIO_CONSOLE_F_MULTIPORT there is just that one port. */
#define RECEIVEQ 0
#define TRANSMITQ 1

static struct virtio_dev con;
static char rx_buf[64];
static int failures;

static unsigned len_(const char *s) {
  unsigned n = 0;
  while (s[n]) n++;
  return n;
}

static void fail(const char *what, int err) {
  puts_("virtio-console guest: FAIL ");
  puts_(what);
  puts_(": ");
  puts_(virtio_strerror(err < 0 ? -err : err));
  putc_('\n');
  failures++;
}

/* Send `n` strings as one chain of device-readable descriptors and wait until the device has used it. */
static void send_chain(const char *const *parts, int n) {
  struct virtio_buf out[4];
  for (int i = 0; i < n; i++) out[i] = (struct virtio_buf){(void *)parts[i], len_(parts[i])};
  struct virtq *tx = &con.vq[TRANSMITQ];
  int head = virtq_add(tx, out, n, NULL, 0);
  if (head < 0) return fail("virtq_add", head);
  virtq_kick(tx);
  int done = virtq_wait_used(tx, NULL);
  if (done != head) fail("transmit", done < 0 ? done : VIRTIO_E_BAD_USED);
}

static void send(const char *s) { send_chain(&s, 1); }

static char line[5][16] = {"line 1 of 5\n", "line 2 of 5\n", "line 3 of 5\n", "line 4 of 5\n", "line 5 of 5\n"};

int kmain(u32 magic, u32 info) {
  interrupts_init();
  int err = virtio_find(&con, VIRTIO_ID_CONSOLE, multiboot_cmdline(magic, info));
  if (err) {
    fail("no virtio-console", err);
    return 1;
  }
  /* §3.1.1: VERSION_1 is the only feature we want (no size, no multiport, no emergency write). */
  if ((err = virtio_begin(&con, VIRTIO_BIT(VIRTIO_F_VERSION_1)))) {
    fail("feature negotiation", err);
    return 1;
  }
  if ((err = virtio_setup_queue(&con, RECEIVEQ, 16)) || (err = virtio_setup_queue(&con, TRANSMITQ, 16))) {
    fail("queue setup", err);
    virtio_fail(&con);
    return 1;
  }
  virtio_enable_interrupts(&con);
  virtio_driver_ok(&con);
  sti();
  /* Give the receiveq one buffer for input (§5.3.6.1); nothing is typed in these runs. */
  struct virtio_buf rx = {rx_buf, sizeof rx_buf};
  virtq_add(&con.vq[RECEIVEQ], NULL, 0, &rx, 1);
  virtq_kick(&con.vq[RECEIVEQ]);

  send("Hello from virtio-console!\n");
  static const char *const chain[3] = {"this line is ", "one chain of ", "three descriptors\n"};
  send_chain(chain, 3);

  /* Five buffers in flight at once, one notification; the device may finish them in any order. */
  struct virtq *tx = &con.vq[TRANSMITQ];
  for (int i = 0; i < 5; i++) {
    struct virtio_buf b = {line[i], len_(line[i])};
    if ((err = virtq_add(tx, &b, 1, NULL, 0)) < 0) fail("virtq_add", err);
  }
  virtq_kick(tx);
  for (int got = 0; got < 5; got++) {
    int id = virtq_wait_used(tx, NULL);
    if (id < 0) {
      fail("batch", id);
      break;
    }
  }
#ifdef ECHO
  /* Built with -DECHO: wait for typed input on the receiveq and send it back (§5.3.6.1). */
  u32 got_len = 0;
  if (virtq_wait_used(&con.vq[RECEIVEQ], &got_len) >= 0) {
    static char echo[sizeof rx_buf + 1];
    u32 n = got_len < sizeof rx_buf ? got_len : sizeof rx_buf;
    for (u32 i = 0; i < n; i++) echo[i] = rx_buf[i];
    echo[n] = 0;
    send("echo: ");
    send(echo);
  }
#endif
  send("Goodbye from virtio-console.\n");

  puts_("virtio-console guest: transmitq size ");
  put_dec(tx->num);
  puts_(", interrupts ");
  put_dec(con.interrupts);
  putc_('\n');
  virtio_reset(&con);
  return failures;
}
