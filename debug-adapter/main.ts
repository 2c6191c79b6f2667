// The adapter process: DAP over stdio, or `--server=PORT` listening on 127.0.0.1 (one session per connection).
import { createServer } from 'node:net';
import { createSession } from './session.js';
import { nodeHost } from './node-host.js';
import { tuneV8 } from './v8-tuning.js';

function main(argv: readonly string[]): void {
  const server = argv.find((a) => a.startsWith('--server='));
  if (server !== undefined) {
    const port = Number(server.slice('--server='.length));
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`vmscope-dap: --server needs a port number 0..65535, got ${server.slice(9)}\n`);
      process.exitCode = 2;
      return;
    }
    const srv = createServer((socket) => {
      // Small messages in both directions (a response, then its `stopped` event): without this, Nagle's algorithm holds
      // the second until the client's delayed ACK, up to 40 ms per step.
      socket.setNoDelay(true);
      const session = createSession(nodeHost());
      session.setRunAsServer(true);
      session.start(socket, socket);
      socket.on('error', () => socket.destroy());
    });
    srv.listen(port, '127.0.0.1', () => {
      const a = srv.address();
      process.stderr.write(`vmscope-dap: listening on 127.0.0.1:${typeof a === 'object' && a !== null ? a.port : port}\n`);
    });
    return;
  }
  const session = createSession(nodeHost());
  session.start(process.stdin, process.stdout);
}

tuneV8();
main(process.argv.slice(2));
